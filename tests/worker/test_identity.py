"""``memory.caller_identity.caller_identity``: who is calling, from what LiveKit gives a job."""

from __future__ import annotations

import json
import logging

import pytest

from memory.livekit import caller_identity, identity_from_participant

from .fakes import SIP, STANDARD, FakeParticipant, sip_caller


def test_a_sip_caller_gives_phone_dialled_number_and_call_id() -> None:
    caller = sip_caller("+14155550142", "+15105550100", call_id="SCL_abc", x_account_number="4471-2290")
    identity = identity_from_participant('{"customer_id": "acme-telecom"}', "", caller)
    assert identity.channel == "sip"
    assert identity.customer_id == "acme-telecom" and identity.tenant_source == "dispatch"
    assert identity.dialled_number == "+15105550100"
    assert identity.sip_call_id == "SCL_abc"
    assert identity.identifiers == {"phone": "+14155550142", "account": "4471-2290"}  # header sip.h.x-account-number


def test_a_sip_caller_cannot_name_the_tenant_or_a_livekit_identity() -> None:
    attributes = {
        "sip.phoneNumber": "+14155550142",
        "sip.h.x-customer-id": "globex-bank",
        "customer_id": "globex-bank",
    }
    identity = caller_identity(None, None, SIP, "sip_+14155550142", attributes, '{"customer_id": "globex-bank"}')
    assert identity.customer_id is None
    assert "livekit_identity" not in identity.identifiers


def test_a_withheld_number_gives_no_phone() -> None:
    identity = identity_from_participant("", "", sip_caller(None, "+15105550100"))
    assert identity.channel == "sip" and "phone" not in identity.identifiers
    assert identity.dialled_number == "+15105550100"


def test_an_app_participant_gives_token_identity_attributes_and_metadata() -> None:
    participant = FakeParticipant(
        identity="user-42",
        kind=STANDARD,
        attributes={"oauth_sub": "auth0|42", "customer_id": "globex-bank", "display_name": "Dana"},
        metadata=json.dumps({"email": "dana@example.com", "identifiers": {"account_number": 88123}}),
    )
    identity = identity_from_participant("", "", participant)
    assert identity.channel == "app"
    assert identity.customer_id == "globex-bank" and identity.tenant_source == "participant"
    assert identity.identifiers == {
        "oauth_sub": "auth0|42",
        "name": "Dana",
        "email": "dana@example.com",
        "account": "88123",
        "livekit_identity": "user-42",
    }
    assert identity.dialled_number is None and identity.sip_call_id is None


def test_dispatch_metadata_outranks_room_and_participant_for_the_tenant() -> None:
    participant = FakeParticipant(attributes={"customer_id": "from-token"})
    both = caller_identity(
        '{"customer_id": "from-dispatch"}', '{"tenant": "from-room"}', STANDARD, "u", participant.attributes
    )
    assert (both.customer_id, both.tenant_source) == ("from-dispatch", "dispatch")
    room_only = caller_identity("", '{"tenant": "from-room"}', STANDARD, "u", participant.attributes)
    assert (room_only.customer_id, room_only.tenant_source) == ("from-room", "room")


def test_the_participants_own_identifiers_outrank_metadata() -> None:
    identity = caller_identity(
        '{"identifiers": {"email": "from-dispatch@example.com"}}',
        None,
        STANDARD,
        "u",
        {"email": "from-token@example.com"},
    )
    assert identity.identifiers["email"] == "from-token@example.com"


@pytest.mark.parametrize(
    ("job_metadata", "problem"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2, 3]", "not an object"),
        ("x" * 20_000, "characters, over"),
        (b'{"customer_id": "acme"}', "not a string"),
        ('{"customer_id": 42}', "wrong type or shape"),
        ('{"customer_id": "acme; DROP TABLE"}', "wrong type or shape"),
        ('{"identifiers": "dana@example.com"}', "'identifiers' is not an object"),
        ('{"email": ["a@example.com"]}', "is not a string"),
        ('{"email": "' + "a" * 600 + '@example.com"}', "characters, over"),
        ('{"email": "dana@example.com\\u0000"}', "control characters"),
        ('"' + "[" * 5000 + '"', None),  # a JSON string, not an object
    ],
)
def test_malformed_metadata_is_logged_and_ignored(job_metadata, problem, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="memory.livekit.identity")
    identity = caller_identity(job_metadata, "{}", STANDARD, "user-1", {"account": "12345"}, "null")
    assert identity.customer_id is None
    assert identity.identifiers == {"account": "12345", "livekit_identity": "user-1"}
    if problem:
        assert problem in caplog.text
    assert "dana@example.com" not in caplog.text and "DROP" not in caplog.text


def test_attributes_of_the_wrong_type_are_ignored(caplog) -> None:
    identity = caller_identity(None, None, "not a kind", 12345, ["sip.phoneNumber"], 3.5)
    assert identity.channel == "app" and identity.identifiers == {} and identity.customer_id is None
    assert "not a mapping" in caplog.text


def test_masked_identifiers_hide_the_values() -> None:
    identity = identity_from_participant("", "", sip_caller("+14155550142", "+15105550100"))
    masked = identity.masked()
    assert masked == {"phone": "•••0142"}


def test_the_sip_kind_constant_matches_livekit():
    from livekit import rtc

    from memory.livekit import identity as module

    sip_kind = module._SIP_KIND
    assert sip_kind == int(rtc.ParticipantKind.PARTICIPANT_KIND_SIP)


def test_only_the_livekit_package_of_memory_imports_livekit():
    from pathlib import Path

    package = Path(__file__).resolve().parents[2] / "memory"
    importing = sorted(
        p.relative_to(package).as_posix()
        for p in package.rglob("*.py")
        if "import livekit" in p.read_text() or "from livekit" in p.read_text()
    )
    assert importing and all(path.startswith("livekit/") for path in importing), importing

"""Tests of memory.identity: one normalised value per caller identifier, log-safe masks."""

from __future__ import annotations

import dataclasses

import pytest

from memory.errors import IdentifierError, InvalidInputError
from memory.text.identifiers import MAX_RAW_LENGTH, Identifier, mask, normalize_identifier, normalize_identifiers
from memory.values import IDENTIFIER_KINDS


def norm(kind: str, raw: object, region: str = "US") -> tuple[str, str]:
    identifier = normalize_identifier(kind, raw, region=region)
    return identifier.kind, identifier.value


# --------------------------------------------------------------------------- phone


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+1 (415) 555-0142", "US", "+14155550142"),
        ("415.555.0142", "US", "+14155550142"),
        ("415-555-0142", "US", "+14155550142"),
        ("(415) 555 0142", "US", "+14155550142"),
        ("4155550142", "US", "+14155550142"),
        ("1 415 555 0142", "US", "+14155550142"),
        ("  +14155550142\n", "US", "+14155550142"),
        ("tel:+14155550142", "US", "+14155550142"),
        ("TEL:+1-415-555-0142", "US", "+14155550142"),
        ("sip:+14155550142@trunk.example.com;user=phone", "US", "+14155550142"),
        ("<sip:+14155550142@trunk.example.com>;tag=abc", "US", "+14155550142"),
        ("00 44 20 7946 0958", "US", "+442079460958"),
        ("011 44 20 7946 0958", "US", "+442079460958"),
        ("+44 (0)20 7946 0958", "US", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("020 7946 0958", "gb", "+442079460958"),
        ("+1 415 555 0142", "GB", "+14155550142"),
        ("415 555 0142 x12", "US", "+14155550142"),
        ("415 555 0142 ext. 12", "US", "+14155550142"),
        ("+1-415-555-0142;ext=12", "US", "+14155550142"),
        ("+1 415 555 0199", "US", "+14155550199"),
        ("+1 555 555 0100", "US", "+15555550100"),  # fictional 555-01xx: possible, not necessarily valid
        ("٤١٥٥٥٥٠١٤٢", "US", "+14155550142"),  # Arabic-Indic digits
        (4155550142, "US", "+14155550142"),
        (14155550142, "US", "+14155550142"),
    ],
)
def test_phone_is_e164(raw: object, region: str, expected: str) -> None:
    assert norm("phone", raw, region) == ("phone", expected)


@pytest.mark.parametrize(
    "raw",
    [
        "555-0142",  # local number without area code
        "911",
        "12",
        "+1 415 555 0142 1234",  # too long
        "anonymous",
        "Anonymous",
        "restricted",
        "unknown",
        "private",
        "unavailable",
        "0000000000",
        "+10000000000",
        "+1 111 111 1111",
        "1234567890",
        "1-800-FLOWERS",  # letters are never read as keypad digits
        "415 555 0142 call me",
        "+1 415 +555 0142",
        "++14155550142",
        "sip:dana@example.com",  # a SIP user that is not a number
        "sip:anonymous@anonymous.invalid",
        "+999 1234 5678",  # unknown country code
        "",
        "   ",
        -4155550142,
        pytest.param(10**5000, id="huge-int"),
    ],
)
def test_phone_rejects(raw: object) -> None:
    with pytest.raises(IdentifierError):
        normalize_identifier("phone", raw)


def test_phone_possible_but_not_valid_is_accepted() -> None:
    # +1 555 555 0100 is not an assigned number; a possible number only ever matches itself.
    assert norm("phone", "555 555 0100") == ("phone", "+15555550100")


# --------------------------------------------------------------------------- sip_uri


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("sip:dana@example.com", ("sip_uri", "dana@example.com")),
        ("sips:Dana@PBX.Example.COM:5061;transport=tls", ("sip_uri", "dana@pbx.example.com")),
        ('"Dana Reyes" <sip:dana@example.com>;tag=1928301774', ("sip_uri", "dana@example.com")),
        ("Dana <sip:dana@example.com?subject=hi>", ("sip_uri", "dana@example.com")),
        ("<sip:dana:secret@example.com>", ("sip_uri", "dana@example.com")),
        ("dana@example.com", ("sip_uri", "dana@example.com")),
        ("sip:1001@pbx.example.com", ("sip_uri", "1001@pbx.example.com")),  # an extension stays SIP
        ("sip:dana@192.0.2.10:5060", ("sip_uri", "dana@192.0.2.10")),
        ("sip:dana@[2001:db8::1]:5060", ("sip_uri", "dana@[2001:db8::1]")),
        ("sip:dana@example.com.", ("sip_uri", "dana@example.com")),
        ("sip:+14155550142@trunk.example.com;user=phone", ("phone", "+14155550142")),
        ("<sip:4155550142@trunk.example.com>", ("phone", "+14155550142")),
        ("sip:%2B14155550142@trunk.example.com", ("phone", "+14155550142")),
        ("tel:+1-415-555-0142", ("phone", "+14155550142")),
        ("tel:+14155550142;phone-context=example.com", ("phone", "+14155550142")),
        ("Caller sip:dana@example.com", ("sip_uri", "dana@example.com")),
    ],
)
def test_sip_uri(raw: str, expected: tuple[str, str]) -> None:
    assert norm("sip_uri", raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "sip:anonymous@anonymous.invalid",
        '"Anonymous" <sip:anonymous@anonymous.invalid>;tag=1',
        "sip:restricted@trunk.example.com",
        "sip:unknown@trunk.example.com",
        "anonymous",
        "sip:0000000000@trunk.example.com",  # a caller-ID placeholder would merge every hidden caller
        "sip:dana",  # no host, not a number
        "sip:@example.com",
        "<sip:dana@example.com",
        "sip:dana@exa mple.com",
        "sip:dana@-bad-.com",
        "sip:da na@example.com",
        "sip:dana%00@example.com",
        "tel:1001",
        "just some words",
    ],
)
def test_sip_uri_rejects(raw: str) -> None:
    with pytest.raises(IdentifierError):
        normalize_identifier("sip_uri", raw)


# --------------------------------------------------------------------------- email


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("dana@example.net", "dana@example.net"),
        ("  Dana@Example.NET ", "dana@example.net"),
        ("mailto:Dana@Example.net", "dana@example.net"),
        ("MAILTO:dana@example.net?subject=Hello", "dana@example.net"),
        ("Dana Reyes <dana@example.net>", "dana@example.net"),
        ("dana.smith+billing@mail.example.co.uk", "dana.smith+billing@mail.example.co.uk"),
        ("d.a.n.a@gmail.com", "d.a.n.a@gmail.com"),  # no provider-specific rewriting
        ("dana_o'neil@example.org", "dana_o'neil@example.org"),
        ("dana@bücher.de", "dana@xn--bcher-kva.de"),
        ("dana@xn--bcher-kva.de", "dana@xn--bcher-kva.de"),
        ("dana@example.com.", "dana@example.com"),
    ],
)
def test_email(raw: str, expected: str) -> None:
    assert norm("email", raw) == ("email", expected)


@pytest.mark.parametrize(
    "raw",
    [
        "dana",
        "dana@",
        "@example.net",
        "dana@@example.net",
        "dana@example",
        "dana@localhost",
        "dana@example.c",
        "dana@example.123",
        "dana @example.net",
        "dana@exa_mple.net",
        "dana@-example.net",
        ".dana@example.net",
        "dana..smith@example.net",
        "dána@example.net",  # non-ASCII local parts are not accepted
        "dana@example.net\x00",
        '"dana smith"@example.net',
        "a" * 65 + "@example.net",
        "dana@" + "a" * 250 + ".com",
        "dana@example.net😀",
    ],
)
def test_email_rejects(raw: str) -> None:
    with pytest.raises(IdentifierError):
        normalize_identifier("email", raw)


# --------------------------------------------------------------------------- account


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("88123", "88123"),
        (" 88 123 ", "88123"),
        ("88-123", "88123"),
        ("88.123", "88123"),
        ("88/123", "88123"),
        ("#88123", "88123"),
        ("AC-88123", "AC88123"),
        ("ac 88123", "AC88123"),
        ("00123", "00123"),  # leading zeros are part of the number
        ("ＡＣ８８１２３", "AC88123"),  # full-width forms
        ("123", "123"),
        ("1" * 32, "1" * 32),
        (88123, "88123"),
    ],
)
def test_account(raw: object, expected: str) -> None:
    assert norm("account", raw) == ("account", expected)


@pytest.mark.parametrize(
    "raw",
    [
        "12",
        "1-2",
        "1" * 33,
        "ABCDE",
        "88123!",
        "88_12é3",
        "ac😀88123",
        "",
        True,
        1.5,
        -88123,
        10**40,
        pytest.param(10**5000, id="huge-int"),
        b"88123",
    ],
)
def test_account_rejects(raw: object) -> None:
    with pytest.raises(IdentifierError):
        normalize_identifier("account", raw)


# --------------------------------------------------------------------------- opaque ids and names


@pytest.mark.parametrize("kind", ["oauth_sub", "livekit_identity"])
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("auth0|5f7c8ec7c33c6c004bbafe82", "auth0|5f7c8ec7c33c6c004bbafe82"),
        ("  Caller-ABC  ", "Caller-ABC"),  # trimmed, case kept
        ("sip_+14155550142", "sip_+14155550142"),
        ("dana 😀", "dana 😀"),
        ("x" * 256, "x" * 256),
    ],
)
def test_opaque_identifiers_are_exact(kind: str, raw: str, expected: str) -> None:
    assert norm(kind, raw) == (kind, expected)


@pytest.mark.parametrize("kind", ["oauth_sub", "livekit_identity"])
@pytest.mark.parametrize("raw", ["", "   ", "x" * 257, "abc\x00def", "abc\ndef", "abc\u200bdef", "abc\u202edef", 42])
def test_opaque_identifiers_reject(kind: str, raw: object) -> None:
    with pytest.raises(IdentifierError):
        normalize_identifier(kind, raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Dana Reyes", "Dana Reyes"),
        ("  dana   reyes ", "dana reyes"),  # case kept as given
        ("Dana\u00a0Reyes", "Dana Reyes"),
        ("Mary-Jane O'Neil", "Mary-Jane O'Neil"),
        ("J. R. R. Tolkien", "J. R. R. Tolkien"),
        ("José Müller", "José Müller"),
        ("Jose\u0301", "José"),  # composed (NFC)
        ("Zoë D’Arcy", "Zoë D’Arcy"),
        ("李小龍", "李小龍"),
    ],
)
def test_name(raw: str, expected: str) -> None:
    assert norm("name", raw) == ("name", expected)


@pytest.mark.parametrize("raw", ["", "Dana 2", "Dana@Reyes", "R2-D2", "...", "Dana\tReyes", "Dana 😀", "a" * 101])
def test_name_rejects(raw: str) -> None:
    with pytest.raises(IdentifierError):
        normalize_identifier("name", raw)


# --------------------------------------------------------------------------- shared rules


@pytest.mark.parametrize("kind", IDENTIFIER_KINDS)
@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        " \t\n ",
        "x" * (MAX_RAW_LENGTH + 1),
        "a" * 1_000_000,
        "dana\x00@example.net",
        "415\x00555\x000142",
        "dana\x1b[31m",
        b"dana@example.net",
        ["dana@example.net"],
        {"value": "x"},
        3.14,
        True,
        object(),
    ],
)
def test_every_kind_rejects_absurd_values(kind: str, raw: object) -> None:
    with pytest.raises(IdentifierError):
        normalize_identifier(kind, raw)


@pytest.mark.parametrize("kind", ["email", "oauth_sub", "sip_uri", "livekit_identity", "name"])
def test_ints_only_for_phone_and_account(kind: str) -> None:
    with pytest.raises(IdentifierError, match="expected a string"):
        normalize_identifier(kind, 4155550142)


@pytest.mark.parametrize("kind", ["fax", "Phone", "", None, 3, ("phone",)])
def test_unknown_kind_raises(kind: object) -> None:
    with pytest.raises(IdentifierError, match="unknown identifier kind"):
        normalize_identifier(kind, "4155550142")  # type: ignore[arg-type]


@pytest.mark.parametrize("region", ["XX", "USA", "", None, 1])
def test_invalid_region_is_a_programming_error(region: object) -> None:
    with pytest.raises(InvalidInputError) as caught:
        normalize_identifier("phone", "+14155550142", region=region)  # type: ignore[arg-type]
    assert not isinstance(caught.value, IdentifierError)


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        ("phone", "415-555-01422222"),
        ("phone", "sip:dana.reyes@example.com"),
        ("email", "dana.reyes@example"),
        ("email", "dana.reyes@@example.com"),
        ("account", "AC-88123!"),
        ("sip_uri", "sip:dana.reyes@bad host"),
        ("name", "Dana Reyes 2"),
        ("oauth_sub", "auth0|dana\x00reyes"),
        ("phone", "4155550142" * 60),
    ],
)
def test_error_messages_carry_no_personal_data(kind: str, raw: str) -> None:
    with pytest.raises(IdentifierError) as caught:
        normalize_identifier(kind, raw)
    message = str(caught.value)
    assert kind in message
    for fragment in ("dana", "reyes", "0142", "88123", "example"):
        assert fragment not in message.lower()


# --------------------------------------------------------------------------- Identifier and mask


def test_identifier_is_frozen_hashable_and_checked() -> None:
    identifier = Identifier("phone", "+14155550142")
    assert {identifier, Identifier("phone", "+14155550142")} == {identifier}
    with pytest.raises(dataclasses.FrozenInstanceError):
        identifier.value = "+14155550199"  # type: ignore[misc]
    with pytest.raises(IdentifierError):
        Identifier("fax", "+14155550142")
    with pytest.raises(IdentifierError):
        Identifier("phone", "")


@pytest.mark.parametrize(
    ("identifier", "expected"),
    [
        (Identifier("phone", "+14155550142"), "phone:•••0142"),
        (Identifier("email", "dana@example.net"), "email:•••.net"),
        (Identifier("account", "88123"), "account:•••23"),
        (Identifier("account", "AC88123"), "account:•••23"),
        (Identifier("account", "123"), "account:•••"),
        (Identifier("sip_uri", "dana@pbx.example.com"), "sip_uri:•••.com"),
        (Identifier("oauth_sub", "auth0|5f7c8ec7c33c6c004bbafe82"), "oauth_sub:•••fe82"),
        (Identifier("livekit_identity", "caller-1"), "livekit_identity:•••-1"),
        (Identifier("name", "Dana Reyes"), "name:•••"),
    ],
)
def test_mask(identifier: Identifier, expected: str) -> None:
    assert mask(identifier) == expected


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        ("phone", "+14155550142"),
        ("email", "dana@example.net"),
        ("email", "a@b.co"),
        ("account", "88123"),
        ("account", "1234"),
        ("sip_uri", "sip:d@x.io"),
        ("oauth_sub", "x"),
        ("name", "Al"),
    ],
)
def test_mask_never_shows_the_value(kind: str, raw: str) -> None:
    identifier = normalize_identifier(kind, raw)
    masked = mask(identifier)
    assert masked.startswith(identifier.kind + ":")
    assert identifier.value not in masked
    assert sum(c.isalnum() for c in masked.split(":", 1)[1]) <= 4


# --------------------------------------------------------------------------- normalize_identifiers


def test_normalize_identifiers_mixed() -> None:
    found, rejected = normalize_identifiers(
        {
            "phone": "+1 (415) 555-0142",
            "sip_uri": '"Dana" <sip:dana@pbx.example.com>',
            "email": "Dana@Example.NET",
            "account": "ac-88123",
            "oauth_sub": "auth0|abc",
            "livekit_identity": "caller-1",
            "name": " Dana  Reyes ",
        }
    )
    assert found == [
        Identifier("phone", "+14155550142"),
        Identifier("sip_uri", "dana@pbx.example.com"),
        Identifier("email", "dana@example.net"),
        Identifier("account", "AC88123"),
        Identifier("oauth_sub", "auth0|abc"),
        Identifier("livekit_identity", "caller-1"),
        Identifier("name", "Dana Reyes"),
    ]
    assert rejected == []


def test_normalize_identifiers_skips_withheld_and_empty_values() -> None:
    found, rejected = normalize_identifiers(
        {
            "phone": "anonymous",
            "sip_uri": "sip:anonymous@anonymous.invalid",
            "email": None,
            "account": "",
            "name": [],
            "livekit_identity": "caller-1",
        }
    )
    assert found == [Identifier("livekit_identity", "caller-1")]
    assert rejected == ["phone", "sip_uri", "email", "account", "name"]


def test_normalize_identifiers_lists_and_dedup() -> None:
    found, rejected = normalize_identifiers(
        {
            "phone": ["415 555 0142", "restricted", "+14155550142", ("nested",), "+1 415 555 0199"],
            "sip_uri": ("sip:+14155550142@trunk.example.com", "sip:dana@example.com"),
            "email": ["dana@example.net", "DANA@example.net"],
        }
    )
    assert found == [
        Identifier("phone", "+14155550142"),
        Identifier("phone", "+14155550199"),
        Identifier("sip_uri", "dana@example.com"),
        Identifier("email", "dana@example.net"),
    ]
    assert rejected == ["phone"]  # each rejected kind once


def test_normalize_identifiers_region() -> None:
    found, _ = normalize_identifiers({"phone": "020 7946 0958"}, region="GB")
    assert found == [Identifier("phone", "+442079460958")]


def test_normalize_identifiers_empty_mapping() -> None:
    assert normalize_identifiers({}) == ([], [])


@pytest.mark.parametrize("identifiers", [{"fax": "4155550142"}, {"phone": "4155550142", "Phone": "x"}, {1: "x"}])
def test_normalize_identifiers_unknown_kind_raises(identifiers: dict[object, object]) -> None:
    with pytest.raises(IdentifierError, match="unknown identifier kind"):
        normalize_identifiers(identifiers)  # type: ignore[arg-type]


@pytest.mark.parametrize("identifiers", [None, [("phone", "4155550142")], "phone=4155550142"])
def test_normalize_identifiers_needs_a_mapping(identifiers: object) -> None:
    with pytest.raises(IdentifierError):
        normalize_identifiers(identifiers)  # type: ignore[arg-type]


def test_normalize_identifiers_bad_region_raises() -> None:
    with pytest.raises(InvalidInputError):
        normalize_identifiers({"phone": "4155550142"}, region="XX")

"""Normalise the identifiers a caller presents, so the same caller is found on every call.

One normalised value per identifier, whatever the source wrote:

==================  ===========================================  ==========================
kind                accepted (examples)                          normalised value
==================  ===========================================  ==========================
phone               ``+1 (415) 555-0142``, ``415.555.0142``,     E.164: ``+14155550142``
                    ``tel:+14155550142``, ``00 44 20 7946 0958``,
                    ``sip:+14155550142@trunk;user=phone``, ints
sip_uri             ``"Dana" <sips:Dana@PBX.example.com:5061>``  ``dana@pbx.example.com``
                    (a phone-number user part gives a ``phone``)
email               ``mailto:Dana@Example.NET``                  ``dana@example.net``
account             ``ac-88 123``, ``88.123``, ``88123`` (int)   ``AC88123``, ``88123``
oauth_sub           any opaque string                            the string, trimmed
livekit_identity    any opaque string                            the string, trimmed
name                ``  Dana   O'Neil ``                         ``Dana O'Neil`` (display only)
==================  ===========================================  ==========================

Decisions:

* Phone numbers must be *possible* numbers (``phonenumbers.is_possible_number_with_reason`` is
  ``IS_POSSIBLE``: the right length for the country, with an area code), not *valid* ones.
  ``is_valid_number`` depends on the library's copy of every numbering plan, which lags behind
  new ranges; a wrong rejection means a known caller is not recognised, while a possible but
  unassigned number can only ever match itself. Fictional 555-01xx numbers are accepted.
  Local-only numbers (a US number without its area code) are rejected: their E.164 form is
  unknown. Caller-ID placeholders (a national number of one repeated digit such as
  ``0000000000``, or ``1234567890``) are rejected, as are withheld markers (``anonymous``,
  ``restricted``...). An extension (``x12``, ``;ext=12``) is dropped: E.164 has none.
  A leading ``00`` is read as the international prefix whatever the region.
* E-mail addresses are lower-cased as a whole; no provider-specific rewriting (Gmail dots or
  ``+tags`` are kept), so two different addresses never collapse into one. An internationalised
  domain is stored in its ASCII (punycode) form.
* Account numbers keep ASCII letters and digits, upper-cased, and must contain a digit.
* Leading and trailing whitespace is trimmed; any other control character (``Cc``) or invisible
  format character (``Cf``: zero-width, bidi overrides) inside a value is rejected, as are values
  over 512 characters and non-strings (ints are accepted for ``phone`` and ``account``).
* Error messages name the kind and the problem, never the value: they may end up in logs.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from urllib.parse import unquote

import phonenumbers

from ..errors import IdentifierError, InvalidInputError
from ..values import IDENTIFIER_KINDS, Identifier

__all__ = [
    "MAX_RAW_LENGTH",
    "Identifier",
    "mask",
    "normalize_identifier",
    "normalize_identifiers",
]

MAX_RAW_LENGTH = 512
"""Longer raw values are rejected before any parsing."""

_MAX_EMAIL = 254
_MAX_EMAIL_LOCAL = 64
_MAX_OPAQUE = 256
_MAX_NAME = 100
_ACCOUNT_LEN = (3, 32)
_MASK = "•••"

# Values a trunk or PBX sends when the caller withheld their identity (compared lower-cased).
_WITHHELD = frozenset(
    {
        "anonymous",
        "unknown",
        "restricted",
        "private",
        "withheld",
        "unavailable",
        "blocked",
        "none",
        "null",
        "n/a",
        "-",
    }
)

_PHONE_CHARS_RE = re.compile(r"\+?[\d\s\-./()\[\]]+")
_PHONE_EXTENSION_RE = re.compile(r"\s*(?:;\s*ext=|#|(?<![a-z])(?:extension|ext|x)\.?)\s*\d{1,7}\s*$", re.IGNORECASE)
_NON_DIGIT_PLUS_RE = re.compile(r"[^\d+]")
_PHONE_LIKE_USER_RE = re.compile(r"\+?[\d\-.()]+")
_URI_SCHEME_RE = re.compile(r"(?:sips?|tel):", re.IGNORECASE)
_URI_IN_TEXT_RE = re.compile(r"(?:sips?|tel):\S+", re.IGNORECASE)
_HOST_RE = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?)*\.?"
    r"|\[[0-9a-f:.]+\])"
)
_PORT_RE = re.compile(r":\d{1,5}$")
_SIP_USER_RE = re.compile(r"[a-z0-9\-_.!~*'()&=+$,/%]{1,128}")

_EMAIL_LOCAL_RE = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~\-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~\-]+)*")
_EMAIL_LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?")
_EMAIL_TLD_RE = re.compile(r"(?:[a-z]{2,63}|xn--[a-z0-9\-]{1,59})")
_ANGLE_RE = re.compile(r"<([^<>]*)>")

_ACCOUNT_SEPARATORS_RE = re.compile(r"[\s\-./_#]+")
_ACCOUNT_RE = re.compile(r"[A-Z0-9]+")
_NAME_PUNCT = frozenset(" '’-.")


# --------------------------------------------------------------------------- public API


def normalize_identifier(kind: str, raw: object, *, region: str = "US") -> Identifier:
    """Return the normalised form of one identifier, or raise :class:`IdentifierError`.

    ``region`` is the ISO 3166 region used for phone numbers written without a country code.
    A ``sip_uri`` (or a ``phone`` given as a SIP URI) whose user part is a phone number
    comes back as a ``phone`` identifier. An invalid ``region`` is a programming error and
    raises :class:`InvalidInputError`.
    """
    normalizer = _NORMALIZERS.get(kind) if isinstance(kind, str) else None
    if normalizer is None:
        raise IdentifierError(f"unknown identifier kind; known: {list(IDENTIFIER_KINDS)}")
    region = _check_region(region)
    text = _as_text(kind, raw)
    return normalizer(text, region)


def normalize_identifiers(
    identifiers: Mapping[str, object], *, region: str = "US"
) -> tuple[list[Identifier], list[str]]:
    """Normalise every identifier of a mapping ``kind -> value`` (or list/tuple of values).

    Returns ``(identifiers, rejected_kinds)``: the normalised identifiers, deduplicated, in the
    mapping's order; and the kinds (each listed once) of the values that were empty, withheld
    or unparseable and were skipped. An unknown kind is a programming error and raises
    :class:`IdentifierError`; so does a mapping that is not a mapping.
    """
    if not isinstance(identifiers, Mapping):
        raise IdentifierError("identifiers must be a mapping of kind -> value")
    unknown = [k for k in identifiers if not isinstance(k, str) or k not in IDENTIFIER_KINDS]
    if unknown:
        raise IdentifierError(f"{len(unknown)} unknown identifier kind(s); known: {list(IDENTIFIER_KINDS)}")
    region = _check_region(region)
    found: dict[Identifier, None] = {}
    rejected: dict[str, None] = {}
    for kind, value in identifiers.items():
        values = value if isinstance(value, list | tuple) else (value,)
        if not values:
            rejected[kind] = None
        for one in values:
            try:
                found[normalize_identifier(kind, one, region=region)] = None
            except IdentifierError:
                rejected[kind] = None
    return list(found), list(rejected)


def mask(identifier: Identifier) -> str:
    """A log-safe form: the kind and at most the last four characters, e.g. ``phone:•••0142``.

    Values of 10+ characters show their last 4, values of 5 to 9 their last 2, shorter values
    nothing. Names never show any character: their tail is the surname.
    """
    value = identifier.value
    size = len(value)
    tail = 0 if identifier.kind == "name" else 4 if size >= 10 else 2 if size >= 5 else 0
    return f"{identifier.kind}:{_MASK}{value[size - tail :] if tail else ''}"


# --------------------------------------------------------------------------- common checks


def _check_region(region: object) -> str:
    if not isinstance(region, str) or region.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidInputError("region must be a supported two-letter region code such as 'US' or 'GB'")
    return region.upper()


def _as_text(kind: str, raw: object) -> str:
    """The raw value as a trimmed string, after the checks shared by every kind."""
    if raw is None:
        raise IdentifierError(f"{kind}: no value")
    if isinstance(raw, int) and not isinstance(raw, bool) and kind in ("phone", "account"):
        if raw < 0 or raw.bit_length() > 128:
            raise IdentifierError(f"{kind}: a negative or absurdly large number is not an identifier")
        raw = str(raw)
    if not isinstance(raw, str):
        raise IdentifierError(f"{kind}: expected a string, got {type(raw).__name__}")
    if len(raw) > MAX_RAW_LENGTH:
        raise IdentifierError(f"{kind}: value longer than {MAX_RAW_LENGTH} characters")
    text = raw.strip()
    if not text:
        raise IdentifierError(f"{kind}: empty value")
    _reject_invisible(kind, text)
    return text


def _reject_invisible(kind: str, text: str) -> None:
    if "\x00" in text:
        raise IdentifierError(f"{kind}: value contains a NUL byte")
    if not text.isprintable() and any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in text):
        raise IdentifierError(f"{kind}: value contains control or invisible formatting characters")


def _is_withheld(text: str) -> bool:
    return text.lower() in _WITHHELD


def _is_placeholder(digits: str) -> bool:
    """A caller-ID placeholder sent instead of a number: ``0000000000``, ``1234567890``..."""
    digits = digits.lstrip("+")
    return len(set(digits)) == 1 or digits in ("1234567890", "0123456789", "123456789")


# --------------------------------------------------------------------------- phone


def _normalize_phone(text: str, region: str) -> Identifier:
    if _is_withheld(text):
        raise IdentifierError("phone: caller identity withheld")
    if _URI_SCHEME_RE.match(text) or "@" in text or "<" in text:
        user, _host = _split_uri(text, "phone")
        return _phone_from_user(user, region, "phone")
    return Identifier("phone", _e164(text, region))


def _phone_from_user(user: str, region: str, kind: str) -> Identifier:
    try:
        return Identifier("phone", _e164(user, region))
    except IdentifierError:
        raise IdentifierError(f"{kind}: the URI user part is not a possible phone number") from None


def _e164(text: str, region: str) -> str:
    """E.164 form of a written phone number, or :class:`IdentifierError`."""
    number = _PHONE_EXTENSION_RE.sub("", text)
    if not _PHONE_CHARS_RE.fullmatch(number):
        raise IdentifierError("phone: only digits, '+', spaces and - . ( ) / are allowed")
    compact = _NON_DIGIT_PLUS_RE.sub("", number)
    if "+" in compact[1:]:
        raise IdentifierError("phone: misplaced '+'")
    if compact.startswith("00"):  # the international prefix of most of the world, whatever the region
        number = "+" + compact[2:]
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        raise IdentifierError("phone: not a phone number") from None
    reason = phonenumbers.is_possible_number_with_reason(parsed)
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
        raise IdentifierError(f"phone: not a possible number ({_POSSIBLE_REASONS.get(reason, 'invalid')})")
    if _is_placeholder(phonenumbers.national_significant_number(parsed)):
        raise IdentifierError("phone: a caller-ID placeholder, not a number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


_POSSIBLE_REASONS = {
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "local number without area code",
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
    phonenumbers.ValidationResult.TOO_SHORT: "too short",
    phonenumbers.ValidationResult.TOO_LONG: "too long",
    phonenumbers.ValidationResult.INVALID_LENGTH: "wrong length",
}


# --------------------------------------------------------------------------- SIP URI


def _normalize_sip(text: str, region: str) -> Identifier:
    if _is_withheld(text):
        raise IdentifierError("sip_uri: caller identity withheld")
    user, host = _split_uri(text, "sip_uri")
    digits = _NON_DIGIT_PLUS_RE.sub("", user).lstrip("+")
    if _PHONE_LIKE_USER_RE.fullmatch(user) and len(digits) >= 7:
        if _is_placeholder(digits):
            raise IdentifierError("sip_uri: a caller-ID placeholder, not an identity")
        try:
            return Identifier("phone", _e164(user, region))
        except IdentifierError:
            pass  # an extension such as 1001@pbx stays a SIP identity
    if host is None:
        raise IdentifierError("sip_uri: no host and the user part is not a phone number")
    user = user.lower()
    if not _SIP_USER_RE.fullmatch(user):
        raise IdentifierError("sip_uri: invalid characters in the user part")
    return Identifier("sip_uri", f"{user}@{host}")


def _split_uri(text: str, kind: str) -> tuple[str, str | None]:
    """``(user, host)`` of a SIP/tel URI (host lower-cased, ``None`` for tel: URIs)."""
    uri = _unwrap_uri(text, kind)
    uri = _URI_SCHEME_RE.sub("", uri, count=1) if _URI_SCHEME_RE.match(uri) else uri
    uri = uri.split("?", 1)[0]
    if "@" in uri:
        user, hostpart = uri.rsplit("@", 1)
        host = _clean_host(hostpart, kind)
    else:
        user, host = uri, None
    user = unquote(user.split(";", 1)[0].split(":", 1)[0]).strip()
    if not user:
        raise IdentifierError(f"{kind}: the URI has no user part")
    _reject_invisible(kind, user)
    if _is_withheld(user) or (host is not None and host.endswith(".invalid")):
        raise IdentifierError(f"{kind}: caller identity withheld")
    return user, host


def _unwrap_uri(text: str, kind: str) -> str:
    """Drop a display name, angle brackets and header parameters around a URI."""
    if "<" in text or ">" in text:
        found = _ANGLE_RE.search(text)
        if found is None:
            raise IdentifierError(f"{kind}: unbalanced angle brackets")
        return found.group(1).strip()
    if any(c.isspace() for c in text):
        found = _URI_IN_TEXT_RE.search(text)  # "Display Name sip:user@host"
        if found is None or found.end() != len(text):
            raise IdentifierError(f"{kind}: not a URI")
        return found.group(0)
    return text


def _clean_host(hostpart: str, kind: str) -> str:
    host = _PORT_RE.sub("", hostpart.split(";", 1)[0].strip().lower())
    if not host or not _HOST_RE.fullmatch(host):
        raise IdentifierError(f"{kind}: invalid host")
    return host.rstrip(".")


# --------------------------------------------------------------------------- e-mail


def _normalize_email(text: str, region: str) -> Identifier:
    found = _ANGLE_RE.search(text)
    if found is not None:
        text = found.group(1).strip()
    if text[:7].lower() == "mailto:":
        text = text[7:].split("?", 1)[0].strip()
    text = text.lower()
    if text.count("@") != 1:
        raise IdentifierError("email: expected exactly one '@'")
    local, domain = text.split("@")
    if not local or len(local) > _MAX_EMAIL_LOCAL or not _EMAIL_LOCAL_RE.fullmatch(local):
        raise IdentifierError("email: invalid local part")
    domain = _ascii_domain(domain.rstrip("."))
    labels = domain.split(".")
    if len(labels) < 2 or not all(_EMAIL_LABEL_RE.fullmatch(label) for label in labels):
        raise IdentifierError("email: invalid domain")
    if not _EMAIL_TLD_RE.fullmatch(labels[-1]):
        raise IdentifierError("email: invalid top-level domain")
    value = f"{local}@{domain}"
    if len(value) > _MAX_EMAIL:
        raise IdentifierError(f"email: longer than {_MAX_EMAIL} characters")
    return Identifier("email", value)


def _ascii_domain(domain: str) -> str:
    if domain.isascii():
        return domain
    if not all(c.isalnum() or c in ".-" for c in domain):
        raise IdentifierError("email: invalid characters in the domain")
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise IdentifierError("email: invalid internationalised domain") from None


# --------------------------------------------------------------------------- account


def _normalize_account(text: str, region: str) -> Identifier:
    value = _ACCOUNT_SEPARATORS_RE.sub("", unicodedata.normalize("NFKC", text)).upper()
    if not value.isascii() or not _ACCOUNT_RE.fullmatch(value):
        raise IdentifierError("account: only letters, digits and separators (space - . / _ #) are allowed")
    low, high = _ACCOUNT_LEN
    if not low <= len(value) <= high:
        raise IdentifierError(f"account: must have {low} to {high} letters and digits")
    if not any(c.isdigit() for c in value):
        raise IdentifierError("account: must contain at least one digit")
    return Identifier("account", value)


# --------------------------------------------------------------------------- opaque ids and names


def _opaque(kind: str) -> Callable[[str, str], Identifier]:
    def normalize(text: str, region: str) -> Identifier:
        if len(text) > _MAX_OPAQUE:
            raise IdentifierError(f"{kind}: longer than {_MAX_OPAQUE} characters")
        return Identifier(kind, text)

    return normalize


def _normalize_name(text: str, region: str) -> Identifier:
    value = " ".join(unicodedata.normalize("NFC", text).split())
    if len(value) > _MAX_NAME:
        raise IdentifierError(f"name: longer than {_MAX_NAME} characters")
    if not any(c.isalpha() for c in value):
        raise IdentifierError("name: must contain a letter")
    for c in value:
        if not (c.isalpha() or c in _NAME_PUNCT or unicodedata.category(c).startswith("M")):
            raise IdentifierError("name: only letters, spaces and ' - . are allowed")
    return Identifier("name", value)


_NORMALIZERS: dict[str, Callable[[str, str], Identifier]] = {
    "phone": _normalize_phone,
    "email": _normalize_email,
    "account": _normalize_account,
    "oauth_sub": _opaque("oauth_sub"),
    "sip_uri": _normalize_sip,
    "livekit_identity": _opaque("livekit_identity"),
    "name": _normalize_name,
}
assert set(_NORMALIZERS) == set(IDENTIFIER_KINDS), "every identifier kind needs a normaliser"

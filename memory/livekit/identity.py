"""Who is calling: the tenant and the caller's identifiers, from what LiveKit hands a job.

:func:`caller_identity` is a pure function of plain values (dispatch metadata, room metadata and
the caller participant's kind, identity, attributes and metadata), so tests call it directly and
this module needs no LiveKit import. Malformed input (invalid JSON, wrong types, huge values) is
logged by kind, never by value, and ignored, never fatal.
Where identity comes from, most specific first:

=====================  ==================================================================
source                 read
=====================  ==================================================================
SIP participant        ``sip.phoneNumber`` (phone), ``sip.trunkPhoneNumber`` (dialled
                       number), ``sip.callID``, mapped headers ``sip.h.x-<kind>``
participant            attributes and JSON metadata: ``email``, ``account``, ``oauth_sub``,
                       ``phone``, ``sip_uri``, ``name`` (aliases below); app participants
                       also give their identity (``livekit_identity``) and may name the
                       tenant (``customer_id``)
dispatch (job)         JSON metadata: ``customer_id`` (the tenant) and the same identifier
                       keys, top level or under ``"identifiers"``
room                   JSON metadata, as for dispatch
=====================  ==================================================================

The tenant is taken from dispatch metadata first, then room metadata, then (app calls
only) the participant. A SIP caller cannot choose the tenant: headers never name it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..values import IDENTIFIER_KINDS, is_tenant_id

__all__ = ["CallerIdentity", "caller_identity", "identity_from_participant", "mask_value"]

logger = logging.getLogger(__name__)

Channel = Literal["sip", "app"]

MAX_METADATA_CHARS = 16_384
"""Metadata strings longer than this are ignored (LiveKit allows far more; a caller brief never needs it)."""
MAX_VALUE_CHARS = 512
_TENANT_KEYS = ("customer_id", "tenant_id", "tenant")
_SIP_KIND = 3  # rtc.ParticipantKind.PARTICIPANT_KIND_SIP (checked by a test)
_KEY_PREFIXES = ("sip.h.x-caller-", "sip.h.x-memory-", "sip.h.x-", "memory.", "caller.", "lk.")
_ALIASES: dict[str, str] = {
    "phone": "phone",
    "phone_number": "phone",
    "phonenumber": "phone",
    "email": "email",
    "e_mail": "email",
    "email_address": "email",
    "account": "account",
    "account_number": "account",
    "account_no": "account",
    "account_id": "account",
    "customer_account": "account",
    "oauth_sub": "oauth_sub",
    "sub": "oauth_sub",
    "user_sub": "oauth_sub",
    "sip_uri": "sip_uri",
    "name": "name",
    "display_name": "name",
}


@dataclass(frozen=True)
class CallerIdentity:
    """Who is calling, as far as LiveKit can tell before a word is said.

    ``identifiers`` maps an identifier kind (see ``memory.policy.IDENTIFIER_KINDS``) to the
    raw value; the memory layer normalises it with the tenant's region. ``customer_id`` is
    the tenant named by trusted metadata (``None`` when nothing named one);
    ``tenant_source`` says where it came from.
    """

    customer_id: str | None
    identifiers: dict[str, str] = field(default_factory=dict)
    channel: Channel = "app"
    dialled_number: str | None = None
    sip_call_id: str | None = None
    tenant_source: Literal["dispatch", "room", "participant"] | None = None

    def masked(self) -> dict[str, str]:
        """Identifier kinds with masked values, safe for logs (nothing of a name)."""
        return {kind: "•••" if kind == "name" else mask_value(value) for kind, value in self.identifiers.items()}


def mask_value(value: str) -> str:
    """At most the last few characters of a value (none for short values), for logs."""
    size = len(value)
    tail = 4 if size >= 12 else 2 if size >= 6 else 0
    return "•••" + (value[size - tail :] if tail else "")


def caller_identity(
    job_metadata: object = None,
    room_metadata: object = None,
    participant_kind: object = None,
    participant_identity: object = None,
    participant_attributes: object = None,
    participant_metadata: object = None,
) -> CallerIdentity:
    """Read the tenant and the caller's identifiers from what LiveKit gives a job.

    Args:
        job_metadata: the dispatch's metadata (``ctx.job.metadata``), usually JSON.
        room_metadata: the room's metadata (``ctx.room.metadata``), usually JSON.
        participant_kind: the caller's ``rtc.ParticipantKind`` (SIP or standard).
        participant_identity: the caller's participant identity.
        participant_attributes: the caller's attributes (``dict[str, str]``).
        participant_metadata: the caller's metadata, usually JSON.

    Never raises for malformed input: a value of the wrong type, invalid JSON, an oversized
    string or a tenant id of the wrong shape is logged by kind and ignored.
    """
    attributes = _as_attributes(participant_attributes)
    is_sip = _kind_is_sip(participant_kind) or "sip.callID" in attributes or "sip.phoneNumber" in attributes
    channel: Channel = "sip" if is_sip else "app"
    job = _parse_json(job_metadata, "dispatch metadata")
    room = _parse_json(room_metadata, "room metadata")
    participant = _parse_json(participant_metadata, "participant metadata")

    identifiers: dict[str, str] = {}
    if is_sip:
        _offer(identifiers, "phone", attributes.get("sip.phoneNumber"), "sip attributes")
    for source_name, source in (
        ("participant attributes", attributes),
        ("participant metadata", participant),
        ("dispatch metadata", job),
        ("room metadata", room),
    ):
        for key, value in _identifier_items(source, sip=is_sip and source is attributes):
            _offer(identifiers, key, value, source_name)
    if not is_sip:
        _offer(identifiers, "livekit_identity", participant_identity, "participant identity")

    customer_id, tenant_source = None, None
    tenant_sources: list[tuple[Literal["dispatch", "room", "participant"], Mapping[str, Any]]] = [
        ("dispatch", job),
        ("room", room),
    ]
    if not is_sip:
        tenant_sources += [("participant", attributes), ("participant", participant)]
    for name, where in tenant_sources:
        found = _tenant_from(where, name)
        if found:
            customer_id, tenant_source = found, name
            break

    return CallerIdentity(
        customer_id=customer_id,
        identifiers=identifiers,
        channel=channel,
        dialled_number=_clean(attributes.get("sip.trunkPhoneNumber"), "dialled number") if is_sip else None,
        sip_call_id=_clean(attributes.get("sip.callID"), "sip call id") if is_sip else None,
        tenant_source=tenant_source,
    )


def identity_from_participant(job_metadata: object, room_metadata: object, participant: Any) -> CallerIdentity:
    """:func:`caller_identity` for a participant object (``rtc.RemoteParticipant`` or alike)."""
    return caller_identity(
        job_metadata,
        room_metadata,
        getattr(participant, "kind", None),
        getattr(participant, "identity", None),
        getattr(participant, "attributes", None),
        getattr(participant, "metadata", None),
    )


# --------------------------------------------------------------------------- parsing helpers


def _kind_is_sip(kind: object) -> bool:
    try:
        return int(kind) == _SIP_KIND  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return False


def _as_attributes(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        logger.warning("participant attributes are not a mapping (%s); ignored", type(value).__name__)
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


def _parse_json(value: object, what: str) -> dict[str, Any]:
    if value is None or value == "":
        return {}
    if not isinstance(value, str):
        logger.warning("%s is not a string (%s); ignored", what, type(value).__name__)
        return {}
    if len(value) > MAX_METADATA_CHARS:
        logger.warning("%s is %d characters, over %d; ignored", what, len(value), MAX_METADATA_CHARS)
        return {}
    try:
        parsed = json.loads(value)
    except (ValueError, RecursionError):
        logger.warning("%s is not valid JSON; ignored", what)
        return {}
    if not isinstance(parsed, dict):
        logger.warning("%s is JSON but not an object (%s); ignored", what, type(parsed).__name__)
        return {}
    return parsed


def _identifier_items(source: Mapping[str, Any], *, sip: bool) -> list[tuple[str, object]]:
    """``(kind, value)`` pairs from a source's top-level keys and its ``identifiers`` object."""
    items: list[tuple[str, object]] = []
    nested = source.get("identifiers")
    if nested is not None and not isinstance(nested, Mapping):
        logger.warning("'identifiers' is not an object (%s); ignored", type(nested).__name__)
        nested = None
    for mapping in (source, nested or {}):
        for key, value in mapping.items():
            if not isinstance(key, str) or (key.startswith("sip.") and not key.startswith("sip.h.")):
                continue
            if key.startswith("sip.h.") and not sip:
                continue  # SIP headers are only meaningful on a SIP participant
            kind = _kind_of(key)
            if kind is not None:
                items.append((kind, value))
    return items


def _kind_of(key: str) -> str | None:
    name = key.lower()
    for prefix in _KEY_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    name = name.replace("-", "_")
    kind = _ALIASES.get(name, name)
    return kind if kind in IDENTIFIER_KINDS and kind != "livekit_identity" else None


def _offer(identifiers: dict[str, str], kind: str, value: object, source: str) -> None:
    """Keep the first acceptable value of each kind."""
    if kind in identifiers or value is None:
        return
    if isinstance(value, int) and not isinstance(value, bool) and kind in ("phone", "account"):
        value = str(value)
    text = _clean(value, f"{kind} from {source}")
    if text:
        identifiers[kind] = text


def _clean(value: object, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        logger.warning("%s is not a string (%s); ignored", what, type(value).__name__)
        return None
    text = value.strip()
    if not text:
        return None
    if len(text) > MAX_VALUE_CHARS:
        logger.warning("%s is %d characters, over %d; ignored", what, len(text), MAX_VALUE_CHARS)
        return None
    if not text.isprintable():
        logger.warning("%s contains control characters; ignored", what)
        return None
    return text


def _tenant_from(source: Mapping[str, Any], where: str) -> str | None:
    for key in _TENANT_KEYS:
        value = source.get(key)
        if value is None:
            continue
        if is_tenant_id(value):
            return value
        logger.warning("%s names a tenant of the wrong type or shape (key %r); ignored", where, key)
    return None

"""Who is calling: find the caller from presented identifiers, and link callers by what they say.

Within one tenant an exact match on a known identifier is the same caller. Only the kinds a
tenant's policy allows are used to find or link callers; a name never links anyone. Every link
keeps its evidence (the identifier and the call) so it can be audited and undone.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime

from ..policy import MemoryPolicy
from ..store.base import Backend
from ..text.identifiers import Identifier, mask

logger = logging.getLogger(__name__)

# When presented identifiers point at different callers, the strongest proof of identity wins.
LINK_PRIORITY: tuple[str, ...] = ("oauth_sub", "account", "email", "phone", "sip_uri", "livekit_identity")


def new_caller_id() -> str:
    return "caller_" + uuid.uuid4().hex


async def resolve_caller(
    backend: Backend,
    customer_id: str,
    identifiers: Sequence[Identifier],
    policy: MemoryPolicy,
    *,
    call_id: str,
    at: datetime,
) -> tuple[str, bool]:
    """The caller these identifiers belong to (created if none): ``(caller_id, is_new)``."""
    storable = [i for i in identifiers if i.kind != "name"]
    linkable = [i for i in storable if i.kind in policy.link_kinds]
    owners = await backend.find_callers(customer_id, linkable) if linkable else {}
    caller_id = _strongest_owner(linkable, owners)
    if caller_id is None:
        caller_id = new_caller_id()
        await backend.create_caller(customer_id, caller_id, storable, call_id=call_id, at=at)
        is_new = True
    else:
        is_new = False
        if len(set(owners.values())) > 1:
            logger.warning("presented identifiers belong to %d callers; using the strongest", len(set(owners.values())))
        unknown = [i for i in storable if i not in owners]
        if unknown:
            await backend.attach_identifiers(
                customer_id, caller_id, unknown, source="presented", call_id=call_id, at=at
            )
    names = [i.value for i in identifiers if i.kind == "name"]
    if names and is_new:
        await backend.set_display_name(customer_id, caller_id, names[0])
    return caller_id, is_new


def _strongest_owner(linkable: Sequence[Identifier], owners: dict[Identifier, str]) -> str | None:
    for kind in LINK_PRIORITY:
        for ident in linkable:
            if ident.kind == kind and ident in owners:
                return owners[ident]
    return None


async def learn_spoken(
    backend: Backend,
    customer_id: str,
    caller_id: str,
    spoken: Sequence[Identifier],
    policy: MemoryPolicy,
    *,
    call_id: str,
    at: datetime,
) -> tuple[str, Identifier | None]:
    """Attach identifiers said aloud; if one belongs to another caller, link this caller to it.

    Returns ``(caller_id now in effect, the identifier that linked or None)``.
    """
    allowed = [i for i in spoken if i.kind in policy.spoken_link_kinds]
    if not allowed:
        return caller_id, None
    owners = await backend.find_callers(customer_id, allowed)
    target = _strongest_owner(allowed, {i: c for i, c in owners.items() if c != caller_id})
    evidence = None
    if target is not None:
        evidence = next(i for i in allowed if owners.get(i) == target)
        await backend.merge_callers(
            customer_id, caller_id, target, evidence, link_id="link_" + uuid.uuid4().hex, call_id=call_id, at=at
        )
        logger.info("linked a call to an existing caller by a spoken %s (%s)", evidence.kind, mask(evidence))
        caller_id = target
    unknown = [i for i in allowed if i not in owners]
    if unknown:
        await backend.attach_identifiers(customer_id, caller_id, unknown, source="spoken", call_id=call_id, at=at)
    return caller_id, evidence

"""Who is calling: find the caller from presented identifiers, and link callers by what they say.

``resolve_caller`` and ``learn_spoken`` are the rules; :class:`CallLinker` applies them to one call.

Within one tenant an exact match on a known identifier is the same caller. Only the kinds a
tenant's policy allows are used to find or link callers; a name never links anyone. Every link
keeps its evidence (the identifier and the call) so it can be audited and undone.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from ..deadline import within
from ..policy import MemoryPolicy
from ..store.base import Backend
from ..text.identifiers import mask
from ..text.reading import read_turn
from ..values import Identifier, MemoryRow
from .services import CallServices

logger = logging.getLogger(__name__)

WRITE_TIMEOUT_S = 3.0
"""How long one write or link may take before it is retried (the writer) or left for later (a scan)."""

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
    created = new_caller_id()
    owners = await backend.insert_or_get_caller(customer_id, created, storable, linkable, call_id=call_id, at=at)
    caller_id = _strongest_owner(linkable, owners)
    if caller_id is None:
        caller_id = created
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


LinkedCallback = Callable[[str, str, Identifier], Awaitable[None]]
"""``on_linked(previous caller id, caller id now, the identifier that linked)``."""


class CallLinker:
    """Who one call's caller is: resolved at call start, linked by identifiers said aloud.

    Owns the caller ids of the call, the user turns not yet scanned for identifiers and the scan
    lock. Reads settle what is unscanned first (waiting for a scan under way), so a link made from
    words said earlier in the call is in effect for that read. What changes the rest of the call
    (the history to load, the event to emit) is handed back through ``on_known`` and ``on_linked``.
    """

    def __init__(
        self,
        services: CallServices,
        customer_id: str,
        identifiers: list[Identifier],
        *,
        call_id: str,
        started_at: datetime,
        policy: MemoryPolicy,
        io_lock: asyncio.Lock,
        on_known: Callable[[str], None],
        on_linked: LinkedCallback,
    ) -> None:
        self._services = services
        self.customer_id = customer_id
        self.call_id = call_id
        self.started_at = started_at
        self.policy = policy
        self._identifiers = identifiers
        self._io_lock = io_lock  # one write or link at a time, shared with the call's writer
        self._on_known = on_known
        self._on_linked = on_linked
        self.caller_id = new_caller_id()  # provisional until resolved
        self.first_caller_id = self.caller_id
        self.is_new_caller = True
        self.started = False  # the caller is resolved and the call row exists
        self._unscanned: list[MemoryRow] = []
        self._scan_lock = asyncio.Lock()  # held for a whole scan, so reads can wait for one in progress

    async def start(self) -> None:
        """Resolve the caller from the presented identifiers and register the call."""
        backend = self._services.backend
        caller_id, is_new = await resolve_caller(
            backend, self.customer_id, self._identifiers, self.policy, call_id=self.call_id, at=self.started_at
        )
        await backend.start_call(self.customer_id, self.call_id, caller_id, self.started_at)
        self.caller_id = self.first_caller_id = caller_id
        self.is_new_caller = is_new
        self.started = True
        if not is_new:
            self._on_known(caller_id)

    async def ensure_started(self) -> None:
        if not self.started:
            await self.start()

    def heard(self, row: MemoryRow) -> None:
        """A user turn to scan for identifiers said aloud (no I/O)."""
        self._unscanned.append(row)

    async def settle(self, *, raise_errors: bool) -> None:
        """Scan the user turns not yet scanned; attach what they say or link this call.

        A read that finds a scan already running (the writer's) waits for it: the link it may
        make must be in effect for that read. Turns whose scan failed are kept for the next one.
        """
        if not self._unscanned and not self._scan_lock.locked():
            return
        async with self._scan_lock:
            if not self._unscanned:
                return
            async with self._io_lock:
                rows, self._unscanned = self._unscanned, []
                try:
                    await within(self._start_and_learn(rows), WRITE_TIMEOUT_S)
                except Exception:
                    self._unscanned = rows + self._unscanned
                    if raise_errors:
                        raise
                    logger.warning("identifiers said aloud could not be checked yet; will retry")

    async def _start_and_learn(self, rows: list[MemoryRow]) -> None:
        await self.ensure_started()
        spoken: list[Identifier] = []
        name = None
        for row in rows:
            if row.kind != "turn":
                continue
            reading = read_turn(row.text, region=self.policy.default_region)
            spoken.extend(i for i in reading.identifiers if i not in spoken)
            name = name or reading.name
        backend = self._services.backend
        if spoken:
            before = self.caller_id
            caller_id, evidence = await learn_spoken(
                backend, self.customer_id, before, spoken, self.policy, call_id=self.call_id, at=rows[-1].at
            )
            if evidence is not None:
                self.caller_id = caller_id
                self.is_new_caller = False
                await self._on_linked(before, caller_id, evidence)
        if name:
            await backend.set_display_name(self.customer_id, self.caller_id, name)

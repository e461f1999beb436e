"""Who is calling: find the caller from presented identifiers, and link callers by what they say.

``resolve_caller`` and ``learn_spoken`` are the rules; :class:`CallLinker` applies them to one call.

Within one tenant an exact match on a presented identifier (the SIP caller number, an app token's
OAuth subject: kinds in ``link_kinds``) is the same caller. An identifier *said aloud* proves less:
anyone can read out someone else's number. When one matches another caller's record, it makes a
*candidate* link, and the record's history is disclosed (the call linked to it) only once the
tenant's verification policy is met for that kind: by default one second factor matching the
record, such as the name as recorded said on the call ("this is Dana Reyes, my account number is
88123" links at once), or a postcode, PIN or date of birth checked by :meth:`CallLinker.verify`.
Kinds the policy trusts outright (``verification: {kind: 0}``) link at once, as they always did.
Until then the brief only says that a record matches and the caller must be verified.

A name never links anyone on its own. Every link keeps its evidence (the identifier and the call)
so it can be audited and undone.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ..deadline import within
from ..errors import describe
from ..policy import MemoryPolicy
from ..recall.brief import verification_note
from ..store.base import Backend
from ..telemetry import PRELOAD, measured, store_up
from ..text.answers import canonical_answer, name_said, name_words
from ..text.identifiers import mask
from ..text.reading import read_turn
from ..text.spoken import asked_for
from ..values import Identifier, MemoryRow, Verification
from .services import CallServices
from .verification import MAX_FAILED_ATTEMPTS, answer_matches

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


def _strongest_owner(linkable: Sequence[Identifier], owners: Mapping[Identifier, str]) -> str | None:
    for kind in LINK_PRIORITY:
        for ident in linkable:
            if ident.kind == kind and ident in owners:
                return owners[ident]
    return None


@dataclass
class Candidate:
    """A record an identifier said aloud matched, waiting for the caller to be verified.

    ``name`` and ``digests`` are the record's (loaded once); they never leave the memory layer.
    """

    caller_id: str
    evidence: Identifier
    needed: int
    name: str | None
    digests: dict[str, str]
    matched: set[str] = field(default_factory=set)

    def asks(self, policy: MemoryPolicy) -> tuple[str, ...]:
        """The factors this record can be verified by, under ``policy``."""
        have = {"name"} if len(name_words(self.name)) >= 2 else set()
        have |= set(self.digests)
        return tuple(f for f in ("name", "postcode", "pin", "date_of_birth") if f in have & policy.verification_factors)


@dataclass
class Learned:
    """What the identifiers said in some turns did: the caller now in effect, the identifier that
    linked the call (``None``: no link), a record waiting for verification (``None``: none new)."""

    caller_id: str
    evidence: Identifier | None = None
    candidate: Candidate | None = None


async def learn_spoken(
    backend: Backend,
    customer_id: str,
    caller_id: str,
    spoken: Sequence[Identifier],
    policy: MemoryPolicy,
    *,
    call_id: str,
    at: datetime,
    said: Sequence[str],
) -> Learned:
    """Attach identifiers said aloud that nobody owns; one that belongs to another caller links this
    caller to it if the policy's verification is met by what was ``said`` (the call's user turns),
    else it is returned as a candidate."""
    allowed = [i for i in spoken if i.kind in policy.spoken_link_kinds]
    if not allowed:
        return Learned(caller_id)
    owners = await backend.find_callers(customer_id, allowed)
    target = _strongest_owner(allowed, {i: c for i, c in owners.items() if c != caller_id})
    learned = Learned(caller_id)
    if target is not None:
        evidence = next(i for i in allowed if owners.get(i) == target)
        name, digests = await backend.verification_record(customer_id, target)
        candidate = Candidate(target, evidence, policy.factors_needed(evidence.kind), name, digests)
        if "name" in policy.verification_factors and name_said(name, said):
            candidate.matched.add("name")
        if len(candidate.matched) >= candidate.needed:
            await link(backend, customer_id, caller_id, candidate, call_id=call_id, at=at)
            learned = Learned(target, evidence)
        else:
            learned = Learned(caller_id, candidate=candidate)
    unknown = [i for i in allowed if i not in owners]
    if unknown:
        await backend.attach_identifiers(
            customer_id, learned.caller_id, unknown, source="spoken", call_id=call_id, at=at
        )
    return learned


async def link(
    backend: Backend, customer_id: str, caller_id: str, candidate: Candidate, *, call_id: str, at: datetime
) -> None:
    """Join ``caller_id`` into the candidate's record, keeping the evidence."""
    evidence = candidate.evidence
    await backend.merge_callers(
        customer_id,
        caller_id,
        candidate.caller_id,
        evidence,
        link_id="link_" + uuid.uuid4().hex,
        call_id=call_id,
        at=at,
        verified_by=",".join(sorted(candidate.matched)),
    )
    how = f"verified by {', '.join(sorted(candidate.matched))}" if candidate.matched else "trusted kind"
    logger.info("linked a call to an existing caller by a spoken %s (%s; %s)", evidence.kind, mask(evidence), how)


LinkedCallback = Callable[[str, str, Identifier], Awaitable[None]]
"""``on_linked(previous caller id, caller id now, the identifier that linked)``."""


class CallLinker:
    """Who one call's caller is: resolved at call start, linked by identifiers said aloud.

    Owns the caller ids of the call, the user turns not yet scanned for identifiers, the scan lock
    and a record waiting for verification. Reads settle what is unscanned first (waiting for a scan
    under way), so a link made from words said earlier in the call is in effect for that read. What
    changes the rest of the call (the history to load, the event to emit) is handed back through
    ``on_started``, ``on_linked`` and ``on_candidate``.
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
        on_started: Callable[[str, bool], None],
        on_linked: LinkedCallback,
        on_candidate: Callable[[], None],
    ) -> None:
        self._services = services
        self.customer_id = customer_id
        self.call_id = call_id
        self.started_at = started_at
        self.policy = policy
        self.presented = tuple(identifiers)
        self._io_lock = io_lock  # one write or link at a time, shared with the call's writer
        self._on_started = on_started
        self._on_linked = on_linked
        self._on_candidate = on_candidate
        self.caller_id = new_caller_id()  # provisional until resolved
        self.first_caller_id = self.caller_id
        self.is_new_caller = True
        self.started = False  # the caller is resolved and the call row exists
        self.candidate: Candidate | None = None
        self.linked = False  # the call was linked to a record by what was said (verified, or a trusted kind)
        self.failed_attempts = 0
        self._said: list[str] = []  # the words of every user turn scanned so far
        self._unscanned: list[tuple[MemoryRow, frozenset[str]]] = []  # with what the agent had just asked for
        self._scan_lock = asyncio.Lock()  # held for a whole scan, so reads can wait for one in progress

    async def start(self) -> None:
        """Resolve the caller from the presented identifiers and register the call."""
        with measured("memory.open", tenant=self.customer_id, identifiers=len(self.presented)) as measure:
            try:
                caller_id, is_new = await self._register()
            except Exception:
                store_up(False)
                raise
            store_up(True)
            measure.set(new_caller=is_new)
        self.caller_id = self.first_caller_id = caller_id
        self.is_new_caller = is_new
        self.started = True
        self._on_started(caller_id, is_new)

    async def _register(self) -> tuple[str, bool]:
        backend = self._services.backend
        caller_id, is_new = await resolve_caller(
            backend, self.customer_id, list(self.presented), self.policy, call_id=self.call_id, at=self.started_at
        )
        await backend.start_call(self.customer_id, self.call_id, caller_id, self.started_at)
        return caller_id, is_new

    async def ensure_started(self) -> None:
        if not self.started:
            await self.start()

    def heard(self, row: MemoryRow, *, answering: str = "") -> None:
        """A user turn to scan for identifiers said aloud (no I/O); ``answering``: the agent's turn
        just before it, when the caller answers a question ("Can I get your account number?")."""
        self._unscanned.append((row, asked_for(answering) if answering else frozenset()))

    async def settle(self, *, raise_errors: bool) -> None:
        """Scan the user turns not yet scanned; attach what they say, link this call, or keep a candidate.

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

    async def _start_and_learn(self, heard: list[tuple[MemoryRow, frozenset[str]]]) -> None:
        await self.ensure_started()
        spoken: list[Identifier] = []
        name = None
        rows = [row for row, _ in heard]
        turns = [(r, asked) for r, asked in heard if r.kind == "turn"]
        said = [*self._said, *(r.text for r, _ in turns)]
        for row, asked in turns:
            reading = read_turn(row.text, region=self.policy.default_region, asked=asked)
            spoken.extend(i for i in reading.identifiers if i not in spoken)
            name = name or reading.name
        backend = self._services.backend
        before = self.caller_id
        if spoken:
            learned = await learn_spoken(
                backend, self.customer_id, before, spoken, self.policy, call_id=self.call_id, at=rows[-1].at, said=said
            )
            if learned.evidence is not None:
                await self._linked(before, learned.caller_id, learned.evidence)
            elif learned.candidate is not None:
                self.candidate = learned.candidate
                logger.info(
                    "a spoken %s matches a record; the caller must be verified", learned.candidate.evidence.kind
                )
                self._on_candidate()
        named = turns and "name" in self.policy.verification_factors
        if self.candidate is not None and named and name_said(self.candidate.name, said):
            self.candidate.matched.add("name")  # the name may come in a later turn than the identifier
            await self._link_if_verified(rows[-1].at)
        self._said = said
        if name:
            await self._keep_name(name)

    async def _keep_name(self, name: str) -> None:
        """Record a name the caller gave, unless it only repeats part of the one recorded ("Dana" of
        "Dana Reyes"): the recorded name is what verification compares with."""
        backend = self._services.backend
        recorded, _ = await backend.verification_record(self.customer_id, self.caller_id)
        new, old = name_words(name), name_words(recorded)
        if old and set(new) <= set(old):
            return
        await backend.set_display_name(self.customer_id, self.caller_id, name)

    async def _link_if_verified(self, at: datetime) -> bool:
        candidate = self.candidate
        if candidate is None or len(candidate.matched) < candidate.needed:
            return False
        before = self.caller_id
        await link(self._services.backend, self.customer_id, before, candidate, call_id=self.call_id, at=at)
        await self._linked(before, candidate.caller_id, candidate.evidence)
        return True

    async def _linked(self, before: str, caller_id: str, evidence: Identifier) -> None:
        self.caller_id = caller_id
        self.is_new_caller = False
        self.candidate = None
        self.linked = True
        await self._on_linked(before, caller_id, evidence)

    async def brief(self) -> tuple[str, str]:
        """What the agent may know of the caller now, and where it came from: the caller's brief
        (prepared or built), and while an identifier said aloud matches a record the caller has not
        verified, a note that a record matches and how to verify them (never that record's history)."""
        with measured("memory.preload", PRELOAD, tenant=self.customer_id) as measure:
            text, source = await self._brief()
            measure.set(source=source, chars=len(text))
        return text, source

    async def _brief(self) -> tuple[str, str]:
        await self.settle(raise_errors=True)
        if not self.started:
            raise ConnectionError("the call could not be registered")
        services = self._services
        text, source = "", "empty"
        if not self.is_new_caller:
            cached = await services.cached_brief(self.customer_id, self.caller_id)
            if cached is not None:
                text, source = cached, "cache"
            else:
                text = await services.build_brief(self.customer_id, self.caller_id, self.policy)
                source = "database" if text else "empty"
        candidate = self.candidate
        if candidate is not None:
            note = verification_note(candidate.evidence.kind, candidate.asks(self.policy))
            return "\n\n".join(part for part in (text, note) if part), "verification"
        return text, source

    async def verify(self, answers: Mapping[str, str], *, at: datetime) -> Verification:
        """Check the caller's answers against the candidate record; link the call if they meet the policy.

        Every answer given must match (one wrong answer is a failed attempt; ``MAX_FAILED_ATTEMPTS``
        end verification for the call); answers for factors the record does not hold are ignored.
        """
        await self.settle(raise_errors=False)
        async with self._io_lock:
            candidate = self.candidate
            if candidate is None:  # already linked: by the name said on the call, say
                return Verification("verified" if self.linked else "nothing_to_verify")
            asks = candidate.asks(self.policy)
            if self.failed_attempts >= MAX_FAILED_ATTEMPTS:
                return Verification("locked", asks)
            matched, wrong = await self._check(candidate, answers)
            if wrong:
                self.failed_attempts += 1
                left = MAX_FAILED_ATTEMPTS - self.failed_attempts
                logger.info("a verification attempt failed (%d left)", left)
                return Verification("locked" if left <= 0 else "not_verified", asks, max(left, 0))
            candidate.matched |= matched
            try:
                linked = await within(self._link_if_verified(at), WRITE_TIMEOUT_S)
            except Exception as exc:
                logger.error("verified, but the link could not be stored: %s", describe(exc))
                return Verification("unavailable", asks, MAX_FAILED_ATTEMPTS - self.failed_attempts)
            left = MAX_FAILED_ATTEMPTS - self.failed_attempts
            return Verification("verified", asks, left) if linked else Verification("not_verified", asks, left)

    async def _check(self, candidate: Candidate, answers: Mapping[str, str]) -> tuple[set[str], bool]:
        matched: set[str] = set()
        wrong = False
        region = self.policy.default_region
        for factor, value in answers.items():
            if factor not in self.policy.verification_factors:
                continue
            canonical = canonical_answer(factor, value, region=region)
            if canonical is None:
                continue
            if factor == "name":
                if len(name_words(candidate.name)) < 2:
                    continue
                ok = name_said(candidate.name, [canonical])
            else:
                stored = candidate.digests.get(factor)
                if stored is None:
                    continue
                ok = await asyncio.to_thread(answer_matches, canonical, stored)
            if ok:
                matched.add(factor)
            else:
                wrong = True
        return matched, wrong

    def forget(self) -> None:
        """The caller was deleted: nothing said on the call is scanned or kept any more."""
        self._unscanned.clear()
        self._said.clear()
        self.candidate = None

"""Per-call memory: the front object of one call (open, record, preload, recall, verify, close).

``record_turn`` only appends to memory and wakes the call's writer; the writer stores the text at
once (in the database, or the host's spool while the database cannot take it) and enriches it
afterwards, off the turn path. ``recall`` and ``preload`` first settle what the writer has not yet
looked at (identifiers said aloud), so a link made mid-call is in effect by the next read of the
same call. Reads never raise for storage trouble: they return what they can within the policy's
time budget and log the error. A call that could not reach the database when it opened goes on
without history; it is attached (event ``attached``) as soon as the writer reaches the database.

The work is done by three parts, each the only owner of its state: the linker (who the caller
is), the history (the caller's working set, graph and earlier open matters) and the writer
(pending and failed rows). This object owns the call's identity, its sequence of rows and its
listeners, and reaches the process only through :class:`~memory.call.services.CallServices`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np

from ..deadline import within
from ..errors import InvalidInputError, MemoryWriteError, describe
from ..policy import MemoryPolicy
from ..recall.brief import verification_note
from ..recall.presets import PRESETS, RecallPreset
from ..recall.query import understand
from ..recall.ranking import rank
from ..text.clean import MAX_QUERY_CHARS, MAX_TURN_CHARS, clean_text
from ..values import CallEvent, Fact, Hit, Identifier, Matter, Preload, Verification, as_utc
from .history import CallHistory
from .linking import CallLinker
from .services import CallServices
from .transcript import CallTranscript
from .writer import CallWriter

__all__ = ["DRAIN_TIMEOUT_S", "CallHooks"]

logger = logging.getLogger(__name__)

DRAIN_TIMEOUT_S = 8.0


class CallHooks:
    """Memory for one call of one caller. Create it with ``CallerStore.open_call``."""

    def __init__(
        self,
        services: CallServices,
        customer_id: str,
        identifiers: list[Identifier],
        *,
        call_id: str,
        started_at: datetime,
        policy: MemoryPolicy,
    ) -> None:
        self._services = services
        self.customer_id = customer_id
        self.call_id = call_id
        self.started_at = started_at
        self.policy = policy
        self._transcript = CallTranscript(customer_id, call_id)
        self._listeners: list[Callable[[CallEvent], object]] = []
        self._closed = False
        self._forgotten = False
        self._opening = True  # a start after open() returned is a late attach
        self._opened = time.monotonic()
        io_lock = asyncio.Lock()  # one write or link at a time
        self._history = CallHistory(call_id, self._transcript.rows)
        self._linker = CallLinker(
            services,
            customer_id,
            identifiers,
            call_id=call_id,
            started_at=started_at,
            policy=policy,
            io_lock=io_lock,
            on_started=self._started,
            on_linked=self._linked,
            on_candidate=self._candidate,
        )
        self._writer = CallWriter(
            services, self._linker, self._history, self._transcript.rows, io_lock=io_lock, on_failed=self._writes_failed
        )

    # -- who is calling ------------------------------------------------------------------------------

    @property
    def caller_id(self) -> str:
        """The canonical caller id in the tenant (changes when the call is linked mid-call)."""
        return self._linker.caller_id

    @property
    def first_caller_id(self) -> str:
        """The caller id the call started with (kept on each row, so a link can be undone)."""
        return self._linker.first_caller_id

    @property
    def is_new_caller(self) -> bool:
        return self._linker.is_new_caller

    @property
    def started(self) -> bool:
        """The caller is resolved and the call is registered in storage."""
        return self._linker.started

    @property
    def closed(self) -> bool:
        """``aclose`` was called."""
        return self._closed

    @property
    def forgotten(self) -> bool:
        """The caller was deleted during the call: nothing more of it is kept or recalled."""
        return self._forgotten

    @property
    def awaiting_verification(self) -> bool:
        """An identifier said aloud matched a record the caller has not verified yet."""
        return self._linker.candidate is not None

    @property
    def spooled(self) -> int:
        """Turns of this call waiting in the spool for the database."""
        return self._writer.spooled

    async def open(self, *, budget_s: float | None = None) -> None:
        """Resolve the caller and start the writer, within ``budget_s`` (the preload budget by default);
        never raises for storage trouble (the call then attaches when the database answers)."""
        try:
            await within(self._linker.start(), self.policy.preload_timeout_s if budget_s is None else budget_s)
        except Exception as exc:
            logger.error("memory unavailable at call start, continuing without history: %s", describe(exc))
        self._opening = False
        self._writer.start()

    def _started(self, caller_id: str, is_new: bool) -> None:
        if not is_new:
            self._load_history(caller_id)
        if not self._opening:
            logger.info("the call's memory reached the database; attached")
            self._emit(CallEvent("attached", caller_id))

    def _load_history(self, caller_id: str) -> None:
        self._history.load(self._services.backend, self.customer_id, caller_id, self.policy)

    def _candidate(self) -> None:
        self._emit(CallEvent("candidate", self.caller_id))

    async def _linked(self, previous: str, caller_id: str, evidence: Identifier) -> None:
        await self._services.invalidate(self.customer_id, previous)
        await self._services.invalidate(self.customer_id, caller_id)
        self._load_history(caller_id)
        self._emit(CallEvent("linked", caller_id, f"by {evidence.kind}", {"previous_caller_id": previous}))

    def _writes_failed(self, count: int) -> None:
        self._emit(CallEvent("write_error", self.caller_id, f"{count} turns waiting for the database"))

    def add_listener(self, listener: Callable[[CallEvent], object]) -> None:
        """``listener(event)`` is called on the event loop for "linked" and "write_error" events."""
        self._listeners.append(listener)

    def _emit(self, event: CallEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                logger.exception("a memory event listener failed")

    # -- recording (the turn path: no I/O) -------------------------------------------------------

    def record_turn(self, role: str, text: str, *, at: datetime | None = None, key: str | None = None) -> None:
        """Remember one utterance of this call. Returns at once; the writer stores it in the background.

        ``key`` (e.g. the framework's message id) drops a turn recorded twice; without it, a turn
        identical to the one just recorded is dropped.
        """
        if role not in ("user", "assistant"):
            raise InvalidInputError(f"role must be 'user' or 'assistant', not {role!r}")
        self._append("turn", role, text, at, key)

    def remember(self, text: str, *, at: datetime | None = None) -> None:
        """Keep a note the caller asked to be remembered (no I/O, like ``record_turn``)."""
        self._append("note", "user", text, at, None)

    def _append(self, kind: str, role: str, text: str, at: datetime | None, key: str | None) -> None:
        text = clean_text(text, limit=MAX_TURN_CHARS)
        at = as_utc(at, name="at")
        if self._closed:
            logger.warning("a turn was recorded after the call's memory was closed; ignored")
            return
        if not text or self._forgotten:
            return
        row = self._transcript.append(kind, role, text, at, key, caller_id=self.caller_id, first=self.first_caller_id)
        if row is None:
            return
        self._history.add(row)
        self._writer.add(row)
        if role == "user":
            self._linker.heard(row, answering=self._transcript.question_before_last())

    async def flushed(self) -> None:
        """Wait until every turn recorded so far was stored (or failed: see ``aclose``)."""
        await self._writer.flushed()

    # -- reads -----------------------------------------------------------------------------------------

    async def preload(self, *, budget_s: float | None = None) -> Preload:
        """The caller brief for the prompt; empty for a new caller or when storage is unreachable.

        While an identifier said aloud matches a record the caller has not verified, the brief is
        the caller's own (if any) followed by a note that a record matches and how to verify them.
        ``budget_s``: the time budget (the policy's ``preload_timeout_s`` by default).
        """
        t0 = time.perf_counter()
        budget = self.policy.preload_timeout_s if budget_s is None else budget_s
        try:
            if self._forgotten:
                raise LookupError("the caller was deleted")
            text, source = await within(self._preload(), budget)
        except Exception as exc:
            if not self._forgotten:
                logger.error("preload failed, continuing without history: %s", describe(exc))
            text, source = "", "error"
        took = (time.perf_counter() - t0) * 1000
        return Preload(text, self.caller_id, self.is_new_caller, source, took)  # type: ignore[arg-type]

    async def _preload(self) -> tuple[str, str]:
        await self._linker.settle(raise_errors=True)
        if not self.started:
            raise ConnectionError("the call could not be registered")
        text, source = "", "empty"
        if not self.is_new_caller:
            cached = await self._services.cached_brief(self.customer_id, self.caller_id)
            if cached is not None:
                text, source = cached, "cache"
            else:
                text = await self._services.build_brief(self.customer_id, self.caller_id, self.policy)
                source = "database" if text else "empty"
        candidate = self._linker.candidate
        if candidate is not None:
            note = verification_note(candidate.evidence.kind, candidate.asks(self.policy))
            return "\n\n".join(part for part in (text, note) if part), "verification"
        return text, source

    async def verify(self, answers: dict[str, str]) -> Verification:
        """Check what the caller answered (``name``, ``postcode``, ``pin``, ``date_of_birth``) against the
        record an identifier they said matched; a match that meets the policy links the call (event
        ``linked``). The record's values are never returned, only whether the answers match."""
        if self._forgotten:
            return Verification("nothing_to_verify")
        try:
            return await within(self._linker.verify(answers, at=self._now()), self.policy.recall_timeout_s + 3.0)
        except Exception as exc:
            logger.error("verification unavailable: %s", describe(exc))
            return Verification("unavailable")

    async def recall(self, query: str, *, mode: str = "fast", limit: int = 5) -> list[Hit]:
        """Memories of this caller (earlier calls and this one) that best match ``query``."""
        preset = PRESETS.get(mode)
        if preset is None:
            raise InvalidInputError(f"mode must be one of {sorted(PRESETS)}, not {mode!r}")
        if not isinstance(limit, int) or not 1 <= limit <= 100:
            raise InvalidInputError("limit must be an integer from 1 to 100")
        query = clean_text(query, limit=MAX_QUERY_CHARS)
        if not query or self._forgotten:
            return []
        try:
            return await within(self._recall(query, preset, limit), self.policy.recall_timeout_s)
        except Exception as exc:
            logger.error("recall degraded to this call's words only: %s", describe(exc))
            return rank(self._history.working, query, None, preset=preset, limit=limit, now=self._now())

    async def _recall(self, query: str, preset: RecallPreset, limit: int) -> list[Hit]:
        await self._linker.settle(raise_errors=False)
        await self._history.ready()
        # Only the query is embedded here: turns the writer has not embedded yet are matched by
        # their words (and their neighbours') until it has, so the call's single embedding thread
        # never embeds the same turn twice.
        vectors = await self._services.embed([query], cache_first=True)
        history, now = self._history, self._now()
        working, graph = history.working, history.graph
        expand = graph.expansion(working.rows, query) if preset.expand_candidates and len(graph) else None
        current = self._transcript.episode(self.started_at)
        episodes = history.episode_context(understand(query, now), current, region=self.policy.default_region)
        return rank(working, query, vectors[0], preset=preset, limit=limit, now=now, expand=expand, episodes=episodes)

    def _now(self) -> datetime:
        """The call's clock: its start plus the time since it opened (right for replays too)."""
        return self.started_at + timedelta(seconds=time.monotonic() - self._opened)

    def vector_of(self, key: str) -> np.ndarray | None:
        """The embedding the call's writer computed for the turn recorded with ``key``, if done yet.

        Lets in-call consumers (context compaction) rank this call's turns densely for free.
        """
        return self._transcript.vector_of(key)

    async def facts(self, *, include_former: bool = True) -> list[Fact]:
        """The caller's facts with validity (current ones have ``valid_to`` None), oldest first.

        Facts said earlier in this call are included; empty if storage is unreachable.
        """
        backend = self._services.backend
        return await self._writer.read_after_writes(
            "facts", lambda: backend.load_facts(self.customer_id, self.caller_id, include_former=include_former)
        )

    async def open_matters(self) -> list[Matter]:
        """Open promises to this caller, newest first, this call's included (empty if unreachable)."""
        backend = self._services.backend
        return await self._writer.read_after_writes(
            "open matters", lambda: backend.load_open_matters(self.customer_id, self.caller_id)
        )

    # -- closing ---------------------------------------------------------------------------------------

    async def forget(self) -> None:
        """The caller was deleted (``CallerStore.forget_caller``): this call stops recalling and
        writing, and drops what it held of them. Turns recorded afterwards are ignored."""
        self._forgotten = True
        self._writer.forget()
        self._linker.forget()
        self._history.forget()
        self._transcript.forget()
        await self._writer.stop()
        self._emit(CallEvent("forgotten", self.caller_id))

    async def aclose(self, *, timeout: float = DRAIN_TIMEOUT_S) -> None:
        """Store what is left, summarise the call, prepare the next call's preload.

        What the database does not take in time stays in the spool, replayed when it is back (by
        this process or the next to start); ``MemoryWriteError`` (with the unsaved turns) is raised
        only for turns that could be neither stored nor spooled.
        """
        if self._closed:
            return
        self._closed = True
        if self._forgotten:
            self._services.call_closed(self.customer_id, self.call_id)
            return
        finished = False
        try:
            await within(self._finish(), timeout)
            finished = True
        except _LeftToTheSpool:
            logger.warning("the database did not take all of this call's turns; they are replayed from the spool")
        except Exception as exc:
            if not isinstance(exc, TimeoutError):
                logger.error("closing the call's memory failed: %s", describe(exc))
            await self._writer.keep_the_rest()
        finally:
            await self._writer.stop()
            self._history.cancel()
            self._services.call_closed(self.customer_id, self.call_id)
        if not finished and not self._forgotten:
            await self._leave_to_the_spool()
        unsaved = [(r.role, r.text, r.at) for r in self._writer.unsaved()]
        if unsaved:
            raise MemoryWriteError(f"{len(unsaved)} turns of this call could not be stored", unsaved=unsaved)

    async def spool_unsaved(self) -> int:
        """After ``MemoryWriteError``: try once more to put the unsaved turns in the spool, where they
        are replayed into the database later. Returns how many are still neither stored nor spooled."""
        await self._writer.keep_the_rest()
        if not self._writer.unsaved():
            await self._leave_to_the_spool()
        return len(self._writer.unsaved())

    async def _leave_to_the_spool(self) -> None:
        """The call could not be finished in the database: the spool's replayer finishes it (stores
        what is spooled, then the call's end, topic and outcome)."""
        spool = self._services.spool
        if spool is None:
            return
        try:
            await within(spool.keep(self._writer.spooled_call(closed=True), []), 2.0)
        except Exception as exc:
            logger.error("the call's end could not be spooled: %s", describe(exc))

    async def _finish(self) -> None:
        await self._writer.drain()
        if self._forgotten:
            return
        if self._writer.unsaved() or self._writer.spooled:
            raise _LeftToTheSpool
        await self._linker.settle(raise_errors=True)
        if not self.started:
            return
        ending, built = self._transcript.ending(self.started_at, region=self.policy.default_region)
        episode = await self._services.refine_episode(built, self._transcript.rows)
        await self._services.backend.finish_call(self.customer_id, self.call_id, episode=episode, **ending)
        await self._services.invalidate(self.customer_id, self.caller_id)
        await self._services.prepare_brief(self.customer_id, self.caller_id, self.policy)


class _LeftToTheSpool(Exception):
    """Closing found turns the database did not take: the spool's replayer finishes the call."""

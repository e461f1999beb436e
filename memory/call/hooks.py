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
import functools
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar, cast

import numpy as np

from ..deadline import within
from ..errors import InvalidInputError, describe
from ..policy import MemoryPolicy
from ..recall.presets import RecallPreset, preset_for
from ..telemetry import RECALL, measured, recall_without_vector
from ..text.clean import MAX_QUERY_CHARS, MAX_TURN_CHARS, clean_text
from ..values import CallEvent, Fact, Hit, Identifier, Matter, Preload, Verification, as_utc
from .closing import CallCloser
from .history import CallHistory
from .linking import CallLinker
from .services import CallEvents, CallServices
from .transcript import CallTranscript
from .writer import CallWriter

__all__ = ["DRAIN_TIMEOUT_S", "CallHooks"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

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
        self._events = CallEvents()
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
            on_started=_weakly(self._started),
            on_linked=_weakly_async(self._linked),
            on_candidate=_weakly(self._emit, "candidate"),
        )
        self._writer = CallWriter(
            services,
            self._linker,
            self._history,
            self._transcript.rows,
            io_lock=io_lock,
            on_failed=_weakly(self._emit, "write_error"),
        )
        self._closer = CallCloser(services, self._writer, self._linker, self._history, self._transcript)

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
        """Resolve the caller and start the writer within ``budget_s`` (default: the preload budget);
        never raises for storage trouble: the call attaches when the database answers."""
        try:
            await within(self._linker.start(), self.policy.preload_timeout_s if budget_s is None else budget_s)
        except Exception as exc:
            logger.error("memory unavailable at call start, continuing without history: %s", describe(exc))
        self._opening = False
        self._writer.start()

    def _started(self, caller_id: str, is_new: bool) -> None:
        if not is_new:
            self._history.load(self._services.backend, self.customer_id, caller_id, self.policy)
        if not self._opening:
            logger.info("the call's memory reached the database; attached")
            self._events.emit(CallEvent("attached", caller_id))

    def _emit(self, kind: Literal["candidate", "write_error"], detail: str = "") -> None:
        self._events.emit(CallEvent(kind, self.caller_id, detail))

    async def _linked(self, previous: str, caller_id: str, evidence: Identifier) -> None:
        await self._services.invalidate(self.customer_id, previous)
        await self._services.invalidate(self.customer_id, caller_id)
        self._history.load(self._services.backend, self.customer_id, caller_id, self.policy)
        self._events.emit(CallEvent("linked", caller_id, f"by {evidence.kind}", {"previous_caller_id": previous}))

    def add_listener(self, listener: Callable[[CallEvent], object]) -> None:
        """``listener(event)`` is called on the event loop for the call's events (``CallEvent.kind``)."""
        self._events.add(listener)

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

    async def preload(self, *, budget_s: float | None = None) -> Preload:
        """The caller brief for the prompt within ``budget_s`` (default: the policy's ``preload_timeout_s``);
        empty for a new caller or when storage is unreachable; with a verification note while a record
        an identifier said aloud matched is not verified (see :meth:`CallLinker.brief`)."""
        t0 = time.perf_counter()
        budget = self.policy.preload_timeout_s if budget_s is None else budget_s
        try:
            if self._forgotten:
                raise LookupError("the caller was deleted")
            text, source = await within(self._linker.brief(), budget)
        except Exception as exc:
            if not self._forgotten:
                logger.error("preload failed, continuing without history: %s", describe(exc))
            text, source = "", "error"
        self._history.brief_served()
        took = (time.perf_counter() - t0) * 1000
        return Preload(text, self.caller_id, self.is_new_caller, source, took)  # type: ignore[arg-type]

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
        started = time.monotonic()  # the query's deadline counts from here: the caller waits from here
        preset, limit = preset_for(mode, limit)
        query = clean_text(query, limit=MAX_QUERY_CHARS)
        if not query or self._forgotten:
            return []
        try:
            return await within(self._recall(query, preset, limit, started), self.policy.recall_timeout_s)
        except Exception as exc:
            logger.error("recall degraded to this call's words only: %s", describe(exc))
            return self._history.rank(query, None, preset, limit, now=self._now())

    async def _recall(self, query: str, preset: RecallPreset, limit: int, started: float) -> list[Hit]:
        with measured("memory.recall", RECALL, mode=preset.name, tenant=self.customer_id, limit=limit) as measure:
            # Only the query is embedded (turns without a vector are matched by words and neighbours'); once that
            # started, the linker and history are awaited (a first recall may come before the load), words scored.
            now, current = self._now(), functools.partial(self._transcript.episode, self.started_at)
            planned = self._history.planned(query, preset, now=now, current=current, policy=self.policy)
            after = _in_order(self._linker.settle(raise_errors=False), planned)
            plan, vector = await query_vector(self._services, query, preset.name, after=after, started=started)
            if vector is None:
                measure.set(ranked_by="words")  # the vector was late (counted too: recall_without_vector)
            return self._history.rank(query, vector, preset, limit, now=now, plan=plan)

    def _now(self) -> datetime:
        """The call's clock: its start plus the time since it opened (right for replays too)."""
        return self.started_at + timedelta(seconds=time.monotonic() - self._opened)

    def vector_of(self, key: str) -> np.ndarray | None:
        """The embedding the writer computed for the turn recorded with ``key`` (compaction ranks with it)."""
        return self._transcript.vector_of(key)

    async def facts(self, *, include_former: bool = True) -> list[Fact]:
        """The caller's facts with validity (current: ``valid_to`` None), oldest first, this call's included."""
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

    async def forget(self) -> None:
        """The caller was deleted (``CallerStore.forget_caller``): the call drops what it held of them
        and stops recalling and writing; turns recorded afterwards are ignored."""
        self._forgotten = True
        await self._closer.forget()
        self._events.emit(CallEvent("forgotten", self.caller_id))

    async def aclose(self, *, timeout: float = DRAIN_TIMEOUT_S) -> None:
        """Store what is left, summarise the call, prepare the next call's preload (see
        :class:`~memory.call.closing.CallCloser`: what the database does not take waits in the spool;
        ``MemoryWriteError`` holds the turns that could be neither stored nor spooled)."""
        if not self._closed:
            self._closed = True
            await self._closer.close(timeout=timeout, forgotten=lambda: self._forgotten)

    async def spool_unsaved(self) -> int:
        """After ``MemoryWriteError``: spool the unsaved turns; how many are still neither stored nor spooled."""
        return await self._closer.spool_unsaved()


async def query_vector(
    services: CallServices,
    query: str,
    mode: str,
    *,
    after: Coroutine[object, object, T],
    started: float | None = None,
) -> tuple[T, np.ndarray | None]:
    """What ``after`` returns (what the recall waits for first: the call's history, the plan of its
    words) and the query's vector, or ``None`` when the vector is not there within the mode's deadline
    (the recall then ranks by words; the embedding goes on and fills the query cache for the next
    recall). The query's embedding is started first and ``after`` runs meanwhile; the deadline counts
    from ``started`` (``time.monotonic()``: when the recall was asked; by default now)."""
    started = time.monotonic() if started is None else started
    embedding = asyncio.ensure_future(services.embed([query], cache_first=True))
    try:
        first = await asyncio.ensure_future(after)  # scheduled behind the embedding's start
    except BaseException:
        embedding.add_done_callback(_consume)
        raise
    deadline = services.query_deadline(mode)
    if deadline is None:
        return first, (await embedding)[0]
    deadline = max(0.0, deadline - (time.monotonic() - started))
    done, _ = await asyncio.wait({embedding}, timeout=deadline)
    if embedding in done:
        return first, embedding.result()[0]
    embedding.add_done_callback(_consume)
    recall_without_vector(mode)
    return first, None


async def _in_order(first: Coroutine[object, object, object], last: Coroutine[object, object, T]) -> T:
    """Await ``first`` then ``last`` and return what ``last`` returns; a step not reached (the first
    failed, the recall timed out) is closed, not left never awaited."""
    waiting: list[Coroutine[object, object, object]] = [first, last]
    try:
        await waiting.pop(0)
        return await cast(Coroutine[object, object, T], waiting.pop(0))
    finally:
        for step in waiting:
            step.close()


def _weakly(method: Callable[..., None], *first: Any) -> Callable[..., None]:
    """``method`` of the hooks (called with ``first`` before the caller's arguments), for a part of the
    call to call back: it holds the hooks weakly, so the hooks and their parts make no reference cycle,
    and a closed call's history (its working set, a few thousand objects) is freed when the call is
    dropped, not by a later pass of the cycle collector (which then walks it on the event loop, in
    another call's recall)."""
    ref = weakref.WeakMethod(method)

    def call(*args: Any) -> None:
        bound = ref()
        if bound is not None:
            bound(*first, *args)

    return call


def _weakly_async(method: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """``_weakly`` for a coroutine method."""
    ref = weakref.WeakMethod(method)

    async def call(*args: Any) -> None:
        bound = ref()
        if bound is not None:
            await bound(*args)

    return call


def _consume(task: asyncio.Future[np.ndarray]) -> None:
    """A late query embedding's outcome, read so that a failure is not reported as never retrieved."""
    if not task.cancelled():
        task.exception()

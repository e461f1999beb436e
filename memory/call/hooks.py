"""Per-call memory: the front object of one call (open, record, preload, recall, close).

``record_turn`` only appends to memory and wakes the call's writer; the writer embeds and stores
batches off the turn path. ``recall`` and ``preload`` first settle what the writer has not yet
looked at (identifiers said aloud), so a link made mid-call is in effect by the next read of the
same call. Reads never raise for storage trouble: they return what they can within the policy's
time budget and log the error.

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
from ..recall.presets import PRESETS, RecallPreset
from ..recall.ranking import rank
from ..text import promises
from ..text.clean import MAX_QUERY_CHARS, MAX_TURN_CHARS, clean_text
from ..values import CallEvent, Fact, Hit, Identifier, Matter, Preload, as_utc
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
            on_known=self._load_history,
            on_linked=self._linked,
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

    async def open(self) -> None:
        """Resolve the caller and start the writer; never raises for storage trouble."""
        try:
            await within(self._linker.start(), self.policy.preload_timeout_s)
        except Exception as exc:
            logger.error("memory unavailable at call start, continuing without history: %s", describe(exc))
        self._writer.start()

    def _load_history(self, caller_id: str) -> None:
        self._history.load(self._services.backend, self.customer_id, caller_id, limit=self.policy.working_set_limit)

    async def _linked(self, previous: str, caller_id: str, evidence: Identifier) -> None:
        await self._services.invalidate(self.customer_id, previous)
        await self._services.invalidate(self.customer_id, caller_id)
        self._load_history(caller_id)
        self._emit(CallEvent("linked", caller_id, f"by {evidence.kind}", {"previous_caller_id": previous}))

    def _writes_failed(self, count: int) -> None:
        self._emit(CallEvent("write_error", self.caller_id, f"{count} turns not stored"))

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
        if not text:
            return
        row = self._transcript.append(kind, role, text, at, key, caller_id=self.caller_id, first=self.first_caller_id)
        if row is None:
            return
        self._history.add(row)
        self._writer.add(row)
        if role == "user":
            self._linker.heard(row)

    async def flushed(self) -> None:
        """Wait until every turn recorded so far was stored (or failed: see ``aclose``)."""
        await self._writer.flushed()

    # -- reads -----------------------------------------------------------------------------------------

    async def preload(self) -> Preload:
        """The caller brief for the prompt; empty for a new caller or when storage is unreachable."""
        t0 = time.perf_counter()
        try:
            text, source = await within(self._preload(), self.policy.preload_timeout_s)
        except Exception as exc:
            logger.error("preload failed, continuing without history: %s", describe(exc))
            text, source = "", "error"
        took = (time.perf_counter() - t0) * 1000
        return Preload(text, self.caller_id, self.is_new_caller, source, took)  # type: ignore[arg-type]

    async def _preload(self) -> tuple[str, str]:
        await self._linker.settle(raise_errors=True)
        if not self.started:
            raise ConnectionError("the call could not be registered")
        if self.is_new_caller:
            return "", "empty"
        cached = await self._services.cached_brief(self.customer_id, self.caller_id)
        if cached is not None:
            return cached, "cache"
        text = await self._services.build_brief(self.customer_id, self.caller_id, self.policy)
        return text, ("database" if text else "empty")

    async def recall(self, query: str, *, mode: str = "fast", limit: int = 5) -> list[Hit]:
        """Memories of this caller (earlier calls and this one) that best match ``query``."""
        preset = PRESETS.get(mode)
        if preset is None:
            raise InvalidInputError(f"mode must be one of {sorted(PRESETS)}, not {mode!r}")
        if not isinstance(limit, int) or not 1 <= limit <= 100:
            raise InvalidInputError("limit must be an integer from 1 to 100")
        query = clean_text(query, limit=MAX_QUERY_CHARS)
        if not query:
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
        working, graph = self._history.working, self._history.graph
        expand = graph.expansion(working.rows, query) if preset.expand_candidates and len(graph) else None
        return rank(working, query, vectors[0], preset=preset, limit=limit, now=self._now(), expand=expand)

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

    async def aclose(self, *, timeout: float = DRAIN_TIMEOUT_S) -> None:
        """Store what is left, summarise the call, prepare the next call's preload.

        Raises ``MemoryWriteError`` (with the unsaved turns) if anything could not be stored.
        """
        if self._closed:
            return
        self._closed = True
        try:
            await within(self._finish(), timeout)
        except Exception as exc:
            if not isinstance(exc, TimeoutError):
                logger.error("closing the call's memory failed: %s", describe(exc))
            self._writer.give_up_pending()
        finally:
            await self._writer.stop()
            self._history.cancel()
        unsaved = [(r.role, r.text, r.at) for r in self._writer.unsaved()]
        if unsaved:
            raise MemoryWriteError(f"{len(unsaved)} turns of this call could not be stored", unsaved=unsaved)

    async def _finish(self) -> None:
        await self._writer.drain()
        await self._linker.settle(raise_errors=True)
        if not self.started:
            return
        transcript = self._transcript
        await self._services.backend.finish_call(
            self.customer_id,
            self.call_id,
            ended_at=transcript.ended_at(self.started_at),
            topic=promises.call_topic(transcript.turns("user")),
            outcome=promises.call_outcome(transcript.turns("assistant")),
        )
        await self._services.invalidate(self.customer_id, self.caller_id)
        await self._services.prepare_brief(self.customer_id, self.caller_id, self.policy)

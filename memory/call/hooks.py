"""Per-call memory: resolve the caller, preload, record turns in the background, recall, close.

``record_turn`` only appends to memory and wakes the call's writer task; the writer embeds and
stores batches off the turn path. ``recall`` and ``preload`` first settle what the writer has
not yet looked at (identifiers said aloud), so a link made mid-call is in effect by the next
read of the same call. Reads never raise for storage trouble: they return what they can within
the policy's time budget and log the error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

from ..deadline import within
from ..errors import InvalidInputError, MemoryWriteError
from ..policy import MemoryPolicy
from ..recall.graph import CallerGraph, Extraction, extract_batch, query_entities
from ..recall.presets import PRESETS
from ..recall.ranking import rank
from ..recall.working_set import WorkingSet
from ..text import promises
from ..text.identifiers import Identifier
from ..text.spoken import extract_identifiers
from ..text.terms import tokenize
from ..values import CallEvent, Fact, Hit, Matter, MemoryRow, Preload, as_utc
from .linking import learn_spoken, new_caller_id, resolve_caller

if TYPE_CHECKING:
    from ..caller_store import CallerStore

logger = logging.getLogger(__name__)

MAX_TURN_CHARS = 8000
MAX_QUERY_CHARS = 2000
WRITE_BATCH = 64
WRITE_RETRIES = (0.1, 0.4, 1.0)
WRITE_TIMEOUT_S = 3.0
DRAIN_TIMEOUT_S = 8.0
_GENERIC_WORDS = frozenset(
    [
        "got",
        "received",
        "see",
        "saw",
        "came",
        "through",
        "working",
        "fixed",
        "resolved",
        "sorted",
        "fine",
        "now",
        "thanks",
        "thank",
        "great",
        "good",
        "all",
    ]
)
_CONTROL = dict.fromkeys(c for c in range(32) if c not in (9, 10))


def clean_text(text: object, *, limit: int) -> str:
    if not isinstance(text, str):
        raise InvalidInputError(f"text must be a string, not {type(text).__name__}")
    text = text.translate(_CONTROL).strip()
    return text[:limit]


class CallHooks:
    """Memory for one call of one caller. Create it with ``CallerStore.open_call``."""

    def __init__(
        self,
        store: CallerStore,
        customer_id: str,
        identifiers: list[Identifier],
        *,
        call_id: str,
        started_at: datetime,
        policy: MemoryPolicy,
    ) -> None:
        self._store = store
        self.customer_id = customer_id
        self.call_id = call_id
        self.started_at = started_at
        self.policy = policy
        self._identifiers = identifiers
        self.caller_id = new_caller_id()  # provisional until resolved
        self.first_caller_id = self.caller_id
        self.is_new_caller = True
        self.started = False  # the caller is resolved and the call row exists
        self._working = WorkingSet()
        self._graph = CallerGraph()
        self._earlier_open: list[Matter] = []  # open matters of earlier calls, to close when resolved
        self._history: asyncio.Task[None] | None = None
        self._seq = 0
        self._pending: list[MemoryRow] = []
        self._unscanned: list[MemoryRow] = []
        self._failed: list[MemoryRow] = []
        self._call_rows: list[MemoryRow] = []
        self._seen_keys: set[str] = set()
        self._by_key: dict[str, MemoryRow] = {}
        self._last: tuple[str, str] | None = None
        self._io_lock = asyncio.Lock()  # one write or link at a time
        self._scan_lock = asyncio.Lock()  # held for a whole identity scan, so reads can wait for one in progress
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()  # set while nothing is pending
        self._idle.set()
        self._writer: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[CallEvent], object]] = []
        self._closed = False
        self._opened = time.monotonic()

    # -- lifecycle -----------------------------------------------------------------------------

    async def _open(self) -> None:
        try:
            await within(self._start(), self.policy.preload_timeout_s)
        except Exception as exc:
            logger.error("memory unavailable at call start, continuing without history: %s", _describe(exc))
        self._writer = asyncio.create_task(self._run_writer(), name=f"memory-writer-{self.call_id}")

    async def _start(self) -> None:
        backend = self._store.backend
        caller_id, is_new = await resolve_caller(
            backend, self.customer_id, self._identifiers, self.policy, call_id=self.call_id, at=self.started_at
        )
        await backend.start_call(self.customer_id, self.call_id, caller_id, self.started_at)
        self.caller_id = self.first_caller_id = caller_id
        self.is_new_caller = is_new
        for row in self._call_rows:
            row.caller_id = row.first_caller_id = caller_id
        self.started = True
        if not is_new:
            self._start_history()

    async def _load_history(self) -> None:
        backend = self._store.backend
        rows = await backend.load_memories(self.customer_id, self.caller_id, limit=self.policy.working_set_limit)
        graph = CallerGraph()
        graph.add(await backend.load_edges(self.customer_id, self.caller_id))
        matters = await backend.load_open_matters(self.customer_id, self.caller_id)
        self._graph = graph
        self._earlier_open = [m for m in matters if m.call_id != self.call_id]
        known = {(r.call_id, r.seq) for r in rows}
        working = WorkingSet([*rows, *(r for r in self._call_rows if (r.call_id, r.seq) not in known)])
        await asyncio.to_thread(working.prepare)  # index off the event loop, before the first recall
        present = {(r.call_id, r.seq) for r in working.rows}
        working.extend(r for r in self._call_rows if (r.call_id, r.seq) not in present)  # recorded meanwhile
        self._working = working

    def _start_history(self) -> None:
        self._history = asyncio.create_task(self._load_history(), name=f"memory-history-{self.call_id}")
        self._history.add_done_callback(_retrieve_quietly)

    async def _history_ready(self) -> None:
        if self._history is None:
            return
        try:
            await asyncio.shield(self._history)
        except Exception as exc:
            logger.error("could not load the caller's memories: %s", _describe(exc))
            self._history = None

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
        if self._closed:
            logger.warning("a turn was recorded after the call's memory was closed; ignored")
            return
        if not text:
            return
        if key is not None:
            if key in self._seen_keys:
                return
            self._seen_keys.add(key)
        elif self._last == (role, text):
            return
        self._last = (role, text)
        self._seq += 1
        row = MemoryRow(
            self.customer_id,
            self.caller_id,
            self.call_id,
            self._seq,
            kind,
            role,
            text,  # type: ignore[arg-type]
            as_utc(at),
            self.first_caller_id,
        )
        self._call_rows.append(row)
        if key is not None:
            self._by_key[key] = row
        self._working.extend([row])
        self._pending.append(row)
        if role == "user":
            self._unscanned.append(row)
        self._idle.clear()
        self._wake.set()

    # -- the writer --------------------------------------------------------------------------------

    async def _run_writer(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                try:
                    await self._flush_batch()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("the memory writer failed unexpectedly")
                    break
            if not self._pending:
                self._idle.set()
            if self._closed and not self._pending:
                return

    async def _flush_batch(self) -> None:
        batch = self._pending[:WRITE_BATCH]
        await self._history_ready()  # the graph and open matters this batch builds on
        await self._embed(batch)
        extraction = await asyncio.to_thread(
            extract_batch, batch, list(self._call_rows), plans=self.policy.plans, region=self.policy.default_region
        )
        await self._settle_identity(raise_errors=False)
        for attempt, pause in enumerate((*WRITE_RETRIES, None)):
            try:
                async with self._io_lock:
                    await within(self._write(batch, extraction), WRITE_TIMEOUT_S)
                break
            except Exception as exc:
                if pause is None:
                    self._writes_failed(batch, exc)
                    return
                logger.warning("memory write failed (attempt %d), retrying: %s", attempt + 1, _describe(exc))
                await asyncio.sleep(pause)
        del self._pending[: len(batch)]
        await self._store.invalidate(self.customer_id, self.caller_id)

    async def _write(self, batch: list[MemoryRow], extraction: Extraction) -> None:
        if not self.started:
            await self._start()
        for row in batch:
            row.caller_id = self.caller_id
        backend, tenant, caller, first = self._store.backend, self.customer_id, self.caller_id, self.first_caller_id
        await backend.write_memories(tenant, batch)
        await backend.add_facts(tenant, caller, first, extraction.facts)
        await backend.add_edges(tenant, caller, first, extraction.edges)
        await backend.add_matters(tenant, caller, first, extraction.matters)
        resolved = self._resolved_matters(extraction)
        if resolved:
            await backend.close_matters(
                tenant, caller, [m.matter_id for m in resolved], closed_at=batch[-1].at, call_id=self.call_id
            )
            self._earlier_open = [m for m in self._earlier_open if m not in resolved]
        self._graph.add(extraction.edges)

    def _resolved_matters(self, extraction: Extraction) -> list[Matter]:
        """Open matters of earlier calls that a turn of this batch says are done."""
        resolved: list[Matter] = []
        for row, labels in extraction.resolutions:
            candidates = [m for m in self._earlier_open if m not in resolved]
            by_ref = [m for m in candidates if set(labels) & set(m.references)]
            if by_ref:
                resolved.extend(by_ref)
                continue
            words = set(tokenize(row.text)) - _GENERIC_WORDS
            overlapping = [m for m in candidates if words & (set(tokenize(m.text)) - _GENERIC_WORDS)]
            if overlapping:
                resolved.append(max(overlapping, key=lambda m: m.at))
        return resolved

    def _writes_failed(self, batch: list[MemoryRow], exc: Exception) -> None:
        del self._pending[: len(batch)]
        self._failed.extend(batch)
        logger.error("%d turns could not be stored: %s", len(batch), _describe(exc))
        self._emit(CallEvent("write_error", self.caller_id, f"{len(self._failed)} turns not stored"))

    async def _embed(self, rows: list[MemoryRow]) -> None:
        missing = [r for r in rows if r.embedding is None]
        if not missing:
            return
        vectors = await self._store.embed([r.text for r in missing])
        for row, vector in zip(missing, vectors, strict=True):
            row.embedding = vector
        self._working.mark_vectors_changed()

    # -- identity said aloud -------------------------------------------------------------------------

    async def _settle_identity(self, *, raise_errors: bool) -> None:
        """Look at user turns not yet scanned for identifiers; attach them or link this call.

        A read that finds a scan already running (the writer's) waits for it: the link it may
        make must be in effect for that read.
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
        if not self.started:
            await self._start()
        await self._learn(rows)

    async def _learn(self, rows: list[MemoryRow]) -> None:
        region = self.policy.default_region
        spoken: list[Identifier] = []
        name = None
        for row in rows:
            if row.kind != "turn":
                continue
            spoken.extend(i for i in extract_identifiers(row.text, region=region) if i not in spoken)
            name = name or promises.spoken_name(row.text)
        backend = self._store.backend
        if spoken:
            before = self.caller_id
            caller_id, evidence = await learn_spoken(
                backend, self.customer_id, before, spoken, self.policy, call_id=self.call_id, at=rows[-1].at
            )
            if evidence is not None:
                self.caller_id = caller_id
                self.is_new_caller = False
                for row in self._pending:
                    row.caller_id = caller_id
                await self._store.invalidate(self.customer_id, before)
                await self._store.invalidate(self.customer_id, caller_id)
                self._start_history()
                self._emit(CallEvent("linked", caller_id, f"by {evidence.kind}", {"previous_caller_id": before}))
        if name:
            await backend.set_display_name(self.customer_id, self.caller_id, name)

    # -- reads -----------------------------------------------------------------------------------------

    async def preload(self) -> Preload:
        """The caller brief for the prompt; empty for a new caller or when storage is unreachable."""
        t0 = time.perf_counter()
        try:
            text, source = await within(self._preload(), self.policy.preload_timeout_s)
        except Exception as exc:
            logger.error("preload failed, continuing without history: %s", _describe(exc))
            text, source = "", "error"
        took = (time.perf_counter() - t0) * 1000
        return Preload(text, self.caller_id, self.is_new_caller, source, took)  # type: ignore[arg-type]

    async def _preload(self) -> tuple[str, str]:
        await self._settle_identity(raise_errors=True)
        if not self.started:
            raise ConnectionError("the call could not be registered")
        if self.is_new_caller:
            return "", "empty"
        cached = await self._store.cached_brief(self.customer_id, self.caller_id)
        if cached is not None:
            return cached, "cache"
        text = await self._store.build_brief(self.customer_id, self.caller_id, self.policy)
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
            logger.error("recall degraded to this call's words only: %s", _describe(exc))
            return rank(self._working, query, None, preset=preset, limit=limit, now=self._now())

    async def _recall(self, query: str, preset, limit: int) -> list[Hit]:
        await self._settle_identity(raise_errors=False)
        await self._history_ready()
        # Only the query is embedded here: turns the writer has not embedded yet are matched by
        # their words (and their neighbours') until it has, so the call's single embedding thread
        # never embeds the same turn twice.
        vectors = await self._store.embed([query], cache_first=True)
        expand = self._graph_expansion(query) if preset.name == "accurate" and len(self._graph) else None
        extra = {"expand": expand} if expand is not None else {}
        return rank(self._working, query, vectors[0], preset=preset, limit=limit, now=self._now(), **extra)

    def _now(self) -> datetime:
        """The call's clock: its start plus the time since it opened (right for replays too)."""
        return self.started_at + timedelta(seconds=time.monotonic() - self._opened)

    def _graph_expansion(self, query: str):
        """The accurate preset's graph step: rows related to the top hits and to the query's entities."""
        rows = self._working.rows
        entities = query_entities(query)

        def expand(top: list[int]) -> dict[int, float]:
            index = {(r.call_id, r.seq): i for i, r in enumerate(rows)}
            seeds = {(rows[i].call_id, rows[i].seq): 1.0 / (rank + 1) for rank, i in enumerate(top)}
            related = self._graph.expand(seeds, entities)
            return {index[key]: score for key, score in related.items() if key in index}

        return expand

    def vector_of(self, key: str) -> np.ndarray | None:
        """The embedding the call's writer computed for the turn recorded with ``key``, if done yet.

        Lets in-call consumers (context compaction) rank this call's turns densely for free.
        """
        row = self._by_key.get(key)
        return None if row is None else row.embedding

    async def facts(self, *, include_former: bool = True) -> list[Fact]:
        """The caller's facts with validity (current ones have ``valid_to`` None), oldest first.

        Facts said earlier in this call are included; empty if storage is unreachable.
        """
        backend = self._store.backend
        return await self._read_after_writes(
            "facts", lambda: backend.load_facts(self.customer_id, self.caller_id, include_former=include_former)
        )

    async def open_matters(self) -> list[Matter]:
        """Open promises to this caller, newest first, this call's included (empty if unreachable)."""
        backend = self._store.backend
        return await self._read_after_writes(
            "open matters", lambda: backend.load_open_matters(self.customer_id, self.caller_id)
        )

    async def _read_after_writes(self, what: str, load: Callable[[], Awaitable[list]]) -> list:
        """A read that sees this call's pending writes and links: waits for them within the recall budget."""
        try:
            await within(self._idle.wait(), self.policy.recall_timeout_s)
        except TimeoutError:
            logger.warning("%s read before this call's writes were stored", what)
        try:
            await within(self._settle_identity(raise_errors=False), self.policy.recall_timeout_s)
            return await within(load(), self.policy.recall_timeout_s)
        except Exception as exc:
            logger.error("%s unavailable: %s", what, _describe(exc))
            return []

    # -- closing ---------------------------------------------------------------------------------------

    async def aclose(self, *, timeout: float = DRAIN_TIMEOUT_S) -> None:
        """Store what is left, summarise the call, prepare the next call's preload.

        Raises ``MemoryWriteError`` (with the unsaved turns) if anything could not be stored.
        """
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        try:
            await within(self._finish(), timeout)
        except Exception as exc:
            if not isinstance(exc, TimeoutError):
                logger.error("closing the call's memory failed: %s", _describe(exc))
            self._failed.extend(self._pending)
            self._pending.clear()
        finally:
            if self._writer is not None:
                self._writer.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._writer
            if self._history is not None and not self._history.done():
                self._history.cancel()
        if self._failed:
            unsaved = [(r.role, r.text, r.at) for r in self._failed]
            raise MemoryWriteError(f"{len(unsaved)} turns of this call could not be stored", unsaved=unsaved)

    async def _finish(self) -> None:
        if self._writer is not None:
            await asyncio.shield(self._writer)
        if self._failed:  # one more try for what failed during the call
            retry, self._failed = self._failed, []
            self._pending.extend(retry)
            await self._flush_batch()
        await self._settle_identity(raise_errors=True)
        if not self.started:
            return
        backend = self._store.backend
        turns = [r for r in self._call_rows if r.kind == "turn"]
        await backend.finish_call(
            self.customer_id,
            self.call_id,
            ended_at=max((r.at for r in self._call_rows), default=self.started_at),
            topic=promises.call_topic([r.text for r in turns if r.role == "user"]),
            outcome=promises.call_outcome([r.text for r in turns if r.role == "assistant"]),
        )
        await self._store.invalidate(self.customer_id, self.caller_id)
        await self._store.prepare_brief(self.customer_id, self.caller_id, self.policy)


def _retrieve_quietly(task: asyncio.Task) -> None:
    """Errors of a background load are reported where it is awaited; never as 'never retrieved'."""
    if not task.cancelled():
        task.exception()


def _describe(exc: BaseException) -> str:
    """An error's type and message, for logs (messages of this layer carry no caller content)."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    return type(exc).__name__


def validate_customer_id(customer_id: object) -> str:
    """The tenant's id, trimmed; ``InvalidInputError`` if missing or absurd."""
    if not isinstance(customer_id, str) or not customer_id.strip():
        raise InvalidInputError("customer_id is required (the tenant's id)")
    customer_id = customer_id.strip()
    if len(customer_id) > 128 or not customer_id.isprintable():
        raise InvalidInputError("customer_id must be printable and at most 128 characters")
    return customer_id


def validate_call_args(customer_id: object, identifiers: object, call_id: object) -> tuple[str, Mapping, str]:
    customer_id = validate_customer_id(customer_id)
    if identifiers is None:
        identifiers = {}
    if not isinstance(identifiers, Mapping):
        raise InvalidInputError("identifiers must be a mapping of kind -> value")
    if call_id is None:
        call_id = "call_" + uuid.uuid4().hex
    if not isinstance(call_id, str) or not call_id.strip() or len(call_id) > 200 or not call_id.isprintable():
        raise InvalidInputError("call_id must be a printable string of at most 200 characters")
    return customer_id, identifiers, call_id

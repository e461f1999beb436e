"""The background writer of one call: text first, then the rest; nothing dropped.

``add`` is the whole cost on the turn path (an append and a wake-up). Two tasks follow:

- **text**: every recorded row reaches durable storage within ``DURABLE_WITHIN_S``: ``add`` hands
  it to the host's spool (:meth:`~memory.store.spool.Spool.keep_soon`), whose thread commits it
  without waiting for the event loop. It is written to the database as it comes (text, role,
  time, call; no embedding, marked not yet enriched), a few rows at a time, under the I/O lock it
  shares with the linker; a row that reaches the database leaves the spool. A row whose keep failed
  and that the database has not taken ``SPOOL_AFTER_S`` after it was sent (slow, hung, refused) is
  spooled by this task, and the write goes on. While the database is down, rows are spooled as they come and the database is
  tried again with back-off (``RETRY_S``), oldest rows first, so a call that could not be started
  is started, and its spooled rows are stored in order, as soon as the database answers.
- **enrichment**: stored rows are embedded (the process's embedding thread), read (facts,
  references, promises, resolutions, after the caller's history they build on has loaded),
  linked (identifiers said aloud, via the linker) and their enrichment written
  (:mod:`memory.call.enrich`). A batch whose enrichment cannot be written is tried again while the
  call lasts and is back-filled after it (the rows stay marked in the database). At close, the
  vectors are waited for a short while only (``drain(embed_within=...)``): the embedder's lane for
  turns starves on a busy host, and the rows left unenriched are back-filled once the call has ended.

At close, rows the database did not take stay in the spool for the replayer (this process's or
the next one's); only rows that could be neither stored nor spooled are :meth:`unsaved`, which
``aclose`` hands back in :class:`~memory.errors.MemoryWriteError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence

from ..deadline import retrieve_quietly, within
from ..errors import describe
from ..recall.graph import Extraction, extract_batch
from ..store.spool import SpooledCall
from ..telemetry import measured, store_up, turns, write_queue
from ..values import MemoryRow
from .enrich import store_enrichment
from .history import CallHistory
from .linking import WRITE_TIMEOUT_S, CallLinker
from .services import CallServices

__all__ = ["DURABLE_WITHIN_S", "ENRICH_BATCH", "RETRY_S", "SPOOL_AFTER_S", "TEXT_BATCH", "CallWriter"]

logger = logging.getLogger(__name__)

DURABLE_WITHIN_S = 0.25
"""A recorded row is in the spool this long after ``add`` (the promise kept: the spool's thread commits it
however busy the event loop is; see ``Spool.keep_soon``). A store without a spool has it once the database took it."""
SPOOL_AFTER_S = 0.1
"""A row the database has not taken this long after it was sent is spooled (the write goes on)."""
TEXT_BATCH = 32
ENRICH_BATCH = 64
RETRY_S = (0.25, 0.5, 1.0, 2.0)
"""Pauses before trying a database that failed again (the last one repeats)."""
SPOOL_TIMEOUT_S = 2.0
ENRICH_RETRY_S = 2.0


class CallWriter:
    """Stores one call's recorded rows in the background. Owns the unstored, unenriched and failed rows."""

    def __init__(
        self,
        services: CallServices,
        linker: CallLinker,
        history: CallHistory,
        call_rows: Sequence[MemoryRow],
        *,
        io_lock: asyncio.Lock,
        on_failed: Callable[[str], None],
    ) -> None:
        self._services = services
        self.call_id = linker.call_id
        self.policy = linker.policy
        self._linker = linker
        self._history = history
        self._call_rows = call_rows  # the call's rows in order: the context a batch is read in
        self._io_lock = io_lock  # one write or link at a time, shared with the linker
        self._on_failed = on_failed  # told when the database stops taking this call's rows
        self._unstored: list[MemoryRow] = []  # recorded, not yet in the database, in order
        self._spooled: set[int] = set()  # seqs of unstored rows that are in the spool
        self._maybe_spooled: set[int] = set()  # seqs of a spool write called off: in the spool or not
        self._keeping: dict[int, asyncio.Future[None]] = {}  # seqs handed to the spool's thread, not yet durable
        self._counted: set[int] = set()  # seqs counted spooled (telemetry)
        self._unenriched: list[MemoryRow] = []
        self._failed: list[MemoryRow] = []  # could be neither stored nor spooled
        self._db_ok = True
        self._attempts = 0
        self._retry_at = 0.0
        self._inflight: asyncio.Task[list[MemoryRow]] | None = None
        self._inflight_since = 0.0
        self._text_wake = asyncio.Event()
        self._enrich_wake = asyncio.Event()
        self._text_idle = asyncio.Event()
        self._enrich_idle = asyncio.Event()
        self._text_idle.set()
        self._enrich_idle.set()
        self._closing = False
        self._embed_given_up = asyncio.Event()  # closing: the vectors not done by now are back-filled
        self._last_try = False  # closing with the database down: one more try, then leave it to the spool
        self._forgotten = False
        self._tasks: list[asyncio.Task[None]] = []
        self._queued = 0  # rows counted in the process's write queue (neither stored nor spooled)
        self._released = False  # closed: rows left are handed back, no longer queued

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run_text(), name=f"memory-text-{self.call_id}"),
            asyncio.create_task(self._run_enrich(), name=f"memory-enrich-{self.call_id}"),
        ]

    def add(self, row: MemoryRow) -> None:
        """Queue one row and hand it to the spool's thread (no I/O here, nothing awaited)."""
        self._unstored.append(row)
        turns("recorded", self._linker.customer_id)
        if not self._released:
            self._queued += 1
            write_queue(1)
        self._keep_ahead(row)
        self._text_idle.clear()
        self._text_wake.set()

    def _keep_ahead(self, row: MemoryRow) -> None:
        """The row goes to the spool now, before the database is even tried: the spool's thread commits
        it within ``KEEP_WINDOW_S`` (30 ms) however busy this process's event loop is (see ``Spool.keep_soon``), where
        the database's write (and a spool write after it) waits for the loop; it leaves the spool once
        the database has taken it."""
        spool = self._services.spool
        if spool is None or self._forgotten:
            return
        try:
            kept = spool.keep_soon(self.spooled_call(), [row])
        except Exception as exc:  # the spool closed under a live call: the row is spooled later, as before
            logger.warning("a turn could not be handed to the spool: %s", describe(exc))
            return
        self._keeping[row.seq] = kept
        kept.add_done_callback(functools.partial(self._kept, row.seq))

    def _kept(self, seq: int, kept: asyncio.Future[None]) -> None:
        if self._keeping.get(seq) is kept:
            del self._keeping[seq]
        failure = None if kept.cancelled() else kept.exception()
        if kept.cancelled() or failure is not None:
            if failure is not None:
                logger.warning("a turn could not be spooled ahead: %s", describe(failure))
            self._text_wake.set()  # spooled by the text task if the database does not take it in time
            return
        if any(r.seq == seq for r in self._unstored):
            self._spooled.add(seq)
            self._track_queue()
            if not self._db_ok:
                self._count_spooled()

    def _count_spooled(self) -> None:
        """Count the rows in the spool that the database did not take in time (down, or slower than
        ``SPOOL_AFTER_S``), once each: the rows kept ahead that it took in time are not counted spooled."""
        new = [r.seq for r in self._unstored if r.seq in self._spooled and r.seq not in self._counted]
        if new:
            self._counted.update(new)
            turns("spooled", self._linker.customer_id, len(new))

    async def flushed(self) -> None:
        """Return once every row added so far is stored and enriched, or as far as it can be for now
        (spooled while the database is down; enrichment deferred)."""
        await self._text_idle.wait()
        if self._keeping:  # rows the database has not taken are spooled (or failed) once their keeps are done
            await asyncio.wait(set(self._keeping.values()))
        await self._enrich_idle.wait()

    @property
    def spooled(self) -> int:
        """Rows of this call in the spool and not (yet) in the database (each row is spooled as it is
        recorded, and leaves the spool once the database has taken it)."""
        return len(self._spooled)

    # -- text ------------------------------------------------------------------------------------------

    async def _run_text(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._text_wait(loop)
            self._text_wake.clear()
            if self._inflight is not None and self._inflight.done():
                self._written(self._inflight, loop.time())
            now = loop.time()
            late = self._inflight is not None and now - self._inflight_since >= SPOOL_AFTER_S
            if self._unspooled() and (not self._db_ok or late):
                await self._spool(self._unspooled())
            if not self._db_ok or late:
                self._count_spooled()
            may_try = self._db_ok or now >= self._retry_at or self._last_try
            if self._inflight is None and self._unstored and may_try and not self._forgotten:
                self._last_try = False
                batch = self._unstored[:TEXT_BATCH]
                self._inflight = asyncio.create_task(self._store_text(batch), name=f"memory-store-{self.call_id}")
                self._inflight_since = now
                continue
            if self._inflight is None and (not self._unstored or not self._db_ok):
                self._text_idle.set()
                if self._closing and not self._last_try:
                    return

    async def _text_wait(self, loop: asyncio.AbstractEventLoop) -> None:
        waits: set[asyncio.Future] = {asyncio.ensure_future(self._text_wake.wait())}
        timeout = None
        if self._inflight is not None:
            waits.add(self._inflight)
            spool_at = self._inflight_since + SPOOL_AFTER_S
            timeout = spool_at - loop.time() if spool_at > loop.time() else None
        elif self._unstored and not self._db_ok and not self._forgotten:
            timeout = max(0.0, self._retry_at - loop.time())
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                if waiting is not self._inflight and not waiting.done():
                    waiting.cancel()

    async def _store_text(self, batch: list[MemoryRow]) -> list[MemoryRow]:
        async with self._io_lock:
            await within(self._write_text(batch), WRITE_TIMEOUT_S)
        return batch

    async def _write_text(self, batch: list[MemoryRow]) -> None:
        await self._linker.ensure_started()
        linker = self._linker
        for row in batch:
            row.caller_id, row.first_caller_id = linker.caller_id, linker.first_caller_id
        with measured("memory.write", tenant=linker.customer_id, rows=len(batch)):
            await self._services.backend.write_memories(linker.customer_id, batch, enriched=False)

    def _written(self, task: asyncio.Task[list[MemoryRow]], now: float) -> None:
        self._inflight = None
        exc = task.exception()
        store_up(exc is None)
        if exc is not None:
            if self._db_ok:
                logger.warning("the database is not taking this call's turns (%s); spooling them", describe(exc))
                self._on_failed(f"{len(self._unstored)} turns waiting for the database")
            self._db_ok = False
            self._retry_at = now + RETRY_S[min(self._attempts, len(RETRY_S) - 1)]
            self._attempts += 1
            self._text_wake.set()  # spool what is not yet
            return
        batch = task.result()
        if not self._db_ok:
            logger.info("the database is back; this call's spooled turns are being stored")
        self._db_ok, self._attempts = True, 0
        del self._unstored[: len(batch)]
        spooled = [
            r.seq for r in batch if r.seq in self._spooled or r.seq in self._maybe_spooled or r.seq in self._keeping
        ]
        self._spooled.difference_update(spooled)
        self._maybe_spooled.difference_update(spooled)
        self._counted.difference_update(spooled)
        turns("stored", self._linker.customer_id, len(batch))
        self._track_queue()
        if spooled:
            self._forget_spooled(spooled)
        if not self._forgotten:
            self._unenriched.extend(batch)
            self._enrich_idle.clear()
            self._enrich_wake.set()
        self._text_wake.set()

    def _unspooled(self) -> list[MemoryRow]:
        if self._services.spool is None:
            return []
        return [r for r in self._unstored if r.seq not in self._spooled and r.seq not in self._keeping]

    def spooled_call(self, *, closed: bool = False) -> SpooledCall:
        """This call as the spool keeps it."""
        linker = self._linker
        return SpooledCall(
            linker.customer_id,
            self.call_id,
            list(linker.presented),
            linker.started_at,
            linker.caller_id if linker.started else None,
            linker.first_caller_id if linker.started else None,
            closed=closed,
        )

    async def _spool(self, rows: list[MemoryRow]) -> bool:
        """Keep ``rows`` in the spool. While a write of them is in flight (the database slow, not
        down), the database taking them all first ends the attempt: they need no spool then, and the
        host's processes do not queue for the spool file's lock behind a write that is not needed.
        When some of ``rows`` were not in that write (recorded since it was sent), the keep goes on:
        those still need it (rows of the write kept too leave the spool when the write is seen)."""
        spool = self._services.spool
        if spool is None or not rows:
            return False
        keep = asyncio.ensure_future(within(spool.keep(self.spooled_call(), rows), SPOOL_TIMEOUT_S))
        inflight = self._inflight
        if inflight is not None and not inflight.done():
            await asyncio.wait({keep, inflight}, return_when=asyncio.FIRST_COMPLETED)
            won = not keep.done() and not inflight.cancelled() and inflight.exception() is None
            if won and {r.seq for r in rows} <= {r.seq for r in inflight.result()}:
                keep.cancel()  # rolled back, unless it lands after the COMMIT was sent
                keep.add_done_callback(retrieve_quietly)
                self._maybe_spooled.update(r.seq for r in rows)  # leave the spool when stored, either way
                self._text_wake.set()
                return False
        try:
            await keep
        except Exception as exc:
            logger.error("%d turns could not be spooled either: %s", len(rows), describe(exc))
            return False
        self._spooled.update(r.seq for r in rows)
        self._count_spooled()
        self._track_queue()
        return True

    def _forget_spooled(self, seqs: list[int]) -> None:
        spool = self._services.spool
        if spool is None:
            return
        # handed to the spool's thread now: behind the rows' keeps, ahead of the claim made when the call closes
        done = spool.stored(self._linker.customer_id, self.call_id, seqs)
        done.add_done_callback(retrieve_quietly)  # left there, the rows are replayed once more: stored once

    # -- enrichment --------------------------------------------------------------------------------------

    async def _run_enrich(self) -> None:
        while True:
            if not self._unenriched or self._forgotten:
                self._enrich_idle.set()
                if self._closing and self._tasks[0].done():
                    return
                await self._enrich_wake.wait()
                self._enrich_wake.clear()
                continue
            batch = self._unenriched[:ENRICH_BATCH]
            try:
                await self._enrich(batch)
            except asyncio.CancelledError:
                raise
            except _EmbeddingDeferred:
                logger.info(
                    "the call closes without the vectors of its last %d turns; they are back-filled",
                    len(self._unenriched),
                )
                self._enrich_idle.set()
                return  # closing: the rows stay marked in the database
            except Exception as exc:
                logger.warning("enrichment of %d turns deferred: %s", len(batch), describe(exc))
                self._enrich_idle.set()
                if self._closing:
                    return  # the rows stay marked in the database and are back-filled
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._enrich_wake.wait(), ENRICH_RETRY_S)
                self._enrich_wake.clear()
                continue
            del self._unenriched[: len(batch)]

    async def _enrich(self, batch: list[MemoryRow]) -> None:
        with measured("memory.enrich", tenant=self._linker.customer_id, rows=len(batch)):
            await self._enrich_batch(batch)

    async def _enrich_batch(self, batch: list[MemoryRow]) -> None:
        await self._history.ready()  # the graph and open matters this batch builds on
        await self._embed(batch)
        extraction = await asyncio.to_thread(
            extract_batch, batch, list(self._call_rows), plans=self.policy.plans, region=self.policy.default_region
        )
        await self._linker.settle(raise_errors=False)
        if self._forgotten:
            return
        async with self._io_lock:
            await within(self._write_enrichment(batch, extraction), WRITE_TIMEOUT_S)
        await self._services.invalidate(self._linker.customer_id, self._linker.caller_id)

    async def _write_enrichment(self, batch: list[MemoryRow], extraction: Extraction) -> None:
        linker = self._linker
        resolved = self._history.resolved_by(extraction.resolutions)
        await store_enrichment(
            self._services.backend,
            linker.customer_id,
            batch,
            extraction,
            resolved,
            caller_id=linker.caller_id,
            first_caller_id=linker.first_caller_id,
            call_id=self.call_id,
        )
        self._history.closed(resolved)
        self._history.graph.add(extraction.edges)

    async def _embed(self, rows: list[MemoryRow]) -> None:
        missing = [r for r in rows if r.embedding is None]
        if not missing:
            return
        embedding = asyncio.ensure_future(self._services.embed([r.text for r in missing], later=True))
        given_up = asyncio.ensure_future(self._embed_given_up.wait())
        try:
            await asyncio.wait({embedding, given_up}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            given_up.cancel()
            if not embedding.done():  # given up, or this task cancelled
                embedding.cancel()
                embedding.add_done_callback(retrieve_quietly)
        if not embedding.done() or embedding.cancelled():
            raise _EmbeddingDeferred
        vectors = embedding.result()
        for row, vector in zip(missing, vectors, strict=True):
            row.embedding = vector
        self._history.changed(vectors=True)

    async def read_after_writes(self, what: str, load: Callable[[], Awaitable[list]]) -> list:
        """``load()`` once this call's pending writes and links are in storage, within the recall
        budget (a read that cannot wait that long goes ahead and says so); empty if it fails."""
        budget = self.policy.recall_timeout_s
        try:
            await within(self.flushed(), budget)
        except TimeoutError:
            logger.warning("%s read before this call's writes were stored", what)
        try:
            await within(self._linker.settle(raise_errors=False), budget)
            return await within(load(), budget)
        except Exception as exc:
            logger.error("%s unavailable: %s", what, describe(exc))
            return []

    # -- closing -----------------------------------------------------------------------------------------

    async def drain(self, *, embed_within: float | None = None) -> None:
        """Stop taking new work; store what is unstored (one more try of a database that was down, the
        rest spooled), then enrich what is stored. Rows that fail stay spooled or marked for back-fill;
        so do the rows whose vectors are not there ``embed_within`` seconds from now (``None``: wait)."""
        self._closing = True
        self._last_try = not self._db_ok
        self._text_wake.set()
        self._enrich_wake.set()
        loop = asyncio.get_running_loop()
        give_up = None if embed_within is None else loop.call_later(embed_within, self._embed_given_up.set)
        try:
            for task in self._tasks:
                if not task.done():
                    await asyncio.shield(task)
                self._enrich_wake.set()
            if self._keeping:  # rows the database did not take are durable once their keeps are
                await asyncio.wait(set(self._keeping.values()))
        finally:
            if give_up is not None:
                give_up.cancel()

    async def keep_the_rest(self) -> None:
        """A close that could not finish: spool what is neither stored nor spooled yet."""
        if self._keeping:  # handed to the spool's thread: durable within milliseconds unless the file is stuck
            with contextlib.suppress(Exception):
                await asyncio.wait(set(self._keeping.values()), timeout=1.0)
        rest = self._unspooled()
        if rest and not self._forgotten:
            with contextlib.suppress(Exception):
                await within(self._spool(rest), 1.0)

    async def stop(self) -> None:
        """End the tasks (after ``drain``, or at the deadline of a close that could not finish)."""
        self._closing = True
        for task in [*self._tasks, *([self._inflight] if self._inflight else [])]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def forget(self) -> None:
        """The caller was deleted: nothing more of this call is stored (queued rows are dropped)."""
        self._forgotten = True
        self._unstored.clear()
        self._unenriched.clear()
        self._spooled.clear()
        self._maybe_spooled.clear()
        self._keeping.clear()
        self._failed.clear()
        self._track_queue()
        self._text_wake.set()
        self._enrich_wake.set()

    def _track_queue(self) -> None:
        """Keep this call's share of the process's write queue at its rows neither stored nor spooled."""
        queued = 0 if self._released else len(self.unsaved())
        write_queue(queued - self._queued)
        self._queued = queued

    def release(self) -> int:
        """The call is closed: the rows neither stored nor spooled are handed back (counted lost) and
        leave the write queue. Returns how many."""
        lost = len(self.unsaved()) if not self._released else 0
        turns("lost", self._linker.customer_id, lost)
        self._released = True
        self._track_queue()
        return lost

    def unsaved(self) -> list[MemoryRow]:
        """Rows that could be neither stored nor spooled."""
        if self._forgotten:
            return []
        return [*self._failed, *(r for r in self._unstored if r.seq not in self._spooled)]


class _EmbeddingDeferred(Exception):
    """Closing: the vectors of a batch were not there in time; its rows are back-filled after the call."""

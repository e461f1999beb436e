"""The background writer of one call: pending turns -> embedded -> read -> stored, with retries.

``add`` is the whole cost on the turn path (an append and a wake-up). The writer's task takes
batches in order: it waits for the caller's history (the graph and open matters a batch builds
on), embeds the batch in the process's embedding thread, extracts facts, references, promises
and resolutions in a thread, lets the linker settle what the batch's user turns say, and stores
it under the shared I/O lock, retrying a failed write. A batch that still fails is kept as failed
(retried once more at close); what is left unsaved at close is handed back to the caller of
``aclose`` in :class:`~memory.errors.MemoryWriteError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from ..deadline import within
from ..errors import describe
from ..recall.graph import Extraction, extract_batch
from ..values import MemoryRow
from .history import CallHistory
from .linking import WRITE_TIMEOUT_S, CallLinker
from .services import CallServices

__all__ = ["WRITE_BATCH", "WRITE_RETRIES", "CallWriter"]

logger = logging.getLogger(__name__)

WRITE_BATCH = 64
WRITE_RETRIES = (0.1, 0.4, 1.0)  # pauses between the attempts of one batch's write


class CallWriter:
    """Stores one call's recorded rows in the background. Owns the pending and failed rows."""

    def __init__(
        self,
        services: CallServices,
        linker: CallLinker,
        history: CallHistory,
        call_rows: Sequence[MemoryRow],
        *,
        io_lock: asyncio.Lock,
        on_failed: Callable[[int], None],
    ) -> None:
        self._services = services
        self.call_id = linker.call_id
        self.policy = linker.policy
        self._linker = linker
        self._history = history
        self._call_rows = call_rows  # the call's rows in order: the context a batch is read in
        self._io_lock = io_lock  # one write or link at a time, shared with the linker
        self._on_failed = on_failed  # told how many rows have failed so far
        self._pending: list[MemoryRow] = []
        self._failed: list[MemoryRow] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()  # set while nothing is pending
        self._idle.set()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"memory-writer-{self.call_id}")

    def add(self, row: MemoryRow) -> None:
        """Queue one row (no I/O)."""
        self._pending.append(row)
        self._idle.clear()
        self._wake.set()

    async def flushed(self) -> None:
        """Return once every row added so far was stored or given up on (failed)."""
        await self._idle.wait()

    # -- the task ----------------------------------------------------------------------------------------

    async def _run(self) -> None:
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
            if self._closing and not self._pending:
                return

    async def _flush_batch(self) -> None:
        batch = self._pending[:WRITE_BATCH]
        await self._history.ready()  # the graph and open matters this batch builds on
        await self._embed(batch)
        extraction = await asyncio.to_thread(
            extract_batch, batch, list(self._call_rows), plans=self.policy.plans, region=self.policy.default_region
        )
        await self._linker.settle(raise_errors=False)
        for attempt, pause in enumerate((*WRITE_RETRIES, None)):
            try:
                async with self._io_lock:
                    await within(self._write(batch, extraction), WRITE_TIMEOUT_S)
                break
            except Exception as exc:
                if pause is None:
                    self._give_up(batch, exc)
                    return
                logger.warning("memory write failed (attempt %d), retrying: %s", attempt + 1, describe(exc))
                await asyncio.sleep(pause)
        del self._pending[: len(batch)]
        await self._services.invalidate(self._linker.customer_id, self._linker.caller_id)

    async def _write(self, batch: list[MemoryRow], extraction: Extraction) -> None:
        await self._linker.ensure_started()
        linker = self._linker
        tenant, caller, first = linker.customer_id, linker.caller_id, linker.first_caller_id
        for row in batch:
            row.caller_id, row.first_caller_id = caller, first
        backend = self._services.backend
        await backend.write_memories(tenant, batch)
        await backend.add_facts(tenant, caller, first, extraction.facts)
        await backend.add_edges(tenant, caller, first, extraction.edges)
        await backend.add_matters(tenant, caller, first, extraction.matters)
        resolved = self._history.resolved_by(extraction.resolutions)
        if resolved:
            await backend.close_matters(
                tenant, caller, [m.matter_id for m in resolved], closed_at=batch[-1].at, call_id=self.call_id
            )
            self._history.closed(resolved)
        self._history.graph.add(extraction.edges)

    def _give_up(self, batch: list[MemoryRow], exc: Exception) -> None:
        del self._pending[: len(batch)]
        self._failed.extend(batch)
        logger.error("%d turns could not be stored: %s", len(batch), describe(exc))
        self._on_failed(len(self._failed))

    async def _embed(self, rows: list[MemoryRow]) -> None:
        missing = [r for r in rows if r.embedding is None]
        if not missing:
            return
        vectors = await self._services.embed([r.text for r in missing])
        for row, vector in zip(missing, vectors, strict=True):
            row.embedding = vector
        self._history.working.mark_vectors_changed()

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

    async def drain(self) -> None:
        """Stop taking new work and store what is pending; rows that failed during the call get one
        more try. Rows that still fail stay failed (see :meth:`unsaved`)."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await asyncio.shield(self._task)
        if self._failed:
            retry, self._failed = self._failed, []
            self._pending.extend(retry)
            await self._flush_batch()

    async def stop(self) -> None:
        """End the task (after ``drain``, or at the deadline of a close that could not finish)."""
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    def give_up_pending(self) -> None:
        """A close that could not finish: what is still pending counts as unsaved."""
        self._failed.extend(self._pending)
        self._pending.clear()

    def unsaved(self) -> list[MemoryRow]:
        """Rows that could not be stored."""
        return list(self._failed)

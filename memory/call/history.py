"""The caller's history as one call sees it: the working set, the entity graph, earlier open matters.

Loaded in the background once the caller is known (and again when a link changes who the caller
is); turns of this call join the working set at once, before and after the load. A failed load
is logged where it is awaited, and the call goes on with what it has.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence

from ..deadline import retrieve_quietly
from ..errors import describe
from ..recall.graph import CallerGraph
from ..recall.working_set import WorkingSet
from ..store.base import Backend
from ..values import Matter, MemoryRow
from .enrich import resolved_matters

__all__ = ["CallHistory"]

logger = logging.getLogger(__name__)


class CallHistory:
    """The working set, graph and earlier open matters of one call's caller."""

    def __init__(self, call_id: str, call_rows: Sequence[MemoryRow]) -> None:
        self.call_id = call_id
        self.working = WorkingSet()
        self.graph = CallerGraph()
        self.earlier_open: list[Matter] = []  # open matters of earlier calls, to close when resolved
        self._call_rows = call_rows  # this call's rows, in order (owned by the call; read here)
        self._task: asyncio.Task[None] | None = None

    def add(self, row: MemoryRow) -> None:
        """A turn of this call joins the working set at once."""
        self.working.extend([row])

    def load(self, backend: Backend, customer_id: str, caller_id: str, *, limit: int) -> None:
        """Start loading ``caller_id``'s history in the background (replacing what is loaded)."""
        self._task = asyncio.create_task(
            self._load(backend, customer_id, caller_id, limit), name=f"memory-history-{self.call_id}"
        )
        self._task.add_done_callback(retrieve_quietly)

    async def ready(self) -> None:
        """Wait for a load under way; its failure is logged here, and the call goes on without it."""
        if self._task is None:
            return
        try:
            await asyncio.shield(self._task)
        except Exception as exc:
            logger.error("could not load the caller's memories: %s", describe(exc))
            self._task = None

    def cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def forget(self) -> None:
        """The caller was deleted: nothing of theirs stays in this call's memory."""
        self.cancel()
        self._task = None
        self.working = WorkingSet()
        self.graph = CallerGraph()
        self.earlier_open = []

    async def _load(self, backend: Backend, customer_id: str, caller_id: str, limit: int) -> None:
        rows = await backend.load_memories(customer_id, caller_id, limit=limit)
        graph = CallerGraph()
        graph.add(await backend.load_edges(customer_id, caller_id))
        matters = await backend.load_open_matters(customer_id, caller_id)
        self.graph = graph
        self.earlier_open = [m for m in matters if m.call_id != self.call_id]
        known = {(r.call_id, r.seq) for r in rows}
        working = WorkingSet([*rows, *(r for r in self._call_rows if (r.call_id, r.seq) not in known)])
        await asyncio.to_thread(working.prepare)  # index off the event loop, before the first recall
        present = {(r.call_id, r.seq) for r in working.rows}
        working.extend(r for r in self._call_rows if (r.call_id, r.seq) not in present)  # recorded meanwhile
        self.working = working

    # -- earlier open matters ------------------------------------------------------------------------

    def resolved_by(self, resolutions: Iterable[tuple[MemoryRow, tuple[str, ...]]]) -> list[Matter]:
        """Open matters of earlier calls that turns of this call say are done (see ``resolved_matters``)."""
        return resolved_matters(self.earlier_open, resolutions)

    def closed(self, matters: Sequence[Matter]) -> None:
        """These matters were closed in storage: they are no longer open."""
        self.earlier_open = [m for m in self.earlier_open if m not in matters]

"""What one call needs from the process that opened it: a narrow protocol, not the store itself.

:class:`~memory.caller_store.CallerStore` provides these members as they are; a test can drive a
call with any object that does (an in-memory fake, a store whose backend is behind a fault proxy).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from ..policy import MemoryPolicy
from ..store.base import Backend
from ..store.spool import Spool
from ..values import CallEvent, Episode, MemoryRow

__all__ = ["CallEvents", "CallServices"]

logger = logging.getLogger(__name__)


class CallServices(Protocol):
    """The process's shared services as one call sees them."""

    @property
    def backend(self) -> Backend:
        """Where memories are stored (SQLite or Postgres)."""
        ...

    @property
    def spool(self) -> Spool | None:
        """The host's spool, where turns the database cannot take wait (``None``: no spool)."""
        ...

    async def embed(self, texts: Sequence[str], *, cache_first: bool = False, later: bool = False) -> np.ndarray:
        """Vectors of ``texts``, computed off the event loop; ``cache_first``: the first text is a query;
        ``later``: no one waits on them now (a call's turns), so an embedder with a lane for such
        texts (``embed_later``) may take its time."""
        ...

    def query_deadline(self, mode: str) -> float | None:
        """Seconds a recall of ``mode`` waits for its query's vector before it ranks by words
        (``None``: it waits, within the recall budget)."""
        ...

    async def invalidate(self, customer_id: str, caller_id: str) -> None:
        """The caller's data changed: a prepared brief of theirs must not be served. Never raises."""
        ...

    async def cached_brief(self, customer_id: str, caller_id: str) -> str | None:
        """The prepared brief of the caller if it is current, else ``None``. Never raises."""
        ...

    async def build_brief(self, customer_id: str, caller_id: str, policy: MemoryPolicy) -> str:
        """The caller's brief built from the database now."""
        ...

    async def prepare_brief(self, customer_id: str, caller_id: str, policy: MemoryPolicy) -> None:
        """Build the caller's next brief now and keep it for their next call."""
        ...

    async def refine_episode(self, episode: Episode, rows: Sequence[MemoryRow]) -> Episode:
        """The episode to keep for a call: ``episode`` as built from its turns, or what the
        configured model extractor makes of it. Never raises."""
        ...

    def call_closed(self, customer_id: str, call_id: str) -> None:
        """The call is closed: rows it could not enrich may be back-filled now. Never raises."""
        ...


class CallEvents:
    """The listeners of one call's events; a listener that raises never stops the call."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[CallEvent], object]] = []

    def add(self, listener: Callable[[CallEvent], object]) -> None:
        self._listeners.append(listener)

    def emit(self, event: CallEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                logger.exception("a memory event listener failed")

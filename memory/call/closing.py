"""Closing one call: drain its writes, finish it in storage, prepare the caller's next brief.

The call's end is stored with its topic, outcome and episode (built from its turns, refined by the
optional model extractor). What the database did not take in time stays in the host's spool, whose
replayer finishes the call later (this process or the next to start); only turns that could be
neither stored nor spooled are handed back, in :class:`~memory.errors.MemoryWriteError`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..deadline import within
from ..errors import MemoryWriteError, describe
from ..telemetry import measured
from .history import CallHistory
from .linking import CallLinker
from .services import CallServices
from .transcript import CallTranscript
from .writer import CallWriter

__all__ = ["EMBED_WAIT_SHARE", "SPOOL_END_TIMEOUT_S", "CallCloser"]

logger = logging.getLogger(__name__)

SPOOL_END_TIMEOUT_S = 2.0
EMBED_WAIT_SHARE = 0.25
"""The share of a close's budget it waits for its turns' vectors. The embedder's lane for turns runs
at a lower CPU priority and starves on a host whose cores are all busy; the turns' text is stored
already, so the close goes on without the vectors not done by then (the back-fill embeds those turns
after the call) rather than spend its whole budget and leave the call to the spool's replayer."""


class CallCloser:
    """Closes one call: the parts it drives are the call's writer, linker, history and transcript."""

    def __init__(
        self,
        services: CallServices,
        writer: CallWriter,
        linker: CallLinker,
        history: CallHistory,
        transcript: CallTranscript,
    ) -> None:
        self._services = services
        self.started_at = linker.started_at
        self.policy = linker.policy
        self._writer = writer
        self._linker = linker
        self._history = history
        self._transcript = transcript

    async def forget(self) -> None:
        """The caller was deleted: every part drops what it held of them, and the writer stops."""
        self._writer.forget()
        self._linker.forget()
        self._history.forget()
        self._transcript.forget()
        await self._writer.stop()

    async def close(self, *, timeout: float, forgotten: Callable[[], bool]) -> None:
        """Store what is left and finish the call within ``timeout``; leave the rest to the spool.

        Raises ``MemoryWriteError`` with the turns that could be neither stored nor spooled.
        """
        with measured("memory.close", tenant=self._linker.customer_id) as measure:
            finished = False
            try:
                finished = await self._close(timeout=timeout, forgotten=forgotten)
            finally:  # even a close cancelled half-way: what is not stored or spooled by now is lost
                lost = self._writer.release()
                measure.set(finished=finished, spooled=self._writer.spooled, lost=lost)
        unsaved = [(r.role, r.text, r.at) for r in self._writer.unsaved()]
        if unsaved:
            raise MemoryWriteError(f"{len(unsaved)} turns of this call could not be stored", unsaved=unsaved)

    async def _close(self, *, timeout: float, forgotten: Callable[[], bool]) -> bool:
        """Close; whether the call was finished in the database."""
        linker = self._linker
        if forgotten():  # the caller was deleted: nothing of the call is stored
            self._services.call_closed(linker.customer_id, linker.call_id)
            return False
        finished = False
        try:
            await within(self._finish(forgotten, embed_within=timeout * EMBED_WAIT_SHARE), timeout)
            finished = True
        except _LeftToTheSpool:
            logger.warning("the database did not take all of this call's turns; they are replayed from the spool")
        except Exception as exc:
            if isinstance(exc, TimeoutError):
                logger.warning(
                    "closing the call's memory took longer than %.1f s; what is left is replayed from the spool",
                    timeout,
                )
            else:
                logger.error("closing the call's memory failed: %s", describe(exc))
            await self._writer.keep_the_rest()
        finally:
            await self._writer.stop()
            self._history.cancel()
            self._services.call_closed(linker.customer_id, linker.call_id)
        if not finished and not forgotten():
            await self._leave_to_the_spool()
        return finished

    async def spool_unsaved(self) -> int:
        """After ``MemoryWriteError``: try once more to put the unsaved turns in the spool, where they
        are replayed into the database later. Returns how many are still neither stored nor spooled."""
        await self._writer.keep_the_rest()
        if not self._writer.unsaved():
            await self._leave_to_the_spool()
        return len(self._writer.unsaved())

    async def _leave_to_the_spool(self) -> None:
        """The call could not be finished in the database: the spool's replayer finishes it (stores
        what is spooled, then the call's end, topic, outcome and episode)."""
        spool = self._services.spool
        if spool is None:
            return
        try:
            await within(spool.keep(self._writer.spooled_call(closed=True), []), SPOOL_END_TIMEOUT_S)
        except Exception as exc:
            logger.error("the call's end could not be spooled: %s", describe(exc))

    async def _finish(self, forgotten: Callable[[], bool], *, embed_within: float) -> None:
        await self._writer.drain(embed_within=embed_within)
        if forgotten():
            return
        if self._writer.unsaved() or self._writer.spooled:
            raise _LeftToTheSpool
        linker = self._linker
        await linker.settle(raise_errors=True)
        if not linker.started:
            return
        ending, built = self._transcript.ending(self.started_at, region=self.policy.default_region)
        episode = await self._services.refine_episode(built, self._transcript.rows)
        await self._services.backend.finish_call(linker.customer_id, linker.call_id, episode=episode, **ending)
        await self._services.invalidate(linker.customer_id, linker.caller_id)
        await self._services.prepare_brief(linker.customer_id, linker.caller_id, self.policy)


class _LeftToTheSpool(Exception):
    """Closing found turns the database did not take: the spool's replayer finishes the call."""

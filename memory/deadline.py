"""Time budgets that hold even when the database hangs.

``asyncio.wait_for`` waits for the cancelled work to finish, and a database driver cleaning up a
connection that no longer answers can take its own command timeout (seconds) to do so. The call
path cannot wait that long: ``within`` returns at the deadline and lets the cancelled work end in
the background.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def within(work: Awaitable[T], seconds: float) -> T:
    """The result of ``work``, or ``TimeoutError`` once ``seconds`` have passed."""
    task = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if task in done:
        return task.result()
    task.cancel()
    task.add_done_callback(retrieve_quietly)
    raise TimeoutError


def retrieve_quietly(task: asyncio.Future) -> None:
    """A done-callback for background work whose error is reported elsewhere (where it is awaited,
    or as the timeout its caller already got): mark the exception retrieved, so asyncio never logs
    it as "never retrieved"."""
    if not task.cancelled():
        task.exception()

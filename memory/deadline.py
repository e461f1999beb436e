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
    task.add_done_callback(_retrieve)
    raise TimeoutError


def _retrieve(task: asyncio.Task) -> None:
    if not task.cancelled():
        task.exception()  # mark it retrieved: the caller has already been told about the timeout

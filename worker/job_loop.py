"""Run work on a job process's event loop as soon as that loop exists, before any job arrives.

LiveKit (1.8.x) starts a job process in two steps (``ipc/proc_client.py``, ``_ProcClient``):
``initialize()`` runs the worker's prewarm (``setup_fnc``) while no event loop exists yet, then
``run()`` creates the process's loop (``asyncio.new_event_loop()`` + ``asyncio.set_event_loop``)
and waits on it for a job. Anything bound to an event loop (an asyncpg pool, a Redis client, the
memory store) cannot be opened in prewarm; opened by the job, it costs the call its open time.

:func:`on_job_loop`, called in prewarm, hooks the event-loop policy's ``set_event_loop`` once:
when ``run()`` sets the process's loop, the callbacks are scheduled on it (``call_soon``), so they
run as soon as the loop starts, while the process is still idle in LiveKit's warm pool. The hook
takes itself out at that first call. Only for job processes (``JobExecutorType.PROCESS``): a
thread executor's jobs each get their own loop in a shared process, where opening on the job's
loop stays the job's business.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["on_job_loop"]

logger = logging.getLogger("worker")

LoopCallback = Callable[[asyncio.AbstractEventLoop], Any]

_pending: list[LoopCallback] = []
_lock = threading.Lock()
_hooked: asyncio.AbstractEventLoopPolicy | None = None


def on_job_loop(callback: LoopCallback) -> None:
    """Call ``callback(loop)`` on this process's event loop as soon as it runs.

    A loop already running in this thread gets it at once (``call_soon``); otherwise the next
    ``asyncio.set_event_loop(loop)`` of this thread schedules it on ``loop``. An exception of the
    callback is logged, never raised into LiveKit's loop."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is not None:
        running.call_soon(_run, callback, running)
        return
    with _lock:
        _pending.append(callback)
        _hook()


def _hook() -> None:
    global _hooked
    policy = asyncio.get_event_loop_policy()
    if _hooked is policy:
        return
    original = policy.set_event_loop
    thread = threading.get_ident()

    def set_event_loop(loop: asyncio.AbstractEventLoop | None) -> None:
        original(loop)
        if loop is None or threading.get_ident() != thread:
            return
        global _hooked
        with _lock:
            callbacks = list(_pending)
            _pending.clear()
            if "set_event_loop" in vars(policy):  # the hook is an attribute of this instance: drop it
                del policy.set_event_loop
            _hooked = None
        for callback in callbacks:
            loop.call_soon(_run, callback, loop)

    policy.set_event_loop = set_event_loop  # type: ignore[method-assign]
    _hooked = policy


def _run(callback: LoopCallback, loop: asyncio.AbstractEventLoop) -> None:
    try:
        callback(loop)
    except Exception:
        logger.exception("a job-loop callback failed")

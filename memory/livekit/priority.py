"""CPU priority for the few moments a caller waits on memory, on a host whose cores the calls share.

A host runs one job process per call and one process with the embedding model for all of them. A
recall is what a caller's answer waits for; everything else a call does (its turns' writes,
compaction, the session's own work) can wait a few milliseconds more. On Linux a thread's niceness is
its own, so these raise only the thread doing that work, only while it does it:

    raised_thread(nice)     the calling thread, from now on (the host embedder's query threads)
    urgent()                the calling thread while the ``with`` block runs (a job's event loop
                            during a recall), then back to what it was; and no pass of the garbage
                            collector meanwhile (the process's; it runs after the block instead)

Raising (a negative niceness) needs ``CAP_SYS_NICE`` or an ``RLIMIT_NICE`` of at least 20 - nice
(``compose.yaml`` gives the worker 30, for -10); with a lower limit the thread goes as far as the
limit allows (25: -5), and without either both do nothing.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
from collections.abc import Iterator

__all__ = ["URGENT_NICE", "raised_thread", "urgent"]

URGENT_NICE = -10  # a recall's thread and the host's query threads, over the calls' other work at 0

_depth: dict[int, tuple[int, int]] = {}  # native thread id -> (urgent blocks open, niceness before)
_gc_held = 0  # urgent blocks open in this process while the collector is held off
_gc_lock = threading.Lock()


def raised_thread(nice: int) -> bool:
    """Set the calling thread's niceness to ``nice``, or as near as the process may (an ``RLIMIT_NICE``
    below 20 - ``nice`` without ``CAP_SYS_NICE``: its limit, if that is still a raise); ``False`` when
    not raised at all (or not Linux)."""
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, nice)
    except (OSError, AttributeError):
        allowed = _lowest_allowed()
        if allowed is None or allowed <= nice:
            return False
        try:
            if allowed >= os.getpriority(os.PRIO_PROCESS, tid):
                return False
            os.setpriority(os.PRIO_PROCESS, tid, allowed)
        except (OSError, AttributeError):
            return False
    return True


def _lowest_allowed() -> int | None:
    """The lowest niceness ``RLIMIT_NICE`` lets an unprivileged thread take (``None``: unknown)."""
    try:
        import resource  # Unix only

        soft, _ = resource.getrlimit(resource.RLIMIT_NICE)
    except (ImportError, AttributeError, ValueError, OSError):
        return None
    if soft == resource.RLIM_INFINITY:
        return -20
    return 20 - min(max(int(soft), 1), 40)


@contextlib.contextmanager
def urgent(nice: int = URGENT_NICE) -> Iterator[None]:
    """The calling thread at ``nice`` (if that is higher than it runs at) for the block; blocks may
    nest or overlap on one thread (an event loop's concurrent recalls): the last one out restores.
    The garbage collector is held off while any block is open (a recall allocates enough to start a
    pass, a few ms on a busy host, in most first recalls), if it was on; the last block out turns it
    back on."""
    with _holding_gc(), _raised(nice):
        yield


@contextlib.contextmanager
def _holding_gc() -> Iterator[None]:
    global _gc_held
    with _gc_lock:
        holding = _gc_held > 0 or gc.isenabled()  # off already (by whoever turned it off): theirs to turn on
        if holding:
            gc.disable()
            _gc_held += 1
    try:
        yield
    finally:
        if holding:
            with _gc_lock:
                _gc_held -= 1
                if _gc_held == 0:
                    gc.enable()


@contextlib.contextmanager
def _raised(nice: int) -> Iterator[None]:
    tid = threading.get_native_id()
    open_, before = _depth.get(tid, (0, 0))
    if open_ == 0:
        try:
            before = os.getpriority(os.PRIO_PROCESS, tid)
        except (OSError, AttributeError):
            yield
            return
        if nice < before:
            raised_thread(nice)
    _depth[tid] = (open_ + 1, before)
    try:
        yield
    finally:
        count, before = _depth.pop(tid)
        if count > 1:
            _depth[tid] = (count - 1, before)
        else:
            with contextlib.suppress(OSError, AttributeError):
                os.setpriority(os.PRIO_PROCESS, tid, before)

"""CPU priority for the few moments a caller waits on memory, on a host whose cores the calls share.

A host runs one job process per call and one process with the embedding model for all of them. A
recall is what a caller's answer waits for; everything else a call does (its turns' writes,
compaction, the session's own work) can wait a few milliseconds more. On Linux a thread's niceness is
its own, so these raise only the thread doing that work, only while it does it:

    raised_thread(nice)     the calling thread, from now on (the host embedder's query threads)
    urgent()                the calling thread while the ``with`` block runs (a job's event loop
                            during a recall), then back to what it was (on an event loop, at its
                            next turn: see ``_restore_soon``); and no pass of the garbage
                            collector meanwhile (the process's; it runs after the block instead)

Raising (a negative niceness) needs ``CAP_SYS_NICE`` or an ``RLIMIT_NICE`` of at least 20 - nice
(``compose.yaml`` gives the worker 30, for -10); with a lower limit the thread goes as far as the
limit allows (25: -5), and without either both do nothing.

A niceness ranks a thread only against the threads of its own scheduling group: where the kernel
groups tasks by session (``/proc/sys/kernel/sched_autogroup_enabled``) or by container (cgroups), the
host's other groups share the cores with the worker's group by the groups' weights, whatever its
threads' niceness, and a recall's thread that wakes while its group has used its share waits for
another group's slice. So where allowed the same threads also run in the real-time class
(``SCHED_RR`` at priority ``REALTIME_PRIORITY``) for the same moments, above every group's normal work
(the kernel keeps 5% of each second for that, ``sched_rt_runtime_us``); it needs ``CAP_SYS_NICE`` or
an ``RLIMIT_RTPRIO`` of at least ``REALTIME_PRIORITY``, and without either the threads take the
niceness alone (``MEMORY_URGENT_REALTIME=0``: the niceness alone in any case).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import threading
from collections.abc import Iterator

__all__ = ["REALTIME_ENV", "REALTIME_PRIORITY", "URGENT_NICE", "raised_thread", "realtime_asked", "urgent"]

URGENT_NICE = -10  # a recall's thread and the host's query threads, over the calls' other work at 0
REALTIME_ENV = "MEMORY_URGENT_REALTIME"  # "0": those threads never in the real-time class (see above)
REALTIME_PRIORITY = 1  # the lowest real-time priority: above all normal work, below any real-time task

_depth: dict[int, _Raised] = {}  # native thread id -> its urgent blocks (see ``_raised``)
_gc_held = 0  # urgent blocks open in this process while the collector is held off
_gc_lock = threading.Lock()


def realtime_asked() -> bool:
    """Whether the real-time class is to be tried: unless ``MEMORY_URGENT_REALTIME`` is ``0`` (read at each use)."""
    return os.environ.get(REALTIME_ENV, "").strip().lower() not in ("0", "false", "no", "off")


def _to_realtime(tid: int) -> bool:
    """The thread ``tid`` into ``SCHED_RR`` at ``REALTIME_PRIORITY``; ``False`` when not allowed (or not Linux)."""
    try:
        os.sched_setscheduler(tid, os.SCHED_RR, os.sched_param(REALTIME_PRIORITY))
    except (OSError, AttributeError):
        return False
    return True


def _in_normal_class(tid: int) -> bool:
    try:
        return os.sched_getscheduler(tid) == os.SCHED_OTHER
    except (OSError, AttributeError):
        return False


def raised_thread(nice: int) -> bool:
    """Set the calling thread's niceness to ``nice``, or as near as the process may (an ``RLIMIT_NICE``
    below 20 - ``nice`` without ``CAP_SYS_NICE``: its limit, if that is still a raise); ``False`` when
    not raised at all (or not Linux). Also the real-time class where allowed, unless
    ``MEMORY_URGENT_REALTIME=0`` (the niceness too, for when it leaves that class)."""
    tid = threading.get_native_id()
    if realtime_asked():
        realtime = _to_realtime(tid)
        return _nice_thread(tid, nice) or realtime
    return _nice_thread(tid, nice)


def _nice_thread(tid: int, nice: int) -> bool:
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
    """The calling thread at ``nice`` (if that is higher than it runs at) for the block, and in the
    real-time class where allowed (unless ``MEMORY_URGENT_REALTIME=0``); blocks may nest or overlap on one
    thread (an event loop's concurrent recalls): the last one out restores.
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


class _Raised:
    """One thread's urgent blocks: how many are open, and what to restore when the last has ended."""

    __slots__ = ("before", "open", "realtime")

    def __init__(self, before: int, realtime: bool) -> None:
        self.open = 0
        self.before = before  # the niceness before the first block
        self.realtime = realtime  # whether the first block put the thread in the real-time class


@contextlib.contextmanager
def _raised(nice: int) -> Iterator[None]:
    tid = threading.get_native_id()
    state = _depth.get(tid)
    if state is None:  # none open, and none ended with its restore still due (then it is kept)
        try:
            before = os.getpriority(os.PRIO_PROCESS, tid)
        except (OSError, AttributeError):
            yield
            return
        realtime = realtime_asked() and _in_normal_class(tid) and _to_realtime(tid)
        if nice < before:
            _nice_thread(tid, nice)
        state = _depth[tid] = _Raised(before, realtime)
    state.open += 1
    try:
        yield
    finally:
        state.open -= 1
        if state.open == 0:
            _restore_soon(tid, state)


def _restore_soon(tid: int, state: _Raised) -> None:
    """Put the thread back as it was before its first urgent block: on an event loop's thread at the
    loop's next turn, so the code that awaited the recall (a tool handing its result on) runs to its
    next wait at the recall's priority. A thread leaving it is preempted there and then by whatever
    waited for the core, for as long as a scheduler slice or more on a busy host; so that wait falls
    where the loop has nothing to do. At once where no loop runs; not at all when another block
    opened meanwhile (that block's end restores)."""

    def restore() -> None:
        if state.open > 0 or _depth.get(tid) is not state:
            return
        del _depth[tid]
        if state.realtime:  # back to the normal class first: the niceness below is what it runs at there
            with contextlib.suppress(OSError, AttributeError):
                os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, tid, state.before)

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        restore()
        return
    loop.call_soon(restore)

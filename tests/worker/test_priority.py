"""A recall's thread runs above the calls' other work while the recall runs, then as before."""

from __future__ import annotations

import asyncio
import os
import resource
import threading

import pytest

from memory.livekit import priority


def _niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def _allowed(nice: int) -> bool:
    return os.geteuid() == 0 or resource.getrlimit(resource.RLIMIT_NICE)[0] >= 20 - nice


def _in_a_thread(fn):  # a thread of its own, so the test process's main thread keeps its niceness
    out: list = []
    thread = threading.Thread(target=lambda: out.append(fn()))
    thread.start()
    thread.join(30)
    return out[0]


def test_urgent_raises_the_thread_for_the_block_and_restores_it_when_the_last_block_ends() -> None:
    if not _allowed(priority.URGENT_NICE):
        pytest.skip("this host allows no thread a negative niceness")

    def run() -> list[int]:
        seen = [_niceness()]
        with priority.urgent():
            seen.append(_niceness())
            with priority.urgent():  # nested (two recalls at once on one loop)
                seen.append(_niceness())
            seen.append(_niceness())  # the outer block still open
        seen.append(_niceness())
        return seen

    base = _in_a_thread(_niceness)
    assert _in_a_thread(run) == [base, priority.URGENT_NICE, priority.URGENT_NICE, priority.URGENT_NICE, base]


def test_overlapping_recalls_on_one_event_loop_keep_it_raised_until_the_last_ends() -> None:
    if not _allowed(priority.URGENT_NICE):
        pytest.skip("this host allows no thread a negative niceness")

    async def recall(wait_s: float, seen: list[int]) -> None:
        with priority.urgent():
            await asyncio.sleep(wait_s)
            seen.append(_niceness())

    async def main() -> list[int]:
        seen: list[int] = []
        await asyncio.gather(recall(0.01, seen), recall(0.05, seen))
        return [*seen, _niceness()]

    base = _in_a_thread(_niceness)
    assert _in_a_thread(lambda: asyncio.run(main())) == [priority.URGENT_NICE, priority.URGENT_NICE, base]


def test_a_thread_already_at_or_above_the_urgent_niceness_is_left_alone() -> None:
    def run() -> tuple[int, int]:
        priority.raised_thread(10)  # lowering a priority is always allowed
        with priority.urgent(nice=15):  # "urgent" below where it runs: nothing to do
            inside = _niceness()
        return inside, _niceness()

    assert _in_a_thread(run) == (10, 10)


def test_no_garbage_collection_while_a_recall_runs_and_it_comes_back_after_the_last() -> None:
    import gc

    assert gc.isenabled()

    async def recall(wait_s: float, seen: list[bool]) -> None:
        with priority.urgent():
            await asyncio.sleep(wait_s)
            seen.append(gc.isenabled())

    async def main() -> list[bool]:
        seen: list[bool] = []
        await asyncio.gather(recall(0.01, seen), recall(0.05, seen))
        return [*seen, gc.isenabled()]

    assert asyncio.run(main()) == [False, False, True]
    gc.disable()  # turned off by someone else: a recall leaves it off
    try:
        with priority.urgent():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_limit_short_of_the_asked_niceness_raises_the_thread_as_far_as_it_allows(monkeypatch) -> None:
    if not _allowed(-5):
        pytest.skip("this host allows no thread a niceness of -5")
    monkeypatch.setenv(priority.REALTIME_ENV, "0")  # the niceness alone
    real = os.setpriority

    def limited(which: int, who: int, nice: int) -> None:  # what an RLIMIT_NICE of 25 allows without CAP_SYS_NICE
        if nice < -5:
            raise PermissionError("not permitted")
        real(which, who, nice)

    monkeypatch.setattr(priority.os, "setpriority", limited)
    monkeypatch.setattr(resource, "getrlimit", lambda which: (25, 25) if which == resource.RLIMIT_NICE else (0, 0))
    assert _in_a_thread(lambda: (priority.raised_thread(-10), _niceness())) == (True, -5)  # not left at 0
    monkeypatch.setattr(resource, "getrlimit", lambda which: (0, 0))  # no limit to use: not raised at all
    base = _in_a_thread(_niceness)
    assert _in_a_thread(lambda: (priority.raised_thread(-10), _niceness())) == (False, base)


def _realtime_allowed() -> bool:
    try:
        return os.geteuid() == 0 or resource.getrlimit(resource.RLIMIT_RTPRIO)[0] >= priority.REALTIME_PRIORITY
    except (AttributeError, ValueError, OSError):
        return False


def test_where_allowed_a_recalls_thread_takes_the_real_time_class_for_the_block_only(monkeypatch) -> None:
    """A niceness ranks a thread within its scheduling group only; where the host allows it the thread
    is in ``SCHED_RR`` for the block (above every group's normal work), then back as it was."""
    if not _realtime_allowed() or not hasattr(os, "sched_setscheduler"):
        pytest.skip("this host allows no thread the real-time class")
    monkeypatch.delenv(priority.REALTIME_ENV, raising=False)  # the default

    def policy() -> tuple[int, int]:
        tid = threading.get_native_id()
        return os.sched_getscheduler(tid), _niceness()

    def run() -> list[tuple[int, int]]:
        seen = [policy()]
        with priority.urgent():
            seen.append(policy())
            with priority.urgent():
                seen.append(policy())
            seen.append(policy())
        seen.append(policy())
        return seen

    seen = _in_a_thread(run)
    base = seen[0]
    if seen[1][0] != os.SCHED_RR:
        pytest.skip("the real-time class is refused here (a cgroup without real-time time)")
    assert seen[1:4] == [(os.SCHED_RR, priority.URGENT_NICE)] * 3
    assert seen[4] == base == (os.SCHED_OTHER, base[1])


def test_with_the_real_time_class_turned_off_the_threads_stay_in_the_normal_class(monkeypatch) -> None:
    monkeypatch.setenv(priority.REALTIME_ENV, "0")

    def run() -> int:
        with priority.urgent():
            return os.sched_getscheduler(threading.get_native_id())

    assert _in_a_thread(run) == os.SCHED_OTHER


def test_on_an_event_loop_the_thread_stays_raised_until_the_loops_next_turn() -> None:
    """The code that awaited the recall (a tool handing its result on) runs to its next wait at the
    recall's priority: a thread put back is preempted at once by what waited for the core."""
    if not _allowed(priority.URGENT_NICE):
        pytest.skip("this host allows no thread a negative niceness")

    async def recall() -> str:
        with priority.urgent():
            await asyncio.sleep(0)
        return "hits"

    async def tool() -> list[int]:
        await recall()
        right_after = _niceness()  # the awaiting code, before its next wait
        await asyncio.sleep(0)
        return [right_after, _niceness()]

    base = _in_a_thread(_niceness)
    assert _in_a_thread(lambda: asyncio.run(tool())) == [priority.URGENT_NICE, base]

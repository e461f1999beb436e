"""The host's spool file opened by many job processes at once (LiveKit's warm pool starts them
together): every one of them gets the spool, none starts its calls without it."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from pathlib import Path

import pytest

from memory.store.spool import Spool

PROCESSES = 40


def _open_at(path: str, start_at: float, results) -> None:  # in a child process
    async def main() -> str:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        spool = Spool(path, database="postgresql:db:5432/x")
        try:
            await spool.open()
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
        await spool.aclose()
        return "ok"

    results.put(asyncio.run(main()))


@pytest.mark.parametrize("fresh", [True, False], ids=["new-file", "existing-file"])
def test_many_processes_opening_the_spool_at_once_all_get_it(tmp_path: Path, fresh: bool) -> None:
    path = tmp_path / "spool.db"
    if not fresh:
        asyncio.run(_open_and_close(path))
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    start_at = time.time() + 1.5  # every process is forked and waiting by then
    procs = [ctx.Process(target=_open_at, args=(str(path), start_at, results)) for _ in range(PROCESSES)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(10)
    assert outcomes == ["ok"] * PROCESSES, [o for o in outcomes if o != "ok"][:3]


async def _open_and_close(path: Path) -> None:
    spool = await Spool(path, database="postgresql:db:5432/x").open()
    await spool.aclose()


async def test_asking_for_calls_to_replay_takes_no_write_lock_when_there_are_none(tmp_path: Path) -> None:
    """Every store of a host asks about once a second; with nothing to replay the answer is a read,
    so it neither waits for nor takes the file's write lock (fifty job processes queued on it)."""
    import sqlite3

    path = tmp_path / "spool.db"
    spool = await Spool(path, database="postgresql:db:5432/x").open()
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        t0 = time.perf_counter()
        assert await spool.claim() == []
        assert time.perf_counter() - t0 < 1.0  # a write would wait for the lock (busy_timeout 5 s)
        other.execute("ROLLBACK")
    finally:
        other.close()
        await spool.aclose()


async def test_one_process_of_the_host_holds_a_lease_until_it_gives_it_up_or_it_runs_out(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    first = await Spool(path, database="postgresql:db:5432/x").open()
    second = await Spool(path, database="postgresql:db:5432/x").open()
    elsewhere = await Spool(path, database="postgresql:other:5432/y").open()  # another deployment's database
    try:
        assert await first.lease("backfill:acme", 60.0)
        assert not await second.lease("backfill:acme", 60.0)
        assert await first.lease("backfill:acme", 60.0)  # renewed by its holder
        assert await second.lease("backfill:other-tenant", 60.0)
        assert await elsewhere.lease("backfill:acme", 60.0)
        await first.release("backfill:acme")
        assert await second.lease("backfill:acme", 0.05)
        await asyncio.sleep(0.1)  # run out
        assert await first.lease("backfill:acme", 60.0)
    finally:
        for spool in (first, second, elsewhere):
            await spool.aclose()


async def test_a_spool_transaction_never_holds_the_files_write_lock_while_its_event_loop_is_busy(
    tmp_path: Path,
) -> None:
    """Every job process of a host writes through the one spool file. A process whose event loop is
    held up (a turn's work on a host whose cores are all busy) between a transaction's BEGIN and its
    COMMIT would hold every other process's heartbeat and keep behind it: a transaction runs whole
    on the connection's thread, so another process can write whenever this one's loop is busy."""
    import sqlite3
    from datetime import UTC, datetime

    from memory.store.spool import SpooledCall
    from memory.values import MemoryRow

    path = tmp_path / "spool.db"
    spool = await Spool(path, database="postgresql:db:5432/x").open()
    other = sqlite3.connect(path, isolation_level=None, timeout=0.2)  # another process of the host
    loop = asyncio.get_running_loop()
    refused: list[str] = []
    writes = 0
    done = False

    def busy_loop() -> None:  # runs on the loop between the spool's steps, the loop blocked meanwhile
        nonlocal writes
        try:
            other.execute("INSERT INTO owners (owner, pid, seen_at) VALUES ('other', 1, 0) ON CONFLICT DO NOTHING")
            writes += 1
        except sqlite3.OperationalError as exc:
            refused.append(str(exc))
        if not done:
            loop.call_soon(busy_loop)

    now = datetime.now(UTC)
    try:
        loop.call_soon(busy_loop)
        for i in range(20):
            call = SpooledCall("acme", f"call-{i}", [], now)
            rows = [
                MemoryRow("acme", "", call.call_id, seq, "turn", "user", f"turn {seq}", now, "") for seq in range(3)
            ]
            await spool.keep(call, rows)
            await spool.stored("acme", call.call_id, [0, 1])
            await spool.beat()
        claimed = await spool.claim()
        for call in claimed:
            await spool.replayed(call.customer_id, call.call_id, [r.seq for r in call.rows])
        assert await spool.forget("acme", caller_ids=[], call_ids=["call-0"]) == 1
        assert await spool.pending() == 19  # a row left of each other call: kept, not claimed (open)
    finally:
        done = True
        await asyncio.sleep(0)
        other.close()
        await spool.aclose()
    assert writes > 20 and refused == [], refused[:3]


async def test_a_store_beats_on_its_own_and_looks_in_the_spool_when_a_call_closed_not_every_second(
    tmp_path: Path, embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every warm job process of a host runs a store's background loop: it beats every ``BEAT_S``
    even while a replay is slow, asks the spool for calls to replay at start, at once when one of its
    calls closed and otherwise every half ``LEASE_S`` (a dead process's calls), and sleeps between."""
    import memory
    import memory.caller_store as caller_store
    import memory.store.spool as spool_module

    monkeypatch.setattr(caller_store, "BEAT_S", 0.1)
    monkeypatch.setattr(caller_store, "TICK_S", 0.1)
    monkeypatch.setattr(spool_module, "LEASE_S", 10.0)  # looks for a dead process's calls every 5 s
    beats: list[float] = []
    claims: list[float] = []
    slow = asyncio.Event()
    beat, claim = Spool.beat, Spool.claim

    async def counted_beat(self: Spool) -> None:
        beats.append(time.monotonic())
        await beat(self)

    async def counted_claim(self: Spool, **kwargs: object) -> list:
        claims.append(time.monotonic())
        if slow.is_set():
            await asyncio.sleep(0.6)  # a replay that takes a while (a busy host)
        return await claim(self, **kwargs)

    monkeypatch.setattr(Spool, "beat", counted_beat)
    monkeypatch.setattr(Spool, "claim", counted_claim)
    store = await memory.open_store(f"sqlite:///{tmp_path / 'm.db'}", embedder=embedder, spool_path=tmp_path / "s.db")
    try:
        await asyncio.sleep(1.5)
        assert len(claims) == 1  # at start, then not before half the lease: not every tick
        assert len(beats) >= 10
        slow.set()
        before = len(claims)
        store.call_closed("acme", "call-1")  # a call closed: what it may have left in the spool is looked at now
        await asyncio.sleep(0.05)
        assert len(claims) == before + 1
        beats_then = len(beats)
        await asyncio.sleep(0.5)  # the claim is still under way
        assert len(beats) >= beats_then + 3  # the heartbeat went on beside it
    finally:
        await store.aclose()


async def test_turns_kept_for_a_call_after_its_replay_was_claimed_stay_for_the_next_replay(tmp_path: Path) -> None:
    """The replayer claims a closed call's turns, stores them, then clears them from the spool. A turn
    kept for that call in between (handed back at close and put in the spool then) is not cleared
    with them: the next claim gets it."""
    from datetime import UTC, datetime

    from memory.store.spool import SpooledCall
    from memory.values import MemoryRow

    at = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)

    def row(seq: int) -> MemoryRow:
        return MemoryRow("acme", "", "call-1", seq, "turn", "user", f"turn {seq}", at, "")

    call = SpooledCall("acme", "call-1", [], at, caller_id="caller-1", closed=True)
    spool = await Spool(tmp_path / "spool.db", database="postgresql:db:5432/x").open()
    try:
        await spool.keep(call, [row(1), row(2)])
        [claimed] = await spool.claim()
        assert [r.seq for r in claimed.rows] == [1, 2]
        await spool.keep(call, [row(3)])  # kept while the claimed turns are being stored
        await spool.replayed("acme", "call-1", [r.seq for r in claimed.rows])
        assert await spool.pending() == 1
        [again] = await spool.claim()
        assert [r.seq for r in again.rows] == [3]
        await spool.replayed("acme", "call-1", [3])
        assert await spool.pending() == 0
        assert await spool.claim() == []
    finally:
        await spool.aclose()


async def test_a_call_no_longer_open_in_its_store_is_claimed_though_its_close_never_reached_the_spool(
    tmp_path: Path,
) -> None:
    """A call's close marks it closed in the spool; on a busy host that write can time out. The store
    knows which of its calls are still open: the others are its to replay, marked or not."""
    from datetime import UTC, datetime

    from memory.store.spool import SpooledCall
    from memory.values import MemoryRow

    at = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    spool = await Spool(tmp_path / "spool.db", database="postgresql:db:5432/x").open()
    try:
        for call_id in ("open-call", "closed-call"):
            row = MemoryRow("acme", "", call_id, 1, "turn", "user", "hello", at, "")
            await spool.keep(SpooledCall("acme", call_id, [], at, caller_id="caller-1"), [row])
        assert await spool.claim(live=["open-call", "closed-call"]) == []
        [claimed] = await spool.claim(live=["open-call"])
        assert claimed.call_id == "closed-call" and [r.text for r in claimed.rows] == ["hello"]
    finally:
        await spool.aclose()

"""Faults in front of the real Postgres and Redis (refused, hung, cut), through the public memory API.

Every case checks the same promise: the turns a caller said are all in the database once it is
back (stored once, in order), or in the spool, or handed back; none is lost silently. A direct
store (no proxy) reads what was stored.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

import memory

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

FAST = memory.MemoryPolicy(preload_timeout_s=0.5, recall_timeout_s=0.5)
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
async def direct(postgres_database, embedder):
    """The same database without the proxy, to see what was stored."""
    store = await memory.open_store(postgres_database, embedder=embedder, spool_path=None)
    yield store
    await store.aclose()


async def faulty_store(pg_proxy, postgres_database, embedder, tmp_path, **kwargs) -> memory.CallerStore:
    url = pg_proxy.url(postgres_database, connect_timeout="1")
    kwargs.setdefault("default_policy", FAST)
    return await memory.open_store(url, embedder=embedder, spool_path=tmp_path / "spool.db", **kwargs)


@pytest.fixture
async def faulty(pg_proxy, postgres_database, embedder, tmp_path):
    """A store that reaches the database through the fault proxy (the spool in ``tmp_path``), closed after the test."""
    store = await faulty_store(pg_proxy, postgres_database, embedder, tmp_path)
    yield store
    await store.aclose()


def tenant_id() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


def phone() -> str:
    return f"+1415{uuid.uuid4().int % 10_000_000:07d}"


def say(hooks: memory.CallHooks, first: int, last: int, *, at: datetime = T0) -> None:
    for i in range(first, last):
        hooks.record_turn("user" if i % 2 else "assistant", f"turn {i} of the call", at=at + timedelta(seconds=i))


async def stored_seqs(direct: memory.CallerStore, tenant: str, call_id: str, *, expect: int, wait_s: float = 15.0):
    """The stored rows of a call once there are ``expect`` of them (or what there is after ``wait_s``)."""
    deadline = time.monotonic() + wait_s
    while True:
        rows = await direct.backend.load_call_rows(tenant, call_id)
        if len(rows) >= expect or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.2)


async def spool_drained(spool, wait_s: float = 10.0) -> bool:
    """Whether the spool empties within ``wait_s`` (its clean-up runs after the database took the rows)."""
    deadline = time.monotonic() + wait_s
    while await spool.pending() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return await spool.pending() == 0


def assert_all_once_in_order(rows, n: int) -> None:
    assert [r.seq for r in rows] == list(range(1, n + 1))
    assert [r.text for r in rows] == [f"turn {i} of the call" for i in range(n)]


async def assert_stored_once_in_order(direct: memory.CallerStore, tenant: str, call_id: str, n: int) -> list:
    """The ``n`` turns of the call are stored, once each and in order (waiting for them as ``stored_seqs``)."""
    rows = await stored_seqs(direct, tenant, call_id, expect=n)
    assert_all_once_in_order(rows, n)
    return rows


@pytest.mark.parametrize("fault", ["refuse", "hang"])
async def test_postgres_failing_mid_call_and_back_before_close_loses_nothing(fault, pg_proxy, direct, faulty):
    tenant = tenant_id()
    hooks = await faulty.open_call(tenant, {"phone": phone()}, started_at=T0)
    say(hooks, 0, 20)
    await hooks.flushed()
    await pg_proxy.set(fault)
    for i in range(20, 120):  # the caller goes on talking through the outage
        say(hooks, i, i + 1)
        await asyncio.sleep(0.01)
    deadline = time.monotonic() + 10  # the writer gives up on the database after its write timeout, then spools
    while not hooks.spooled and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert hooks.spooled > 0  # waiting in the spool, not in memory only
    await pg_proxy.set("pass")
    say(hooks, 120, 150)
    await hooks.aclose()  # nothing handed back: MemoryWriteError would fail the test
    await assert_stored_once_in_order(direct, tenant, hooks.call_id, 150)
    assert await spool_drained(faulty.spool)


async def test_postgres_cut_again_and_again_loses_nothing(pg_proxy, direct, faulty):
    tenant = tenant_id()
    hooks = await faulty.open_call(tenant, {"phone": phone()}, started_at=T0)
    for i in range(60):
        say(hooks, i, i + 1)
        if i % 15 == 7:
            pg_proxy.cut()
        await asyncio.sleep(0.01)
    await hooks.aclose()
    await assert_stored_once_in_order(direct, tenant, hooks.call_id, 60)


async def test_postgres_down_to_the_end_of_the_call_is_replayed_when_back(pg_proxy, direct, faulty):
    tenant = tenant_id()
    hooks = await faulty.open_call(tenant, {"phone": phone()}, started_at=T0)
    say(hooks, 0, 6)
    await hooks.flushed()
    await pg_proxy.set("refuse")
    say(hooks, 6, 13)
    await hooks.aclose(timeout=2.0)  # the database is still down: the rest waits in the spool
    assert await faulty.spool.pending() == 7
    await pg_proxy.set("pass")
    await assert_stored_once_in_order(direct, tenant, hooks.call_id, 13)
    profile = await direct.profile(tenant, hooks.caller_id)
    assert profile.call_count == 1 and profile.calls[0].ended_at is not None  # the call's end replayed too
    assert await spool_drained(faulty.spool)


async def test_a_close_that_outlasts_its_timeout_says_so_and_the_spool_finishes_the_call(
    pg_proxy, direct, caplog, faulty
):
    tenant = tenant_id()
    hooks = await faulty.open_call(tenant, {"phone": phone()}, started_at=T0)
    say(hooks, 0, 6)
    await hooks.flushed()
    await pg_proxy.set("hang")  # every turn is stored; the call's end is not
    with caplog.at_level(logging.WARNING, logger="memory"):
        await hooks.aclose(timeout=1.0)
    assert any("took longer than 1.0 s" in r.getMessage() for r in caplog.records)
    await pg_proxy.set("pass")
    for _ in range(150):
        profile = await direct.profile(tenant, hooks.caller_id)
        if profile.call_count == 1 and profile.calls[0].ended_at is not None:
            break
        await asyncio.sleep(0.1)
    assert profile.calls[0].ended_at is not None  # the call's end replayed from the spool
    await assert_stored_once_in_order(direct, tenant, hooks.call_id, 6)


async def test_postgres_hung_at_call_start_costs_the_budget_and_the_call_attaches_later(
    pg_proxy, postgres_database, direct, embedder, tmp_path
):
    tenant, number = tenant_id(), phone()
    seed = await direct.open_call(tenant, {"phone": number}, started_at=T0 - timedelta(days=2))
    seed.record_turn("user", "my modem serial is ZX-4410 and it keeps dropping")
    await seed.aclose()
    store = await faulty_store(pg_proxy, postgres_database, embedder, tmp_path)
    try:
        await pg_proxy.set("hang")
        t0 = time.perf_counter()
        hooks = await store.open_call(tenant, {"phone": number}, started_at=T0)
        pre = await hooks.preload(budget_s=max(0.01, FAST.preload_timeout_s - (time.perf_counter() - t0)))
        assert (
            time.perf_counter() - t0 < FAST.preload_timeout_s + 1.0
        )  # the budget, not a driver timeout (exact numbers: bench call_path)
        assert not hooks.started and pre.text == ""
        events: list[memory.CallEvent] = []
        hooks.add_listener(events.append)
        say(hooks, 0, 8)
        for _ in range(100):  # the writer gives up on the hung database after its write timeout, then spools
            if hooks.spooled == 8:
                break
            await asyncio.sleep(0.1)
        assert hooks.spooled == 8
        await pg_proxy.set("pass")
        for _ in range(100):
            if any(e.kind == "attached" for e in events):
                break
            await asyncio.sleep(0.1)
        assert "attached" in [e.kind for e in events]
        assert hooks.caller_id == seed.caller_id
        assert "ZX-4410" in (await hooks.preload()).text  # memory is there once attached
        await hooks.aclose()
        await assert_stored_once_in_order(direct, tenant, hooks.call_id, 8)
    finally:
        await store.aclose()


async def test_the_next_process_replays_what_a_closed_one_left_in_the_spool(
    pg_proxy, postgres_database, direct, embedder, tmp_path
):
    tenant = tenant_id()
    first = await faulty_store(pg_proxy, postgres_database, embedder, tmp_path)
    await pg_proxy.set("refuse")
    hooks = await first.open_call(tenant, {"phone": phone()}, started_at=T0)
    say(hooks, 0, 10)
    await hooks.aclose(timeout=1.0)
    await first.aclose()  # the process ends with the database still down
    await pg_proxy.set("pass")
    second = await faulty_store(pg_proxy, postgres_database, embedder, tmp_path)  # the next process, same settings
    try:
        rows = await assert_stored_once_in_order(direct, tenant, hooks.call_id, 10)
        assert await spool_drained(second.spool)
        # a call that never reached the database gets its caller from what the line presented
        assert (await direct.find_caller(tenant, "phone", hooks._linker.presented[0].value)) == rows[0].caller_id
    finally:
        await second.aclose()


async def test_a_store_opened_while_postgres_is_down_attaches_when_it_is_back(
    pg_proxy, postgres_database, direct, embedder, tmp_path
):
    await pg_proxy.set("refuse")
    t0 = time.perf_counter()
    store = await faulty_store(pg_proxy, postgres_database, embedder, tmp_path, wait_for_database=False)
    tenant = tenant_id()
    try:
        hooks = await store.open_call(tenant, {"phone": phone()}, started_at=T0)
        assert time.perf_counter() - t0 < FAST.preload_timeout_s + 1.0 and not store.connected
        say(hooks, 0, 5)
        await pg_proxy.set("pass")
        say(hooks, 5, 9)
        await hooks.aclose(timeout=10.0)
        await assert_stored_once_in_order(direct, tenant, hooks.call_id, 9)
    finally:
        await store.aclose()


# ------------------------------------------------------------------------------------------- Redis


@pytest.mark.redis
@pytest.mark.parametrize("fault", ["refuse", "hang"])
async def test_redis_failing_at_call_start_leaves_memory_on(fault, redis_proxy, redis_url, postgres_database, embedder):
    await redis_proxy.set(fault)
    t0 = time.perf_counter()
    store = await memory.open_store(
        postgres_database, redis_url=redis_proxy.url(redis_url), embedder=embedder, default_policy=FAST, spool_path=None
    )
    tenant, number = tenant_id(), phone()
    try:
        first = await store.open_call(tenant, {"phone": number}, started_at=T0)
        first.record_turn("user", "the router in the hallway blinks red")
        await first.aclose()
        again = await store.open_call(tenant, {"phone": number}, started_at=T0 + timedelta(days=1))
        pre = await again.preload()
        assert pre.source == "database" and "blinks red" in pre.text  # memory, without the prepared brief
        await again.aclose()
        assert time.perf_counter() - t0 < FAST.preload_timeout_s * 4  # the cache was skipped, not waited for
    finally:
        await store.aclose()


@pytest.mark.redis
async def test_no_stale_brief_after_a_redis_outage_during_writes(redis_proxy, redis_url, postgres_database, embedder):
    via_proxy = redis_proxy.url(redis_url)
    store = await memory.open_store(postgres_database, redis_url=via_proxy, embedder=embedder, spool_path=None)
    tenant, number = tenant_id(), phone()
    try:
        first = await store.open_call(tenant, {"phone": number}, started_at=T0)
        first.record_turn("user", "my service address is five elm road")
        await first.aclose()  # the next call's brief is prepared in Redis
        await redis_proxy.set("refuse")
        second = await store.open_call(tenant, {"phone": number}, started_at=T0 + timedelta(days=1))
        second.record_turn("user", "I moved, my new address is twenty two oak street")
        await second.aclose()  # Redis is down: the prepared brief there is the old one
        await redis_proxy.set("pass")
    finally:
        await store.aclose()
    # another worker, with Redis back and still holding the brief prepared before the move
    other = await memory.open_store(postgres_database, redis_url=via_proxy, embedder=embedder, spool_path=None)
    try:
        hooks = await other.open_call(tenant, {"phone": number}, started_at=T0 + timedelta(days=2))
        pre = await hooks.preload()
        assert pre.source == "database"  # the old brief's version is not the database's any more
        assert 'address: "22 oak street"' in pre.text.lower()  # the fact written while Redis was down
        await hooks.aclose()
    finally:
        await other.aclose()


# ------------------------------------------------------------------------------------------- load


async def test_a_burst_of_100_calls_of_20_turns_stores_every_turn(postgres_database, direct, embedder, tmp_path):
    """Writes faster than the one embedding thread: the text is stored at once, the rest follows."""
    store = await memory.open_store(postgres_database, embedder=embedder, spool_path=tmp_path / "spool.db")
    tenant = tenant_id()

    async def one_call(n: int) -> memory.CallHooks:
        hooks = await store.open_call(tenant, {"phone": f"+1415556{n:04d}"}, call_id=f"burst-{n}", started_at=T0)
        for i in range(20):
            say(hooks, i, i + 1)
            await asyncio.sleep(0.005)
        return hooks

    try:
        calls = await asyncio.gather(*(one_call(n) for n in range(100)))
        await asyncio.gather(*(hooks.aclose() for hooks in calls))  # nothing handed back
        deadline = time.monotonic() + 30
        while await store.spool.pending() and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        stored = 0
        for n in range(100):
            rows = await direct.backend.load_call_rows(tenant, f"burst-{n}")
            assert_all_once_in_order(rows, 20)
            stored += len(rows)
        assert stored == 2000
    finally:
        await store.aclose()


async def test_turns_the_database_takes_late_are_not_spooled_when_the_spool_is_busy(
    pg_proxy, direct, tmp_path, caplog, faulty
):
    """A slow database (not down) while the host's spool file is locked by another process: the
    turns go to the spool after 100 ms, and the database taking them first ends that attempt. They
    are stored once, none is left in the spool, and no error says they could not be kept."""
    import sqlite3

    tenant = tenant_id()
    other = sqlite3.connect(tmp_path / "spool.db", isolation_level=None)  # another job process of the host
    try:
        hooks = await faulty.open_call(tenant, {"phone": phone()}, started_at=T0)
        await hooks.flushed()
        other.execute("BEGIN IMMEDIATE")  # it holds the spool's write lock for a while
        pg_proxy.freeze()  # the database stops answering for 0.5 s
        say(hooks, 0, 4)
        await asyncio.sleep(0.5)
        await pg_proxy.set("pass")
        await assert_stored_once_in_order(direct, tenant, hooks.call_id, 4)
        await asyncio.sleep(2.5)  # the lock held past the spool's 2 s for a write
        other.execute("ROLLBACK")
        await hooks.aclose()
        assert hooks.spooled == 0
        assert not [r for r in caplog.records if "could not be spooled" in r.getMessage()]
        await assert_stored_once_in_order(direct, tenant, hooks.call_id, 4)
    finally:
        other.close()


async def test_turns_the_spool_kept_just_as_the_database_took_them_leave_the_spool(
    pg_proxy, direct, monkeypatch, faulty
):
    """A slow database: the turns go to the spool after 100 ms, and the database takes them after the
    spool's write committed but before it returned (the process descheduled in between). The writer
    calls the spool write off, too late to roll it back: the turns leave the spool all the same."""
    tenant = tenant_id()
    assert faulty.spool is not None
    kept = faulty.spool.keep

    async def keep_then_stall(call, rows):
        await kept(call, rows)
        await asyncio.sleep(1.0)  # committed; not yet returned

    monkeypatch.setattr(faulty.spool, "keep", keep_then_stall)
    hooks = await faulty.open_call(tenant, {"phone": phone()}, started_at=T0)
    await hooks.flushed()
    pg_proxy.freeze()  # the database stops answering
    say(hooks, 0, 4)
    deadline = time.monotonic() + 10  # spooled after 100 ms, committed, not returned (for 1 s)
    while not await faulty.spool.pending() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert await faulty.spool.pending() == 4
    await pg_proxy.set("pass")  # the database takes them now
    await assert_stored_once_in_order(direct, tenant, hooks.call_id, 4)
    await hooks.aclose()
    assert await spool_drained(faulty.spool)  # the spool's clean-up runs in its own task


async def test_a_call_whose_close_could_not_be_marked_in_the_spool_is_still_replayed(
    pg_proxy, direct, monkeypatch, faulty
):
    """The database is down to the end of the call, and on a busy host the spool's write that marks the
    call closed times out (its turns are in the spool already). The store replays the call all the
    same once the database is back: it is no longer open in this process."""
    tenant = tenant_id()
    assert faulty.spool is not None
    kept = faulty.spool.keep

    async def keep_but_not_the_end(call, rows):
        if call.closed:
            raise TimeoutError  # the file's lock held by the host's other processes past the close's 2 s
        await kept(call, rows)

    monkeypatch.setattr(faulty.spool, "keep", keep_but_not_the_end)
    hooks = await faulty.open_call(tenant, {"phone": phone()}, started_at=T0)
    say(hooks, 0, 6)
    await hooks.flushed()
    await pg_proxy.set("refuse")
    say(hooks, 6, 13)
    await hooks.aclose(timeout=2.0)
    assert await faulty.spool.pending() == 7
    await pg_proxy.set("pass")
    await assert_stored_once_in_order(direct, tenant, hooks.call_id, 13)
    assert await spool_drained(faulty.spool)

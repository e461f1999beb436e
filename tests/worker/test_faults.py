"""The worker's entrypoint with Postgres or Redis behind the fault proxy: the greeting never waits for
memory beyond the tenant's preload budget, memory attaches when the database answers, a refresh that
fails keeps the last good brief, and every turn said reaches the database once it is back."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import time
import uuid
from pathlib import Path
from types import MappingProxyType

import pytest

import memory
from worker.runtime import StoreHolder, WorkerDeps, WorkerSettings
from worker.tenants import Tenants

from .conftest import REPO, placed_call
from .fakes import ScriptedProviders, sip_caller
from .test_call_text import ACME_LINE, support_llm

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

BUDGET_S = 0.5
LINES = [f"this is what I say in turn {i}" for i in range(13)]


@pytest.fixture
async def direct(postgres_database, embedder):
    store = await memory.open_store(postgres_database, embedder=embedder, spool_path=None)
    yield store
    await store.aclose()


def quick(tenants: Tenants, **budgets: float) -> Tenants:
    """The repository's tenants with a short preload budget (or the memory ``budgets`` given)."""
    budgets = budgets or {"preload_timeout_s": BUDGET_S}
    changed = {
        tid: dataclasses.replace(t, memory=dataclasses.replace(t.memory, **budgets))
        for tid, t in tenants.tenants.items()
    }
    return dataclasses.replace(tenants, tenants=MappingProxyType(changed))


@pytest.fixture
async def worker(tenants, embedder, tmp_path: Path):
    """``worker(url, redis_url)``: the per-process dependencies of a worker whose store is behind the proxies."""
    made: list[WorkerDeps] = []

    def make(url: str, redis_url: str | None = None, **budgets: float) -> WorkerDeps:
        quick_tenants = quick(tenants, **budgets)
        holder = StoreHolder(
            url=url,
            redis_url=redis_url,
            policies={t.id: t.memory for t in quick_tenants.tenants.values()},
            opener=functools.partial(memory.open_store, embedder=embedder),
            spool_path=tmp_path / "spool.db",
        )
        deps = WorkerDeps(
            settings=WorkerSettings(tenants_file=REPO / "tenants.yaml", database_url=url, redis_url=redis_url),
            tenants=quick_tenants,
            providers=ScriptedProviders(support_llm),
            store=holder,
        )
        made.append(deps)
        return deps

    yield make
    for deps in made:
        assert deps.store is not None
        await deps.store.aclose()


async def seed(direct: memory.CallerStore, phone: str) -> str:
    hooks = await direct.open_call("acme-telecom", {"phone": phone})
    hooks.record_turn("user", "my name is Dana Reyes, the router in the hallway blinks red")
    hooks.record_turn("assistant", "I've booked a technician visit for Friday, booking 3390.")
    await hooks.aclose()
    return hooks.caller_id


async def rows_of(direct: memory.CallerStore, call_id: str, expect: int, wait_s: float = 15.0):
    deadline = time.monotonic() + wait_s
    while True:
        rows = await direct.backend.load_call_rows("acme-telecom", call_id)
        if len(rows) >= expect or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.2)


def number() -> str:
    return f"+1415{uuid.uuid4().int % 10_000_000:07d}"


async def test_postgres_down_when_the_call_starts_greets_at_once_and_attaches_later(
    worker, pg_proxy, postgres_database, direct
):
    phone = number()
    await seed(direct, phone)
    deps = worker(pg_proxy.url(postgres_database, connect_timeout="1"))
    await pg_proxy.set("refuse")  # the process's first call: its store has never reached the database
    call_id = f"SCL_{uuid.uuid4().hex[:8]}"
    async with placed_call(deps, sip_caller(phone, ACME_LINE, call_id=call_id)) as call:
        assert (
            call.timings_ms["memory_setup"] < (BUDGET_S + 1.0) * 1000
        )  # not a driver timeout; the numbers: bench call_path
        assert call.memory is not None and call.memory.brief == ""
        for line in LINES[:4]:
            await call.session.run(user_input=line)
        await pg_proxy.set("pass")
        for _ in range(100):  # memory attaches when the database answers; the brief is put in then
            if "booking 3390" in call.memory.brief:
                break
            await asyncio.sleep(0.1)
        assert "booking 3390" in call.memory.brief
        assert "booking 3390" in (call.memory.instructions.dynamic or "")  # what the next reply is told
        for line in LINES[4:]:
            await call.session.run(user_input=line)
    said = [r.text for r in await rows_of(direct, call_id, 26) if r.role == "user"]
    assert said == LINES


async def test_postgres_down_from_mid_call_to_the_end_loses_no_turn(worker, pg_proxy, postgres_database, direct):
    deps = worker(pg_proxy.url(postgres_database, connect_timeout="1"))
    call_id = f"SCL_{uuid.uuid4().hex[:8]}"
    async with placed_call(deps, sip_caller(number(), ACME_LINE, call_id=call_id)) as call:
        for line in LINES[:6]:
            await call.session.run(user_input=line)
        await pg_proxy.set("refuse")
        for line in LINES[6:]:
            await call.session.run(user_input=line)
    await pg_proxy.set("pass")  # back after the call: its spooled turns are replayed
    said = [r.text for r in await rows_of(direct, call_id, 27) if r.role == "user"]
    assert said == LINES


async def test_a_refresh_that_fails_keeps_the_last_good_brief(worker, pg_proxy, postgres_database, direct):
    phone = number()
    await seed(direct, phone)
    deps = worker(pg_proxy.url(postgres_database, connect_timeout="1"))
    async with placed_call(deps, sip_caller(phone, ACME_LINE, call_id=f"SCL_{uuid.uuid4().hex[:8]}")) as call:
        assert call.memory is not None and "booking 3390" in call.memory.brief
        await pg_proxy.set("refuse")
        await call.session.run(user_input="This is Dana Reyes, my account number is 4471 2290.")  # a refresh
        await asyncio.sleep(BUDGET_S + 0.5)
        assert "booking 3390" in call.memory.brief  # not replaced by an empty one
        await pg_proxy.set("pass")


async def test_a_hung_refresh_holds_the_reply_to_an_account_number_at_most_the_settle_budget(
    worker, pg_proxy, postgres_database, direct
):
    phone = number()
    await seed(direct, phone)
    settle_s, preload_s = 0.2, 4.0  # the refresh alone would hang for the whole preload budget
    deps = worker(
        pg_proxy.url(postgres_database, connect_timeout="1"),
        preload_timeout_s=preload_s,
        link_settle_timeout_s=settle_s,
    )
    async with placed_call(deps, sip_caller(phone, ACME_LINE, call_id=f"SCL_{uuid.uuid4().hex[:8]}")) as call:
        assert call.memory is not None and "booking 3390" in call.memory.brief
        await pg_proxy.set("hang")
        started = time.monotonic()
        result = await call.session.run(user_input="This is Dana Reyes, my account number is 4471 2290.")
        waited = time.monotonic() - started
        assert result.events  # the caller got a reply
        assert waited < preload_s / 2, f"the reply waited {waited:.2f} s for a hung refresh"
        assert "booking 3390" in call.memory.brief  # and the brief it had is kept
        await pg_proxy.set("pass")


@pytest.mark.parametrize("fault", ["hang", "refuse"])
async def test_postgres_failing_at_call_start_costs_at_most_the_budget(
    fault, worker, pg_proxy, postgres_database, direct
):
    phone = number()
    await seed(direct, phone)
    deps = worker(pg_proxy.url(postgres_database, connect_timeout="1"))
    async with placed_call(deps, sip_caller(number(), ACME_LINE, call_id=f"SCL_{uuid.uuid4().hex[:8]}")):
        pass  # the store is open and connected
    await pg_proxy.set(fault)
    async with placed_call(deps, sip_caller(phone, ACME_LINE, call_id=f"SCL_{uuid.uuid4().hex[:8]}")) as call:
        assert (
            call.timings_ms["memory_setup"] < (BUDGET_S + 1.0) * 1000
        )  # not a driver timeout; the numbers: bench call_path
        assert call.memory is not None
        await pg_proxy.set("pass")


@pytest.mark.redis
@pytest.mark.parametrize("fault", ["hang", "refuse"])
async def test_redis_failing_at_call_start_still_gives_the_brief(
    fault, worker, redis_proxy, redis_url, postgres_database, direct
):
    phone = number()
    await seed(direct, phone)
    await redis_proxy.set(fault)
    deps = worker(postgres_database, redis_proxy.url(redis_url))
    async with placed_call(deps, sip_caller(phone, ACME_LINE, call_id=f"SCL_{uuid.uuid4().hex[:8]}")) as call:
        assert (
            call.timings_ms["memory_setup"] < (BUDGET_S + 1.0) * 1000
        )  # not a driver timeout; the numbers: bench call_path
        assert call.memory is not None and "booking 3390" in call.memory.brief  # from the database


async def test_turns_handed_back_at_close_are_put_in_the_spool_by_the_session(
    worker, postgres_database, direct, caplog
):
    """The spool itself failing during the call (a full disk): the turns the database did not take either
    come back in MemoryWriteError at close, and the session puts them in the spool then, not in a log line."""
    deps = worker(postgres_database)
    store = await deps.store.get()
    assert store is not None and store.spool is not None
    real_keep, real_keep_soon = store.spool.keep, store.spool.keep_soon

    async def full_disk(*args, **kwargs):
        raise OSError("no space left on device")

    def full_disk_soon(*args, **kwargs):
        failed = asyncio.get_running_loop().create_future()
        failed.set_exception(OSError("no space left on device"))
        return failed

    call_id = f"SCL_{uuid.uuid4().hex[:8]}"
    async with placed_call(deps, sip_caller(number(), ACME_LINE, call_id=call_id)) as call:
        assert call.memory is not None
        await call.session.run(user_input=LINES[0])
        await call.memory.hooks.flushed()
        store.backend.write_memories = functools.partial(_refuse)  # the database stops taking writes
        store.spool.keep, store.spool.keep_soon = full_disk, full_disk_soon  # and the spool cannot take them for now
        for line in LINES[1:4]:
            await call.session.run(user_input=line)
        hooks = call.memory.hooks
        close_hooks = hooks.aclose

        async def close_then_free_the_disk(**kwargs):
            try:
                await close_hooks(**kwargs)  # raises MemoryWriteError: neither stored nor spooled
            finally:
                store.spool.keep, store.spool.keep_soon = real_keep, real_keep_soon  # room again for the session

        hooks.aclose = close_then_free_the_disk  # type: ignore[method-assign]
    assert "turn(s) the database did not take were spooled" in caplog.text
    assert await store.spool.pending() == 6  # three user turns and three replies, none lost
    assert not any(line in caplog.text for line in LINES)  # no words in the logs


async def _refuse(*args, **kwargs):
    raise ConnectionError("the database is not taking writes")

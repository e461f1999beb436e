"""Two worker processes' stores sharing Postgres and Redis: prepared preloads cross workers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

import memory

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
async def two_workers(postgres_database, redis_url, embedder):
    a = await memory.open_store(postgres_database, redis_url=redis_url, embedder=embedder)
    b = await memory.open_store(postgres_database, redis_url=redis_url, embedder=embedder)
    yield a, b
    await a.aclose()
    await b.aclose()


async def first_call(store: memory.CallerStore, tenant: str, role: str, said: str) -> None:
    """A call from the number, ``T0``, in which ``role`` says ``said``."""
    first = await store.open_call(tenant, {"phone": "+44 20 7946 0958"}, started_at=T0)
    first.record_turn(role, said)
    await first.aclose()


async def test_a_second_call_on_another_worker_gets_the_prepared_preload(two_workers, tenant):
    a, b = two_workers
    await first_call(a, tenant, "assistant", "I've booked a technician visit for Thursday, booking 5521.")
    second = await b.open_call(tenant, {"phone": "+442079460958"}, started_at=T0 + timedelta(days=1))
    pre = await second.preload()
    assert pre.source == "cache" and "booking 5521" in pre.text
    await second.aclose()


async def test_a_write_on_one_worker_invalidates_what_the_other_reads(two_workers, tenant):
    a, b = two_workers
    await first_call(a, tenant, "user", "my heating is broken")
    ongoing = await a.open_call(tenant, {"phone": "+44 20 7946 0958"}, started_at=T0 + timedelta(hours=1))
    ongoing.record_turn("user", "also the boiler pressure is low")
    await asyncio.wait_for(ongoing.flushed(), 2.0)
    other = await b.open_call(tenant, {"phone": "+44 20 7946 0958"}, started_at=T0 + timedelta(hours=2))
    assert (await other.preload()).source == "database"
    await ongoing.aclose()
    await other.aclose()


async def test_postgres_without_redis_warns_that_prepared_preloads_stay_in_the_process(
    postgres_database, embedder, caplog
):
    with caplog.at_level("WARNING", logger="memory"):
        store = await memory.open_store(postgres_database, embedder=embedder)
        await store.aclose()
    assert any("set a Redis URL" in r.getMessage() for r in caplog.records)

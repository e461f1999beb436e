"""One caller per identifier under concurrency: simultaneous first calls from one unknown number
share one caller (insert-or-get in one transaction against the unique tenant, kind, value)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest

import memory

TRIES = 50


@pytest.fixture
async def two_stores(database_url, embedder):
    """Two stores on one database, as two worker processes would hold (separate connections)."""
    url = database_url
    first = await memory.open_store(url, embedder=embedder)
    second = await memory.open_store(url, embedder=embedder)
    yield first, second
    await first.aclose()
    await second.aclose()


@pytest.mark.slow
async def test_simultaneous_first_calls_from_one_number_share_one_caller(two_stores):
    first, second = two_stores
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    duplicates = 0
    for i in range(TRIES):
        phone = f"+1415555{i:04d}"
        calls = await asyncio.gather(
            first.open_call(tenant, {"phone": phone}, call_id=f"a-{i}"),
            second.open_call(tenant, {"phone": phone}, call_id=f"b-{i}"),
            first.open_call(tenant, {"phone": phone}, call_id=f"c-{i}"),
        )
        assert all(c.started for c in calls)
        duplicates += len({c.caller_id for c in calls}) - 1
        assert sum(c.is_new_caller for c in calls) <= 1
        for n, call in enumerate(calls):
            call.record_turn("user", f"turn of call {n} of try {i}")
        await asyncio.gather(*(c.aclose() for c in calls))
        if i % 10 == 0:  # every call's turns are reachable from the one caller
            owner = await first.find_caller(tenant, "phone", phone)
            texts = {r.text for r in await first.history(tenant, owner)}
            assert texts == {f"turn of call {n} of try {i}" for n in range(3)}
    assert duplicates == 0


async def test_sqlite_write_waits_for_a_read_still_open_on_its_connection(tmp_path):
    """A read cursor open on one connection while another process writes: SQLite refuses that
    connection's next BEGIN IMMEDIATE at once (a stale WAL snapshot) instead of waiting out
    busy_timeout. The write must wait for the read to finish, not fail the call."""
    from memory.store.sqlite import SQLiteBackend

    first, second = SQLiteBackend(tmp_path / "s.db"), SQLiteBackend(tmp_path / "s.db")
    for backend in (first, second):
        await backend.connect()
    await first.migrate()
    try:
        cursor = await first.db.execute("SELECT name FROM sqlite_master")
        await cursor.fetchone()  # a read transaction stays open while the cursor lives
        await second.create_caller("t-1", "c-1", [], call_id="call-1", at=datetime.now(UTC))

        async def finish_read() -> None:
            await asyncio.sleep(0.05)
            await cursor.close()

        closer = asyncio.create_task(finish_read())
        await first.set_display_name("t-1", "c-1", "a name")  # failed at once before the retry
        await closer
        async with second.db.execute("SELECT display_name FROM callers WHERE caller_id = 'c-1'") as cur:
            assert await cur.fetchone() == ("a name",)
    finally:
        await first.aclose()
        await second.aclose()


async def test_the_spool_write_waits_for_a_read_still_open_on_its_connection(tmp_path):
    """The host's spool file is the same case: every job process of the host writes to it."""
    from memory.store.spool import Spool

    first = await Spool(tmp_path / "spool.db", database="db-1").open()
    second = await Spool(tmp_path / "spool.db", database="db-1").open()
    try:
        cursor = await first.db.execute("SELECT name FROM sqlite_master")
        await cursor.fetchone()
        await second.beat()  # another process writes while the read is open

        async def finish_read() -> None:
            await asyncio.sleep(0.05)
            await cursor.close()

        closer = asyncio.create_task(finish_read())
        await first.beat()
        await closer
        async with second.db.execute("SELECT count(*) FROM owners") as cur:
            assert await cur.fetchone() == (2,)
    finally:
        await first.aclose()
        await second.aclose()

"""SQLite's call-path reads go through read-only connections of their own: a call's preload and
history load do not queue behind the writes another call's close is making on the writer
connection, nor behind each other, and they read committed data only."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import UTC, datetime

import pytest

from memory.errors import StoreUnavailableError
from memory.store.sqlite import SQLiteBackend

TENANT = "t-reader"
SLOW_WRITE = (
    "INSERT INTO audit_filler SELECT value FROM (WITH RECURSIVE n(value) AS"
    " (SELECT 1 UNION ALL SELECT value + 1 FROM n WHERE value < 3000000) SELECT value FROM n)"
)


@pytest.fixture
async def backend(tmp_path):
    store = SQLiteBackend(tmp_path / "reader.db")
    await store.connect()
    await store.migrate()
    await store.create_caller(TENANT, "c-1", [], call_id="call-1", at=datetime.now(UTC))
    await store.db.execute("CREATE TABLE audit_filler (value INTEGER)")
    yield store
    await store.aclose()


async def test_a_call_path_read_does_not_wait_for_a_write_in_progress(backend):
    """A write statement busy on the writer's thread for a long while: the caller's data version,
    profile and history are read meanwhile, not after it."""
    started = time.perf_counter()
    write = asyncio.create_task(backend.db.execute(SLOW_WRITE))
    await asyncio.sleep(0.02)  # the write is running on the writer's thread
    version = await backend.caller_version(TENANT, "c-1")
    profile = await backend.load_profile(TENANT, "c-1", recent_calls=3)
    history = await backend.load_history(TENANT, "c-1", limit=50)
    read_done = time.perf_counter() - started
    assert not write.done(), "the write finished before the reads: make it slower for this machine"
    await write
    write_done = time.perf_counter() - started
    assert version == 0
    assert profile.caller_id == "c-1"
    assert history.memories == ()
    assert read_done < write_done / 2


async def test_the_reader_sees_committed_data_only(backend):
    """A write transaction still open: the reader sees the data as it was before; once committed,
    the next read sees it (a brief tagged with the version read first is then not current)."""
    async with backend._tx():
        await backend._bump(TENANT, "c-1")
        assert await backend.caller_version(TENANT, "c-1") == 0
    assert await backend.caller_version(TENANT, "c-1") == 1


async def test_the_reader_cannot_write(backend):
    async with backend._reading() as reader:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            await reader.execute("UPDATE callers SET version = 99")
    assert await backend.caller_version(TENANT, "c-1") == 0


async def test_a_brief_and_a_history_are_read_side_by_side(backend):
    """One read busy for a long while on a read connection: the other answers meanwhile."""
    async with backend._reading() as busy:
        slow_read = asyncio.create_task(
            busy.execute(SLOW_WRITE.replace("INSERT INTO audit_filler ", "SELECT count(*) FROM (") + ")")
        )
        await asyncio.sleep(0.02)
        version = await asyncio.wait_for(backend.caller_version(TENANT, "c-1"), 5)
        assert not slow_read.done(), "the read finished first: make it slower for this machine"
        await slow_read
    assert version == 0


async def test_a_history_load_cancelled_at_any_point_leaves_its_connection_usable(backend):
    """A call that ends while its history is read cancels the read: whatever statement it was at,
    its read transaction is ended, and the next load on that connection works."""
    for pause in (0, 0, 0.0005, 0.001, 0.002, 0.005):
        loads = [asyncio.ensure_future(backend.load_history(TENANT, "c-1", limit=50)) for _ in range(4)]
        await asyncio.sleep(pause)
        for load in loads:
            load.cancel()
        await asyncio.gather(*loads, return_exceptions=True)
        for _ in range(4):  # every read connection in turn
            assert (await backend.load_history(TENANT, "c-1", limit=50)).memories == ()


async def test_a_closed_store_reads_nothing(backend):
    await backend.aclose()
    with pytest.raises(StoreUnavailableError):
        await backend.caller_version(TENANT, "c-1")

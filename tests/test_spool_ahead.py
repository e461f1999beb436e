"""A recorded turn is in the spool within ``DURABLE_WITHIN_S`` however long the event loop is held up.

The event loop of a worker on a busy host (every core taken, a long step of another call) can be
held up for a second or more; a turn whose way to durable storage waits for the loop (the writer's
wake-up, the database's answer, a timer to spool it) is lost to a ``kill -9`` meanwhile. Here the
test holds the loop itself (a synchronous wait) right after ``record_turn`` and reads the spool
file from another connection while it does: the turn must be there.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import memory
from memory.call.writer import DURABLE_WITHIN_S
from memory.store.spool import KEEP_WINDOW_S, Spool, SpooledCall
from memory.values import MemoryRow


def _spooled_texts(path: Path, call_id: str) -> list[str]:
    with contextlib.closing(sqlite3.connect(path, timeout=1.0)) as db:
        return [r[0] for r in db.execute("SELECT text FROM spooled_rows WHERE call_id = ? ORDER BY seq", (call_id,))]


def _hold_the_loop_until_spooled(path: Path, call_id: str, texts: list[str]) -> list[str]:
    """Poll the spool file without yielding to the event loop, for up to ``DURABLE_WITHIN_S``."""
    deadline = time.monotonic() + DURABLE_WITHIN_S
    found = _spooled_texts(path, call_id)
    while found != texts and time.monotonic() < deadline:
        time.sleep(0.01)
        found = _spooled_texts(path, call_id)
    return found


async def test_a_turn_is_in_the_spool_while_the_event_loop_is_held_up(database_url, embedder, tmp_path, tenant):
    spool = tmp_path / "spool.db"
    store = await memory.open_store(database_url, embedder=embedder, spool_path=spool)
    try:
        hooks = await store.open_call(tenant, {"phone": "+14155550123"})
        said = ["my router blinks amber since this morning", "I see, let us restart it together"]
        hooks.record_turn("user", said[0])
        hooks.record_turn("assistant", said[1])
        assert _hold_the_loop_until_spooled(spool, hooks.call_id, said) == said
        await hooks.aclose()  # the database takes them: they leave the spool
        assert store.spool is not None and await store.spool.pending() == 0
        assert [r.text for r in await store.backend.load_call_rows(tenant, hooks.call_id)] == said
    finally:
        await store.aclose()


async def test_turns_and_removals_handed_over_within_the_window_are_one_synced_transaction(tmp_path):
    """Many calls' turns recorded at once cost one thread wake-up, one sync and one future resolved on the
    event loop, and rows the database took leave the spool in that same transaction (not one of their own)."""
    spool = await Spool(tmp_path / "spool.db", database="postgresql:db:5432/x").open()
    statements: list[str] = []
    await spool.db.set_trace_callback(statements.append)
    now = datetime.now(UTC)
    calls = [SpooledCall("acme", f"call-{i}", [], now) for i in range(3)]
    try:
        await spool.keep(calls[0], [MemoryRow("acme", "", "call-0", 0, "turn", "user", "earlier", now, "")])
        statements.clear()
        handed = [spool.stored("acme", "call-0", [0])]  # the database took the earlier turn
        for seq in range(1, 4):
            for call in calls:
                row = MemoryRow("acme", "", call.call_id, seq, "turn", "user", f"turn {seq}", now, "")
                handed.append(spool.keep_soon(call, [row]))
        assert len({id(f) for f in handed}) == 1  # one future for the batch, not one per turn
        await asyncio.wait_for(handed[0], KEEP_WINDOW_S + 5.0)
        assert [s for s in statements if s.startswith(("BEGIN", "COMMIT"))] == ["BEGIN IMMEDIATE", "COMMIT"]
        assert statements.count("PRAGMA synchronous=FULL") == 1
        assert await spool.pending() == 9  # the earlier turn left; the nine kept are there
    finally:
        await spool.aclose()

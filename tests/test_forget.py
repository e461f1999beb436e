"""Forget means gone: after ``forget_caller`` nothing about the caller is left in any table, Redis key,
in-process cache or the spool, and an open call of the caller stops recalling and writing.

The caller is given words found nowhere else, then every place is read back whole and searched for
them: every table of the database (read as its owner, past row-level security), every key and value
of the Redis database, the store's caches and the open call's memory, every table of the spool file.
"""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

import memory
from memory.store.spool import SpooledCall
from memory.text import reading
from memory.text import values as said_values
from memory.values import MemoryRow

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres+redis"])
def urls(request, tmp_path) -> tuple[str, str | None]:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'memory.db'}", None
    return request.getfixturevalue("postgres_database"), request.getfixturevalue("redis_url")


async def everything_stored(url: str, redis_url: str | None, spool_path) -> list[str]:
    """Every row of every table, every Redis key and value, every spool row, as text."""
    found: list[str] = []
    if url.startswith("sqlite"):
        db = sqlite3.connect(url.removeprefix("sqlite:///"))
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            found += [f"{table}: {row}" for row in db.execute(f"SELECT * FROM {table}")]
        db.close()
    else:
        conn = await asyncpg.connect(url)  # the owner: row-level security does not hide rows from it here
        try:
            await conn.execute("SET row_security = off")
            tables = await conn.fetch(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
            )
            for record in tables:
                table = record["table_name"]
                rows = await conn.fetch(f'SELECT t::text AS row FROM "{table}" t')
                found += [f"{table}: {r['row']}" for r in rows]
        finally:
            await conn.close()
    if redis_url:
        import redis.asyncio as redis

        client = redis.Redis.from_url(redis_url, decode_responses=True)
        try:
            async for key in client.scan_iter("*"):
                value = await client.get(key) if await client.type(key) == "string" else ""
                found.append(f"redis {key}: {value}")
        finally:
            await client.aclose()
    spool = sqlite3.connect(spool_path)
    for (table,) in spool.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
        found += [f"spool {table}: {row}" for row in spool.execute(f"SELECT * FROM {table}")]
    spool.close()
    return found


async def test_after_forget_caller_nothing_about_the_caller_is_anywhere(urls, embedder, tmp_path):
    url, redis_url = urls
    spool_path = tmp_path / "spool.db"
    store = await memory.open_store(url, redis_url=redis_url, embedder=embedder, spool_path=spool_path)
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    tag = uuid.uuid4().hex[:6]
    serial, account = f"QX{tag}", str(70_000_000 + uuid.uuid4().int % 10_000_000)
    mobile, office = f"+1415{uuid.uuid4().int % 10_000_000:07d}", f"+1628{uuid.uuid4().int % 10_000_000:07d}"
    email = f"zelda.{tag}@example.net"
    try:
        first = await store.open_call(tenant, {"phone": mobile, "email": email}, started_at=T0)
        first.record_turn("user", f"hi my name is Zelda Quimby, the quokka{tag} modem serial {serial} keeps dropping")
        first.record_turn("user", f"my account number is {account} and my new address is 22 Wombat Lane")
        first.record_turn(
            "assistant", f"I've opened ticket 5521 for the quokka{tag} modem, a technician calls by Friday."
        )
        await first.aclose()  # a prepared brief is kept for the next call
        caller = first.caller_id
        second = await store.open_call(tenant, {"phone": office}, started_at=T0 + timedelta(days=1))
        second.record_turn("user", f"this is Zelda Quimby from the office, account {account}, the quokka{tag} again")
        await second.recall("modem")
        assert second.caller_id == caller  # linked: the office number's caller is merged into hers
        await second.aclose()
        await store.set_verification(tenant, caller, date_of_birth="1980-03-03", postcode="SW1A 1AA")
        spooled = SpooledCall(tenant, f"spooled-{tag}", [], T0, caller, caller)
        row = MemoryRow(
            tenant, caller, spooled.call_id, 1, "turn", "user", f"quokka{tag} said while the db was down", T0, caller
        )
        await store.spool.keep(spooled, [row])  # a turn of hers waiting in the spool

        open_call = await store.open_call(tenant, {"phone": mobile}, started_at=T0 + timedelta(days=2))
        open_call.record_turn("user", f"is the quokka{tag} modem fixed yet")
        assert await open_call.recall(f"quokka{tag} modem serial")  # her words in the query cache and readings
        needles = [caller, second.first_caller_id, serial, account, mobile, office, email, "Quimby", f"quokka{tag}"]
        assert any(n in text for text in await everything_stored(url, redis_url, spool_path) for n in needles)

        await store.forget_caller(tenant, caller)

        # the open call stops recalling and writing
        assert open_call.forgotten
        assert await open_call.recall(f"quokka{tag} modem") == []
        open_call.record_turn("user", f"one more thing about the quokka{tag}")
        assert (await open_call.preload()).text == ""
        await open_call.aclose()
        # nothing in any table, Redis key or value, or spool row
        left = [text for text in await everything_stored(url, redis_url, spool_path) if any(n in text for n in needles)]
        assert left == []
        # nothing in this process's caches or the open call's memory
        assert not any(tag in query for query in store._query_vectors)
        assert reading._read.cache_info().currsize == 0 and said_values._read.cache_info().currsize == 0
        assert open_call._history.working.per_row("supersede") == []  # row readings are kept with the working set
        assert isinstance(store.cache, memory.caller_store.LocalPreloadCache) is False or not store.cache.briefs
        assert open_call._transcript.rows == [] and len(open_call._history.working) == 0
        # and she is a stranger on her next call
        again = await store.open_call(tenant, {"phone": mobile}, started_at=T0 + timedelta(days=3))
        assert again.is_new_caller and (await again.preload()).text == ""
        await again.aclose()
    finally:
        await store.aclose()

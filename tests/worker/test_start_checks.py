"""Fail loudly at start: ``agent.py`` checks memory before the LiveKit CLI runs (the URL, the
database, its schema, Redis) and stops with one line naming the error and the setting; a call that
cannot reach memory goes on and the log says why."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

import agent
import memory
from worker.runtime import StoreHolder, WorkerSettings, check_memory

from ..conftest import POSTGRES_URL
from ..tcp_proxy import FaultProxy


@pytest.fixture
def console(monkeypatch) -> pytest.MonkeyPatch:
    """``agent.py console --text`` with the offline providers and no memory settings; the LiveKit
    CLI itself is not run."""
    for name in list(os.environ):
        if name.startswith(("LIVEKIT_", "OPENAI_", "DEEPGRAM_", "MEMORY_")) or name in (
            "MODEL_PROVIDERS",
            "TENANTS_FILE",
        ):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MODEL_PROVIDERS", "offline")
    monkeypatch.setattr(agent.cli, "run_app", lambda server: None)
    return monkeypatch


def _stops(capsys, error: str) -> str:
    assert agent.main(["console", "--text"], env_file=None) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"agent.py console: memory unusable, {error}: "), err
    return err


def test_a_wrong_database_url_is_one_named_line(console, capsys) -> None:
    console.setenv("MEMORY_DATABASE_URL", "mysql://db.internal/memory")
    assert "MEMORY_DATABASE_URL: unsupported store URL scheme 'mysql'" in _stops(capsys, "ConfigError")
    console.setenv("MEMORY_DATABASE_URL", "postgresql://memory:s3cret@db.internal:54x2/memory")
    err = _stops(capsys, "ConfigError")
    assert "port must be a number" in err and "s3cret" not in err


@pytest.fixture
def refused_postgres() -> Iterator[FaultProxy]:
    """The fault proxy in front of the test Postgres, in refuse mode (a server that is down), run on
    a loop of its own (``agent.main`` runs its own)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    proxy = asyncio.run_coroutine_threadsafe(FaultProxy.for_url(POSTGRES_URL, 5432).start(), loop).result(5)
    asyncio.run_coroutine_threadsafe(proxy.set("refuse"), loop).result(5)
    yield proxy
    asyncio.run_coroutine_threadsafe(proxy.aclose(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


@pytest.mark.postgres
def test_an_unreachable_database_is_one_named_line(console, capsys, refused_postgres, postgres_database) -> None:
    console.setenv("MEMORY_DATABASE_URL", refused_postgres.url(postgres_database))
    err = _stops(capsys, "StoreUnavailableError")
    assert f"MEMORY_DATABASE_URL: cannot connect to Postgres at postgresql:127.0.0.1:{refused_postgres.port}/" in err
    assert "ConnectionRefusedError" in err


@pytest.mark.postgres
def test_a_missing_schema_is_one_named_line_and_the_main_process_migrates_it(
    console, capsys, empty_postgres_database
) -> None:
    console.setenv("MEMORY_DATABASE_URL", empty_postgres_database)
    console.setenv("MEMORY_MIGRATE", "0")  # a worker told not to migrate (it runs as the runtime role)
    err = _stops(capsys, "SchemaError")
    assert "MEMORY_DATABASE_URL: no memory schema in postgresql:" in err and "python -m memory migrate" in err
    console.delenv("MEMORY_MIGRATE")  # by default the main process migrates once, before any call
    assert agent.main(["console", "--text"], env_file=None) == 0

    async def versions() -> int:
        conn = await asyncpg.connect(empty_postgres_database)
        try:
            return await conn.fetchval("SELECT count(*) FROM schema_migrations")
        finally:
            await conn.close()

    assert asyncio.run(versions()) > 0


@pytest.mark.postgres
def test_a_schema_behind_the_code_is_named_with_both_versions(console, capsys, empty_postgres_database) -> None:
    asyncio.run(memory.migrate(empty_postgres_database))

    async def roll_back_one() -> None:
        conn = await asyncpg.connect(empty_postgres_database)
        try:
            await conn.execute(
                "DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)"
            )
        finally:
            await conn.close()

    asyncio.run(roll_back_one())
    console.setenv("MEMORY_DATABASE_URL", empty_postgres_database)
    console.setenv("MEMORY_MIGRATE", "0")
    assert "this code needs" in _stops(capsys, "SchemaError")


def test_an_unreachable_redis_is_one_named_line(console, capsys, tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    console.setenv("MEMORY_DATABASE_URL", f"sqlite:///{tmp_path / 'memory.db'}")
    console.setenv("MEMORY_REDIS_URL", f"redis://127.0.0.1:{port}/0")
    assert "MEMORY_REDIS_URL: Redis does not answer" in _stops(capsys, "StoreUnavailableError")


def test_memory_turned_off_is_not_checked(console, capsys) -> None:
    console.setenv("MEMORY_DATABASE_URL", "mysql://db.internal/memory")
    console.setenv("MEMORY_ENABLED", "0")
    assert agent.main(["console", "--text"], env_file=None) == 0


@pytest.mark.postgres
async def test_a_call_that_cannot_reach_memory_goes_on_and_the_log_says_why(
    empty_postgres_database, embedder, caplog, tenant
) -> None:
    opener = functools.partial(memory.open_store, embedder=embedder, spool_path=None)
    holder = StoreHolder(url=empty_postgres_database, redis_url=None, policies={}, opener=opener)
    store = await holder.get()  # a job's store connects in the background: the call does not wait for it
    assert store is not None
    try:
        hooks = await store.open_call(tenant, {"phone": "+1 415 555 0142"}, budget_s=0.5)
        assert (await hooks.preload()).text == ""  # no memory, and the call goes on
        hooks.record_turn("user", "hello, my account number is 88123")
        lines = [r.getMessage() for r in caplog.records if r.name.startswith("memory")]
        reason = next(line for line in lines if "cannot be used yet" in line)
        assert "SchemaError: no memory schema in postgresql:" in reason and "python -m memory migrate" in reason
        assert not any("88123" in line for line in lines)
        with contextlib.suppress(memory.MemoryWriteError):
            await hooks.aclose()
    finally:
        await holder.aclose()


@pytest.mark.redis
async def test_a_usable_configuration_passes_with_one_line_for_the_log(tmp_path: Path, redis_url) -> None:
    settings = WorkerSettings(database_url=f"sqlite:///{tmp_path / 'memory.db'}", redis_url=redis_url)
    line = await check_memory(settings)
    assert line.startswith("memory store sqlite:") and "schema current" in line and line.endswith("Redis answers")

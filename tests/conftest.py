"""Shared fixtures: real SQLite, Postgres and Redis stores (no mocks of the database).

Postgres and Redis come from MEMORY_TEST_POSTGRES_URL / MEMORY_TEST_REDIS_URL (defaults: the local
servers). When they are unreachable the tests that need them skip, except in CI (CI=true), where
they fail: a green run must have exercised the real servers.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlparse, urlunparse

import pytest

import memory
from memory.embed import default_embedder

from .tcp_proxy import FaultProxy

POSTGRES_URL = os.environ.get("MEMORY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("MEMORY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(what: str, exc: BaseException) -> None:
    message = f"{what} unreachable ({type(exc).__name__}: {exc})"
    if IN_CI:
        pytest.fail(message + " -- CI requires the real server", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def embedder():
    return default_embedder()


def postgres_url(database: str | None = None, *, user: str | None = None) -> str:
    """The test server's URL, for ``database`` (default: the admin URL's) as ``user`` (default: the admin)."""
    parsed = urlparse(POSTGRES_URL)
    if user is not None:
        parsed = parsed._replace(netloc=f"{user}@{parsed.hostname}:{parsed.port or 5432}")
    if database is not None:
        parsed = parsed._replace(path=f"/{database}")
    return urlunparse(parsed)


async def postgres_admin(*statements: str, database: str | None = None) -> None:
    """Run ``statements`` as the test server's admin, in ``database`` (default: the admin URL's)."""
    import asyncpg

    conn = await asyncpg.connect(postgres_url(database), timeout=5)
    try:
        for sql in statements:
            await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_database() -> str:
    """A fresh database for this test run, dropped at the end."""
    name = f"caller_memory_test_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(postgres_admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        unavailable("Postgres", exc)
    url = postgres_url(name)
    asyncio.run(memory.migrate(url))  # once, as a deployment does (opening a store never migrates)
    yield url
    asyncio.run(postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def empty_postgres_database() -> AsyncIterator[str]:
    """A database of this test alone with no memory schema (dropped after the test)."""
    import asyncpg

    name = f"caller_memory_test_{uuid.uuid4().hex[:10]}"
    try:
        conn = await asyncpg.connect(POSTGRES_URL, timeout=5)
    except Exception as exc:
        unavailable("Postgres", exc)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
        yield postgres_url(name)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        unavailable("Redis", exc)
    return REDIS_URL


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path) -> str:
    """A database of each backend: a SQLite file of this test alone, or this run's Postgres database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'memory.db'}"
    return request.getfixturevalue("postgres_database")


@pytest.fixture(params=["sqlite", "postgres", "postgres+redis"])
def store_urls(request, tmp_path) -> tuple[str, str | None]:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'memory.db'}", None
    url = request.getfixturevalue("postgres_database")
    if request.param == "postgres":
        return url, None
    return url, request.getfixturevalue("redis_url")


@pytest.fixture
async def store(store_urls, embedder) -> AsyncIterator[memory.CallerStore]:
    url, redis_url = store_urls
    s = await memory.open_store(url, redis_url=redis_url, embedder=embedder)
    yield s
    await s.aclose()


@pytest.fixture
def tenant() -> str:
    """A tenant id of this test alone, so tests never see each other's rows."""
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def pg_proxy(postgres_database) -> AsyncIterator[FaultProxy]:
    """A fault proxy (pass, refuse, hang, cut) in front of this run's Postgres database."""
    proxy = await FaultProxy.for_url(postgres_database, 5432).start()
    yield proxy
    await proxy.aclose()


@pytest.fixture
async def redis_proxy(redis_url) -> AsyncIterator[FaultProxy]:
    """A fault proxy in front of the test Redis."""
    proxy = await FaultProxy.for_url(redis_url, 6379).start()
    yield proxy
    await proxy.aclose()

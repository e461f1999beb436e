"""Two roles, as docs/operations.md sets them up: an owner that migrates, and a runtime role with
only the application's privileges (no CREATE), which runs whole calls directly and through a real
PgBouncer in transaction pooling mode; tenants stay apart on a shared server connection."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlparse

import asyncpg
import pytest

import memory
from memory.store.postgres import APP_ROLE

from .conftest import POSTGRES_URL, postgres_admin, postgres_url, unavailable
from .pgbouncer import PgBouncer

pytestmark = pytest.mark.postgres


@dataclass(frozen=True)
class Deployment:
    database: str
    owner_url: str
    runtime_url: str
    runtime_role: str


@pytest.fixture
async def deployment() -> AsyncIterator[Deployment]:
    """A database owned by an owner role (it may create roles, as a managed database's admin can) and
    a runtime login role that is a member of the application role, as the docs set them up; the
    schema is not created yet."""
    tag = uuid.uuid4().hex[:10]
    database, owner, runtime = f"roles_{tag}", f"memory_owner_{tag}", f"memory_runtime_{tag}"
    try:
        await postgres_admin(f'CREATE ROLE "{owner}" LOGIN CREATEROLE', f'CREATE ROLE "{runtime}" LOGIN')
    except Exception as exc:
        unavailable("Postgres", exc)
    try:
        await postgres_admin(f'CREATE DATABASE "{database}" OWNER "{owner}"')
        # the default from Postgres 15 on
        await postgres_admin("REVOKE CREATE ON SCHEMA public FROM PUBLIC", database=database)
        yield Deployment(database, postgres_url(database, user=owner), postgres_url(database, user=runtime), runtime)
    finally:
        await postgres_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await postgres_admin(f'DROP ROLE IF EXISTS "{runtime}"', f'DROP ROLE IF EXISTS "{owner}"')


async def _migrated(deployment: Deployment) -> None:
    """What an operator runs once: the owner migrates, the runtime role joins the application role."""
    assert await memory.migrate(deployment.owner_url)
    await postgres_admin(f'GRANT {APP_ROLE} TO "{deployment.runtime_role}"')


async def _whole_call(url: str, tenant: str, embedder) -> None:
    """Write, preload, recall and forget, as one store of a job process does them."""
    store = await memory.open_store(url, embedder=embedder, spool_path=None)
    try:
        hooks = await store.open_call(tenant, {"phone": "+1 415 555 0142"})
        hooks.record_turn("user", "I was charged twice for my November bill, forty two dollars")
        hooks.record_turn("assistant", "I've submitted a refund under ticket 8842, you should see it by Friday.")
        await hooks.aclose()
        again = await store.open_call(tenant, {"phone": "+1 415 555 0142"})
        brief = await again.preload()
        assert "8842" in brief.text
        hits = await again.recall("what happened with my refund?", limit=3)
        assert any("8842" in hit.text for hit in hits)
        await again.aclose()
        assert await store.forget_caller(tenant, again.caller_id) > 0
        assert await store.find_caller(tenant, "phone", "+1 415 555 0142") is None
    finally:
        await store.aclose()


async def test_the_runtime_role_runs_a_whole_call_and_cannot_create(deployment, embedder, tenant):
    with pytest.raises(memory.SchemaError, match="python -m memory migrate"):  # never migrates on open
        await memory.open_store(deployment.runtime_url, embedder=embedder, spool_path=None)
    await _migrated(deployment)
    await _whole_call(deployment.runtime_url, tenant, embedder)
    conn = await asyncpg.connect(deployment.runtime_url)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE TABLE intruder (id int)")
        assert await conn.fetchval("SELECT count(*) FROM memories") == 0  # no tenant set: nothing
    finally:
        await conn.close()
    with pytest.raises(asyncpg.InsufficientPrivilegeError):  # migrating is the owner's
        await memory.migrate(deployment.runtime_url)


@pytest.fixture
def pgbouncer(deployment) -> Iterator[Callable[[int], PgBouncer]]:
    """Starts a real PgBouncer in transaction pooling mode in front of the test Postgres, for the
    deployment's roles, with so many server connections per database and user; in CI a missing
    ``pgbouncer`` fails the tests instead of skipping them."""
    started: list[PgBouncer] = []

    def start(server_pool_size: int) -> PgBouncer:
        owner = urlparse(deployment.owner_url).username or ""
        try:
            bouncer = PgBouncer.start(
                POSTGRES_URL, users=[owner, deployment.runtime_role], server_pool_size=server_pool_size
            )
        except (FileNotFoundError, RuntimeError) as exc:
            unavailable("pgbouncer", exc)
        started.append(bouncer)
        return bouncer

    yield start
    for bouncer in started:
        bouncer.stop()


async def test_a_whole_call_through_pgbouncer_in_transaction_mode(deployment, embedder, pgbouncer, tenant):
    await _migrated(deployment)
    bouncer = pgbouncer(2)
    url = bouncer.url_for(deployment.runtime_url, statement_cache_size="0")
    await _whole_call(url, tenant, embedder)
    # the same PgBouncer really moves a client between server connections: with asyncpg's statement
    # cache on, a statement prepared on one is missing on the other
    a, b = [await asyncpg.connect(bouncer.url_for(deployment.runtime_url)) for _ in range(2)]
    try:
        first_a, first_b = a.transaction(), b.transaction()
        await first_a.start()
        await a.fetchval("SELECT $1::int + 1", 1)  # prepared on the server connection a has now
        await first_b.start()
        await b.fetchval("SELECT 1")  # b holds the other one
        await first_a.commit()
        await first_b.commit()  # released last: the one PgBouncer hands out next
        with pytest.raises(asyncpg.InvalidSQLStatementNameError):
            async with a.transaction():
                await a.fetchval("SELECT $1::int + 1", 2)
    finally:
        for conn in (a, b):
            conn.terminate()


async def test_tenants_stay_apart_on_one_pgbouncer_server_connection(deployment, embedder, pgbouncer):
    await _migrated(deployment)
    url = pgbouncer(1).url_for(deployment.runtime_url, statement_cache_size="0")
    a, b = (f"t-{uuid.uuid4().hex[:12]}" for _ in range(2))
    stores = [await memory.open_store(url, embedder=embedder, spool_path=None) for _ in range(2)]
    try:

        async def calls(store: memory.CallerStore, tenant: str) -> None:
            for i in range(5):
                hooks = await store.open_call(tenant, {"phone": f"+1 415 555 01{i:02d}"})
                hooks.record_turn("user", f"tenant {tenant} says hello number {i}")
                await hooks.aclose()

        await asyncio.gather(calls(stores[0], a), calls(stores[1], b))  # interleaved on one server connection
        for store, mine, theirs in ((stores[0], a, b), (stores[1], b, a)):
            async with store.backend._tenant(mine) as conn:
                assert await conn.fetchval("SELECT count(*) FROM memories") == 5
                assert await conn.fetchval("SELECT count(*) FROM memories WHERE customer_id = $1", theirs) == 0
                assert await conn.fetchval("SELECT count(DISTINCT customer_id) FROM callers") == 1
        async with stores[0].backend.pool.acquire() as conn:  # outside a tenant's transaction: nothing
            assert await conn.fetchval("SELECT current_setting('app.tenant_id', true)") in (None, "")
            assert await conn.fetchval("SELECT count(*) FROM memories") == 0
    finally:
        for store in stores:
            await store.aclose()

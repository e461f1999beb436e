"""Tenant scoping is a property of the Postgres database, not of the application's queries."""

from __future__ import annotations

import asyncpg
import pytest

import memory
from memory.store.codec import migrations
from memory.store.postgres import APP_ROLE


@pytest.fixture
async def pg_store(postgres_database, embedder):
    store = await memory.open_store(postgres_database, embedder=embedder)
    yield store
    await store.aclose()


async def _seed(store, tenant):
    hooks = await store.open_call(tenant, {"phone": "+1 415 555 0142"})
    hooks.record_turn("user", "my account number is 88123 and I was double charged")
    await hooks.aclose()
    return hooks.caller_id


async def test_a_raw_query_without_the_tenant_set_returns_nothing(pg_store, tenant):
    await _seed(pg_store, tenant)
    async with pg_store.backend._tenant(tenant) as conn:  # the application's own transactions
        assert await conn.fetchval("SELECT current_user") == APP_ROLE
    async with pg_store.backend.pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT set_config('role', $1, true)", APP_ROLE)  # as the application, no tenant
        for table in ("callers", "identifiers", "calls", "memories"):
            assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0
        await conn.execute("SELECT set_config('app.tenant_id', $1, true)", tenant)
        assert await conn.fetchval("SELECT count(*) FROM memories") == 1
        assert await conn.fetchval("SELECT count(*) FROM memories WHERE customer_id <> $1", tenant) == 0


async def test_another_tenant_set_sees_nothing_and_cannot_write_into_a_tenant(pg_store, tenant):
    await _seed(pg_store, tenant)
    async with pg_store.backend._tenant("someone-else") as conn:
        assert await conn.fetchval("SELECT count(*) FROM memories WHERE customer_id = $1", tenant) == 0
        with pytest.raises(asyncpg.InsufficientPrivilegeError):  # WITH CHECK rejects rows of another tenant
            await conn.execute(
                "INSERT INTO callers (customer_id, caller_id, created_at) VALUES ($1, 'intruder', now())", tenant
            )


async def test_the_app_role_cannot_bypass_row_level_security(postgres_database):
    conn = await asyncpg.connect(postgres_database)
    try:
        role = await conn.fetchrow("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1", APP_ROLE)
        assert role is not None and not role["rolsuper"] and not role["rolbypassrls"]
        forced = await conn.fetch(
            "SELECT relname FROM pg_class WHERE relrowsecurity AND relforcerowsecurity AND relname = ANY($1)",
            [
                "callers",
                "identifiers",
                "calls",
                "memories",
                "matters",
                "links",
                "facts",
                "edges",
                "verifiers",
                "forgotten",
            ],
        )
        assert len(forced) == 10
    finally:
        await conn.close()


async def test_migrations_are_idempotent_with_workers_starting_together(empty_postgres_database):
    import asyncio

    applied = await asyncio.gather(*(memory.migrate(empty_postgres_database) for _ in range(3)))
    assert sorted(applied, key=len) == [[], [], [v for v, _, _ in migrations("postgres")]]
    conn = await asyncpg.connect(empty_postgres_database)
    try:
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(migrations("postgres"))
    finally:
        await conn.close()

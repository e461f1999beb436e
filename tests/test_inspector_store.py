"""What the inspector needs of the store, on every backend: how a link was verified, the export of
everything about a caller, the staff audit log (tenant-scoped; forgetting a caller leaves only the
digest of its id there), and undoing a link."""

from __future__ import annotations

import json
from datetime import timedelta

import asyncpg
import pytest

import memory
from memory.policy import MemoryPolicy
from memory.store.codec import EXPORT_COLUMNS, caller_digest
from memory.store.postgres import APP_ROLE

from .test_store_contract import T0, first_call, linked_pair


async def test_a_link_keeps_the_factors_that_verified_the_caller(store, tenant):
    caller, provisional, hooks = await linked_pair(store, tenant)
    [link] = await store.links(tenant, caller)
    assert (link.from_caller_id, link.to_caller_id) == (provisional, caller)
    assert (link.kind, link.value, link.call_id, link.verified_by) == ("account", "88123", hooks.call_id, "name")


async def test_a_link_by_a_trusted_kind_is_recorded_as_unverified(store, tenant):
    store.set_policy(tenant, MemoryPolicy(verification=(("account", 0),)))
    caller = await first_call(store, tenant)
    hooks = await store.open_call(tenant, {"phone": "+1 415 555 0199"}, started_at=T0 + timedelta(days=3))
    hooks.record_turn("user", "my account number is 88123")
    await hooks.recall("account")
    await hooks.aclose()
    [link] = await store.links(tenant, caller)
    assert link.verified_by == ""


async def test_export_holds_every_row_of_the_caller_and_of_callers_linked_into_it(store, tenant):
    caller, provisional, hooks = await linked_pair(store, tenant)
    await store.set_verification(tenant, caller, pin="4321")
    other_call = await store.open_call(tenant, {"phone": "+1 415 555 0100"}, started_at=T0)
    other_call.record_turn("user", "Hello, my router keeps dropping the connection.")
    await other_call.aclose()
    other = other_call.caller_id
    exported = await store.export_caller(tenant, provisional)  # a merged caller's id reaches its record
    json.dumps(exported)  # plain JSON values
    assert exported["caller_id"] == caller and exported["tenant"] == tenant
    tables = exported["tables"]
    assert set(tables) == set(EXPORT_COLUMNS)
    for table, rows in tables.items():
        for row in rows:
            assert tuple(row) == EXPORT_COLUMNS[table]
    assert {r["caller_id"] for r in tables["callers"]} == {caller, provisional}
    texts = [r["text"] for r in tables["memories"]]
    assert any("charged twice" in t for t in texts) and any("add a line" in t for t in texts)
    assert {r["call_id"] for r in tables["calls"]} == {hooks.call_id} | {r["call_id"] for r in tables["memories"]}
    assert {(r["kind"], r["value"]) for r in tables["identifiers"]} >= {("phone", "+14155550142"), ("account", "88123")}
    assert [r["factor"] for r in tables["verifiers"]] == ["pin"]  # the factor on file, never its digest
    assert "4321" not in json.dumps(exported) and "scrypt" not in json.dumps(exported)
    [link] = tables["links"]
    assert link["verified_by"] == "name" and link["at"].endswith("+00:00")
    assert all(r["caller_id"] != other for t in ("identifiers", "memories") for r in tables[t])
    assert all(isinstance(r["enriched"], bool) for r in tables["memories"])
    assert all(isinstance(r["episode"], dict | None) for r in tables["calls"])


async def test_export_of_another_tenants_caller_is_empty(store, tenant):
    caller = await first_call(store, tenant)
    exported = await store.export_caller(tenant + "-other", caller)
    assert all(rows == [] for rows in exported["tables"].values())


async def test_the_audit_log_is_per_tenant_newest_first(store, tenant):
    caller = await first_call(store, tenant)
    await store.record_audit(tenant, staff="ann", action="find", caller_ref=caller, detail="phone")
    await store.record_audit(tenant, staff="ann", action="view", caller_ref=caller)
    await store.record_audit(tenant + "-other", staff="bob", action="view", caller_ref="caller_x")
    log = await store.audit_log(tenant)
    assert [(e.staff, e.action, e.caller_ref, e.detail) for e in log] == [
        ("ann", "view", caller, ""),
        ("ann", "find", caller, "phone"),
    ]
    assert log[0].at >= log[1].at and log[0].at.tzinfo is not None
    assert [e.staff for e in await store.audit_log(tenant + "-other")] == ["bob"]
    assert await store.audit_log(tenant, caller_ref="caller_x") == []
    with pytest.raises(memory.InvalidInputError):
        await store.record_audit(tenant, staff="ann", action="drop tables")


async def test_forgetting_a_caller_leaves_only_the_digest_of_its_id_in_the_audit_log(store, tenant):
    caller, provisional, _ = await linked_pair(store, tenant)
    await store.record_audit(tenant, staff="ann", action="view", caller_ref=caller)
    await store.record_audit(tenant, staff="ann", action="view", caller_ref=provisional)
    await store.record_audit(tenant, staff="ann", action="forget", caller_ref=caller)
    await store.record_audit(tenant, staff="ann", action="view", caller_ref="caller_someone_else")
    family = set(await store.backend.caller_family(tenant, caller))
    assert caller in family  # and the provisional record, when the link was made (a loaded machine may miss it)
    assert await store.forget_caller(tenant, caller) > 0
    log = await store.audit_log(tenant)
    assert [e.action for e in log] == ["view", "forget", "view", "view"]
    refs = {e.caller_ref for e in log}
    kept = {caller_digest(tenant, c) if c in family else c for c in (caller, provisional)}
    assert refs == kept | {"caller_someone_else"}
    assert caller not in refs and caller_digest(tenant, caller) in refs
    exported = await store.export_caller(tenant, caller)
    assert all(rows == [] for rows in exported["tables"].values())


@pytest.mark.postgres
async def test_the_audit_log_is_scoped_by_row_level_security(postgres_database, embedder, tenant):
    store = await memory.open_store(postgres_database, embedder=embedder)
    try:
        await store.record_audit(tenant, staff="ann", action="view", caller_ref="caller_1")
        async with store.backend.pool.acquire() as conn, conn.transaction():  # type: ignore[attr-defined]
            await conn.execute("SELECT set_config('role', $1, true)", APP_ROLE)  # as the application
            assert await conn.fetchval("SELECT count(*) FROM audit_log") == 0  # no tenant set: nothing
            await conn.execute("SELECT set_config('app.tenant_id', 'someone-else', true)")
            assert await conn.fetchval("SELECT count(*) FROM audit_log") == 0
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(
                    "INSERT INTO audit_log (customer_id, audit_id, at, staff, action)"
                    " VALUES ($1, 'forged', now(), 'eve', 'view')",
                    tenant,
                )
        async with store.backend._tenant(tenant) as conn:  # type: ignore[attr-defined]
            assert await conn.fetchval("SELECT count(*) FROM audit_log") == 1
    finally:
        await store.aclose()

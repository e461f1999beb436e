"""The caller's history a call loads: the five parts read together, on Postgres in one transaction."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

import memory
from memory.store.base import CallerHistory
from memory.store.postgres import PostgresBackend
from memory.values import MemoryRow

from .test_store_contract import PHONE, T0, caller_who_calls_again


def _rows(rows: Sequence[MemoryRow]) -> list[tuple[object, ...]]:
    """Rows as comparable values (the embedding as its bytes)."""
    return [
        (*dataclasses.astuple(replace(r, embedding=None)), None if r.embedding is None else r.embedding.tobytes())
        for r in rows
    ]


MOVED = [("user", "my address is 5 Elm Road"), ("user", "sorry, I moved, my new address is twenty two Oak Street")]


async def _caller_with_history(store: memory.CallerStore, tenant: str) -> str:
    """A caller with memories, an open matter, facts (one replaced), graph edges and a stored episode."""
    return await caller_who_calls_again(store, tenant, MOVED, gap_s=5)


async def test_load_history_returns_what_the_five_loads_return(store, tenant):
    caller = await _caller_with_history(store, tenant)
    backend = store.backend
    history = await backend.load_history(tenant, caller, limit=50)
    assert _rows(history.memories) == _rows(await backend.load_memories(tenant, caller, limit=50))
    assert history.edges == tuple(await backend.load_edges(tenant, caller))
    assert history.open_matters == tuple(await backend.load_open_matters(tenant, caller))
    assert history.episodes == tuple(await backend.load_episodes(tenant, caller, limit=50))
    assert history.facts == tuple(await backend.load_facts(tenant, caller, include_former=True))
    # a history worth comparing: every part has something, and the limit keeps the newest memories
    assert history.memories and history.edges and history.open_matters and history.episodes
    assert any(not f.current for f in history.facts) and any(f.current for f in history.facts)
    newest = await backend.load_history(tenant, caller, limit=2)
    assert _rows(newest.memories) == _rows(history.memories[-2:]) and newest.episodes == history.episodes[-2:]
    # another tenant asking for the same caller id sees nothing of it
    assert await backend.load_history(f"{tenant}-other", caller, limit=50) == CallerHistory((), (), (), (), ())


async def test_the_history_load_is_one_transaction_on_postgres(postgres_database, embedder, tenant):
    store = await memory.open_store(postgres_database, embedder=embedder)
    try:
        caller = await _caller_with_history(store, tenant)
    finally:
        await store.aclose()
    backend = PostgresBackend(postgres_database, min_size=1, max_size=1)  # one connection: the one observed
    await backend.connect()
    sent: list[str] = []
    try:
        async with backend.pool.acquire() as conn:
            conn.add_query_logger(lambda q: sent.append(q.query))  # the real connection's own record of queries
        first = await backend.load_history(tenant, caller, limit=50)
        on_first = sent[:]
        sent.clear()
        again = await backend.load_history(tenant, caller, limit=50)
    finally:
        await backend.aclose()
    assert first.memories and first.open_matters and first.facts and again.facts == first.facts
    # BEGIN, the tenant, the five reads, COMMIT: one transaction, on the first load of a connection and after
    for queries in (on_first, sent):
        assert [q.split(None, 1)[0].upper() for q in queries] == ["BEGIN;", *["SELECT"] * 6, "COMMIT;"], queries
        assert "set_config('app.tenant_id'" in queries[1]
        for table, query in zip(("memories", "edges", "matters", "calls", "facts"), queries[2:7], strict=True):
            assert f"FROM {table} WHERE customer_id = $1 AND caller_id = $2" in query


async def test_a_pgbouncer_style_connection_without_a_statement_cache_loads_the_same_history(
    postgres_database, embedder, tenant
):
    store = await memory.open_store(postgres_database, embedder=embedder)
    try:
        caller = await _caller_with_history(store, tenant)
        cached = await store.backend.load_history(tenant, caller, limit=50)
    finally:
        await store.aclose()
    backend = PostgresBackend(postgres_database, statement_cache_size=0)
    await backend.connect()
    try:
        uncached = await backend.load_history(tenant, caller, limit=50)
    finally:
        await backend.aclose()
    assert _rows(uncached.memories) == _rows(cached.memories) and uncached.facts == cached.facts
    assert (uncached.edges, uncached.open_matters, uncached.episodes) == (
        cached.edges,
        cached.open_matters,
        cached.episodes,
    )


async def test_a_call_history_loads_once_the_brief_is_served(store, tenant, monkeypatch):
    """The brief is on the greeting's path, the history on the first recall's: on a store of one
    connection the history's transaction would hold it while the brief's queries wait. A history
    load waits for the brief (and, without one, goes on after ``BRIEF_FIRST_S``)."""
    import asyncio

    from memory.call import history as history_module
    from memory.call.history import CallHistory

    caller = await _caller_with_history(store, tenant)
    monkeypatch.setattr(history_module, "BRIEF_FIRST_S", 30.0)  # no time-out while the test looks
    waiting = CallHistory("a-new-call", [])
    waiting.load(store.backend, tenant, caller, memory.MemoryPolicy())
    await asyncio.sleep(0.3)  # far longer than the load takes
    assert waiting.working.rows == []
    waiting.brief_served()
    await asyncio.wait_for(waiting.ready(), 10)
    assert waiting.working.rows and waiting.episodes

    monkeypatch.setattr(history_module, "BRIEF_FIRST_S", 0.05)
    unbriefed = CallHistory("another-call", [])  # a call whose app never asks for the brief
    unbriefed.load(store.backend, tenant, caller, memory.MemoryPolicy())
    await asyncio.wait_for(unbriefed.ready(), 10)
    assert _rows(unbriefed.working.rows) == _rows(waiting.working.rows)


async def test_a_closed_call_is_freed_without_the_cycle_collector(store, tenant):
    """The hooks' parts call them back through weak references: once the app drops a closed call, its
    history (the working set, a few thousand objects) is freed at once, not left for a pass of the cycle
    collector, which would walk it on the event loop in the middle of a later call's recall."""
    import gc
    import weakref

    await _caller_with_history(store, tenant)
    hooks = await store.open_call(tenant, {"phone": PHONE}, started_at=T0 + timedelta(days=2))
    await hooks.preload()
    await hooks._history.ready()
    hooks.record_turn("user", "is the Oak Street address on file", at=T0 + timedelta(days=2))
    assert await hooks.recall("which address is on file", mode="fast")
    await hooks.aclose()
    call, working = weakref.ref(hooks), weakref.ref(hooks._history.working)
    assert working().rows  # type: ignore[union-attr]
    gc.disable()
    try:
        del hooks
        assert call() is None and working() is None
    finally:
        gc.enable()


async def test_a_recorded_turn_is_taken_into_the_indexes_before_the_next_recall(store, tenant):
    """A call's first recall comes after its greeting and the caller's question: the turns recorded
    meanwhile (and their vectors, when they come) are taken into the working set's indexes shortly
    after, on the event loop, so the recall does only the work its question needs."""
    import asyncio

    from memory.call.history import REFRESH_AFTER_S

    async def until(check, what: str) -> None:
        for _ in range(200):
            if check():
                return
            await asyncio.sleep(0.02)
        raise AssertionError(what)

    await _caller_with_history(store, tenant)
    hooks = await store.open_call(tenant, {"phone": PHONE}, started_at=T0 + timedelta(days=2))
    await hooks.preload()
    await hooks._history.ready()
    working = hooks._history.working
    await until(lambda: working._indexed == len(working.rows), "the loaded set is indexed")
    hooks.record_turn("user", "my parcel tracking number is ZX 4411", at=T0 + timedelta(days=2))
    assert working._indexed == len(working.rows) - 1  # not by record_turn itself (no work on its path)
    await asyncio.sleep(REFRESH_AFTER_S)
    await until(lambda: working._indexed == len(working.rows), "the new turn's words indexed without a recall")
    await until(lambda: working.rows[-1].embedding is not None, "the new turn embedded")
    await until(lambda: working._matrix_rows == len(working.rows), "its vector in the matrix without a recall")
    hits = await hooks.recall("what was my tracking number", mode="fast")
    assert any("ZX 4411" in hit.text for hit in hits)
    await hooks.aclose()


async def test_the_words_each_earlier_call_settled_are_read_while_the_history_loads(store, tenant, monkeypatch):
    """A question that names a call by its words reads what each earlier call settled; that is worked out
    off the event loop while the history loads, not by the call's first recall."""
    from memory.call import history as call_history
    from memory.recall.query import settled_terms

    caller = await _caller_with_history(store, tenant)
    hooks = await store.open_call(tenant, {"phone": PHONE}, started_at=T0 + timedelta(days=2))
    try:
        assert hooks.caller_id == caller
        await hooks.preload()
        await hooks._history.ready()
        history = hooks._history
        expected = {e.call_id: settled_terms(e) for e in history.episodes.values()}
        worked_out: list[str] = []
        monkeypatch.setattr(call_history, "settled_terms", lambda e: worked_out.append(e.call_id) or frozenset())
        assert len(expected) == 2 and any(expected.values())
        assert {e.call_id: history._settled_terms(e) for e in history.episodes.values()} == expected
        assert not worked_out
        assert all((call_id, "terms") in history.working._per_call for call_id in expected)  # its turns' words too
        other = replace(next(iter(history.episodes.values())), summary="another summary")  # not the loaded one
        assert history._settled_terms(other) == frozenset() and worked_out == [other.call_id]
    finally:
        await hooks.aclose()

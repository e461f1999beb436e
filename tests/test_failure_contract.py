"""The failure contract: a database that stops answering never stalls or crashes the call."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from urllib.parse import urlparse

import pytest

import memory
from tests.tcp_proxy import FreezableProxy

FAST_POLICY = memory.MemoryPolicy(preload_timeout_s=0.5, recall_timeout_s=0.5)


@pytest.fixture
async def proxy(postgres_database):
    parsed = urlparse(postgres_database)
    p = await FreezableProxy(parsed.hostname or "127.0.0.1", parsed.port or 5432).start()
    yield p
    await p.aclose()


def via(proxy: FreezableProxy, url: str) -> str:
    parsed = urlparse(url)
    netloc = f"{parsed.username or 'postgres'}@127.0.0.1:{proxy.port}"
    return parsed._replace(netloc=netloc, query="connect_timeout=1").geturl()


@pytest.mark.slow
async def test_a_database_that_stops_answering_leaves_the_call_working(proxy, postgres_database, embedder):
    """Without a spool, what the database did not take is handed back at close (with one, see test_faults)."""
    store = await memory.open_store(
        via(proxy, postgres_database), default_policy=FAST_POLICY, embedder=embedder, spool_path=None
    )
    tenant = "t-failure"
    try:
        warm = await store.open_call(tenant, {"phone": "+1 415 555 0142"})
        warm.record_turn("user", "my router is broken")
        await warm.aclose()

        proxy.freeze()
        t0 = time.perf_counter()
        hooks = await store.open_call(tenant, {"phone": "+1 415 555 0142"})
        assert time.perf_counter() - t0 < 1.5
        assert not hooks.started

        t0 = time.perf_counter()
        pre = await hooks.preload()
        assert pre.text == "" and pre.source == "error"
        assert time.perf_counter() - t0 < 1.0

        t0 = time.perf_counter()
        hooks.record_turn("user", "the light on the router is blinking red")
        assert time.perf_counter() - t0 < 0.01
        hits = await hooks.recall("blinking red light")
        assert time.perf_counter() - t0 < 1.0
        assert hits and "blinking red" in hits[0].text  # this call's own words still work

        events = []
        hooks.add_listener(events.append)
        t0 = time.perf_counter()
        with pytest.raises(memory.MemoryWriteError) as caught:
            await hooks.aclose(timeout=2.0)
        assert time.perf_counter() - t0 < 4.0
        assert [text for _, text, _ in caught.value.unsaved] == ["the light on the router is blinking red"]
    finally:
        await asyncio.wait_for(store.aclose(), 5)


async def test_opening_a_store_on_a_port_that_never_answers_fails_fast(proxy, postgres_database):
    proxy.freeze()
    t0 = time.perf_counter()
    with pytest.raises(memory.StoreUnavailableError):
        await memory.open_store(via(proxy, postgres_database))
    assert time.perf_counter() - t0 < 3.0


async def test_an_unreachable_redis_leaves_memory_working_without_prepared_briefs(tmp_path, embedder, caplog):
    store = await memory.open_store(
        f"sqlite:///{tmp_path / 'm.db'}", redis_url="redis://127.0.0.1:1/0", embedder=embedder
    )
    try:
        assert "not answering" in caplog.text
        first = await store.open_call("t", {"phone": "+1 415 555 0142"})
        first.record_turn("user", "my router is broken")
        await first.aclose()
        t0 = time.perf_counter()
        again = await store.open_call("t", {"phone": "+1 415 555 0142"})
        pre = await again.preload()
        assert pre.source == "database" and "router is broken" in pre.text
        assert time.perf_counter() - t0 < 0.5  # the cache is skipped, not waited for
        await again.aclose()
    finally:
        await store.aclose()


async def test_a_call_started_while_the_database_was_down_is_stored_when_it_returns(tmp_path, embedder):
    """Writes retry: a short outage at call start loses nothing."""
    store = await memory.open_store(f"sqlite:///{tmp_path / 'm.db'}", embedder=embedder)
    backend = store.backend
    real = backend.insert_or_get_caller
    calls = {"n": 0}

    async def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("database restarting")
        return await real(*args, **kwargs)

    backend.insert_or_get_caller = flaky  # one failure of the real backend's first step, then the real thing
    try:
        hooks = await store.open_call("t", {"phone": "+1 415 555 0142"}, started_at=datetime(2026, 1, 1, tzinfo=UTC))
        assert not hooks.started
        hooks.record_turn("user", "hello after the outage")
        await hooks.aclose()
        assert hooks.started
        rows = await store.history("t", hooks.caller_id)
        assert [r.text for r in rows] == ["hello after the outage"]
    finally:
        await store.aclose()

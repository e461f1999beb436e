"""Retention runs on a schedule in the worker's main process, per tenant, not after every call."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path

import agent
import memory
from worker import runtime
from worker.runtime import RetentionSchedule, WorkerSettings

from .conftest import REPO


async def _seed(url: str, embedder, tenant: str, *, days_ago: int) -> str:
    store = await memory.open_store(url, embedder=embedder, spool_path=None)
    try:
        at = memory.values.utcnow() - timedelta(days=days_ago)
        hooks = await store.open_call(tenant, {"phone": "+1 415 555 0142"}, started_at=at)
        hooks.record_turn("user", f"a line from {days_ago} days ago", at=at)
        await hooks.aclose()
        return hooks.caller_id
    finally:
        await store.aclose()


async def _lines(url: str, embedder, tenant: str, caller_id: str) -> list[str]:
    store = await memory.open_store(url, embedder=embedder, spool_path=None)
    try:
        return [r.text for r in await store.history(tenant, caller_id)]
    finally:
        await store.aclose()


async def test_a_run_purges_each_tenant_by_its_own_period(tmp_path: Path, embedder, caplog) -> None:
    url = f"sqlite:///{tmp_path / 'memory.db'}"
    short, keeps = "short-memory", "keeps-everything"
    caller = await _seed(url, embedder, short, days_ago=100)
    await _seed(url, embedder, short, days_ago=10)
    other = await _seed(url, embedder, keeps, days_ago=100)
    schedule = RetentionSchedule(
        url,
        {short: memory.MemoryPolicy(retention_days=30), keeps: memory.MemoryPolicy()},
        every_s=3600,
    )
    assert schedule.tenants == [short]
    with caplog.at_level(logging.INFO, logger="worker"):
        deleted = await schedule.run_once()
    assert deleted[short] >= 2 and keeps not in deleted  # the old turn and its call
    assert await _lines(url, embedder, short, caller) == ["a line from 10 days ago"]
    assert await _lines(url, embedder, keeps, other) == ["a line from 100 days ago"]
    assert any(f"retention: tenant {short}, " in r.getMessage() for r in caplog.records)


async def test_a_run_against_an_unusable_database_logs_why_and_tries_again_later(caplog) -> None:
    schedule = RetentionSchedule(
        "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1",
        {"t": memory.MemoryPolicy(retention_days=30)},
        every_s=3600,
    )
    assert await schedule.run_once() == {}
    line = next(r.getMessage() for r in caplog.records if "retention purge skipped" in r.getMessage())
    assert "StoreUnavailableError: cannot connect to Postgres at postgresql:127.0.0.1:1/none" in line


async def test_the_main_process_starts_the_schedule_when_the_server_starts(
    tmp_path: Path, embedder, monkeypatch
) -> None:
    """``build_server`` hangs the schedule on the agent server's ``worker_started`` (emitted in
    the main process once the server runs)."""
    url = f"sqlite:///{tmp_path / 'memory.db'}"
    tenant = "globex-bank"  # tenants.yaml keeps its memories 90 days
    caller = await _seed(url, embedder, tenant, days_ago=200)
    assert await _lines(url, embedder, tenant, caller) == ["a line from 200 days ago"]
    settings = WorkerSettings(tenants_file=REPO / "tenants.yaml", database_url=url, purge_every_s=3600)
    monkeypatch.setattr(runtime, "FIRST_PURGE_AFTER_S", 0.0)
    agent.build_server(settings, retention=False).emit("worker_started")  # the console's: no schedule
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "memory-retention"]
    server = agent.build_server(settings)
    server.emit("worker_started")
    for _ in range(100):
        if not await _lines(url, embedder, tenant, caller):
            break
        await asyncio.sleep(0.05)
    assert await _lines(url, embedder, tenant, caller) == []
    for task in asyncio.all_tasks():
        if task.get_name() == "memory-retention":
            task.cancel()

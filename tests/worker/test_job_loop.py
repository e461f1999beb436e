"""A job process opens its store while it idles in LiveKit's warm pool, before its call arrives.

LiveKit runs the worker's prewarm before a job process has an event loop; ``worker.job_loop``
schedules work on that loop as soon as LiveKit creates it. The end-to-end test runs LiveKit's own
process pool (``ProcPool``, job processes from a fresh interpreter, prewarm then entrypoint) with
the worker's real prewarm against the real Postgres and Redis.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import threading
import uuid

import asyncpg
import pytest

from worker.job_loop import on_job_loop

from . import loop_jobs
from .test_host_embedder import fake_job, job_pool, wait_for_file


def _in_thread(fn):
    result: dict = {}

    def run() -> None:
        try:
            result["value"] = fn()
        except BaseException as exc:
            result["error"] = exc

    t = threading.Thread(target=run)
    t.start()
    t.join(10)
    if "error" in result:
        raise result["error"]
    return result["value"]


def test_a_callback_runs_on_the_loop_set_after_it_was_registered() -> None:
    def scenario() -> list:
        seen: list = []
        on_job_loop(lambda loop: seen.append(("first", loop)))
        on_job_loop(lambda loop: seen.append(("second", loop)))
        assert seen == []  # no loop yet: nothing ran
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)  # what LiveKit's _ProcClient.run() does
        assert seen == []  # scheduled, not run, until the loop runs
        loop.run_until_complete(asyncio.sleep(0))
        asyncio.set_event_loop(None)
        other = asyncio.new_event_loop()
        asyncio.set_event_loop(other)  # the hook took itself out: a later loop gets nothing
        other.run_until_complete(asyncio.sleep(0))
        asyncio.set_event_loop(None)
        loop.close()
        other.close()
        assert "set_event_loop" not in vars(asyncio.get_event_loop_policy())
        return [(name, got is loop) for name, got in seen]

    assert _in_thread(scenario) == [("first", True), ("second", True)]


def test_a_callback_registered_on_a_running_loop_runs_on_it_and_a_failing_one_is_logged(caplog) -> None:
    async def scenario() -> list:
        seen: list = []
        on_job_loop(lambda loop: 1 / 0)
        on_job_loop(lambda loop: seen.append(loop is asyncio.get_running_loop()))
        await asyncio.sleep(0)
        return seen

    assert _in_thread(lambda: asyncio.run(scenario())) == [True]
    assert "a job-loop callback failed" in caplog.text


def test_another_threads_loop_does_not_take_the_callbacks() -> None:
    seen: list = []

    def scenario() -> None:
        on_job_loop(lambda loop: seen.append(loop))
        _in_thread(lambda: asyncio.run(asyncio.sleep(0)))  # asyncio.run sets a loop in another thread
        assert seen == []
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        loop.run_until_complete(asyncio.sleep(0))
        asyncio.set_event_loop(None)
        loop.close()

    _in_thread(scenario)
    assert len(seen) == 1


@pytest.mark.slow
async def test_job_processes_find_their_store_open_on_one_connection(
    tmp_path, monkeypatch, postgres_database, redis_url
) -> None:
    monkeypatch.setenv("MEMORY_DATABASE_URL", postgres_database)
    monkeypatch.setenv("MEMORY_REDIS_URL", redis_url)
    monkeypatch.setenv("MODEL_PROVIDERS", "offline")
    monkeypatch.setenv("MEMORY_SPOOL_PATH", str(tmp_path / "spool.db"))
    monkeypatch.delenv("MEMORY_POOL_SIZE", raising=False)
    monkeypatch.delenv("MEMORY_OPEN_BEFORE_CALL", raising=False)
    loop = asyncio.get_running_loop()
    pool = job_pool(
        loop_jobs.prewarm,
        loop_jobs.entrypoint,
        idle=3,
        initialize_timeout=120,
        mp_ctx=multiprocessing.get_context("spawn"),
    )
    run = uuid.uuid4().hex[:8]
    jobs = [
        {"call_id": f"loop-{run}-{i}", "phone": f"+1415556{i:04d}", "out": str(tmp_path / f"{i}.json")}
        for i in range(3)
    ]
    before = await _connections(postgres_database)
    try:
        await pool.start()
        deadline = loop.time() + 120
        # the warm processes prewarm, then open their stores while idle: one connection each
        while await _connections(postgres_database) < before + 3:
            assert loop.time() < deadline, "the idle job processes did not open their stores"
            await asyncio.sleep(0.2)
        for job in jobs:
            await pool.launch_job(fake_job(json.dumps(job)))
        reports = [json.loads(await wait_for_file(tmp_path / f"{i}.json", 120)) for i in range(3)]
    finally:
        await pool.aclose()
    for report in reports:
        assert "error" not in report, report
        assert report["ready_at_job_start"] is True
        assert report["waited_ms"] < 50
        assert report["pool"]["max"] == 1  # MEMORY_POOL_SIZE's default for a job process
    conn = await asyncpg.connect(postgres_database)
    try:
        stored = await conn.fetchval(
            "SELECT count(*) FROM memories WHERE call_id = ANY($1::text[]) AND kind = 'turn'",
            [j["call_id"] for j in jobs],
        )
    finally:
        await conn.close()
    assert stored == 9


async def _connections(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    finally:
        await conn.close()

"""What the job processes of ``test_job_loop`` run (importable, so LiveKit's process pool can start
them): the worker's own prewarm, and an entrypoint that reports how it found the store."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

from livekit.agents import JobContext, JobProcess

import agent

from .host_jobs import write_report


def prewarm(proc: JobProcess) -> None:
    agent.prewarm(proc)
    proc.userdata["prewarmed_at"] = time.time()


async def entrypoint(ctx: JobContext) -> None:
    job = json.loads(ctx.job.metadata)
    deps = ctx.proc.userdata["deps"]
    try:
        ready = deps.store.ready  # before anything of the job touches it
        t0 = time.perf_counter()
        store = await deps.store.get()
        waited_ms = (time.perf_counter() - t0) * 1000
        hooks = await store.open_call("acme-telecom", {"phone": job["phone"]}, call_id=job["call_id"])
        for i in range(3):
            hooks.record_turn("user", f"turn {i} of {job['call_id']}")
        await hooks.aclose(timeout=30)
        report = {
            "pid": os.getpid(),
            "ready_at_job_start": ready,
            "waited_ms": waited_ms,
            "pool": store.backend.pool_stats,
            "opened_ms": deps.store.opened_ms,
        }
        await deps.store.aclose()
    except Exception as exc:
        report = {"error": f"{type(exc).__name__}: {exc}"}
    await asyncio.to_thread(write_report, Path(job["out"]), report)
    ctx.shutdown("done")

"""A LiveKit worker whose jobs are memory calls, serving its Prometheus metrics:
``python -m tests.metrics_worker METRICS_PORT MULTIPROC_DIR DATABASE_URL JOBS``.

It runs LiveKit's own ``AgentServer`` unregistered (no LiveKit server: jobs are simulated, as the
console does) with ``prometheus_port`` and ``prometheus_multiproc_dir``, so the endpoint is the
worker's own and each job runs in a job process of LiveKit's pool. Each job places one call on the
memory store at ``DATABASE_URL``: open, preload, turns, a recall of each mode, close. ``READY`` is
printed once the worker has started and the jobs are launched; it serves until SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from livekit.agents import AgentServer, JobContext, JobExecutorType

import memory

TENANT = "acme-telecom"
CALLER_PHONE = "+14155550142"
SAID = (
    ("user", "Hi, this is Dana Reyes, I was charged twice for my November bill."),
    ("assistant", "I've filed a refund of $42.10 under ticket 8842."),
    ("user", "Thanks, and my postcode is 94110."),
)


async def entrypoint(ctx: JobContext) -> None:
    """One memory call in the job process (the database URL comes in the job's environment)."""
    import os

    store = await memory.open_store(os.environ["METRICS_WORKER_DATABASE_URL"])
    try:
        hooks = await store.open_call(TENANT, {"phone": CALLER_PHONE})
        await hooks.preload()
        for role, text in SAID:
            hooks.record_turn(role, text)
        await hooks.flushed()
        await hooks.recall("the refund of my double charge", mode="fast")
        await hooks.recall("what ticket was the refund under", mode="accurate")
        await hooks.aclose()
    finally:
        await store.aclose()
    ctx.shutdown("memory call done")


async def main(port: int, multiproc_dir: str, jobs: int) -> None:
    from tests import metrics_worker  # the entrypoint by its module name, for the job processes to import

    server = AgentServer(
        job_executor_type=JobExecutorType.PROCESS,
        num_idle_processes=0,
        port=0,
        host="127.0.0.1",
        prometheus_port=port,
        prometheus_multiproc_dir=multiproc_dir,
    )
    server.rtc_session(metrics_worker.entrypoint, agent_name="metrics-test")
    started = asyncio.Event()
    server.on("worker_started", lambda *_: started.set())
    run = asyncio.create_task(server.run(devmode=False, unregistered=True))
    await asyncio.wait({run, asyncio.ensure_future(started.wait())}, return_when=asyncio.FIRST_COMPLETED)
    for n in range(jobs):
        await server.simulate_job(f"metrics-room-{n}", fake_job=True)
    print("READY", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await asyncio.wait({run, asyncio.ensure_future(stop.wait())}, return_when=asyncio.FIRST_COMPLETED)
    await server.aclose()


if __name__ == "__main__":
    port_arg, dir_arg, url_arg, jobs_arg = sys.argv[1:5]
    import os

    os.environ["METRICS_WORKER_DATABASE_URL"] = url_arg
    asyncio.run(main(int(port_arg), dir_arg, int(jobs_arg)))

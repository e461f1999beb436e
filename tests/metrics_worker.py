"""A LiveKit worker whose jobs are memory calls, serving its Prometheus metrics:
``python -m tests.metrics_worker METRICS_PORT MULTIPROC_DIR DATABASE_URL JOBS SPANS_DIR``.

It runs LiveKit's own ``AgentServer`` unregistered (no LiveKit server: jobs are simulated, as the
console does) with the metrics options the worker derives from ``METRICS_PORT`` and
``PROMETHEUS_MULTIPROC_DIR`` (``agent.metrics_options``), so the endpoint is the worker's own and
each job runs in a job process of LiveKit's pool. Each job places one call on the memory store at
``DATABASE_URL``: open, preload, turns, a recall of each mode, close. Each job process records
LiveKit's spans (its tracer provider set in the process's setup, before the job's root span) and
writes them to ``SPANS_DIR/spans-<pid>.json`` with the job's root span. ``READY`` is printed once
the worker has started and the jobs are launched; it serves until SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from livekit.agents import AgentServer, JobContext, JobExecutorType, JobProcess
from livekit.agents.telemetry import set_tracer_provider
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import memory
from agent import metrics_options
from worker.runtime import WorkerSettings

TENANT = "acme-telecom"
CALLER_PHONE = "+14155550142"
SAID = (
    ("user", "Hi, this is Dana Reyes, I was charged twice for my November bill."),
    ("assistant", "I've filed a refund of $42.10 under ticket 8842."),
    ("user", "Thanks, and my postcode is 94110."),
)


SPANS = InMemorySpanExporter()


def setup(proc: JobProcess) -> None:
    """In each job process, before its job: LiveKit's tracer records into ``SPANS``."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(SPANS))
    set_tracer_provider(provider)


def dump_spans() -> None:
    job = trace.get_current_span().get_span_context()  # the job's root span, still open
    spans = [
        {
            "name": s.name,
            "trace_id": s.context.trace_id,
            "span_id": s.context.span_id,
            "parent_id": s.parent.span_id if s.parent else None,
            "attributes": dict(s.attributes or {}),
        }
        for s in SPANS.get_finished_spans()
    ]
    record = {"job": {"trace_id": job.trace_id, "span_id": job.span_id}, "spans": spans}
    path = Path(os.environ["METRICS_WORKER_SPANS_DIR"]) / f"spans-{os.getpid()}.json"
    path.write_text(json.dumps(record))


async def entrypoint(ctx: JobContext) -> None:
    """One memory call in the job process (the database URL comes in the job's environment)."""
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
    dump_spans()
    ctx.shutdown("memory call done")


async def main(port: str, multiproc_dir: str, jobs: int) -> None:
    from tests import metrics_worker  # the functions by their module's name, for the job processes to import

    settings = WorkerSettings.from_env({"METRICS_PORT": port, "PROMETHEUS_MULTIPROC_DIR": multiproc_dir})
    server = AgentServer(
        job_executor_type=JobExecutorType.PROCESS,
        num_idle_processes=0,
        port=0,
        host="127.0.0.1",
        setup_fnc=metrics_worker.setup,
        **metrics_options(settings),
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
    port_arg, dir_arg, url_arg, jobs_arg, spans_arg = sys.argv[1:6]
    os.environ["METRICS_WORKER_DATABASE_URL"] = url_arg  # the job processes inherit these
    os.environ["METRICS_WORKER_SPANS_DIR"] = spans_arg
    asyncio.run(main(port_arg, dir_arg, int(jobs_arg)))

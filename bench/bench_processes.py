"""The worker as LiveKit runs it: one job process per call, one embedding model per host.

    python -m bench.bench_processes                     # 10 and 50 concurrent calls
    python -m bench.bench_processes --calls 10,50,100   # and 100 (about 150 MB of RAM per call)
    python -m bench.bench_processes --quick             # 3 calls, short: checks that it runs
    python -m bench.bench_processes --ipc-only          # only what the host embedder's IPC adds
    python -m bench.bench_processes --json out.json     # also write the numbers
    python -m bench.bench_processes --open-at-call --pool-size 2   # the store opened by the call, 2 connections
    python -m bench.bench_processes --compare --calls 50 # each level as before and now, in one run (ratios)
    python -m bench.bench_processes --calls 100 --pgbouncer   # the job processes through a PgBouncer

Nothing here stands in for LiveKit's process model: each level starts LiveKit's own
``AgentServer`` (unregistered: no LiveKit server is needed) with the worker's prewarm
(:func:`agent.prewarm`), LiveKit's process pool (a forkserver with LiveKit's preloads, one job
process per call, ``num_idle_processes`` = the level so every call finds a warm process) and its
inference process holding the one embedding model (:func:`memory.livekit.register_runner`).
Calls are fake jobs (``simulate_job``, as ``console`` starts them); each runs the worker's real
call path (:func:`worker.call.start_call`: tenant, store, open and preload, the session with
the offline stand-in for the language model, turns recorded from session events) with scripted
caller turns, against one Postgres and one Redis. Every caller is a returning caller (one
earlier call, seeded first). Calls start ``--spread`` seconds apart (0.2: 50 calls over 10 s,
each lasting about 25 s); the report gives how many ran at once at most.

Measured per level:
- resident memory of each job process (RSS and USS, psutil): before the memory layer is imported,
  after ``import memory``, after the whole worker is imported, after prewarm, and at the end of
  the call with its memory in use. Memory's share = what ``import memory`` adds + what the call
  adds after prewarm (store, pools, caches, working set; an upper bound: the session is in it);
- Postgres connections in use (``pg_stat_activity`` for the database, sampled every 0.25 s);
- store open (a job process opens the store for its call), open + preload of the call (the
  worker's ``memory_setup``), the first recall of a call (fast for even calls, accurate for odd),
  on two timelines (``--first-recall``; by default alternately, two calls in four each way):
  ``spoken``, when a real call's first recall can come at the earliest (the bench's session has no
  audio out and says its greeting at once: the greeting's playout and the caller's question are
  waited for at 150 words a minute, then LiveKit's shortest end-of-turn delay), and ``immediate``,
  as soon as the greeting's handle is done (the worst case: the caller's history still loading).
  The headline first-recall figures are the spoken ones; the immediate ones are reported beside
  them (``first_recall_immediate_*``), with how many calls had their history loaded by then;
- event-loop lag p99 of the job processes for the whole call: how late each tick of LiveKit's own
  loop monitor comes (a timer in every job process, every 50 ms at the worker's setting, :data:`agent.LOOP_BLOCK_WARN_MS`; a 10 ms sleep probe where it is off);
- turns stored exactly once: rows per call in ``memories`` against the turns the session recorded.

And once, the cost of the host embedder's IPC: one job process embeds short queries, each in turn
with the model in process (on the store's embedding thread, loaded for this comparison only), through
the inference process by the direct channel (the worker's path) and through the worker's main process
(LiveKit's path: job -> main -> inference process and back); the difference of the p95s is what the
IPC adds. Also the part of each that is not the model's run, and the CPU per query of the three
processes together (steadier than wall time on a shared machine).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import json
import math
import os
import random
import re
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import psutil
from livekit.agents import AgentServer, JobContext, JobProcess, get_job_context
from livekit.agents.inference_runner import _InferenceRunner

from memory.call.writer import SPOOL_AFTER_S

CONFIGS: dict[str, dict[str, str | None]] = {
    # the worker as it was: the store opened by the call on a pool of 2, turns and queries in one queue
    "before": {
        "MEMORY_OPEN_BEFORE_CALL": "0",
        "MEMORY_POOL_SIZE": "2",
        "MEMORY_TURN_LANE": "0",
        "MEMORY_QUERY_DEADLINE": "off",
        "MEMORY_EMBED_DIRECT": "0",
    },
    "now": {},  # the worker's defaults
}
ENV = "BENCH_PROCESSES"  # the file with the job processes' settings (rewritten for each level: the
# forkserver, and so every job process, keeps the environment it was started with)
TENANT = "acme-telecom"
LAG_EVERY_S = 0.01
IPC_QUERIES = 1000  # each embedded four ways
REPORT_WITHIN_S = 300.0  # a call not reported by then counts as failed
CLOSE_WITHIN_S = 120.0  # a server not closed by then (a job process hung) has its processes killed
PGBOUNCER_POOL = 20  # PgBouncer's server connections for the job processes (--pgbouncer)


# --------------------------------------------------------------------------- job process side


class EchoRunner(_InferenceRunner):
    """An inference runner that sends its request back: the round trip of LiveKit's IPC alone."""

    INFERENCE_METHOD: ClassVar[str] = "bench_processes_echo"

    def initialize(self) -> None:
        pass

    def run(self, data: bytes) -> bytes:
        return data


def _mem() -> dict[str, float]:
    info = psutil.Process().memory_full_info()
    return {"rss_mb": info.rss / 2**20, "uss_mb": info.uss / 2**20, "pss_mb": info.pss / 2**20}


def _cpu_self() -> dict[str, float]:
    """This process's CPU seconds so far: all threads, and the event loop's (main) thread alone."""
    proc = psutil.Process()
    times = proc.cpu_times()
    main_id = threading.main_thread().native_id
    names = {t.native_id: re.sub(r"[-_]\d+", "", t.name) for t in threading.enumerate()}
    by_name: dict[str, float] = {}
    main = 0.0
    for t in proc.threads():
        cpu = t.user_time + t.system_time
        if t.id == main_id:
            main = cpu
        name = names.get(t.id, "other")
        by_name[name] = by_name.get(name, 0.0) + cpu
    return {"total_s": times.user + times.system, "main_s": main, "threads": by_name}


class _GcTimer:
    """The garbage collector's passes on this thread (the event loop's), timed: how many of each
    generation and their milliseconds, since :meth:`start` (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.ms = 0.0
        self.by_generation = [0, 0, 0]
        self._thread = threading.get_ident()
        self._started_at: float | None = None

    def start(self) -> _GcTimer:
        gc.callbacks.append(self._on_gc)
        return self

    def stop(self) -> None:
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if threading.get_ident() != self._thread:
            return
        if phase == "start":
            self._started_at = time.perf_counter()
        elif self._started_at is not None:
            self.ms += (time.perf_counter() - self._started_at) * 1000
            self.by_generation[info["generation"]] += 1
            self._started_at = None


def _settings() -> dict[str, Any]:
    return json.loads(Path(os.environ[ENV]).read_text())


def _set_settings(**values: Any) -> None:
    path = Path(os.environ[ENV])
    current = json.loads(path.read_text()) if path.exists() else {}
    _write_json(path, {**current, **values})


def bench_prewarm(proc: JobProcess) -> None:
    """The worker's prewarm, with the process's memory read around each step."""
    settings = _settings()
    cpu_start = _cpu_self()
    if not settings.get("memory", True):  # the control: the same worker and calls, memory off
        os.environ["MEMORY_ENABLED"] = "0"
    for name, value in settings.get("job_env", {}).items():  # this run's worker settings (see CONFIGS)
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    marks = {"start": _mem()}
    import memory  # noqa: F401  (what the memory layer's import costs on its own)

    marks["memory_imported"] = _mem()
    import agent

    marks["worker_imported"] = _mem()
    _count_replays(proc)
    agent.prewarm(proc)
    # the stand-in's own cost, not the worker's: a fake job's room is a unittest.mock object, and
    # importing unittest.mock takes a job's loop for 0.3-1 s of CPU at its start (a real job's room is not)
    import livekit.agents.ipc.mock_room  # noqa: F401

    import bench.synthetic  # noqa: F401  (the bench's scripted callers)

    marks["prewarmed"] = _mem()
    proc.userdata["bench_marks"] = marks
    proc.userdata["bench_cpu"] = {"prewarm_start": cpu_start, "prewarmed": _cpu_self()}
    ready = Path(settings["out"]) / "ready"
    ready.mkdir(parents=True, exist_ok=True)
    (ready / str(os.getpid())).touch()


async def bench_entrypoint(ctx: JobContext) -> None:
    settings = await asyncio.to_thread(_settings)
    kind, level, index = ctx.job.room.name.split("-")
    out = Path(settings["out"]) / level / f"{kind}-{index}.json"
    cpu = {**ctx.proc.userdata.get("bench_cpu", {}), "entrypoint": _cpu_self()}
    profiler = None
    if settings.get("profile") and kind == "call":  # the event loop's thread, in CPU time
        profiler = cProfile.Profile(time.thread_time)
        profiler.enable()
    try:
        if kind == "ipc":
            report = await _ipc_job(settings)
        else:
            report = await _call_job(ctx, settings, int(index))
    except Exception as exc:
        report = {"error": f"{type(exc).__name__}: {exc}"}
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(str(Path(settings["profile"]) / f"{level}-{index}.prof"))
    report["cpu"] = {**cpu, "end": _cpu_self()}
    await asyncio.to_thread(_write_json, out, report)
    ctx.shutdown("bench call done")


async def _call_job(ctx: JobContext, settings: dict[str, Any], index: int) -> dict[str, Any]:
    from bench import synthetic
    from memory.livekit import CallerIdentity
    from worker.call import start_call

    lag: list[float] = []
    gc_timer = _GcTimer().start()
    stop = asyncio.Event()
    probe = _loop_lag_from_monitor(lag) or asyncio.create_task(_loop_lag(stop, lag))
    deps = ctx.proc.userdata["deps"]
    from memory.livekit import HostEmbedder

    if isinstance(deps.embedder, HostEmbedder):  # as agent.entrypoint does
        deps.embedder.bind(ctx.inference_executor)
    rng = random.Random(index)
    report: dict[str, Any] = {"pid": os.getpid(), "memory": deps.store is not None, "started_at": time.time()}
    if deps.store is not None:
        report["store_ready_at_call"] = deps.store.ready
        t0 = time.perf_counter()
        if await deps.store.get() is None:
            raise RuntimeError("the store did not open")
        report["store_open_ms"] = (time.perf_counter() - t0) * 1000
    identity = CallerIdentity(customer_id=TENANT, identifiers={"phone": synthetic.caller_phone(index)})
    call = await start_call(deps, identity, call_id=f"{settings['run']}-{ctx.job.room.name}")
    if call.greeting is not None:
        await call.greeting
    modes = ("fast", "accurate") if index % 2 == 0 else ("accurate", "fast")
    timeline = settings.get("timeline") or TIMELINES[(index // 2) % 2]
    report["timeline"] = timeline
    if deps.store is not None:
        if call.memory is None:
            raise RuntimeError("the call has no memory")
        query = synthetic.queries(rng)
        if timeline == "spoken":  # the greeting played out, the caller's question spoken, end of turn
            report["spoken_wait_s"] = wait_s = spoken_wait_s(_greeting_text(call.session), query)
            await asyncio.sleep(wait_s)
        report["history_ready_at_recall"] = _history_loaded(call.memory.hooks)
        store = await deps.store.get()
        t0 = time.perf_counter()
        await store.embed([f"probe {index}: {synthetic.queries(rng)}"])  # a query's embedding alone, just before
        report["query_embed_ms"] = (time.perf_counter() - t0) * 1000
        report["query_direct"] = isinstance(deps.embedder, HostEmbedder) and deps.embedder.direct_open
        late_before = _late_vectors(modes[0])
        queries_before = getattr(deps.embedder, "queries", 0)
        phases = _time_recall_phases(call.memory.hooks)
        gc0, cpu0, t0 = gc_timer.ms, time.process_time(), time.perf_counter()
        hits = await call.memory.recall(query, mode=modes[0])
        phases["cpu_of_process"] = (time.process_time() - cpu0) * 1000
        report["first_recall_gc_ms"] = gc_timer.ms - gc0
        # the linker and the history are awaited inside query_vector (the query is embedded meanwhile)
        if "query_vector" in phases:  # absent when the recall ran out of its budget (the step ends later)
            phases["query_vector"] -= phases.get("linker_settle", 0.0) + phases.get("history_ready", 0.0)
        total = (time.perf_counter() - t0) * 1000
        phases["between_steps"] = total - sum(v for k, v in phases.items() if k != "cpu_of_process")
        report["first_recall_phases_ms"] = dict(phases)  # the later recall reuses the wrappers
        report.update(
            call_id=call.memory.call_id,
            memory_setup_ms=call.timings_ms["memory_setup"],
            brief=bool(call.memory.brief),
            first_recall_mode=modes[0],
            first_recall_ms=(time.perf_counter() - t0) * 1000,
            first_recall_hits=len(hits),
            first_recall_by_words=_late_vectors(modes[0]) > late_before,
        )
        report["first_recall_query_ms"] = await _query_way(deps.embedder, queries_before, t0)
    script = synthetic.caller_history(29, index, 20)[0].turns
    for text in [t.text for t in script if t.role == "user"][: settings["turns"]]:
        await asyncio.sleep(rng.uniform(0.5, 1.5) * settings["turn_every"])
        await call.session.run(user_input=text)
    if call.memory is not None:
        await call.memory.recall(synthetic.queries(rng), mode=modes[1])
    report["ended_at"] = time.time()
    gc_timer.stop()
    report["gc"] = {"ms": gc_timer.ms, "by_generation": gc_timer.by_generation}
    stop.set()
    if isinstance(probe, asyncio.Task):
        await probe
    else:
        probe()
    used = _mem()  # after the lag probe: reading smaps takes the loop for a while
    report["recorded_turns"] = sum(
        1
        for item in call.session.history.items
        if item.type == "message" and item.role in ("user", "assistant") and (item.text_content or "").strip()
    )
    await call.aclose()
    if deps.store is not None:
        await deps.store.aclose()
    report.update(marks={**ctx.proc.userdata["bench_marks"], "call_used": used}, loop_lag_ms=lag)
    report["turns_by_state"] = {state: _counted(f"memory_turns_{state}") for state in ("stored", "spooled")}
    report["spooled_calls_replayed"] = ctx.proc.userdata.get("bench_replays", [0])[0]
    report["replayed"] = ctx.proc.userdata.get("bench_replayed", [])
    return report


def _counted(name: str) -> float:
    return _counter_value(name, tenant=TENANT)


def _count_replays(proc: JobProcess) -> None:
    """Count the spooled calls this process replays (a call's turns reach the spool when the database
    has not taken them within ``SPOOL_AFTER_S``; replaying stores the call again)."""
    import memory.caller_store as caller_store

    count = proc.userdata["bench_replays"] = [0]
    seen = proc.userdata["bench_replayed"] = []
    replay = caller_store.replay_call

    async def counted(services: Any, call: Any, *args: Any, **kwargs: Any) -> bool:
        count[0] += 1
        seen.append([call.call_id, len(call.rows), time.time()])
        return await replay(services, call, *args, **kwargs)

    caller_store.replay_call = counted  # type: ignore[assignment]


TIMELINES = ("immediate", "spoken")
"""When a call's first recall comes. ``immediate``: as soon as the greeting's handle is done, which
in the bench's session (no room, no audio out) is at once: the worst case, the history loading
beside it. ``spoken``: when it can come in a real call at the earliest: the greeting played out at
a normal speaking rate, then the caller's question spoken at the same rate, then LiveKit's shortest
end-of-turn delay (the language model's time to call the recall tool is not counted)."""
WORDS_PER_S = 2.5  # 150 words a minute: a normal speaking rate, the agent's and the caller's
END_OF_TURN_S = 0.3  # LiveKit's shorter min_delay preset for the end of the caller's turn


def spoken_wait_s(greeting: str, question: str) -> float:
    """Seconds from the greeting's start to the earliest moment its answer can ask for a recall."""
    return (len(greeting.split()) + len(question.split())) / WORDS_PER_S + END_OF_TURN_S


def _greeting_text(session: Any) -> str:
    """What the agent said first (the greeting, said or generated)."""
    for item in session.history.items:
        if item.type == "message" and item.role == "assistant" and (item.text_content or "").strip():
            return str(item.text_content)
    return ""


def _history_loaded(hooks: Any) -> bool:
    """Whether the caller's history is loaded (no load under way) and the linker has settled."""
    task = hooks._history._task
    return task is None or task.done()


def _time_recall_phases(hooks: Any) -> dict[str, float]:
    """Wrap the steps of the call's next recall (see ``CallHooks._recall``) to time each: waiting for
    the linker, for the caller's history, then for the query's vector (the rest of its deadline), the ranking."""
    import memory.call.hooks as hooks_module

    phases: dict[str, float] = {}

    def timed(name: str, fn: Any) -> Any:
        async def run(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                phases[name] = (time.perf_counter() - t0) * 1000

        return run

    def timed_sync(name: str, fn: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                phases[name] = (time.perf_counter() - t0) * 1000

        return run

    hooks._linker.settle = timed("linker_settle", hooks._linker.settle)
    hooks._history.ready = timed("history_ready", hooks._history.ready)
    hooks._history.rank = timed_sync("rank", hooks._history.rank)
    hooks_module.query_vector = timed("query_vector", hooks_module.query_vector)
    return phases


QUERY_WAY = ("to_runner", "runner_wait", "model", "to_loop", "to_task")
"""The way of a first recall's query through the host's embedder, in ms: from the job's request to
the runner's thread having it (the job's write, that thread's wake-up), waiting there for another
query in the model, the model's run, from the run's end to the job's event loop having the reply
(the write, the loop's wake-up), then to the recall's task resuming; and ``turns``: texts of a
batch of the turns lane in the model when it came."""


async def _query_way(embedder: Any, before: int, started: float) -> dict[str, float]:
    """The way of the first query the embedder answers after ``before`` (its count of answered queries)
    (a late one is still on its way when the recall returns: waited for, up to a second)."""
    for _ in range(100):
        if getattr(embedder, "queries", 0) > before:
            break
        await asyncio.sleep(0.01)
    else:
        return {}
    t = embedder.last_query
    if "received" not in t or "arrived" not in t:
        return {}
    marks = [t["sent"], t["received"], t["began"], t["ended"], t["arrived"], t["resumed"]]
    way = {k: (b - a) * 1000 for k, a, b in zip(QUERY_WAY, marks, marks[1:], strict=False)}
    # the recall's clock (perf_counter) against the host's (monotonic): when the query left, after the recall began
    way["after_recall_start"] = (t["sent"] - (time.monotonic() - (time.perf_counter() - started))) * 1000
    way["turns"] = t.get("turns", 0.0)
    return way


def _late_vectors(mode: str) -> float:
    return _counter_value("memory_recall_without_vector", mode=mode)


def _counter_value(name: str, **labels: str) -> float:
    """A counter of this process, read without collecting the whole registry (that takes a few ms of
    the loop's CPU, beside the other calls' first recalls)."""
    from prometheus_client import REGISTRY

    counter = REGISTRY._names_to_collectors.get(name)  # private: the registry has no lookup by name
    if counter is None:
        return 0.0
    return float(counter.labels(**labels)._value.get())


class _TimedModel:
    """The in-process model, timing its own runs (on the store's embedding thread)."""

    def __init__(self, model: Any) -> None:
        self.model, self.name, self.dim = model, model.name, model.dim
        self.last_ms = 0.0

    def embed(self, texts: list[str]) -> Any:
        t0 = time.perf_counter()
        try:
            return self.model.embed(texts)
        finally:
            self.last_ms = (time.perf_counter() - t0) * 1000


IPC_WAYS = ("in_process", "direct", "livekit", "echo")


async def _ipc_job(settings: dict[str, Any]) -> dict[str, Any]:
    """Each query embedded four ways in turn, in this job process (the order rotating from one
    query to the next, so all four see the same moments of a shared machine): the model in this
    process on the store's embedding thread (loaded here for the comparison, after checking that
    the worker's prewarm did not load it); through the host's inference process by the direct
    channel; by LiveKit's path (job -> main -> inference process); and LiveKit's path to a runner
    that echoes (the IPC alone, same sizes). For each: the time end to end and, but for the echo,
    the part that is not the model's run (the runner's own time taken off: IPC and thread hops)."""
    import numpy as np

    from memory import embed
    from memory.embed import ThreadedEmbedder, default_embedder
    from memory.livekit import HostEmbedder
    from memory.livekit.embedder import decode_reply, encode_reply, encode_request

    # onnxruntime itself is loaded in a job process (the Silero VAD runs on it), the embedding model is not
    loaded_by_worker = bool(embed._defaults) or "tokenizers" in sys.modules
    direct, livekit = HostEmbedder(), HostEmbedder(direct=False)
    executor = get_job_context().inference_executor
    direct.bind(executor)  # sets up the direct channel, as the worker's entrypoint does
    model = _TimedModel(default_embedder())
    local = ThreadedEmbedder(model)
    await local.embed(["warm up"])
    await livekit.embed(["warm up"])
    for _ in range(1000):  # set up in the background after bind
        if direct.direct_open:
            break
        await asyncio.sleep(0.01)
    if not direct.direct_open:
        raise RuntimeError("the direct channel did not open")
    reply = encode_reply(direct.name, np.zeros((1, direct.dim), np.float32))  # a query's reply, in size
    times: dict[str, list[float]] = {}

    def add(key: str, value: float) -> None:
        times.setdefault(key, []).append(value)

    for i, query in enumerate(settings["queries"]):
        for way in IPC_WAYS[i % 4 :] + IPC_WAYS[: i % 4]:
            t0 = time.perf_counter()
            if way == "echo":
                await executor.do_inference(EchoRunner.INFERENCE_METHOD, encode_request([query]) + reply)
                add(way, (time.perf_counter() - t0) * 1000)
            elif way == "in_process":
                await local.embed([query])
                total = (time.perf_counter() - t0) * 1000
                add(way, total)
                add(f"{way}_hop", total - model.last_ms)
                add(f"{way}_run", model.last_ms)
            else:
                data = await (direct if way == "direct" else livekit)._request(encode_request([query]))
                assert data is not None
                decode_reply(data)
                total = (time.perf_counter() - t0) * 1000
                run_ms = float(json.loads(data.partition(b"\n")[0])["run_ms"])
                add(way, total)
                add(f"{way}_hop", total - run_ms)
                add(f"{way}_run", run_ms)
    cpu = {}  # CPU ms per query of the three processes together (this job, the worker's main, the inference)
    procs = [psutil.Process(), psutil.Process(settings["main_pid"]), psutil.Process(settings["inference_pid"])]
    block = settings["queries"][: settings["cpu_queries"]]
    for way in IPC_WAYS[:3]:
        before = [sum(p.cpu_times()[:2]) for p in procs]
        for query in block:
            if way == "in_process":
                await local.embed([query])
            else:
                await (direct if way == "direct" else livekit)._request(encode_request([query]))
        cpu[way] = [(sum(p.cpu_times()[:2]) - b) * 1000 / len(block) for p, b in zip(procs, before, strict=True)]
    local.close()
    return {
        "pid": os.getpid(),
        "model_in_job": loaded_by_worker,
        "direct_stayed_open": direct.direct_open,
        "cpu_ms_per_query": cpu,
        **times,
    }


def _loop_lag_from_monitor(samples: list[float]) -> Callable[[], None] | None:
    """Read the event loop's lag off LiveKit's own loop monitor (a job process runs one: a timer every
    20 ms and a watchdog thread), as each of its ticks comes late; returns the function that stops it.
    ``None`` when the monitor is off (then :func:`_loop_lag` probes). A probe of the bench's own would
    add its wake-ups to every job process's (a 10 ms timer is 100 a second), work a deployment has not."""
    from livekit.agents.telemetry import loop_monitor

    monitor = loop_monitor.get_monitor(asyncio.get_running_loop())
    if monitor is None:
        return None
    tick = monitor._on_tick  # private: the monitor exposes no measurement of its own
    stopped = False

    def on_tick() -> None:
        if not stopped:
            samples.append(max(0.0, (time.monotonic() - monitor._last_tick_at - monitor._tick) * 1000))
        tick()

    def stop() -> None:
        nonlocal stopped
        stopped = True
        monitor.__dict__.pop("_on_tick", None)

    monitor._on_tick = on_tick  # type: ignore[method-assign]  (it reschedules itself by this name)
    return stop


async def _loop_lag(stop: asyncio.Event, samples: list[float]) -> None:
    while not stop.is_set():
        t0 = time.perf_counter()
        await asyncio.sleep(LAG_EVERY_S)
        samples.append(max(0.0, (time.perf_counter() - t0 - LAG_EVERY_S) * 1000))


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


# --------------------------------------------------------------------------- the host side


def _server(processes: int) -> AgentServer:
    """LiveKit's server as the worker builds it, with the bench's prewarm and entrypoint."""
    import agent  # as in the worker's main process: its plugins are preloaded in the forkserver
    from memory.livekit import register_runner

    register_runner()
    agent.loop_monitor_defaults()  # as the worker's server (inherited by every process it starts)
    if EchoRunner.INFERENCE_METHOD not in _InferenceRunner.registered_runners:
        _InferenceRunner.register_runner(EchoRunner)
    server = AgentServer(
        setup_fnc=bench_prewarm,
        num_idle_processes=processes,
        load_threshold=math.inf,  # never shrink the warm pool for CPU load: every call gets a process
        initialize_process_timeout=300.0,
        shutdown_process_timeout=60.0,
        port=0,
        job_memory_warn_mb=2000,
        preload_modules=agent.PRELOAD_MODULES,  # as the worker's server
    )
    server.rtc_session(bench_entrypoint, agent_name="bench-processes")
    return server


@contextlib.asynccontextmanager
async def _serving(processes: int, out: Path) -> AsyncIterator[tuple[AgentServer, float]]:
    """A running server whose ``processes`` job processes have all prewarmed; yields it and the
    seconds that took."""
    others = {p.pid for p in psutil.Process().children(recursive=True)}  # not the server's (a PgBouncer)
    server = _server(processes)
    runner = asyncio.create_task(server.run(devmode=False, unregistered=True))
    ready = out / "ready"
    t0 = time.monotonic()
    try:
        while len(await asyncio.to_thread(lambda: list(ready.glob("*")) if ready.exists() else [])) < processes:
            if runner.done():
                runner.result()
                raise RuntimeError("the agent server stopped")
            if time.monotonic() - t0 > 60 + 10 * processes:
                raise TimeoutError("the job processes did not all prewarm")
            await asyncio.sleep(0.2)
        prewarm_s = time.monotonic() - t0
        await asyncio.sleep(1.0)  # the pool queues a process once its prewarm has returned
        yield server, prewarm_s
    finally:
        await _close_server(server, runner, others)


async def _close_server(server: AgentServer, runner: asyncio.Task[None], others: set[int]) -> None:
    """Close the server; when that does not end within :data:`CLOSE_WITHIN_S` (LiveKit waits for
    every job, and a job process stuck in its call never ends), kill the processes started for it
    (job processes, the forkserver, the inference process: this process's children but ``others``)
    so the run goes on or ends."""
    try:
        await asyncio.wait_for(server.aclose(), CLOSE_WITHIN_S)
    except (TimeoutError, Exception) as exc:
        print(f"the agent server did not close ({type(exc).__name__}): killing its processes", file=sys.stderr)
        for proc in psutil.Process().children(recursive=True):
            if proc.pid not in others:
                with contextlib.suppress(psutil.Error):
                    proc.kill()
    if not runner.done():
        runner.cancel()
    with contextlib.suppress(Exception, asyncio.CancelledError):
        await asyncio.wait_for(runner, 30)


async def _launch(server: AgentServer, out: Path, jobs: list[str], *, spread_s: float = 1.0) -> list[dict[str, Any]]:
    """Launch ``jobs`` (room names ``kind-level-index``) over ``spread_s`` and wait for their reports."""
    expected = [out / name.split("-")[1] / f"{name.split('-')[0]}-{name.split('-')[2]}.json" for name in jobs]
    for name in jobs:
        await server.simulate_job(name, fake_job=True)
        await asyncio.sleep(spread_s / len(jobs))
    # LiveKit's pool would now warm a new process for each one a call took; on the bench's host that
    # work would run beside the calls being measured (the server offers no public way to say so)
    server._proc_pool.set_target_idle_processes(0)
    deadline = time.monotonic() + REPORT_WITHIN_S
    while not all(await asyncio.to_thread(lambda: [p.exists() for p in expected])):
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    missing = {"error": f"no report within {REPORT_WITHIN_S:.0f} s (the job process hung or was killed)"}
    return [json.loads(await asyncio.to_thread(p.read_text)) if p.exists() else missing for p in expected]


async def _run_level(level: int, out: Path, db_url: str, *, spread_s: float) -> dict[str, Any]:
    """``level`` calls started over ``spread_s``, each in a warm job process of its own."""
    async with _serving(level, out) as (server, prewarm_s):
        connections: list[int] = []
        backends: dict[int, list[float]] = {}  # the database's server processes: CPU s first and last seen
        stop = asyncio.Event()
        sampler = asyncio.create_task(_sample_connections(db_url, stop, connections, backends))
        host0 = _host_cpu(server, out)
        try:
            reports = await _launch(server, out, [f"call-{level}-{i}" for i in range(level)], spread_s=spread_s)
        finally:
            stop.set()
            await sampler
        host = _cpu_delta(host0, _host_cpu(server, out))
        host["postgres_backends_s"] = sum(last - first for first, last in backends.values())
        spool_left = await asyncio.to_thread(_spool_left)
    return {
        "reports": reports,
        "connections": connections,
        "prewarm_s": prewarm_s,
        "spread_s": spread_s,
        "host_cpu_s": host,
        "spool_left": spool_left,
    }


def _spool_left() -> dict[str, int]:
    """What the host's spool holds once every call reported: calls and rows (the database took
    every turn: whatever is left is replayed again, stored once)."""
    import sqlite3

    path = os.environ.get("MEMORY_SPOOL_PATH")
    if not path or not Path(path).exists():
        return {}
    with contextlib.closing(sqlite3.connect(path, timeout=30)) as db:
        calls, closed = db.execute("SELECT count(*), coalesce(sum(closed), 0) FROM spooled_calls").fetchone()
        (rows,) = db.execute("SELECT count(*) FROM spooled_rows").fetchone()
    return {"calls": int(calls), "closed_calls": int(closed), "rows": int(rows)}


def _thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of ``pid``'s threads by niceness (Linux): the host embedder's turns lane runs
    niced, its queries (and everything else of the process) at the process's own."""
    ticks = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
                key = f"nice_{int(fields[16])}"
                out[key] = out.get(key, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
    return out


def _host_cpu(server: AgentServer, out: Path) -> dict[str, Any]:
    """CPU seconds so far of the host's processes but the job processes (which report their own):
    this one (the bench's driver and LiveKit's main process), the inference process (by thread
    niceness), the other children (the forkserver), Redis (shared with anything else using it), and
    the whole machine's busy time."""
    me = psutil.Process()
    inference = server._inference_executor  # private: the bench reads its process's CPU time
    inference_pid = inference.pid if inference is not None else None
    jobs = {int(p.name) for p in (out / "ready").glob("*")} if (out / "ready").exists() else set()
    others = 0.0
    for child in me.children(recursive=True):
        if child.pid in jobs or child.pid == inference_pid:
            continue
        with contextlib.suppress(psutil.Error):
            others += sum(child.cpu_times()[:2])
    redis = postgres = 0.0
    for proc in psutil.process_iter(["name"]):
        with contextlib.suppress(psutil.Error):
            if proc.info["name"] == "redis-server":
                redis += sum(proc.cpu_times()[:2])
            elif proc.info["name"] in ("postgres", "postmaster"):
                postgres += sum(proc.cpu_times()[:4])  # with its exited backends' (reaped by the postmaster)
    machine = psutil.cpu_times()
    return {
        "bench_tree_s": _tree_cpu(me),
        "postgres_all_s": postgres,
        "main_process_s": sum(me.cpu_times()[:2]),
        "inference_s": _thread_cpu(inference_pid) if inference_pid else {},
        "other_children_s": others,
        "redis_s": redis,
        "machine_busy_s": sum(machine) - machine.idle - machine.iowait,
        "wall_s": time.monotonic(),
    }


def _tree_cpu(root: psutil.Process) -> float:
    """CPU seconds of ``root`` and every process under it, with those that exited and were reaped
    inside the tree (a job process's start and exit count: the forkserver reaps them)."""
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += sum(proc.cpu_times()[:4])  # user, system, children_user, children_system
    return total


def _cpu_delta(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {k: _cpu_delta(v, b[k]) if isinstance(v, dict) else b[k] - v for k, v in a.items() if k in b} | {
        k: v for k, v in b.items() if k not in a
    }


async def _sample_connections(
    db_url: str, stop: asyncio.Event, samples: list[int], backends: dict[int, list[float]] | None = None
) -> None:
    import asyncpg

    name = db_url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(db_url)
    me = await conn.fetchval("SELECT pg_backend_pid()")
    rounds = 0
    try:
        while not stop.is_set():
            rounds += 1
            pids = [
                int(r[0])
                for r in await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", name)
                if r[0] != me
            ]
            samples.append(len(pids))  # not this sampler's own connection
            if backends is not None and (rounds % 4 == 1 or stop.is_set()):  # each second: cheaper
                for pid in pids:
                    with contextlib.suppress(psutil.Error):
                        cpu = sum(psutil.Process(pid).cpu_times()[:2])
                        backends.setdefault(pid, [cpu, cpu])[1] = cpu
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.25)
    finally:
        await conn.close()


async def _seed(db_url: str, redis_url: str, callers: int) -> None:
    """One earlier call for each caller, so every benchmarked call is a returning caller's."""
    import memory
    from bench import synthetic
    from bench.context import ROOT
    from worker.tenants import load_tenants

    tenants = load_tenants(ROOT / "tenants.yaml")
    policies = {t.id: t.memory for t in tenants.tenants.values()}
    store = await memory.open_store(db_url, redis_url=redis_url, policies=policies, spool_path=None)
    try:
        sem = asyncio.Semaphore(8)

        async def one(i: int) -> None:
            async with sem:
                call = synthetic.caller_history(11, i, 20)[0]
                hooks = await store.open_call(TENANT, {"phone": synthetic.caller_phone(i)}, started_at=call.started_at)
                for turn in call.turns:
                    hooks.record_turn(turn.role, turn.text, at=turn.at)
                await hooks.aclose(timeout=120)

        await asyncio.gather(*(one(i) for i in range(callers)))
    finally:
        await store.aclose()


async def _stored_turns(db_url: str, call_ids: list[str]) -> dict[str, int]:
    import asyncpg

    conn = await asyncpg.connect(db_url)
    try:
        rows = await conn.fetch(
            "SELECT call_id, count(*) AS n FROM memories WHERE call_id = ANY($1::text[]) AND kind = 'turn' "
            "GROUP BY call_id",
            call_ids,
        )
    finally:
        await conn.close()
    return {r["call_id"]: int(r["n"]) for r in rows}


def pct(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else float("nan")


def summarise(level: int, run: dict[str, Any], stored: dict[str, int]) -> dict[str, Any]:
    reports = run["reports"]
    failed = [r["error"] for r in reports if "error" in r]
    ok = [r for r in reports if "error" not in r]
    edges = sorted([(r["started_at"], 1) for r in ok] + [(r["ended_at"], -1) for r in ok])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)

    def mark(name: str, key: str) -> list[float]:
        return [r["marks"][name][key] for r in ok]

    def share(r: dict[str, Any], key: str) -> float:
        m = r["marks"]
        return (m["memory_imported"][key] - m["start"][key]) + (m["call_used"][key] - m["prewarmed"][key])

    def recall_ms(timeline: str, mode: str) -> list[float]:
        return [
            r["first_recall_ms"]
            for r in ok
            if r.get("first_recall_mode") == mode and r.get("timeline", "immediate") == timeline
        ]

    def timeline_of(timeline: str) -> dict[str, Any]:
        """The first recalls of the calls of one timeline (see :data:`TIMELINES`)."""
        calls = [r for r in ok if "first_recall_ms" in r and r.get("timeline", "immediate") == timeline]
        waits = [r["spoken_wait_s"] for r in calls if "spoken_wait_s" in r]
        return {
            "calls": len(calls),
            "history_ready_at_recall": sum(1 for r in calls if r.get("history_ready_at_recall")),
            "wait_s_min_median": (min(waits), statistics.median(waits)) if waits else None,
            **{
                f"{mode}_{name}_ms": pct(recall_ms(timeline, mode), q)
                for mode in ("fast", "accurate")
                for name, q in (("p50", 50), ("p95", 95))
            },
            "phases_p50_p95_ms": {
                phase: (pct(values, 50), pct(values, 95))
                for phase in (
                    "linker_settle",
                    "history_ready",
                    "query_vector",
                    "rank",
                    "between_steps",
                    "cpu_of_process",
                )
                if (
                    values := [
                        r["first_recall_phases_ms"][phase] for r in calls if phase in r["first_recall_phases_ms"]
                    ]
                )
            },
        }

    # the headline first recall is the spoken timeline's (when it can come in a real call); the
    # immediate one (the worst case) is kept beside it under its own name
    timelines = {t: timeline_of(t) for t in TIMELINES}
    headline = "spoken" if timelines["spoken"]["calls"] else "immediate"
    recall = {mode: recall_ms(headline, mode) for mode in ("fast", "accurate")}
    exact = sum(1 for r in ok if stored.get(r["call_id"], 0) == r["recorded_turns"])
    return {
        "calls": level,
        "failed": failed,
        "peak_concurrent_calls": peak,
        "spread_s": run["spread_s"],
        "prewarm_all_s": run["prewarm_s"],
        "rss_mb": {k: statistics.median(mark(k, "rss_mb")) for k in ok[0]["marks"]} if ok else {},
        "uss_mb": {k: statistics.median(mark(k, "uss_mb")) for k in ok[0]["marks"]} if ok else {},
        "pss_mb": {k: statistics.median(mark(k, "pss_mb")) for k in ok[0]["marks"]} if ok else {},
        "memory_share_rss_mb_median": statistics.median(share(r, "rss_mb") for r in ok) if ok else math.nan,
        "memory_share_rss_mb_max": max((share(r, "rss_mb") for r in ok), default=math.nan),
        "memory_share_uss_mb_median": statistics.median(share(r, "uss_mb") for r in ok) if ok else math.nan,
        "pg_connections_max": max(run["connections"], default=0),
        "pg_connections_median": statistics.median(run["connections"]) if run["connections"] else 0,
        "pg_connections_per_call": max(run["connections"], default=0) / level,
        "store_open_p50_ms": pct([r["store_open_ms"] for r in ok], 50),
        "store_open_p95_ms": pct([r["store_open_ms"] for r in ok], 95),
        "open_preload_p50_ms": pct([r["memory_setup_ms"] for r in ok], 50),
        "open_preload_p95_ms": pct([r["memory_setup_ms"] for r in ok], 95),
        "briefs": sum(1 for r in ok if r["brief"]),
        "stores_open_at_call": sum(1 for r in ok if r.get("store_ready_at_call")),
        "first_recalls_by_words": sum(1 for r in ok if r.get("first_recall_by_words")),
        "first_recall_phases_p50_p95_ms": {
            phase: (pct(values, 50), pct(values, 95))
            for phase in ("linker_settle", "history_ready", "query_vector", "rank", "between_steps", "cpu_of_process")
            if (
                values := [
                    r["first_recall_phases_ms"][phase] for r in ok if phase in r.get("first_recall_phases_ms", {})
                ]
            )
        },
        "first_recall_query_way_p50_p95_ms": {
            k: (pct(v, 50), pct(v, 95))
            for k in (*QUERY_WAY, "after_recall_start")
            if (v := [r["first_recall_query_ms"][k] for r in ok if k in r.get("first_recall_query_ms", {})])
        },
        "first_recall_query_with_turns_in_model": sum(
            1 for r in ok if r.get("first_recall_query_ms", {}).get("turns", 0) > 0
        ),
        "first_recall_timeline": headline,
        "first_recall_by_timeline": timelines,
        "first_recall_immediate_fast_p95_ms": timelines["immediate"]["fast_p95_ms"],
        "first_recall_immediate_accurate_p95_ms": timelines["immediate"]["accurate_p95_ms"],
        "first_recall_fast_p95_ms": pct(recall["fast"], 95),
        "first_recall_accurate_p95_ms": pct(recall["accurate"], 95),
        "first_recall_fast_p50_ms": pct(recall["fast"], 50),
        "first_recall_accurate_p50_ms": pct(recall["accurate"], 50),
        "loop_lag_p99_ms": pct([x for r in ok for x in r["loop_lag_ms"]], 99),
        "query_embed_p50_ms": pct([r["query_embed_ms"] for r in ok if "query_embed_ms" in r], 50),
        "query_embed_p95_ms": pct([r["query_embed_ms"] for r in ok if "query_embed_ms" in r], 95),
        "queries_direct": sum(1 for r in ok if r.get("query_direct")),
        "turns_recorded": sum(r["recorded_turns"] for r in ok),
        "turns_stored": sum(stored.get(r["call_id"], 0) for r in ok),
        "calls_stored_exactly_once": exact,
        "cpu_s": cpu_accounting(run, ok),
        "gc": _gc_summary(ok),
        "turns_spooled": sum(r.get("turns_by_state", {}).get("spooled", 0) for r in ok),
        "spooled_calls_replayed": sum(r.get("spooled_calls_replayed", 0) for r in ok),
        "spooled_calls_replayed_own": sum(
            1 for r in ok for call_id, *_ in r.get("replayed", []) if call_id == r.get("call_id")
        ),
        "spooled_replayed_rows": sum(n for r in ok for _, n, *_ in r.get("replayed", [])),
        "spooled_calls_replayed_live": _replayed_live(ok),
        "spool_left": run.get("spool_left", {}),
    }


def _gc_summary(ok: list[dict[str, Any]]) -> dict[str, Any]:
    """The garbage collector on the job processes' event loops: over the calls, and inside first recalls."""
    calls = [r["gc"] for r in ok if "gc" in r]
    first = [r["first_recall_gc_ms"] for r in ok if "first_recall_gc_ms" in r]
    return {
        "calls_ms_total": sum(c["ms"] for c in calls),
        "call_ms_p50_p95": (pct([c["ms"] for c in calls], 50), pct([c["ms"] for c in calls], 95)),
        "full_collections": sum(c["by_generation"][2] for c in calls),
        "collections": sum(sum(c["by_generation"]) for c in calls),
        "first_recalls_with_gc": sum(1 for ms in first if ms > 0),
        "first_recall_gc_ms_max": max(first, default=0.0),
    }


def _replayed_live(ok: list[dict[str, Any]]) -> int:
    """Replays of a call that had not ended yet (taken from a live process, its heartbeat late)."""
    ended = {r["call_id"]: r["ended_at"] for r in ok if "call_id" in r}
    return sum(1 for r in ok for call_id, _, at in r.get("replayed", []) if at < ended.get(call_id, 0.0))


def cpu_accounting(run: dict[str, Any], ok: list[dict[str, Any]]) -> dict[str, Any]:
    """Where the level's CPU went, in CPU seconds: the job processes (their prewarm, their warm wait
    before the call, the call itself on the event loop's thread and on the others), and the host's
    other processes over the calls (see :func:`_host_cpu`)."""
    jobs = [r["cpu"] for r in ok if "cpu" in r and "prewarm_start" in r["cpu"]]

    def total(a: str, b: str, key: str = "total_s") -> float:
        return sum(c[b][key] - c[a][key] for c in jobs)

    result: dict[str, Any] = {}
    if jobs:
        call = total("entrypoint", "end")
        call_loop = total("entrypoint", "end", "main_s")
        result["jobs"] = {
            "processes": len(jobs),
            "prewarm": total("prewarm_start", "prewarmed"),
            "warm_wait": total("prewarmed", "entrypoint"),
            "call": call,
            "call_event_loop": call_loop,
            "call_other_threads": call - call_loop,
            "call_by_thread": _by_thread(jobs),
        }
    host = run.get("host_cpu_s")
    if host:
        result["host"] = host
    return result


async def measure_ipc(out: Path, queries: int = IPC_QUERIES) -> dict[str, Any]:
    """What the host embedder's IPC adds to a query's embedding, against the model in process: one
    job process embeds ``queries`` short queries each way (see :func:`_ipc_job`)."""
    from bench import synthetic

    rng = random.Random(5)
    _set_settings(out=str(out), queries=[f"{synthetic.queries(rng)} ({i})" for i in range(queries)])
    async with _serving(1, out) as (server, _):
        inference = server._inference_executor  # private: the bench reads its process's CPU time
        _set_settings(
            main_pid=os.getpid(), inference_pid=inference.pid if inference else os.getpid(), cpu_queries=queries // 3
        )
        [report] = await _launch(server, out, ["ipc-ipc-0"], spread_s=0.0)
    if "error" in report:
        raise RuntimeError(f"the IPC job failed: {report['error']}")
    result: dict[str, Any] = {"queries": queries, "cpu_ms_per_query": report["cpu_ms_per_query"]}
    for key, values in report.items():
        if isinstance(values, list):
            result[f"{key}_p50_ms"], result[f"{key}_p95_ms"] = pct(values, 50), pct(values, 95)
    for way in ("direct", "livekit"):
        for q in (50, 95):
            result[f"{way}_adds_p{q}_ms"] = result[f"{way}_p{q}_ms"] - result[f"in_process_p{q}_ms"]
        paired = [a - b for a, b in zip(report[way], report["in_process"], strict=True)]
        result[f"{way}_adds_paired_p50_ms"], result[f"{way}_adds_paired_p95_ms"] = pct(paired, 50), pct(paired, 95)
    # the worker's path (the direct channel) under the names the README's rows read
    result.update(
        host_p50_ms=result["direct_p50_ms"],
        host_p95_ms=result["direct_p95_ms"],
        ipc_adds_p50_ms=result["direct_adds_p50_ms"],
        ipc_adds_p95_ms=result["direct_adds_p95_ms"],
        job_loaded_the_model=report["model_in_job"],
        direct_stayed_open=report["direct_stayed_open"],
    )
    return result


@contextlib.contextmanager
def _environ_restored() -> Iterator[None]:
    """The environment as it was, after a run that set the job processes' settings in it (a caller
    in the same process, the harness's tests, must not inherit them)."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


async def measure(
    postgres_url: str,
    redis_url: str,
    levels: list[int],
    *,
    turns: int = 8,
    turn_every: float = 2.5,
    spread_per_call_s: float = 0.2,
    ipc: bool = True,
    control: bool = True,
    partial: Path | None = None,
    job_env: dict[str, str | None] | None = None,
    compare: bool = False,
    pgbouncer: bool = False,
    ipc_queries: int = IPC_QUERIES,
    timeline: str | None = None,
    profile: Path | None = None,
) -> dict[str, Any]:
    """Every measurement of this module (see its docstring) on a fresh database; JSON-able.
    ``pgbouncer``: the job processes reach Postgres through a PgBouncer started for the run
    (transaction pooling, :data:`PGBOUNCER_POOL` server connections), as a host of many calls does;
    the harness (seeding, counting) goes to Postgres directly.
    ``partial``: a file rewritten with the results so far after each level. ``job_env``: worker
    settings of the job processes; ``compare``: each level run once per :data:`CONFIGS` (before,
    now), one after the other, on the same database and machine. ``timeline``: when every call's first
    recall comes (one of :data:`TIMELINES`); by default half the calls each way (two calls in four spoken)."""
    job_env = dict(job_env or {})
    profile_dir = None
    if profile is not None:
        profile_dir = await asyncio.to_thread(
            lambda: (profile.mkdir(parents=True, exist_ok=True), profile.resolve())[1]
        )
    import asyncpg

    from bench.context import Context

    ctx = Context(scale="default", postgres_url=postgres_url, redis_url=redis_url, out_dir=Path("."))
    result: dict[str, Any] = {
        "levels": [],
        "machine": _machine(),
        "turns": turns,
        "turn_every_s": turn_every,
        "spread_per_call_s": spread_per_call_s,
        "job_env": job_env,
        "compare": compare,
        "pgbouncer": {"server_pool_size": PGBOUNCER_POOL} if pgbouncer else None,
        "first_recall_timeline": timeline or "both",
        "spoken": {"words_per_s": WORDS_PER_S, "end_of_turn_s": END_OF_TURN_S},
    }
    with tempfile.TemporaryDirectory(prefix="bench-processes-") as tmp, _environ_restored():
        async with ctx.temp_database("processes") as db_url, _pgbouncer(db_url, levels, on=pgbouncer) as jobs_url:
            os.environ.update(
                {
                    "MEMORY_DATABASE_URL": jobs_url,
                    "MEMORY_REDIS_URL": redis_url,
                    "MODEL_PROVIDERS": "offline",
                    "MEMORY_SPOOL_PATH": str(Path(tmp) / "spool.db"),
                    ENV: str(Path(tmp) / "settings.json"),
                }
            )
            _set_settings(
                out=tmp,
                run=uuid.uuid4().hex[:8],
                turns=turns,
                turn_every=turn_every,
                job_env=job_env,
                timeline=timeline,
                profile=str(profile_dir) if profile_dir else None,
            )
            if levels:
                print(f"seeding {max(levels)} returning callers ...", file=sys.stderr)
                await _seed(db_url, redis_url, max(levels))
            admin = await asyncpg.connect(db_url)
            await admin.execute("SELECT pg_stat_reset()")
            await admin.close()
            if ipc:
                print("measuring the host embedder's IPC ...", file=sys.stderr)
                result["ipc"] = await measure_ipc(Path(tmp), ipc_queries)
                print(_ipc_line(result["ipc"]), file=sys.stderr)
            baseline: dict[str, float] = {}
            if control and levels:
                level = min(levels)
                print(f"control: {level} calls with memory off ...", file=sys.stderr)
                _set_settings(out=str(Path(tmp) / "control"), memory=False)
                spread = spread_per_call_s * level
                reports = (await _run_level(level, Path(tmp) / "control", db_url, spread_s=spread))["reports"]
                _set_settings(memory=True)
                failed = [r["error"] for r in reports if "error" in r]
                if failed:
                    raise RuntimeError(f"control calls failed: {failed[0]}")
                baseline = {
                    key: statistics.median(r["marks"]["call_used"][key] for r in reports)
                    for key in ("rss_mb", "uss_mb", "pss_mb")
                }
                result["control"] = {"calls": level, "call_used_median": baseline}
                print(f"  a job process at the end of a call without memory: {baseline}", file=sys.stderr)
            configs = list(CONFIGS.items()) if compare else [("", {})]
            for level in levels:
                for config, env in configs:
                    label = f" [{config}]" if config else ""
                    print(f"{level} concurrent calls ({level} job processes){label} ...", file=sys.stderr)
                    out = Path(tmp) / f"level-{level}{config}"
                    _set_settings(out=str(out), job_env={**job_env, **env})
                    one = await _run_level(level, out, db_url, spread_s=spread_per_call_s * level)
                    call_ids = [r["call_id"] for r in one["reports"] if "call_id" in r]
                    stored = await _stored_turns(db_url, call_ids)
                    summary = summarise(level, one, stored)
                    summary["config"] = config or "as set"
                    summary["job_env"] = {**job_env, **env}
                    if baseline and summary["rss_mb"]:
                        summary["memory_share_vs_control_mb"] = {
                            key: summary[key.split("_")[0] + "_mb"]["call_used"] - baseline[key]
                            for key in ("rss_mb", "uss_mb", "pss_mb")
                        }
                    result["levels"].append(summary)
                    print(render_level(summary), file=sys.stderr)
                    if partial is not None:
                        _write_json(partial, result)
                if compare:
                    print(render_ratios(result["levels"][-len(configs) :]), file=sys.stderr)
    return result


@contextlib.asynccontextmanager
async def _pgbouncer(db_url: str, levels: list[int], *, on: bool) -> AsyncIterator[str]:
    """The URL the job processes use: ``db_url`` itself, or (``on``) the same database through a
    PgBouncer in transaction mode started for the run and stopped after it (before the database is
    dropped)."""
    if not on:
        yield db_url
        return
    from urllib.parse import urlparse

    from tests.pgbouncer import PgBouncer

    user = urlparse(db_url).username or "postgres"
    clients = 2 * max(levels, default=1) + 50  # every job process, busy or warm, and a margin
    bouncer = await asyncio.to_thread(
        PgBouncer.start, db_url, [user], server_pool_size=PGBOUNCER_POOL, max_client_conn=clients
    )
    try:
        yield bouncer.url_for(db_url, statement_cache_size="0")
    finally:
        await asyncio.to_thread(bouncer.stop)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    return await measure(
        args.postgres,
        args.redis,
        [] if args.ipc_only else [int(x) for x in args.calls.split(",")],
        turns=args.turns,
        turn_every=args.turn_every,
        spread_per_call_s=args.spread,
        ipc=not args.no_ipc,
        control=not args.no_control,
        partial=args.json,
        job_env=_job_env(args),
        compare=args.compare,
        pgbouncer=args.pgbouncer,
        timeline=None if args.first_recall == "both" else args.first_recall,
        profile=args.profile,
    )


def _job_env(args: argparse.Namespace) -> dict[str, str | None]:
    env: dict[str, str | None] = {}
    if args.pool_size is not None:
        env["MEMORY_POOL_SIZE"] = str(args.pool_size)
    if args.open_at_call:
        env["MEMORY_OPEN_BEFORE_CALL"] = "0"
    return env


RATIO_KEYS = (
    "store_open_p95_ms",
    "open_preload_p95_ms",
    "first_recall_fast_p95_ms",
    "first_recall_accurate_p95_ms",
    "pg_connections_max",
    "loop_lag_p99_ms",
)


def render_ratios(summaries: list[dict[str, Any]]) -> str:
    """Before against now, at one level of the same run."""
    before, now = summaries[0], summaries[-1]
    lines = [f"  {now['calls']} calls, before -> now (same run):"]
    for key in RATIO_KEYS:
        a, b = before.get(key, math.nan), now.get(key, math.nan)
        ratio = f"x{a / b:.1f}" if b else "-"
        lines.append(f"    {key}: {a:.1f} -> {b:.1f} ({ratio})")
    ok = [s["calls"] - len(s["failed"]) for s in (before, now)]
    lines.append(f"    calls with memory: {ok[0]}/{before['calls']} -> {ok[1]}/{now['calls']}")
    return "\n".join(lines)


def _machine() -> dict[str, Any]:
    load1, load5, _ = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_avg_1m_at_start": round(load1, 2),
        "load_avg_5m_at_start": round(load5, 2),
    }


def _ipc_line(ipc: dict[str, Any]) -> str:
    def two(key: str) -> str:
        return f"{ipc[key + '_p50_ms']:.2f} / {ipc[key + '_p95_ms']:.2f}"

    return (
        f"query embedding in one job process, p50 / p95 ms over {ipc['queries']} queries, each embedded every way "
        f"in turn: the model in process {two('in_process')}; through the host's inference process by the direct "
        f"channel (the worker's path) {two('direct')}, through the worker's main process (LiveKit's path) "
        f"{two('livekit')}. The direct channel adds {ipc['direct_adds_p50_ms']:+.2f} / "
        f"{ipc['direct_adds_p95_ms']:+.2f} ms over in process (LiveKit's path {ipc['livekit_adds_p50_ms']:+.2f} / "
        f"{ipc['livekit_adds_p95_ms']:+.2f}). What is not the model's run (the runner's own time taken off): in "
        f"process, the embedding thread's hop, {two('in_process_hop')}; direct {two('direct_hop')}; LiveKit's path "
        f"{two('livekit_hop')}; an echo runner by LiveKit's path, same sizes, {two('echo')}. The model's own run: "
        f"in process {two('in_process_run')}, in the inference process {two('direct_run')}. CPU per query, the job, "
        "the worker's main and the inference process together (ms): "
        + ", ".join(
            f"{way} {sum(v):.2f} ({' + '.join(f'{x:.2f}' for x in v)})" for way, v in ipc["cpu_ms_per_query"].items()
        )
    )


def render_level(s: dict[str, Any]) -> str:
    rss, uss = s["rss_mb"], s["uss_mb"]
    lines = [
        f"  {s['calls']} calls started over {s['spread_s']:.0f} s (at most {s['peak_concurrent_calls']} at once): "
        f"{s['calls'] - len(s['failed'])} ok, {len(s['failed'])} failed"
        + (f" ({s['failed'][0]})" if s["failed"] else ""),
    ]
    if rss:
        lines += [
            "  job process RSS / PSS / USS, median MB: "
            + ", ".join(f"{k} {rss[k]:.0f}/{s['pss_mb'][k]:.0f}/{uss[k]:.0f}" for k in rss),
            f"  memory's share of a job process (its import + what the call added after prewarm): RSS median "
            f"{s['memory_share_rss_mb_median']:.1f} MB (max {s['memory_share_rss_mb_max']:.1f}), USS median "
            f"{s['memory_share_uss_mb_median']:.1f} MB",
            *(
                [
                    "  against the control (same calls, memory off), at the end of a call: "
                    + ", ".join(
                        f"{k.split('_')[0].upper()} +{v:.1f} MB" for k, v in s["memory_share_vs_control_mb"].items()
                    )
                ]
                if "memory_share_vs_control_mb" in s
                else []
            ),
            f"  Postgres connections in use: max {s['pg_connections_max']} ({s['pg_connections_per_call']:.2f} per call), "
            f"median {s['pg_connections_median']:.0f}",
            f"  store open p50 {s['store_open_p50_ms']:.1f} / p95 {s['store_open_p95_ms']:.1f} ms; "
            f"open + preload p50 {s['open_preload_p50_ms']:.1f} / p95 {s['open_preload_p95_ms']:.1f} ms "
            f"({s['briefs']} briefs; {s['stores_open_at_call']} calls found their store open)",
            *_timeline_lines(s),
            *(
                [
                    "  the first recall's query through the host's embedder, p50/p95 ms: "
                    + ", ".join(f"{k} {a:.1f}/{b:.1f}" for k, (a, b) in s["first_recall_query_way_p50_p95_ms"].items())
                    + f" ({s.get('first_recall_query_with_turns_in_model', 0)} came while a batch of turns was in the model)"
                ]
                if s.get("first_recall_query_way_p50_p95_ms")
                else []
            ),
            f"  ({s['first_recalls_by_words']} first recalls ranked by words, the vector late); a query's embedding "
            f"through the host just before the first recall: p50 {s['query_embed_p50_ms']:.1f} / p95 "
            f"{s['query_embed_p95_ms']:.1f} ms ({s.get('queries_direct', 0)} by the direct channel)",
            *_cpu_lines(s.get("cpu_s", {})),
            f"  turns spooled (the database late by {SPOOL_AFTER_S * 1000:.0f} ms) {s.get('turns_spooled', 0):.0f}; "
            f"spooled calls replayed {s.get('spooled_calls_replayed', 0)} (their own call "
            f"{s.get('spooled_calls_replayed_own', 0)}, before it ended {s.get('spooled_calls_replayed_live', 0)}; "
            f"{s.get('spooled_replayed_rows', 0)} rows); left in the spool "
            f"after the calls: {s.get('spool_left') or '-'}",
            *_gc_lines(s.get("gc")),
            f"  event-loop lag p99 {s['loop_lag_p99_ms']:.1f} ms; turns recorded {s['turns_recorded']}, stored "
            f"{s['turns_stored']}; calls stored exactly once {s['calls_stored_exactly_once']}/{s['calls'] - len(s['failed'])}",
        ]
    return "\n".join(lines)


def _gc_lines(g: dict[str, Any] | None) -> list[str]:
    if not g or not g.get("collections"):
        return []
    return [
        f"  garbage collection on the calls' event loops: {g['calls_ms_total']:.0f} ms in {g['collections']} passes "
        f"({g['full_collections']} full), per call p50 {g['call_ms_p50_p95'][0]:.1f} / p95 {g['call_ms_p50_p95'][1]:.1f} "
        f"ms; inside {g['first_recalls_with_gc']} first recalls (at most {g['first_recall_gc_ms_max']:.1f} ms)"
    ]


def _by_thread(jobs: list[dict[str, Any]]) -> dict[str, float]:
    """The calls' CPU seconds by thread name (threads started during the call count whole)."""
    out: dict[str, float] = {}
    for c in jobs:
        before, after = c["entrypoint"].get("threads", {}), c["end"].get("threads", {})
        for name, cpu in after.items():
            out[name] = out.get(name, 0.0) + cpu - before.get(name, 0.0)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def _cpu_lines(cpu: dict[str, Any]) -> list[str]:
    lines = []
    if "jobs" in cpu:
        j = cpu["jobs"]
        lines.append(
            f"  CPU s of the {j['processes']} job processes: prewarm {j['prewarm']:.1f}, warm wait {j['warm_wait']:.1f}, "
            f"the calls {j['call']:.1f} (event loop {j['call_event_loop']:.1f}, other threads "
            f"{j['call_other_threads']:.1f}: "
            + ", ".join(f"{k} {v:.1f}" for k, v in j.get("call_by_thread", {}).items() if k != "MainThread")
            + ")"
        )
    if "host" in cpu:
        h = {"other_children_s": 0.0, "postgres_backends_s": 0.0, "redis_s": 0.0, "machine_busy_s": 0.0, **cpu["host"]}
        lines.append(
            f"  CPU s over the calls ({h['wall_s']:.0f} s): main process {h['main_process_s']:.1f}, inference process "
            + (", ".join(f"{k} {v:.1f}" for k, v in sorted(h.get("inference_s", {}).items())) or "-")
            + f", other children {h['other_children_s']:.1f}, Postgres backends {h['postgres_backends_s']:.1f}, "
            f"Redis {h['redis_s']:.1f} (shared), the whole machine {h['machine_busy_s']:.1f}"
        )
        if "bench_tree_s" in h:
            other = h["machine_busy_s"] - h["bench_tree_s"] - h.get("postgres_all_s", 0.0) - h["redis_s"]
            lines.append(
                f"    of the machine's: this run's processes {h['bench_tree_s']:.1f} (the host's and every job "
                f"process's, from its start to its exit), Postgres {h.get('postgres_all_s', 0.0):.1f} (all its "
                f"processes), Redis {h['redis_s']:.1f}, and {other:.1f} of other work on the machine (not this run's)"
            )
    return lines


def _timeline_lines(s: dict[str, Any]) -> list[str]:
    lines = []
    for timeline, t in s.get("first_recall_by_timeline", {}).items():
        if not t["calls"]:
            continue
        when = (
            "after the greeting's playout and the caller's question (waits: min {:.1f} s, median {:.1f} s)".format(
                *t["wait_s_min_median"]
            )
            if timeline == "spoken" and t["wait_s_min_median"]
            else "as soon as the greeting's handle is done (at once here: the worst case)"
        )
        lines += [
            f"  first recall, {timeline} ({t['calls']} calls, {when}): p95 fast {t['fast_p95_ms']:.1f} / accurate "
            f"{t['accurate_p95_ms']:.1f} ms, p50 {t['fast_p50_ms']:.1f} / {t['accurate_p50_ms']:.1f} ms; the caller's "
            f"history loaded by then in {t['history_ready_at_recall']} of {t['calls']}",
            "    its steps p50/p95 ms: "
            + ", ".join(f"{k} {a:.1f}/{b:.1f}" for k, (a, b) in t["phases_p50_p95_ms"].items()),
        ]
    return lines


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from bench.context import default_postgres, default_redis

    parser = argparse.ArgumentParser(prog="python -m bench.bench_processes", description=__doc__.splitlines()[0])
    parser.add_argument("--calls", default="10,50", help="comma-separated concurrency levels (default 10,50)")
    parser.add_argument("--turns", type=int, default=8, help="caller turns per call (default 8)")
    parser.add_argument("--turn-every", type=float, default=2.5, help="mean seconds between caller turns (2.5)")
    parser.add_argument(
        "--spread", type=float, default=0.2, help="seconds between call starts (default 0.2: 50 calls start over 10 s)"
    )
    parser.add_argument(
        "--pool-size", type=int, help="Postgres connections of a job process's store (MEMORY_POOL_SIZE; default 1)"
    )
    parser.add_argument(
        "--open-at-call",
        action="store_true",
        help="open the store when the call starts, not in the idle process before it (MEMORY_OPEN_BEFORE_CALL=0)",
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="run each level twice in one run: the worker as it was (store opened by the call, pool of 2, one "
        "embedding queue, no query deadline) and as it is now",
    )
    parser.add_argument(
        "--first-recall",
        choices=("both", *TIMELINES),
        default="both",
        help="when a call's first recall comes: 'spoken' after the greeting played out and the caller's question "
        "(a real call's earliest), 'immediate' as soon as the greeting's handle is done (the worst case); 'both' "
        "(default): alternately, two calls in four each way",
    )
    parser.add_argument("--quick", action="store_true", help="3 calls of 2 turns: checks that it runs")
    parser.add_argument("--no-ipc", action="store_true", help="skip the IPC measurement")
    parser.add_argument(
        "--pgbouncer",
        action="store_true",
        help=f"the job processes through a PgBouncer started for the run (transaction mode, {PGBOUNCER_POOL} server "
        "connections): how a host of many calls runs (the pgbouncer binary must be installed)",
    )
    parser.add_argument("--ipc-only", action="store_true", help="only the IPC measurement (no calls)")
    parser.add_argument("--no-control", action="store_true", help="skip the control calls with memory off")
    parser.add_argument("--postgres", default=default_postgres(), help="a Postgres server's admin URL")
    parser.add_argument("--redis", default=default_redis(), help="a Redis database")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--profile",
        type=Path,
        help="profile each call's job process (cProfile, the event loop's thread, CPU time) into this folder "
        "(LEVEL-INDEX.prof; combine them with python -m bench.bench_processes --profile-report FOLDER)",
    )
    parser.add_argument("--profile-report", type=Path, help="print the combined profiles of a --profile folder")
    args = parser.parse_args(argv)
    if args.quick:
        args.calls, args.turns, args.turn_every, args.spread = "3", 2, 0.5, 0.1
    return args


def profile_report(folder: Path, *, top: int = 40) -> str:
    """The profiles of a ``--profile`` folder combined: CPU time by package, then the functions
    with the most CPU of their own and the most CPU below them."""
    import io
    import pstats

    files = sorted(folder.glob("*.prof"))
    if not files:
        return f"no profiles in {folder}"
    stats = pstats.Stats(str(files[0]), stream=io.StringIO())
    for f in files[1:]:
        stats.add(str(f))
    by_part: dict[str, float] = {}
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        by_part[_part(filename)] = by_part.get(_part(filename), 0.0) + tottime
    total = sum(by_part.values())
    out = io.StringIO()
    out.write(f"{len(files)} job processes, {total:.2f} CPU s on their event loops' threads; own time by part:\n")
    for part, t in sorted(by_part.items(), key=lambda kv: -kv[1]):
        out.write(f"  {part:40s} {t:8.2f} s  {100 * t / total:5.1f} %\n")
    for key in ("tottime", "cumulative"):
        stats.stream = out  # type: ignore[attr-defined]
        stats.sort_stats(key).print_stats(top)
    return out.getvalue()


def _part(filename: str) -> str:
    """A profiled function's part: the project's package and module, a library, or Python's own."""
    path = filename.replace("\\", "/")
    for root in ("memory", "worker", "bench"):
        if f"/{root}/" in path and "site-packages" not in path:
            tail = path.rsplit(f"/{root}/", 1)[1]
            return f"{root}/{tail.split('/')[0]}"
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/")[0]
    if path.startswith("~") or path.startswith("<"):
        return "builtins"
    if "/agent.py" in path:
        return "agent.py"
    return "python/" + path.rsplit("/", 1)[-1]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.profile_report:
        print(profile_report(args.profile_report))
        return 0
    result = asyncio.run(run(args))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0 if all(not level["failed"] for level in result["levels"]) else 1


if __name__ == "__main__":
    # LiveKit's pool pickles the prewarm and the entrypoint by module name: run them from the
    # importable module, not from __main__
    from bench import bench_processes

    sys.exit(bench_processes.main())

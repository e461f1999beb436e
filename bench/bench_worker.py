"""Benchmark what the memory layer adds to a call: set-up of the worker's entrypoint, and each turn.

    python -m bench --suites call_path      # SQLite and Postgres + Redis, in the benchmark report
    python bench/bench_worker.py [--calls 200] [--turns 6] [--callers 100]
    python bench/bench_worker.py --postgres postgresql://... --redis redis://...

``measure()`` runs the benchmark on one store and returns every number as a dict; the harness's
``call_path`` suite (bench/suites/call_path.py) and this file's command line both use it.

Calls go through the worker's entrypoint body (``worker.call.run_job``) against a fake room (no
LiveKit server), with the scripted LLM of the tests (no model keys) and the real memory store
(embedded SQLite by default). Every caller was seeded by a separate store instance, as another
worker process would have, so no preload comes from this process's own cache.

Reported:
  set-up    memory_setup: the memory part of call set-up (store handle, open_call, preload), which
            runs before session.start; and the whole entrypoint with memory vs without (memory
            disabled), whose difference is what a caller waits for.
  per turn  the memory layer's work on each turn (recording the user and assistant messages from
            session events and the pre-reply check in llm_node), on turns that carry no identifier;
            turns where an account number is said wait on purpose (up to the settle budget) for the
            link, and are reported apart.
  cold      opening the store, once per worker process (it overlaps the room connection).

``measure_faults()`` puts Postgres and Redis behind the test suite's fault proxy and times the greeting
(the entrypoint from the caller joining to the greeting being spoken) when the database hangs or
refuses at call start, when it is down as the process's store opens, and when Redis hangs: what a
caller waits for memory is bounded by the tenant's preload budget.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import memory
from memory.embed import MiniLMEmbedder, default_embedder
from tests.tcp_proxy import FaultProxy
from tests.worker.fakes import ScriptedProviders, fake_job, sip_caller
from worker.call import run_job
from worker.runtime import StoreHolder, WorkerDeps, WorkerSettings
from worker.tenants import parse_tenants

LINE = "+15105550100"
PLAIN_TURNS = [
    "Hi, I'm calling about my bill from last month.",
    "It shows two charges for the same plan.",
    "Yes, the one on the fourth.",
    "Can you tell me when I'll get the money back?",
    "Okay, and will I get an e-mail about it?",
    "Thanks, that's all for today.",
]
SEED_CALL = [
    ("user", "I was charged twice for my plan this month, account number {account}."),
    ("assistant", "I'm sorry. I've filed a refund request, ticket {ticket}. You'll see it within 5 days."),
    ("user", "Also my router keeps dropping the connection in the evening."),
    ("assistant", "I've scheduled a technician visit for Friday morning, booking {booking}."),
]
TARGETS = {"memory_setup_p95_ms": 20.0, "turn_memory_p99_ms": 1.0}
ROWS = (  # key, label, section
    ("memory_setup", "memory part (store handle + open_call + preload)", "set-up"),
    ("entrypoint_on", "entrypoint, memory on", "set-up"),
    ("entrypoint_off", "entrypoint, memory off", "set-up"),
    ("entrypoint_difference", "entrypoint difference (on - off, paired)", "set-up"),
    ("turn_memory", "memory work per turn (no identifier said)", "turn"),
    ("turn_recording", "  of which recording (per message)", "turn"),
    ("turn_before_reply", "  of which pre-reply check", "turn"),
    ("turn_floor", "  (empty listener pair, memory off: the floor)", "turn"),
    ("link_turn", "turn with an account number (waits for link)", "turn"),
    ("turn_on", "whole turn, memory on (scripted LLM)", "turn"),
    ("turn_off", "whole turn, memory off (scripted LLM)", "turn"),
)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def phone(i: int) -> str:
    return f"+1415555{i:04d}"


def tenants_for(tenant_id: str, *, preload_timeout_s: float | None = None):
    tenant: dict[str, Any] = {
        "id": tenant_id,
        "name": "Bench Telecom",
        "numbers": [LINE],
        "persona": "You are a support agent.",
        "greeting": "Thanks for calling, how can I help?",
    }
    if preload_timeout_s is not None:
        tenant["memory"] = {"preload_timeout_s": preload_timeout_s}
    return parse_tenants({"tenants": [tenant]})


async def seed(url: str, redis_url: str | None, tenant_id: str, callers: int, embedder: Any) -> None:
    store = await memory.open_store(url, redis_url=redis_url, embedder=embedder)
    try:
        for i in range(callers):
            hooks = await store.open_call(tenant_id, {"phone": phone(i)}, call_id=f"seed-{tenant_id}-{i}")
            for role, text in SEED_CALL:
                hooks.record_turn(role, text.format(account=f"{7000 + i}{i:04d}", ticket=8000 + i, booking=5000 + i))
            await hooks.aclose()
    finally:
        await store.aclose()


class TurnTimer:
    """Times the memory layer's work on each turn without touching the worker's code.

    Session listeners run in registration order: one registered before the memory's listener and
    one after it bracket the recording of each message; ``before_reply`` is wrapped on the call's
    memory object.
    """

    def __init__(self) -> None:
        self.recording: list[float] = []
        self.before_reply: list[float] = []
        self._t0 = 0.0

    def before_memory(self, session) -> None:
        session.on("conversation_item_added", self._start)

    def after_memory(self, call) -> None:
        call.session.on("conversation_item_added", self._stop)
        if call.memory is not None:
            original = call.memory.before_reply

            async def timed(chat_ctx):
                t0 = time.perf_counter()
                await original(chat_ctx)
                self.before_reply.append((time.perf_counter() - t0) * 1000)

            call.memory.before_reply = timed

    def _start(self, _event) -> None:
        self._t0 = time.perf_counter()

    def _stop(self, _event) -> None:
        self.recording.append((time.perf_counter() - self._t0) * 1000)


def stats(values: list[float]) -> dict[str, Any]:
    """n, p50, p95, p99 and max of a sample (nearest rank); ``None`` percentiles when it is empty."""
    if not values:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "max": None}
    return {
        "n": len(values),
        "p50": pct(values, 50),
        "p95": pct(values, 95),
        "p99": pct(values, 99),
        "max": max(values),
    }


async def one_call(deps: WorkerDeps, caller: int, turns: list[str], timer: TurnTimer, job: str) -> dict[str, Any]:
    participant = sip_caller(phone(caller), LINE, call_id=f"SCL_{job}")
    with fake_job(participant, job_id=job) as ctx:
        t0 = time.perf_counter()
        call = await run_job(ctx, deps, room_io_enabled=False, configure_session=timer.before_memory)
        setup_ms = (time.perf_counter() - t0) * 1000
        timer.after_memory(call)
        await call.greeting
        start_recording = len(timer.recording)
        start_reply = len(timer.before_reply)
        turn_ms = []
        for text in turns:
            t1 = time.perf_counter()
            await call.session.run(user_input=text)
            turn_ms.append((time.perf_counter() - t1) * 1000)
        recording = timer.recording[start_recording:]
        replies = timer.before_reply[start_reply:]
        await call.aclose()
    # per turn: the user message and the assistant reply are recorded, one check before the reply
    per_turn = [recording[2 * i] + recording[2 * i + 1] + replies[i] for i in range(min(len(replies), len(turns)))]
    return {
        "setup_ms": setup_ms,
        "memory_setup_ms": call.timings_ms.get("memory_setup"),
        "turn_ms": turn_ms,
        "per_turn_memory_ms": per_turn if call.memory is not None else [],
        "recording_ms": recording,  # per message, the greeting's left out
        "before_reply_ms": replies,
        "brief": bool(call.memory and call.memory.brief),
    }


def time_model_load(like: MiniLMEmbedder) -> float:
    """Milliseconds to load the embedding model afresh with ``like``'s settings (a worker's prewarm)."""
    t0 = time.perf_counter()
    MiniLMEmbedder(like.model_dir, cache_dir=like.cache_dir, quantized=like.quantized, max_length=like.max_length)
    return (time.perf_counter() - t0) * 1000


def _each(items: Iterable[Any], desc: str, unit: str = "it", total: int | None = None) -> Iterable[Any]:
    return items


async def measure(
    url: str,
    redis_url: str | None,
    embedder: Any,
    *,
    calls: int,
    turns: int,
    callers: int,
    warmup: int,
    embedder_load_ms: float | None = None,
    progress: Callable[..., Iterable[Any]] | None = None,
) -> dict[str, Any]:
    """Seed ``callers`` returning callers under a new tenant of the store at ``url``, then run
    ``warmup + calls`` calls of ``turns`` turns with memory and as many without, alternating.

    Returns every number of the report: ``rows`` (``ROWS``' keys, each n/p50/p95/p99/max in ms),
    ``cold`` (store open; the model load when ``embedder_load_ms`` is given) and ``targets``.
    Leaves the seeded callers in the store (see ``forget_seeded``).
    """
    progress = progress or _each
    turns = max(1, min(turns, len(PLAIN_TURNS)))
    tenant_id = f"bench-{uuid.uuid4().hex[:8]}"
    tenants = tenants_for(tenant_id)
    t0 = time.perf_counter()
    await seed(url, redis_url, tenant_id, callers, embedder)
    seed_s = time.perf_counter() - t0

    holder = StoreHolder(
        url=url,
        redis_url=redis_url,
        policies={tenant_id: tenants.tenants[tenant_id].memory},
        opener=functools.partial(memory.open_store, embedder=embedder),
    )

    def deps(enabled: bool) -> WorkerDeps:
        return WorkerDeps(
            settings=WorkerSettings(database_url=url, redis_url=redis_url, memory_enabled=enabled),
            tenants=tenants,
            providers=ScriptedProviders(),
            store=holder if enabled else None,
        )

    with_memory, without_memory = deps(True), deps(False)
    try:
        t0 = time.perf_counter()
        await holder.get()
        cold_open_ms = (time.perf_counter() - t0) * 1000

        timers = {True: TurnTimer(), False: TurnTimer()}
        results: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
        link_turn_ms: list[float] = []
        for i in progress(range(warmup + calls), desc="calls (memory on and off)", unit="call", total=warmup + calls):
            caller = i % callers
            for enabled, worker in ((True, with_memory), (False, without_memory)):
                result = await one_call(worker, caller, PLAIN_TURNS[:turns], timers[enabled], f"{enabled}-{i}")
                if i >= warmup:
                    results[enabled].append(result)
            if i >= warmup and i % 10 == 0:  # a caller reading out an account number (the link path)
                probe = TurnTimer()
                account = f"{7000 + caller}{caller:04d}"
                spoken = [f"My account number is {account}."]
                result = await one_call(with_memory, callers + i, spoken, probe, f"link-{i}")
                link_turn_ms += result["per_turn_memory_ms"]
    finally:
        await holder.aclose()

    mem, base = results[True], results[False]
    samples = {
        "memory_setup": [r["memory_setup_ms"] for r in mem if r["memory_setup_ms"] is not None],
        "entrypoint_on": [r["setup_ms"] for r in mem],
        "entrypoint_off": [r["setup_ms"] for r in base],
        "entrypoint_difference": sorted(m["setup_ms"] - b["setup_ms"] for m, b in zip(mem, base, strict=True)),
        "turn_memory": [x for r in mem for x in r["per_turn_memory_ms"]],
        "turn_recording": [x for r in mem for x in r["recording_ms"]],
        "turn_before_reply": [x for r in mem for x in r["before_reply_ms"]],
        "turn_floor": [x for r in base for x in r["recording_ms"]],
        "link_turn": link_turn_ms,
        "turn_on": [x for r in mem for x in r["turn_ms"]],
        "turn_off": [x for r in base for x in r["turn_ms"]],
    }
    rows = {key: stats(samples[key]) for key, _, _ in ROWS}
    setup_p95, turn_p99 = rows["memory_setup"]["p95"], rows["turn_memory"]["p99"]
    return {
        "params": {"calls": calls, "turns": turns, "callers": callers, "warmup": warmup},
        "tenant": tenant_id,
        "seed_s": seed_s,
        "calls_with_memory": len(mem),
        "returning_preloaded": sum(r["brief"] for r in mem),
        "calls_without_memory": len(base),
        "rows": rows,
        "cold": {"embedder_load_ms": embedder_load_ms, "store_open_ms": cold_open_ms},
        "targets": {
            "memory_setup_p95_ms": {
                "value": setup_p95,
                "goal": TARGETS["memory_setup_p95_ms"],
                "met": setup_p95 is not None and setup_p95 < TARGETS["memory_setup_p95_ms"],
            },
            "turn_memory_p99_ms": {
                "value": turn_p99,
                "goal": TARGETS["turn_memory_p99_ms"],
                "met": turn_p99 is not None and turn_p99 < TARGETS["turn_memory_p99_ms"],
            },
        },
    }


async def forget_seeded(url: str, redis_url: str | None, embedder: Any, result: dict[str, Any]) -> None:
    """Forget every caller ``measure`` left in a shared database (seeded, and linked by the probes)."""
    p = result["params"]
    store = await memory.open_store(url, redis_url=redis_url, embedder=embedder)
    try:
        for i in range(p["callers"] * 2 + p["calls"] + p["warmup"]):
            caller_id = await store.find_caller(result["tenant"], "phone", phone(i))
            if caller_id:
                await store.forget_caller(result["tenant"], caller_id)
    finally:
        await store.aclose()


FAULTS = (  # key, label, what the proxies do when the call starts
    ("healthy", "no fault (for reference)", {}),
    ("postgres_hung", "Postgres hung (the store open)", {"postgres": "hang"}),
    ("postgres_refused", "Postgres refused (the store open)", {"postgres": "refuse"}),
    ("postgres_down_at_start", "Postgres refused as the process's store opens", {"postgres": "refuse", "fresh": True}),
    ("redis_hung", "Redis hung (the store open)", {"redis": "hang"}),
)
FAULT_SLACK_MS = 100.0  # the greeting may come this much after the preload budget, at most


async def measure_faults(
    postgres_url: str,
    redis_url: str,
    embedder: Any,
    *,
    calls: int,
    callers: int = 10,
    budget_s: float = 1.5,
    progress: Callable[..., Iterable[Any]] | None = None,
) -> dict[str, Any]:
    """Time the greeting of returning callers while Postgres or Redis (behind fault proxies) fails at call
    start. ``budget_s`` is the tenant's ``preload_timeout_s``. Each case places ``calls`` calls; the
    fault is lifted before a call is closed (closing is not what is measured). Returns per case the
    greeting (``run_job``: the caller joined -> the greeting spoken) and memory's part of it, in ms."""
    progress = progress or _each
    tenant_id = f"bench-{uuid.uuid4().hex[:8]}"
    tenants = tenants_for(tenant_id, preload_timeout_s=budget_s)
    await seed(postgres_url, redis_url, tenant_id, callers, embedder)
    pg = await FaultProxy.for_url(postgres_url, 5432).start()
    rd = await FaultProxy.for_url(redis_url, 6379).start()
    proxied_pg, proxied_redis = pg.url(postgres_url, connect_timeout="1"), rd.url(redis_url)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as tmp:

        def holder() -> StoreHolder:
            return StoreHolder(
                url=proxied_pg,
                redis_url=proxied_redis,
                policies={tenant_id: tenants.tenants[tenant_id].memory},
                opener=functools.partial(memory.open_store, embedder=embedder),
                spool_path=Path(tmp) / "spool.db",
            )

        def deps(store: StoreHolder) -> WorkerDeps:
            settings = WorkerSettings(database_url=proxied_pg, redis_url=proxied_redis)
            return WorkerDeps(settings=settings, tenants=tenants, providers=ScriptedProviders(), store=store)

        shared = holder()
        try:
            await one_call(deps(shared), 0, PLAIN_TURNS[:1], TurnTimer(), "warm")  # the store open, the pool up
            for key, _, fault in progress(FAULTS, desc="faults at call start", unit="case"):
                greeting, memory_part, with_brief = [], [], 0
                for i in range(calls):
                    store = holder() if fault.get("fresh") else shared
                    await pg.set(fault.get("postgres", "pass"))
                    await rd.set(fault.get("redis", "pass"))
                    job = f"fault-{key}-{i}"
                    with fake_job(sip_caller(phone(i % callers), LINE, call_id=f"SCL_{job}"), job_id=job) as ctx:
                        t0 = time.perf_counter()
                        call = await run_job(ctx, deps(store), room_io_enabled=False)
                        greeting.append((time.perf_counter() - t0) * 1000)
                        memory_part.append(call.timings_ms.get("memory_setup", 0.0))
                        with_brief += bool(call.memory and call.memory.brief)
                        await call.greeting
                        await pg.set("pass")
                        await rd.set("pass")
                        await call.aclose()
                    if store is not shared:
                        await store.aclose()
                results[key] = {
                    "greeting": stats(greeting),
                    "memory": stats(memory_part),
                    "with_brief": with_brief,
                    "calls": calls,
                }
        finally:
            await shared.aclose()
            await pg.aclose()
            await rd.aclose()
    worst = max(results[k]["greeting"]["max"] for k, _, f in FAULTS if f)
    return {
        "params": {"calls": calls, "callers": callers, "warmup": 0, "budget_s": budget_s, "slack_ms": FAULT_SLACK_MS},
        "tenant": tenant_id,
        "cases": results,
        "target": {
            "worst_greeting_ms": worst,
            "goal_ms": budget_s * 1000 + FAULT_SLACK_MS,
            "met": worst <= budget_s * 1000 + FAULT_SLACK_MS,
        },
    }


def report_faults(result: dict[str, Any]) -> str:
    """The plain-text report of one ``measure_faults`` result."""
    p = result["params"]
    lines = [
        f"greeting under faults at call start (preload budget {p['budget_s'] * 1000:.0f} ms, {p['calls']} calls each)"
    ]
    for key, label, _ in FAULTS:
        case = result["cases"][key]
        lines.append(report_row(f"{label}: greeting", case["greeting"]))
        lines.append(report_row("  of which memory", case["memory"]) + f"  ({case['with_brief']} with the brief)")
    t = result["target"]
    lines.append(
        f"target: slowest greeting under a fault {t['worst_greeting_ms']:.0f} ms (<= {t['goal_ms']:.0f} ms): "
        f"{'met' if t['met'] else 'NOT met'}"
    )
    return "\n".join(lines)


def report_row(label: str, s: dict[str, Any], unit: str = "ms") -> str:
    if not s["n"]:
        return f"  {label:<46} (no samples)"
    return (
        f"  {label:<46} n={s['n']:<5} p50={s['p50']:8.3f} p95={s['p95']:8.3f} "
        f"p99={s['p99']:8.3f} max={s['max']:8.3f} {unit}"
    )


def report(result: dict[str, Any]) -> str:
    """The plain-text report of one ``measure`` result."""
    p, rows, cold, targets = result["params"], result["rows"], result["cold"], result["targets"]
    lines = [
        f"seeded {p['callers']} callers in {result['seed_s']:.1f} s",
        "",
        f"{result['calls_with_memory']} calls with memory ({result['returning_preloaded']} returning callers "
        f"preloaded), {result['calls_without_memory']} without; {p['turns']} turns each",
    ]
    for section, title in (("set-up", "call set-up"), ("turn", "per turn")):
        lines += ["", title]
        lines += [report_row(label, rows[key]) for key, label, where in ROWS if where == section]
    lines += ["", "cold start"]
    if cold["embedder_load_ms"] is not None:
        lines.append(
            f"  load the embedding model (prewarm, once per worker process): {cold['embedder_load_ms']:.1f} ms"
        )
    lines.append(
        "  open the store, model loaded (first call of a process, overlaps the room connection): "
        f"{cold['store_open_ms']:.1f} ms"
    )
    setup, turn = targets["memory_setup_p95_ms"], targets["turn_memory_p99_ms"]
    lines += [
        "",
        f"targets: set-up p95 {_ms(setup['value'], 2)} (< {setup['goal']:g} ms): {'met' if setup['met'] else 'NOT met'}; "
        f"per-turn p99 {_ms(turn['value'], 3)} (< {turn['goal']:g} ms): {'met' if turn['met'] else 'NOT met'}",
    ]
    return "\n".join(lines)


def _ms(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f} ms"


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.CRITICAL)
    if args.postgres:
        await memory.migrate(args.postgres)  # once, as a deployment does (opening a store never migrates)
    if args.faults:
        if not (args.postgres and args.redis):
            raise SystemExit("--faults needs --postgres and --redis (the servers the fault proxies stand before)")
        result = await measure_faults(
            args.postgres, args.redis, default_embedder(), calls=args.calls, budget_s=args.budget
        )
        print(report_faults(result))
        await forget_seeded(args.postgres, args.redis, default_embedder(), result)
        return
    with tempfile.TemporaryDirectory() as tmp:
        url = args.postgres or f"sqlite:///{Path(tmp) / 'bench.db'}"
        t0 = time.perf_counter()
        embedder = default_embedder()
        embedder_ms = (time.perf_counter() - t0) * 1000
        result = await measure(
            url,
            args.redis,
            embedder,
            calls=args.calls,
            turns=args.turns,
            callers=args.callers,
            warmup=args.warmup,
            embedder_load_ms=embedder_ms,
        )
        backend = f"{'postgres' if args.postgres else 'sqlite'}{' + redis' if args.redis else ''}"
        print(f"backend: {backend}; tenant {result['tenant']}")
        print(report(result))
        if args.postgres:  # leave the shared database as it was
            await forget_seeded(url, args.redis, embedder, result)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200, help="measured calls per variant (default 200)")
    parser.add_argument("--warmup", type=int, default=10, help="calls per variant before measuring (default 10)")
    parser.add_argument("--turns", type=int, default=6, help="user turns per call, at most 6 (default 6)")
    parser.add_argument("--callers", type=int, default=100, help="seeded returning callers (default 100)")
    parser.add_argument("--postgres", metavar="URL", help="postgresql:// URL (default: embedded SQLite)")
    parser.add_argument("--redis", metavar="URL", help="redis:// URL for prepared preloads")
    parser.add_argument("--faults", action="store_true", help="time the greeting with Postgres/Redis failing instead")
    parser.add_argument("--budget", type=float, default=1.5, help="the tenant's preload budget for --faults (s)")
    args = parser.parse_args(argv)
    args.turns = max(1, min(args.turns, len(PLAIN_TURNS)))
    return args


if __name__ == "__main__":
    asyncio.run(main(parse_args()))

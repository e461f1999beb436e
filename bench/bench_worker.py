"""Benchmark what the memory layer adds to a call: set-up of the worker's entrypoint, and each turn.

    python bench/bench_worker.py [--calls 200] [--turns 6] [--callers 100]
    python bench/bench_worker.py --postgres postgresql://... --redis redis://...

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
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import memory
from memory.embed import default_embedder
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


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def row(name: str, values: list[float], unit: str = "ms") -> str:
    if not values:
        return f"  {name:<46} (no samples)"
    return (
        f"  {name:<46} n={len(values):<5} p50={pct(values, 50):8.3f} p95={pct(values, 95):8.3f} "
        f"p99={pct(values, 99):8.3f} max={max(values):8.3f} {unit}"
    )


def phone(i: int) -> str:
    return f"+1415555{i:04d}"


def tenants_for(tenant_id: str):
    return parse_tenants(
        {
            "tenants": [
                {
                    "id": tenant_id,
                    "name": "Bench Telecom",
                    "numbers": [LINE],
                    "persona": "You are a support agent.",
                    "greeting": "Thanks for calling, how can I help?",
                }
            ]
        }
    )


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
        "brief": bool(call.memory and call.memory.brief),
    }


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.ERROR)
    tmp = tempfile.TemporaryDirectory()
    url = args.postgres or f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    tenant_id = f"bench-{uuid.uuid4().hex[:8]}"
    tenants = tenants_for(tenant_id)
    t0 = time.perf_counter()
    embedder = default_embedder()
    embedder_ms = (time.perf_counter() - t0) * 1000
    print(f"backend: {'postgres' if args.postgres else 'sqlite'}{' + redis' if args.redis else ''}; tenant {tenant_id}")

    t0 = time.perf_counter()
    await seed(url, args.redis, tenant_id, args.callers, embedder)
    print(f"seeded {args.callers} callers in {time.perf_counter() - t0:.1f} s")

    def deps(enabled: bool) -> WorkerDeps:
        holder = StoreHolder(
            url=url,
            redis_url=args.redis,
            policies={tenant_id: tenants.tenants[tenant_id].memory},
            opener=functools.partial(memory.open_store, embedder=embedder),
        )
        return WorkerDeps(
            settings=WorkerSettings(database_url=url, redis_url=args.redis, memory_enabled=enabled),
            tenants=tenants,
            providers=ScriptedProviders(),
            store=holder if enabled else None,
        )

    with_memory, without_memory = deps(True), deps(False)
    t0 = time.perf_counter()
    store = await with_memory.store.get()
    cold_open_ms = (time.perf_counter() - t0) * 1000

    timers = {True: TurnTimer(), False: TurnTimer()}
    results: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
    link_turn_ms: list[float] = []
    for i in range(args.warmup + args.calls):
        caller = i % args.callers
        for enabled, worker in ((True, with_memory), (False, without_memory)):
            result = await one_call(worker, caller, PLAIN_TURNS[: args.turns], timers[enabled], f"{enabled}-{i}")
            if i >= args.warmup:
                results[enabled].append(result)
        if i >= args.warmup and i % 10 == 0:  # a caller reading out an account number (the link path)
            probe = TurnTimer()
            account = f"{7000 + caller}{caller:04d}"
            spoken = [f"My account number is {account}."]
            result = await one_call(with_memory, args.callers + i, spoken, probe, f"link-{i}")
            link_turn_ms += result["per_turn_memory_ms"]

    mem, base = results[True], results[False]
    print(f"\n{len(mem)} calls with memory ({sum(r['brief'] for r in mem)} returning callers preloaded), ")
    print(f"{len(base)} without; {args.turns} turns each\n")
    print("call set-up")
    print(row("memory part (store handle + open_call + preload)", [r["memory_setup_ms"] for r in mem]))
    print(row("entrypoint, memory on", [r["setup_ms"] for r in mem]))
    print(row("entrypoint, memory off", [r["setup_ms"] for r in base]))
    deltas = sorted(m["setup_ms"] - b["setup_ms"] for m, b in zip(mem, base, strict=True))
    print(row("entrypoint difference (on - off, paired)", deltas))
    print("\nper turn")
    print(row("memory work per turn (no identifier said)", [x for r in mem for x in r["per_turn_memory_ms"]]))
    print(row("  of which recording (per message)", timers[True].recording))
    print(row("  of which pre-reply check", timers[True].before_reply))
    print(row("  (empty listener pair, memory off: the floor)", timers[False].recording))
    print(row("turn with an account number (waits for link)", link_turn_ms))
    print(row("whole turn, memory on (scripted LLM)", [x for r in mem for x in r["turn_ms"]]))
    print(row("whole turn, memory off (scripted LLM)", [x for r in base for x in r["turn_ms"]]))
    print("\ncold start")
    print(f"  load the embedding model (prewarm, once per worker process): {embedder_ms:.1f} ms")
    print(
        f"  open the store, model loaded (first call of a process, overlaps the room connection): {cold_open_ms:.1f} ms"
    )

    setup_p95 = pct([r["memory_setup_ms"] for r in mem], 95)
    turn_p99 = pct([x for r in mem for x in r["per_turn_memory_ms"]], 99)
    print(f"\ntargets: set-up p95 {setup_p95:.2f} ms (< 20 ms): {'met' if setup_p95 < 20 else 'NOT met'}; ", end="")
    print(f"per-turn p99 {turn_p99:.3f} ms (< 1 ms): {'met' if turn_p99 < 1 else 'NOT met'}")

    await with_memory.store.aclose()
    if args.postgres:  # leave the shared database as it was
        cleanup = await memory.open_store(url, redis_url=args.redis, embedder=embedder)
        for i in range(args.callers * 2 + args.calls + args.warmup):
            caller_id = await cleanup.find_caller(tenant_id, "phone", phone(i))
            if caller_id:
                await cleanup.forget_caller(tenant_id, caller_id)
        await cleanup.aclose()
    del store
    tmp.cleanup()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200, help="measured calls per variant (default 200)")
    parser.add_argument("--warmup", type=int, default=10, help="calls per variant before measuring (default 10)")
    parser.add_argument("--turns", type=int, default=6, help="user turns per call, at most 6 (default 6)")
    parser.add_argument("--callers", type=int, default=100, help="seeded returning callers (default 100)")
    parser.add_argument("--postgres", metavar="URL", help="postgresql:// URL (default: embedded SQLite)")
    parser.add_argument("--redis", metavar="URL", help="redis:// URL for prepared preloads")
    args = parser.parse_args(argv)
    args.turns = max(1, min(args.turns, len(PLAIN_TURNS)))
    return args


if __name__ == "__main__":
    asyncio.run(main(parse_args()))

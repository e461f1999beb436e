"""Many calls at once in one worker process: latency, event-loop lag, and exactly-once storage.

    python bench/bench_concurrency.py                       # 50, 100 and 200 calls on SQLite
    python bench/bench_concurrency.py --calls 200 --postgres postgresql://postgres@127.0.0.1:5432/postgres \
        --redis redis://127.0.0.1:6379/14

Each simulated call opens (returning callers: they have history), preloads, then records a turn
every `--turn-every` seconds (jittered) for `--duration` seconds and recalls every third turn,
all through the public API on one event loop. A probe task measures how late the loop wakes up
(event-loop lag). Afterwards every call's stored turns are counted: each recorded turn must be
stored exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
import numpy as np
from tqdm import tqdm

import memory
from bench import synthetic
from memory.embed import default_embedder

TENANT = "bench-concurrency"


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


async def seed_history(store: memory.CallerStore, callers: int) -> None:
    """One earlier call per caller, so every simulated call is a returning caller with a brief."""
    for i in tqdm(range(callers), desc="seeding callers", unit="caller", file=sys.stderr):
        call = synthetic.caller_history(11, i, 20)[0]
        hooks = await store.open_call(TENANT, {"phone": synthetic.caller_phone(i)}, started_at=call.started_at)
        for turn in call.turns:
            hooks.record_turn(turn.role, turn.text, at=turn.at)
        await hooks.aclose(timeout=60)


async def loop_lag(stop: asyncio.Event, samples: list[float], every: float = 0.01) -> None:
    while not stop.is_set():
        t0 = time.perf_counter()
        await asyncio.sleep(every)
        samples.append(max(0.0, (time.perf_counter() - t0 - every) * 1000))


async def one_call(store, index: int, args, out: dict, rng: random.Random) -> None:
    await asyncio.sleep(rng.uniform(0, args.turn_every))  # calls do not all start in the same instant
    t0 = time.perf_counter()
    hooks = await store.open_call(TENANT, {"phone": synthetic.caller_phone(index)}, call_id=f"cc-{uuid.uuid4().hex}")
    out["open"].append((time.perf_counter() - t0) * 1000)
    pre = await hooks.preload()
    out["preload"].append(pre.took_ms)
    recorded = 0
    deadline = time.perf_counter() + args.duration
    turn = 0
    while time.perf_counter() < deadline:
        await asyncio.sleep(args.turn_every * rng.uniform(0.6, 1.4))
        role = "user" if turn % 2 == 0 else "assistant"
        text = f"{rng.choice(synthetic.FILLERS)}, about the {rng.choice(['bill', 'router', 'order', 'plan'])} {turn} {uuid.uuid4().hex[:6]}"
        t1 = time.perf_counter()
        hooks.record_turn(role, text)
        out["record"].append((time.perf_counter() - t1) * 1000)
        recorded += 1
        if turn % 3 == 2:
            t1 = time.perf_counter()
            await hooks.recall(f"{synthetic.queries(rng)} {turn}", limit=5)
            out["recall"].append((time.perf_counter() - t1) * 1000)
        turn += 1
    t1 = time.perf_counter()
    try:
        await hooks.aclose(timeout=30)
    except memory.MemoryWriteError as exc:
        out["unsaved"] += len(exc.unsaved)
    out["close"].append((time.perf_counter() - t1) * 1000)
    out["calls"].append((hooks.customer_id, hooks.caller_id, hooks.call_id, recorded))


async def run_level(store, calls: int, args) -> dict:
    out: dict = {"open": [], "preload": [], "record": [], "recall": [], "close": [], "calls": [], "unsaved": 0}
    lag: list[float] = []
    stop = asyncio.Event()
    probe = asyncio.create_task(loop_lag(stop, lag))
    rng = random.Random(calls)
    started = time.perf_counter()
    await asyncio.gather(*(one_call(store, i, args, out, random.Random(rng.random())) for i in range(calls)))
    wall = time.perf_counter() - started
    stop.set()
    await probe
    stored_ok = duplicates = missing = 0
    for tenant, caller_id, call_id, recorded in out["calls"]:
        rows = [r for r in await store.history(tenant, caller_id, limit=10_000) if r.call_id == call_id]
        seqs = [r.seq for r in rows]
        duplicates += len(seqs) - len(set(seqs))
        missing += max(0, recorded - len(set(seqs)))
        stored_ok += len(set(seqs)) == recorded == len(seqs)
    turns = sum(c[3] for c in out["calls"])
    return {
        "calls": calls,
        "turns": turns,
        "wall_s": wall,
        "open_p95_ms": pct(out["open"], 95),
        "preload_p50_ms": pct(out["preload"], 50),
        "preload_p95_ms": pct(out["preload"], 95),
        "recall_p50_ms": pct(out["recall"], 50),
        "recall_p95_ms": pct(out["recall"], 95),
        "record_turn_p99_ms": pct(out["record"], 99),
        "aclose_p95_ms": pct(out["close"], 95),
        "loop_lag_p99_ms": pct(lag, 99),
        "loop_lag_max_ms": max(lag) if lag else float("nan"),
        "calls_stored_exactly_once": stored_ok,
        "duplicates": duplicates,
        "missing": missing,
        "unsaved": out["unsaved"],
    }


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", default="50,100,200", help="comma-separated numbers of simultaneous calls")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds each call lasts")
    parser.add_argument("--turn-every", type=float, default=3.0, help="mean seconds between turns of a call")
    parser.add_argument("--postgres", help="Postgres URL of a server (a fresh database is created and dropped)")
    parser.add_argument("--redis", help="Redis URL (with --postgres)")
    args = parser.parse_args()
    levels = [int(c) for c in args.calls.split(",") if c.strip()]
    cleanup = None
    if args.postgres:
        db = f"caller_memory_conc_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(args.postgres)
        await admin.execute(f'CREATE DATABASE "{db}"')
        await admin.close()
        url, label = args.postgres.rsplit("/", 1)[0] + f"/{db}", "postgres" + ("+redis" if args.redis else "")

        async def cleanup() -> None:
            conn = await asyncpg.connect(args.postgres)
            await conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            await conn.close()
    else:
        tmp = tempfile.TemporaryDirectory()
        url, label = f"sqlite:///{Path(tmp.name) / 'conc.db'}", "sqlite"
    store = await memory.open_store(url, redis_url=args.redis if args.postgres else None, embedder=default_embedder())
    results = []
    try:
        await seed_history(store, max(levels))
        for calls in levels:
            print(f"{calls} simultaneous calls for {args.duration:.0f} s ...", file=sys.stderr)
            results.append(await run_level(store, calls, args))
    finally:
        await store.aclose()
        if cleanup is not None:
            await cleanup()
    print(
        f"\n{label}, one process, {args.duration:.0f} s calls, a turn every ~{args.turn_every:.0f} s, recall every 3rd turn\n"
    )
    print(
        "| calls | turns | preload p50 / p95 ms | recall p50 / p95 ms | record_turn p99 ms | loop lag p99 / max ms | stored exactly once | duplicates / missing / unsaved |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['calls']} | {r['turns']} | {r['preload_p50_ms']:.2f} / {r['preload_p95_ms']:.2f} | "
            f"{r['recall_p50_ms']:.2f} / {r['recall_p95_ms']:.2f} | {r['record_turn_p99_ms']:.3f} | "
            f"{r['loop_lag_p99_ms']:.1f} / {r['loop_lag_max_ms']:.1f} | {r['calls_stored_exactly_once']}/{r['calls']} | "
            f"{r['duplicates']} / {r['missing']} / {r['unsaved']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

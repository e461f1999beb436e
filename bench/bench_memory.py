"""Memory-layer latency and throughput on SQLite and on Postgres + Redis.

    python bench/bench_memory.py                      # 1,000 callers x 200 memories, both backends
    python bench/bench_memory.py --callers 100 --backends sqlite   # a quick look

Seeds the store directly through the backend (rows with real MiniLM vectors; texts that differ only
in their digits share a vector to keep seeding to seconds), then measures through the public API:
open_call, preload (cold: cache invalidated; prepared: as left by the previous call's close), fast
and accurate recall with a fresh query each time (its embedding included), the call-path cost of
record_turn, and ingest throughput (record + embed + store, end to end, unique texts).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
import numpy as np
from tqdm import tqdm

import memory
from bench import synthetic
from memory.embed import default_embedder
from memory.graph import extract_batch
from memory.identity import normalize_identifier
from memory.models import MemoryRow

TENANT = "bench-telecom"
TARGETS = {
    "preload_cold_p95_ms": 10.0,
    "preload_prepared_p95_ms": 2.0,
    "recall_fast_p95_ms": 10.0,
    "recall_accurate_p95_ms": 10.0,
    "record_turn_p99_ms": 0.2,
    "ingest_turns_per_s": 200.0,
}


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


async def seed(store: memory.CallerStore, callers: int, memories: int, seed_value: int) -> list[str]:
    backend, embedder = store.backend, store.embedder
    vectors: dict[str, np.ndarray] = {}
    caller_ids = []
    for index in tqdm(range(callers), desc=f"seeding {backend.name}", unit="caller", file=sys.stderr):
        calls = synthetic.caller_history(seed_value, index, memories)
        keys = {re.sub(r"\d+", "#", t.text) for c in calls for t in c.turns}
        missing = [k for k in keys if k not in vectors]
        if missing:
            for key, vec in zip(missing, embedder.embed(missing), strict=True):
                vectors[key] = vec
        caller_id = f"caller_bench_{index:06d}"
        phone = normalize_identifier("phone", calls[0].phone)
        await backend.create_caller(TENANT, caller_id, [phone], call_id=calls[0].call_id, at=calls[0].started_at)
        rows = []
        for call in calls:
            await backend.start_call(TENANT, call.call_id, caller_id, call.started_at)
            for seq, turn in enumerate(call.turns, 1):
                vec = vectors[re.sub(r"\d+", "#", turn.text)]
                rows.append(
                    MemoryRow(
                        TENANT, caller_id, call.call_id, seq, "turn", turn.role, turn.text, turn.at, caller_id, vec
                    )
                )
            ended = call.turns[-1].at
            await backend.finish_call(
                TENANT, call.call_id, ended_at=ended, topic=call.turns[1].text, outcome=call.turns[-1].text
            )
        await backend.write_memories(TENANT, rows)
        extraction = extract_batch(rows, rows, plans=(), region="US")
        await backend.add_facts(TENANT, caller_id, caller_id, extraction.facts)
        await backend.add_edges(TENANT, caller_id, caller_id, extraction.edges)
        last_call = calls[-1].call_id
        await backend.add_matters(
            TENANT, caller_id, caller_id, [m for m in extraction.matters if m.call_id == last_call]
        )
        caller_ids.append(caller_id)
    return caller_ids


async def measure(store: memory.CallerStore, caller_ids: list[str], samples: int, seed_value: int) -> dict:
    rng = random.Random(seed_value)
    policy = store.policy_for(TENANT)
    out: dict[str, float] = {}
    open_ms, cold_ms, prepared_ms, fast_ms, accurate_ms = [], [], [], [], []
    picks = [rng.randrange(len(caller_ids)) for _ in range(samples)]
    for n, index in enumerate(tqdm(picks, desc=f"measuring {store.backend.name}", unit="call", file=sys.stderr)):
        caller_id = caller_ids[index]
        phone = synthetic.caller_phone(index)
        await store.invalidate(TENANT, caller_id)
        t0 = time.perf_counter()
        hooks = await store.open_call(TENANT, {"phone": phone}, call_id=f"m-{n}-{uuid.uuid4().hex[:6]}")
        open_ms.append((time.perf_counter() - t0) * 1000)
        pre = await hooks.preload()
        assert pre.source == "database" and pre.text, pre.source
        cold_ms.append(pre.took_ms)
        await hooks._history_ready()  # the working set loads in the background after open_call
        for mode, sink in (("fast", fast_ms), ("accurate", accurate_ms)):
            query = f"{synthetic.queries(rng)} {rng.randint(0, 10**6)}"
            t0 = time.perf_counter()
            hits = await hooks.recall(query, mode=mode)
            sink.append((time.perf_counter() - t0) * 1000)
            assert hits
        await hooks.aclose()  # no turns recorded: prepares the next preload
        await store.prepare_brief(TENANT, caller_id, policy)
        again = await store.open_call(TENANT, {"phone": phone})
        pre = await again.preload()
        assert pre.source == "cache", pre.source
        prepared_ms.append(pre.took_ms)
        await again.aclose()
    for name, values in (
        ("open_call", open_ms),
        ("preload_cold", cold_ms),
        ("preload_prepared", prepared_ms),
        ("recall_fast", fast_ms),
        ("recall_accurate", accurate_ms),
    ):
        out[f"{name}_p50_ms"] = pct(values, 50)
        out[f"{name}_p95_ms"] = pct(values, 95)
    return out


async def measure_record_turn(store: memory.CallerStore, turns: int) -> dict:
    hooks = await store.open_call(TENANT, {"phone": "+1 415 999 0001"})
    costs = []
    for i in range(turns):
        text = f"uh so the modem light went red again at {i} past nine"
        t0 = time.perf_counter_ns()
        hooks.record_turn("user" if i % 2 else "assistant", text)
        costs.append((time.perf_counter_ns() - t0) / 1e6)
        if i % 100 == 99:
            await asyncio.sleep(0)  # let the writer run, as a live call would
    await hooks.aclose(timeout=300)  # thousands of turns at once: far more than a call's drain budget
    return {"record_turn_p50_ms": pct(costs, 50), "record_turn_p99_ms": pct(costs, 99)}


async def measure_ingest(store: memory.CallerStore, calls: int, turns: int, seed_value: int) -> dict:
    rng = random.Random(seed_value + 7)
    t0 = time.perf_counter()

    async def one(i: int) -> None:
        call = synthetic.make_call(
            rng, 900_000 + i, 0, synthetic.caller_history(seed_value, i, 20)[0].started_at, turns
        )
        hooks = await store.open_call(TENANT, {"phone": f"+1 415 888 {i:04d}"}, started_at=call.started_at)
        for turn in call.turns:
            hooks.record_turn(turn.role, f"{turn.text} (note {uuid.uuid4().hex[:8]})", at=turn.at + timedelta(0))
        await hooks.aclose()

    await asyncio.gather(*(one(i) for i in range(calls)))
    elapsed = time.perf_counter() - t0
    return {"ingest_turns_per_s": calls * turns / elapsed}


async def run_backend(name: str, args: argparse.Namespace, embedder) -> dict:
    cleanup = None
    redis_url = None
    if name == "sqlite":
        tmp = tempfile.TemporaryDirectory()
        url = f"sqlite:///{Path(tmp.name) / 'bench.db'}"
        cleanup = tmp.cleanup
    else:
        db = f"caller_memory_bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(args.postgres)
        await admin.execute(f'CREATE DATABASE "{db}"')
        await admin.close()
        url = args.postgres.rsplit("/", 1)[0] + f"/{db}"
        redis_url = args.redis

        async def drop() -> None:
            conn = await asyncpg.connect(args.postgres)
            await conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            await conn.close()

        cleanup = drop
    label = "sqlite" if name == "sqlite" else "postgres+redis"
    store = await memory.open_store(url, redis_url=redis_url, embedder=embedder)
    try:
        t0 = time.perf_counter()
        caller_ids = await seed(store, args.callers, args.memories, args.seed)
        seeded_s = time.perf_counter() - t0
        result = {"backend": label, "callers": args.callers, "memories_per_caller": args.memories, "seed_s": seeded_s}
        result |= await measure(store, caller_ids, args.samples, args.seed)
        result |= await measure_record_turn(store, args.record_turns)
        result |= await measure_ingest(store, args.ingest_calls, args.ingest_turns, args.seed)
        if redis_url:
            await store.cache._redis.flushdb()  # type: ignore[attr-defined]
        return result
    finally:
        await store.aclose()
        res = cleanup()
        if asyncio.iscoroutine(res):
            await res


def report(results: list[dict]) -> str:
    rows = [
        ("open_call p50 / p95", "open_call_p50_ms", "open_call_p95_ms", None),
        ("preload cold p50 / p95", "preload_cold_p50_ms", "preload_cold_p95_ms", "preload_cold_p95_ms"),
        ("preload prepared p50 / p95", "preload_prepared_p50_ms", "preload_prepared_p95_ms", "preload_prepared_p95_ms"),
        ("recall fast p50 / p95", "recall_fast_p50_ms", "recall_fast_p95_ms", "recall_fast_p95_ms"),
        ("recall accurate p50 / p95", "recall_accurate_p50_ms", "recall_accurate_p95_ms", "recall_accurate_p95_ms"),
        ("record_turn p50 / p99", "record_turn_p50_ms", "record_turn_p99_ms", "record_turn_p99_ms"),
    ]
    head = "| measure (ms) | " + " | ".join(r["backend"] for r in results) + " | target |"
    lines = [head, "|---" * (len(results) + 2) + "|"]
    for label, a, b, target in rows:
        cells = [f"{r[a]:.3f} / {r[b]:.3f}" if "record" in a else f"{r[a]:.2f} / {r[b]:.2f}" for r in results]
        goal = f"p{'99' if 'p99' in b else '95'} < {TARGETS[target]}" if target else ""
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {goal} |")
    lines.append(
        "| ingest (turns/s, with embeddings) | "
        + " | ".join(f"{r['ingest_turns_per_s']:.0f}" for r in results)
        + " | >= 200 |"
    )
    return "\n".join(lines)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callers", type=int, default=1000)
    parser.add_argument("--memories", type=int, default=200)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--record-turns", type=int, default=10_000)
    parser.add_argument("--ingest-calls", type=int, default=10)
    parser.add_argument("--ingest-turns", type=int, default=50)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("MEMORY_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--redis", default=os.environ.get("MEMORY_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, default=Path("bench/results/memory.json"))
    args = parser.parse_args()
    embedder = default_embedder()
    results = [await run_backend(name.strip(), args, embedder) for name in args.backends.split(",") if name.strip()]
    print(
        f"\n{args.callers} callers x {args.memories} memories, {args.samples} sampled calls, {os.cpu_count()} cores, embedder {embedder.name}\n"
    )
    print(report(results))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    print(f"\nraw results: {args.json}")
    for r in results:
        misses = [k for k, goal in TARGETS.items() if (r[k] < goal if k == "ingest_turns_per_s" else r[k] > goal)]
        print(f"{r['backend']}: " + ("all targets met" if not misses else "missed: " + ", ".join(misses)))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

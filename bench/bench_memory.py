"""Memory-layer latency and throughput on one store: the engine of the harness's latency and scale suites.

Run it through the harness: ``python -m bench --suites latency`` (see bench/harness.py).

Seeds the store directly through the backend (rows with real MiniLM vectors; texts that differ only
in their digits share a vector to keep seeding to seconds) as live calls and the importer leave it:
each row stored with the tags its enrichment reads, each call closed with its episode (a store
written before episodes were kept has calls without one; their episodes are built at each load,
which the history load then pays for). Then measures through the public API:
open_call, preload (cold: cache invalidated; prepared: as left by the previous call's close), the
caller's history loaded after the preload (in a call, while the greeting is spoken), the first recall
of a call (then: nothing warmed by an earlier recall; fast and accurate on alternate calls), the
first recall asked at once after the preload (the worst case: the history still loading), fast and
accurate recall with a fresh query each time (its embedding included), the call-path cost of
record_turn, and ingest throughput (record + embed + store, end to end, unique texts).
"""

from __future__ import annotations

import asyncio
import random
import re
import sys
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
from bench.context import pct
from memory.recall.episodes import build_episode
from memory.recall.graph import extract_batch
from memory.text.identifiers import normalize_identifier
from memory.values import MemoryRow

TENANT = "bench-telecom"
TARGETS = {
    "preload_cold_p95_ms": 10.0,
    "preload_prepared_p95_ms": 2.0,
    "first_recall_fast_p95_ms": 10.0,
    "first_recall_accurate_p95_ms": 25.0,
    "recall_fast_p95_ms": 10.0,
    "recall_accurate_p95_ms": 25.0,
    "record_turn_p99_ms": 0.2,
    "ingest_turns_per_s": 200.0,
}


async def seed(
    store: memory.CallerStore,
    callers: int,
    memories: int,
    seed_value: int,
    *,
    tenant: str = TENANT,
    start: int = 0,
    vectors: dict[str, np.ndarray] | None = None,
    progress: bool = True,
) -> list[str]:
    """Store ``callers`` synthetic callers (indexes ``start``..) of ``memories`` turns each under ``tenant``."""
    backend, embedder = store.backend, store.embedder
    vectors = {} if vectors is None else vectors
    caller_ids = []
    indexes = range(start, start + callers)
    if progress:
        indexes = tqdm(indexes, desc=f"seeding {backend.name}", unit="caller", file=sys.stderr)
    for index in indexes:
        calls = synthetic.caller_history(seed_value, index, memories)
        keys = {re.sub(r"\d+", "#", t.text) for c in calls for t in c.turns}
        missing = [k for k in keys if k not in vectors]
        if missing:
            for key, vec in zip(missing, embedder.embed(missing), strict=True):
                vectors[key] = vec
        caller_id = f"caller_bench_{index:06d}"
        phone = normalize_identifier("phone", calls[0].phone)
        await backend.create_caller(tenant, caller_id, [phone], call_id=calls[0].call_id, at=calls[0].started_at)
        rows = []
        for call in calls:
            await backend.start_call(tenant, call.call_id, caller_id, call.started_at)
            for seq, turn in enumerate(call.turns, 1):
                vec = vectors[re.sub(r"\d+", "#", turn.text)]
                rows.append(
                    MemoryRow(
                        tenant, caller_id, call.call_id, seq, "turn", turn.role, turn.text, turn.at, caller_id, vec
                    )
                )
        extraction = extract_batch(rows, rows, plans=(), region="US")  # keeps each row's tags, as enrichment does
        await backend.write_memories(tenant, rows)
        for call in calls:  # closed as a live call closes: its topic, outcome and episode
            episode = build_episode(call.call_id, call.started_at, rows, region="US")
            await backend.finish_call(
                tenant,
                call.call_id,
                ended_at=call.turns[-1].at,
                topic=call.turns[1].text,
                outcome=call.turns[-1].text,
                episode=episode,
            )
        await backend.add_facts(tenant, caller_id, caller_id, extraction.facts)
        await backend.add_edges(tenant, caller_id, caller_id, extraction.edges)
        last_call = calls[-1].call_id
        await backend.add_matters(
            tenant, caller_id, caller_id, [m for m in extraction.matters if m.call_id == last_call]
        )
        caller_ids.append(caller_id)
    return caller_ids


async def measure(store: memory.CallerStore, caller_ids: list[str], samples: int, seed_value: int) -> dict:
    """Latencies over ``samples`` calls of callers seeded by :func:`seed` (tenant ``TENANT``, indexes from 0)."""
    rng = random.Random(seed_value)
    picks = []
    for _ in range(samples):
        index = rng.randrange(len(caller_ids))
        picks.append((TENANT, caller_ids[index], synthetic.caller_phone(index)))
    return await measure_calls(store, picks, seed_value)


async def measure_calls(
    store: memory.CallerStore, picks: list[tuple[str, str, str]], seed_value: int, *, progress: bool = True
) -> dict:
    """open_call, cold and prepared preload, the call's first recall (fast and accurate on alternate
    calls), then fast and accurate recall, for each (tenant, caller_id, phone)."""
    rng = random.Random(seed_value)
    out: dict[str, float] = {}
    open_ms, cold_ms, prepared_ms, fast_ms, accurate_ms = [], [], [], [], []
    first_ms: dict[str, list[float]] = {"fast": [], "accurate": []}
    at_once_ms: dict[str, list[float]] = {"fast": [], "accurate": []}  # right after the preload
    history_ms: list[float] = []  # the caller's history loaded, after the preload
    prepared_missed = 0  # calls whose next call did not get the brief prepared at this one's close
    iterator = enumerate(picks)
    if progress:
        iterator = tqdm(
            iterator, total=len(picks), desc=f"measuring {store.backend.name}", unit="call", file=sys.stderr
        )
    for n, (tenant, caller_id, phone) in iterator:
        policy = store.policy_for(tenant)
        await store.invalidate(tenant, caller_id)
        t0 = time.perf_counter()
        hooks = await store.open_call(tenant, {"phone": phone}, call_id=f"m-{n}-{uuid.uuid4().hex[:6]}")
        open_ms.append((time.perf_counter() - t0) * 1000)
        assert hooks.caller_id == caller_id, (hooks.caller_id, caller_id)
        pre = await hooks.preload()
        assert pre.source == "database" and pre.text, pre.source
        cold_ms.append(pre.took_ms)
        first_mode = ("fast", "accurate")[n % 2]
        t0 = time.perf_counter()
        await hooks._history.ready()  # in a call the greeting is spoken meanwhile (seconds)
        history_ms.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        hits = await hooks.recall(f"{synthetic.queries(rng)} {rng.randint(0, 10**6)}", mode=first_mode)
        first_ms[first_mode].append((time.perf_counter() - t0) * 1000)  # the call's first: nothing warmed by another
        assert hits
        for mode, sink in (("fast", fast_ms), ("accurate", accurate_ms)):
            query = f"{synthetic.queries(rng)} {rng.randint(0, 10**6)}"
            t0 = time.perf_counter()
            hits = await hooks.recall(query, mode=mode)
            sink.append((time.perf_counter() - t0) * 1000)
            assert hits
        await hooks.aclose()  # no turns recorded: prepares the next preload
        await store.prepare_brief(tenant, caller_id, policy)
        again = await store.open_call(tenant, {"phone": phone})
        pre = await again.preload()
        if pre.source == "cache":
            prepared_ms.append(pre.took_ms)
        else:  # counted, not asserted: a prepared brief that was not served is a result to report
            prepared_missed += 1
        t0 = time.perf_counter()  # the worst case: a first recall at once, the history still loading
        hits = await again.recall(f"{synthetic.queries(rng)} {rng.randint(0, 10**6)}", mode=first_mode)
        at_once_ms[first_mode].append((time.perf_counter() - t0) * 1000)
        assert hits
        await again.aclose()
    for name, values in (
        ("open_call", open_ms),
        ("preload_cold", cold_ms),
        ("preload_prepared", prepared_ms),
        ("first_recall_fast", first_ms["fast"]),
        ("first_recall_accurate", first_ms["accurate"]),
        ("history_loaded", history_ms),
        ("first_recall_at_once_fast", at_once_ms["fast"]),
        ("first_recall_at_once_accurate", at_once_ms["accurate"]),
        ("recall_fast", fast_ms),
        ("recall_accurate", accurate_ms),
    ):
        out[f"{name}_p50_ms"] = pct(values, 50)
        out[f"{name}_p95_ms"] = pct(values, 95)
    out["preload_prepared_missed"] = prepared_missed
    out["preload_prepared_served"] = len(prepared_ms)
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


async def settle(url: str) -> float:
    """Vacuum and analyze a freshly seeded Postgres database, as its autovacuum leaves a database in steady state.

    Seeding writes tens of thousands of rows in seconds; left alone, autovacuum and autoanalyze would start on
    them during the measured calls and take one of the machine's cores from them, which a live database whose
    rows arrived over months does not do. Returns the seconds it took."""
    t0 = time.perf_counter()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("VACUUM (ANALYZE)")
    finally:
        await conn.close()
    return time.perf_counter() - t0


async def measure_backend(
    url: str,
    redis_url: str | None,
    embedder,
    *,
    callers: int,
    memories: int,
    samples: int,
    record_turns: int,
    ingest_calls: int,
    ingest_turns: int,
    seed_value: int = 7,
) -> dict:
    """Seed a fresh store at ``url``, then measure every latency and the ingest rate through the public API."""
    label = "sqlite" if url.startswith("sqlite") else "postgres" + ("+redis" if redis_url else "")
    store = await memory.open_store(url, redis_url=redis_url, embedder=embedder)
    try:
        t0 = time.perf_counter()
        caller_ids = await seed(store, callers, memories, seed_value)
        seeded_s = time.perf_counter() - t0
        result = {"backend": label, "callers": callers, "memories_per_caller": memories, "seed_s": seeded_s}
        if url.startswith("postgres"):
            result["settle_s"] = await settle(url)
        result |= await measure(store, caller_ids, samples, seed_value)
        result |= await measure_record_turn(store, record_turns)
        result |= await measure_ingest(store, ingest_calls, ingest_turns, seed_value)
        if redis_url:
            await store.cache._redis.flushdb()  # type: ignore[attr-defined]
        return result
    finally:
        await store.aclose()


def report(results: list[dict]) -> str:
    rows = [
        ("open_call p50 / p95", "open_call_p50_ms", "open_call_p95_ms", None),
        ("preload cold p50 / p95", "preload_cold_p50_ms", "preload_cold_p95_ms", "preload_cold_p95_ms"),
        ("preload prepared p50 / p95", "preload_prepared_p50_ms", "preload_prepared_p95_ms", "preload_prepared_p95_ms"),
        (
            "first recall of a call, fast p50 / p95",
            "first_recall_fast_p50_ms",
            "first_recall_fast_p95_ms",
            "first_recall_fast_p95_ms",
        ),
        (
            "first recall of a call, accurate p50 / p95",
            "first_recall_accurate_p50_ms",
            "first_recall_accurate_p95_ms",
            "first_recall_accurate_p95_ms",
        ),
        (
            "the caller's history loaded, after the preload, p50 / p95",
            "history_loaded_p50_ms",
            "history_loaded_p95_ms",
            None,
        ),
        (
            "first recall at once after the preload (history still loading), fast p50 / p95",
            "first_recall_at_once_fast_p50_ms",
            "first_recall_at_once_fast_p95_ms",
            None,
        ),
        (
            "the same, accurate p50 / p95",
            "first_recall_at_once_accurate_p50_ms",
            "first_recall_at_once_accurate_p95_ms",
            None,
        ),
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
        "| prepared preloads served from the cache | "
        + " | ".join(
            f"{r.get('preload_prepared_served', 0)} of "
            f"{r.get('preload_prepared_served', 0) + r.get('preload_prepared_missed', 0)}"
            for r in results
        )
        + " | all |"
    )
    lines.append(
        "| ingest (turns/s, with embeddings) | "
        + " | ".join(f"{r['ingest_turns_per_s']:.0f}" for r in results)
        + " | >= 200 |"
    )
    return "\n".join(lines)

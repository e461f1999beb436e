"""Scale: the same per-call latencies as one Postgres + Redis store grows from 10k to 1M memories.

Many tenants and callers (200 memories each, in calls of 20 turns) are seeded straight through the
backend, size after size in the same database; at each size, calls of callers drawn from the whole
population are measured through the public API, and the storage each memory costs is read from
Postgres. The cost per call must stay flat: every read is scoped to one caller by an index.
"""

from __future__ import annotations

import asyncio
import random
import time

import asyncpg
import numpy as np

import memory
from bench import bench_memory, synthetic
from bench.context import Context, pyplot

NAME = "scale"
TITLE = "Scale: per-call cost as the store grows"
MEMORIES_PER_CALLER = 200
SEEDERS = 3  # concurrent seeding tasks (database round trips overlap the extraction work)
MEASURES = ("open_call", "preload_cold", "preload_prepared", "recall_fast", "recall_accurate")
TARGETS = {"preload_cold_p95_ms": 10.0, "preload_prepared_p95_ms": 10.0, "recall_fast_p95_ms": 25.0}
TARGETS["recall_accurate_p95_ms"] = 25.0
MAX_GROWTH = 1.5  # largest size against the smallest, p95
NOISE_FLOOR_MS = 1.0  # a p95 that grows by less than this is flat (sub-millisecond reads jitter more than 1.5x)


def params(ctx: Context) -> dict:
    return {
        "sizes": ctx.pick([2_000, 10_000], [10_000, 100_000], [10_000, 100_000, 1_000_000]),
        "tenants": ctx.pick(2, 10, 20),
        "samples": ctx.pick(20, 150, 200),
    }


def tenant_of(index: int, tenants: int) -> str:
    return f"bench-scale-{index % tenants:02d}"


async def seed_to(store: memory.CallerStore, ctx: Context, start: int, stop: int, tenants: int, vectors: dict) -> None:
    indexes = iter(range(start, stop))  # shared by the seeders: each takes the next caller
    bar = ctx.progress(range(stop - start), desc=f"seeding to {stop * MEMORIES_PER_CALLER:,} memories", unit="caller")

    async def seeder() -> None:
        for index in indexes:
            await bench_memory.seed(
                store,
                1,
                MEMORIES_PER_CALLER,
                seed_value=7,
                tenant=tenant_of(index, tenants),
                start=index,
                vectors=vectors,
                progress=False,
            )
            bar.update(1)

    await asyncio.gather(*(seeder() for _ in range(SEEDERS)))
    bar.close()


async def storage(url: str) -> dict:
    conn = await asyncpg.connect(url)  # the admin role: counts every tenant's rows
    try:
        await conn.execute("ANALYZE")
        memories = await conn.fetchval("SELECT count(*) FROM memories")
        tables = {}
        for table in ("memories", "callers", "identifiers", "calls", "matters", "facts", "edges", "links"):
            tables[table] = await conn.fetchval("SELECT pg_total_relation_size($1::regclass)", table)
        database = await conn.fetchval("SELECT pg_database_size(current_database())")
    finally:
        await conn.close()
    return {
        "memories": int(memories),
        "table_bytes": tables,
        "database_bytes": int(database),
        "bytes_per_memory_table": tables["memories"] / max(1, memories),
        "bytes_per_memory_all": sum(tables.values()) / max(1, memories),
    }


async def run(ctx: Context) -> dict:
    settings = params(ctx)
    tenants = settings["tenants"]
    rng = random.Random(11)
    points = []
    async with ctx.temp_database("scale") as url:
        store = await memory.open_store(url, redis_url=ctx.redis_url, embedder=ctx.embedder)
        vectors: dict[str, np.ndarray] = {}
        seeded = 0
        try:
            for size in settings["sizes"]:
                callers = size // MEMORIES_PER_CALLER
                t0 = time.perf_counter()
                await seed_to(store, ctx, seeded, callers, tenants, vectors)
                seed_s = time.perf_counter() - t0
                seeded = callers
                stored = await storage(url)
                picks = []
                for _ in range(settings["samples"]):
                    index = rng.randrange(callers)
                    picks.append(
                        (tenant_of(index, tenants), f"caller_bench_{index:06d}", synthetic.caller_phone(index))
                    )
                timings = await bench_memory.measure_calls(store, picks, seed_value=size, progress=False)
                points.append(
                    {"memories": stored["memories"], "callers": callers, "tenants": tenants, "seed_s": seed_s}
                    | stored
                    | timings
                )
        finally:
            await store.aclose()
    growth, met = judge(points)
    return {"params": settings, "points": points, "growth_p95": growth, "targets_met": met}


def judge(points: list[dict]) -> tuple[dict[str, float], dict[str, bool]]:
    """p95 growth from the smallest to the largest size, and which targets the largest size meets."""
    first, last = points[0], points[-1]
    growth = {m: last[f"{m}_p95_ms"] / first[f"{m}_p95_ms"] for m in MEASURES}
    met = {key: last[key] < goal for key, goal in TARGETS.items()}
    for m in ("preload_cold", "preload_prepared", "recall_fast", "recall_accurate"):
        added = last[f"{m}_p95_ms"] - first[f"{m}_p95_ms"]
        met[f"{m}_growth"] = growth[m] <= MAX_GROWTH or added < NOISE_FLOOR_MS
    return growth, met


def _plot(result: dict, ctx: Context) -> str:
    plt = pyplot()
    points = result["points"]
    sizes = [p["memories"] for p in points]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110, gridspec_kw={"width_ratios": [3, 2]})
    for m in MEASURES:
        left.plot(sizes, [p[f"{m}_p95_ms"] for p in points], marker="o", label=m.replace("_", " "))
    left.axhline(10, color="#888888", linestyle="--", linewidth=0.8, label="preload target (10 ms)")
    left.axhline(25, color="#bbbbbb", linestyle=":", linewidth=0.8, label="recall target (25 ms)")
    left.set_xscale("log")
    left.set_xlabel("memories in the store (all tenants)")
    left.set_ylabel("p95 per call (ms)")
    left.set_ylim(bottom=0)
    left.set_title("Per-call latency against store size (Postgres + Redis)")
    left.legend(fontsize=7)
    left.grid(alpha=0.3)
    right.bar([f"{s:,}" for s in sizes], [p["bytes_per_memory_all"] for p in points], color="#1f77b4")
    right.set_ylabel("bytes per memory (all tables and indexes)")
    right.set_xlabel("memories")
    right.set_title("Storage per memory")
    right.grid(alpha=0.3, axis="y")
    return ctx.save_plot(fig, "scale")


def render(result: dict, ctx: Context) -> str:
    p = result["params"]
    lines = [
        f"{p['tenants']} tenants, callers of {MEMORIES_PER_CALLER} memories each, seeded into one Postgres database "
        f"size after size; at each size {p['samples']} calls of callers drawn from the whole population are measured "
        "(Redis holds the prepared preloads). p50 / p95 in ms:",
        "",
        "| memories | callers | " + " | ".join(m.replace("_", " ") for m in MEASURES) + " | bytes per memory |",
        "|---" * (len(MEASURES) + 3) + "|",
    ]
    for point in result["points"]:
        cells = [f"{point[f'{m}_p50_ms']:.2f} / {point[f'{m}_p95_ms']:.2f}" for m in MEASURES]
        lines.append(
            f"| {point['memories']:,} | {point['callers']:,} | " + " | ".join(cells) + f" | "
            f"{point['bytes_per_memory_all']:.0f} ({point['bytes_per_memory_table']:.0f} in `memories`) |"
        )
    growth = result["growth_p95"]
    first, last = result["points"][0]["memories"], result["points"][-1]["memories"]
    lines += [
        "",
        f"p95 at {last:,} against {first:,} memories: "
        + ", ".join(f"{m.replace('_', ' ')} ×{growth[m]:.2f}" for m in MEASURES)
        + f" (target ≤ ×{MAX_GROWTH}, or less than {NOISE_FLOOR_MS:g} ms added: sub-millisecond p95s jitter by more "
        "than 1.5× on a shared machine).",
        "",
        "Targets at the largest size: "
        + ", ".join(f"{k} {'met' if ok else '**missed**'}" for k, ok in result["targets_met"].items())
        + ".",
        "",
        f"![per-call latency and storage against store size]({_plot(result, ctx)})",
    ]
    return "\n".join(lines)


def headline(result: dict) -> list[tuple[str, str, str, bool | None]]:
    first, last = result["points"][0], result["points"][-1]
    growth, met = result["growth_p95"], result["targets_met"]
    at = f"at {last['memories']:,} memories (Postgres + Redis)"
    return [
        (
            f"preload p95 {at}, cold / prepared",
            f"{last['preload_cold_p95_ms']:.2f} / {last['preload_prepared_p95_ms']:.2f} ms",
            "< 10 ms",
            met["preload_cold_p95_ms"] and met["preload_prepared_p95_ms"],
        ),
        (
            f"recall p95 {at}, fast / accurate",
            f"{last['recall_fast_p95_ms']:.2f} / {last['recall_accurate_p95_ms']:.2f} ms",
            "< 25 ms",
            met["recall_fast_p95_ms"] and met["recall_accurate_p95_ms"],
        ),
        (
            f"p95 growth from {first['memories']:,} to {last['memories']:,} memories (preload cold, recall accurate)",
            f"×{growth['preload_cold']:.2f}, ×{growth['recall_accurate']:.2f}",
            f"≤ ×{MAX_GROWTH} (or < {NOISE_FLOOR_MS:g} ms added)",
            all(v for k, v in met.items() if k.endswith("_growth")),
        ),
        ("storage per memory (all tables and indexes)", f"{last['bytes_per_memory_all']:.0f} bytes", "", None),
    ]

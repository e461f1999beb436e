"""Latency: preload (cold and prepared), recall fast/accurate, record_turn and ingest, SQLite beside Postgres + Redis."""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench import bench_memory
from bench.context import Context

NAME = "latency"
TITLE = "Latency of one call's memory operations"


def params(ctx: Context) -> dict:
    return {
        "callers": ctx.pick(5, 300, 1000),
        "memories": ctx.pick(40, 200, 200),
        "samples": ctx.pick(10, 300, 400),  # half of them measure a fast first recall, half an accurate one
        "record_turns": ctx.pick(200, 5000, 10_000),
        "ingest_calls": ctx.pick(2, 10, 10),
        "ingest_turns": ctx.pick(10, 50, 50),
    }


async def run(ctx: Context) -> dict:
    settings = params(ctx)
    backends = []
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'latency.db'}"
        backends.append(await bench_memory.measure_backend(url, None, ctx.embedder, **settings))
    async with ctx.temp_database("latency") as url:
        backends.append(await bench_memory.measure_backend(url, ctx.redis_url, ctx.embedder, **settings))
    misses = {
        r["backend"]: [k for k, goal in bench_memory.TARGETS.items() if not _meets(k, r[k], goal)] for r in backends
    }
    return {"params": settings, "backends": backends, "targets": bench_memory.TARGETS, "missed": misses}


def _meets(key: str, value: float, goal: float) -> bool:
    return value >= goal if key == "ingest_turns_per_s" else value <= goal


def render(result: dict, ctx: Context) -> str:
    p = result["params"]
    lines = [
        f"{p['callers']:,} callers × {p['memories']} memories per backend, {p['samples']} sampled calls; "
        "through the public API. *Cold* preload reads the database (cache invalidated first); *prepared* is what "
        "a returning caller normally gets (built when their last call closed). Recall includes embedding the query.",
        "",
        bench_memory.report(result["backends"]),
        "",
    ]
    for backend, missed in result["missed"].items():
        lines.append(f"- {backend}: " + ("every target met" if not missed else "missed: " + ", ".join(missed)))
    return "\n".join(lines)


def headline(result: dict) -> list[tuple[str, str, str, bool | None]]:
    backends = result["backends"]
    names = " / ".join(r["backend"] for r in backends)
    rows = []
    for key, label, unit in (
        ("preload_prepared_p95_ms", "preload, prepared, p95", "ms"),
        ("preload_cold_p95_ms", "preload, cold, p95", "ms"),
        ("first_recall_fast_p95_ms", "first recall of a call, fast, p95", "ms"),
        ("first_recall_accurate_p95_ms", "first recall of a call, accurate, p95", "ms"),
        ("recall_fast_p95_ms", "recall fast p95", "ms"),
        ("recall_accurate_p95_ms", "recall accurate p95", "ms"),
        ("record_turn_p99_ms", "record_turn on the call path, p99", "ms"),
    ):
        goal = bench_memory.TARGETS[key]
        value = " / ".join(f"{r[key]:.3f}" if "record" in key else f"{r[key]:.2f}" for r in backends)
        rows.append(
            (f"{label} ({names})", f"{value} {unit}", f"< {goal:g} {unit}", all(r[key] <= goal for r in backends))
        )
    missed = [r.get("preload_prepared_missed", 0) for r in backends]
    served = [r.get("preload_prepared_served", 0) for r in backends]
    rows.append(
        (
            f"prepared preloads served from the cache ({names})",
            " / ".join(f"{s} of {s + m}" for s, m in zip(served, missed, strict=True)),
            "all",
            not any(missed),
        )
    )
    return rows

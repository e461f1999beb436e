"""The worker's call path: what memory adds to call set-up and to each turn, SQLite beside Postgres + Redis;
and the greeting when Postgres or Redis fails at call start.

Calls go through the worker's entrypoint (``worker.call.run_job``) against a fake room with the
scripted LLM of the tests and the real store; each call is run once with memory and once without.
The engines are ``bench.bench_worker.measure`` and ``bench.bench_worker.measure_faults`` (the servers
behind the test suite's fault proxy).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench import bench_worker
from bench.context import Context

NAME = "call_path"
TITLE = "The worker's call path: what memory adds to call set-up and to each turn"
BACKENDS = ("sqlite", "postgres+redis")


def params(ctx: Context) -> dict:
    return {
        "calls": ctx.pick(20, 200, 300),
        "turns": ctx.pick(6, 6, 6),
        "callers": ctx.pick(10, 100, 100),
        "warmup": ctx.pick(3, 10, 10),
    }


async def run(ctx: Context) -> dict:
    settings = params(ctx)
    embedder_load_ms = bench_worker.time_model_load(ctx.embedder)
    backends = {}

    def progress(backend: str):
        return lambda items, desc, **kw: ctx.progress(items, f"{backend}: {desc}", **kw)

    with tempfile.TemporaryDirectory(prefix="bench-call-path-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'call_path.db'}"
        backends["sqlite"] = await bench_worker.measure(
            url, None, ctx.embedder, progress=progress("sqlite"), **settings
        )
    async with ctx.temp_database("call_path") as url:
        backends["postgres+redis"] = await bench_worker.measure(
            url, ctx.redis_url, ctx.embedder, progress=progress("postgres+redis"), **settings
        )
    async with ctx.temp_database("call_faults") as url:
        faults = await bench_worker.measure_faults(
            url, ctx.redis_url, ctx.embedder, calls=ctx.pick(3, 10, 20), progress=progress("faults")
        )
    return {"params": settings, "embedder_load_ms": embedder_load_ms, "backends": backends, "faults": faults}


def _cell(stats: dict, digits: int) -> str:
    if not stats["n"]:
        return "no samples"
    return " / ".join(f"{stats[k]:.{digits}f}" for k in ("p50", "p95", "p99", "max"))


def render(result: dict, ctx: Context) -> str:
    p, backends = result["params"], result["backends"]
    names = [b for b in BACKENDS if b in backends]
    first = backends[names[0]]
    lines = [
        f"{p['calls']} calls of {p['turns']} turns per backend (after {p['warmup']} warm-up calls), against "
        f"{p['callers']} returning callers seeded by another store instance (so no preload comes from this "
        "process's cache); each call is run once with memory and once with memory disabled. Calls go through the "
        "worker's entrypoint (`worker.call.run_job`) against a fake room with the scripted LLM of the tests. "
        "*Memory part* is the memory share of call set-up (store handle, `open_call`, preload), which runs before "
        "`session.start`; the paired difference of the whole entrypoint, on minus off, is what a caller waits for. "
        "*Memory work per turn* is recording the user and assistant messages plus the pre-reply check, on turns "
        "that carry no identifier; a turn where an account number is said waits on purpose (up to the settle "
        "budget) for the link, and is reported apart (one such call every 10 calls).",
        "",
        f"{first['calls_with_memory']} calls with memory ({first['returning_preloaded']} returning callers "
        f"preloaded) on {names[0]}"
        + "".join(
            f", {backends[b]['calls_with_memory']} ({backends[b]['returning_preloaded']} preloaded) on {b}"
            for b in names[1:]
        )
        + ".",
        "",
        "| measure (ms) | n | " + " | ".join(f"{b} p50 / p95 / p99 / max" for b in names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for key, label, section in bench_worker.ROWS:
        digits = 2 if section == "set-up" or key in ("link_turn", "turn_on", "turn_off") else 3
        counts = sorted({backends[b]["rows"][key]["n"] for b in names})
        label = f"… {label.strip()}" if label.startswith("  ") else label  # a part of the row above
        cells = " | ".join(_cell(backends[b]["rows"][key], digits) for b in names)
        lines.append(f"| {label} | {' / '.join(map(str, counts))} | {cells} |")
    lines += [
        "",
        f"Cold start: loading the embedding model (prewarm, once per worker process) took "
        f"{result['embedder_load_ms']:.0f} ms; opening the store with the model loaded (the first call of a process, "
        "overlapping the room connection) took "
        + ", ".join(f"{backends[b]['cold']['store_open_ms']:.1f} ms on {b}" for b in names)
        + ".",
        "",
    ]
    for b in names:
        t = backends[b]["targets"]
        setup, turn = t["memory_setup_p95_ms"], t["turn_memory_p99_ms"]
        lines.append(
            f"- {b}: memory set-up p95 {_value(setup['value'], 2)} (< {setup['goal']:g} ms) "
            f"{'met' if setup['met'] else '**missed**'}; memory work per turn p99 {_value(turn['value'], 3)} "
            f"(< {turn['goal']:g} ms) {'met' if turn['met'] else '**missed**'}"
        )
    if "faults" in result:
        lines += ["", *_faults(result["faults"])]
    return "\n".join(lines)


def _faults(result: dict) -> list[str]:
    p, t = result["params"], result["target"]
    lines = [
        "#### The greeting when Postgres or Redis fails at call start",
        "",
        f"Returning callers on Postgres + Redis, each behind the test suite's fault proxy, the tenant's preload budget "
        f"{p['budget_s'] * 1000:.0f} ms; {p['calls']} calls per case. *Greeting* is the entrypoint from the caller "
        "joining to the greeting being spoken; *memory* is its memory part. The fault is lifted before each call "
        "closes.",
        "",
        "| case | greeting p50 / p95 / max (ms) | memory p50 / p95 / max (ms) | calls with the brief |",
        "|---|---|---|---|",
    ]
    for key, label, _ in bench_worker.FAULTS:
        case = result["cases"][key]
        lines.append(
            f"| {label} | {_cell3(case['greeting'])} | {_cell3(case['memory'])} | {case['with_brief']}/{case['calls']} |"
        )
    lines += [
        "",
        f"Slowest greeting under a fault: {t['worst_greeting_ms']:.0f} ms (target: the budget + "
        f"{p['slack_ms']:.0f} ms = {t['goal_ms']:.0f} ms): {'met' if t['met'] else '**missed**'}.",
    ]
    return lines


def _cell3(stats: dict) -> str:
    return " / ".join(f"{stats[k]:.0f}" for k in ("p50", "p95", "max")) if stats["n"] else "no samples"


def _value(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f} ms"


def headline(result: dict) -> list[tuple[str, str, str, bool | None]]:
    rows = []
    for b in BACKENDS:
        r = result["backends"].get(b)
        if r is None:
            continue
        setup, turn = r["targets"]["memory_setup_p95_ms"], r["targets"]["turn_memory_p99_ms"]
        rows += [
            (
                f"worker call path: memory's share of call set-up, p95 ({b})",
                _value(setup["value"], 2),
                f"< {setup['goal']:g} ms",
                setup["met"],
            ),
            (
                f"worker call path: memory work per turn, p99 ({b})",
                _value(turn["value"], 3),
                f"< {turn['goal']:g} ms",
                turn["met"],
            ),
        ]
    faults = result.get("faults")
    if faults:
        t = faults["target"]
        rows.append(
            (
                "worker call path: slowest greeting with Postgres hung or refused, or Redis hung, at call start "
                "(postgres+redis)",
                f"{t['worst_greeting_ms']:.0f} ms (preload budget {faults['params']['budget_s'] * 1000:.0f} ms)",
                f"≤ {t['goal_ms']:.0f} ms",
                t["met"],
            )
        )
    return rows

"""The worker as LiveKit runs it: one job process per call, one embedding model per host.

The measurements are :mod:`bench.bench_processes` (LiveKit's own server, process pool and
inference process, the worker's prewarm and call path); this suite runs them at the harness's
scale and reports them against the targets.
"""

from __future__ import annotations

import math
from typing import Any

from bench import bench_processes
from bench.context import Context

NAME = "processes"
TITLE = "The worker as LiveKit runs it: a job process per call"
TARGETS = {
    "memory_share_mb": 30.0,
    "pg_connections_per_call": 2.0,
    "store_open_p95_ms": 10.0,
    "first_recall_fast_p95_ms": 10.0,
    "first_recall_accurate_p95_ms": 25.0,
    "ipc_adds_p95_ms": 1.0,
}
JUDGED_AT = 50  # the recall targets hold at this many calls


async def run(ctx: Context) -> dict[str, Any]:
    levels = ctx.pick([3], [10, 50], [10, 50, 100])
    turns, every, spread = ctx.pick((2, 0.5, 0.1), (8, 2.5, 0.2), (8, 2.5, 0.2))
    result = await bench_processes.measure(
        ctx.postgres_url,
        ctx.redis_url,
        levels,
        turns=turns,
        turn_every=every,
        spread_per_call_s=spread,
        ipc_queries=ctx.pick(200, 1000, 1000),
    )
    for level in result["levels"]:
        level["targets_met"] = judge(level)
    return result


def judge(level: dict[str, Any]) -> dict[str, bool]:
    ok = level["calls"] - len(level["failed"])
    return {
        "memory_share_mb": level["memory_share_uss_mb_median"] <= TARGETS["memory_share_mb"],
        # within 2 per call, and no call left without memory (a store that could not open needs no connection)
        "pg_connections_per_call": not level["failed"]
        and level["pg_connections_max"] <= TARGETS["pg_connections_per_call"] * level["calls"],
        "store_open_p95_ms": level["store_open_p95_ms"] <= TARGETS["store_open_p95_ms"],
        "first_recall_fast_p95_ms": level["first_recall_fast_p95_ms"] <= TARGETS["first_recall_fast_p95_ms"],
        "first_recall_accurate_p95_ms": level["first_recall_accurate_p95_ms"]
        <= TARGETS["first_recall_accurate_p95_ms"],
        "exactly_once": level["calls_stored_exactly_once"] == ok,  # of the calls that had memory
    }


def render(result: dict[str, Any], ctx: Context) -> str:
    m = result["machine"]
    lines = [
        "LiveKit's `AgentServer` (unregistered) with the worker's prewarm, its process pool (a forkserver, one job "
        "process per call, all warm before the calls) and its inference process holding the one embedding model; "
        f"each call is a fake job running the worker's call path (returning caller, {result['turns']} scripted caller "
        f"turns ~{result['turn_every_s']:.1f} s apart, the offline stand-in for the language model; calls start "
        f"{result['spread_per_call_s']:.1f} s apart) against one "
        f"Postgres and Redis. Machine: {m['cpus']} cores, {m['ram_gb']} GB, load average "
        f"{m['load_avg_1m_at_start']} at the start (shared with other work). "
        "`python -m bench.bench_processes --calls 10,50,100`.",
        "",
        "| calls (most at once) | job process RSS / PSS / USS at the end of a call, MB | memory's share, USS MB (import + call) "
        "| Postgres connections, max | store open p50 / p95 ms | open + preload p95 ms | first recall p95, fast / "
        "accurate ms | a query's embedding (host) p50 / p95 ms | loop lag p99 ms | stored exactly once |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["levels"]:
        used = "call_used"
        lines.append(
            f"| {r['calls']} ({r['peak_concurrent_calls']}) | {_f(r['rss_mb'].get(used))} / {_f(r['pss_mb'].get(used))} / {_f(r['uss_mb'].get(used))} "
            f"| {r['memory_share_uss_mb_median']:.1f} | {r['pg_connections_max']} | {r['store_open_p50_ms']:.0f} / "
            f"{r['store_open_p95_ms']:.0f} | {r['open_preload_p95_ms']:.0f} | {r['first_recall_fast_p95_ms']:.0f} / "
            f"{r['first_recall_accurate_p95_ms']:.0f} | {r['query_embed_p50_ms']:.0f} / {r['query_embed_p95_ms']:.0f} | "
            f"{r['loop_lag_p99_ms']:.0f} | "
            f"{r['calls_stored_exactly_once']}/{r['calls'] - len(r['failed'])} ({r['turns_stored']} of "
            f"{r['turns_recorded']} turns) |"
        )
    if "ipc" in result:
        line = bench_processes._ipc_line(result["ipc"])
        lines += ["", line[0].upper() + line[1:] + "."]
    notes = [
        f"{r['calls']} calls: {r['pg_connections_note']}." for r in result["levels"] if r.get("pg_connections_note")
    ]
    if notes:
        lines += ["", *notes]
    if "control" in result:
        c = result["control"]
        lines += [
            "",
            f"Control: {c['calls']} calls with memory off end with a job process of "
            f"{c['call_used_median']['uss_mb']:.0f} MB USS (median); memory's runtime share against it: "
            + ", ".join(
                f"{r['calls']} calls +{r['memory_share_vs_control_mb']['uss_mb']:.1f} MB"
                for r in result["levels"]
                if "memory_share_vs_control_mb" in r
            )
            + " (the import of `memory` is in both).",
        ]
    return "\n".join(lines)


def headline(result: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    levels = result["levels"]
    judged = next((r for r in levels if r["calls"] == JUDGED_AT), max(levels, key=lambda r: r["calls"]))
    top = max(levels, key=lambda r: r["calls"])
    met = judged["targets_met"]
    n = judged["calls"]
    rows: list[tuple[str, str, str, bool | None]] = [
        (
            f"{n} calls, a job process each: memory's share of a job process (USS, median)",
            f"{judged['memory_share_uss_mb_median']:.1f} MB",
            "≤ 30 MB",
            met["memory_share_mb"],
        ),
        (
            f"{n} calls, a job process each: Postgres connections in use, max",
            f"{judged['pg_connections_max']} ({judged['pg_connections_max'] / n:.1f} per call"
            + (f"; {len(judged['failed'])} calls without memory)" if judged["failed"] else ")"),
            "≤ 2 per call",
            met["pg_connections_per_call"],
        ),
        (
            f"{n} calls, a job process each: store open p95",
            f"{judged['store_open_p95_ms']:.0f} ms",
            "≤ 10 ms",
            met["store_open_p95_ms"],
        ),
        (
            f"{n} calls, a job process each: first recall p95, fast / accurate, after the greeting's playout and "
            "the caller's question",
            f"{judged['first_recall_fast_p95_ms']:.0f} / {judged['first_recall_accurate_p95_ms']:.0f} ms",
            "≤ 10 / 25 ms",
            met["first_recall_fast_p95_ms"] and met["first_recall_accurate_p95_ms"],
        ),
        (
            f"{n} calls, a job process each: first recall p95, fast / accurate, asked as soon as the greeting "
            "starts (the worst case: the caller's history still loading)",
            f"{judged.get('first_recall_immediate_fast_p95_ms', math.nan):.0f} / "
            f"{judged.get('first_recall_immediate_accurate_p95_ms', math.nan):.0f} ms",
            "",
            None,
        ),
        (
            f"{n} calls, a job process each: event-loop lag p99",
            f"{judged['loop_lag_p99_ms']:.0f} ms",
            "",
            None,
        ),
        (
            f"{n} calls, a job process each: turns stored exactly once",
            f"{judged['calls_stored_exactly_once']}/{n - len(judged['failed'])} calls with memory "
            f"({judged['turns_stored']} of {judged['turns_recorded']} turns)",
            "all",
            met["exactly_once"],
        ),
    ]
    if top is not judged:
        rows.append(
            (
                f"{top['calls']} calls, a job process each: first recall p95 fast / accurate; store open p95",
                f"{top['first_recall_fast_p95_ms']:.0f} / {top['first_recall_accurate_p95_ms']:.0f} ms; "
                f"{top['store_open_p95_ms']:.0f} ms",
                "",
                None,
            )
        )
    if "ipc" in result:
        ipc = result["ipc"]
        rows.append(
            (
                "the host's shared embedder: what it adds to a query embedding over in process, p95 (a job "
                "process, each query both ways in turn; the direct channel to the inference process)",
                f"{ipc['ipc_adds_p95_ms']:+.2f} ms (p95 {ipc['host_p95_ms']:.1f} ms shared, "
                f"{ipc['in_process_p95_ms']:.1f} ms in process; through the worker's main process "
                f"{ipc['livekit_adds_p95_ms']:+.2f} ms)",
                "≤ 1 ms",
                ipc["ipc_adds_p95_ms"] <= TARGETS["ipc_adds_p95_ms"],
            )
        )
    return rows


def _f(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.0f}"

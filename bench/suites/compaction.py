"""Compaction: tokens per request and fact retention over long calls, against the framework's truncation."""

from __future__ import annotations

import asyncio

from bench import bench_compaction
from bench.context import Context
from memory.compaction import CompactionPolicy

NAME = "compaction"
TITLE = "Long calls: compaction against truncation"


async def run(ctx: Context) -> dict:
    quick = ctx.scale == "quick"
    budget = CompactionPolicy.token_budget
    results, plot_runs, longest = await asyncio.to_thread(
        bench_compaction.measure, quick=quick, budget=budget, tight=500, echo=False
    )
    bench_compaction.plot(longest, plot_runs, budget, ctx.plot_path("compaction_tokens"))
    return results


def _row(rows: list[dict], prefix: str) -> dict:
    return next(r for r in rows if r["strategy"].startswith(prefix))


def render(result: dict, ctx: Context) -> str:
    calls = result["calls"]
    facts = sum(c["facts"] for c in calls)
    minutes = ", ".join(f"{c['minutes']:.0f}" for c in calls)
    return "\n".join(
        [
            f"{len(calls)} synthetic ASR-style calls of {minutes} minutes, "
            f"{facts} labelled facts, budget {result['budget']} tokens. Truncation keeps the largest item count whose "
            "mean tokens per request is not above balanced compaction's: both spend the same. Tokens of the "
            "conversation part of each request (the instructions are the same for every strategy).",
            "",
            result["tables"]["main"],
            "",
            "On a third wording that the patterns were never tuned against (a card dispute):",
            "",
            result["tables"]["blind_wording"],
            "",
            f"![tokens per request over the longest call]({ctx.plot_path('compaction_tokens').name})",
            "",
            "More tables (a second wording, a tight budget) and the method: [docs/compaction.md](../compaction.md).",
        ]
    )


def headline(result: dict) -> list[tuple[str, str, str, bool | None]]:
    balanced = _row(result["rows"], "compaction (balanced)")
    truncate = _row(result["rows"], "truncate")
    blind = _row(result["blind_wording_rows"], "compaction (balanced)")
    return [
        (
            "long calls: tokens per request at minutes 8-10, against sending the whole call",
            f"{balanced['tokens_window_reduction']:.0%} fewer",
            "",
            None,
        ),
        (
            "long calls: facts kept when asked, compaction / truncation at the same spend",
            f"{balanced['retention_asked']:.0%} / {truncate['retention_asked']:.0%} "
            f"(×{balanced['retention_asked'] / max(truncate['retention_asked'], 1e-9):.1f}; "
            f"blind wording: {blind['retention_asked']:.0%})",
            "",
            None,
        ),
        ("long calls: compaction on the reply path, p95", f"{balanced['apply_ms_p95']:.2f} ms", "", None),
    ]

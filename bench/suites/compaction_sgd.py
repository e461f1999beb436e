"""Long calls built from real booking dialogues (SGD): compaction against truncation, both halves.

Each long call strings one caller's SGD bookings together, with backchannels and the caller asking,
at minutes 8-10 and at the end, about values said earlier (bench/bench_compaction_sgd.py builds
them and defines every measure). The held-out half (files 006-010) is the one the targets are
judged on; the tuning half (001-005) is shown beside it. Method: docs/compaction.md.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bench import bench_compaction_sgd as long_calls
from bench.context import Context
from bench.sgd import data

NAME = "compaction_sgd"
TITLE = "Long calls from SGD dialogues: compaction against truncation"
TARGETS = {"kept": 0.95, "over_budget": 0.01, "saved_8_10": 0.60, "prefix": 0.80, "right_turn": 0.80, "apply_p99": 5.0}


async def run(ctx: Context) -> dict:
    directory = data.data_dir()
    if not data.available(directory):
        return {"skipped": f"SGD data not found: set {data.ENV_VAR} to the directory of train_dialogues_*.json.gz"}
    count = ctx.pick(4, 36, 36)
    budgets = ctx.pick((long_calls.DEFAULT_BUDGET,), long_calls.BUDGETS, long_calls.BUDGETS)
    await asyncio.to_thread(long_calls.load_tokenizer)
    halves: dict[str, Any] = {}
    for half in ("tune", "heldout"):
        halves[half] = await asyncio.to_thread(
            long_calls.evaluate, half, directory=directory, seed=0, count=count, budgets=budgets
        )
    return {"budget": long_calls.DEFAULT_BUDGET, "calls_per_half": count, "halves": halves}


def render(result: dict, ctx: Context) -> str:
    if "skipped" in result:
        return f"Not run: {result['skipped']}."
    budget = result["budget"]
    lines = [
        f"{result['calls_per_half']} long calls per half, seed 0; the default budget is {budget} tokens. Truncation "
        "keeps the largest item count whose mean tokens per request is not above compaction's at the default budget.",
        "",
    ]
    for half in ("heldout", "tune"):
        r = result["halves"][half]
        lines += [long_calls.table(half, r), "", f"By value type at {budget} tokens ({half}):", ""]
        lines += [long_calls.by_type_table(r, budget), ""]
    lines.append("Method, definitions and caveats: [docs/compaction.md](../compaction.md).")
    return "\n".join(lines)


def headline(result: dict) -> list[tuple[str, str, str, bool | None]]:
    if "skipped" in result:
        return [(TITLE, "not run (no data)", "", None)]
    budget = str(result["budget"])
    held = result["halves"]["heldout"]
    tune = result["halves"]["tune"]
    c, t = held["compaction"][budget], held["truncation"]
    kept = min(c["kept_8_10"], c["kept_end"])
    right = c["recall_right_turn_when_lacking"]
    return [
        (
            f"long calls from SGD dialogues, held-out half, budget {budget}: facts kept when asked at minutes 8-10 / "
            "end, compaction / truncation at the same spend (tuning half)",
            f"{c['kept_8_10']:.0%} / {c['kept_end']:.0%}, {t['kept_8_10']:.0%} / {t['kept_end']:.0%} "
            f"({tune['compaction'][budget]['kept_8_10']:.0%} / {tune['compaction'][budget]['kept_end']:.0%})",
            f"≥ {TARGETS['kept']:.0%}",
            kept >= TARGETS["kept"],
        ),
        (
            "long calls from SGD dialogues, held-out half: tokens saved at minutes 8-10 against the whole call",
            f"{c['saved_8_10']:.0%}",
            f"≥ {TARGETS['saved_8_10']:.0%}",
            c["saved_8_10"] >= TARGETS["saved_8_10"],
        ),
        (
            "long calls from SGD dialogues, held-out half: in-call recall brings the right turn when the notes lack "
            "the value",
            "–" if right is None else f"{right:.0%} (of {c['notes_lacked_value']})",
            f"≥ {TARGETS['right_turn']:.0%}",
            right is not None and right >= TARGETS["right_turn"],
        ),
        (
            "long calls from SGD dialogues, held-out half: notes lines with a number never said / requests over "
            "budget (exact count) / notes prefix kept / `apply()` p99",
            f"{c['unsaid_number_lines']} of {c['notes_lines']} / {c['over_budget']:.1%} / "
            f"{c['prefix_cache_hit']:.0%} / {c['apply_ms_p99']:.1f} ms",
            "0 / ≤ 1% / ≥ 80% / ≤ 5 ms",
            c["unsaid_number_lines"] == 0
            and c["over_budget"] <= TARGETS["over_budget"]
            and c["prefix_cache_hit"] >= TARGETS["prefix"]
            and c["apply_ms_p99"] <= TARGETS["apply_p99"],
        ),
    ]

"""Compaction of long calls against the framework's plain truncation, at the same token budget.

    python bench/bench_compaction.py [--budget 1000] [--quick]

Replays the synthetic long calls of ``bench/longcalls.py`` (8 to 20 minutes of ASR-style turns,
15 labelled durable facts each, placed early, in the middle and late) through the worker's own
compaction (``memory.livekit.CallCompaction``, the code ``SupportAgent.llm_node`` runs) and
through ``ChatContext.truncate(max_items=N)``, and reports in one run:

- tokens sent to the model per request (the conversation part: the instructions are the same for
  every strategy and left out), over the call and in the 8-10 minute window, against sending
  the whole conversation;
- retention of the labelled facts when the caller asks about them at the end of the call: the
  fact's value is in what the model is sent (notes, verbatim turns, or turns recalled for the
  question); and without asking (in the notes or the verbatim turns alone);
- compaction time: on the reply path (``apply``: sync, plan, recall, surgery of the request) and
  between turns (classifying and compacting after an assistant turn).

``N`` for truncation is the largest item count whose mean tokens per request, over the requests
where compaction is active, is not above the balanced compaction's mean: both spend the same.
Tokens are counted as the compaction counts them (``memory.compaction.message_tokens``: exactly, in
``o200k_base``, the gpt-4o/gpt-4.1 encoding, plus four per message); nothing is downloaded.

The long calls built from real booking dialogues, tuned on one half and reported on the other, are
``bench/bench_compaction_sgd.py``; these synthetic calls are the regression test.

Writes ``bench/results/compaction.json`` and the plot ``docs/benchmarks/compaction_tokens.png``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from livekit.agents import llm  # noqa: E402
from livekit.agents.voice.generation import INSTRUCTIONS_MESSAGE_ID  # noqa: E402

from bench.context import mean, ranked_pct  # noqa: E402
from bench.longcalls import SyntheticCall, make_calls  # noqa: E402
from memory.compaction import CompactionPolicy, message_tokens  # noqa: E402
from memory.livekit import CallCompaction  # noqa: E402
from memory.text.spoken import normalize_spoken_digits  # noqa: E402

LEVELS = ("conservative", "balanced", "aggressive")
WINDOW = (8 * 60, 10 * 60)
RESULTS = ROOT / "bench" / "results" / "compaction.json"
PLOT = ROOT / "docs" / "benchmarks" / "compaction_tokens.png"  # the harness writes the same plot
INSTRUCTIONS = "You are Ava, a support agent of Acme Telecom. " * 40  # stands for the static prompt


def conversation_tokens(items: list[Any]) -> int:
    """Tokens of everything but the instructions message."""
    total = 0
    for item in items:
        if item.id == INSTRUCTIONS_MESSAGE_ID:
            continue
        if isinstance(item, llm.ChatMessage):
            total += message_tokens(item.text_content or "")
    return total


def context_text(items: list[Any]) -> str:
    text = "\n".join(item.text_content or "" for item in items if isinstance(item, llm.ChatMessage))
    return normalize_spoken_digits(text).lower()


def retained(fact_expect: tuple[str, ...], text: str) -> bool:
    return any(normalize_spoken_digits(e).lower() in text for e in fact_expect)


@dataclass
class Run:
    """One strategy over one call."""

    requests: list[tuple[float, int]] = field(default_factory=list)  # (minute, tokens)
    apply_ms: list[float] = field(default_factory=list)
    warm_ms: list[float] = field(default_factory=list)
    asked: dict[str, bool] = field(default_factory=dict)
    unasked: dict[str, bool] = field(default_factory=dict)
    by_recall: dict[str, bool] = field(default_factory=dict)
    source_sent: dict[str, bool] = field(default_factory=dict)  # the fact's own turn is sent verbatim when asked
    over_budget: int = 0
    compacted_from: float | None = None  # minute of the first compacted request


def history_of(call: SyntheticCall) -> list[tuple[Any, bool]]:
    """The call as chat items, each with whether a request is made just before it (the agent
    answers a caller's turn)."""
    out = []
    previous = None
    for turn in call.turns:
        item = llm.ChatMessage(id=turn.id, role=turn.role, content=[turn.text], created_at=turn.at.timestamp())
        out.append((item, turn.role == "assistant" and previous == "user"))
        previous = turn.role
    return out


def base_context() -> llm.ChatContext:
    return llm.ChatContext([llm.ChatMessage(id=INSTRUCTIONS_MESSAGE_ID, role="system", content=[INSTRUCTIONS])])


def probe_message(call: SyntheticCall, text: str) -> llm.ChatMessage:
    at = call.turns[-1].at.timestamp() + 5
    return llm.ChatMessage(id="probe", role="user", content=[text], created_at=at)


def run_compaction(call: SyntheticCall, policy: CompactionPolicy) -> Run:
    run = Run()
    compaction = CallCompaction(policy)
    history = base_context()
    for item, request in history_of(call):
        minute = (item.created_at - call.started_at.timestamp()) / 60
        if request:
            ctx = history.copy()
            compaction.apply(ctx)
            run.requests.append((minute, conversation_tokens(ctx.items)))
            plan = compaction.last_plan
            if plan is not None and plan.compacted and run.compacted_from is None:
                run.compacted_from = minute
            run.over_budget += bool(plan is not None and plan.over_budget)
        history.items.append(item)
        if item.role == "assistant":
            compaction.between_turns(item)
    run.apply_ms = list(compaction.apply_ms)
    run.warm_ms = list(compaction.warm_ms)
    # retention: without asking (notes + verbatim turns now), then when asked (recall included)
    ctx = history.copy()
    plan = compaction.compactor.plan(None)
    unasked_text = (
        normalize_spoken_digits(plan.notes).lower()
        + "\n"
        + context_text([i for i in ctx.items if i.id not in plan.condensed_ids])
    )
    for fact in call.facts:
        run.unasked[fact.id] = retained(fact.expect, unasked_text)
        ctx = history.copy()
        ctx.items.append(probe_message(call, fact.probe))
        plan = compaction.apply(ctx)
        run.asked[fact.id] = retained(fact.expect, context_text(ctx.items))
        run.by_recall[fact.id] = run.asked[fact.id] and not run.unasked[fact.id]
        run.source_sent[fact.id] = fact.turn_id in plan.recalled_ids or fact.turn_id not in plan.condensed_ids
    return run


def run_truncation(call: SyntheticCall, max_items: int) -> Run:
    run = Run()
    history = base_context()
    for item, request in history_of(call):
        minute = (item.created_at - call.started_at.timestamp()) / 60
        if request:
            started = time.perf_counter()
            ctx = history.copy().truncate(max_items=max_items)
            run.apply_ms.append((time.perf_counter() - started) * 1000)
            run.requests.append((minute, conversation_tokens(ctx.items)))
        history.items.append(item)
    for fact in call.facts:
        ctx = history.copy()
        ctx.items.append(probe_message(call, fact.probe))
        ctx.truncate(max_items=max_items)
        run.asked[fact.id] = retained(fact.expect, context_text(ctx.items))
        run.source_sent[fact.id] = any(item.id == fact.turn_id for item in ctx.items)
        without = history.copy().truncate(max_items=max_items)
        run.unasked[fact.id] = retained(fact.expect, context_text(without.items))
    return run


def run_full(call: SyntheticCall) -> Run:
    run = Run()
    history = base_context()
    for item, request in history_of(call):
        if request:
            minute = (item.created_at - call.started_at.timestamp()) / 60
            run.requests.append((minute, conversation_tokens(history.items)))
        history.items.append(item)
    run.asked = run.unasked = run.source_sent = {f.id: True for f in call.facts}
    return run


def window_tokens(runs: list[Run]) -> list[int]:
    return [t for r in runs for m, t in r.requests if WINDOW[0] <= m * 60 <= WINDOW[1]]


def active_tokens(runs: list[Run], reference: list[Run]) -> list[int]:
    """Tokens of the requests made once compaction was active in the reference run of the same call."""
    out = []
    for run, ref in zip(runs, reference, strict=True):
        start = ref.compacted_from if ref.compacted_from is not None else float("inf")
        out.extend(t for m, t in run.requests if m >= start)
    return out


def summarise(name: str, runs: list[Run], full: list[Run], reference: list[Run], calls: list[SyntheticCall]) -> dict:
    facts = [(call, fact) for call in calls for fact in call.facts]
    asked = [run.asked[fact.id] for run, call in zip(runs, calls, strict=True) for fact in call.facts]
    unasked = [run.unasked[fact.id] for run, call in zip(runs, calls, strict=True) for fact in call.facts]
    by_place: dict[str, list[bool]] = {}
    for run, call in zip(runs, calls, strict=True):
        for fact in call.facts:
            by_place.setdefault(fact.placement, []).append(run.asked[fact.id])
    window = window_tokens(runs)
    full_window = window_tokens(full)
    active = active_tokens(runs, reference)
    full_active = active_tokens(full, reference)
    apply_ms = [x for r in runs for x in r.apply_ms]
    warm_ms = [x for r in runs for x in r.warm_ms]
    per_turn = apply_ms + warm_ms
    lost = sorted(
        {f"{fact.id}" for run, call in zip(runs, calls, strict=True) for fact in call.facts if not run.asked[fact.id]}
    )
    return {
        "strategy": name,
        "facts": len(facts),
        "tokens_window_mean": round(mean(window), 1),
        "tokens_window_reduction": round(1 - mean(window) / mean(full_window), 3) if full_window else None,
        "tokens_active_mean": round(mean(active), 1),
        "tokens_active_reduction": round(1 - mean(active) / mean(full_active), 3) if full_active else None,
        "tokens_max": max((t for r in runs for _, t in r.requests), default=0),
        "retention_asked": round(sum(asked) / len(asked), 3),
        "retention_unasked": round(sum(unasked) / len(unasked), 3),
        "retention_by_placement": {k: round(sum(v) / len(v), 3) for k, v in sorted(by_place.items())},
        "rescued_by_recall": sum(sum(r.by_recall.values()) for r in runs),
        "source_turn_sent_when_asked": round(
            sum(sum(r.source_sent.values()) for r in runs) / max(1, sum(len(r.source_sent) for r in runs)), 3
        ),
        "facts_lost": lost,
        "over_budget_requests": sum(r.over_budget for r in runs),
        "apply_ms_p50": round(ranked_pct(apply_ms, 50), 3),
        "apply_ms_p95": round(ranked_pct(apply_ms, 95), 3),
        "apply_ms_max": round(max(apply_ms, default=0.0), 3),
        "between_turns_ms_p50": round(ranked_pct(warm_ms, 50), 3),
        "between_turns_ms_p95": round(ranked_pct(warm_ms, 95), 3),
        "between_turns_ms_max": round(max(warm_ms, default=0.0), 3),
        "per_turn_ms_p95": round(ranked_pct(per_turn, 95), 3),
    }


def choose_n(calls: list[SyntheticCall], target: float, reference: list[Run]) -> int:
    """The largest max_items whose mean tokens (compaction-active requests) is not above ``target``."""
    best = 2
    for n in range(2, 200):
        runs = [run_truncation(call, n) for call in calls]
        if mean(active_tokens(runs, reference)) > target:
            break
        best = n
    return best


def table(rows: list[dict]) -> str:
    head = (
        "| strategy | tokens/request, 8-10 min | fewer than whole | tokens/request once compacting | max | "
        "facts kept when asked | early / middle / late | kept without asking | exact turn sent when asked | "
        "reply-path ms p50 / p95 | between turns ms p95 |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in rows:
        place = r["retention_by_placement"]
        reduction = f"{r['tokens_window_reduction']:.0%}" if r["tokens_window_reduction"] is not None else "-"
        timing = f"{r['apply_ms_p50']:.2f} / {r['apply_ms_p95']:.2f}" if r["apply_ms_p95"] else "-"
        between = f"{r['between_turns_ms_p95']:.2f}" if r["between_turns_ms_p95"] else "-"
        lines.append(
            f"| {r['strategy']} | {r['tokens_window_mean']:.0f} | {reduction} | {r['tokens_active_mean']:.0f} | "
            f"{r['tokens_max']} | {r['retention_asked']:.0%} ({round(r['retention_asked'] * r['facts'])}/{r['facts']}) | "
            f"{place.get('early', 0):.0%} / {place.get('middle', 0):.0%} / {place.get('late', 0):.0%} | "
            f"{r['retention_unasked']:.0%} | {r['source_turn_sent_when_asked']:.0%} | {timing} | {between} |"
        )
    return head + "\n".join(lines)


def plot(call: SyntheticCall, runs: dict[str, Run], budget: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.8), dpi=110)
    styles = {
        "whole conversation": ("#999999", "-"),
        "truncate": ("#d62728", "-"),
        "compaction (balanced)": ("#1f77b4", "-"),
        "compaction (aggressive)": ("#2ca02c", ":"),
    }
    for name, run in runs.items():
        color, style = next(v for k, v in styles.items() if name.startswith(k))
        xs = [m for m, _ in run.requests]
        ys = [t for _, t in run.requests]
        ax.plot(xs, ys, style, color=color, label=name, linewidth=1.6)
    ax.axhline(budget, color="#444444", linestyle="--", linewidth=0.8, label=f"token budget ({budget})")
    ax.axvspan(WINDOW[0] / 60, WINDOW[1] / 60, color="#eeeeee", zorder=0)
    ax.set_xlabel("call time (minutes)")
    ax.set_ylabel("conversation tokens sent per request")
    ax.set_title(f"Tokens per request over a {call.minutes:.0f}-minute call ({call.call_id})")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def compare(calls: list[SyntheticCall], budget: int, levels: tuple[str, ...]) -> tuple[list[dict], dict[str, Any]]:
    """Whole conversation, compaction at each level and truncation at the same spend, over ``calls``."""
    full = [run_full(call) for call in calls]
    compacted = {
        level: [run_compaction(call, CompactionPolicy(level=level, token_budget=budget)) for call in calls]
        for level in levels
    }
    reference = compacted["balanced"]
    n = choose_n(calls, mean(active_tokens(reference, reference)), reference)
    truncated = [run_truncation(call, n) for call in calls]
    rows = [summarise("whole conversation", full, full, reference, calls)]
    rows += [summarise(f"compaction ({level})", compacted[level], full, reference, calls) for level in levels]
    rows.append(summarise(f"truncate(max_items={n})", truncated, full, reference, calls))
    return rows, {"full": full, "compacted": compacted, "truncated": truncated, "n": n}


def report(title: str, rows: list[dict]) -> str:
    text = table(rows)
    print(f"\n{title}")
    print(text)
    for row in rows:
        if row["facts_lost"]:
            print(f"  {row['strategy']} lost: {', '.join(row['facts_lost'])}")
    return text


def measure(*, quick: bool, budget: int, tight: int, echo: bool = True) -> tuple[dict, dict[str, Run], SyntheticCall]:
    """Every comparison of this benchmark: (results, the longest call's runs for the plot, that call)."""
    lengths, seeds = ((10, 20), (1,)) if quick else ((8, 10, 12, 15, 20), (1, 2))
    calls = make_calls(lengths, seeds)
    held_out = make_calls(lengths, seeds, phrasing=1)
    blind = make_calls(lengths, seeds, phrasing=2)
    facts = sum(len(c.facts) for c in calls)
    describe = f"{len(calls)} calls ({', '.join(f'{c.minutes:.0f}' for c in calls)} minutes), {facts} labelled facts"
    show = report if echo else (lambda _title, rows: table(rows))

    # warm-up (not measured): lazy loads on first use, e.g. the phone-number metadata, which a worker
    # has loaded already when the call's identifiers were read
    run_compaction(make_calls((8,), (99,))[0], CompactionPolicy())
    rows, runs = compare(calls, budget, LEVELS)
    main_table = show(f"{describe}, budget {budget} tokens", rows)
    held_rows, _ = compare(held_out, budget, ("balanced",))
    held_table = show(f"second wording (not blind): {describe}, budget {budget} tokens", held_rows)
    blind_rows, _ = compare(blind, budget, ("balanced",))
    blind_table = show(f"blind third wording (card dispute): {describe}, budget {budget} tokens", blind_rows)
    tight_rows = []
    for name, group in (("first wording", calls), ("second wording", held_out), ("blind wording", blind)):
        compared, _ = compare(group, tight, ("balanced",))
        for row in compared[1:]:
            row["strategy"] = f"{row['strategy']}, {name}"
        tight_rows += compared[1:]
    tight_table = show(f"tight budget: {tight} tokens", tight_rows)
    n = runs["n"]
    longest = max(range(len(calls)), key=lambda i: calls[i].minutes)
    plot_runs = {
        "whole conversation": runs["full"][longest],
        f"truncate(max_items={n})": runs["truncated"][longest],
        "compaction (balanced)": runs["compacted"]["balanced"][longest],
        "compaction (aggressive)": runs["compacted"]["aggressive"][longest],
    }
    results = {
        "machine": {"python": platform.python_version(), "processor": platform.machine(), "cpus": _cpus()},
        "budget": budget,
        "tight_budget": tight,
        "truncate_max_items": n,
        "calls": [{"id": c.call_id, "minutes": c.minutes, "turns": len(c.turns), "facts": len(c.facts)} for c in calls],
        "longest_call": {"id": calls[longest].call_id, "minutes": calls[longest].minutes},
        "rows": rows,
        "second_wording_rows": held_rows,
        "blind_wording_rows": blind_rows,
        "tight_rows": tight_rows,
        "tables": {
            "main": main_table,
            "second_wording": held_table,
            "blind_wording": blind_table,
            "tight": tight_table,
        },
    }
    return results, plot_runs, calls[longest]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=int, default=CompactionPolicy.token_budget)
    parser.add_argument("--tight", type=int, default=500, help="a tighter budget, to see the verbatim recall at work")
    parser.add_argument("--quick", action="store_true", help="two calls (10 and 20 minutes), no files written")
    args = parser.parse_args()
    results, plot_runs, longest = measure(quick=args.quick, budget=args.budget, tight=args.tight)
    if args.quick:
        return
    plot(longest, plot_runs, args.budget, PLOT)
    command = "python bench/bench_compaction.py"
    if args.budget != CompactionPolicy.token_budget:
        command += f" --budget {args.budget}"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"command": command} | results, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)} and {PLOT.relative_to(ROOT)}")


def _cpus() -> int:
    import os

    return os.cpu_count() or 1


if __name__ == "__main__":
    main()

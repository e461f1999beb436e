"""Accuracy: the voice scenario set and LoCoMo turn-level retrieval, beside the baselines, in one run.

Voice scenarios replay on Postgres + Redis through the public API, then through two baselines on the
same texts and vectors: memory keyed by the raw caller-ID string (a do-it-yourself template) and
tenant-wide vector-only search (one index per deployment, no caller). LoCoMo replays each
conversation as one caller and ranks the same stored turns with fast and accurate recall, BM25-only,
dense-only, and dense-only over every conversation pooled (tenant-wide).
"""

from __future__ import annotations

import argparse

from bench import eval_locomo, eval_scenarios
from bench.context import Context

NAME = "accuracy"
TITLE = "Accuracy: voice scenarios and LoCoMo, against the baselines"
SCENARIO_TARGET = 0.95
BASELINE_NAMES = {"raw_caller_id": "memory keyed by the raw caller ID", "tenant_vector": "tenant-wide vector-only"}


async def run(ctx: Context) -> dict:
    scenario = eval_scenarios.load_scenarios()
    async with ctx.temp_database("accuracy") as url:
        report = await eval_scenarios.evaluate(scenario, url=url, redis_url=ctx.redis_url, embedder=ctx.embedder)
    scenarios = report.to_json()
    scenarios["markdown"] = report.markdown(failures=False)
    scenarios["failing"] = [p["id"] for p in scenarios["probes"] if not p["memory"]["passed"]]
    del scenarios["probes"]  # per-probe detail: python bench/eval_scenarios.py
    return {"scenarios": scenarios, "locomo": await _locomo(ctx)}


async def _locomo(ctx: Context) -> dict:
    path = eval_locomo.data_path(None)
    if not path.is_file():
        return {"skipped": "LoCoMo data not found: set LOCOMO_PATH to locomo10.json"}
    args = argparse.Namespace(
        data=str(path),
        limit_conversations=ctx.pick(2, 0, 0),
        quick=False,
        modes="fast,accurate,bm25,dense,dense-tenant",
        latency_sizes=ctx.pick("", "", "200,1000"),
        latency_queries=300,
        ablations=ctx.scale == "full",
    )
    return await eval_locomo.run(args)


def _rate(metrics: dict) -> str:
    return f"{metrics['probes_passed']}/{metrics['probes']} ({metrics['pass_rate']:.0%})"


def _ratios(ours: float, theirs: list[float]) -> str:
    """' (×7.6 / ×4.1 the baselines)': how many times each baseline's score this one is."""
    if not theirs:
        return ""
    return " (" + " / ".join(f"×{ours / t:.1f}" if t else "×∞" for t in theirs) + " the baselines)"


def render(result: dict, ctx: Context) -> str:
    s = result["scenarios"]
    lines = [
        "### Voice scenarios",
        "",
        s["markdown"],
        "",
        "Failing probes of the memory layer: " + (", ".join(s["failing"]) or "none") + ".",
        "",
    ]
    lines += ["### LoCoMo turn-level retrieval", ""]
    locomo = result["locomo"]
    if "skipped" in locomo:
        lines.append(f"Not run: {locomo['skipped']}.")
        return "\n".join(lines)
    lines += [
        f"{len(locomo['conversations'])} conversations, {locomo['turns']:,} turns, {locomo['questions']:,} questions "
        f"(categories 1-4 with evidence), top {locomo['limit']}. A conversation is one caller; the tenant-wide system "
        "pools every conversation's turns in one index, and its last column is the share of its hits that belong to "
        "another caller.",
        "",
        eval_locomo.table(locomo["results"]),
    ]
    if locomo.get("ablations"):
        lines += ["", "Ablations (each ranking signal switched off):", "", eval_locomo.table(locomo["ablations"])]
    if any(locomo.get("latency", {}).values()):
        lines += ["", eval_locomo.latency_table(locomo["latency"])]
    lines += ["", "Method and caveats: [docs/locomo.md](../locomo.md), [docs/scenarios.md](../scenarios.md)."]
    return "\n".join(lines)


def headline(result: dict) -> list[tuple[str, str, str, bool | None]]:
    s = result["scenarios"]
    memory_metrics, baselines = s["memory"], s.get("baselines") or {}
    names = [n for n in BASELINE_NAMES if n in baselines]
    against = " / ".join(BASELINE_NAMES[n] for n in names)
    rows = [
        (
            f"voice scenarios: probes passed, memory layer / {against}",
            " / ".join([_rate(memory_metrics), *(_rate(baselines[n]) for n in names)])
            + _ratios(memory_metrics["probes_passed"], [baselines[n]["probes_passed"] for n in names]),
            f"≥ {SCENARIO_TARGET:.0%}",
            memory_metrics["pass_rate"] >= SCENARIO_TARGET,
        ),
        (
            f"voice scenarios: leaks across callers or tenants, memory layer / {against}",
            " / ".join(str(m["leaks"]) for m in [memory_metrics, *(baselines[n] for n in names)]),
            "0",
            memory_metrics["leaks"] == 0,
        ),
    ]
    locomo = result["locomo"]
    if "skipped" not in locomo:
        res = locomo["results"]
        order = [k for k in ("accurate", "fast", "bm25-only", "dense-only", "dense-only, tenant-wide") if k in res]
        accurate = res["accurate"]["overall"]["recall_any@5"]
        rows.append(
            (
                f"LoCoMo R_any@5 ({len(locomo['conversations'])} conversations): {' / '.join(order)}",
                " / ".join(f"{res[k]['overall']['recall_any@5']:.3f}" for k in order)
                + _ratios(accurate, [res[k]["overall"]["recall_any@5"] for k in order if "-only" in k]),
                f"≥ {eval_locomo.TARGET_ACCURATE_R5} (accurate)",
                accurate >= eval_locomo.TARGET_ACCURATE_R5,
            )
        )
    return rows

"""SGD multi-call recall (both halves, clean and voice) and LoCoMo with turns stored without speaker names.

Callers assembled from Schema-Guided Dialogue bookings are replayed on Postgres + Redis through the
public API and asked, in later calls, about values of their earlier calls ("which restaurant did I
book last time", "how many tickets did I buy when I called in June"); the same run replays them
through a phone-keyed BM25 memory and tenant-wide vector search. The tuning half (files 001-005)
is reported beside the held-out half (006-010), which is the one the targets are judged on. LoCoMo
turn-level retrieval runs with each turn stored as its words only (a voice agent has no speaker
name in a caller's words). The held-out half is also asked with the blind wording set (questions written
without reading the recall rules; runs keyed ``heldout/<variant>/blind``). Method: docs/sgd.md. Failed probes of the memory layer, with their hits,
go to bench/results/sgd_failures.json (not into the report).
"""

from __future__ import annotations

import json

from bench import eval_sgd
from bench.context import ROOT, Context
from bench.sgd import data
from bench.sgd import run as replay

NAME = "sgd"
TITLE = "SGD multi-call recall and LoCoMo without speaker names"
FAILURES = ROOT / "bench" / "results" / "sgd_failures.json"


async def run(ctx: Context) -> dict:
    directory = data.data_dir()
    if not data.available(directory):
        return {"skipped": f"SGD data not found: set {data.ENV_VAR} to the directory of train_dialogues_*.json.gz"}
    callers = ctx.pick(eval_sgd.CALLERS["quick"], eval_sgd.CALLERS["default"], eval_sgd.CALLERS["full"])
    async with ctx.temp_database("sgd") as url:
        result = await eval_sgd.evaluate_all(
            directory=directory, callers=callers, url=url, redis_url=ctx.redis_url, embedder=ctx.embedder
        )
        blind = await eval_sgd.evaluate_all(
            directory=directory,
            split="heldout",
            callers=callers,
            url=url,
            redis_url=ctx.redis_url,
            embedder=ctx.embedder,
            wordings="blind",
        )
    result["runs"].update(blind["runs"])
    result["failure_examples"].update(blind["failure_examples"])
    result["seconds"] = round(result["seconds"] + blind["seconds"], 1)
    failures = result.pop("failure_examples")
    FAILURES.parent.mkdir(parents=True, exist_ok=True)
    FAILURES.write_text(json.dumps(failures, indent=2, default=str) + "\n", encoding="utf-8")
    if ctx.scale == "quick":
        result["locomo"] = {"skipped": "not at the quick scale (the accuracy suite runs LoCoMo)"}
    else:
        result["locomo"] = await eval_sgd.locomo_bare()
    return result


def render(result: dict, ctx: Context) -> str:
    if "skipped" in result:
        return f"Not run: {result['skipped']}."
    return "\n".join(
        [
            f"Seed {result['seed']}, {result['callers_per_tenant']} callers per tenant and half. Pass = the asked value "
            "is in a top-5 hit of the caller and a hit from the asked call carries it. The held-out half is the one "
            "the targets are judged on; the tuning half is shown beside it. Per-probe failures: "
            "`bench/results/sgd_failures.json`.",
            "",
            eval_sgd.markdown(result),
            "Method, definitions and caveats: [docs/sgd.md](../sgd.md).",
        ]
    )


def _fmt(measure: dict | None) -> str:
    return "–" if not measure or not measure.get("n") else f"{measure['rate']:.2f}"


def headline(result: dict) -> list[tuple[str, str, str, bool | None]]:
    if "skipped" in result:
        return [("SGD multi-call recall", "not run (no data)", "", None)]
    rows: list[tuple[str, str, str, bool | None]] = []
    runs = result["runs"]
    order = ["memory:fast", "memory:accurate", *replay.BASELINES]
    labels = " / ".join(replay.LABELS[n] for n in order)
    for key, r in runs.items():
        s = r["systems"]
        cells = " / ".join(_fmt(s[n]["pass"]) if n in s else "–" for n in order)
        held = r["half"] == "heldout"
        met = min(s["memory:fast"]["pass"]["rate"], s["memory:accurate"]["pass"]["rate"]) >= eval_sgd.TARGETS["pass"]
        rows.append(
            (f"SGD {key}: probes passed, {labels}", cells, "≥ 0.90 (held-out)" if held else "", met if held else None)
        )
    held = [r for r in runs.values() if r["half"] == "heldout"]
    if held:
        memory = [r["systems"][m] for r in held for m in ("memory:fast", "memory:accurate")]
        leaks = sum(r["systems"]["memory:fast"]["leaks"] for r in runs.values())
        rows.append(("SGD: leaks of the memory layer (all runs)", str(leaks), "0", leaks == 0))
        identity = min(m["identity"]["rate"] for m in memory if m["identity"]["n"])
        rows.append(
            ("SGD held-out: identity decisions right (worst variant)", f"{identity:.3f}", "≥ 0.99", identity >= 0.99)
        )
        updates = [m["update_ordered"] for m in memory if m["update_ordered"]["n"]]
        if updates:
            worst = min(u["rate"] for u in updates)
            rows.append(
                (
                    "SGD held-out: knowledge updates ordered (worst variant and mode)",
                    f"{worst:.3f}",
                    "≥ 0.99",
                    worst >= 0.99,
                )
            )
        fillers = sum(
            m["filler_hits"]["ok"]
            for r in runs.values()
            for m in (r["systems"]["memory:fast"], r["systems"]["memory:accurate"])
        )
        rows.append(
            (
                "SGD: filler/backchannel hits of the memory layer (fast + accurate, all runs)",
                str(fillers),
                "0",
                fillers == 0,
            )
        )
    locomo = result.get("locomo") or {}
    if "results" in locomo:
        fast, accurate = (locomo["results"][m]["overall"]["recall_any@5"] for m in ("fast", "accurate"))
        rows.append(
            (
                f"LoCoMo R_any@5, turns stored without speaker names ({len(locomo['conversations'])} conversations): fast / accurate",
                f"{fast:.3f} / {accurate:.3f}",
                f"≥ {eval_sgd.TARGETS['locomo_r5']}",
                min(fast, accurate) >= eval_sgd.TARGETS["locomo_r5"],
            )
        )
    return rows

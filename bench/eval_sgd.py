"""SGD multi-call recall: callers assembled from real booking dialogues, asked about their earlier calls.

    python bench/eval_sgd.py                         # both halves, clean and voice, ~3-4 min on 2 cores
    python bench/eval_sgd.py --split tune            # the half to tune on (files 001-005)
    python bench/eval_sgd.py --split heldout         # the half to report on (files 006-010)
    python bench/eval_sgd.py --data DIR --split more-tune     # the full release: services the subset lacks
    python bench/eval_sgd.py --data DIR --split more-heldout  # (its test split; see docs/sgd.md)
    python bench/eval_sgd.py --quick                 # 2 callers per tenant: a check that it runs (~40 s)
    python bench/eval_sgd.py --postgres postgresql://postgres@127.0.0.1:5432/postgres --redis redis://127.0.0.1:6379/14
    python bench/eval_sgd.py --locomo                # also LoCoMo, turns stored without speaker names
    python bench/eval_sgd.py --wordings blind        # the probes worded by the blind set (bench/sgd/blind_vocab.py)

Callers, calls, voice noise and probes: bench/sgd/build.py; the data and its ground truth:
bench/sgd/data.py; every wording: bench/sgd/vocab.py (the second, blind set of probe wordings:
bench/sgd/blind_vocab.py, ``--wordings blind``, results in ``sgd_blind*.json``); scoring: bench/sgd/score.py; replay and
baselines: bench/sgd/run.py; the method and the definitions: docs/sgd.md.

The data is read in place (``--data``, else ``$SGD_PATH``, else ``../shared/data/sgd/``). Everything
is deterministic from ``--seed``. Writes ``bench/results/sgd.json`` (every measure, per half, variant
and system) and ``bench/results/sgd_failures.json`` (failed probes of the memory layer by category,
with their hits); prints the tables and a few failures. Exit code 0 even when probes fail; ``--strict``
exits 1 if the memory layer leaked anything.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import eval_locomo  # noqa: E402
from bench.sgd import build, data, run, score  # noqa: E402
from memory.embed import default_embedder  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "sgd.json"
FAILURES = ROOT / "bench" / "results" / "sgd_failures.json"
CALLERS = {"quick": 2, "default": 10, "full": 60}  # callers per tenant (two tenants), per half
SPLITS = {
    "tune": ("tune",),
    "heldout": ("heldout",),
    "both": ("tune", "heldout"),
    # the full release only (--data): services the subset lacks, see docs/sgd.md
    "more-tune": ("more-tune",),
    "more-heldout": ("more-heldout",),
    "more-both": ("more-tune", "more-heldout"),
    "tune2": ("tune2",),  # the full release only: more dialogues of the subset's services, to tune on
    "tune3": ("tune3",),  # the same, from the release's dev split (concerts and songs)
    "tune4": ("tune4",),  # the same, from the release's test split file 002 (Events_3, Music_3)
    "tune5": ("tune5",),  # the same, concerts booked in calls of several services (train 044, 096, 099, 123)
    "tune6": ("tune6",),  # the same, songs played in calls of several services (train 050, 064, 107, 126)
    "tune7": ("tune7",),  # the same, concerts and songs cut to their own turns of such calls (see data.TUNE7_FILES)
    "tune8": ("tune8",),  # the same, concerts and songs in calls of several services (train 049, 051, 065, 067, 098)
    "tune9": ("tune9",),  # the same, of the dev split's other files (Events_1, Music_1)
}
TARGETS = {"pass": 0.90, "identity": 0.99, "update_ordered": 0.99, "locomo_r5": 0.80}
SYSTEMS = ("memory:fast", "memory:accurate", *run.BASELINES)


def _systems(results: dict) -> dict[str, tuple[Any, str]]:
    out = {f"memory:{m}": (results["memory"], m) for m in run.MEMORY_MODES}
    out |= {name: (results[name], "rank") for name in run.BASELINES if name in results}
    return out


async def evaluate_all(
    *,
    directory: Path,
    split: str = "both",
    variants: Sequence[str] = build.VARIANTS,
    seed: int = 0,
    callers: int = CALLERS["default"],
    url: str | None = None,
    redis_url: str | None = None,
    embedder=None,
    baselines: Sequence[str] = run.BASELINES,
    examples: int = 5,
    progress: bool = False,
    wordings: str = "original",
) -> dict[str, Any]:
    """Every half of ``split`` in every variant: the measures of each system, and failure examples.

    ``wordings``: the probe wordings (``build.WORDINGS``); a run of the blind set is keyed
    ``half/variant/blind``."""
    started = time.perf_counter()
    out: dict[str, Any] = {
        "dataset": "Schema-Guided Dialogue, train files 001-010 (tune 001-005, held-out 006-010)",
        "seed": seed,
        "callers_per_tenant": callers,
        "wordings": wordings,
        "runs": {},
    }
    failures: dict[str, Any] = {}
    for half in SPLITS[split]:
        episodes, skipped = data.load_episodes(directory, half)
        for variant in variants:
            sgd = build.build(
                episodes, half=half, variant=variant, seed=seed, callers_per_tenant=callers, wordings=wordings
            )
            t0 = time.perf_counter()
            results = await run.evaluate(
                sgd, url=url, redis_url=redis_url, embedder=embedder, baselines=baselines, progress=progress
            )
            key = f"{half}/{variant}" + ("" if wordings == "original" else f"/{wordings}")
            systems = _systems(results)
            out["runs"][key] = {
                "half": half,
                "variant": variant,
                "wordings": wordings,
                "set": sgd.summary(),
                "episodes": len(episodes),
                "skipped_dialogues": dict(skipped),
                "kinds": _kinds(sgd),
                "systems": {name: score.tally(result, mode) for name, (result, mode) in systems.items()},
                "latency_ms": _latency(results["memory"]),
                "seconds": results["seconds"] | {"total": round(time.perf_counter() - t0, 1)},
            }
            failures[key] = {
                name: score.failure_examples(result, mode, examples)
                for name, (result, mode) in systems.items()
                if name.startswith("memory")
            }
    out["seconds"] = round(time.perf_counter() - started, 1)
    out["failure_examples"] = failures
    return out


def _kinds(sgd: build.SgdSet) -> dict[str, int]:
    counts: dict[str, int] = {}
    for episode in sgd.episode_of.values():
        counts[episode.kind] = counts.get(episode.kind, 0) + 1
    return dict(sorted(counts.items()))


def _latency(result) -> dict[str, dict[str, float | None]]:
    from bench.eval_scenarios import _pct

    return {k: {"p50": _pct(v, 50), "p95": _pct(v, 95), "n": len(v)} for k, v in sorted(result.latency.items())}


async def locomo_bare(conversations: int = 0, data_path: str | None = None) -> dict:
    """LoCoMo turn-level retrieval through the public API, turns stored without speaker names."""
    path = eval_locomo.data_path(data_path)
    if not path.is_file():
        return {"skipped": "LoCoMo data not found: set LOCOMO_PATH to locomo10.json"}
    args = argparse.Namespace(
        data=str(path),
        limit_conversations=conversations,
        quick=False,
        modes="fast,accurate",
        latency_sizes="",
        latency_queries=0,
        ablations=False,
        bare_turns=True,
    )
    return await eval_locomo.run(args)


# --------------------------------------------------------------------------- report


def _cell(measure: dict | None) -> str:
    if not measure or not measure.get("n"):
        return "–"
    return f"{measure['rate']:.0%} ({measure['ok']}/{measure['n']})"


def _short(measure: dict | None) -> str:
    return "–" if not measure or not measure.get("n") else f"{measure['rate']:.2f}"


def summary_table(result: dict) -> str:
    runs = result["runs"]
    names = [s for s in SYSTEMS if any(s in r["systems"] for r in runs.values())]
    lines = [
        "| half / variant | probes | " + " | ".join(run.LABELS[n] + ": pass" for n in names) + " | leaks (memory) "
        "| identity (memory) | updates ordered (memory fast / accurate) | filler hits (memory fast) |",
        "|---" * (len(names) + 6) + "|",
    ]
    for key, r in runs.items():
        s, fast, accurate = r["systems"], r["systems"]["memory:fast"], r["systems"]["memory:accurate"]
        lines.append(
            f"| {key} | {fast['probes']} | "
            + " | ".join(_short(s[n]["pass"]) if n in s else "–" for n in names)
            + f" | {fast['leaks']} | {_short(fast['identity'])} | {_short(fast['update_ordered'])} / "
            f"{_short(accurate['update_ordered'])} | {fast['filler_hits']['ok']} |"
        )
    return "\n".join(lines)


ROWS: tuple[tuple[str, str], ...] = (
    ("pass (found@5 and right call)", "pass"),
    ("found@5 (value in a top-5 hit of the caller)", "found@5"),
    ("right call (a hit of the asked call carries the value)", "right_call"),
    ("first hit of the asked kind is the right value", "first_of_kind"),
    ("knowledge updates: current value above the former", "update_ordered"),
    ("brief alone answers (all probes)", "brief_answers"),
    ("brief alone answers ('last time' probes)", "brief_answers_recent"),
    ("'last time' past a later call of another kind: pass", "recent_past_other_calls"),
    ("filler hits, of all hits", "filler_hits"),
    ("recalls with a filler hit", "recalls_with_filler"),
    ("identity decisions right", "identity"),
)


def run_table(r: dict) -> str:
    systems = r["systems"]
    names = [n for n in SYSTEMS if n in systems]
    lines = ["| measure | " + " | ".join(run.LABELS[n] for n in names) + " |", "|---" * (len(names) + 1) + "|"]
    for label, key in ROWS:
        lines.append(f"| {label} | " + " | ".join(_cell(systems[n][key]) for n in names) + " |")
    families = sorted({f for n in names for f in systems[n]["by_family"]})
    for family in families:
        lines.append(
            f"| pass, selector {family} | "
            + " | ".join(_cell(systems[n]["by_family"].get(family)) for n in names)
            + " |"
        )
    lines.append(
        "| **leaks** (hits, briefs, facts, matters) | " + " | ".join(str(systems[n]["leaks"]) for n in names) + " |"
    )
    for category in score.FAILURES:
        lines.append(
            f"| failures: {category} | " + " | ".join(str(systems[n]["failures"][category]) for n in names) + " |"
        )
    return "\n".join(lines)


def group_table(result: dict, system: str = "memory:accurate") -> str:
    runs = result["runs"]
    groups = sorted({g for r in runs.values() for g in r["systems"][system]["by_group"]})
    lines = ["| value asked | " + " | ".join(runs) + " |", "|---" * (len(runs) + 1) + "|"]
    for g in groups:
        lines.append(
            f"| {g} | " + " | ".join(_cell(r["systems"][system]["by_group"].get(g)) for r in runs.values()) + " |"
        )
    return "\n".join(lines)


def breakdown_table(result: dict, key: str, label: str, system: str = "memory:accurate") -> str:
    """Pass of one system per value of ``key`` (``by_selector``, ``by_kind``), one column per run."""
    runs = result["runs"]
    values = sorted({v for r in runs.values() for v in r["systems"][system].get(key, {})})
    lines = [f"| {label} | " + " | ".join(runs) + " |", "|---" * (len(runs) + 1) + "|"]
    for v in values:
        lines.append(f"| {v} | " + " | ".join(_cell(r["systems"][system][key].get(v)) for r in runs.values()) + " |")
    return "\n".join(lines)


def markdown(result: dict) -> str:
    out = [summary_table(result), ""]
    for key, r in result["runs"].items():
        s = r["set"]
        kinds = ", ".join(f"{k} {n}" for k, n in r["kinds"].items())
        out += [
            f"**{key}**: {s['callers']} callers in 2 tenants, {s['calls']} calls ({kinds}), {s['turns']} turns, "
            f"{s['value_probes']} value probes ({s['update_probes']} knowledge updates), {s['identity_probes']} "
            f"identity probes, {s['other_phone_calls']} calls from another phone; {r['seconds']['total']:.0f} s.",
            "",
            run_table(r),
            "",
        ]
    out += ["Pass by value asked (memory, accurate):", "", group_table(result), ""]
    out += ["Pass by selector (memory, accurate):", "", breakdown_table(result, "by_selector", "selector"), ""]
    out += ["Pass by kind (memory, accurate):", "", breakdown_table(result, "by_kind", "kind"), ""]
    locomo = result.get("locomo")
    if locomo and "skipped" not in locomo:
        out += [
            f"LoCoMo, turns stored without speaker names ({len(locomo['conversations'])} conversations, "
            f"{locomo['questions']} questions), through the public API:",
            "",
            eval_locomo.table(locomo["results"]),
            "",
        ]
    elif locomo:
        out += [f"LoCoMo not run: {locomo['skipped']}.", ""]
    return "\n".join(out)


def update_failure_lines(result: dict, system: str = "memory:accurate") -> list[str]:
    """One line per knowledge-update probe that was not ordered: half/variant, kind, group, why."""
    lines = []
    for key, run_result in result["runs"].items():
        for item in run_result["systems"].get(system, {}).get("update_failures", []):
            lines.append(f"- {key}: {item['kind']} / {item['group']} ({item['family']}): {item['failure']}")
    return lines


def print_failures(result: dict, per_category: int = 2) -> None:
    lines = update_failure_lines(result)
    print("\nKnowledge updates not ordered, memory accurate (kind / value group (selector family): why):")
    print("\n".join(lines) if lines else "- none")
    for key, systems in result["failure_examples"].items():
        examples = systems.get("memory:accurate", {})
        print(f"\nFailed probes, memory accurate, {key} (a few per category; all in {FAILURES.name}):")
        for category, items in examples.items():
            for item in items[:per_category]:
                print(f"- [{category}] {item['query']!r} -> {item['expected']}")
                for hit in item["hits"][:3]:
                    print(f"      {hit}")


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help=f"the SGD directory (default ${data.ENV_VAR} or ../shared/data/sgd)")
    parser.add_argument(
        "--split",
        choices=sorted(SPLITS),
        default="both",
        help="tune (001-005), heldout (006-010); more-* need the full release (--data)",
    )
    parser.add_argument("--variants", default=",".join(build.VARIANTS), help="clean, voice (default both)")
    parser.add_argument("--seed", type=int, default=0)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", dest="scale", action="store_const", const="quick", help="2 callers per tenant")
    size.add_argument("--full", dest="scale", action="store_const", const="full", help="60 callers per tenant")
    parser.set_defaults(scale="default")
    parser.add_argument("--callers", type=int, help="callers per tenant (overrides the scale)")
    parser.add_argument(
        "--postgres", metavar="URL", help="run on this Postgres database instead of a fresh SQLite file"
    )
    parser.add_argument("--redis", metavar="URL", help="keep prepared preloads in this Redis")
    parser.add_argument("--baselines", default=",".join(run.BASELINES), help="comma-separated ('' for none)")
    parser.add_argument("--locomo", action="store_true", help="also LoCoMo, turns stored without speaker names")
    parser.add_argument(
        "--wordings", choices=sorted(build.WORDINGS), default="original", help="the probe wordings (default original)"
    )
    parser.add_argument("--json", type=Path, help="default bench/results/sgd.json (blind: sgd_blind.json)")
    parser.add_argument("--failures", type=Path, help="default bench/results/sgd_failures.json (blind: ..._blind)")
    parser.add_argument("--strict", action="store_true", help="exit 1 if the memory layer leaked anything")
    args = parser.parse_args(argv)
    args.variant_list = [v.strip() for v in args.variants.split(",") if v.strip()]
    if not args.variant_list or any(v not in build.VARIANTS for v in args.variant_list):
        parser.error(f"--variants: choose from {', '.join(build.VARIANTS)}")
    args.baseline_list = [b.strip() for b in args.baselines.split(",") if b.strip()]
    if any(b not in run.BASELINES for b in args.baseline_list):
        parser.error(f"--baselines: choose from {', '.join(run.BASELINES)}")
    args.callers_per_tenant = args.callers or CALLERS[args.scale]
    suffix = "" if args.wordings == "original" else f"_{args.wordings}"
    if args.split.startswith("more-") or args.split in (
        "tune2",
        "tune3",
        "tune4",
        "tune5",
        "tune6",
        "tune7",
        "tune8",
        "tune9",
    ):  # the full release never overwrites the subset
        suffix = "_more" + suffix
    args.json = args.json or RESULTS.with_name(f"sgd{suffix}.json")
    args.failures = args.failures or FAILURES.with_name(f"sgd_failures{suffix}.json")
    return args


async def amain(args: argparse.Namespace) -> int:
    directory = data.data_dir(args.data)
    if not data.available(directory, SPLITS[args.split]):
        print(f"SGD data not found in {directory}: pass --data or set {data.ENV_VAR}", file=sys.stderr)
        return 2
    embedder = default_embedder()
    result = await evaluate_all(
        directory=directory,
        split=args.split,
        variants=args.variant_list,
        seed=args.seed,
        callers=args.callers_per_tenant,
        url=args.postgres,
        redis_url=args.redis,
        embedder=embedder,
        baselines=args.baseline_list,
        progress=True,
        wordings=args.wordings,
    )
    if args.locomo:
        result["locomo"] = await locomo_bare(1 if args.scale == "quick" else 0)
    print(markdown(result))
    print_failures(result)
    print(f"\ntotal {result['seconds']:.0f} s")
    failures = result.pop("failure_examples")
    for path, payload in ((args.json, result), (args.failures, failures)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
        shown = path.resolve()
        print(f"written: {shown.relative_to(ROOT) if shown.is_relative_to(ROOT) else shown}")
    leaked = any(r["systems"]["memory:fast"]["leaks"] for r in result["runs"].values())
    return 1 if args.strict and leaked else 0


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(amain(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())

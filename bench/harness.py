"""The benchmark harness: one command runs the suites and writes a markdown report, plots and raw JSON.

    python -m bench                 # default scale: a few minutes; report in docs/benchmarks/
    python -m bench --quick         # CI-sized: checks that everything runs; report in bench/results/quick/
    python -m bench --full          # the big runs (1M memories; 200 calls at once; 100 job processes; all of LoCoMo)
    python -m bench --suites scale,workers --full    # some suites; their results replace those in the report
    python -m bench --render        # re-render the report from results.json, running nothing

Suites (bench/suites/): accuracy, sgd, latency, call_path, scale, concurrency, processes, workers, compaction. Each runs against
the real Postgres and Redis given by --postgres/--redis (or MEMORY_BENCH_POSTGRES_URL /
MEMORY_BENCH_REDIS_URL); SQLite stores live in temporary directories. Suites create and drop their
own Postgres databases, and may flush the Redis database given.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import json
import os
import platform
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import asyncpg
import redis.asyncio as aioredis
from tqdm import tqdm

from bench.context import ROOT, Context, default_postgres, default_redis
from bench.suites import SUITE_NAMES
from memory.embed import default_embedder

README = ROOT / "README.md"
README_START, README_END = "<!-- benchmarks:start -->", "<!-- benchmarks:end -->"


class HarnessError(RuntimeError):
    """The harness cannot run: a server is unreachable or an argument is wrong."""


def suite(name: str) -> ModuleType:
    return importlib.import_module(f"bench.suites.{name}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", dest="scale", action="store_const", const="quick", help="CI-sized runs")
    size.add_argument("--full", dest="scale", action="store_const", const="full", help="the big runs")
    parser.set_defaults(scale="default")
    parser.add_argument("--suites", default=",".join(SUITE_NAMES), help="comma-separated (default: all)")
    parser.add_argument(
        "--out", type=Path, help="report directory (default docs/benchmarks; --quick: bench/results/quick)"
    )
    parser.add_argument("--postgres", default=default_postgres(), help="a Postgres server's admin URL")
    parser.add_argument("--redis", default=default_redis(), help="a Redis database the harness may flush")
    parser.add_argument("--render", action="store_true", help="only re-render the report from results.json")
    parser.add_argument("--update-readme", action="store_true", help="also refresh the README's benchmark summary")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.suites.split(",") if n.strip()]
    unknown = [n for n in names if n not in SUITE_NAMES]
    if unknown:
        parser.error(f"unknown suites {unknown}; choose from {', '.join(SUITE_NAMES)}")
    args.suite_names = names
    if args.out is None:
        args.out = ROOT / ("bench/results/quick" if args.scale == "quick" else "docs/benchmarks")
    return args


async def check_servers(postgres_url: str, redis_url: str) -> None:
    try:
        conn = await asyncpg.connect(postgres_url, timeout=5)
        await conn.close()
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        raise HarnessError(
            f"Postgres is not reachable ({type(exc).__name__}): start it or pass --postgres URL"
        ) from exc
    client = aioredis.from_url(redis_url, socket_connect_timeout=5)
    try:
        await client.ping()
    except (OSError, aioredis.RedisError) as exc:
        raise HarnessError(f"Redis is not reachable ({type(exc).__name__}): start it or pass --redis URL") from exc
    finally:
        await client.aclose()


def machine() -> dict:
    return {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count()}


async def run_suites(args: argparse.Namespace, previous: dict) -> dict:
    await check_servers(args.postgres, args.redis)
    ctx = Context(args.scale, args.postgres, args.redis, args.out)
    print("loading the embedder ...", file=sys.stderr)
    ctx.embedder = default_embedder()
    ctx.embedder.embed(["warm up"])
    # as the worker does before it serves (agent.freeze_startup_heap): what the process holds from its start
    # is out of the cycle collector's full passes, which otherwise walk it inside the suites' calls
    gc.collect()
    gc.freeze()
    results = dict(previous.get("suites", {}))
    bar = tqdm(args.suite_names, desc="suites", unit="suite", file=sys.stderr)
    for name in bar:
        bar.set_postfix_str(name)
        started = time.perf_counter()
        entry = {"scale": args.scale, "run_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine()}
        try:
            entry["result"] = await suite(name).run(ctx)
        except Exception as exc:  # a failing suite is reported; the others still run
            entry["error"] = f"{type(exc).__name__}: {exc}"
            entry["traceback"] = traceback.format_exc()
            tqdm.write(f"suite {name} failed: {entry['error']}", file=sys.stderr)
        entry["seconds"] = round(time.perf_counter() - started, 1)
        results[name] = entry
    return {"suites": results}


def render(data: dict, out_dir: Path) -> str:
    ctx = Context("default", "", "", out_dir)
    sections, headline = [], []
    for name in SUITE_NAMES:
        entry = data["suites"].get(name)
        if entry is None:
            continue
        module = suite(name)
        where = f"scale `{entry['scale']}`, run {entry['run_at']}, {entry['seconds']:.0f} s, {entry['machine']['cpus']} cores"
        if "error" in entry:
            body = f"**This suite failed:** `{entry['error']}`"
            headline.append((module.TITLE, "failed", "", False))
        else:
            body = module.render(entry["result"], ctx)
            headline += module.headline(entry["result"])
        sections.append(f"## {module.TITLE}\n\n*{where}; `python -m bench --suites {name}`*\n\n{body}\n")
    summary = summary_table(headline)
    return "\n".join(
        [
            "# Benchmark report",
            "",
            "Written by `python -m bench` (add `--full` for the big runs). Every suite runs on this machine against "
            "real Postgres and Redis servers and an embedded SQLite file; baselines are measured in the same run, on "
            "the same data. Raw numbers: [results.json](results.json).",
            "",
            "## Summary",
            "",
            summary,
            "",
            *sections,
        ]
    )


def summary_table(rows: list[tuple[str, str, str, bool | None]]) -> str:
    lines = ["| measure | result | target | |", "|---|---|---|---|"]
    for label, value, target, met in rows:
        mark = "" if met is None else ("met" if met else "**missed**")
        lines.append(f"| {label} | {value} | {target} | {mark} |")
    return "\n".join(lines)


def update_readme(report_dir: Path, data: dict, readme: Path = README) -> None:
    """Replace the README's summary block with this report's headline table."""
    text = readme.read_text(encoding="utf-8")
    if README_START not in text or README_END not in text:
        raise HarnessError(f"README.md has no {README_START} ... {README_END} block")
    headline = []
    for name in SUITE_NAMES:
        entry = data["suites"].get(name)
        if entry and "result" in entry:
            headline += suite(name).headline(entry["result"])
    link = os.path.relpath(report_dir / "report.md", ROOT)
    block = f"{README_START}\n{summary_table(headline)}\n\nFull report with every table and plot: [{link}]({link}).\n{README_END}"
    head, rest = text.split(README_START, 1)
    readme.write_text(head + block + rest.split(README_END, 1)[1], encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results_path = args.out / "results.json"
    previous = json.loads(results_path.read_text(encoding="utf-8")) if results_path.is_file() else {}
    if args.render:
        if not previous:
            print(f"nothing to render: {results_path} does not exist", file=sys.stderr)
            return 2
        data = previous
    else:
        try:
            data = asyncio.run(run_suites(args, previous))
        except HarnessError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        args.out.mkdir(parents=True, exist_ok=True)
        results_path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    report = args.out / "report.md"
    report.write_text(render(data, args.out), encoding="utf-8")
    if args.update_readme:
        update_readme(args.out, data)
    failed = [n for n in args.suite_names if "error" in data["suites"].get(n, {})]
    print(f"report: {os.path.relpath(report)}; raw results: {os.path.relpath(results_path)}")
    for name in failed:
        print(f"suite {name} failed: {data['suites'][name]['error']}\n{data['suites'][name]['traceback']}")
    if failed:
        return 1
    return 0

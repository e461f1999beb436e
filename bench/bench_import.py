"""The import's rate: a generated file of past calls imported into a fresh store, turns per second.

    python bench/bench_import.py                                   # 10,000 turns into a new SQLite file
    python bench/bench_import.py --postgres postgresql://postgres@127.0.0.1:5432/postgres   # a database of its own
    python bench/bench_import.py --unique                          # every turn's words different

It runs what ``python -m memory import`` runs (the same embedder on every core, no spool) and prints
the rate with the machine's load average, which on a shared machine moves it more than anything,
and the CPU time the import used (user + system, all its threads; the database server's not included),
which does not depend on the load.
``--unique`` makes every turn's text different (the generated calls repeat greetings and fillers,
which are embedded once per chunk), the worst case for the embedding.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: the project's packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import memory
from bench.gen_import import generate, write_csv, write_jsonl
from memory.importer import Importer, import_embedder


def make_unique(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every turn's text made different from every other's (a serial number said at its end)."""
    n = 0
    for call in calls:
        for turn in call["turns"]:
            n += 1
            turn["text"] = f"{turn['text']} (note {n})"
    return calls


@contextlib.asynccontextmanager
async def temp_database(admin_url: str) -> AsyncIterator[str]:
    """A new database on the Postgres server of ``admin_url``, dropped afterwards; yields its URL."""
    import asyncpg

    name = f"caller_memory_import_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        admin = await asyncpg.connect(admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def measure(turns: int, postgres: str | None, *, fmt: str = "jsonl", unique: bool = False) -> dict[str, float]:
    if postgres:
        async with temp_database(postgres) as url:
            return await _measure(turns, url, fmt=fmt, unique=unique)
    return await _measure(turns, None, fmt=fmt, unique=unique)


async def _measure(turns: int, db: str | None, *, fmt: str, unique: bool) -> dict[str, float]:
    tenant = f"bench-import-{uuid.uuid4().hex[:8]}"
    calls = generate(turns, tenant=tenant)
    if unique:
        make_unique(calls)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"calls.{fmt}"
        (write_csv if fmt == "csv" else write_jsonl)(calls, path)
        url = db or f"sqlite:///{Path(tmp) / 'memory.db'}"
        embedder = await asyncio.to_thread(import_embedder)
        store = await memory.open_store(url, embedder=embedder, spool_path=None)
        load_before = os.getloadavg()[0]
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        try:
            report = await Importer(store, tenants={tenant}).run(path, fmt)
        finally:
            await store.aclose()
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        cpu_seconds = cpu.ru_utime + cpu.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime
        texts = len({t["text"] for c in calls for t in c["turns"]})
    return {
        "calls": report.calls,
        "turns": report.turns,
        "unique_texts": texts,
        "seconds": report.seconds,
        "embed_seconds": report.embed_seconds,
        "turns_per_s": report.rate,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "cpu_seconds": cpu_seconds,
        "cores": len(os.sched_getaffinity(0)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--turns", type=int, default=10_000)
    parser.add_argument(
        "--postgres", help="a Postgres server's admin URL: import into a new database there (dropped after)"
    )
    parser.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    parser.add_argument("--unique", action="store_true", help="every turn's text different")
    args = parser.parse_args(argv)
    r = asyncio.run(measure(args.turns, args.postgres, fmt=args.format, unique=args.unique))
    backend = "postgres" if args.postgres else "sqlite"
    print(
        f"{backend}: imported {r['calls']:.0f} calls, {r['turns']:.0f} turns ({r['unique_texts']:.0f} different texts)"
        f" in {r['seconds']:.1f} s: {r['turns_per_s']:.0f} turns/s; embedding {r['embed_seconds']:.1f} s;"
        f" load average {r['load_before']:.1f} -> {r['load_after']:.1f} on {r['cores']:.0f} cores;"
        f" CPU {r['cpu_seconds']:.1f} s ({1000 * r['cpu_seconds'] / max(1, r['turns']):.1f} ms a turn, this process)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

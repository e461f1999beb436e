"""How long a job process waits for its memory store to open on Postgres: the first open in a
process and the later ones, directly and through PgBouncer in transaction mode.

    python bench/bench_store_open.py [--postgres postgresql://postgres@127.0.0.1:5432/postgres] [--opens 50]
    python bench/bench_store_open.py --pgbouncer      # also through a PgBouncer started for the run

Creates a database of its own (dropped at the end) and migrates it once, as a deployment does.
Each open is ``memory.open_store(url, wait_for_database=True)`` until it returns (the pool's first
connection and the schema check; the embedding model is loaded before and given to it, no spool),
then ``aclose``. A LiveKit job process opens one store for its one call: "first" is what the first
call of a fresh process waits, "later" what a process that has opened one before waits (imports
and the driver's set-up done). Also printed: the server connections one open store holds, and
the machine's load average (the numbers depend on it). The same script times the code of an
earlier commit (``git checkout <commit> -- memory``), which migrated on every open.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import memory
from memory.embed import default_embedder


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def opens(url: str, admin_url: str, database: str, embedder, n: int) -> dict[str, float]:
    times: list[float] = []
    held = 0
    for i in range(n + 1):
        t0 = time.perf_counter()
        store = await memory.open_store(url, embedder=embedder, spool_path=None)
        times.append((time.perf_counter() - t0) * 1000)
        if i == 0:
            admin = await asyncpg.connect(admin_url)
            held = await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", database
            )
            await admin.close()
        await store.aclose()
    later = times[1:]
    return {
        "first": times[0],
        "p50": statistics.median(later),
        "p95": _pct(later, 0.95),
        "max": max(later),
        "held": float(held),
    }


async def main(args: argparse.Namespace) -> None:
    logging.getLogger("memory").setLevel(logging.ERROR)  # the store's advice to workers is noise here
    embedder = default_embedder()
    database = f"caller_memory_open_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(args.postgres)
    await admin.execute(f'CREATE DATABASE "{database}"')
    url = args.postgres.rsplit("/", 1)[0] + f"/{database}"
    bouncer = None
    try:
        if hasattr(memory, "migrate"):  # (code from before migrations ran once migrates on open)
            await memory.migrate(url)
        runs = [("direct", url)]
        if args.pgbouncer:
            from tests.pgbouncer import PgBouncer

            user = url.split("//", 1)[1].split("@", 1)[0].split(":", 1)[0] if "@" in url else "postgres"
            bouncer = PgBouncer.start(url, users=[user])
            runs.append(("pgbouncer", bouncer.url_for(url, statement_cache_size="0")))
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"store open on Postgres, {args.opens} opens after the first, in one process (load average {load})")
        for label, target in runs:
            r = await opens(target, url, database, embedder, args.opens)
            print(
                f"  {label:<9}: first {r['first']:.1f} ms; later p50 {r['p50']:.1f} ms, p95 {r['p95']:.1f} ms,"
                f" max {r['max']:.1f} ms; server connections held by one open store: {r['held']:.0f}"
            )
    finally:
        if bouncer is not None:
            bouncer.stop()
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--opens", type=int, default=50)
    parser.add_argument("--pgbouncer", action="store_true", help="also through a PgBouncer (transaction mode)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))

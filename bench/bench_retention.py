"""What the retention purge costs on one large tenant, on Postgres.

    python bench/bench_retention.py [--postgres postgresql://postgres@127.0.0.1:5432/postgres] [--rows 500000]

Creates a database of its own on the server (dropped at the end), migrates it, and fills one
tenant with ``--rows`` turns (100 per call, 10 calls per caller, spread over the last 300 days;
no embeddings, so the table is smaller than a real one) beside a small second tenant. Then times
``purge_older_than`` as the scheduled purge runs it:

  nothing due   the retention period (365 days) reaches past every row: what a purge costs on a
                tenant with nothing to delete (what every call paid when the purge ran after each);
  a day due     the cut-off moves one day per run (about 1/300 of the rows each time): a purge
                that runs daily.

``--without-index`` drops the purge's indexes of migration 005 first: the cost of the same
statements on the schema before it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import memory
from memory.store import make_backend

TENANT = "bench-retention"
RETENTION_INDEXES = ("memories_by_age", "calls_by_end", "matters_by_age", "edges_by_age")


async def fill(conn: asyncpg.Connection, rows: int, now: datetime) -> None:
    for tenant, n in ((TENANT, rows), ("bench-small", max(rows // 100, 100))):
        await conn.execute(
            "INSERT INTO callers (customer_id, caller_id, created_at)"
            " SELECT $1, 'caller-' || c, $2::timestamptz - interval '300 days' FROM generate_series(0, ($3 - 1) / 1000) c",
            tenant, now, n,
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO calls (customer_id, call_id, caller_id, first_caller_id, started_at, ended_at)"
            " SELECT $1, 'call-' || k, 'caller-' || (k / 10), 'caller-' || (k / 10),"
            " $2::timestamptz - (k % 300) * interval '1 day', $2::timestamptz - (k % 300) * interval '1 day' + interval '5 minutes'"
            " FROM generate_series(0, ($3 - 1) / 100) k",
            tenant, now, n,
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO memories (customer_id, call_id, seq, caller_id, first_caller_id, kind, role, text, at)"
            " SELECT $1, 'call-' || (i / 100), i % 100, 'caller-' || (i / 1000), 'caller-' || (i / 1000), 'turn',"
            " CASE WHEN i % 2 = 0 THEN 'user' ELSE 'assistant' END, 'what was said on turn ' || i,"
            " $2::timestamptz - ((i / 100) % 300) * interval '1 day' + (i % 100) * interval '3 seconds'"
            " FROM generate_series(0, $3 - 1) i",
            tenant, now, n,
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO matters (customer_id, matter_id, caller_id, first_caller_id, call_id, text, created_at)"
            " SELECT $1, 'matter-' || k, 'caller-' || (k / 10), 'caller-' || (k / 10), 'call-' || k,"
            " 'a promise', $2::timestamptz - (k % 300) * interval '1 day' FROM generate_series(0, ($3 - 1) / 100) k",
            tenant, now, n,
        )  # fmt: skip
    await conn.execute("ANALYZE")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(url: str, *, runs: int, now: datetime) -> dict[str, object]:
    backend = make_backend(url)
    await backend.connect()  # type: ignore[attr-defined]
    try:
        nothing: list[float] = []
        for _ in range(runs):
            t0 = time.perf_counter()
            deleted = await backend.purge_older_than(TENANT, now - timedelta(days=365))
            nothing.append((time.perf_counter() - t0) * 1000)
            assert deleted == 0
        daily: list[float] = []
        removed: list[int] = []
        for day in range(runs):
            cut = now - timedelta(days=300 - day)
            t0 = time.perf_counter()
            removed.append(await backend.purge_older_than(TENANT, cut))
            daily.append((time.perf_counter() - t0) * 1000)
        return {
            "nothing_p50": statistics.median(nothing),
            "nothing_p95": _pct(nothing, 0.95),
            "daily_p50": statistics.median(daily),
            "daily_p95": _pct(daily, 0.95),
            "daily_rows": statistics.median(removed),
        }
    finally:
        await backend.aclose()


async def main(args: argparse.Namespace) -> None:
    name = f"caller_memory_retention_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(args.postgres)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = args.postgres.rsplit("/", 1)[0] + f"/{name}"
    try:
        await memory.migrate(url)
        now = datetime.now(UTC).replace(microsecond=0)
        conn = await asyncpg.connect(url)
        try:
            t0 = time.perf_counter()
            await fill(conn, args.rows, now)
            fill_s = time.perf_counter() - t0
            if args.without_index:
                for index in RETENTION_INDEXES:
                    await conn.execute(f"DROP INDEX IF EXISTS {index}")
            size = await conn.fetchval("SELECT pg_size_pretty(pg_total_relation_size('memories'))")
        finally:
            await conn.close()
        result = await measure(url, runs=args.runs, now=now)
        schema = "without the purge indexes (schema 004)" if args.without_index else "with migration 005"
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"retention purge, one tenant of {args.rows} turns (memories {size}, filled in {fill_s:.0f} s), {schema}")
        print(f"  (load average {load})")
        print(
            f"  nothing due : p50 {result['nothing_p50']:.2f} ms  p95 {result['nothing_p95']:.2f} ms  ({args.runs} runs)"
        )
        print(
            f"  a day due   : p50 {result['daily_p50']:.2f} ms  p95 {result['daily_p95']:.2f} ms"
            f"  (about {result['daily_rows']:.0f} rows deleted per run)"
        )
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--without-index", action="store_true", help="drop migration 005's indexes first")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))

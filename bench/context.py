"""What every benchmark suite receives: the scale, the servers, the shared embedder, where files go."""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
SCALES = ("quick", "default", "full")
T = TypeVar("T")


@dataclass
class Context:
    scale: str  # quick | default | full
    postgres_url: str  # a server's admin URL: suites create (and drop) their own databases
    redis_url: str  # a Redis database the harness may flush
    out_dir: Path  # report.md, results.json and the plots
    embedder: Any = None
    notes: list[str] = field(default_factory=list)

    def pick(self, quick: T, default: T, full: T) -> T:
        """The value of a parameter at this run's scale."""
        return {"quick": quick, "default": default, "full": full}[self.scale]

    def plot_path(self, name: str) -> Path:
        path = self.out_dir / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def save_plot(self, fig: Any, name: str) -> str:
        """Lay out, write ``<name>.png`` beside the report and close ``fig``; returns the file's name."""
        import matplotlib.pyplot as plt

        fig.tight_layout()
        path = self.plot_path(name)
        fig.savefig(path)
        plt.close(fig)
        return path.name

    def progress(self, items: Iterable[T], desc: str, unit: str = "it", total: int | None = None) -> tqdm:
        """A progress bar over ``items`` (iterate it, or call ``update`` on it and ``close`` it)."""
        return tqdm(items, desc=f"  {desc}", unit=unit, total=total, file=sys.stderr, leave=False)

    @contextlib.asynccontextmanager
    async def temp_database(self, label: str) -> AsyncIterator[str]:
        """A fresh Postgres database on the server, migrated (as a deployment does once), dropped
        afterwards; yields its URL."""
        name = f"caller_memory_{label}_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(self.postgres_url)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        url = self.postgres_url.rsplit("/", 1)[0] + f"/{name}"
        try:
            import memory

            await memory.migrate(url)
            yield url
        finally:
            admin = await asyncpg.connect(self.postgres_url)
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()


def pyplot() -> Any:
    """matplotlib.pyplot on the file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def pct(values: Iterable[float], q: float) -> float:
    data = np.asarray(list(values), dtype=float)
    return float(np.percentile(data, q)) if data.size else float("nan")


def ranked_pct(values: Sequence[float], q: float) -> float:
    """The value ``q`` percent of the way up ``values`` sorted (the nearest rank, no interpolation); 0.0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def percentiles(name: str, values: Iterable[float], *qs: int) -> dict[str, float]:
    """``{name}_p{q}_ms``: the ``q``-th percentile of ``values`` (milliseconds), for each of ``qs``."""
    data = list(values)
    return {f"{name}_p{q}_ms": pct(data, q) for q in qs}


def default_postgres() -> str:
    return os.environ.get("MEMORY_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def default_redis() -> str:
    return os.environ.get("MEMORY_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")

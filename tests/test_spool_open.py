"""The host's spool file opened by many job processes at once (LiveKit's warm pool starts them
together): every one of them gets the spool, none starts its calls without it."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from pathlib import Path

import pytest

from memory.store.spool import Spool

PROCESSES = 40


def _open_at(path: str, start_at: float, results) -> None:  # in a child process
    async def main() -> str:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        spool = Spool(path, database="postgresql:db:5432/x")
        try:
            await spool.open()
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
        await spool.aclose()
        return "ok"

    results.put(asyncio.run(main()))


@pytest.mark.parametrize("fresh", [True, False], ids=["new-file", "existing-file"])
def test_many_processes_opening_the_spool_at_once_all_get_it(tmp_path: Path, fresh: bool) -> None:
    path = tmp_path / "spool.db"
    if not fresh:
        asyncio.run(_open_and_close(path))
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    start_at = time.time() + 1.5  # every process is forked and waiting by then
    procs = [ctx.Process(target=_open_at, args=(str(path), start_at, results)) for _ in range(PROCESSES)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(10)
    assert outcomes == ["ok"] * PROCESSES, [o for o in outcomes if o != "ok"][:3]


async def _open_and_close(path: Path) -> None:
    spool = await Spool(path, database="postgresql:db:5432/x").open()
    await spool.aclose()

"""A worker process to be killed with -9 mid-call: ``python -m tests.killed_worker URL SPOOL TENANT CALLS RATE``.

It opens ``CALLS`` calls at once on the memory store at ``URL`` (spool ``SPOOL``) and records turns
in each at ``RATE`` turns a second, printing ``REC <call_id> <seq> <time>`` to stdout (flushed) as
each ``record_turn`` returns, until it is killed. ``READY`` is printed once every call is open.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time

import memory


async def call(
    store: memory.CallerStore, tenant: str, n: int, rate: float, opened: list[int], ready: asyncio.Event
) -> None:
    hooks = await store.open_call(tenant, {"phone": f"+1415555{n:04d}"}, call_id=f"killed-{n}")
    opened.append(n)
    await ready.wait()
    rng = random.Random(n)
    seq = 0
    while True:
        seq += 1
        role = "user" if seq % 2 else "assistant"
        hooks.record_turn(role, f"call {n} turn {seq}: the router light blinks {rng.choice(['red', 'amber'])}")
        print(f"REC {hooks.call_id} {seq} {time.time():.6f}", flush=True)
        await asyncio.sleep(rng.uniform(0.5, 1.5) / rate)


async def main(url: str, spool: str, tenant: str, calls: int, rate: float) -> None:
    store = await memory.open_store(url, spool_path=spool)
    ready = asyncio.Event()
    opened: list[int] = []
    tasks = [asyncio.create_task(call(store, tenant, n, rate, opened, ready)) for n in range(calls)]
    while len(opened) < calls:
        await asyncio.sleep(0.05)
    print("READY", flush=True)
    ready.set()
    await asyncio.gather(*tasks)


if __name__ == "__main__":
    url, spool, tenant, calls, rate = sys.argv[1:6]
    asyncio.run(main(url, spool, tenant, int(calls), float(rate)))

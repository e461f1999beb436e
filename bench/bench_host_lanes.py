"""The host embedder's two lanes against one: query latency while many calls' turns are embedded.

    python -m bench.bench_host_lanes                  # 50 calls
    python -m bench.bench_host_lanes --calls 20 --json out.json

LiveKit's inference process serves one request at a time (``_InferenceProc.entrypoint`` awaits each
request before it reads the next). This bench runs the memory layer's runner
(:class:`memory.livekit.embedder.EmbedderRunner`, the real model) behind the same single queue, in
this process (the IPC itself, an echo's 1.2-1.6 ms, is left out: ``bench_processes`` measures it), and
``--calls`` simulated calls each send a turn every ``--turn-every`` seconds and a recall's query
after every second turn. Turns go either through the query's request (one lane: as before) or are
handed to the runner's own low-priority thread and collected later (two lanes). Reported: query
latency p50/p95 (time in the queue + the embedding), and how long the turns waited for their vectors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from memory.livekit import HostEmbedder
from memory.livekit.embedder import INFERENCE_METHOD, EmbedderRunner


class SingleQueue:
    """An inference executor that serves requests one at a time, as LiveKit's inference process does."""

    def __init__(self, runner: EmbedderRunner) -> None:
        self.runner = runner
        self.pool = ThreadPoolExecutor(max_workers=1)
        self.lock = asyncio.Lock()

    async def do_inference(self, method: str, data: bytes) -> bytes | None:
        assert method == INFERENCE_METHOD
        async with self.lock:
            return await asyncio.get_running_loop().run_in_executor(self.pool, self.runner.run, data)


async def one_call(
    embedder: HostEmbedder,
    rng: random.Random,
    turns: int,
    every_s: float,
    queries: list[float],
    turn_waits: list[float],
) -> None:
    pending: list[asyncio.Task[None]] = []

    async def turn(text: str) -> None:
        t0 = time.perf_counter()
        await embedder.embed_later([text])
        turn_waits.append((time.perf_counter() - t0) * 1000)

    await asyncio.sleep(rng.uniform(0, every_s))
    for i in range(turns):
        pending.append(asyncio.create_task(turn(f"turn {i}: the router {rng.randint(1, 999)} drops every evening")))
        if i % 2 == 1:
            t0 = time.perf_counter()
            await embedder.embed([f"what did I say about the router {rng.randint(1, 999)}"])
            queries.append((time.perf_counter() - t0) * 1000)
        await asyncio.sleep(rng.uniform(0.5, 1.5) * every_s)
    await asyncio.gather(*pending)


async def measure(calls: int, turns: int, every_s: float, runner: EmbedderRunner) -> dict[str, Any]:
    result: dict[str, Any] = {"calls": calls, "turns": turns, "turn_every_s": every_s}
    for lanes in ("one", "two"):
        queue = SingleQueue(runner)
        embedder = HostEmbedder(queue, turn_lane=lanes == "two", direct=False)  # all through the one queue
        queries: list[float] = []
        turn_waits: list[float] = []
        rng = random.Random(7)
        await asyncio.gather(*(one_call(embedder, rng, turns, every_s, queries, turn_waits) for _ in range(calls)))
        result[lanes] = {
            "query_p50_ms": float(np.percentile(queries, 50)),
            "query_p95_ms": float(np.percentile(queries, 95)),
            "turn_vector_p50_ms": float(np.percentile(turn_waits, 50)),
            "turn_vector_p95_ms": float(np.percentile(turn_waits, 95)),
            "queries": len(queries),
        }
        print(
            f"{lanes} lane(s), {calls} calls: query p50 {result[lanes]['query_p50_ms']:.1f} / p95 "
            f"{result[lanes]['query_p95_ms']:.1f} ms; a turn's vector after p50 "
            f"{result[lanes]['turn_vector_p50_ms']:.0f} / p95 {result[lanes]['turn_vector_p95_ms']:.0f} ms",
            file=sys.stderr,
        )
        queue.pool.shutdown()
    result["query_p95_ratio"] = result["one"]["query_p95_ms"] / result["two"]["query_p95_ms"]
    print(f"query p95, one lane / two lanes: x{result['query_p95_ratio']:.1f}", file=sys.stderr)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_host_lanes", description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--turns", type=int, default=8)
    parser.add_argument("--turn-every", type=float, default=1.0, help="mean seconds between a call's turns (1.0)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    runner = EmbedderRunner()
    runner.initialize()
    result = asyncio.run(measure(args.calls, args.turns, args.turn_every, runner))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

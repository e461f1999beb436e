"""Several worker processes sharing one Postgres database and one Redis.

Each worker is a real OS process (``python -m bench.suites.worker_process``) with its own store,
embedder and connections, driven over stdin/stdout JSON lines. For every synthetic caller:

1. call 1 on process A records a short call and closes it, which prepares the next brief in Redis;
2. call 2 on process B (another process) opens and preloads: it must get that prepared brief,
   with call 1's ticket number in it;
3. still during call 2, B records a promise with a unique ticket number and waits until the
   writer has stored it — B's own close, which would re-prepare the brief, has not happened;
4. call 3 on A opens and preloads: the brief prepared after call 1 is now stale and must not be
   served (a brief without the new ticket from the cache counts as a stale serve);
5. A and B close their calls; call 4 on a third process (A again with two) must get a prepared
   brief that has the new ticket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import sys
import time
from collections import Counter, defaultdict, deque
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as redis

from bench import synthetic
from bench.context import ROOT, Context, percentiles

NAME = "workers"
TITLE = "Several worker processes sharing Postgres + Redis"

TENANT = "bench-workers"
CACHE_PREFIX = "callermem"  # memory.cache.RedisPreloadCache's default key prefix
SEED = 23
CALL1_TURNS = 5  # a short first call that ends with the agent's promise (a ticket)
READY_TIMEOUT_S = 300.0
REQUEST_TIMEOUT_S = 60.0
STDERR_TAIL = 40


class WorkerError(RuntimeError):
    """A worker process failed; the message carries the tail of its stderr."""


class WorkerProcess:
    """One child process and its JSON-lines channel (one request, one reply)."""

    def __init__(self, index: int, proc: asyncio.subprocess.Process) -> None:
        self.index = index
        self.proc = proc
        self.pid = proc.pid
        self.open_s = float("nan")
        self.stderr_lines = 0
        self._tail: deque[str] = deque(maxlen=STDERR_TAIL)
        self._next_id = 0
        self._lock = asyncio.Lock()
        self._stderr = asyncio.create_task(self._drain_stderr())

    @classmethod
    async def spawn(cls, index: int, db_url: str, redis_url: str) -> WorkerProcess:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.suites.worker_process",
            "--db",
            db_url,
            "--redis",
            redis_url,
            "--tenant",
            TENANT,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=1 << 24,
        )
        return cls(index, proc)

    async def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        async for raw in self.proc.stderr:  # always drained, so a chatty child never blocks on a full pipe
            self.stderr_lines += 1
            self._tail.append(raw.decode("utf-8", "replace").rstrip())

    async def _error(self, what: str) -> WorkerError:
        with contextlib.suppress(TimeoutError):  # give a dying child a moment to finish its stderr
            await asyncio.wait_for(asyncio.shield(self._stderr), 2)
        code = self.proc.returncode
        status = "still running" if code is None else f"exit code {code}"
        tail = "\n".join(self._tail) or "(nothing)"
        return WorkerError(f"worker {self.index} (pid {self.pid}) {what} [{status}]; its stderr ends with:\n{tail}")

    async def _read(self, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        try:
            line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        except TimeoutError:
            raise await self._error(f"did not answer within {timeout:.0f} s") from None
        if not line:
            raise await self._error("closed its output")
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            raise await self._error(f"wrote a line that is not JSON: {line[:200]!r}") from None

    async def ready(self) -> None:
        message = await self._read(READY_TIMEOUT_S)
        if not message.get("ready"):
            raise await self._error(f"could not open its store ({message.get('error')})")
        self.open_s = float(message["open_s"])

    async def request(self, op: str, **args: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        async with self._lock:
            self._next_id += 1
            request_id = self._next_id
            try:
                self.proc.stdin.write((json.dumps({"id": request_id, "op": op, **args}) + "\n").encode())
                await self.proc.stdin.drain()
            except (BrokenPipeError, ConnectionResetError):
                raise await self._error(f"stopped reading (request {op!r})") from None
            reply = await self._read(REQUEST_TIMEOUT_S)
        if "error" in reply:
            raise await self._error(f"failed on {op!r}: {reply['error']}")
        if reply.get("id") != request_id:
            raise await self._error(f"answered request {reply.get('id')} instead of {request_id}")
        return reply

    async def stop(self) -> None:
        """EOF on stdin (the child closes its store and exits); terminate, then kill, if it does not."""
        proc = self.proc
        if proc.returncode is None:
            with contextlib.suppress(Exception):
                assert proc.stdin is not None
                proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 5)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    await proc.wait()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._stderr, 5)


async def _clear_cache(redis_url: str) -> int:
    """Delete this suite's prepared briefs and version counters (keys of the suite's tenant only)."""
    client = redis.Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{CACHE_PREFIX}:{{{TENANT}:*", count=1000)]
        for start in range(0, len(keys), 500):
            await client.delete(*keys[start : start + 500])
        return len(keys)
    finally:
        await client.aclose()


async def _start_workers(count: int, db_url: str, redis_url: str, workers: list[WorkerProcess]) -> None:
    """Spawn ``count`` processes into ``workers`` (so the caller can stop them whatever happens)."""
    for index in range(count):
        workers.append(await WorkerProcess.spawn(index, db_url, redis_url))
    waits = [asyncio.create_task(w.ready()) for w in workers]
    try:
        await asyncio.gather(*waits)
    finally:
        for wait in waits:  # one failed: stop waiting for the others
            wait.cancel()


async def _one_caller(index: int, workers: list[WorkerProcess], now: datetime, out: dict[str, list]) -> None:
    count = len(workers)
    a, b, c = workers[index % count], workers[(index + 1) % count], workers[(index + 2) % count]
    rng = random.Random(SEED * 1_000_003 + index)
    started = now - timedelta(days=rng.randint(2, 30), minutes=rng.randint(0, 600))
    call1 = synthetic.make_call(rng, index, 0, started, CALL1_TURNS)
    ticket = re.findall(r"\d{4,}", call1.turns[-1].text)[-1]  # the reference in the agent's closing promise
    marker = str(800_000 + index)  # six digits: never part of call 1's (at most five-digit) ticket
    phone = call1.phone
    ids = [f"wk{index}-{n}" for n in range(1, 5)]

    # 1. call 1 on A; closing it prepares the next brief
    first = await a.request("open", call_id=ids[0], phone=phone, started_at=started.isoformat(), preload=False)
    turns = [[t.role, t.text, t.at.isoformat()] for t in call1.turns]
    await a.request("record", call_id=ids[0], turns=turns)
    await a.request("close", call_id=ids[0])

    # 2. call 2 on B: the prepared brief, from another process
    second = await b.request("open", call_id=ids[1], phone=phone)
    out["prepared"].append(
        {
            "hit": second["source"] == "cache",
            "ticket": ticket in second["text"],
            "same_caller": second["caller_id"] == first["caller_id"],
            "other_pid": a.pid != b.pid,
        }
    )
    out["open_other"].append(second["open_ms"])
    out["preload_other"].append(second["preload_ms"])

    # 3. B stores a new promise mid-call (its close has not re-prepared anything yet)
    write = [
        ["user", "The technician never showed up, can someone else come out?", None],
        ["assistant", f"I've opened ticket {marker} and a technician will call you on Friday.", None],
    ]
    await b.request("record", call_id=ids[1], turns=write)
    stored = await b.request("settle", call_id=ids[1], marker=marker)
    out["stored"].append(stored["stored_ms"])

    # 4. call 3 on A: the brief A's close prepared after call 1 is stale now
    third = await a.request("open", call_id=ids[2], phone=phone)
    out["after_write"].append(
        {
            "source": third["source"],
            "fresh": marker in third["text"],
            "stale": third["source"] == "cache" and marker not in third["text"],
        }
    )
    out["preload_after_write"].append(third["preload_ms"])
    await a.request("close", call_id=ids[2])
    await b.request("close", call_id=ids[1])

    # 5. call 4 on a third process (A again with two): prepared again, with the new promise
    fourth = await c.request("open", call_id=ids[3], phone=phone)
    out["reprepared"].append(fourth["source"] == "cache" and marker in fourth["text"])
    out["preload_reprepared"].append(fourth["preload_ms"])
    await c.request("close", call_id=ids[3])


async def run(ctx: Context) -> dict:
    processes = ctx.pick(2, 3, 4)
    callers = ctx.pick(10, 60, 200)
    out: dict[str, list] = defaultdict(list)
    workers: list[WorkerProcess] = []
    async with ctx.temp_database("workers") as db_url:
        await _clear_cache(ctx.redis_url)
        try:
            t0 = time.perf_counter()
            await _start_workers(processes, db_url, ctx.redis_url, workers)
            startup_s = time.perf_counter() - t0
            now = datetime.now(UTC)
            t0 = time.perf_counter()
            for index in ctx.progress(range(callers), "workers", unit="caller", total=callers):
                await _one_caller(index, workers, now, out)
            wall_s = time.perf_counter() - t0
        finally:
            await asyncio.gather(*(w.stop() for w in workers), return_exceptions=True)
            with contextlib.suppress(Exception):
                await _clear_cache(ctx.redis_url)

    prepared, after = out["prepared"], out["after_write"]
    prepared_hits = sum(p["hit"] for p in prepared)
    stale = sum(x["stale"] for x in after)
    result = {
        "processes": processes,
        "callers": callers,
        "distinct_pids": len({w.pid for w in workers}),
        "worker_startup_s": startup_s,
        "worker_open_s": [w.open_s for w in workers],
        "wall_s": wall_s,
        "prepared_total": len(prepared),
        "prepared_hits": prepared_hits,
        "prepared_hit_rate": prepared_hits / len(prepared) if prepared else 0.0,
        "prepared_with_call1_ticket": sum(p["hit"] and p["ticket"] for p in prepared),
        "prepared_same_caller": sum(p["same_caller"] for p in prepared),
        "prepared_on_other_process": sum(p["other_pid"] for p in prepared),
        **percentiles("open_call_other_process", out["open_other"], 50, 95),
        **percentiles("preload_other_process", out["preload_other"], 50, 95),
        **percentiles("write_stored", out["stored"], 50, 95),
        "after_write_checks": len(after),
        **percentiles("preload_after_write", out["preload_after_write"], 50, 95),
        "preload_after_write_sources": dict(Counter(x["source"] for x in after)),
        "stale_served": stale,
        "fresh_after_write": sum(x["fresh"] for x in after),
        "reprepared_hits": sum(out["reprepared"]),
        **percentiles("preload_reprepared", out["preload_reprepared"], 50, 95),
        "worker_stderr_lines": sum(w.stderr_lines for w in workers),
    }
    result["targets_met"] = {
        "prepared_hit_rate_is_1": bool(prepared) and result["prepared_hit_rate"] == 1.0,
        "no_stale_served": bool(after) and stale == 0,
    }
    return result


def render(result: dict, ctx: Context) -> str:
    r = result
    n = r["callers"]
    sources = ", ".join(f"{k} {v}" for k, v in sorted(r["preload_after_write_sources"].items()))
    rows = [
        ("worker processes (distinct pids)", f"{r['processes']} ({r['distinct_pids']})"),
        ("callers", f"{n}"),
        ("call 2 on another process served the prepared brief", f"{r['prepared_hits']}/{r['prepared_total']}"),
        ("… with call 1's ticket in it", f"{r['prepared_with_call1_ticket']}/{r['prepared_total']}"),
        (
            "open_call / preload on the other process p50 / p95 ms",
            f"{r['open_call_other_process_p50_ms']:.2f} / {r['open_call_other_process_p95_ms']:.2f} · "
            f"{r['preload_other_process_p50_ms']:.2f} / {r['preload_other_process_p95_ms']:.2f}",
        ),
        (
            "mid-call write stored (record → stored) p50 / p95 ms",
            f"{r['write_stored_p50_ms']:.1f} / {r['write_stored_p95_ms']:.1f}",
        ),
        (
            "preload on the first process after that write p50 / p95 ms",
            f"{r['preload_after_write_p50_ms']:.2f} / {r['preload_after_write_p95_ms']:.2f} ({sources})",
        ),
        ("stale prepared briefs served after the write", f"{r['stale_served']}"),
        ("briefs after the write that contain it", f"{r['fresh_after_write']}/{r['after_write_checks']}"),
        (
            "next call after the writer closed: prepared, with the write",
            f"{r['reprepared_hits']}/{n} (preload p50 / p95 "
            f"{r['preload_reprepared_p50_ms']:.2f} / {r['preload_reprepared_p95_ms']:.2f} ms)",
        ),
    ]
    targets = r["targets_met"]
    held = all(targets.values())
    lines = [
        f"{r['processes']} worker processes, each with its own store, embedder and connections to one Postgres "
        f"database and one Redis, handled {n} callers: call 1 on one process, call 2 on another (preload must "
        "be the brief prepared when call 1 closed); during call 2 that process stored a new promise, then "
        "the first process opened call 3 (the brief it prepared is stale now and must not be served), and "
        "after both closed a call 4 had to get a prepared brief with the new promise.",
        "",
        "| measure | value |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in rows),
        "",
        ("Checks held" if held else "**Checks failed**")
        + f": prepared hit rate {r['prepared_hit_rate']:.0%} (target 100%: "
        + ("met" if targets["prepared_hit_rate_is_1"] else "missed")
        + f"), stale serves {r['stale_served']} (target 0: "
        + ("met" if targets["no_stale_served"] else "missed")
        + ").",
    ]
    return "\n".join(lines) + "\n"


def headline(result: dict) -> list[tuple[str, str, str, bool | None]]:
    r, met = result, result["targets_met"]
    p = r["processes"]
    return [
        (
            f"{p} worker processes: a caller's next call on another process gets the prepared preload",
            f"{r['prepared_hits']}/{r['prepared_total']} (preload p95 {r['preload_other_process_p95_ms']:.2f} ms)",
            "all",
            met["prepared_hit_rate_is_1"],
        ),
        (
            f"{p} worker processes: stale preloads served after another process's write",
            f"{r['stale_served']} of {r['after_write_checks']} ({r['fresh_after_write']} had the write)",
            "0",
            met["no_stale_served"],
        ),
    ]

"""One worker process of the ``workers`` suite: its own store over the shared Postgres and Redis.

    python -m bench.suites.worker_process --db postgresql://... --redis redis://... --tenant bench-workers

Speaks JSON lines: one request on stdin, one reply on stdout (``{"id": ..., "ok": true, ...}`` or
``{"id": ..., "error": "..."}``). The first line written is ``{"ready": true, ...}`` once the store
(and the embedder, loaded here) is open. Anything else the process prints goes to stderr, so
stdout carries the protocol only. EOF on stdin closes the store and ends the process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import traceback
from datetime import datetime
from typing import Any

import memory

SETTLE_TIMEOUT_S = 15.0


class Worker:
    def __init__(self, store: memory.CallerStore, tenant: str) -> None:
        self.store = store
        self.tenant = tenant
        self.calls: dict[str, memory.CallHooks] = {}

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request["op"]
        if op == "open":
            return await self.open(request)
        if op == "record":
            return self.record(request)
        if op == "settle":
            return await self.settle(request)
        if op == "close":
            return await self.close(request)
        raise ValueError(f"unknown op {op!r}")

    async def open(self, request: dict[str, Any]) -> dict[str, Any]:
        """Open a call (and preload, unless told not to); the call stays open under its call_id."""
        started_at = datetime.fromisoformat(request["started_at"]) if request.get("started_at") else None
        t0 = time.perf_counter()
        hooks = await self.store.open_call(
            self.tenant, {"phone": request["phone"]}, call_id=request["call_id"], started_at=started_at
        )
        open_ms = (time.perf_counter() - t0) * 1000
        self.calls[hooks.call_id] = hooks
        reply: dict[str, Any] = {"caller_id": hooks.caller_id, "is_new": hooks.is_new_caller, "open_ms": open_ms}
        if request.get("preload", True):
            pre = await hooks.preload()
            reply.update(source=pre.source, preload_ms=pre.took_ms, text=pre.text)
        return reply

    def record(self, request: dict[str, Any]) -> dict[str, Any]:
        hooks = self.calls[request["call_id"]]
        for role, text, at in request["turns"]:
            hooks.record_turn(role, text, at=datetime.fromisoformat(at) if at else None)
        return {}

    async def settle(self, request: dict[str, Any]) -> dict[str, Any]:
        """Wait until the call's turn containing ``marker`` is stored (and the writer is done with it).

        ``open_matters`` is a read-after-write: it waits for the call's pending writes, and the
        writer bumps the caller's cache version right after each stored batch. The history poll
        confirms the row is in the shared database, as any other process would see it.
        """
        hooks = self.calls[request["call_id"]]
        marker = request["marker"]
        t0 = time.perf_counter()
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while True:
            await hooks.open_matters()
            rows = await self.store.history(self.tenant, hooks.caller_id, limit=1000)
            if any(r.call_id == hooks.call_id and marker in r.text for r in rows):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"the turn with marker {marker} was not stored within {SETTLE_TIMEOUT_S:.0f} s")
            await asyncio.sleep(0.005)
        await hooks.open_matters()  # in case the first wait ran out before the writer finished
        return {"stored_ms": (time.perf_counter() - t0) * 1000}

    async def close(self, request: dict[str, Any]) -> dict[str, Any]:
        hooks = self.calls.pop(request["call_id"])
        t0 = time.perf_counter()
        await hooks.aclose(timeout=30)
        return {"close_ms": (time.perf_counter() - t0) * 1000}

    async def aclose(self) -> None:
        for hooks in list(self.calls.values()):
            try:
                await hooks.aclose(timeout=5)
            except Exception as exc:  # shutting down: report, keep closing
                print(f"closing a call failed: {type(exc).__name__}", file=sys.stderr)
        self.calls.clear()
        await self.store.aclose()


async def serve(args: argparse.Namespace, out) -> int:
    def send(message: dict[str, Any]) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    t0 = time.perf_counter()
    try:
        store = await memory.open_store(args.db, redis_url=args.redis)
    except Exception as exc:
        traceback.print_exc()
        send({"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        return 1
    worker = Worker(store, args.tenant)
    send({"ready": True, "pid": os.getpid(), "open_s": time.perf_counter() - t0})
    reader = asyncio.StreamReader(limit=1 << 24)
    await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while True:
            line = await reader.readline()
            if not line:
                return 0
            if not line.strip():
                continue
            request = json.loads(line)
            try:
                reply = {"id": request.get("id"), "ok": True, **await worker.handle(request)}
            except Exception as exc:
                traceback.print_exc()
                reply = {"id": request.get("id"), "error": f"{type(exc).__name__}: {exc}"}
            send(reply)
    finally:
        await worker.aclose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="the shared Postgres database URL")
    parser.add_argument("--redis", required=True, help="the shared Redis URL")
    parser.add_argument("--tenant", required=True, help="the tenant (customer_id) the calls belong to")
    args = parser.parse_args()
    # The protocol gets a private copy of stdout; fd 1 itself now points at stderr, so a stray
    # print (ours or a library's) cannot corrupt a reply.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return asyncio.run(serve(args, out))


if __name__ == "__main__":
    sys.exit(main())

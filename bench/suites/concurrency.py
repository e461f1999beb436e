"""Concurrency: many simulated calls at once in one worker process, on Postgres + Redis.

This is the thread-executor case (LiveKit's ``job_executor_type=THREAD``: every call on one
process's store); LiveKit's default, a job process per call, is the ``processes`` suite.

Each call opens (a returning caller: it has history), preloads, then records a turn every few
seconds (jittered) and recalls every third turn, all through the public API on one event loop. A
probe task measures how late the loop wakes up (event-loop lag). Afterwards every call's stored
turns are counted: each recorded turn must be stored exactly once.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass

import memory
from bench import synthetic
from bench.context import Context, pct, percentiles, pyplot

NAME = "concurrency"
TITLE = "Many calls at once in one worker process (the thread-executor case)"
TENANT = "bench-concurrency"
TARGETS = {"preload_p95_ms": 50.0, "loop_lag_p99_ms": 20.0}


@dataclass(frozen=True)
class Settings:
    levels: tuple[int, ...]
    duration: float  # seconds each call lasts
    turn_every: float  # mean seconds between turns


def settings(ctx: Context) -> Settings:
    return ctx.pick(Settings((10,), 6.0, 1.5), Settings((50, 100, 200), 20.0, 3.0), Settings((50, 100, 200), 60.0, 3.0))


async def seed_history(store: memory.CallerStore, callers: int, progress) -> None:
    """One earlier call per caller, so every simulated call is a returning caller with a brief."""
    for i in progress(range(callers), desc="seeding callers", unit="caller"):
        call = synthetic.caller_history(11, i, 20)[0]
        hooks = await store.open_call(TENANT, {"phone": synthetic.caller_phone(i)}, started_at=call.started_at)
        for turn in call.turns:
            hooks.record_turn(turn.role, turn.text, at=turn.at)
        await hooks.aclose(timeout=60)


async def loop_lag(stop: asyncio.Event, samples: list[float], every: float = 0.01) -> None:
    while not stop.is_set():
        t0 = time.perf_counter()
        await asyncio.sleep(every)
        samples.append(max(0.0, (time.perf_counter() - t0 - every) * 1000))


async def one_call(store, index: int, settings: Settings, out: dict, rng: random.Random) -> None:
    await asyncio.sleep(rng.uniform(0, settings.turn_every))  # calls do not all start in the same instant
    t0 = time.perf_counter()
    hooks = await store.open_call(TENANT, {"phone": synthetic.caller_phone(index)}, call_id=f"cc-{uuid.uuid4().hex}")
    out["open"].append((time.perf_counter() - t0) * 1000)
    pre = await hooks.preload()
    out["preload"].append(pre.took_ms)
    recorded = 0
    deadline = time.perf_counter() + settings.duration
    turn = 0
    while time.perf_counter() < deadline:
        await asyncio.sleep(settings.turn_every * rng.uniform(0.6, 1.4))
        role = "user" if turn % 2 == 0 else "assistant"
        text = f"{rng.choice(synthetic.FILLERS)}, about the {rng.choice(['bill', 'router', 'order', 'plan'])} {turn} {uuid.uuid4().hex[:6]}"
        t1 = time.perf_counter()
        hooks.record_turn(role, text)
        out["record"].append((time.perf_counter() - t1) * 1000)
        recorded += 1
        if turn % 3 == 2:
            t1 = time.perf_counter()
            await hooks.recall(f"{synthetic.queries(rng)} {turn}", limit=5)
            out["recall"].append((time.perf_counter() - t1) * 1000)
        turn += 1
    t1 = time.perf_counter()
    try:
        await hooks.aclose(timeout=30)
    except memory.MemoryWriteError as exc:
        out["unsaved"] += len(exc.unsaved)
    out["spooled"] += hooks.spooled  # the database late: kept in the host's spool, replayed from there
    out["close"].append((time.perf_counter() - t1) * 1000)
    out["calls"].append((hooks.customer_id, index, hooks.call_id, recorded))


async def run_level(store, calls: int, settings: Settings) -> dict:
    out: dict = {
        "open": [],
        "preload": [],
        "record": [],
        "recall": [],
        "close": [],
        "calls": [],
        "unsaved": 0,
        "spooled": 0,
    }
    lag: list[float] = []
    stop = asyncio.Event()
    probe = asyncio.create_task(loop_lag(stop, lag))
    rng = random.Random(calls)
    started = time.perf_counter()
    await asyncio.gather(*(one_call(store, i, settings, out, random.Random(rng.random())) for i in range(calls)))
    wall = time.perf_counter() - started
    stop.set()
    await probe
    # A close that outlasts its timeout leaves the rest to the spool, which replays it in the background: the
    # turns are counted once the spool is empty (or after a minute), so one still on its way is not called lost
    for _ in range(300):
        if store.spool is None or not await store.spool.pending():
            break
        await asyncio.sleep(0.2)
    left_in_spool = await store.spool.pending() if store.spool is not None else 0
    stored_ok = duplicates = missing = 0
    for tenant, index, call_id, recorded in out["calls"]:
        # Looked up in the history of the caller the phone number belongs to, not under ``hooks.caller_id``:
        # a call whose open timed out never learned its caller (its id stayed provisional), and the spool's
        # replayer stores its turns under the caller its number resolves to, where the next call finds them
        caller_id = await store.find_caller(tenant, "phone", synthetic.caller_phone(index))
        rows = (
            [r for r in await store.history(tenant, caller_id, limit=10_000) if r.call_id == call_id]
            if caller_id
            else []
        )
        seqs = [r.seq for r in rows]
        duplicates += len(seqs) - len(set(seqs))
        missing += max(0, recorded - len(set(seqs)))
        stored_ok += len(set(seqs)) == recorded == len(seqs)
    turns = sum(c[3] for c in out["calls"])
    return {
        "calls": calls,
        "turns": turns,
        "wall_s": wall,
        "open_p95_ms": pct(out["open"], 95),
        **percentiles("preload", out["preload"], 50, 95),
        **percentiles("recall", out["recall"], 50, 95),
        "record_turn_p99_ms": pct(out["record"], 99),
        "aclose_p95_ms": pct(out["close"], 95),
        "loop_lag_p99_ms": pct(lag, 99),
        "loop_lag_max_ms": max(lag) if lag else float("nan"),
        "calls_stored_exactly_once": stored_ok,
        "duplicates": duplicates,
        "missing": missing,
        "unsaved": out["unsaved"],
        "spooled": out["spooled"],
        "left_in_spool": left_in_spool,
    }


async def run(ctx: Context) -> dict:
    s = settings(ctx)
    results = []
    async with ctx.temp_database("concurrency") as url:
        store = await memory.open_store(url, redis_url=ctx.redis_url, embedder=ctx.embedder)
        try:
            await seed_history(store, max(s.levels), ctx.progress)
            for calls in ctx.progress(s.levels, desc="levels", unit="level"):
                results.append(await run_level(store, calls, s))
        finally:
            await store.aclose()
    for r in results:
        r["targets_met"] = {
            "preload_p95_ms": r["preload_p95_ms"] < TARGETS["preload_p95_ms"],
            "loop_lag_p99_ms": r["loop_lag_p99_ms"] < TARGETS["loop_lag_p99_ms"],
            "exactly_once": r["calls_stored_exactly_once"] == r["calls"] and not (r["duplicates"] or r["missing"]),
        }
    return {"duration_s": s.duration, "turn_every_s": s.turn_every, "levels": results}


def _plot(result: dict, ctx: Context) -> str:
    plt = pyplot()
    levels = result["levels"]
    xs = [r["calls"] for r in levels]
    fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=110)
    for key, label in (
        ("preload_p95_ms", "preload p95"),
        ("recall_p95_ms", "recall p95"),
        ("loop_lag_p99_ms", "event-loop lag p99"),
        ("loop_lag_max_ms", "event-loop lag max"),
    ):
        ax.plot(xs, [r[key] for r in levels], marker="o", label=label, linestyle=":" if "max" in key else "-")
    ax.axhline(TARGETS["loop_lag_p99_ms"], color="#888888", linestyle="--", linewidth=0.8, label="loop lag target")
    ax.set_xlabel("simultaneous calls in one process")
    ax.set_ylabel("ms")
    ax.set_xticks(xs)
    ax.set_title("Latency and event-loop lag against simultaneous calls")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ctx.save_plot(fig, "concurrency")


def render(result: dict, ctx: Context) -> str:
    lines = [
        f"Postgres + Redis, one process; calls of {result['duration_s']:.0f} s with a turn every "
        f"~{result['turn_every_s']:.0f} s and a recall every third turn; a probe measures how late the event "
        "loop wakes up; afterwards (once the host's spool has replayed what the database took late) each call's "
        "stored turns are counted.",
        "",
        "| calls | turns | preload p50 / p95 ms | recall p50 / p95 ms | record_turn p99 ms | loop lag p99 / max ms "
        "| stored exactly once | duplicates / missing / unsaved | went through the spool / left there |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["levels"]:
        lines.append(
            f"| {r['calls']} | {r['turns']} | {r['preload_p50_ms']:.2f} / {r['preload_p95_ms']:.2f} | "
            f"{r['recall_p50_ms']:.2f} / {r['recall_p95_ms']:.2f} | {r['record_turn_p99_ms']:.3f} | "
            f"{r['loop_lag_p99_ms']:.1f} / {r['loop_lag_max_ms']:.1f} | {r['calls_stored_exactly_once']}/{r['calls']} "
            f"| {r['duplicates']} / {r['missing']} / {r['unsaved']} "
            f"| {r.get('spooled', 0)} / {r.get('left_in_spool', 0)} |"
        )
    lines += ["", f"![latency and loop lag against simultaneous calls]({_plot(result, ctx)})"]
    return "\n".join(lines)


def headline(result: dict) -> list[tuple[str, str, str, bool | None]]:
    top = max(result["levels"], key=lambda r: r["calls"])
    n = top["calls"]
    met = top["targets_met"]
    return [
        (
            f"thread-executor case, {n} calls in one process: preload p95",
            f"{top['preload_p95_ms']:.2f} ms",
            "< 50 ms",
            met["preload_p95_ms"],
        ),
        (
            f"thread-executor case, {n} calls in one process: event-loop lag p99",
            f"{top['loop_lag_p99_ms']:.1f} ms",
            "< 20 ms",
            met["loop_lag_p99_ms"],
        ),
        (
            f"thread-executor case, {n} calls in one process: turns stored exactly once",
            f"{top['calls_stored_exactly_once']}/{n} calls ({top['turns']} turns; {top['duplicates']} duplicated, "
            f"{top['missing']} missing; {top.get('spooled', 0)} through the spool)",
            "all",
            met["exactly_once"],
        ),
    ]

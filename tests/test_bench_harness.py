"""The benchmark harness: arguments, the judgement of the scale suite, and the real quick run of every suite.

The quick run here is the project's one benchmark run in CI: every suite at its CI-sized scale
must run and write its part of the report (it checks that the harness works, not timings).
"""

from __future__ import annotations

import json

import pytest

from bench import harness
from bench.suites import processes, scale
from tests.conftest import POSTGRES_URL, REDIS_URL, unavailable


def test_arguments_choose_scale_suites_and_report_directory(tmp_path):
    args = harness.parse_args([])
    assert args.scale == "default" and args.out == harness.ROOT / "docs" / "benchmarks"
    assert args.suite_names == list(harness.SUITE_NAMES)
    quick = harness.parse_args(["--quick", "--suites", "latency, scale"])
    assert quick.scale == "quick" and quick.suite_names == ["latency", "scale"]
    assert quick.out == harness.ROOT / "bench" / "results" / "quick"
    assert harness.parse_args(["--full", "--out", str(tmp_path)]).out == tmp_path
    with pytest.raises(SystemExit):
        harness.parse_args(["--suites", "latency,speed"])
    with pytest.raises(SystemExit):
        harness.parse_args(["--quick", "--full"])


def test_unreachable_postgres_stops_the_harness_with_a_clear_error(tmp_path, capsys):
    code = harness.main(
        [
            "--quick",
            "--suites",
            "latency",
            "--out",
            str(tmp_path),
            "--postgres",
            "postgresql://postgres@127.0.0.1:1/postgres",
        ]
    )
    assert code == 2
    assert "Postgres is not reachable" in capsys.readouterr().err
    assert not (tmp_path / "results.json").exists()


def _point(memories: int, **p95: float) -> dict:
    point = {"memories": memories}
    for m in scale.MEASURES:
        point[f"{m}_p95_ms"] = p95.get(m, 2.0)
    return point


def test_scale_judgement_flat_grown_and_sub_millisecond_noise():
    growth, met = scale.judge([_point(10_000), _point(1_000_000)])
    assert all(met.values()) and growth["recall_fast"] == pytest.approx(1.0)
    _, met = scale.judge([_point(10_000, recall_accurate=5.0), _point(1_000_000, recall_accurate=11.0)])
    assert not met["recall_accurate_growth"] and met["recall_accurate_p95_ms"]
    _, met = scale.judge([_point(10_000, preload_prepared=0.3), _point(1_000_000, preload_prepared=0.9)])
    assert met["preload_prepared_growth"]  # 3x, but 0.6 ms: below the noise floor
    _, met = scale.judge([_point(10_000, preload_cold=4.0), _point(1_000_000, preload_cold=12.0)])
    assert not met["preload_cold_p95_ms"] and not met["preload_cold_growth"]


def _level(calls: int, **values: float) -> dict:
    level = {
        "calls": calls,
        "failed": [],
        "memory_share_uss_mb_median": 20.0,
        "pg_connections_max": calls,
        "store_open_p95_ms": 5.0,
        "first_recall_fast_p95_ms": 8.0,
        "first_recall_accurate_p95_ms": 20.0,
        "calls_stored_exactly_once": calls,
    }
    return {**level, **values}


def test_process_model_judgement_per_target():
    assert all(processes.judge(_level(50)).values())
    missed = processes.judge(_level(50, memory_share_uss_mb_median=31.0, pg_connections_max=101))
    assert not missed["memory_share_mb"] and not missed["pg_connections_per_call"] and missed["store_open_p95_ms"]
    assert not processes.judge(_level(50, calls_stored_exactly_once=49))["exactly_once"]
    without_memory = processes.judge(_level(50, failed=["RuntimeError"], calls_stored_exactly_once=49))
    assert without_memory["exactly_once"] and not without_memory["pg_connections_per_call"]


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.redis
def test_a_bench_server_that_does_not_close_has_its_processes_killed(monkeypatch):
    import asyncio
    import subprocess

    import psutil

    from bench import bench_processes

    class Hanging:  # LiveKit's server waiting for a job process stuck in its call
        async def aclose(self) -> None:
            await asyncio.sleep(3600)

    monkeypatch.setattr(bench_processes, "CLOSE_WITHIN_S", 0.2)
    keep = subprocess.Popen(["sleep", "60"])  # started before the server (a PgBouncer): left alone
    others = {p.pid for p in psutil.Process().children(recursive=True)}
    stuck = subprocess.Popen(["sleep", "60"])  # a process of the server's

    async def close() -> bool:
        runner = asyncio.create_task(asyncio.sleep(3600))
        await asyncio.wait_for(bench_processes._close_server(Hanging(), runner, others), 30)  # type: ignore[arg-type]
        return runner.cancelled()

    try:
        assert asyncio.run(close())
        assert stuck.wait(5) == -9 and keep.poll() is None
    finally:
        for proc in (keep, stuck):
            proc.kill()
            proc.wait()


def test_quick_run_writes_report_json_plots_and_readme_block(tmp_path, postgres_database):
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        unavailable("Redis", exc)
    out = tmp_path / "report"
    code = harness.main(["--quick", "--out", str(out), "--postgres", POSTGRES_URL, "--redis", REDIS_URL])
    data = json.loads((out / "results.json").read_text())
    failed = {name: entry.get("error") for name, entry in data["suites"].items() if "error" in entry}
    assert code == 0 and not failed, failed
    assert sorted(data["suites"]) == sorted(harness.SUITE_NAMES)
    entry = data["suites"]["scale"]
    assert entry["scale"] == "quick" and "error" not in entry
    points = entry["result"]["points"]
    assert [p["memories"] for p in points] == [2_000, 10_000]  # counted in the database, not assumed
    assert all(p["preload_cold_p95_ms"] > 0 and p["bytes_per_memory_all"] > 768 for p in points)
    report = (out / "report.md").read_text()
    assert "## Scale: per-call cost as the store grows" in report and "(scale.png)" in report
    assert (out / "scale.png").stat().st_size > 10_000

    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{harness.README_START}\nSTALE-BLOCK\n{harness.README_END}\nrest\n")
    harness.update_readme(out, data, readme)
    text = readme.read_text()
    assert "STALE-BLOCK" not in text and text.startswith("intro\n") and text.endswith("rest\n")
    assert "preload p95 at 10,000 memories" in text


def _call_report(i: int, timeline: str, recall_ms: float, loaded: bool) -> dict:
    mem = {"rss_mb": 100.0, "uss_mb": 50.0, "pss_mb": 60.0}
    report = {
        "pid": i,
        "started_at": 0.0,
        "ended_at": 1.0,
        "timeline": timeline,
        "history_ready_at_recall": loaded,
        "first_recall_mode": "fast" if i % 2 == 0 else "accurate",
        "first_recall_ms": recall_ms,
        "first_recall_phases_ms": {"history_ready": 0.0 if loaded else recall_ms},
        "store_open_ms": 1.0,
        "memory_setup_ms": 10.0,
        "brief": True,
        "call_id": f"c{i}",
        "recorded_turns": 2,
        "loop_lag_ms": [1.0],
        "query_embed_ms": 5.0,
        "marks": {k: mem for k in ("start", "memory_imported", "worker_imported", "prewarmed", "call_used")},
    }
    if timeline == "spoken":
        report["spoken_wait_s"] = 4.0
    return report


def test_process_model_first_recall_is_judged_on_the_spoken_timeline_and_the_immediate_one_kept():
    from bench import bench_processes

    # the greeting "Hello, thanks for calling" (4 words) and a 6-word question at 150 words a minute
    assert bench_processes.spoken_wait_s("Hello, thanks for calling", "when is my refund due again") == (
        pytest.approx(10 / 2.5 + bench_processes.END_OF_TURN_S)
    )
    reports = [
        _call_report(0, "immediate", 300.0, False),
        _call_report(1, "immediate", 400.0, False),
        _call_report(2, "spoken", 6.0, True),
        _call_report(3, "spoken", 20.0, True),
    ]
    run = {"reports": reports, "connections": [4], "prewarm_s": 1.0, "spread_s": 1.0}
    summary = bench_processes.summarise(4, run, {f"c{i}": 2 for i in range(4)})
    assert summary["first_recall_timeline"] == "spoken"
    assert (summary["first_recall_fast_p95_ms"], summary["first_recall_accurate_p95_ms"]) == (6.0, 20.0)
    assert (summary["first_recall_immediate_fast_p95_ms"], summary["first_recall_immediate_accurate_p95_ms"]) == (
        300.0,
        400.0,
    )
    by = summary["first_recall_by_timeline"]
    assert (by["spoken"]["history_ready_at_recall"], by["immediate"]["history_ready_at_recall"]) == (2, 0)
    assert processes.judge(summary)["first_recall_fast_p95_ms"]
    rendered = bench_processes.render_level(summary)
    assert "first recall, spoken (2 calls" in rendered and "first recall, immediate (2 calls" in rendered


def test_process_model_cpu_is_accounted_by_phase_of_the_job_processes_and_by_thread():
    from bench import bench_processes

    def cpu(total: float, main: float, monitor: float) -> dict:
        return {"total_s": total, "main_s": main, "threads": {"MainThread": main, "livekit-loop-monitor-job": monitor}}

    reports = [_call_report(i, "spoken", 5.0, True) for i in range(2)]
    for r in reports:  # prewarm 1 s, 0.5 s waiting warm, a call of 2 s (1.5 on the loop, 0.5 in the monitor)
        r["cpu"] = {
            "prewarm_start": cpu(0.0, 0.0, 0.0),
            "prewarmed": cpu(1.0, 1.0, 0.0),
            "entrypoint": cpu(1.5, 1.4, 0.1),
            "end": cpu(3.5, 2.9, 0.6),
        }
    host = {
        "main_process_s": 2.0,
        "inference_s": {"nice_0": 0.25, "nice_10": 1.0},
        "wall_s": 10.0,
        "bench_tree_s": 9.0,
        "postgres_all_s": 1.5,
        "redis_s": 0.5,
        "machine_busy_s": 15.0,
    }
    run = {"reports": reports, "connections": [2], "prewarm_s": 1.0, "spread_s": 1.0, "host_cpu_s": host}
    summary = bench_processes.summarise(2, run, {f"c{i}": 2 for i in range(2)})
    jobs = summary["cpu_s"]["jobs"]
    assert (jobs["prewarm"], jobs["warm_wait"], jobs["call"]) == pytest.approx((2.0, 1.0, 4.0))
    assert (jobs["call_event_loop"], jobs["call_other_threads"]) == pytest.approx((3.0, 1.0))
    assert jobs["call_by_thread"] == pytest.approx({"MainThread": 3.0, "livekit-loop-monitor-job": 1.0})
    assert summary["cpu_s"]["host"]["inference_s"]["nice_10"] == 1.0
    rendered = bench_processes.render_level(summary)
    assert "CPU s of the 2 job processes: prewarm 2.0, warm wait 1.0, the calls 4.0" in rendered
    # the machine's busy time split: this run's processes, Postgres, Redis, and the rest (not this run's)
    assert "this run's processes 9.0" in rendered and "and 4.0 of other work on the machine" in rendered
    # the garbage collector on the calls' loops: over the calls and inside the first recalls
    for i, r in enumerate(reports):
        r["gc"] = {"ms": 10.0 * (i + 1), "by_generation": [3, 1, i]}
        r["first_recall_gc_ms"] = 2.0 * i
    gc = bench_processes.summarise(2, run, {f"c{i}": 2 for i in range(2)})["gc"]
    assert (gc["calls_ms_total"], gc["collections"], gc["full_collections"]) == (30.0, 9, 1)
    assert (gc["first_recalls_with_gc"], gc["first_recall_gc_ms_max"]) == (1, 2.0)
    timer = bench_processes._GcTimer().start()
    import gc as gc_module

    gc_module.collect(0)
    timer.stop()
    assert timer.by_generation[0] >= 1 and timer.ms > 0
    # two snapshots of the host: the difference, nested
    assert bench_processes._cpu_delta({"a": 1.0, "b": {"x": 1.0}}, {"a": 3.0, "b": {"x": 4.0, "y": 2.0}}) == {
        "a": 2.0,
        "b": {"x": 3.0, "y": 2.0},
    }
    # a profiled function's part, by where its code is
    assert bench_processes._part("/w/memory/call/writer.py") == "memory/call"
    assert bench_processes._part("/v/lib/python3.11/site-packages/livekit/agents/x.py") == "livekit"
    assert bench_processes._part("/usr/lib/python3.11/asyncio/base_events.py") == "python/base_events.py"

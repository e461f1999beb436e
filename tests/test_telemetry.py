"""Memory's metrics and traces (memory/telemetry.py): the series on the worker's own Prometheus
endpoint, counted by its job processes, and the spans of a call, free of personal data."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

import memory
from memory import telemetry

from .metrics_worker import CALLER_PHONE, SAID, TENANT

REPO = Path(__file__).resolve().parents[1]
MEMORY_SERIES = (
    "memory_preload_seconds",
    "memory_recall_seconds",
    "memory_embed_seconds",
    "memory_turns_recorded",
    "memory_turns_stored",
    "memory_write_queue_depth",
    "memory_store_up",
)
PERSONAL = ("4155550142", "0142", "Dana", "Reyes", "8842", "42.10", "94110", "refund", "charged")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``(sample name, sorted labels) -> value`` of a Prometheus exposition."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(values: dict, name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in values.items() if n == name and set(labels.items()) <= set(ls))


@pytest.fixture(scope="module")
def metrics_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path]]:
    """LiveKit's AgentServer in its own process, serving /metrics, with two memory calls run as jobs."""
    tmp_path = tmp_path_factory.mktemp("metrics-worker")
    port = free_port()
    multiproc_dir = tmp_path / "prometheus"
    spans_dir = tmp_path / "spans"
    spans_dir.mkdir()
    url = f"sqlite:///{tmp_path / 'memory.db'}"
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.metrics_worker", str(port), str(multiproc_dir), url, "2", str(spans_dir)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield f"http://127.0.0.1:{port}/metrics", multiproc_dir, spans_dir
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        assert "Traceback" not in out, out[-4000:]


@pytest.mark.slow
def test_the_workers_metrics_endpoint_shows_the_memory_series_of_its_job_processes(metrics_worker) -> None:
    url, multiproc_dir, _ = metrics_worker
    deadline = time.monotonic() + 180
    text, values = "", {}
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                text = response.read().decode()
        except OSError:
            time.sleep(0.5)
            continue
        values = samples(text)
        calls_done = total(values, "memory_recall_seconds_count", mode="accurate") == 2
        if calls_done and total(values, "memory_turns_stored_total") == 2 * len(SAID):
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"the memory series of two calls did not appear on {url}:\n{text[-3000:]}")

    for name in MEMORY_SERIES:
        assert any(n.startswith(name) for n, _ in values), f"{name} missing"
    # two job processes counted into the one endpoint (prometheus_client's multi-process files)
    pids = {f.stem.rsplit("_", 1)[-1] for f in multiproc_dir.glob("counter_*.db")}
    assert len(pids) >= 2, sorted(multiproc_dir.iterdir())
    assert total(values, "memory_turns_recorded_total", tenant=TENANT) == 2 * len(SAID)
    assert total(values, "memory_turns_stored_total", tenant=TENANT) == 2 * len(SAID)
    assert total(values, "memory_turns_lost_total") == 0
    assert total(values, "memory_preload_seconds_count") == 2
    sources = {dict(ls)["source"] for (n, ls), v in values.items() if n == "memory_preload_seconds_count" and v}
    assert sources <= {"empty", "database", "cache"}, sources
    assert total(values, "memory_recall_seconds_count", mode="fast") == 2
    assert total(values, "memory_embed_seconds_count", texts="one") >= 2  # the recall queries
    assert total(values, "memory_embed_seconds_count", texts="many") >= 2  # the turns, per call
    assert total(values, "memory_write_queue_depth") == 0
    assert total(values, "memory_store_up") == 1
    # series names and label values: where a caller's words could land (sample values are durations and counts,
    # whose digits may happen to contain a personal number's)
    labelled = "\n".join(f"{n} {ls}" for n, ls in values if n.startswith("memory_"))
    assert not [word for word in (*PERSONAL, CALLER_PHONE) if word in labelled]


@pytest.mark.slow
def test_in_a_job_process_memory_spans_are_inside_the_jobs_trace(metrics_worker) -> None:
    _, _, spans_dir = metrics_worker
    deadline = time.monotonic() + 180
    while len(files := sorted(spans_dir.glob("spans-*.json"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert len(files) == 2, files
    for path in files:
        record = json.loads(path.read_text())
        job, spans = record["job"], record["spans"]
        by_id = {s["span_id"]: s for s in spans}
        mine = [s for s in spans if s["name"].startswith("memory.")]
        assert {"memory.open", "memory.preload", "memory.recall", "memory.write", "memory.close"} <= {
            s["name"] for s in mine
        }
        assert sum(s["name"] == "memory.recall" for s in mine) == 2
        for span in mine:
            assert span["trace_id"] == job["trace_id"], span["name"]
            while span["parent_id"] in by_id:  # up to the first span not finished yet: the job's root
                span = by_id[span["parent_id"]]
            assert span["parent_id"] == job["span_id"]
        said = json.dumps([[(k, v) for k, v in s["attributes"].items() if isinstance(v, str)] for s in mine])
        assert not [word for word in (*PERSONAL, CALLER_PHONE) if word in said]  # text attributes (numbers: timings)


# --------------------------------------------------------------------------- spans, in this process


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Memory's spans recorded in memory, under a parent span like LiveKit's job span."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    before = telemetry.use_tracer(provider.get_tracer("test"))
    try:
        yield exporter
    finally:
        telemetry.use_tracer(before)
        provider.shutdown()


def attribute_text(span: ReadableSpan) -> str:
    """A span's attribute names and text values (number values are timings and counts: their digits may
    happen to contain a personal number's)."""
    return " ".join(f"{k}={v}" if isinstance(v, str) else k for k, v in (span.attributes or {}).items())


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_calls_memory_operations_are_spans_without_personal_data(spans, tmp_path, embedder) -> None:
    store = await memory.open_store(f"sqlite:///{tmp_path / 'memory.db'}", embedder=embedder)
    tenant = "spans-test"
    recorded_before = value("memory_turns_recorded_total", tenant=tenant)
    fast_before = value("memory_recall_seconds_count", mode="fast")
    parent_tracer = telemetry.tracer()
    try:
        for n in range(2):
            with parent_tracer.start_as_current_span("job_entrypoint"):
                hooks = await store.open_call(tenant, {"phone": CALLER_PHONE}, call_id=f"call-{n}")
                await hooks.preload()
                for role, text in SAID:
                    hooks.record_turn(role, text)
                await hooks.flushed()
                await hooks.recall("the refund of my double charge, Dana Reyes 4155550142", mode="fast")
                await hooks.aclose()
    finally:
        await store.aclose()

    finished = spans.get_finished_spans()
    names = [s.name for s in finished]
    for name in ("memory.open", "memory.preload", "memory.recall", "memory.write", "memory.enrich", "memory.close"):
        assert name in names, names
    roots = {s.context.trace_id: s for s in finished if s.name == "job_entrypoint"}
    assert len(roots) == 2
    for span in finished:
        assert span.context.trace_id in roots, f"{span.name} is outside the call's trace"
        text = attribute_text(span) + " " + " ".join(e.name for e in span.events)
        assert not [word for word in PERSONAL if word in text], (span.name, text)
    preloads = [s.attributes for s in finished if s.name == "memory.preload"]
    assert [p["memory.source"] for p in preloads] == ["empty", "cache"]  # prepared at the first close
    assert all(p["memory.outcome"] == "ok" and p["memory.tenant"] == tenant for p in preloads)
    (recall, _) = [s for s in finished if s.name == "memory.recall"]
    assert recall.attributes["memory.mode"] == "fast"
    opened = [s.attributes["memory.new_caller"] for s in finished if s.name == "memory.open"]
    assert opened == [True, False]
    written = sum(s.attributes["memory.rows"] for s in finished if s.name == "memory.write")
    assert written == 2 * len(SAID)
    # the same operations counted in this process's registry (no multi-process directory here)
    assert value("memory_turns_recorded_total", tenant=tenant) - recorded_before == 2 * len(SAID)
    assert value("memory_recall_seconds_count", mode="fast") - fast_before == 2


async def test_a_failed_operation_is_recorded_by_its_type_only(spans) -> None:
    with pytest.raises(ValueError), telemetry.measured("memory.recall", telemetry.RECALL, mode="fast"):
        raise ValueError("caller Dana Reyes said 4155550142")
    with pytest.raises(asyncio.CancelledError), telemetry.measured("memory.preload", telemetry.PRELOAD):
        raise asyncio.CancelledError
    failed, cancelled = spans.get_finished_spans()
    assert failed.attributes["memory.outcome"] == "error" and failed.attributes["memory.error"] == "ValueError"
    assert failed.status.description == "ValueError" and not failed.events
    assert cancelled.attributes["memory.outcome"] == "cancelled"
    assert value("memory_preload_seconds_count", source="cancelled") >= 1


# --------------------------------------------------------------------------- counts through a database outage


@pytest.mark.postgres
@pytest.mark.slow
async def test_turns_are_counted_stored_spooled_or_lost_and_the_queue_empties(postgres_database, embedder, tmp_path):
    from tests.tcp_proxy import FaultProxy

    proxy = await FaultProxy.for_url(postgres_database, 5432).start()
    url = proxy.url(postgres_database, connect_timeout="1")
    quick = memory.MemoryPolicy(preload_timeout_s=0.5, recall_timeout_s=0.5)
    tenant = f"outage-{os.getpid()}-{time.monotonic_ns() % 10**9}"
    queue0 = value("memory_write_queue_depth")

    def counts() -> dict[str, float]:
        return {state: value(f"memory_turns_{state}_total", tenant=tenant) for state in telemetry.TURN_STATES}

    spooling = await memory.open_store(url, embedder=embedder, spool_path=tmp_path / "spool.db", default_policy=quick)
    try:
        hooks = await spooling.open_call(tenant, {"phone": CALLER_PHONE})
        for i in range(4):
            hooks.record_turn("user", f"turn {i}")
        await hooks.flushed()
        slow_writes = counts()["spooled"]  # rows the database took longer than SPOOL_AFTER_S for are spooled too
        assert counts() == {"recorded": 4, "stored": 4, "spooled": slow_writes, "lost": 0}
        assert value("memory_store_up") == 1 and value("memory_write_queue_depth") == queue0
        await proxy.set("refuse")
        for i in range(4, 7):
            hooks.record_turn("user", f"turn {i}")
        await hooks.flushed()  # spooled while the database is down
        assert counts() == {"recorded": 7, "stored": 4, "spooled": slow_writes + 3, "lost": 0}
        assert value("memory_store_up") == 0 and value("memory_write_queue_depth") == queue0
        await hooks.aclose(timeout=2.0)
        assert counts()["lost"] == 0
    finally:
        await spooling.aclose()

    await proxy.set("pass")
    no_spool = await memory.open_store(url, embedder=embedder, spool_path=None, default_policy=quick)
    try:
        hooks = await no_spool.open_call(tenant, {"phone": CALLER_PHONE})
        await proxy.set("refuse")
        hooks.record_turn("user", "turn 7")
        hooks.record_turn("assistant", "turn 8")
        await asyncio.sleep(0.5)
        assert value("memory_write_queue_depth") == queue0 + 2  # neither in the database nor in a spool
        with pytest.raises(memory.MemoryWriteError):
            await hooks.aclose(timeout=1.0)
        assert counts() == {"recorded": 9, "stored": 4, "spooled": slow_writes + 3, "lost": 2}
        assert value("memory_write_queue_depth") == queue0
    finally:
        await no_spool.aclose()
        await proxy.aclose()

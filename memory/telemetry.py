"""Memory's metrics and traces, through the worker's own channels, free of personal data.

**Metrics** are ``prometheus_client`` series in its default registry, the one LiveKit's worker
serves on ``prometheus_port`` (``/metrics``). A job process counts into the worker's endpoint in
prometheus_client's multi-process mode: ``PROMETHEUS_MULTIPROC_DIR`` set before the process
imports ``prometheus_client``, as LiveKit's worker does for the job processes it starts.

    memory_preload_seconds{source}       the caller brief, by source: cache, database, empty, verification,
                                         error or cancelled (its time budget ran out)
    memory_recall_seconds{mode}          one recall: fast or accurate
    memory_embed_seconds{texts}          one embedding run of the model: one (a query) or many (turns)
    memory_turns_recorded_total{tenant}  rows recorded by calls (turns and notes)
    memory_turns_stored_total{tenant}    rows a call's writer stored in the database
    memory_turns_spooled_total{tenant}   rows put in the host's spool (the database down, or slow to take them)
    memory_turns_lost_total{tenant}      rows neither stored nor spooled when their call closed
    memory_write_queue_depth             rows recorded and neither in the database nor in the spool
    memory_store_up                      1 when the latest database operation of a call succeeded, else 0

``tenant`` is the operator's tenant id (``tenants.yaml``: a slug by ``TENANT_ID_RULE``); no label
ever holds a caller id, an identifier or what was said. Every value is created on first use, so
nothing is written before the worker has prepared the multi-process directory.

**Traces** are OpenTelemetry spans: ``memory.open``, ``memory.preload``, ``memory.recall``,
``memory.write``, ``memory.enrich``, ``memory.close``. They go to the tracer given to
:func:`use_tracer` (``memory.livekit`` gives LiveKit's, so they sit inside the job's trace) or, by
default, to the global tracer provider (no-op unless one is set). Their attributes are counts,
modes, sources, outcomes and the tenant id; an error is recorded by its type's name only (an
exception's message can quote what was said).

This module imports only ``prometheus_client`` and ``opentelemetry-api``; no part of memory needs
either to work: without a scrape or a tracer provider, a measurement costs microseconds.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Literal

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode, Tracer
from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "EMBED",
    "PRELOAD",
    "RECALL",
    "TURN_STATES",
    "Measure",
    "embed_seconds",
    "measured",
    "recall_without_vector",
    "store_up",
    "tracer",
    "turns",
    "use_tracer",
    "write_queue",
]

PRELOAD = "memory_preload_seconds"
RECALL = "memory_recall_seconds"
EMBED = "memory_embed_seconds"

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_HISTOGRAMS: dict[str, tuple[str, tuple[str, ...]]] = {
    PRELOAD: ("Time to the caller brief of a call (preload), by where the brief came from", ("source",)),
    RECALL: ("Time of one recall of a caller's memories, by mode", ("mode",)),
    EMBED: ("Time of one embedding run of the model, by the number of texts (one: a query)", ("texts",)),
}
TURN_STATES = ("recorded", "stored", "spooled", "lost")
_TURN_HELP = {
    "recorded": "Rows (turns and notes) recorded by calls",
    "stored": "Rows a call's writer stored in the database",
    "spooled": "Rows put in the host's spool (the database down, or slow to take them)",
    "lost": "Rows neither stored nor spooled when their call closed",
}

_tracer: Tracer | None = None
_creating = threading.Lock()  # a metric is registered once, even when two threads first use it at once


def use_tracer(tracer: Tracer | None) -> Tracer | None:
    """Send memory's spans to ``tracer`` (``None``: the global tracer provider's); returns the one before."""
    global _tracer
    previous, _tracer = _tracer, tracer
    return previous


def tracer() -> Tracer:
    return _tracer if _tracer is not None else _global_tracer()


@cache
def _global_tracer() -> Tracer:
    return trace.get_tracer("memory")  # a proxy: it follows a provider set later


def _histogram(name: str) -> Histogram:
    with _creating:
        return _new_histogram(name)


@cache
def _new_histogram(name: str) -> Histogram:
    doc, labels = _HISTOGRAMS[name]
    return Histogram(name, doc, labels, buckets=_LATENCY_BUCKETS)


def _turns(state: str) -> Counter:
    with _creating:
        return _new_turns(state)


@cache
def _new_turns(state: str) -> Counter:
    return Counter(f"memory_turns_{state}", _TURN_HELP[state], ["tenant"])


def _queue() -> Gauge:
    with _creating:
        return _new_gauge(
            "memory_write_queue_depth",
            "Rows recorded and neither in the database nor in the spool",
            "livesum",  # the sum over the processes alive
        )


def _store_up() -> Gauge:
    with _creating:
        return _new_gauge(
            "memory_store_up",
            "1 when the latest database operation of a call succeeded, 0 when it failed",
            "mostrecent",  # the latest value set by any process
        )


@cache
def _new_gauge(name: str, doc: str, mode: Literal["livesum", "mostrecent"]) -> Gauge:
    return Gauge(name, doc, multiprocess_mode=mode)


def turns(state: str, tenant: str, n: int = 1) -> None:
    """Count ``n`` rows of ``tenant`` that reached ``state`` (one of ``TURN_STATES``)."""
    if n > 0:
        _turns(state).labels(tenant=tenant).inc(n)


def write_queue(change: int) -> None:
    """Rows entered (positive) or left (negative) the write queue of this process."""
    if change:
        _queue().inc(change)


def store_up(up: bool) -> None:
    _store_up().set(1 if up else 0)


def recall_without_vector(mode: str) -> None:
    """A recall ranked by words: its query's vector came after the mode's deadline."""
    with _creating:
        counter = _new_counter(
            "memory_recall_without_vector", "Recalls ranked by words: the query's vector was late", ("mode",)
        )
    counter.labels(mode=mode).inc()


@cache
def _new_counter(name: str, doc: str, labels: tuple[str, ...]) -> Counter:
    return Counter(name, doc, list(labels))


def embed_seconds(seconds: float, texts: int) -> None:
    _histogram(EMBED).labels(texts="one" if texts == 1 else "many").observe(seconds)


class Measure:
    """One measured operation: its span, and the labels its duration is observed under."""

    def __init__(self, span: trace.Span, labels: dict[str, str]) -> None:
        self.span = span
        self.labels = labels

    def set(self, **values: str | int | bool) -> None:
        """Set span attributes (``memory.<name>``); a name that is a label of the histogram sets it too."""
        for name, value in values.items():
            self.span.set_attribute(f"memory.{name}", value)
            if name in self.labels:
                self.labels[name] = str(value)


@contextmanager
def measured(name: str, histogram: str | None = None, /, **attributes: str | int | bool) -> Iterator[Measure]:
    """A span ``name`` around the block, made current (spans inside it are its children), and the
    block's duration observed in ``histogram`` under its labels, taken from ``attributes`` and
    :meth:`Measure.set` (a label never set is the outcome). The span's ``memory.outcome`` is
    ``ok``, ``error`` or ``cancelled`` (a time budget ran out); an error is recorded by its type's
    name only."""
    labels = {label: str(attributes.get(label, "")) for label in (_HISTOGRAMS[histogram][1] if histogram else ())}
    started = time.perf_counter()
    span_attributes = {f"memory.{k}": v for k, v in attributes.items()}
    with tracer().start_as_current_span(
        name, attributes=span_attributes, record_exception=False, set_status_on_exception=False
    ) as span:
        measure = Measure(span, labels)
        outcome = "ok"
        try:
            yield measure
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        except BaseException as exc:
            outcome = "error"
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            span.set_attribute("memory.error", type(exc).__name__)
            raise
        finally:
            span.set_attribute("memory.outcome", outcome)
            if histogram is not None:
                labels = {k: v or outcome for k, v in measure.labels.items()}  # a label never set: the outcome
                _histogram(histogram).labels(**labels).observe(time.perf_counter() - started)

"""A call's memory operations as spans inside LiveKit's trace: calls placed through the worker's
entrypoint body, with LiveKit's tracer given an SDK provider that records in memory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from livekit.agents.telemetry import set_tracer_provider
from livekit.agents.telemetry import tracer as livekit_tracer
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from .conftest import placed_call
from .fakes import ScriptedProviders, sip_caller
from .test_call_text import ACME_LINE, DANA_MOBILE, DANA_OFFICE, support_llm

PERSONAL = ("4155550142", "4155550177", "0142", "0177", "Dana", "Reyes", "charged", "4471", "2290", "8842", "refund")


@pytest.fixture
def livekit_spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    before = livekit_tracer._tracer_provider
    set_tracer_provider(provider)
    try:
        yield exporter
    finally:
        livekit_tracer.set_provider(before)
        provider.shutdown()


def ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    names = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        names.append(span.name)
    return names


async def test_memory_spans_sit_in_the_calls_livekit_trace_without_personal_data(make_deps, livekit_spans) -> None:
    deps = make_deps(ScriptedProviders(support_llm))
    for n, (phone, said) in enumerate(
        [
            (DANA_MOBILE, "Hi, my name is Dana Reyes. I was charged twice. My account number is 4471 2290."),
            (DANA_MOBILE, "What happened with my refund last time?"),
            (DANA_OFFICE, "Hi, I'm calling from my office phone about my account."),
        ]
    ):
        # the job's root span, as LiveKit's job process opens it around the entrypoint
        with livekit_tracer.start_as_current_span("job_entrypoint"):
            async with placed_call(deps, sip_caller(phone, ACME_LINE, call_id=f"SCL_{n}"), job_id=f"job-{n}") as call:
                await call.session.run(user_input=said)

    finished = livekit_spans.get_finished_spans()
    by_id = {s.context.span_id: s for s in finished}
    jobs = {s.context.trace_id for s in finished if s.name == "job_entrypoint"}
    mine = [s for s in finished if s.name.startswith("memory.")]
    names = {s.name for s in mine}
    assert {"memory.open", "memory.preload", "memory.recall", "memory.write", "memory.close"} <= names, names
    for span in mine:
        assert span.context.trace_id in jobs and "job_entrypoint" in ancestors(span, by_id), span.name
        text = " ".join(f"{k}={v}" for k, v in (span.attributes or {}).items())
        assert not [word for word in PERSONAL if word in text], (span.name, text)
        assert span.attributes["memory.tenant"] == "acme-telecom"
    (recall,) = [s for s in mine if s.name == "memory.recall"]
    assert "function_tool" in ancestors(recall, by_id)  # the recall_issue tool's span, in the agent session
    sources = [s.attributes["memory.source"] for s in mine if s.name == "memory.preload"]
    assert sources[0] == "empty" and "cache" in sources, sources  # a new caller, then the brief prepared for Dana

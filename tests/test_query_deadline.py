"""A recall's query vector has a deadline (the worker's, for the host's shared embedder): when the
vector is late the recall ranks by words at once, and the vector, once there, serves the next
recall of that query. Turns go through the embedder's lane for texts no one waits on."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence

import numpy as np
from prometheus_client import REGISTRY

import memory


class SlowQueries:
    """The real model behind a queue that makes one-text requests (queries) late; turns handed to
    ``embed_later`` are counted. Stands in for the host's inference process under load."""

    def __init__(self, embedder, delay_s: float) -> None:
        self.inner, self.delay_s = embedder, delay_s
        self.name, self.dim = embedder.name, embedder.dim
        self.later_texts = 0

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        await asyncio.sleep(self.delay_s)
        return await asyncio.to_thread(self.inner.embed, list(texts))

    async def embed_later(self, texts: Sequence[str]) -> np.ndarray:
        self.later_texts += len(texts)
        return await asyncio.to_thread(self.inner.embed, list(texts))


def late(mode: str) -> float:
    return REGISTRY.get_sample_value("memory_recall_without_vector_total", {"mode": mode}) or 0.0


async def test_a_late_query_vector_ranks_by_words_and_serves_the_next_recall(tmp_path, embedder) -> None:
    slow = SlowQueries(embedder, delay_s=0.5)
    store = await memory.open_store(
        f"sqlite:///{tmp_path / 'm.db'}", embedder=slow, spool_path=None, query_deadlines={"fast": 0.02}
    )
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    try:
        hooks = await store.open_call(tenant, {"phone": "+14155550123"}, call_id="c1")
        hooks.record_turn("user", "my router model is the Archer AX55 and it reboots every night")
        hooks.record_turn("assistant", "I have noted the Archer AX55 rebooting at night")
        await hooks.flushed()
        assert slow.later_texts >= 2  # the call's turns went through the lane for them
        before = late("fast")
        t0 = time.perf_counter()
        hits = await hooks.recall("which router model do I have", mode="fast")
        took = time.perf_counter() - t0
        assert late("fast") == before + 1
        assert took < slow.delay_s  # did not wait for the vector
        assert hits and "Archer AX55" in hits[0].text  # ranked by its words
        await asyncio.sleep(slow.delay_s + 0.5)  # the late vector arrives and is cached
        t0 = time.perf_counter()
        again = await hooks.recall("which router model do I have", mode="fast")
        assert late("fast") == before + 1 and "Archer AX55" in again[0].text
        assert time.perf_counter() - t0 < slow.delay_s
        await hooks.aclose()
    finally:
        await store.aclose()


async def test_without_a_deadline_the_recall_waits_for_the_vector(tmp_path, embedder) -> None:
    slow = SlowQueries(embedder, delay_s=0.1)
    store = await memory.open_store(f"sqlite:///{tmp_path / 'm.db'}", embedder=slow, spool_path=None)
    try:
        hooks = await store.open_call(f"t-{uuid.uuid4().hex[:8]}", {"phone": "+14155550124"}, call_id="c1")
        hooks.record_turn("user", "the ticket number is 4471")
        before = late("accurate")
        t0 = time.perf_counter()
        await hooks.recall("what was my ticket number", mode="accurate")
        assert time.perf_counter() - t0 >= slow.delay_s and late("accurate") == before
        await hooks.aclose()
    finally:
        await store.aclose()

"""Replaying an SGD set through the memory layer's public API and through the baselines.

The replay is eval_scenarios' (``es.replay``): calls in time order across both tenants,
``store.open_call(tenant, {"phone": ...}, call_id=..., started_at=...)``, ``hooks.preload()``, the
turns with ``hooks.record_turn(role, text, at=...)``, the probes at their points, sweeps at every
call's start and end (every hit, brief, open matter and fact checked against the caller and tenant
each turn came from), ``hooks.aclose()``. The memory layer answers each value probe twice, with
``hooks.recall(query, mode="fast")`` and ``mode="accurate"`` (limit 5).

Baselines, replayed on the same calls in the same run:

- ``phone_bm25``: memory keyed by the raw phone-number string (eval_scenarios' ``raw_caller_id``
  subject: no normalisation, no linking, no tenant), ranked by rank_bm25's BM25Okapi over that
  key's stored turns (eval_locomo's tokens); its brief is the latest transcripts within the same
  token budget.
- ``tenant_vector``: eval_scenarios' tenant-wide vector search: top-k cosine of the query's vector
  (the project's embedder) over every turn of every caller of the tenant.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from rank_bm25 import BM25Okapi

import memory
from bench import eval_scenarios as es
from bench.eval_locomo import plain_tokens
from bench.sgd.build import SgdSet
from bench.sgd.score import make_handlers

MEMORY_MODES = ("fast", "accurate")
BASELINES = ("phone_bm25", "tenant_vector")
LABELS = {
    "memory:fast": "memory, fast",
    "memory:accurate": "memory, accurate",
    "phone_bm25": "BM25 keyed by phone",
    "tenant_vector": "tenant-wide vector",
}
# Generous timeouts: on a busy 2-core machine a recall must not degrade for lack of time, or the
# accuracy measured would be the machine's (the latency suites measure time).
TIMEOUT_S = 10.0


class SgdMemorySubject(es.MemorySubject):
    """eval_scenarios' memory subject with each tenant's region and generous timeouts."""

    def setup(self, scenario: es.ScenarioSet) -> None:
        for tenant in scenario.tenants.values():
            self.store.set_policy(
                self.store_tenant(tenant.id),
                memory.MemoryPolicy(
                    default_region=tenant.region,
                    recall_timeout_s=TIMEOUT_S,
                    preload_timeout_s=TIMEOUT_S,
                    # SGD measures recall across a caller's calls; its callers put no name on record
                    # (the default second factor), so what they say aloud is trusted, as the template
                    # did before verification. Impostors are measured by tests/test_impostors.py.
                    verification={"account": 0, "email": 0, "phone": 0},
                ),
            )


class PhoneBm25Call(es.BaselineCall):
    """One call of the phone-keyed BM25 memory: the raw caller-ID key, BM25 over its turns."""

    def record_turn(self, role: str, text: str, at) -> None:
        seq = len(self.rows) + 1
        self.rows.append(es.MemoryRow("baseline", self.key, self.call.id, seq, "turn", role, text, at, self.key))  # type: ignore[arg-type]

    async def recall(self, query: str, mode: str, limit: int) -> list[es.HitView]:
        rows = [r for _, rs in self.subject.history.get(self.key, []) for r in rs] + self.rows
        if not rows:
            return []
        scores = BM25Okapi([plain_tokens(r.text) or ["\u2205"] for r in rows]).get_scores(plain_tokens(query))
        order = np.argsort(-scores, kind="stable")[:limit]
        return [es.HitView(rows[i].text, rows[i].call_id, float(scores[i])) for i in order]


class PhoneBm25Subject(es.BaselineSubject):
    name = "phone_bm25"

    async def open_call(self, call: es.Call) -> PhoneBm25Call:
        return PhoneBm25Call(self, call)


def _modes_of(view) -> Sequence[str]:
    return MEMORY_MODES if isinstance(view, es.MemoryCall) else ("rank",)


async def evaluate(
    sgd: SgdSet,
    *,
    url: str | None = None,
    redis_url: str | None = None,
    embedder=None,
    baselines: Sequence[str] = BASELINES,
    progress: bool = False,
) -> dict[str, es.SubjectResult | float]:
    """Replay ``sgd`` through the memory layer (a fresh SQLite store unless ``url``) and the baselines.

    Returns {"memory": result, <baseline>: result, "seconds": {...}}.
    """
    handlers = make_handlers(sgd, _modes_of)
    tmp = None
    if url is None:
        tmp = tempfile.mkdtemp(prefix="sgd-")
        url = f"sqlite:///{Path(tmp) / 'memory.db'}"
    out: dict = {"seconds": {}}
    try:
        store = await memory.open_store(url, redis_url=redis_url, embedder=embedder)
        try:
            subject = SgdMemorySubject(store, uuid.uuid4().hex[:8])
            started = time.perf_counter()
            try:
                out["memory"] = await es.replay(sgd.scenario, subject, pause_s=0, progress=progress, handlers=handlers)
            finally:
                if tmp is None:
                    await subject.forget_all()
            out["seconds"]["memory"] = round(time.perf_counter() - started, 1)
            for name in baselines:
                started = time.perf_counter()
                if name == "phone_bm25":
                    base = PhoneBm25Subject(store.embedder, {})
                elif name == "tenant_vector":
                    texts = sorted({t for c in sgd.scenario.calls for _, t in c.turns})
                    vectors = await asyncio.to_thread(store.embedder.embed, texts)
                    base = es.TenantVectorSubject(store.embedder, dict(zip(texts, vectors, strict=True)))
                else:
                    raise ValueError(f"unknown baseline {name!r}; known: {BASELINES}")
                out[name] = await es.replay(sgd.scenario, base, pause_s=0, progress=progress, handlers=handlers)
                out["seconds"][name] = round(time.perf_counter() - started, 1)
        finally:
            await store.aclose()
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return out

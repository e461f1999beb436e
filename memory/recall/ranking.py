"""Ranking a query against the call's working set: per-signal scores fused, then dates, graph, recency.

Each signal is brought to [0, 1] over the working set (BM25 scores by the best one, cosines
min-max), then weighted by the preset and summed:

- the row's own words and vector, the same for its window of neighbouring turns, and its call
  (:class:`memory.recall.working_set.WorkingSet` computes these);
- **question -> answer**: a turn right after a turn that asks something inherits part of that
  question's score;
- **dates**: a query that names a date ("on March 3, 2026", "in June 2025", "yesterday") prefers rows
  said near it, and a "when" question prefers rows that mention a time ("last Tuesday");
- **expansion** (accurate mode, optional): a caller-supplied ``expand`` hook gets the top candidates
  and returns related rows (e.g. turns naming the same ticket), whose scores are added;
- **recency**: a mild multiplicative preference for newer rows, then newer first on ties.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from datetime import date, datetime

import numpy as np

from ..text.dates import is_when_question, query_date_spans
from ..text.terms import index_terms
from ..values import Hit, MemoryRow
from .presets import RecallPreset
from .working_set import WorkingSet

__all__ = ["ExpandHook", "rank"]

logger = logging.getLogger(__name__)

ExpandHook = Callable[[list[int]], dict[int, float]]
"""``expand(top row indices, best first) -> {row index: score}`` for related rows (accurate mode)."""

_MIN_SPREAD = 0.1  # cosines closer than this are not stretched apart by normalisation


def rank(
    ws: WorkingSet,
    query: str,
    query_vector: np.ndarray | None,
    *,
    preset: RecallPreset,
    limit: int,
    now: datetime,
    expand: ExpandHook | None = None,
) -> list[Hit]:
    """The ``limit`` rows that best match ``query`` (and its vector, if given), best first.

    ``expand`` (used when ``preset.expand_candidates`` > 0) is called once with the row indices
    of the top first-stage candidates, best first, and returns ``{row index: score}`` for related
    rows; a score of 1 adds ``preset.expand_weight`` times the best first-stage score (scores are
    clipped to [0, 2]; unknown indices are ignored; if the hook raises, ranking goes on without it).
    """
    n = len(ws.rows)
    if n == 0 or limit <= 0:
        return []
    ws.sync()
    calls = ws.calls
    fused = np.zeros(n)
    signal = np.zeros(n, dtype=bool)  # rows the query matched at all

    lex_own, lex_context, lex_call = ws.lexical(index_terms(query), preset)
    signal |= (lex_context > 0) if preset.context_lexical_weight else (lex_own > 0)
    fused += preset.lexical_weight * _scaled(lex_own)
    fused += preset.context_lexical_weight * _scaled(lex_context)
    call_score = _scaled(lex_call)

    dense = ws.dense(query_vector, preset)
    if dense is not None:
        own, context, call = dense
        vectors = ws.has_vector()
        signal |= vectors
        fused += preset.dense_weight * _normalise(own, among=vectors)
        fused += preset.context_dense_weight * _normalise(context, among=vectors)
        call_score = call_score + _normalise(call)
    if preset.call_weight:
        fused += preset.call_weight * call_score[calls]
    if not signal.any():
        return []

    if preset.answer_weight:
        before = ws.previous()
        asked = ws.asks()
        follows = (before >= 0) & asked[np.maximum(before, 0)]
        inherited = np.where(follows, preset.answer_weight * fused[np.maximum(before, 0)], 0.0)
        signal |= follows & signal[np.maximum(before, 0)]
        fused = np.maximum(fused, inherited)
    if preset.time_weight and is_when_question(query):
        fused += preset.time_weight * ws.time_mentions()
    if preset.date_weight:
        spans = query_date_spans(query, now)
        if spans:
            fused += preset.date_weight * _closeness(ws, spans, preset.date_window_days)

    if expand is not None and preset.expand_candidates > 0:
        fused, signal = _expanded(fused, signal, expand, preset)

    candidates = np.flatnonzero(signal & (fused > 0))
    if candidates.size == 0:
        return []
    scores = fused[candidates]
    times = ws.times[candidates]
    if preset.recency_weight:
        age_s = np.maximum(0.0, now.timestamp() - times)
        recency = np.exp(-math.log(2) * age_s / (preset.recency_half_life_days * 86400.0))
        scores = scores * (1.0 + preset.recency_weight * recency)
    best = np.lexsort((-times, -scores))[:limit]  # best score first, then the newer row
    return [_hit(ws.rows[candidates[i]], scores[i]) for i in best]


def _closeness(ws: WorkingSet, spans: Sequence[tuple[date, date]], window_days: float) -> np.ndarray:
    """1 for rows said within ``window_days`` of a span, decaying over a week beyond."""
    days = np.floor(ws.times / 86400.0) + date(1970, 1, 1).toordinal()  # calendar day of each row (UTC)
    best = np.zeros(len(ws.rows))
    for first, last in spans:
        before = first.toordinal() - window_days - days
        after = days - last.toordinal() - window_days
        distance = np.maximum(0.0, np.maximum(before, after))
        best = np.maximum(best, np.exp(-distance / 7.0))
    return best


def _expanded(
    fused: np.ndarray, signal: np.ndarray, expand: ExpandHook, preset: RecallPreset
) -> tuple[np.ndarray, np.ndarray]:
    ranked = np.flatnonzero(signal)
    if ranked.size == 0:
        return fused, signal
    ranked = ranked[np.argsort(-fused[ranked], kind="stable")][: preset.expand_candidates]
    try:
        related = expand([int(i) for i in ranked])
    except Exception:
        logger.exception("the recall expansion hook failed; ranking without it")
        return fused, signal
    if not related:
        return fused, signal
    top = float(fused[ranked[0]])
    fused, signal = fused.copy(), signal.copy()
    for idx, score in related.items():
        if isinstance(idx, int | np.integer) and 0 <= idx < len(fused) and score and score > 0:
            fused[idx] += preset.expand_weight * min(float(score), 2.0) * top
            signal[idx] = True
    return fused, signal


def _scaled(scores: np.ndarray) -> np.ndarray:
    """Lexical scores to [0, 1] by the best one: no match stays 0, near-equal matches stay near-equal."""
    top = float(scores.max()) if scores.size else 0.0
    return scores / top if top > 0 else np.zeros_like(scores)


def _normalise(scores: np.ndarray, among: np.ndarray | None = None) -> np.ndarray:
    """Cosines to [0, 1]: min-max over ``among`` rows (others get 0), over a spread of at least
    ``_MIN_SPREAD``, so that in a small set nearly equal cosines stay nearly equal."""
    if scores.size == 0:
        return scores
    pool = scores if among is None else scores[among]
    if pool.size == 0:
        return np.zeros_like(scores)
    lo, hi = float(pool.min()), float(pool.max())
    out = np.clip((scores - lo) / max(hi - lo, _MIN_SPREAD), 0.0, 1.0)
    if among is not None:
        out = np.where(among, out, 0.0)
    return out


def _hit(row: MemoryRow, score: float) -> Hit:
    return Hit(
        text=row.text, call_id=row.call_id, at=row.at, score=float(score), kind=row.kind, role=row.role, seq=row.seq
    )

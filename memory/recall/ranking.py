"""Ranking a query against the call's working set: per-signal scores fused, then dates, graph, recency.

Each signal is brought to [0, 1] over the working set (BM25 scores by the best one, cosines
min-max), then weighted by the preset and summed:

- the row's own words and vector, the same for its window of neighbouring turns, and its call
  (:class:`memory.recall.working_set.WorkingSet` computes these);
- **question -> answer**: a turn right after a turn that asks something inherits part of that
  question's score (the agent's reply to the caller's question all of it);
- **dates**: a query that names a date ("on March 3, 2026", "in June 2025", "yesterday") prefers rows
  said near it, and a "when" question prefers rows that mention a time ("last Tuesday");
- **expansion** (accurate mode, optional): a caller-supplied ``expand`` hook gets the top candidates
  and returns related rows (e.g. turns naming the same ticket), whose scores are added;
- **episodes** (when the question says which call, what kind of thing or what value it wants:
  :mod:`memory.recall.query`): each row's score is weighted by how strongly the question points at
  its call, and inside the calls it points at, the turns that carry a value of the kind asked for
  and the agent's confirmations of what was done (the latest most) are lifted; a turn that states a
  value the call or the caller later replaced ranks below the current one and is marked former;
- **later statements of a slot** (:mod:`memory.recall.supersede`): among the best rows, the agent's
  read-back restated with a slot changed, or a later time, party size, address, amount, duration or
  playback device of the same booking, ranks above the earlier statement, which is marked former when
  the value asked for changed;
- **recency**: a mild multiplicative preference for newer rows, then newer first on ties.

Backchannels and pleasantries ("Mm-hmm, go on.") are never returned, and of near-identical rows
(the same complaint on three calls) only the best is.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np

from ..text.dates import is_when_question, query_date_spans
from ..text.reading import read_turn
from ..text.terms import index_terms
from ..values import Episode, Hit, MemoryRow
from .episodes import SUMMARY_VALUE_KINDS, row_tags, value_key
from .presets import RecallPreset
from .query import Question, warm_up
from .supersede import prepare as prepare_supersede
from .supersede import supersede
from .working_set import WorkingSet

__all__ = ["EpisodeContext", "ExpandHook", "WordScores", "prepare", "rank", "refresh", "score_words"]

logger = logging.getLogger(__name__)

ExpandHook = Callable[[list[int]], dict[int, float]]
"""``expand(top row indices, best first) -> {row index: score}`` for related rows (accurate mode)."""

_NAME = re.compile(r"\b[A-Z][a-z]+\b")
_MIN_SPREAD = 0.1  # cosines closer than this are not stretched apart by normalisation
_NEAR_IDENTICAL = 0.8  # share of words two rows must have in common to count as the same thing said again
_UNNAMED = 0.15  # the weight of a call the question's episode weights do not mention
_FOCUS = 0.99  # calls weighted this much are the ones the question points at
_CARRIES = 0.8  # a turn of such a call that carries a value of the kind asked for
_CONFIRMS = 0.5  # the agent's confirmation or report of what was done, with its values
_CONFIRMS_ASIDE = 0.15  # the same when other turns of the call carry the kind of value asked for
_LATER = 0.3  # the latest statement of a value (or confirmation) over earlier ones
_FORMER = 0.4  # what a turn stating a replaced value keeps of its score
_FACT_CHECKED = 40  # how many of the best rows are checked for replaced facts


@dataclass(frozen=True)
class WordScores:
    """What ranking computes of a query before its vector: the lexical signals, dates and times, the
    speaker it names and the calls it points at (``score_words``); a recall computes it while the
    query's vector is on its way, then ``rank`` adds the vector."""

    lexical: tuple[np.ndarray, np.ndarray, np.ndarray]  # BM25+ of each row, its window, its call
    added: np.ndarray | None  # the "when" and date signals, added once answers inherited
    speaker: str | None  # the role of the person the question names
    focus: _Focus | None  # the calls the question points at, and the evidence in them
    rows: int  # the working set's size when computed


def prepare(ws: WorkingSet, *, region: str = "US") -> None:
    """Build what ranking reads of the set now, off the recall path (e.g. in a thread when a caller's
    history is loaded): the indexes, what the check for later statements reads of each row and call,
    and what reading a question compiles on its first use in a process."""
    refresh(ws, region=region)
    warm_up()


def refresh(ws: WorkingSet, *, region: str = "US") -> None:
    """Take rows that joined the set (or got their vectors) since the last ``prepare`` or recall into
    what ranking reads (the part of :func:`prepare` that grows with the set; incremental: rows
    already taken in cost a check each)."""
    ws.prepare()
    prepare_supersede(ws, region)


def score_words(
    ws: WorkingSet, query: str, *, preset: RecallPreset, now: datetime, episodes: EpisodeContext | None = None
) -> WordScores:
    """What ``rank`` needs of ``query`` that does not depend on its vector (see :class:`WordScores`)."""
    ws.sync()
    lexical = ws.lexical(index_terms(query), preset)
    added = None
    if preset.time_weight and is_when_question(query):
        added = preset.time_weight * ws.time_mentions()
    if preset.date_weight:
        spans = query_date_spans(query, now)
        if spans:
            closeness = preset.date_weight * _closeness(ws, spans, preset.date_window_days)
            added = closeness if added is None else added + closeness
    speaker = _speaker_asked_about(ws, query) if preset.speaker_weight else None
    focus = _focus(ws, episodes) if episodes is not None and episodes.question.understood else None
    return WordScores(lexical, added, speaker, focus, len(ws.rows))


def rank(
    ws: WorkingSet,
    query: str,
    query_vector: np.ndarray | None,
    *,
    preset: RecallPreset,
    limit: int,
    now: datetime,
    expand: ExpandHook | None = None,
    episodes: EpisodeContext | None = None,
    words: WordScores | None = None,
) -> list[Hit]:
    """The ``limit`` rows that best match ``query`` (and its vector, if given), best first.

    ``words``: ``score_words`` of the same query, preset and episodes, computed earlier (while the
    vector was on its way); computed here when absent or when rows joined the set since.
    ``expand`` (used when ``preset.expand_candidates`` > 0) is called once with the row indices
    of the top first-stage candidates, best first, and returns ``{row index: score}`` for related
    rows; a score of 1 adds ``preset.expand_weight`` times the best first-stage score (scores are
    clipped to [0, 2]; unknown indices are ignored; if the hook raises, ranking goes on without it).
    """
    n = len(ws.rows)
    if n == 0 or limit <= 0:
        return []
    if words is None or words.rows != n:
        words = score_words(ws, query, preset=preset, now=now, episodes=episodes)
    calls = ws.calls
    fused = np.zeros(n)
    signal = np.zeros(n, dtype=bool)  # rows the query matched at all

    lex_own, lex_context, lex_call = words.lexical
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
        # the agent's reply to the caller's question ranks at least as high as the question
        callers = ws.roles()
        replies = follows & ~callers & callers[np.maximum(before, 0)]
        share = np.where(replies, max(preset.answer_weight, 1.0), preset.answer_weight)
        inherited = np.where(follows, share * fused[np.maximum(before, 0)], 0.0)
        signal |= follows & signal[np.maximum(before, 0)]
        fused = np.maximum(fused, inherited)
    if words.added is not None:
        fused = fused + words.added

    if words.speaker is not None:  # "what did Dana say about ...": Dana's own turns first
        said = ws.roles() if words.speaker == "user" else ~ws.roles()
        fused = np.where(said, fused * (1.0 + preset.speaker_weight), fused)
    if expand is not None and preset.expand_candidates > 0:
        fused, signal = _expanded(fused, signal, expand, preset)
    former = np.zeros(n, dtype=bool)
    if words.focus is not None:
        fused, signal, former = words.focus.apply(fused, signal)
    if episodes is not None and episodes.former_values:  # a replaced address, plan, e-mail...
        replaced = _replaced_facts(ws, fused, episodes)
        fused = np.where(replaced & ~former, fused * _FORMER, fused)
        former |= replaced

    candidates = np.flatnonzero(signal & (fused > 0) & ~ws.fillers())
    if candidates.size == 0:
        return []
    value_kinds: frozenset[str] = episodes.question.value_kinds if episodes is not None else frozenset()
    fused, restated = supersede(ws, fused, candidates, asked=value_kinds, region=episodes.region if episodes else "US")
    former |= restated
    scores = fused[candidates]
    times = ws.times[candidates]
    if preset.recency_weight:
        age_s = np.maximum(0.0, now.timestamp() - times)
        recency = np.exp(-math.log(2) * age_s / (preset.recency_half_life_days * 86400.0))
        scores = scores * (1.0 + preset.recency_weight * recency)
    hits: list[Hit] = []
    kept: list[frozenset[str]] = []
    for i in np.lexsort((-times, -scores)):  # best score first, then the newer row
        index = int(candidates[i])
        terms = ws.terms_of(index)
        if any(_near_identical(terms, other) for other in kept):
            continue
        kept.append(terms)
        row = ws.rows[index]
        episode = episodes.episodes.get(row.call_id) if episodes is not None else None
        hits.append(_hit(row, scores[i], episode, bool(former[index])))
        if len(hits) >= limit:
            break
    return hits


def _speaker_asked_about(ws: WorkingSet, query: str) -> str | None:
    """The role of the first person the question names, when the turns tell who is called so."""
    for name in _NAME.findall(query):
        role = ws.speaker_named(name)
        if role is not None:
            return role
    return None


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


def _hit(row: MemoryRow, score: float, episode: Episode | None = None, former: bool = False) -> Hit:
    return Hit(
        text=row.text,
        call_id=row.call_id,
        at=row.at,
        score=float(score),
        kind=row.kind,
        role=row.role,
        seq=row.seq,
        episode=episode,
        former=former,
    )


def _near_identical(a: frozenset[str], b: frozenset[str]) -> bool:
    """The same words, give or take one in five (the same complaint said on two calls)."""
    if not a or not b:
        return False
    return len(a & b) / len(a | b) >= _NEAR_IDENTICAL


# -- episodes ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EpisodeContext:
    """What ranking needs to know of the caller's calls for one question."""

    question: Question
    weights: Mapping[str, float]  # call id -> how strongly the question points at the call (0..1)
    episodes: Mapping[str, Episode]  # call id -> its episode
    former_values: frozenset[str] = frozenset()  # values of the caller's facts that were replaced, lower case
    current_values: frozenset[str] = frozenset()  # the current values of those facts, lower case
    region: str = "US"


@dataclass(frozen=True)
class _Focus:
    """The calls a question points at and the evidence inside them: each row's call weight, the lift of
    the turns that carry a value of the kind asked for and of the agent's confirmations (the latest
    most), and the rows that state a replaced value. None of it depends on the query's vector."""

    prior: np.ndarray
    bonus: np.ndarray
    former: np.ndarray

    def apply(self, fused: np.ndarray, signal: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The scores weighed by call with the evidence lifted, the signal, and the former marks."""
        top = float(fused.max()) if fused.size else 0.0
        base = fused / top if top > 0 else fused
        scored = self.prior * (base + self.bonus)
        scored = np.where(self.former, scored * _FORMER, scored)
        return scored, signal | (self.bonus > 0), self.former.copy()


def _focus(ws: WorkingSet, context: EpisodeContext) -> _Focus:
    """Weigh rows by their call, lift the evidence inside the calls the question points at, mark
    rows that state a replaced value."""
    n = len(ws.rows)
    question = context.question
    call_weight = np.asarray([context.weights.get(c, _UNNAMED) for c in ws.call_ids], dtype=np.float64)
    prior = call_weight[ws.calls] if call_weight.size else np.zeros(n)
    bonus = np.zeros(n)
    former = np.zeros(n, dtype=bool)
    asked = question.value_kinds
    for call_id, weight in context.weights.items():
        if weight < _FOCUS:
            continue
        rows = ws.rows_of(call_id)
        if rows.size == 0:
            continue
        tags = {int(i): row_tags(ws.rows[int(i)], context.region) for i in rows}
        carrying = sorted((i for i in tags if asked & tags[i]), key=lambda i: ws.rows[i].seq)
        for position, i in enumerate(carrying):  # later statements of a value are the current ones
            bonus[i] += _CARRIES + _LATER * (position + 1) / len(carrying)
        evidence = set(context.episodes[call_id].evidence) if call_id in context.episodes else set()
        confirming = sorted(
            (
                i
                for i in tags
                if ws.rows[i].seq in evidence
                or (ws.rows[i].role == "assistant" and "confirm" in tags[i] and _valued(tags[i]))
            ),
            key=lambda i: ws.rows[i].seq,
        )
        # a confirmation states what was done: it answers a question that asks no particular value,
        # and one whose value cannot be told in these words (a name said in lower case); otherwise
        # the turns that carry the kind asked for lead
        weight = _CONFIRMS if not asked or not carrying else _CONFIRMS_ASIDE
        for position, i in enumerate(confirming):
            bonus[i] += weight + _LATER * (position + 1) / len(confirming)
        episode = context.episodes.get(call_id)
        if episode is not None:
            _mark_former(ws, rows, episode, asked, former, context.region)
    return _Focus(prior, bonus, former)


def _valued(tags: frozenset[str]) -> bool:
    return any(kind in tags for kind in SUMMARY_VALUE_KINDS)


def _mark_former(
    ws: WorkingSet, rows: np.ndarray, episode: Episode, asked: frozenset[str], former: np.ndarray, region: str
) -> None:
    """Rows of the episode that state a value it later replaced, and none of the current ones (the
    caller's "four tickets" before the agent confirmed "1 ticket")."""
    kinds = {v.kind for v in episode.values if v.former and (not asked or v.kind in asked)}
    if not kinds:
        return
    replaced = {(v.kind, v.key) for v in episode.values if v.former and v.kind in kinds}
    current = {(v.kind, v.key) for v in episode.values if not v.former and v.kind in kinds}
    for i in rows:
        row = ws.rows[int(i)]
        if not row_tags(row, region) & kinds:
            continue  # it states no value of those kinds: nothing to read again
        said = {
            (value.kind, value_key(value.kind, value.normalised))
            for value in read_turn(row.text, region=region).values
            if value.kind in kinds
        }
        if said & replaced and not said & current:
            former[int(i)] = True


def _replaced_facts(ws: WorkingSet, fused: np.ndarray, context: EpisodeContext) -> np.ndarray:
    """Among the best rows, those that state a replaced fact of the caller and not its current value
    ("we have 56 Juniper Place on file" once the caller moved to 17 Falcon Street)."""
    replaced = np.zeros(len(ws.rows), dtype=bool)
    for i in np.argsort(-fused)[:_FACT_CHECKED]:
        text = ws.rows[int(i)].text.lower()
        if any(v in text for v in context.former_values) and not any(v in text for v in context.current_values):
            replaced[int(i)] = True
    return replaced

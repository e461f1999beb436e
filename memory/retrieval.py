"""The call's working set and its ranking: BM25 and dense vectors over turns and their context, fused.

A call serves one caller, so the caller's memories are loaded once (at ``open_call``) and ranked
in-process; turns recorded during the call join the set at once. Retrieval modes are frozen
named presets; variants are derived with ``dataclasses.replace``, never mutated.

How a query is ranked (each signal is brought to [0, 1] over the working set, BM25 scores by the best
one and cosines min-max, then weighted and summed):

- **the row itself**: BM25+ over its words (lower-cased, spoken digits joined, stop words dropped,
  the Snowball English stemmer: "paintings" and "painted" both match "paint"), and the cosine of its
  MiniLM vector;
- **the row in context**: the same two signals for a window of neighbouring turns of the same call.
  The window's words are BM25-scored as one document; its vector is the weighted sum of the
  neighbours' stored vectors (no extra model call). An answer often only makes sense next to the
  question it answers ("Which one?" / "The red one");
- **the call**: how well the row's whole call matches (all its words; the sum of its vectors), so a
  turn of the call that was about the query's topic wins over a stray mention elsewhere;
- **question -> answer**: a turn right after a turn that asks something inherits part of that
  question's score;
- **dates**: a query that names a date ("on March 3, 2026", "in June 2025", "yesterday") prefers rows
  said near it, and a "when" question prefers rows that mention a time ("last Tuesday");
- **expansion** (accurate mode, optional): a caller-supplied ``expand`` hook gets the top candidates
  and returns related rows (e.g. turns naming the same ticket), whose scores are added;
- **recency**: a mild multiplicative preference for newer rows, then newer first on ties.

Indexes are built lazily and grow with the set: each row is tokenised once, and a turn that joins
(or gets its vector) updates the vector matrix and the cached window and call norms in place. A turn
recorded during the call costs nothing until the next recall, which then takes it in for well under
a millisecond.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import snowballstemmer

from .dates import MONTHS, find_dates, month_number
from .models import Hit, MemoryRow
from .spoken import normalize_spoken_digits

logger = logging.getLogger("memory.retrieval")

ExpandHook = Callable[[list[int]], dict[int, float]]
_MIN_SPREAD = 0.1  # cosines closer than this are not stretched apart by normalisation


@dataclass(frozen=True)
class RecallPreset:
    """Weights of one retrieval mode. Signals are normalised to [0, 1] before weighting."""

    name: str
    lexical_weight: float = 1.0  # BM25 of the row's own words
    dense_weight: float = 1.0  # cosine of the row's own vector
    context_lexical_weight: float = 1.0  # BM25 of the row with its neighbouring turns
    context_dense_weight: float = 1.0  # cosine of the neighbours' weighted vector sum
    neighbour_turns: int = 2  # context window: turns each side, within the same call
    context_lexical_decay: float = 1.0  # weight of a neighbour's words at distance d: decay**d
    context_dense_decay: float = 0.5  # weight of a neighbour's vector at distance d: decay**d
    call_weight: float = 0.3  # how well the row's whole call matches
    answer_weight: float = 0.9  # share of a question turn's score the next turn inherits
    time_weight: float = 0.5  # "when" questions: rows that mention a time
    date_weight: float = 1.0  # rows said near a date the query names
    date_window_days: float = 3.0  # full weight this close to the named day (or month)
    recency_weight: float = 0.15
    recency_half_life_days: float = 30.0
    expand_candidates: int = 0  # how many top candidates the ``expand`` hook sees (0: not called)
    expand_weight: float = 0.5  # an expansion score of 1 adds this share of the best first-stage score
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    bm25_delta: float = 1.0  # BM25+: a matching term never scores below delta * idf


FAST = RecallPreset("fast")
ACCURATE = RecallPreset("accurate", expand_candidates=20)  # fast + the expand hook (the entity graph)
PRESETS: dict[str, RecallPreset] = {p.name: p for p in (FAST, ACCURATE)}

_WORD = re.compile(r"[a-z0-9]+(?:[.'@-][a-z0-9]+)*")
_STOP = frozenset(
    [
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "had", "has", "have", "he", "her", "him",
        "his", "i", "if", "in", "into", "is", "it", "its", "me", "my", "no", "not", "of", "on", "or", "our", "she", "so",
        "that", "the", "their", "them", "then", "there", "they", "this", "to", "too", "uh", "um", "us", "was", "we",
        "were", "what", "when", "which", "who", "will", "with", "would", "you", "your", "yeah", "okay", "ok", "oh",
        "hmm", "like", "just", "can", "could", "do", "does", "did", "get", "got",
    ]
)  # fmt: skip


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens with spoken digits joined ("eight eight one" -> "881"), stop words dropped."""
    normalized = normalize_spoken_digits(text).lower()
    return [t for t in _WORD.findall(normalized) if t not in _STOP]


_STEMS: dict[str, str] = {}
_STEM_CACHE_LIMIT = 50_000
_ENGLISH = snowballstemmer.stemmer("english")


def stem(word: str) -> str:
    """The Snowball (Porter2) English stem: "paintings", "painted" -> "paint".

    Only alphabetic words longer than three letters change, so numbers, codes and short words are
    never touched. Stems are cached: a stemmer call costs tens of microseconds, a lookup nothing.
    """
    cached = _STEMS.get(word)
    if cached is not None:
        return cached
    out = _ENGLISH.stemWord(word) if len(word) > 3 and word.isalpha() else word
    if len(_STEMS) < _STEM_CACHE_LIMIT:
        _STEMS[word] = out
    return out


def index_terms(text: str) -> list[str]:
    """The terms a row is indexed by and a query is matched with: ``tokenize`` then ``stem``."""
    return [stem(t) for t in tokenize(text)]


# -- dates ---------------------------------------------------------------------------------------------

_MONTH_NAMES = "|".join(sorted({*MONTHS, *(m[:3] for m in MONTHS), "sept"}, key=len, reverse=True))
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_DAY_MONTH_YEAR = re.compile(rf"\b{_DAY}\s+(?:of\s+)?({_MONTH_NAMES})\.?,?\s+(\d{{4}})\b")
_MONTH_DAY_YEAR = re.compile(rf"\b({_MONTH_NAMES})\.?\s+{_DAY},?\s+(\d{{4}})\b")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_MONTH_YEAR = re.compile(rf"\b({_MONTH_NAMES})\.?,?\s+(?:of\s+)?(\d{{4}})\b")
_WHEN_QUESTION = re.compile(
    r"^\W*(?:(?:and|so|but|ok|okay|um|uh)\W+)*(?:when\b|what (?:date|day|time|year|month)\b|which (?:date|day|year|month)\b"
    r"|how long ago\b|since when\b)"
)
_WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_TIME_MENTION = re.compile(
    r"\b(?:yesterday|today|tonight|tomorrow|ago|recently|lately|weekend|"
    rf"(?:last|next|this|past|coming)\s+(?:week|month|year|night|time|summer|winter|spring|fall|autumn|{_WEEKDAYS})|"
    rf"(?:{_WEEKDAYS})s?|"
    r"(?:january|february|march|april|june|july|august|september|october|november|december)|"
    r"may\s+\d|\d{1,2}(?:st|nd|rd|th)?\s+may|"
    r"(?:19|20)\d\d|\d{1,2}(?:st|nd|rd|th)|\d{1,2}(?::\d\d)?\s*(?:am|pm)|o'clock|"
    r"(?:a|one|two|three|four|five|six|\d+)\s+(?:days?|weeks?|months?|years?)\s+(?:ago|back|before))\b"
)


def query_date_spans(query: str, now: datetime) -> list[tuple[date, date]]:
    """Calendar spans a query names: explicit dates ("3 June, 2025", "June 3, 2025", "2025-06-03"),
    months ("in June 2025"), else days said relative to ``now`` ("yesterday", "last Tuesday",
    "on March 13th"); only spans that are not in the future."""
    text = query.lower()
    spans: list[tuple[date, date]] = []

    def add(year: int, month: int, day: int) -> None:
        try:
            d = date(year, month, day)
        except ValueError:
            return
        spans.append((d, d))

    for m in _DAY_MONTH_YEAR.finditer(text):
        add(int(m.group(3)), month_number(m.group(2)), int(m.group(1)))
    for m in _MONTH_DAY_YEAR.finditer(text):
        add(int(m.group(3)), month_number(m.group(1)), int(m.group(2)))
    for m in _ISO_DATE.finditer(text):
        add(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if not spans:
        for m in _MONTH_YEAR.finditer(text):
            year, month = int(m.group(2)), month_number(m.group(1))
            if 1 <= year <= 9998:
                first = date(year, month, 1)
                last = date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)
                spans.append((first, last))
    if not spans:
        today = now.date()
        for phrase, day in find_dates(query, now):
            # "last week" / "last month" name a stretch of time, not the day a week or 30 days ago
            half = 20 if "month" in phrase else 4 if "week" in phrase else 0
            first, last = day.date() - timedelta(days=half), min(today, day.date() + timedelta(days=half))
            if first <= today:
                spans.append((first, last))
    return spans


# -- the working set -------------------------------------------------------------------------------------


class WorkingSet:
    """The memories one call can recall, ranked in-process.

    ``rows`` may be extended at any time (turns of the current call); rows whose ``embedding`` is
    None count as having no vector until ``mark_vectors_changed`` is called after filling them.
    """

    def __init__(self, rows: Iterable[MemoryRow] = ()) -> None:
        self.rows: list[MemoryRow] = []
        self._reset()
        self.extend(rows)

    def _reset(self) -> None:
        # lexical index, appended to row by row
        self._indexed = 0
        self._postings: dict[str, tuple[list[int], list[int]]] = {}
        self._lengths: list[int] = []
        self._mentions_time: list[bool] = []
        self._asks: list[bool] = []
        # call of each row; neighbours are derived from (call, seq) when the set changes
        self._call_index: dict[str, int] = {}
        self._calls: list[int] = []
        self._seconds: list[float] = []  # row.at as POSIX seconds, appended with the rows
        self._layout_rows = -1
        self._sorted: tuple[np.ndarray, np.ndarray] = (np.zeros(0, np.int64), np.zeros(0, np.int64))
        self._neighbours: dict[int, np.ndarray] = {}
        self._times = np.zeros(0)  # the same as an array, as of the last layout
        # vectors: a matrix with spare zero rows (the last used as "no neighbour"), and derived norms
        self._matrix: np.ndarray | None = None
        self._capacity = np.zeros((1, 0), np.float32)
        self._matrix_rows = -1
        self._vector_refs: list[np.ndarray | None] = []  # the embedding each matrix row was copied from
        self._context_norms: dict[tuple[int, float], np.ndarray] = {}
        self._call_sums: np.ndarray | None = None
        self._call_norms = np.zeros(0)

    def __len__(self) -> int:
        return len(self.rows)

    def extend(self, rows: Iterable[MemoryRow]) -> None:
        for row in rows:
            self.rows.append(row)
            self._calls.append(self._call_index.setdefault(row.call_id, len(self._call_index)))
            self._seconds.append(row.at.timestamp())

    def replace(self, rows: Iterable[MemoryRow]) -> None:
        self.rows = []
        self._reset()
        self.extend(rows)

    def prepare(self) -> None:
        """Build the lexical index, the layout and the vector matrix now (e.g. in a thread after loading)."""
        self._sync_lexical()
        self._layout()
        if any(r.embedding is not None for r in self.rows):
            self._vectors()
            for preset in PRESETS.values():
                self._context_norm(preset.neighbour_turns, preset.context_dense_decay)
            self._call_norm()

    def missing_vectors(self) -> list[MemoryRow]:
        return [r for r in self.rows if r.embedding is None]

    def mark_vectors_changed(self) -> None:
        self._matrix_rows = -1

    # -- indexes ---------------------------------------------------------------------------------------

    def _sync_lexical(self) -> None:
        for idx in range(self._indexed, len(self.rows)):
            text = self.rows[idx].text
            terms = index_terms(text)
            for term, count in Counter(terms).items():
                postings = self._postings.get(term)
                if postings is None:
                    postings = self._postings[term] = ([], [])
                postings[0].append(idx)
                postings[1].append(count)
            self._lengths.append(len(terms))
            lowered = text.lower()
            self._mentions_time.append(_TIME_MENTION.search(lowered) is not None)
            self._asks.append(text.rstrip().endswith("?"))
        self._indexed = len(self.rows)

    def _layout(self) -> None:
        """Neighbours at offsets +-1, +-2, ... within the same call, in seq order (-1: none)."""
        n = len(self.rows)
        if self._layout_rows == n:
            return
        calls = np.asarray(self._calls, dtype=np.int64)
        seqs = np.fromiter((r.seq for r in self.rows), dtype=np.int64, count=n)
        order = np.lexsort((seqs, calls))
        sorted_calls = calls[order]
        self._neighbours = {}
        self._layout_rows = n
        self._sorted = (order, sorted_calls)
        self._times = np.asarray(self._seconds, dtype=np.float64)

    def _neighbour(self, offset: int) -> np.ndarray:
        found = self._neighbours.get(offset)
        if found is not None:
            return found
        order, sorted_calls = self._sorted
        n = len(order)
        out = np.full(n, -1, dtype=np.int64)
        if 0 < abs(offset) < n:
            if offset > 0:
                same = sorted_calls[offset:] == sorted_calls[:-offset]
                out[order[:-offset][same]] = order[offset:][same]
            else:
                k = -offset
                same = sorted_calls[:-k] == sorted_calls[k:]
                out[order[k:][same]] = order[:-k][same]
        self._neighbours[offset] = out
        return out

    def _window(self, values: np.ndarray, width: int, decay: float) -> np.ndarray:
        """values[i] + sum over neighbours j at distance d <= width of decay**d * values[j]."""
        out = values.astype(np.float64, copy=True)
        for d in range(1, width + 1):
            weight = decay**d
            if weight == 0:
                break
            for offset in (-d, d):
                j = self._neighbour(offset)
                has = j >= 0
                out[has] += weight * values[j[has]]
        return out

    def _vectors(self) -> np.ndarray | None:
        """The rows' vectors as one matrix (zeros where a row has none), updated in place for rows
        appended or given a vector since the last call; derived norms follow incrementally."""
        n = len(self.rows)
        if self._matrix is not None and self._matrix_rows == n:
            return self._matrix
        refs = self._vector_refs
        dim = self._matrix.shape[1] if self._matrix is not None else None
        if dim is None:
            dim = next((r.embedding.shape[0] for r in self.rows if r.embedding is not None), None)
            if dim is None:
                return None
        changed = [i for i in range(n) if i >= len(refs) or self.rows[i].embedding is not refs[i]]
        wrong_shape = any(
            self.rows[i].embedding is not None and self.rows[i].embedding.shape != (dim,) for i in changed
        )
        if self._matrix is None or wrong_shape or len(changed) > max(8, n // 4):
            return self._rebuild_vectors(dim if not wrong_shape else None)
        old_rows = self._matrix.shape[0]
        if n >= self._capacity.shape[0]:  # keep at least one zero row past the last
            grown = np.zeros((max(n, 2 * self._capacity.shape[0]) + 1, dim), np.float32)
            grown[:old_rows] = self._matrix
            self._capacity = grown
        matrix = self._capacity[:n]
        old_vectors = {i: refs[i] for i in changed if i < len(refs)}
        for i in changed:
            vector = self.rows[i].embedding
            matrix[i] = vector if vector is not None else 0.0
        self._vector_refs = [r.embedding for r in self.rows]
        self._matrix, self._matrix_rows = matrix, n
        self._update_norms(np.asarray(changed, dtype=np.int64), old_vectors)
        return matrix

    def _rebuild_vectors(self, dim: int | None) -> np.ndarray | None:
        if dim is None:
            dims = Counter(r.embedding.shape[0] for r in self.rows if r.embedding is not None)
            if not dims:
                return None
            dim = dims.most_common(1)[0][0]
        n = len(self.rows)
        self._capacity = np.zeros((2 * n + 16, dim), np.float32)  # room for the call's new turns
        matrix = self._capacity[:n]
        for i, row in enumerate(self.rows):
            if row.embedding is not None and row.embedding.shape == (dim,):
                matrix[i] = row.embedding
        self._vector_refs = [r.embedding for r in self.rows]
        self._matrix, self._matrix_rows = matrix, n
        self._context_norms = {}
        self._call_sums = None
        return matrix

    def _update_norms(self, changed: np.ndarray, old_vectors: dict[int, np.ndarray | None]) -> None:
        """Keep the cached context and call norms in step with rows appended or given a vector."""
        if changed.size == 0:
            return
        self._layout()
        n = len(self.rows)
        for key, norms in list(self._context_norms.items()):
            width, decay = key
            affected = [changed]
            for d in range(1, width + 1):
                for offset in (-d, d):
                    j = self._neighbour(offset)[changed]
                    affected.append(j[j >= 0])
            rows = np.unique(np.concatenate(affected))
            grown = np.zeros(n)
            grown[: norms.shape[0]] = norms
            grown[rows] = self._context_norm_of(rows, width, decay)
            self._context_norms[key] = grown
        if self._call_sums is not None:
            sums = self._call_sums
            if sums.shape[0] < len(self._call_index):
                sums = np.vstack([sums, np.zeros((len(self._call_index) - sums.shape[0], sums.shape[1]), np.float32)])
            for i in changed.tolist():
                old = old_vectors.get(i)
                if old is not None and old.shape == (sums.shape[1],):
                    sums[self._calls[i]] -= old
                sums[self._calls[i]] += self._matrix[i]
            self._call_sums = sums
            self._call_norms = np.linalg.norm(sums, axis=1)

    def _context_norm_of(self, rows: np.ndarray, width: int, decay: float) -> np.ndarray:
        matrix = self._capacity  # row n and beyond are zeros: the "no neighbour" index below
        n = self._matrix_rows
        summed = matrix[rows].copy()
        for d in range(1, width + 1):
            for offset in (-d, d):
                j = self._neighbour(offset)[rows]
                summed += (decay**d) * matrix[np.where(j >= 0, j, n)]
        return np.linalg.norm(summed, axis=1)

    def _context_norm(self, width: int, decay: float) -> np.ndarray:
        """Norms of the neighbourhood vectors sum_j w_j v_j (kept up to date with the vectors)."""
        key = (width, decay)
        found = self._context_norms.get(key)
        if found is None:
            self._layout()
            self._vectors()
            found = self._context_norms[key] = self._context_norm_of(np.arange(len(self.rows)), width, decay)
        return found

    def _call_norm(self) -> np.ndarray:
        """Norms of each call's vector sum (kept up to date with the vectors)."""
        if self._call_sums is None:
            self._layout()
            matrix = self._vectors()
            order, sorted_calls = self._sorted  # rows grouped by call, calls in index order
            starts = np.flatnonzero(np.r_[True, sorted_calls[1:] != sorted_calls[:-1]])
            self._call_sums = np.add.reduceat(matrix[order], starts, axis=0)
            self._call_norms = np.linalg.norm(self._call_sums, axis=1)
        return self._call_norms

    # -- scoring ---------------------------------------------------------------------------------------

    def _bm25(self, tf: np.ndarray, lengths: np.ndarray, preset: RecallPreset) -> np.ndarray:
        df = int(np.count_nonzero(tf))
        if df == 0:
            return np.zeros_like(tf)
        idf = math.log((len(tf) + 1) / df)
        avg = max(float(lengths.mean()), 1e-9)
        k1, b = preset.bm25_k1, preset.bm25_b
        part = tf * (k1 + 1) / (tf + k1 * (1 - b + b * lengths / avg))
        return np.where(tf > 0, idf * (part + preset.bm25_delta), 0.0)

    def _lexical(self, terms: Sequence[str], preset: RecallPreset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """BM25+ of each row, of each row's context window, and of each call."""
        n, calls = len(self.rows), len(self._call_index)
        own, context, call = np.zeros(n), np.zeros(n), np.zeros(calls)
        matched = [self._postings[t] for t in dict.fromkeys(terms) if t in self._postings]
        if not matched:
            return own, context, call
        lengths = np.asarray(self._lengths, dtype=np.float64)
        width, decay = preset.neighbour_turns, preset.context_lexical_decay
        window_lengths = self._window(lengths, width, decay)
        call_ids = np.asarray(self._calls)
        call_lengths = np.bincount(call_ids, weights=lengths, minlength=calls)
        for rows, counts in matched:
            tf = np.zeros(n)
            tf[rows] = counts
            own += self._bm25(tf, lengths, preset)
            if preset.context_lexical_weight:
                context += self._bm25(self._window(tf, width, decay), window_lengths, preset)
            if preset.call_weight:
                call += self._bm25(np.bincount(call_ids, weights=tf, minlength=calls), call_lengths, preset)
        return own, context, call

    def _dense(
        self, query_vector: np.ndarray | None, preset: RecallPreset
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Cosine of each row, of each row's neighbourhood vector, and of each call's vector sum."""
        if query_vector is None:
            return None
        matrix = self._vectors()
        if matrix is None or matrix.shape[1] != query_vector.shape[0]:
            return None
        own = matrix @ query_vector.astype(np.float32)
        own = own.astype(np.float64)
        context = np.zeros_like(own)
        if preset.context_dense_weight:
            width, decay = preset.neighbour_turns, preset.context_dense_decay
            norms = self._context_norm(width, decay)
            context = np.divide(self._window(own, width, decay), norms, out=np.zeros_like(own), where=norms > 0)
        call = np.zeros(len(self._call_index))
        if preset.call_weight:
            norms = self._call_norm()
            sums = np.bincount(np.asarray(self._calls), weights=own, minlength=len(norms))
            call = np.divide(sums, norms, out=np.zeros_like(sums), where=norms > 0)
        return own, context, call

    def rank(
        self,
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
        n = len(self.rows)
        if n == 0 or limit <= 0:
            return []
        self._sync_lexical()
        self._layout()
        calls = np.asarray(self._calls)
        fused = np.zeros(n)
        signal = np.zeros(n, dtype=bool)  # rows the query matched at all

        lex_own, lex_context, lex_call = self._lexical(index_terms(query), preset)
        signal |= (lex_context > 0) if preset.context_lexical_weight else (lex_own > 0)
        fused += preset.lexical_weight * _scaled(lex_own)
        fused += preset.context_lexical_weight * _scaled(lex_context)
        call_score = _scaled(lex_call)

        dense = self._dense(query_vector, preset)
        if dense is not None:
            own, context, call = dense
            vectors = np.fromiter((r.embedding is not None for r in self.rows), dtype=bool, count=n)
            signal |= vectors
            fused += preset.dense_weight * _normalise(own, among=vectors)
            fused += preset.context_dense_weight * _normalise(context, among=vectors)
            call_score = call_score + _normalise(call)
        if preset.call_weight:
            fused += preset.call_weight * call_score[calls]
        if not signal.any():
            return []

        if preset.answer_weight:
            before = self._neighbour(-1)
            asked = np.asarray(self._asks, dtype=bool)
            follows = (before >= 0) & asked[np.maximum(before, 0)]
            inherited = np.where(follows, preset.answer_weight * fused[np.maximum(before, 0)], 0.0)
            signal |= follows & signal[np.maximum(before, 0)]
            fused = np.maximum(fused, inherited)
        if preset.time_weight and _WHEN_QUESTION.search(query.lower()):
            fused += preset.time_weight * np.asarray(self._mentions_time, dtype=np.float64)
        if preset.date_weight:
            spans = query_date_spans(query, now)
            if spans:
                fused += preset.date_weight * self._closeness(spans, preset.date_window_days)

        if expand is not None and preset.expand_candidates > 0:
            fused, signal = self._expanded(fused, signal, expand, preset)

        candidates = np.flatnonzero(signal & (fused > 0))
        if candidates.size == 0:
            return []
        scores = fused[candidates]
        times = self._times[candidates]
        if preset.recency_weight:
            age_s = np.maximum(0.0, now.timestamp() - times)
            recency = np.exp(-math.log(2) * age_s / (preset.recency_half_life_days * 86400.0))
            scores = scores * (1.0 + preset.recency_weight * recency)
        best = np.lexsort((-times, -scores))[:limit]  # best score first, then the newer row
        return [_hit(self.rows[candidates[i]], scores[i]) for i in best]

    def _closeness(self, spans: Sequence[tuple[date, date]], window_days: float) -> np.ndarray:
        """1 for rows said within ``window_days`` of a span, decaying over a week beyond."""
        days = np.floor(self._times / 86400.0) + date(1970, 1, 1).toordinal()  # calendar day of each row (UTC)
        best = np.zeros(len(self.rows))
        for first, last in spans:
            before = first.toordinal() - window_days - days
            after = days - last.toordinal() - window_days
            distance = np.maximum(0.0, np.maximum(before, after))
            best = np.maximum(best, np.exp(-distance / 7.0))
        return best

    def _expanded(
        self, fused: np.ndarray, signal: np.ndarray, expand: ExpandHook, preset: RecallPreset
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

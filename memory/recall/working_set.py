"""The call's working set: the memories one call can recall, indexed in-process.

A call serves one caller, so the caller's memories are loaded once (at ``open_call``) and indexed
here; turns recorded during the call join the set at once. The set keeps, per row: BM25+ postings
of its terms (:func:`memory.text.terms.index_terms`), its MiniLM vector, its call and its
neighbouring turns in that call. It scores a query signal by signal (``lexical``, ``dense``); how
the signals are fused into a ranking is :mod:`memory.recall.ranking`.

- **the row itself**: BM25+ over its words, and the cosine of its vector;
- **the row in context**: the same two signals for a window of neighbouring turns of the same call.
  The window's words are BM25-scored as one document; its vector is the weighted sum of the
  neighbours' stored vectors (no extra model call). An answer often only makes sense next to the
  question it answers ("Which one?" / "The red one");
- **the call**: how well the row's whole call matches (all its words; the sum of its vectors).

Indexes are built lazily and grow with the set: a row's terms are those stored with it when it was
enriched (``MemoryRow.terms``), else it is tokenised once here; a turn that joins
(or gets its vector) updates the vector matrix and the cached window and call norms in place. A turn
recorded during the call is taken in by ``prepare`` (the call's history runs it shortly after, on its
event loop: ``memory.call.history``), else by the next recall, for well under a millisecond.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar, cast

import numpy as np

from ..text.dates import mentions_time
from ..text.kinds import is_filler
from ..text.terms import document_terms, unpack_terms, vocatives
from ..values import MemoryRow
from .presets import PRESETS, RecallPreset

T = TypeVar("T")

_NAMED_MIN = 2  # times a name must be used to address someone before it tells who is who
_NAMED_SHARE = 0.75  # share of those uses one side must make


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
        self._fillers: list[bool] = []  # backchannels and pleasantries: never recalled
        self._term_sets: list[frozenset[str]] = []  # to tell near-identical rows apart
        self._addressed: dict[str, Counter[str]] = {}  # a name -> the roles that address someone by it
        # call of each row; neighbours are derived from (call, seq) when the set changes
        self._call_index: dict[str, int] = {}
        self._calls: list[int] = []
        self._call_sizes: list[int] = []  # rows of each call
        self._per_call: dict[tuple[str, str], tuple[int, object]] = {}  # see ``per_call``
        self._per_row: dict[str, list[object]] = {}  # see ``per_row``
        self._arrays: dict[str, np.ndarray] = {}  # the per-row flags below as arrays, see ``_array``
        self._said_by_caller: list[bool] = []  # role == "user", appended with the rows
        self._seconds: list[float] = []  # row.at as POSIX seconds, appended with the rows
        self._layout_rows = -1
        self._sorted: tuple[np.ndarray, np.ndarray] = (np.zeros(0, np.int64), np.zeros(0, np.int64))
        self._neighbours: dict[int, np.ndarray] = {}
        # BM25's document lengths by (window width, decay, k1, b), as of (rows indexed, layout): see ``_lengths_for``
        self._length_stats: dict[tuple[int, float, float, float], tuple[tuple[int, int], _LengthStats]] = {}
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
            call = self._call_index.setdefault(row.call_id, len(self._call_index))
            if call == len(self._call_sizes):
                self._call_sizes.append(0)
            self._call_sizes[call] += 1
            self._calls.append(call)
            self._said_by_caller.append(row.role == "user")
            self._seconds.append(row.at.timestamp())

    def replace(self, rows: Iterable[MemoryRow]) -> None:
        self.rows = []
        self._reset()
        self.extend(rows)

    def prepare(self) -> None:
        """Build the lexical index, the layout, the per-row arrays ranking reads and the vector matrix
        now (e.g. in a thread after loading), so that the first recall does not."""
        self._sync_lexical()
        self._layout()
        for flags in (self.roles, self.fillers, self.asks, self.time_mentions):
            flags()
        _ = self.calls
        for preset in PRESETS.values():  # BM25's lengths, and the neighbours a query's context window reads
            self._lengths_for(preset)
        if any(r.embedding is not None for r in self.rows):
            self._vectors()
            for preset in PRESETS.values():
                self._context_norm(preset.neighbour_turns, preset.context_dense_decay)
            self._call_norm()
        self.has_vector()

    def missing_vectors(self) -> list[MemoryRow]:
        return [r for r in self.rows if r.embedding is None]

    def mark_vectors_changed(self) -> None:
        self._matrix_rows = -1

    # -- indexes ---------------------------------------------------------------------------------------

    def _sync_lexical(self) -> None:
        for idx in range(self._indexed, len(self.rows)):
            text = self.rows[idx].text
            terms = unpack_terms(self.rows[idx].terms)  # stored when the row was enriched
            if terms is None:  # stored before terms were kept, or this call's own turn
                terms = document_terms(text)
            for term, count in Counter(terms).items():
                postings = self._postings.get(term)
                if postings is None:
                    postings = self._postings[term] = ([], [])
                postings[0].append(idx)
                postings[1].append(count)
            self._lengths.append(len(terms))
            self._mentions_time.append(mentions_time(text))
            self._asks.append(text.rstrip().endswith("?"))
            tags = self.rows[idx].tags
            self._fillers.append("filler" in tags if tags is not None else is_filler(text))
            self._term_sets.append(frozenset(terms))
            for name in vocatives(text):
                self._addressed.setdefault(name.lower(), Counter())[self.rows[idx].role] += 1
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
        """values[i] + sum over neighbours j at distance d <= width of decay**d * values[j] (of each row of
        ``values``, when it holds one value per row of the set in each of its rows)."""
        out = values.astype(np.float64, copy=True)
        for d in range(1, width + 1):
            weight = decay**d
            if weight == 0:
                break
            for offset in (-d, d):
                j = self._neighbour(offset)
                has = j >= 0
                out[..., has] += weight * values[..., j[has]]
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
        wrong_shape = any(_shape(self.rows[i].embedding) not in (None, (dim,)) for i in changed)
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
        self._arrays.pop("has_vector", None)
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
        self._arrays.pop("has_vector", None)
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
            matrix = self._matrix
            assert matrix is not None, "norms follow the vectors: the matrix exists"
            sums = self._call_sums
            if sums.shape[0] < len(self._call_index):
                sums = np.vstack([sums, np.zeros((len(self._call_index) - sums.shape[0], sums.shape[1]), np.float32)])
            for i in changed.tolist():
                old = old_vectors.get(i)
                if old is not None and old.shape == (sums.shape[1],):
                    sums[self._calls[i]] -= old
                sums[self._calls[i]] += matrix[i]
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
            assert matrix is not None, "call norms are only asked for when some row has a vector"
            order, sorted_calls = self._sorted  # rows grouped by call, calls in index order
            starts = np.flatnonzero(np.r_[True, sorted_calls[1:] != sorted_calls[:-1]])
            self._call_sums = np.add.reduceat(matrix[order], starts, axis=0)
            self._call_norms = np.linalg.norm(self._call_sums, axis=1)
        return self._call_norms

    # -- scoring ---------------------------------------------------------------------------------------

    def _bm25(self, tf: np.ndarray, lengths: _Lengths, preset: RecallPreset) -> np.ndarray:
        """BM25+ of each term (a row of ``tf``: its count in each document) in each document."""
        df = np.count_nonzero(tf, axis=1)
        idf = np.asarray([math.log((tf.shape[1] + 1) / d) if d else 0.0 for d in df.tolist()])
        part = tf * (preset.bm25_k1 + 1) / (tf + lengths.norm)
        return np.where(tf > 0, idf[:, None] * (part + preset.bm25_delta), 0.0)

    def _lengths_for(self, preset: RecallPreset) -> _LengthStats:
        """The document lengths BM25 divides by, of the rows, their context windows and the calls, with
        what each query term's score reads of them; kept until the set or its layout changes."""
        width, decay, k1, b = preset.neighbour_turns, preset.context_lexical_decay, preset.bm25_k1, preset.bm25_b
        key = (width, decay, k1, b)
        kept = self._length_stats.get(key)
        if kept is not None and kept[0] == (len(self._lengths), self._layout_rows):
            return kept[1]
        lengths = np.asarray(self._lengths, dtype=np.float64)
        window = self._window(lengths, width, decay)
        calls = np.bincount(self.calls, weights=lengths, minlength=len(self._call_index))
        stats = (_Lengths.of(lengths, k1, b), _Lengths.of(window, k1, b), _Lengths.of(calls, k1, b))
        self._length_stats[key] = ((len(self._lengths), self._layout_rows), stats)
        return stats

    def lexical(self, terms: Sequence[str], preset: RecallPreset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """BM25+ of each row, of each row's context window, and of each call."""
        n, calls = len(self.rows), len(self._call_index)
        own, context, call = np.zeros(n), np.zeros(n), np.zeros(calls)
        matched = [self._postings[t] for t in dict.fromkeys(terms) if t in self._postings]
        if not matched:
            return own, context, call
        lengths, window_lengths, call_lengths = self._lengths_for(preset)
        width, decay = preset.neighbour_turns, preset.context_lexical_decay
        tf = np.zeros((len(matched), n))  # each term's count in each row, all terms at once
        for k, (rows, counts) in enumerate(matched):
            tf[k, rows] = counts
        for scores in self._bm25(tf, lengths, preset):  # summed term by term, in the query's order
            own += scores
        if preset.context_lexical_weight:
            for scores in self._bm25(self._window(tf, width, decay), window_lengths, preset):
                context += scores
        if preset.call_weight:
            call_ids = self.calls
            by_call = np.stack([np.bincount(call_ids, weights=term, minlength=calls) for term in tf])
            for scores in self._bm25(by_call, call_lengths, preset):
                call += scores
        return own, context, call

    def dense(
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
            sums = np.bincount(self.calls, weights=own, minlength=len(norms))
            call = np.divide(sums, norms, out=np.zeros_like(sums), where=norms > 0)
        return own, context, call

    # -- what ranking reads ------------------------------------------------------------------------

    def sync(self) -> None:
        """Take in rows appended since the last query (their words and the call layout)."""
        self._sync_lexical()
        self._layout()

    @property
    def calls(self) -> np.ndarray:
        """The index of each row's call (rows of one call share it)."""
        return self._array("calls", self._calls, np.int64)

    def per_call(self, call_id: str, name: str, compute: Callable[[], T]) -> T:
        """``compute()``, something derived from one call's rows (``name`` tells it apart), kept until
        the call gets another row."""
        size = self._call_sizes[self._call_index[call_id]] if call_id in self._call_index else 0
        kept = self._per_call.get((call_id, name))
        if kept is not None and kept[0] == size:
            return cast(T, kept[1])
        value = compute()
        self._per_call[(call_id, name)] = (size, value)
        return value

    def per_row(self, name: str) -> list[object]:
        """One slot per row (None until its owner fills it) for something derived from each row alone
        (``name`` tells it apart); grown with the rows, kept with the set."""
        kept = self._per_row.get(name)
        if kept is None:
            kept = self._per_row[name] = []
        if len(kept) < len(self.rows):
            kept.extend([None] * (len(self.rows) - len(kept)))
        return kept

    @property
    def call_ids(self) -> list[str]:
        """The call id of each call index."""
        return list(self._call_index)

    def rows_of(self, call_id: str) -> np.ndarray:
        """The indices of one call's rows (empty for a call the set does not hold)."""
        index = self._call_index.get(call_id)
        if index is None:
            return np.zeros(0, np.int64)
        return np.flatnonzero(self.calls == index)

    def speaker_named(self, name: str) -> str | None:
        """The role ("user" or "assistant") of the person called ``name`` in this set's turns: the one
        the other side addresses by it ("Thanks, Dana!"), when that is clear; else None."""
        addressed = self._addressed.get(name.lower())
        if not addressed or sum(addressed.values()) < _NAMED_MIN:
            return None
        by, count = addressed.most_common(1)[0]
        if count < _NAMED_SHARE * sum(addressed.values()):
            return None
        return "assistant" if by == "user" else "user"

    def roles(self) -> np.ndarray:
        """Which rows the caller said (True) rather than the agent."""
        return self._array("roles", self._said_by_caller, bool)

    def fillers(self) -> np.ndarray:
        """Which rows are only a backchannel, pleasantry or stall."""
        return self._array("fillers", self._fillers, bool)

    def terms_of(self, index: int) -> frozenset[str]:
        """The index terms of one row (after ``sync``)."""
        return self._term_sets[index]

    @property
    def times(self) -> np.ndarray:
        """When each row was said, as POSIX seconds (as of the last ``sync``)."""
        return self._times

    def previous(self) -> np.ndarray:
        """The index of the turn before each row in its call, -1 for a call's first row."""
        return self._neighbour(-1)

    def asks(self) -> np.ndarray:
        """Which rows ask something (end with a question mark)."""
        return self._array("asks", self._asks, bool)

    def time_mentions(self) -> np.ndarray:
        """Which rows say when something happens or happened."""
        return self._array("time_mentions", self._mentions_time, np.float64)

    def _array(self, name: str, values: Sequence[bool | int], dtype: type) -> np.ndarray:
        """``values`` (a per-row list, only ever appended to) as a read-only array, made again when it grew."""
        found = self._arrays.get(name)
        if found is None or found.shape[0] != len(values):
            found = self._arrays[name] = np.asarray(values, dtype=dtype)
            found.flags.writeable = False
        return found

    def has_vector(self) -> np.ndarray:
        """Which rows have an embedding (kept while the vector matrix is current, see ``_vectors``)."""
        n = len(self.rows)
        found = self._arrays.get("has_vector")
        if found is None or found.shape[0] != n or self._matrix_rows != n:
            found = np.fromiter((r.embedding is not None for r in self.rows), dtype=bool, count=n)
            found.flags.writeable = False
            if self._matrix_rows == n:  # the matrix is current: what it holds changes only through ``_vectors``
                self._arrays["has_vector"] = found
        return found


def _shape(vector: np.ndarray | None) -> tuple[int, ...] | None:
    return None if vector is None else vector.shape


@dataclass(frozen=True, slots=True)
class _Lengths:
    """Document lengths as BM25 reads them: ``norm`` is k1 * (1 - b + b * length / mean length), the same for
    every term of a query."""

    norm: np.ndarray

    @classmethod
    def of(cls, lengths: np.ndarray, k1: float, b: float) -> _Lengths:
        avg = max(float(lengths.mean()), 1e-9)
        return cls(k1 * (1 - b + b * lengths / avg))


_LengthStats = tuple[_Lengths, _Lengths, _Lengths]  # of the rows, their context windows, the calls

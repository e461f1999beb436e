"""The call's working set and its ranking: BM25 and dense vectors, fused, with recency.

A call serves one caller, so the caller's memories are loaded once (at ``open_call``) and ranked
in-process; turns recorded during the call join the set at once. Retrieval modes are frozen
named presets; variants are derived with ``dataclasses.replace``, never mutated.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from rank_bm25 import BM25Plus

from .models import Hit, MemoryRow
from .spoken import normalize_spoken_digits


@dataclass(frozen=True)
class RecallPreset:
    name: str
    lexical_weight: float = 1.0
    dense_weight: float = 1.0
    rrf_k: int = 60
    recency_weight: float = 0.15
    recency_half_life_days: float = 30.0
    candidates: int = 50
    neighbour_turns: int = 0  # accurate mode: also consider the turns next to a strong hit


FAST = RecallPreset("fast")
ACCURATE = RecallPreset("accurate", candidates=100, neighbour_turns=1)
PRESETS: dict[str, RecallPreset] = {p.name: p for p in (FAST, ACCURATE)}

_WORD = re.compile(r"[a-z0-9]+(?:[.'@-][a-z0-9]+)*")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "had",
        "has",
        "have",
        "he",
        "her",
        "him",
        "his",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "she",
        "so",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "they",
        "this",
        "to",
        "too",
        "uh",
        "um",
        "us",
        "was",
        "we",
        "were",
        "what",
        "when",
        "which",
        "who",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yeah",
        "okay",
        "ok",
        "oh",
        "hmm",
        "like",
        "just",
        "can",
        "could",
        "do",
        "does",
        "did",
        "get",
        "got",
    ]
)


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens with spoken digits joined ("eight eight one" -> "881"), stop words dropped."""
    normalized = normalize_spoken_digits(text).lower()
    return [t for t in _WORD.findall(normalized) if t not in _STOP]


class WorkingSet:
    """The memories one call can recall, ranked in-process."""

    def __init__(self, rows: Iterable[MemoryRow] = ()) -> None:
        self.rows: list[MemoryRow] = []
        self._tokens: list[list[str] | None] = []  # tokenised lazily, off the turn path
        self._bm25: BM25Plus | None = None
        self._postings: dict[str, list[int]] = {}
        self._bm25_size = -1
        self._matrix: np.ndarray | None = None
        self._matrix_rows = -1
        self.extend(rows)

    def __len__(self) -> int:
        return len(self.rows)

    def extend(self, rows: Iterable[MemoryRow]) -> None:
        for row in rows:
            self.rows.append(row)
            self._tokens.append(None)

    def replace(self, rows: Iterable[MemoryRow]) -> None:
        self.rows, self._tokens = [], []
        self._bm25, self._bm25_size, self._matrix, self._matrix_rows = None, -1, None, -1
        self.extend(rows)

    def prepare(self) -> None:
        """Build the lexical index and the vector matrix now (e.g. in a thread after loading)."""
        self._lexical_scores(["\u2205"])
        rows = [r for r in self.rows if r.embedding is not None]
        if rows:
            self._dense_scores(rows[0].embedding)

    def missing_vectors(self) -> list[MemoryRow]:
        return [r for r in self.rows if r.embedding is None]

    def mark_vectors_changed(self) -> None:
        self._matrix_rows = -1

    def _lexical_scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        n = len(self.rows)
        if not query_tokens or n == 0:
            return np.zeros(n)
        if self._bm25 is None or self._bm25_size != n:
            self._tokens = [
                t if t is not None else tokenize(r.text) for t, r in zip(self._tokens, self.rows, strict=True)
            ]
            corpus = [t or ["\u2205"] for t in self._tokens]  # rank_bm25 rejects empty documents
            self._bm25, self._bm25_size = BM25Plus(corpus), n
            self._postings = {}
            for idx, tokens in enumerate(self._tokens):
                for token in set(tokens or ()):
                    self._postings.setdefault(token, []).append(idx)
        # BM25+ keeps idf positive in small sets (a call's first turns) but gives every document a
        # floor; only documents that share a term with the query count as lexical matches.
        matching = sorted({i for t in query_tokens for i in self._postings.get(t, ())})
        scores = np.zeros(n)
        if matching:
            scores[matching] = np.asarray(self._bm25.get_batch_scores(list(query_tokens), matching))
        return scores

    def _dense_scores(self, query_vector: np.ndarray | None) -> np.ndarray:
        n = len(self.rows)
        if query_vector is None or n == 0:
            return np.zeros(n)
        if self._matrix is None or self._matrix_rows != n:
            dim = query_vector.shape[0]
            self._matrix = np.stack(
                [r.embedding if r.embedding is not None else np.zeros(dim, np.float32) for r in self.rows]
            ).astype(np.float32)
            self._matrix_rows = n
        return self._matrix @ query_vector.astype(np.float32)

    def rank(
        self,
        query: str,
        query_vector: np.ndarray | None,
        *,
        preset: RecallPreset,
        limit: int,
        now: datetime,
    ) -> list[Hit]:
        n = len(self.rows)
        if n == 0 or limit <= 0:
            return []
        lexical = self._lexical_scores(tokenize(query))
        dense = self._dense_scores(query_vector)
        fused = np.zeros(n)
        k = preset.rrf_k
        depth = min(n, preset.candidates)
        if lexical.any():
            order = np.argsort(-lexical, kind="stable")[:depth]
            for rank, idx in enumerate(order):
                if lexical[idx] > 0:
                    fused[idx] += preset.lexical_weight / (k + rank + 1)
        if query_vector is not None:
            order = np.argsort(-dense, kind="stable")[:depth]
            for rank, idx in enumerate(order):
                fused[idx] += preset.dense_weight / (k + rank + 1)
        if preset.neighbour_turns:
            fused = self._spread_to_neighbours(fused, preset.neighbour_turns)
        candidates = np.flatnonzero(fused)
        if candidates.size == 0:
            return []
        half_life_s = preset.recency_half_life_days * 86400.0
        scores = {}
        for idx in candidates:
            age_s = max(0.0, (now - self.rows[idx].at).total_seconds())
            recency = math.exp(-math.log(2) * age_s / half_life_s)
            scores[idx] = fused[idx] * (1.0 + preset.recency_weight * recency)
        best = sorted(scores, key=lambda i: (-scores[i], -self.rows[i].at.timestamp()))[:limit]
        return [_hit(self.rows[i], scores[i]) for i in best]

    def _spread_to_neighbours(self, fused: np.ndarray, width: int) -> np.ndarray:
        """A turn next to a strong hit in the same call often holds the answer (question -> answer pairs)."""
        spread = fused.copy()
        top = np.argsort(-fused)[:10]
        for idx in top:
            if fused[idx] <= 0:
                continue
            for j in range(max(0, idx - width), min(len(self.rows), idx + width + 1)):
                if j != idx and self.rows[j].call_id == self.rows[idx].call_id:
                    spread[j] = max(spread[j], fused[idx] * 0.5)
        return spread


def _hit(row: MemoryRow, score: float) -> Hit:
    return Hit(
        text=row.text, call_id=row.call_id, at=row.at, score=float(score), kind=row.kind, role=row.role, seq=row.seq
    )

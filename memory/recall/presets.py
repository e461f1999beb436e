"""Recall modes as frozen, named presets: the weights of each ranking signal.

Variants are derived with ``dataclasses.replace``, never mutated. ``PRESETS`` is keyed by the
policy's ``RECALL_MODES`` (the one list of mode names).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidInputError
from ..policy import RECALL_MODES

__all__ = ["ACCURATE", "FAST", "PRESETS", "RecallPreset", "preset_for"]


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
    speaker_weight: float = 0.3  # a question naming one speaker: that speaker's turns score this much more
    expand_candidates: int = 0  # how many top candidates the ``expand`` hook sees (0: not called)
    expand_weight: float = 0.5  # an expansion score of 1 adds this share of the best first-stage score
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    bm25_delta: float = 1.0  # BM25+: a matching term never scores below delta * idf


FAST = RecallPreset("fast")
ACCURATE = RecallPreset("accurate", expand_candidates=20)  # fast + the expand hook (the entity graph)
PRESETS: dict[str, RecallPreset] = {p.name: p for p in (FAST, ACCURATE)}

if tuple(PRESETS) != RECALL_MODES:  # pragma: no cover - a programming error, caught by any import
    raise RuntimeError("recall presets and MemoryPolicy's RECALL_MODES disagree")


def preset_for(mode: object, limit: object) -> tuple[RecallPreset, int]:
    """The preset of a recall mode, and a valid hit limit (1 to 100); ``InvalidInputError`` otherwise."""
    preset = PRESETS.get(mode) if isinstance(mode, str) else None
    if preset is None:
        raise InvalidInputError(f"mode must be one of {sorted(PRESETS)}, not {mode!r}")
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 100:
        raise InvalidInputError("limit must be an integer from 1 to 100")
    return preset, limit

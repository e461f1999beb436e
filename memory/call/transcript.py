"""The rows of one call, in the order they were said: numbered, deduplicated, looked up by key."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import numpy as np

from ..text.kinds import is_filler
from ..values import Episode, MemoryRow, as_utc

__all__ = ["CallTranscript"]


class CallTranscript:
    """This call's rows. Owns their sequence numbers and the keys that drop a turn recorded twice."""

    def __init__(self, customer_id: str, call_id: str) -> None:
        self.customer_id = customer_id
        self.call_id = call_id
        self.rows: list[MemoryRow] = []
        self._by_key: dict[str, MemoryRow] = {}
        self._last: tuple[str, str] | None = None

    def append(
        self, kind: str, role: str, text: str, at: datetime | None, key: str | None, *, caller_id: str, first: str
    ) -> MemoryRow | None:
        """The new row, or ``None`` for a duplicate: a ``key`` seen before, or without a key the same
        words as the row just before."""
        if key is not None:
            if key in self._by_key:
                return None
        elif self._last == (role, text):
            return None
        self._last = (role, text)
        row = MemoryRow(
            self.customer_id, caller_id, self.call_id, len(self.rows) + 1,
            kind, role, text, as_utc(at), first,  # type: ignore[arg-type]
        )  # fmt: skip
        self.rows.append(row)
        if key is not None:
            self._by_key[key] = row
        return row

    def vector_of(self, key: str) -> np.ndarray | None:
        """The embedding of the row recorded with ``key``, once the writer has computed it."""
        row = self._by_key.get(key)
        return None if row is None else row.embedding

    def turns(self, role: str) -> list[str]:
        """The words of this call's turns (not notes) of one role, in order."""
        return [r.text for r in self.rows if r.kind == "turn" and r.role == role]

    def episode(self, started_at: datetime) -> Episode:
        """The call so far as an episode: its kinds, from the turns the writer has read (no reading here)."""
        named: Counter[str] = Counter()
        for row in self.rows:
            if row.tags is not None:
                named.update(t[5:] for t in row.tags if t.startswith("kind:"))
        return Episode(self.call_id, started_at, tuple(kind for kind, _ in named.most_common(2)))

    def question_before_last(self) -> str:
        """The agent's turn the caller's last row answers: the last agent turn before it, past the
        caller's own backchannels ("Mm-hmm.") in between ("" when the caller spoke first)."""
        for earlier in reversed(self.rows[-4:-1]):
            if earlier.role == "assistant":
                return earlier.text
            if not is_filler(earlier.text):
                return ""
        return ""

    def ended_at(self, default: datetime) -> datetime:
        return max((r.at for r in self.rows), default=default)

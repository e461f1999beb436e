"""The rows of one call, in the order they were said: numbered, deduplicated, looked up by key."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import TypedDict

import numpy as np

from ..recall.episodes import build_episode
from ..text.kinds import is_filler
from ..text.promises import call_outcome, call_topic
from ..values import Episode, MemoryRow, as_utc

__all__ = ["CallEnding", "CallTranscript"]


class CallEnding(TypedDict):
    """What a call's record keeps when it closes, besides its episode."""

    ended_at: datetime
    topic: str  # what the caller called about, in their words
    outcome: str  # the agent's last promise, or its last substantive turn


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

    def forget(self) -> None:
        """The caller was deleted: the call's words are dropped (the list is emptied in place, as the
        history and the writer read it)."""
        self.rows.clear()
        self._by_key.clear()
        self._last = None

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

    def ending(self, started_at: datetime, *, region: str) -> tuple[CallEnding, Episode]:
        """What the call record keeps when the call closes (``ended_at``, ``topic``, ``outcome``), and
        the call's episode as built from its turns."""
        ending = CallEnding(
            ended_at=max((r.at for r in self.rows), default=started_at),
            topic=call_topic(self.turns("user")),
            outcome=call_outcome(self.turns("assistant")),
        )
        return ending, build_episode(self.call_id, started_at, self.rows, region=region)

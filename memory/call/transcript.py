"""The rows of one call, in the order they were said: numbered, deduplicated, looked up by key."""

from __future__ import annotations

from datetime import datetime

import numpy as np

from ..values import MemoryRow, as_utc

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

    def ended_at(self, default: datetime) -> datetime:
        return max((r.at for r in self.rows), default=default)

"""Later statements of the same slot: among the best rows, the later one ranks above the earlier.

A call that settles something often says it twice: the agent reads back "a table at Paya Thai in
Hayward at 5 pm", the caller corrects it, and the agent reads back "a table at China Chef in Cotati";
or the caller says "for two people" and then "actually, make that four". A question about that call
wants the later statement first. Among the ``checked`` best rows, a row *supersedes* an earlier row
of the same call when

- **(a) a restated confirmation**: both are the agent's, the later one confirms or reports what is
  done, and they share most of their words (the agent reading back the same booking with a slot
  changed; a name said in lower case cannot be read as a value, but the words around it say it is
  the same read-back); or
- **(b) a one-per-booking value**: both state a value of a kind a booking has one of (a time, a party
  size, an address, an amount, a duration) about the same kind of thing (neither names a kind of
  thing the other does not: the table's time is not the concert's).

The later row is then scored at least as high as the earlier one, and the earlier one just below it.
The earlier one is *former* (its value was replaced) only when the value the question asks for
actually changed between the two: a read-back that changed the city does not make the time it also
said former. A row the question's value cannot be told from (no value of the kind asked for is read
in either) counts as changed when the two differ in some words.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..text.reading import read_turn
from ..values import MemoryRow
from .episodes import row_tags, value_key
from .working_set import WorkingSet

__all__ = ["ONE_PER_BOOKING", "supersede"]

ONE_PER_BOOKING = frozenset({"time", "count", "address", "amount", "duration"})
"""Value kinds a booking has one of: a later statement of one replaces the earlier."""

CHECKED = 40  # how many of the best rows are looked at
_SHARED = 0.6  # share of the shorter row's words a restated confirmation shares with the earlier one
_MIN_SHARED = 3  # and at least this many words
_BELOW = 0.99  # the earlier row's score, as a share of the later one's


def supersede(
    ws: WorkingSet,
    fused: np.ndarray,
    candidates: np.ndarray,
    *,
    asked: frozenset[str] = frozenset(),
    region: str = "US",
    checked: int = CHECKED,
) -> tuple[np.ndarray, np.ndarray]:
    """Scores with later statements of a slot above earlier ones, and the rows whose asked value a
    later row replaced (``candidates``: the rows that may be returned; ``asked``: the value kinds
    the question asks for, empty when it asks none)."""
    former = np.zeros(len(ws.rows), dtype=bool)
    if candidates.size < 2:
        return fused, former
    best = candidates[np.argsort(-fused[candidates], kind="stable")][:checked]
    by_call: dict[int, list[int]] = {}
    calls = ws.calls
    for i in best.tolist():
        by_call.setdefault(int(calls[i]), []).append(i)
    out = fused.copy()
    for rows in by_call.values():
        if len(rows) < 2:
            continue
        rows.sort(key=lambda i: ws.rows[i].seq)
        for later_at in range(1, len(rows)):
            j = rows[later_at]
            for i in rows[:later_at]:
                changed = _replaces(ws, i, j, asked, region)
                if changed is None:
                    continue
                out[j] = max(out[j], out[i])
                out[i] = min(out[i], _BELOW * out[j])
                former[i] |= changed
    return out, former


def _replaces(ws: WorkingSet, i: int, j: int, asked: frozenset[str], region: str) -> bool | None:
    """Does row ``j`` (later) state the slot row ``i`` states? None if not; else whether the value
    asked for changed."""
    early, late = ws.rows[i], ws.rows[j]
    if ws.rows[i].seq >= ws.rows[j].seq:
        return None
    early_tags, late_tags = row_tags(early, region), row_tags(late, region)
    if "filler" in early_tags or "filler" in late_tags:
        return None
    early_said, late_said = _values(early, region), _values(late, region)
    if _restated(ws, i, j, early_tags, late_tags):
        if any(_of(early_said, k) and not _of(late_said, k) for k in asked):
            return None  # the read-back left out the value asked for: the earlier still says it
        return _changed(ws, i, j, early_said, late_said, asked)
    if not _same_thing(early_tags, late_tags):
        return None
    slots = ONE_PER_BOOKING & (asked or ONE_PER_BOOKING)
    shared = [k for k in slots if _of(early_said, k) and _of(late_said, k)]
    if not shared:
        return None
    return any(_of(early_said, k) != _of(late_said, k) for k in shared)


def _restated(ws: WorkingSet, i: int, j: int, early_tags: frozenset[str], late_tags: frozenset[str]) -> bool:
    """(a): the agent reading back the same thing again, with mostly the same words."""
    if ws.rows[i].role != "assistant" or ws.rows[j].role != "assistant" or "confirm" not in late_tags:
        return False
    a, b = ws.terms_of(i), ws.terms_of(j)
    if not a or not b or a == b:
        return False
    shared = len(a & b)
    return shared >= _MIN_SHARED and shared >= _SHARED * min(len(a), len(b))


def _same_thing(a: frozenset[str], b: frozenset[str]) -> bool:
    """Neither row names a kind of thing the other does not, when both name one."""
    kinds_a = {t for t in a if t.startswith("kind:")}
    kinds_b = {t for t in b if t.startswith("kind:")}
    return not kinds_a or not kinds_b or bool(kinds_a & kinds_b)


def _values(row: MemoryRow, region: str) -> frozenset[tuple[str, str]]:
    return frozenset((v.kind, value_key(v.kind, v.normalised)) for v in read_turn(row.text, region=region).values)


def _of(said: Iterable[tuple[str, str]], kind: str) -> frozenset[str]:
    return frozenset(key for k, key in said if k == kind)


def _changed(
    ws: WorkingSet,
    i: int,
    j: int,
    early: frozenset[tuple[str, str]],
    late: frozenset[tuple[str, str]],
    asked: frozenset[str],
) -> bool:
    """Did the value asked for change between the two statements? Told by the values of the kinds
    asked for when both rows state one; else by whether their words differ."""
    told = [k for k in asked if _of(early, k) and _of(late, k)]
    if told:
        return any(_of(early, k) != _of(late, k) for k in told)
    return bool(ws.terms_of(i) - ws.terms_of(j))

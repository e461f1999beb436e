"""Later statements of the same slot: among the best rows, the later one ranks above the earlier.

A call that settles something often says it twice: the agent reads back "a table at Paya Thai in
Hayward at 5 pm", the caller corrects it, and the agent reads back "a table at China Chef in Cotati";
or the caller says "for two people" and then "actually, make that four". A question about that call
wants the later statement first. Among the ``checked`` best rows, a row *supersedes* an earlier row
of the same call when

- **(a) a restated confirmation**: both are the agent's, the earlier one states something (a
  confirmation or a value), the later one confirms or reports what is done, and they share most of
  their words (the agent reading back the same booking with a slot changed; a name said in lower
  case cannot be read as a value, but the words around it say it is the same read-back), or the
  caller turned the earlier one down ("No, I'd rather see the other film") and the later one is the
  agent's reply to that, about the same kind of thing, in whatever words; or
- **(b) a one-per-booking value**: both state a value of a kind a booking has one of (a time, a party
  size, an address, an amount, a duration, the device something plays on, a day of the month) about the same kind of thing (neither names a kind of
  thing the other does not: the table's time is not the concert's).

The later row is then scored at least as high as the earlier one, and the earlier one just below it.
The earlier one is *former* (its value was replaced) only when the value the question asks for
actually changed between the two: a read-back that changed the city does not make the time it also
said former. A row the question's value cannot be told from (no value of the kind asked for is read
in either) counts as changed when the two differ in some words. A read-back that leaves out the value
asked for (it repeats the venue, not the time) replaces nothing for that question; but a name read
in the earlier one whose words the later one no longer says, where the later one says words the
earlier did not, was replaced by a name that cannot be read ("a table at zaoh in san francisco" ->
"a table at mcdonald's in san francisco"). Of a read-back and
its near-identical restatement, ranking then returns only the later (see ``ranking.rank``).

What a row says is read once per row and kept with the working set (``prepare`` reads every row
and call when a caller's history is loaded, so that a recall only looks the readings up).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from ..text.kinds import is_correction
from ..text.reading import read_turn
from .episodes import value_key
from .working_set import WorkingSet

__all__ = ["ONE_PER_BOOKING", "prepare", "supersede"]

ONE_PER_BOOKING = frozenset({"time", "count", "address", "amount", "duration", "device", "date"})
"""Value kinds a booking has one of: a later statement of one replaces the earlier (a date only as a day
of the month: "today" is also a pleasantry, and "next Friday" may be "the 8th")."""

CHECKED = 40  # how many of the best rows are looked at
_SHARED = 0.6  # share of the shorter row's words a restated confirmation shares with the earlier one
_MIN_SHARED = 3  # and at least this many words
_BELOW = 0.99  # the earlier row's score, as a share of the later one's
_WORD = re.compile(r"[a-z0-9][a-z0-9'&.-]*")


class _Said(NamedTuple):
    """What the check needs of one row for one question."""

    row: int
    seq: int
    agent: bool
    confirms: bool
    things: frozenset[str]  # the kinds of thing it names ("kind:restaurant")
    values: Mapping[str, frozenset[str]]  # value kind -> the keys of its values (kinds wanted only)
    slots: Mapping[str, frozenset[str]]  # the one-per-booking values it states (``_slot``), by kind
    slotted: bool  # it states a one-per-booking value
    answered_by: int | None = None  # the agent's reply once the caller turned this turn down ("No, ...")

    def of(self, kind: str) -> frozenset[str]:
        return self.values.get(kind, _NONE)


_NONE: frozenset[str] = frozenset()
_NO_VALUES: tuple[Mapping[str, frozenset[str]], Mapping[str, frozenset[str]]] = ({}, {})


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
    calls = ws.calls[best]
    wanted = ONE_PER_BOOKING | asked
    out = fused
    unique, counts = np.unique(calls, return_counts=True)
    call_ids, readings = ws.call_ids, ws.per_row("supersede")
    for call in unique[counts > 1]:  # rows of one call among the best
        call_id = call_ids[int(call)]
        turned_down = ws.per_call(call_id, "turned_down", functools.partial(_turned_down, ws, call_id))
        said = _said(ws, best[calls == call].tolist(), readings, wanted, region, turned_down)
        answers: set[int | None] = set()  # the replies awaited by the rows before ``late``
        for later_at in range(1, len(said)):
            late = said[later_at]
            answers.add(said[later_at - 1].answered_by)
            replies = late.agent and late.seq in answers
            if not (late.agent and late.confirms) and not late.slotted and not replies:
                continue  # neither a read-back nor a one-per-booking value: it replaces nothing
            for early in said[:later_at]:
                read_back = early.agent and late.agent and (late.confirms or early.answered_by == late.seq)
                if not (late.slotted and early.slotted) and not read_back:
                    continue
                changed = _replaces(ws, early, late, asked)
                if changed is None:
                    continue
                if out is fused:
                    out = fused.copy()
                i, j = early.row, late.row
                out[j] = max(out[j], out[i])
                out[i] = min(out[i], _BELOW * out[j])
                former[i] |= changed
    return out, former


def _said(
    ws: WorkingSet,
    rows: list[int],
    readings: list[object],
    wanted: frozenset[str],
    region: str,
    turned_down: Mapping[int, int],
) -> list[_Said]:
    """What the rows (of one call) say, in the order they were said; backchannels left out."""
    said = []
    for i in rows:
        row, reading = ws.rows[i], _reading_of(ws, readings, i, region)
        if reading.filler:
            continue
        values, slots = reading.values(row.text, wanted)
        said.append(
            _Said(
                i,
                row.seq,
                reading.agent,
                reading.confirms,
                reading.things,
                values,
                slots,
                bool(slots),
                turned_down.get(row.seq),
            )
        )
    said.sort(key=lambda r: r.seq)
    return said


def prepare(ws: WorkingSet, region: str = "US") -> None:
    """Read what the check needs of every row and call now (off the recall path, e.g. when a caller's
    history is loaded): each row's tags and one-per-booking values, each call's turned-down read-backs.
    Kept with the working set (a row is read again if its tags were set since; a text's tags and values
    read the same in every region, which only picks the reading shared with the writer)."""
    readings = ws.per_row("supersede")
    for i, row in enumerate(ws.rows):
        reading = _reading_of(ws, readings, i, region)
        if not reading.filler:
            reading.values(row.text, ONE_PER_BOOKING)
    for call_id in ws.call_ids:
        ws.per_call(call_id, "turned_down", functools.partial(_turned_down, ws, call_id))


def _reading_of(ws: WorkingSet, readings: list[object], i: int, region: str) -> _Reading:
    """Row ``i``'s kept reading, read now if it has none or its tags were set since."""
    row, reading = ws.rows[i], readings[i]
    if not isinstance(reading, _Reading) or reading.source is not row.tags:
        reading = readings[i] = _Reading(row.text, row.role, row.tags, region)
    return reading


def _turned_down(ws: WorkingSet, call_id: str) -> dict[int, int]:
    """The call's agent turns the caller turned down, each with the agent's reply to that: the caller's
    next turn that is more than a backchannel corrects ("No, the one in Oakland"), and the agent's
    next turn that is more than one ("Mm-hmm.") answers the correction (seq -> seq)."""
    rows = sorted((ws.rows[int(i)] for i in ws.rows_of(call_id)), key=lambda r: r.seq)
    out: dict[int, int] = {}
    asked: int | None = None  # the agent's turn waiting for its answer
    corrected: int | None = None  # the agent's turn the caller just turned down, waiting for the reply
    for row in rows:
        if row.kind != "turn" or _is_backchannel(row.text, row.tags):
            continue
        if row.role == "assistant":
            if corrected is not None:
                out[corrected] = row.seq
            asked, corrected = row.seq, None
        elif asked is not None:
            corrected = asked if is_correction(row.text) else None
            asked = None
    return out


def _is_backchannel(text: str, tags: frozenset[str] | None) -> bool:
    return "filler" in (tags if tags is not None else read_turn(text).tags)


class _Reading:
    """What the check needs of one row, whatever the question: read once per row and kept with the
    working set; its values are read the first time a question needs them, then kept too."""

    __slots__ = ("_values", "_wanted", "agent", "confirms", "filler", "region", "source", "tags", "things")

    def __init__(self, text: str, role: str, tags: frozenset[str] | None, region: str) -> None:
        self.source = tags  # the row's tags when read (enrichment sets them on this call's turns later)
        self.region = region
        self.tags = tags if tags is not None else read_turn(text, region=region).tags
        self.filler = "filler" in self.tags
        self.agent = role == "assistant"
        self.confirms = "confirm" in self.tags
        self.things = frozenset(t for t in self.tags if t.startswith("kind:"))  # the kinds of thing it names
        self._values: dict[str, frozenset[str]] | None = None  # value kind -> the keys of its values
        self._wanted: dict[frozenset[str], tuple[Mapping[str, frozenset[str]], Mapping[str, frozenset[str]]]] = {}

    def values(
        self, text: str, wanted: frozenset[str]
    ) -> tuple[Mapping[str, frozenset[str]], Mapping[str, frozenset[str]]]:
        """The keys of its values of the ``wanted`` kinds by kind, and of the one-per-booking values it states."""
        if not self.tags & wanted:  # tags name the kinds of value a row carries: read the values only then
            return _NO_VALUES
        found = self._wanted.get(wanted)
        if found is None:
            values = {kind: keys for kind, keys in self._all_values(text).items() if kind in wanted}
            slots = {kind: keys for kind in ONE_PER_BOOKING if (keys := _slot(values, kind))}
            found = self._wanted[wanted] = (values, slots)
        return found

    def _all_values(self, text: str) -> dict[str, frozenset[str]]:
        if self._values is None:
            keys: dict[str, set[str]] = {}
            for value in read_turn(text, region=self.region).values:
                keys.setdefault(value.kind, set()).add(value_key(value.kind, value.normalised))
            self._values = {kind: frozenset(k) for kind, k in keys.items()}
        return self._values


def _replaces(ws: WorkingSet, early: _Said, late: _Said, asked: frozenset[str]) -> bool | None:
    """Does ``late`` state the slot ``early`` states? None if not; else whether the value asked for changed."""
    if early.seq >= late.seq:
        return None
    if _restated(ws, early, late):
        if any(early.of(k) and not late.of(k) for k in asked):
            if "name" in asked and early.of("name") and _unread_name(ws, early, late):
                return True
            return None  # the read-back left out the value asked for: the earlier still says it
        told = [k for k in asked if early.of(k) and late.of(k)]
        if told:
            return any(early.of(k) != late.of(k) for k in told)
        return bool(ws.terms_of(early.row) - ws.terms_of(late.row))
    if early.things and late.things and not early.things & late.things:
        return None  # the table's time is not the concert's
    shared = early.slots.keys() & late.slots.keys()
    if asked:
        shared &= asked
    if not shared:
        return None
    return any(early.slots[k] != late.slots[k] for k in shared)


def _slot(values: Mapping[str, frozenset[str]], kind: str) -> frozenset[str]:
    """The keys of a one-per-booking value a row states: a date only as a day of the month."""
    keys = values.get(kind, _NONE)
    return frozenset(k for k in keys if k.isdigit()) if kind == "date" else keys


def _restated(ws: WorkingSet, early: _Said, late: _Said) -> bool:
    """(a): the agent reading back the same thing again, with mostly the same words, or after the
    caller turned the first read-back down."""
    if not (early.agent and late.agent) or not (early.confirms or early.values):
        return False
    a, b = ws.terms_of(early.row), ws.terms_of(late.row)
    if not a or not b or a == b:
        return False
    if early.answered_by == late.seq:  # the reply to "No, ...": whatever its words
        return not early.things or not late.things or bool(early.things & late.things)
    if not late.confirms:
        return False
    shared = len(a & b)
    return shared >= _MIN_SHARED and shared >= _SHARED * min(len(a), len(b))


def _unread_name(ws: WorkingSet, early: _Said, late: _Said) -> bool:
    """Does the later read-back name something else where the earlier named something we read (a name
    of the earlier one it no longer says, and words of its own the earlier did not say)?"""
    later_words = set(_WORD.findall(ws.rows[late.row].text.lower()))
    dropped = any(not set(name.split()) <= later_words for name in early.of("name"))
    return dropped and bool(ws.terms_of(late.row) - ws.terms_of(early.row))

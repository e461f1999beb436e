"""Episodes: what each call was, built from its turns, deterministically (no model).

A call's episode says what it was about (its kinds: a restaurant booking, event tickets, a
refund...), the values it settled with the turns that said them (a venue, a time, a party size, a
reference), which of them the call later replaced (the former ones), how it ended, and a one-line
summary. The turns that state what was done (the agent's confirmations and reports) are its
evidence. Recall ranks episodes for a question before the turns inside them; the brief lists them.

``build_episode`` reads the turns' tags (computed once by the call's writer, see
:mod:`memory.text.reading`) and the values of the evidence turns; it is cheap enough to run on a
call's rows at close, or at load for a call stored without one. An optional model extractor can
replace it (``EpisodeExtractor``); the default needs none.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from ..text.kinds import is_acceptance, is_correction, outcome_of
from ..text.promises import call_topic, clean
from ..text.quote import quote
from ..text.reading import read_turn
from ..text.values import DEVICES
from ..text.vocab import DIGIT_WORDS, TEENS, TENS
from ..values import Episode, EpisodeValue, MemoryRow

__all__ = ["SUMMARY_VALUE_KINDS", "EpisodeExtractor", "build_episode", "describe_episode", "row_tags", "value_key"]

EpisodeExtractor = Callable[[Episode, Sequence[MemoryRow]], Awaitable[Episode]]
"""``await extract(episode, rows) -> Episode``: an optional model extractor. It gets the call's
deterministic episode and its rows, and returns the episode to keep (it may fill ``kinds``,
``values``, ``outcome``, ``summary``); it runs at close, off the call's turn path, within a time
budget, and the deterministic episode is kept when it fails or is late."""

SUMMARY_VALUE_KINDS = (
    "name", "count", "date", "day", "time", "address", "reference", "amount", "duration", "phone", "device",
)  # fmt: skip
"""The value kinds an episode keeps, in the order a summary lists them."""
_MAX_SUMMARY_VALUES = 7
_CLOCK_WORDS = {**DIGIT_WORDS, **TEENS, **TENS, "oh": 0}
_NOT_CHANGED_BY_CALLER = frozenset({"name", "address", "phone", "reference", "amount"})
"""Kinds a caller's own words do not replace: "Akira" said back, or a question about the address, are
no change of what was booked (the agent's next confirmation is)..."""
_MANY_PER_CALL = frozenset({"name"})
"""Kinds a call states several of (a venue and its city, a song and its artist)."""
_CORRECTED_BY_CALLER = frozenset({"name", "address"})
"""...unless the caller's turn corrects the read-back ("No, actually, I'd rather watch Stockholm")."""
_ORDINAL_DAYS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14, "fifteenth": 15,
    "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19, "twentieth": 20, "thirtieth": 30,
}  # fmt: skip
_ISO_DATE = re.compile(r"\b\d{4}-\d{1,2}-(\d{1,2})\b")
_DAY_NUMBER = re.compile(r"(?<![\d/.-])([12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?(?![\d/.:-])")
_KIND_SHARE = 0.5  # a kind counts for the call when it is named at least half as often as the top one
_EVIDENCE_WORDS = 6  # a confirmation without a value we can read counts from this many words


def row_tags(row: MemoryRow, region: str = "US") -> frozenset[str]:
    """The row's tags: as stored, or read now for a row stored before tags were kept."""
    return row.tags if row.tags is not None else read_turn(row.text, region=region).tags


def build_episode(call_id: str, started_at: datetime, rows: Sequence[MemoryRow], *, region: str = "US") -> Episode:
    """The episode of one call from its rows (any order; notes and turns of other calls are ignored)."""
    turns = sorted((r for r in rows if r.call_id == call_id and r.kind == "turn"), key=lambda r: r.seq)
    tags = {r.seq: row_tags(r, region) for r in turns}
    named: Counter[str] = Counter()
    for seq_tags in tags.values():
        named.update(t[5:] for t in seq_tags if t.startswith("kind:"))
    top = named.most_common(1)[0][1] if named else 0
    kinds = tuple(kind for kind, n in named.most_common() if n >= max(1.0, top * _KIND_SHARE))
    answers = _answers(turns, tags)
    taken = _offers_taken(turns, tags, answers)
    evidence = [r for r in turns if r.role == "assistant" and (_states_what_was_done(r, tags[r.seq]) or r.seq in taken)]
    turned_down = {seq for seq, answer in answers.items() if is_correction(answer.text)}
    values = _values(evidence, turns, region, turned_down)
    outcome = outcome_of(r.text for r in turns if r.role == "assistant")
    said = [r.text for r in turns if r.role == "user" and not read_turn(r.text, region=region).identifiers]
    gist = clean(evidence[-1].text) if evidence else call_topic(said)
    summary = _summary(kinds, values, outcome, gist)
    return Episode(call_id, started_at, kinds, tuple(values), outcome, summary, tuple(r.seq for r in evidence), gist)


def _carries_values(tags: frozenset[str]) -> bool:
    return any(kind in tags for kind in SUMMARY_VALUE_KINDS)


def _states_what_was_done(row: MemoryRow, tags: frozenset[str]) -> bool:
    """An agent's confirmation or report: with values we can read, or long enough to hold some we
    cannot (a venue named in lower case)."""
    return "confirm" in tags and (_carries_values(tags) or len(row.text.split()) >= _EVIDENCE_WORDS)


def _answers(turns: Sequence[MemoryRow], tags: dict[int, frozenset[str]]) -> dict[int, MemoryRow]:
    """The caller's answer to each agent turn: the caller's next turn that says more than a
    backchannel ("Okay." while the agent speaks is none), or the backchannel when nothing else
    follows before the agent speaks again ("Sure.")."""
    out = {}
    for at, turn in enumerate(turns):
        if turn.role != "assistant":
            continue
        answers = []
        for later in turns[at + 1 :]:
            if later.role != "user":
                break
            answers.append(later)
        said = [a for a in answers if "filler" not in tags[a.seq]] or answers[-1:]
        if said:
            out[turn.seq] = said[0]
    return out


def _offers_taken(
    turns: Sequence[MemoryRow], tags: dict[int, frozenset[str]], answers: dict[int, MemoryRow]
) -> set[int]:
    """The agent's offers the caller took ("How about Generation Why by Conan Gray?" -> "Sounds good
    to me."): an agent turn with values whose answer is the caller's acceptance."""
    return {
        turn.seq
        for turn in turns
        if turn.seq in answers
        and _carries_values(tags[turn.seq])
        and "filler" not in tags[turn.seq]
        and is_acceptance(answers[turn.seq].text)
    }


def _values(
    evidence: Sequence[MemoryRow], turns: Sequence[MemoryRow], region: str, turned_down: set[int]
) -> list[EpisodeValue]:
    """Values of the evidence turns; where a later turn states another value of a kind, the earlier is former.

    A later turn is any turn, the caller's too ("change that to 1 ticket"), from the first evidence
    turn that states the kind on: what the agent confirmed and the caller then changed is former. A
    caller's name or address counts only in a turn that corrects ("no, actually, ... instead"). A call
    names several things (the song, its artist, its album, a genre), so a name is former only when the
    caller turned down the turn that said it ("So Supa Modo?" -> "No, I'd rather see Gloria Bell").
    """
    stated: list[EpisodeValue] = []
    for row in evidence:
        reading = read_turn(row.text, region=region)
        typed = [ref.label for ref in reading.references]  # "ticket 8842": a reference with its type
        stated.extend(EpisodeValue("reference", label, row.seq, key=label.lower()) for label in typed)
        for said in reading.values:
            if said.kind in SUMMARY_VALUE_KINDS and not any(said.normalised in label.lower() for label in typed):
                stated.append(EpisodeValue(said.kind, said.text, row.seq, key=value_key(said.kind, said.normalised)))
    first_seq: dict[str, int] = {}
    for value in stated:
        first_seq.setdefault(value.kind, value.seq)
    confirmed = {v.seq for v in stated}
    for row in turns:  # changes after the agent first stated a kind, whoever says them
        if row.seq in confirmed or row.seq <= min(first_seq.values(), default=row.seq):
            continue
        corrects = row.role == "user" and is_correction(row.text)  # "No, I'd rather see Stockholm"
        for said in read_turn(row.text, region=region).values:
            if said.kind not in first_seq or row.seq <= first_seq[said.kind]:
                continue
            if said.kind not in _NOT_CHANGED_BY_CALLER or (corrects and said.kind in _CORRECTED_BY_CALLER):
                stated.append(EpisodeValue(said.kind, said.text, row.seq, key=value_key(said.kind, said.normalised)))
    stated.sort(key=lambda v: v.seq)
    last_seq = {v.kind: v.seq for v in stated}  # the latest turn stating each kind
    final = {(v.kind, v.key) for v in stated if v.seq == last_seq[v.kind]}
    out: list[EpisodeValue] = []
    seen: set[tuple[str, str, bool]] = set()
    for value in stated:
        former = value.seq != last_seq[value.kind] and (value.kind, value.key) not in final
        former = former and (value.kind not in _MANY_PER_CALL or value.seq in turned_down)
        if (value.kind, value.key, former) in seen:
            continue
        seen.add((value.kind, value.key, former))
        out.append(EpisodeValue(value.kind, value.text, value.seq, former, value.key))
    return out


def value_key(kind: str, normalised: str) -> str:
    """What two statements of one value share: "8 pm", "eight pm" and "8:00 pm" are "8:00pm"; a date
    its day of the month ("March 8th", "the 8th", "the eighth of March": "8"; a call settles one
    booking's date, so its month is the same); a count its number; a device its room when it names one
    ("the kitchen speaker", "the speaker in the kitchen", "play it in the kitchen": "kitchen"); other
    values their normalised words."""
    text = normalised.lower()
    if kind == "device":
        words = text.split()
        return " ".join(words[:-1]) if len(words) > 1 and words[-1] in DEVICES else text
    if kind == "date":
        day = _day_of_month(text)
        return text if day is None else str(day)
    if kind != "time":
        return text
    numbers: list[int] = []
    for token in re.findall(r"\d+|[a-z]+", text):
        if token.isdigit():
            numbers.append(int(token))
        elif token in _CLOCK_WORDS:
            value = _CLOCK_WORDS[token]
            if numbers and value < 10 and numbers[-1] >= 20 and numbers[-1] % 10 == 0:
                numbers[-1] += value  # "forty five"
            else:
                numbers.append(value)
    if not numbers:
        return text
    suffix = "pm" if "pm" in text or "p.m" in text else "am" if "am" in text or "a.m" in text else ""
    minutes = numbers[1] if len(numbers) > 1 and numbers[1] < 60 else 0
    return f"{numbers[0]}:{minutes:02d}{suffix}"


def _day_of_month(text: str) -> int | None:
    """The day of the month a date names ("march 8th", "the twenty-first", "2026-03-08"), if any."""
    iso = _ISO_DATE.search(text)
    if iso:
        return int(iso.group(1))
    number = _DAY_NUMBER.search(text)
    if number:
        return int(number.group(1))
    words = re.findall(r"[a-z]+", text)
    for at, word in enumerate(words):
        if word in _ORDINAL_DAYS:
            tens = TENS.get(words[at - 1], 0) if at else 0
            day = tens + _ORDINAL_DAYS[word]
            return day if 1 <= day <= 31 else None
    return None


def _summary(kinds: Sequence[str], values: Sequence[EpisodeValue], outcome: str, gist: str) -> str:
    what = kinds[0].replace("_", " ") if kinds else "call"
    current = [v for v in values if not v.former]
    order = {kind: i for i, kind in enumerate(SUMMARY_VALUE_KINDS)}
    shown: list[str] = []
    for value in sorted(current, key=lambda v: (-v.seq, order[v.kind])):  # the latest statement first
        if value.text not in shown:
            shown.append(value.text)
        if len(shown) >= _MAX_SUMMARY_VALUES:
            break
    if not shown:  # no value we can read: what the agent last stated, else what the caller asked for
        return f"{what}: {gist}; {outcome}" if gist else f"{what}; {outcome}"
    return f"{what}: {', '.join(shown)}; {outcome}"


def describe_episode(episode: Episode) -> str:
    """What a call was, for a prompt: what it was about and how it ended (our words), then what was
    said (quoted as data): ``restaurant, booked: "Akira Japanese Restaurant; for 6 people; 6:30 pm"``,
    and the values the call replaced."""
    what = episode.kinds[0].replace("_", " ") if episode.kinds else "call"
    values = [v.text for v in episode.values if not v.former]
    said = "; ".join(dict.fromkeys(values)) if values else episode.gist
    line = f"{what}, {episode.outcome}: {quote(said)}" if said else f"{what}, {episode.outcome}"
    former = [v.text for v in episode.values if v.former]
    if former:
        line += f" (changed during the call from {quote('; '.join(dict.fromkeys(former)))})"
    return line

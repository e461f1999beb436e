"""Query understanding: which call a question points at, what kind of thing, what it asks for.

"What was the train reference from last time?" points at the latest call about a train and asks
for a reference; "the hotel from my first call" at the first call (about a hotel); "what time was
the table I booked in March?" at the call about a restaurant made in March, asking for a time. The
words come from ``memory/text/vocabulary.yaml``; this module only combines them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache

from ..text.dates import query_date_spans
from ..text.kinds import asks_in, episode_kinds_in, ordinal_in, plain, vocabulary, warm_ordinals
from ..text.terms import index_terms
from ..text.vocab import MONTHS, WEEKDAYS
from ..values import Episode

__all__ = ["Question", "pick_episodes", "settled_terms", "understand", "warm_up"]

_KEPT_FILLER = r"(?:,?\s+(?:like|you know),?)?"  # a recogniser's filler between the words ("two months you know ago")
_ROUGHLY = r"(?:-?ish|\s+or\s+so|\s+or\s+thereabouts|\s+or\s+more|\s+or\s+less)?"  # "three-ish weeks", "a month or so"
_AGO = re.compile(
    r"\b(?:(an?|one|two|three|four|five|six|seven|eight|nine|ten|\d{1,2}|a couple of|couple of|a couple|couple"
    rf"|a few|few|several){_ROUGHLY}{_KEPT_FILLER}\s+)?(day|week|fortnight|month|year)s?{_ROUGHLY}{_KEPT_FILLER}"
    r"\s+(?:ago|back|before)\b"
)
_AGO_COUNT = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "a couple of": 2, "couple of": 2, "a couple": 2, "couple": 2, "a few": 3, "few": 3,
    "several": 4,
}  # fmt: skip
_UNIT_DAYS = {"day": 1, "week": 7, "fortnight": 14, "month": 30, "year": 365}
_IN_MONTH = re.compile(
    r"\b(?:in|during|back in|around|since|from|early|late|mid|end of|beginning of|month of)\s+(?:early\s+|late\s+|mid-?)?"
    r"(" + "|".join(MONTHS) + r")\b(?!\s*,?\s*\d{4})"
)
_PERSONAL = re.compile(r"\b(?:i|i'm|i've|i'd|me|my|mine|we|we're|us|our|you|you've|your)\b")
_CAPITALISED = re.compile(r"\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*\b")  # a name of one or more words
_NOT_NAMES = frozenset([*MONTHS, *WEEKDAYS, "i", "i'm", "mr", "mrs", "ms", "dr"])
_OVERALL = re.compile(
    r"\b(?:call|called|calls|calling|phoned|phoning|rang|rung|ringing|got in touch|contacted|spoke|talked)\b"
)
# a name after one of these is a place, venue or work ("the one in Dublin", "at the Sushi place"), not the
# person a third-person question is about, unless it owns something ("at Melanie's party")
_BEFORE_PLACE = frozenset(["in", "at", "near", "the", "on", "a", "an"])
_NEAR = 0.6  # the weight of a call near the day a question names ("two months ago"), not the nearest
_WARM_UP = "What time was the table I booked two weeks ago, in March?"  # names no ordinal: all are tried


@dataclass(frozen=True)
class Question:
    """What a question says about the memory it wants."""

    text: str
    kinds: frozenset[str] = frozenset()  # what it is about (restaurant, train, refund...)
    asks: frozenset[str] = frozenset()  # what it asks for (time, name, count, reference...)
    value_kinds: frozenset[str] = frozenset()  # the kinds of value that answer it
    anchor: str | None = None  # last | first | before_last | nth | this_call | a_while_ago | when (else: named)
    nth: int | None = None  # for "nth": 1-based
    overall: bool = False  # an ordinal counted over all calls ("my second call"), not calls of the kind
    spans: tuple[tuple[date, date], ...] = field(default=())  # "when": the days it names
    centres: tuple[date, ...] = field(default=())  # "two weeks ago": the day it names, within its span

    @property
    def understood(self) -> bool:
        """Does the question point at some of the caller's calls (by what they were about, or when)?
        What it asks for alone does not: every call holds times and names."""
        return bool(self.kinds or self.anchor)


def understand(text: str, now: datetime) -> Question:
    """Read a question asked at ``now``.

    A question about the caller's own dealings ("the table I booked", "when I called in May", "the
    train reference from last time") points at calls; one about someone else's life, in the third
    person ("when did Melanie go camping in June?"), names events, not calls, and is left to the
    words and dates of the turns.
    """
    said = plain(text)
    if not _PERSONAL.search(said) and _names_someone(text):
        return Question(text, asks=asks_in(text))
    words = vocabulary()
    kinds = frozenset(episode_kinds_in(text))
    asks = asks_in(text)
    if not kinds:  # "which device was it on?" names no call, but only a call that played something has one
        kinds = frozenset(k for a in asks for k in words.ask_kinds.get(a, ()))
    value_kinds = frozenset(v for a in asks for v in words.ask_values.get(a, ()))
    anchors = [name for name, pattern in words.anchors.items() if pattern.search(said)]
    nth = ordinal_in(text)
    overall = bool(_OVERALL.search(said))
    ago = _ago_spans(said, now)
    spans = tuple(span for span, _ in ago) or tuple(query_date_spans(text, now)) or _month_spans(said, now)
    centres = tuple(centre for _, centre in ago)
    anchor: str | None = None
    if "this_call" in anchors:
        anchor = "this_call"
    elif "before_last" in anchors:
        anchor = "before_last"
    elif nth is not None and nth > 1:
        anchor = "nth"
    elif "first" in anchors or nth == 1:
        anchor = "first"
    elif spans:
        anchor = "when"
    elif "last" in anchors:
        anchor = "last"
    elif "a_while_ago" in anchors:
        anchor = "a_while_ago"
    return Question(text, kinds, asks, value_kinds, anchor, nth, overall, spans, centres)


@cache
def warm_up() -> None:
    """Read a question once per process, so that what reading one compiles on first use (the vocabulary's
    patterns, each ordinal's phrases) is ready before a caller's first question: a process's first recall
    would otherwise pay for it. Run it off the recall path (e.g. while a caller's history loads, or at a
    worker's preload, before job processes are forked); later calls do nothing."""
    understand(_WARM_UP, datetime.now(UTC))
    warm_ordinals()  # a question's ordinal compiles that word's phrases alone: each of them, now
    _common_terms()  # what a question naming a call by its words leaves out (about 20 ms of stemming)


def _names_someone(text: str) -> bool:
    """Does the question name a person, in the third person ("When did Melanie go camping?")?"""
    for match in _CAPITALISED.finditer(text):
        words = match.group(0).lower().split()
        before = text[: match.start()].rstrip()
        if not before or before[-1:] in ".!?":  # a sentence's first word: "When did ...", "The Chainsmokers ..."
            words, before = words[1:], match.group(0).split()[0]
        previous = before.rsplit(None, 1)[-1].lower() if before else ""
        owns = text[match.end() : match.end() + 2] in ("'s", "’s")
        title = match.group(0).startswith("The ")  # "The Chainsmokers", "The Grand Budapest Hotel"
        if any(w not in _NOT_NAMES for w in words) and (owns or (previous not in _BEFORE_PLACE and not title)):
            return True
    return False


def _ago_spans(said: str, now: datetime) -> tuple[tuple[tuple[date, date], date], ...]:
    """ "two weeks ago", "a couple of weeks back", "a month ago": the days around then, and the day itself."""
    spans = []
    for match in _AGO.finditer(said):
        count = _AGO_COUNT.get(match.group(1) or "a") if not (match.group(1) or "").isdigit() else int(match.group(1))
        days = (count or 1) * _UNIT_DAYS[match.group(2)]
        margin = max(2, round(days * 0.35))
        centre = (now - timedelta(days=days)).date()
        spans.append(((centre - timedelta(days=margin), min(now.date(), centre + timedelta(days=margin))), centre))
    return tuple(spans)


def _month_spans(said: str, now: datetime) -> tuple[tuple[date, date], ...]:
    """ "when I called in May", "back in March" (no year): that month, the latest one not in the future."""
    spans = []
    for match in _IN_MONTH.finditer(said):
        month = MONTHS.index(match.group(1)) + 1
        year = now.year if month <= now.month else now.year - 1
        first = date(year, month, 1)
        last = date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)
        spans.append((first, min(last, now.date())))
    return tuple(spans)


def pick_episodes(
    question: Question,
    episodes: list[Episode],
    *,
    current_call_id: str,
    call_terms: Callable[[str], frozenset[str]] | None = None,
    episode_terms: Callable[[Episode], frozenset[str]] | None = None,
) -> dict[str, float]:
    """How strongly the question points at each call, from 0 to 1 (calls it does not point at: low).

    ``episodes``: the caller's calls, oldest first (the current call included). Kinds narrow the
    calls first; the anchor then picks among them: the latest, the first, the one before the
    latest, the n-th, those made on the days named. Without an anchor every call of the kind
    points, the latest a little more, unless the question names some of them by words only they said
    ("the one in Sacramento"; ``call_terms(call_id)``: the index terms of a call's turns, when known;
    ``episode_terms(episode)``: its ``settled_terms``, when already computed).
    """
    earlier = [e for e in episodes if e.call_id != current_call_id]
    if question.anchor == "this_call":
        return {e.call_id: (1.0 if e.call_id == current_call_id else 0.2) for e in episodes}
    of_kind = [e for e in earlier if question.kinds & set(e.kinds)] if question.kinds else []
    pool = of_kind or earlier
    chosen: list[Episode] = []
    near: list[Episode] = []  # calls the question may mean, less likely than the chosen
    anchor = question.anchor
    if anchor == "last" and pool:
        chosen = [pool[-1]]
    elif anchor == "first" and pool:
        chosen = [earlier[0] if question.overall and earlier and earlier[0] in pool else pool[0]]
    elif anchor == "before_last" and len(pool) >= 2:
        chosen = [pool[-2]]
    elif anchor == "nth" and question.nth:
        counted = earlier if question.overall else pool
        if len(counted) >= question.nth:
            chosen = [counted[question.nth - 1]]
    elif anchor == "when":
        chosen = [e for e in pool if _within(e.started_at.date(), question.spans)]
        if not chosen and pool:
            chosen = [min(pool, key=lambda e: _distance(e.started_at.date(), question.spans))]
        if len(chosen) > 1 and question.centres:  # "two months ago": the call nearest that day; the others near
            nearest = min(chosen, key=lambda e: min(abs((e.started_at.date() - c).days) for c in question.centres))
            near, chosen = [e for e in chosen if e is not nearest], [nearest]
    elif anchor == "a_while_ago" and len(pool) >= 2:
        chosen = pool[: max(1, len(pool) - 1)]
    elif anchor is None:  # "the one in Sacramento", "the Cambodian place": the calls that say those words
        chosen = _named(question.text, pool, call_terms, episode_terms)
    weights: dict[str, float] = {}
    for e in episodes:
        if e in chosen:
            weights[e.call_id] = 1.0
        elif e in near:
            weights[e.call_id] = _NEAR
        elif e in of_kind:
            weights[e.call_id] = 0.35 if chosen else 0.8 + 0.2 * (e is of_kind[-1])
        elif e.call_id == current_call_id:
            weights[e.call_id] = 0.3
        else:
            weights[e.call_id] = 0.15 if (chosen or of_kind) else 1.0
    return weights


def _named(
    text: str,
    pool: list[Episode],
    call_terms: Callable[[str], frozenset[str]] | None = None,
    episode_terms: Callable[[Episode], frozenset[str]] | None = None,
) -> list[Episode]:
    """The calls of ``pool`` the question names by words of their own that the other calls do not say
    (a city, a venue, a cuisine, an artist), most such words first; none when no call or every call does.

    A call's words are those of what it settled (its values, summary and gist) and of its turns when
    ``call_terms`` gives them; the vocabulary's words and plain words ("booked", "tickets", "made") name
    no particular call."""
    if len(pool) < 2:
        return []
    common = _common_terms()
    asked = {t for t in index_terms(text) if len(t) > 2 and t not in common}
    if not asked:
        return []
    settled = episode_terms or settled_terms
    said = [asked & (settled(e) | (call_terms(e.call_id) if call_terms else frozenset())) for e in pool]
    shared = set.intersection(*said)
    counts = [len(s - shared) for s in said]
    best = max(counts)
    chosen = [e for e, n in zip(pool, counts, strict=True) if n == best] if best else []
    return chosen if len(chosen) < len(pool) else []


@cache
def _common_terms() -> frozenset[str]:
    words = vocabulary().common | set(MONTHS) | set(WEEKDAYS)
    return frozenset(t for w in words for t in index_terms(w))


def settled_terms(episode: Episode) -> frozenset[str]:
    """The terms of what a call settled: its values, summary and gist."""
    return frozenset(index_terms(" ".join([episode.gist, episode.summary, *(v.text for v in episode.values)])))


def _within(day: date, spans: tuple[tuple[date, date], ...]) -> bool:
    return any(first <= day <= last for first, last in spans)


def _distance(day: date, spans: tuple[tuple[date, date], ...]) -> int:
    return min(max((first - day).days, (day - last).days, 0) for first, last in spans) if spans else 0

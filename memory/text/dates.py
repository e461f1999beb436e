"""Dates said in conversation, resolved against when they were said.

"by Friday", "last Tuesday", "tomorrow", "next week", "in three days", "on March 13th", "the 14th":
each resolves to a calendar day relative to ``said_at`` (the moment the turn was spoken), so the
"said at" time stays apart from the "happens at" time.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from functools import lru_cache

from .spoken import normalize_spoken_digits
from .vocab import MONTHS, WEEKDAYS

_MONTH_ABBR = {m[:3]: i + 1 for i, m in enumerate(MONTHS)}
_WEEKDAY = "|".join(WEEKDAYS)
_MONTH = "|".join(sorted({*MONTHS, *_MONTH_ABBR, "sept"}, key=len, reverse=True))
_ORDINAL = r"(\d{1,2})(?:st|nd|rd|th)?"

# Calendar dates first: in "Thursday 19 March" the explicit date wins over the weekday beside it.
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("relative_day", re.compile(r"\b(day after tomorrow|today|tonight|tomorrow|yesterday)\b")),
    ("month_day", re.compile(rf"\b({_MONTH})\.? {_ORDINAL}\b(?!:)")),
    ("day_month", re.compile(rf"\b(?:the )?{_ORDINAL} (?:of )?({_MONTH})\b")),
    ("the_ordinal", re.compile(r"\bthe (\d{1,2})(?:st|nd|rd|th)\b")),
    ("last_weekday", re.compile(rf"\blast ({_WEEKDAY})\b")),
    ("next_weekday", re.compile(rf"\bnext ({_WEEKDAY})\b")),
    ("weekday", re.compile(rf"\b(?:by|on|this|until|before|for|come)?\s*({_WEEKDAY})\b")),
    ("in_days", re.compile(r"\b(?:in|within) (\d{1,2}|a|one|two|three|four|five|six|seven|ten) (business |working )?(day|days|week|weeks)\b")),
    ("next_period", re.compile(r"\b(next|last) (week|month)\b")),
]  # fmt: skip
_BESIDE = re.compile(r"^[\s,]{0,3}$")
_SMALL = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "ten": 10}


def _day(at: datetime) -> datetime:
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def month_number(name: str) -> int:
    """1-12 for a month's name or abbreviation ("March", "mar", "sept.")."""
    name = name.lower().rstrip(".")
    if name == "sept":
        return 9
    return MONTHS.index(name) + 1 if name in MONTHS else _MONTH_ABBR[name[:3]]


def _add_business_days(start: datetime, days: int) -> datetime:
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


def _resolve(kind: str, match: re.Match[str], said_at: datetime) -> datetime | None:
    today = _day(said_at)
    if kind == "relative_day":
        offset = {"today": 0, "tonight": 0, "tomorrow": 1, "yesterday": -1, "day after tomorrow": 2}[match.group(1)]
        return today + timedelta(days=offset)
    if kind in ("last_weekday", "next_weekday", "weekday"):
        target = WEEKDAYS.index(match.group(1))
        delta = (target - today.weekday()) % 7
        if kind == "last_weekday":
            return today - timedelta(days=(today.weekday() - target) % 7 or 7)
        if kind == "next_weekday":
            return today + timedelta(days=delta + (7 if delta == 0 else 0))
        return today + timedelta(days=delta or 7)  # "by Friday" said on a Friday means next Friday
    if kind == "in_days":
        raw, business, unit = match.group(1), match.group(2), match.group(3)
        count = int(raw) if raw.isdigit() else _SMALL[raw]
        if unit.startswith("week"):
            return today + timedelta(weeks=count)
        return _add_business_days(today, count) if business else today + timedelta(days=count)
    if kind == "next_period":
        sign = 1 if match.group(1) == "next" else -1
        return today + timedelta(days=sign * (7 if match.group(2) == "week" else 30))
    if kind in ("month_day", "day_month"):
        month_name, day = (match.group(1), match.group(2)) if kind == "month_day" else (match.group(2), match.group(1))
        return _calendar(today, month_number(month_name), int(day))
    if kind == "the_ordinal":
        day = int(match.group(1))
        month, year = today.month, today.year
        if day < today.day:
            month, year = (1, year + 1) if month == 12 else (month + 1, year)
        return _safe(year, month, day, today)
    return None


def _calendar(today: datetime, month: int, day: int) -> datetime | None:
    """The nearest such date to ``today`` (dates said in calls are rarely more than half a year away)."""
    candidates = [d for d in (_safe(today.year + k, month, day, today) for k in (-1, 0, 1)) if d is not None]
    return min(candidates, key=lambda d: abs((d - today).days)) if candidates else None


def _safe(year: int, month: int, day: int, like: datetime) -> datetime | None:
    try:
        return like.replace(year=year, month=month, day=day)
    except ValueError:
        return None


def find_dates(text: str, said_at: datetime) -> list[tuple[str, datetime]]:
    """``(phrase, day)`` for each date said in ``text``, in order, resolved against ``said_at``."""
    lowered = normalize_spoken_digits(text).lower()
    found: list[tuple[int, str, datetime]] = []
    taken: list[range] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(lowered):
            span = range(match.start(), match.end())
            if any(span.start < t.stop and t.start < span.stop for t in taken):
                continue
            if "weekday" in kind and any(
                _BESIDE.match(lowered[span.stop : t.start]) for t in taken if t.start >= span.stop
            ):
                taken.append(span)  # "Thursday" of "Thursday 19 March": the date says it
                continue
            day = _resolve(kind, match, said_at)
            if day is not None:
                taken.append(span)
                found.append((match.start(), match.group(0).strip(), day))
    return [(phrase, day) for _, phrase, day in sorted(found, key=lambda f: f[0])]


def first_date(text: str, said_at: datetime) -> datetime | None:
    dates = find_dates(text, said_at)
    return dates[0][1] if dates else None


# -- dates a question names, and utterances that mention a time (recall) ---------------------------------

_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_DAY_MONTH_YEAR = re.compile(rf"\b{_DAY}\s+(?:of\s+)?({_MONTH})\.?,?\s+(\d{{4}})\b")
_MONTH_DAY_YEAR = re.compile(rf"\b({_MONTH})\.?\s+{_DAY},?\s+(\d{{4}})\b")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_MONTH_YEAR = re.compile(rf"\b({_MONTH})\.?,?\s+(?:of\s+)?(\d{{4}})\b")
_WHEN_QUESTION = re.compile(
    r"^\W*(?:(?:and|so|but|ok|okay|um|uh)\W+)*(?:when\b|what (?:date|day|time|year|month)\b|which (?:date|day|year|month)\b"
    r"|how long ago\b|since when\b)"
)
_TIME_MENTION = re.compile(
    r"\b(?:yesterday|today|tonight|tomorrow|ago|recently|lately|weekend|"
    rf"(?:last|next|this|past|coming)\s+(?:week|month|year|night|time|summer|winter|spring|fall|autumn|{_WEEKDAY})|"
    rf"(?:{_WEEKDAY})s?|"
    rf"(?:{'|'.join(m for m in MONTHS if m != 'may')})|"
    r"may\s+\d|\d{1,2}(?:st|nd|rd|th)?\s+may|"
    r"(?:19|20)\d\d|\d{1,2}(?:st|nd|rd|th)|\d{1,2}(?::\d\d)?\s*(?:am|pm)|o'clock|"
    r"(?:a|one|two|three|four|five|six|\d+)\s+(?:days?|weeks?|months?|years?)\s+(?:ago|back|before))\b"
)


def query_date_spans(query: str, now: datetime) -> list[tuple[date, date]]:
    """Calendar spans a query names: explicit dates ("3 June, 2025", "June 3, 2025", "2025-06-03"),
    months ("in June 2025"), else days said relative to ``now`` ("yesterday", "last Tuesday",
    "on March 13th"); only spans that are not in the future."""
    return list(_query_date_spans(query, now))


@lru_cache(maxsize=256)
def _query_date_spans(query: str, now: datetime) -> tuple[tuple[date, date], ...]:
    """See :func:`query_date_spans`; kept for the few latest questions (understanding a question and
    ranking for it both read its dates)."""
    text = query.lower()
    spans: list[tuple[date, date]] = []

    def add(year: int, month: int, day: int) -> None:
        try:
            d = date(year, month, day)
        except ValueError:
            return
        spans.append((d, d))

    for m in _DAY_MONTH_YEAR.finditer(text):
        add(int(m.group(3)), month_number(m.group(2)), int(m.group(1)))
    for m in _MONTH_DAY_YEAR.finditer(text):
        add(int(m.group(3)), month_number(m.group(1)), int(m.group(2)))
    for m in _ISO_DATE.finditer(text):
        add(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if not spans:
        for m in _MONTH_YEAR.finditer(text):
            year, month = int(m.group(2)), month_number(m.group(1))
            if 1 <= year <= 9998:
                first = date(year, month, 1)
                last = date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)
                spans.append((first, last))
    if not spans:
        today = now.date()
        for phrase, day in find_dates(query, now):
            # "last week" / "last month" name a stretch of time, not the day a week or 30 days ago
            half = 20 if "month" in phrase else 4 if "week" in phrase else 0
            first, last = day.date() - timedelta(days=half), min(today, day.date() + timedelta(days=half))
            if first <= today:
                spans.append((first, last))
    return tuple(spans)


def forget_query_dates() -> None:
    """Drop the kept dates of the latest questions (they hold callers' words): after a caller is deleted."""
    _query_date_spans.cache_clear()


def is_when_question(query: str) -> bool:
    """Does the question ask when something happened ("when did ...", "what date ...")?"""
    return _WHEN_QUESTION.search(query.lower()) is not None


def mentions_time(text: str) -> bool:
    """Does the utterance say when something happens or happened ("last Tuesday", "at 5 pm", "in June")?"""
    return _TIME_MENTION.search(text.lower()) is not None

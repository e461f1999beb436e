"""Dates said in calls resolve against when they were said."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from memory.text.dates import find_dates, first_date

WEDNESDAY = datetime(2026, 3, 4, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("you should see it by Friday", "2026-03-06"),
        ("it happened last Tuesday", "2026-03-03"),
        ("last Wednesday", "2026-02-25"),
        ("see you next Wednesday", "2026-03-11"),
        ("on Wednesday", "2026-03-11"),
        ("tomorrow morning", "2026-03-05"),
        ("yesterday", "2026-03-03"),
        ("within three business days", "2026-03-09"),
        ("in 2 weeks", "2026-03-18"),
        ("next week", "2026-03-11"),
        ("on March 13th", "2026-03-13"),
        ("the twelfth of march", None),
        ("on the 14th", "2026-03-14"),
        ("on the 2nd", "2026-04-02"),
        ("December 30", "2025-12-30"),
        ("by friday, uh, at the latest", "2026-03-06"),
        ("you may see it soon", None),
    ],
)
def test_relative_and_calendar_dates(text, day):
    found = first_date(text, WEDNESDAY)
    assert (found.strftime("%Y-%m-%d") if found else None) == day


def test_said_at_stays_apart_from_happens_at():
    said = datetime(2026, 3, 6, 9, tzinfo=UTC)  # a Friday
    assert first_date("by Friday", said).strftime("%Y-%m-%d") == "2026-03-13"
    assert [p for p, _ in find_dates("tomorrow or on March 13th", WEDNESDAY)] == ["tomorrow", "march 13th"]

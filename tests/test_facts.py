"""Deterministic facts and typed references from ASR-style turns."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from memory.text.facts import amounts, facts, references, resolves_something

AT = datetime(2026, 3, 4, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ticket eight eight four two", [("ticket", "8842")]),
        ("the modem serial is ZX-4410", [("serial", "ZX-4410")]),
        ("order number 55102, and RMA 7781", [("order", "55102"), ("return", "7781")]),
        ("your case number is, uh, four four two one", [("case", "4421")]),
        ("claim number double five oh one", [("claim", "5501")]),
        ("invoice INV-2231", [("invoice", "INV-2231")]),
        ("I have a case of beer", []),
    ],
)
def test_typed_references(text, expected):
    assert [(r.kind, r.value) for r in references(text)] == expected


@pytest.mark.parametrize(
    ("text", "role", "expected"),
    [
        ("so um I moved, my new address is 22 Oak Street", "user", ("address", "22 Oak Street")),
        ("I live at twenty two oak street apartment 4", "user", ("address", "22 oak street apartment 4")),
        ("please call me before noon", "user", ("preferred contact time", "before noon")),
        ("text me instead please", "user", ("preferred channel", "text")),
        ("I'm allergic to penicillin.", "user", ("allergy", "penicillin")),
        ("my email is dana at example dot net", "user", ("email", "dana@example.net")),
        ("I've moved you to the family unlimited plan", "assistant", ("plan", "family unlimited")),
        ("please remember that my dog is called Rex", "user", ("note", "my dog is called Rex")),
    ],
)
def test_facts(text, role, expected):
    assert expected in [(f.attribute, f.value) for f in facts(text, role, AT)]


def test_appointments_carry_the_day_they_happen():
    [fact] = facts("we rescheduled the technician visit to March 13th", "assistant", AT)
    assert fact.attribute == "appointment" and fact.happens_at == datetime(2026, 3, 13, tzinfo=UTC)


def test_tenant_plan_names_win_over_the_generic_pattern():
    found = facts("I want the Gold Plus plan please", "user", AT, plans=("Gold Plus", "Silver"))
    assert [(f.attribute, f.value) for f in found] == [("plan", "Gold Plus")]


def test_agent_words_are_not_caller_facts():
    assert facts("my address is 1 Company Road", "assistant", AT) == []


@pytest.mark.parametrize(
    ("text", "resolved"),
    [
        ("yeah I got the refund on Monday", True),
        ("the replacement arrived yesterday", True),
        ("it's working now, thanks", True),
        ("it's still broken", False),
        ("I never got anything", False),
    ],
)
def test_resolution_phrases(text, resolved):
    assert resolves_something(text) is resolved


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a refund of $42.10 by Friday", ["$42.10"]),
        ("forty two dollars ten", ["$42.10"]),
        ("forty two dollars and ten cents", ["$42.10"]),
        ("twelve pounds fifty", ["£12.50"]),
        ("a credit of €1,200", ["€1200"]),
        ("ticket 8842", []),
    ],
)
def test_amounts_written_and_spoken(text, expected):
    assert amounts(text) == expected

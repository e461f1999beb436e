"""Deterministic signals from turns: promises, references, names, the call's topic."""

from __future__ import annotations

import pytest

from memory import extract


@pytest.mark.parametrize(
    ("text", "promised"),
    [
        ("I've submitted a refund of $42.10, you should see it by Friday.", True),
        ("A technician will call you tomorrow morning.", True),
        ("I'll send you a confirmation e-mail.", True),
        ("We will credit your account.", True),
        ("Is there anything else I can help with?", False),
        ("I'll be happy to help.", False),
    ],
)
def test_commitments(text, promised):
    assert bool(extract.commitments(text)) is promised


def test_references_keep_their_type_and_join_spoken_digits():
    assert extract.references("your ticket number is eight eight four two") == ["ticket 8842"]
    assert extract.references("order #55102 and invoice INV-2231") == ["order 55102", "invoice INV-2231"]
    assert extract.references("thanks for calling") == []


def test_spoken_name_is_for_display_only():
    assert extract.spoken_name("hi, my name is dana reyes and I have a problem") == "Dana Reyes"
    assert extract.spoken_name("my name is not important") is None
    assert extract.spoken_name("this is ridiculous") is None


def test_topic_skips_fillers_and_short_turns():
    topic = extract.call_topic(["hello", "uh, um, my internet keeps dropping every evening"])
    assert topic == "my internet keeps dropping every evening"


def test_outcome_prefers_the_last_promise():
    outcome = extract.call_outcome(["Let me check that for you.", "I've opened ticket 77 for you.", "Bye now."])
    assert outcome == "I've opened ticket 77 for you."

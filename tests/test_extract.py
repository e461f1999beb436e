"""Deterministic signals from turns: promises, references, names, the call's topic."""

from __future__ import annotations

import pytest

from memory.text import facts, promises


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
    assert bool(promises.commitments(text)) is promised


def test_references_keep_their_type_and_join_spoken_digits():
    assert facts.reference_labels("your ticket number is eight eight four two") == ["ticket 8842"]
    assert facts.reference_labels("order #55102 and invoice INV-2231") == ["order 55102", "invoice INV-2231"]
    assert facts.reference_labels("thanks for calling") == []


def test_spoken_name_is_for_display_only():
    assert promises.spoken_name("hi, my name is dana reyes and I have a problem") == "Dana Reyes"
    assert promises.spoken_name("my name is not important") is None
    assert promises.spoken_name("this is ridiculous") is None


def test_topic_skips_fillers_and_short_turns():
    topic = promises.call_topic(["hello", "uh, um, my internet keeps dropping every evening"])
    assert topic == "my internet keeps dropping every evening"


def test_outcome_prefers_the_last_promise():
    outcome = promises.call_outcome(["Let me check that for you.", "I've opened ticket 77 for you.", "Bye now."])
    assert outcome == "I've opened ticket 77 for you."

"""Accuracy-preserving compaction of one long call's conversation (plain values, no LiveKit).

Voice transcripts are wordy. Once the conversation passes the tenant's token budget, older turns
are *condensed* into a notes block and the newest turns stay verbatim:

- **kept exactly** (tiered only to stay within the budget): who the caller is and how they were identified (a name, identifiers said
  aloud, identity checks), every number, amount, date, time and reference, every promise and
  action item, account state and stated preferences. Each such sentence is kept as said (fillers
  removed, spoken digits joined) on a dated line, with the values tagged in normal form
  (``ticket 8842``, ``$42.10``, ``Fri 2026-11-27``);
- **dropped**: fillers and backchannels ("uh-huh", "okay"), stalls and repair ("let me think for a
  second", "can you repeat that?"), small talk, and repetitions of what is already noted;
- **summarised extractively**: everything else, by level (every substantive sentence, the best
  sentence of each turn, or only what the caller asked for).

Nothing is lost: condensed turns stay in an in-call index (:class:`memory.recall.working_set.WorkingSet`)
and, when a later question touches them (exact values first, then BM25), the exact turns are
recalled and placed after the notes block (:attr:`Plan.recall`).

The work is incremental: a turn costs O(its length) once (classified and extracted when it is
condensed, or earlier by :meth:`Compactor.warm` between turns); the boundary between condensed
and verbatim turns moves in steps (compact when the budget is passed, down to a lower mark), and
the lines of newly condensed turns are appended to the notes, whose header does not move, so
consecutive requests share their prefix and a provider's prompt cache keeps working; the notes are
rewritten only when they pass their share of the budget.

The budget holds by an exact count in the LLM's encoding (:func:`count_tokens`, offline). When
durable lines alone would pass it they are tiered (the most asked-about and the most recent keep
their words, older bookings one line of their values each, older lines their values, the oldest
leave the notes and stay recallable), and the
newest four turns always stay verbatim. Recall of condensed turns reads the question as caller
recall does (which booking of the call, which kind of value; :mod:`memory.recall.query`).

Everything rendered is data: caller-derived text is JSON-quoted with ``<``/``>`` escaped (like
the caller brief), inside a delimited block that says it is data, never instructions.
"""

from __future__ import annotations

from .classifier import classify
from .compactor import Compactor, warm_readers
from .policy import (
    LEVEL_SETTINGS,
    LEVELS,
    NOTES_CLOSE,
    NOTES_OPEN,
    RECALL_CLOSE,
    RECALL_OPEN,
    SUMMARISERS,
    CompactionPolicy,
    LevelSettings,
    Plan,
    Turn,
    count_tokens,
    encoding_for,
    load_tokenizer,
    message_tokens,
)

__all__ = [
    "LEVELS",
    "LEVEL_SETTINGS",
    "NOTES_CLOSE",
    "NOTES_OPEN",
    "RECALL_CLOSE",
    "RECALL_OPEN",
    "SUMMARISERS",
    "CompactionPolicy",
    "Compactor",
    "LevelSettings",
    "Plan",
    "Turn",
    "classify",
    "count_tokens",
    "encoding_for",
    "load_tokenizer",
    "message_tokens",
    "warm_readers",
]

"""Deterministic signals from recorded turns: promises, the references they name, a call's topic.

No model is needed, so tests and offline use work. (Richer facts with validity belong to the
facts/graph layer.)
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .vocab import FILLER_PATTERN

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_COMMITMENT = re.compile(
    r"\b(?:i(?:'ve| have)?\s+(?:just\s+)?(?:submitted|filed|opened|created|issued|scheduled|escalated|sent|booked|"
    r"processed|raised|logged|arranged|requested|refunded|credited|ordered|reset)"
    r"|i(?:'ll|\s+will)\s+(?!be\s+happy)|we(?:'ll|\s+will)\s+|you(?:'ll|\s+will|\s+should)\s+(?:see|receive|get|hear)"
    r"|(?:a|our)\s+(?:technician|engineer|specialist|agent|manager|courier)\s+will"
    r"|someone\s+will\s+(?:call|contact|reach|visit))",
    re.IGNORECASE,
)
_FILLERS = re.compile(rf"\b(?:{FILLER_PATTERN}|you know)\b[,.]?\s*", re.IGNORECASE)
_NAME = re.compile(  # "my name is dana, dana okafor": a first name said again starts the full name
    r"\bmy name is (?:([a-z]+),?\s+(?=\1\s))?([a-z][a-z'-]+(?: [a-z][a-z'-]+)?)", re.IGNORECASE
)
_NOT_NAMES = frozenset(
    ["not", "calling", "about", "going", "trying", "just", "still", "really", "very", "so", "the", "a", "an"]
) | {"and", "but", "i", "from", "here", "again", "speaking"}  # words that end a name said in passing

MAX_QUOTE = 220


def commitments(text: str) -> list[str]:
    """Sentences of an agent turn that promise something."""
    return [s.strip() for s in _SENTENCE.split(text) if _COMMITMENT.search(s)]


def spoken_name(text: str) -> str | None:
    """A name the caller gives ("my name is Dana Reyes"); used for display, never to link callers."""
    match = _NAME.search(text)
    if not match:
        return None
    words = [w for w in match.group(2).split() if w.lower() not in _NOT_NAMES]
    if not words or words != match.group(2).split()[: len(words)]:
        return None
    return " ".join(w[:1].upper() + w[1:] for w in words)


def clean(text: str) -> str:
    """Fillers dropped, whitespace folded, cut to a quotable length."""
    text = _FILLERS.sub("", text)
    text = " ".join(text.split())
    return text if len(text) <= MAX_QUOTE else text[: MAX_QUOTE - 1].rstrip() + "…"


def call_topic(user_turns: Sequence[str]) -> str:
    """What the caller called about: the first substantive thing they said."""
    for text in user_turns[:6]:
        cleaned = clean(text)
        if len(cleaned.split()) >= 5:
            return cleaned
    return clean(max(user_turns, key=len)) if user_turns else ""


def call_outcome(assistant_turns: Sequence[str]) -> str:
    """How the call ended for the caller: the agent's last promise, else its last substantive turn."""
    for text in reversed(assistant_turns):
        promised = commitments(text)
        if promised:
            return clean(" ".join(promised))
    for text in reversed(assistant_turns):
        if len(text.split()) >= 5:
            return clean(text)
    return ""

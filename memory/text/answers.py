"""Answers a caller gives to prove who they are, in one canonical form each, and names said on a call.

A verification answer is compared with what the tenant stores only in its canonical form, so "sw1a
1aa" matches "SW1A 1AA", "four four one two" matches a PIN of 4412, and "3 March 1980" matches
1980-03-03. :func:`name_said` tells whether the name on a record was said in a call's words: every
word of it, in order, next to each other (fillers aside), so "this is Dana Reyes, my account number is
88123" carries the name "Dana Reyes" and "it's Dana" does not. A name of one word is never enough.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import date

from .dates import month_number
from .spoken import normalize_spoken_digits
from .vocab import FILLER_WORDS

__all__ = ["canonical_answer", "name_said", "name_words"]

_WORD = re.compile(r"[a-z]+(?:['-][a-z]+)*")
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_NUMERIC = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})")
_DAY_MONTH = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?([a-z]+)\.?,?\s+(\d{4})")
_MONTH_DAY = re.compile(r"([a-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})")
MIN_NAME_WORDS = 2


def _folded(text: str) -> str:
    """Lower case, accents dropped."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def name_words(name: str | None) -> tuple[str, ...]:
    """The words of a name as they are compared (lower case, no accents, no fillers)."""
    if not name:
        return ()
    return tuple(w for w in _WORD.findall(_folded(name)) if w not in FILLER_WORDS)


def name_said(recorded: str | None, said: Sequence[str]) -> bool:
    """Was the recorded name (two words or more) said, whole and in order, in one of ``said``?"""
    wanted = name_words(recorded)
    if len(wanted) < MIN_NAME_WORDS:
        return False
    n = len(wanted)
    for text in said:
        words = name_words(text)
        if any(words[i : i + n] == wanted for i in range(len(words) - n + 1)):
            return True
    return False


def canonical_answer(factor: str, value: object, *, region: str = "US") -> str | None:
    """``value`` in the canonical form of ``factor`` (``None`` when it cannot be one)."""
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        return None
    text = _folded(value.strip())
    if factor == "name":
        words = name_words(text)
        return " ".join(words) if len(words) >= MIN_NAME_WORDS else None
    if factor == "postcode":
        code = re.sub(r"[^a-z0-9]", "", text).upper()
        return code if 3 <= len(code) <= 10 else None
    if factor == "pin":
        digits = re.sub(r"\D", "", normalize_spoken_digits(text))
        return digits if 4 <= len(digits) <= 12 else None
    if factor == "date_of_birth":
        day = _date(text, region)
        return day.isoformat() if day else None
    return None


def _date(text: str, region: str) -> date | None:
    text = " ".join(text.replace(",", " ").split())
    found: tuple[int, int, int] | None = None
    if match := _ISO.fullmatch(text):
        found = (int(match[1]), int(match[2]), int(match[3]))
    elif match := _NUMERIC.fullmatch(text):
        first, second = int(match[1]), int(match[2])
        month, day = (first, second) if region == "US" else (second, first)
        found = (int(match[3]), month, day)
    elif (match := _DAY_MONTH.fullmatch(text)) and _month(match[2]):
        found = (int(match[3]), _month(match[2]), int(match[1]))
    elif (match := _MONTH_DAY.fullmatch(text)) and _month(match[1]):
        found = (int(match[3]), _month(match[1]), int(match[2]))
    if found is None:
        return None
    try:
        return date(*found)
    except ValueError:
        return None


def _month(name: str) -> int:
    try:
        return month_number(name)
    except (KeyError, ValueError):
        return 0

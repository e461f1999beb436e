"""The terms an utterance is indexed by and a query is matched with (lexical recall and compaction).

``tokenize`` lower-cases, joins spoken digits ("eight eight one" -> "881") and drops stop words;
``stem`` is the Snowball (Porter2) English stemmer with a cache; ``index_terms`` is both.
"""

from __future__ import annotations

import hashlib
import re

import snowballstemmer

from .spoken import normalize_spoken_digits
from .vocab import DIGIT_WORDS, FILLER_WORDS, TEENS, TENS

__all__ = [
    "TERMS_VERSION",
    "document_terms",
    "index_terms",
    "pack_terms",
    "stem",
    "tokenize",
    "unpack_terms",
    "vocatives",
    "without_vocatives",
]

_WORD = re.compile(r"[a-z0-9]+(?:[.'@-][a-z0-9]+)*")
_STOP = frozenset(
    [
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "had", "has", "have", "he", "her", "him",
        "his", "i", "if", "in", "into", "is", "it", "its", "me", "my", "no", "not", "of", "on", "or", "our", "she", "so",
        "that", "the", "their", "them", "then", "there", "they", "this", "to", "too", "uh", "um", "us", "was", "we",
        "were", "what", "when", "which", "who", "will", "with", "would", "you", "your", "yeah", "okay", "ok", "oh",
        "hmm", "like", "just", "can", "could", "do", "does", "did", "get", "got",
    ]
)  # fmt: skip


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens with spoken digits joined ("eight eight one" -> "881"), stop words dropped."""
    normalized = normalize_spoken_digits(text).lower()
    return [t for t in _WORD.findall(normalized) if t not in _STOP]


# Stored with each row's terms (``pack_terms``), so terms stored by another version of
# ``document_terms`` are recomputed rather than trusted. The word lists it reads are part of it;
# bump the number whenever the code would give other terms for the same text.
_TERMS_CODE = 1
TERMS_VERSION = (
    f"{_TERMS_CODE}."
    + hashlib.sha256(
        repr(
            (
                sorted(_STOP),
                sorted(DIGIT_WORDS.items()),
                sorted(TEENS.items()),
                sorted(TENS.items()),
                sorted(FILLER_WORDS),
            )
        ).encode()
    ).hexdigest()[:8]
)

_STEMS: dict[str, str] = {}
_STEM_CACHE_LIMIT = 50_000
_ENGLISH = snowballstemmer.stemmer("english")


def stem(word: str) -> str:
    """The Snowball (Porter2) English stem: "paintings", "painted" -> "paint".

    Only alphabetic words longer than three letters change, so numbers, codes and short words are
    never touched. Stems are cached: a stemmer call costs tens of microseconds, a lookup nothing.
    """
    cached = _STEMS.get(word)
    if cached is not None:
        return cached
    out = _ENGLISH.stemWord(word) if len(word) > 3 and word.isalpha() else word
    if len(_STEMS) < _STEM_CACHE_LIMIT:
        _STEMS[word] = out
    return out


def index_terms(text: str) -> list[str]:
    """The terms a row is indexed by and a query is matched with: ``tokenize`` then ``stem``."""
    return [stem(t) for t in tokenize(text)]


# A name said to address the other person ("Thanks, Dana!", "Hey Mel, ...", "..., Caroline.") says
# nothing about what the turn is about: a question naming that person must not find every greeting.
_INTERJECTION = (
    r"(?:hey|hi|hiya|hello|thanks|thank you|thx|wow|whoa|yeah|yep|yes|no|congrats|congratulations|oh|aw+|omg"
    r"|sure|great|good|nice|cool|right|so|haha|ha|lol|ok|okay|bye|dear|yo|welcome|morning|evening|well|hmm"
    r"|awesome|amazing|woo+hoo+|yay|sorry|cheers|see you|take care|good morning|good evening|good night)"
)
_VOCATIVE_LEAD = re.compile(
    rf"(?:^|(?<=[.!?]\s))(?i:{_INTERJECTION})[,!]?\s+([A-Z][a-z]+)(?=\s*[,!.?]|\s*$)", re.MULTILINE
)
_VOCATIVE_TAIL = re.compile(r",\s+([A-Z][a-z]+)(?=\s*[!.?]|\s*$)")
_VOCATIVE_START = re.compile(
    r"(?:^|(?<=[.!?]\s))([A-Z][a-z]+),\s+(?=(?:you|can|could|do|did|how|what|i|we|have|are|is|would|will|that|this|it)\b)"
)


def vocatives(text: str) -> list[str]:
    """The names ``text`` uses to address someone ("Thanks, Dana!" -> ["Dana"])."""
    if not any(c.isupper() for c in text):
        return []
    return [m.group(1) for pattern in (_VOCATIVE_LEAD, _VOCATIVE_START, _VOCATIVE_TAIL) for m in pattern.finditer(text)]


def without_vocatives(text: str) -> str:
    """The text without names used to address someone ("Thanks, Dana!" -> "Thanks!")."""
    if not any(c.isupper() for c in text):
        return text
    text = _VOCATIVE_LEAD.sub(lambda m: m.group(0)[: m.start(1) - m.start(0)].rstrip(), text)
    text = _VOCATIVE_START.sub("", text)
    return _VOCATIVE_TAIL.sub("", text)


def document_terms(text: str) -> list[str]:
    """The terms a remembered utterance is indexed by: ``index_terms`` of its words, names it uses
    to address someone left out."""
    return index_terms(without_vocatives(text))


def pack_terms(text: str) -> str:
    """``document_terms`` of a text as stored with its row: this version, then the terms separated by
    spaces (no term holds one)."""
    return f"{TERMS_VERSION}|{' '.join(document_terms(text))}"


def unpack_terms(packed: str | None) -> list[str] | None:
    """The terms ``pack_terms`` stored, or None (compute them from the text) for a row stored
    without terms or by another version of ``document_terms``."""
    if packed is None:
        return None
    version, _, joined = packed.partition("|")
    if version != TERMS_VERSION:
        return None
    return joined.split(" ") if joined else []

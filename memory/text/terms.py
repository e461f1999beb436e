"""The terms an utterance is indexed by and a query is matched with (lexical recall and compaction).

``tokenize`` lower-cases, joins spoken digits ("eight eight one" -> "881") and drops stop words;
``stem`` is the Snowball (Porter2) English stemmer with a cache; ``index_terms`` is both.
"""

from __future__ import annotations

import re

import snowballstemmer

from .spoken import normalize_spoken_digits

__all__ = ["index_terms", "stem", "tokenize"]

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

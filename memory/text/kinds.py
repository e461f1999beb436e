"""The vocabulary of calls as data: what a call is about, what a question asks, where it points.

``vocabulary.yaml`` beside this module holds every wording; this module compiles it once into
whole-word patterns and answers questions about one utterance. Matching is on the text with
fillers dropped and spoken digits joined, lower-cased.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

import yaml

from ..errors import ConfigError
from .spoken import normalize_spoken_digits
from .vocab import DIGIT_WORDS, FILLER_WORDS, TEENS, TENS

__all__ = [
    "Vocabulary",
    "asks_in",
    "booked_kinds_in",
    "episode_kinds_in",
    "forget_plain_texts",
    "is_acceptance",
    "is_confirmation",
    "is_correction",
    "is_filler",
    "is_not_done",
    "matches",
    "ordinal_in",
    "outcome_of",
    "plain",
    "vocabulary",
    "warm_ordinals",
    "without_fillers",
]

_WORDS = re.compile(r"[a-z0-9]+(?:['’&.-][a-z0-9]+)*")
_FILLER_TOKENS = re.compile(r"\b(?:" + "|".join(sorted(FILLER_WORDS, key=len, reverse=True)) + r")\b[,.]?\s*")
_FILLER_CASED = re.compile(_FILLER_TOKENS.pattern, re.IGNORECASE)
_REPEATED_WORD = re.compile(r"\b([a-z][a-z']*)(?: \1\b)+")  # words only: "22" is a number, not a stutter


@dataclass(frozen=True)
class Vocabulary:
    """``vocabulary.yaml``, compiled."""

    episode_kinds: Mapping[str, re.Pattern[str]]
    asks: Mapping[str, re.Pattern[str]]
    ask_values: Mapping[str, frozenset[str]]  # asked -> the value kinds that answer it
    ask_kinds: Mapping[str, frozenset[str]]  # asked -> the kinds of call it implies when none is named
    anchors: Mapping[str, re.Pattern[str]]
    ordinals: Mapping[str, int]
    confirmation: re.Pattern[str]
    correction: re.Pattern[str]
    acceptance: re.Pattern[str]
    not_accepted: re.Pattern[str]
    acceptance_request: re.Pattern[str]
    outcomes: Mapping[str, re.Pattern[str]]
    fillers: frozenset[str]
    filler_phrases: re.Pattern[str]
    common: frozenset[str]  # every word of the vocabulary and its plain words: none names one booking


_GAP = r",?\s+(?:(?:like|you know),?\s+)?"
"""Between the words of a phrase: a space, or a filler a recogniser keeps ("the time, like, before last";
"uh" and "um" are dropped before matching, "like" and "you know" cannot be: they are words too)."""


def _pattern(phrases: Iterable[str]) -> re.Pattern[str]:
    parts = []
    for phrase in sorted({str(p).lower() for p in phrases}, key=len, reverse=True):
        stem = phrase[:-1] if phrase.endswith("*") else phrase
        said = _GAP.join(re.escape(word) for word in stem.split(" "))
        parts.append(said + r"[\w'-]*" if phrase.endswith("*") else said)
    return re.compile(r"(?<![\w'-])(?:" + "|".join(parts) + r")(?![\w'-])")


@cache
def vocabulary() -> Vocabulary:
    """The compiled vocabulary (read from the package once)."""
    raw = yaml.safe_load(resources.files(__package__).joinpath("vocabulary.yaml").read_text(encoding="utf-8"))
    _only_words(raw, "vocabulary.yaml")
    fillers = [f.lower() for f in raw["fillers"]]
    return Vocabulary(
        episode_kinds={kind: _pattern(words) for kind, words in raw["episode_kinds"].items()},
        asks={name: _pattern(spec["words"]) for name, spec in raw["asks"].items()},
        ask_values={name: frozenset(spec["values"]) for name, spec in raw["asks"].items()},
        ask_kinds={name: frozenset(spec.get("kinds", ())) for name, spec in raw["asks"].items()},
        anchors={name: _pattern(words) for name, words in raw["anchors"].items()},
        ordinals={str(word).lower(): int(n) for word, n in raw["ordinals"].items()},
        confirmation=_pattern(raw["confirmations"]),
        correction=_pattern(raw["corrections"]),
        acceptance=re.compile(r"^(?:(?:oh|well|so|hmm|ah)\W+)?" + _pattern(raw["acceptances"]["words"]).pattern),
        not_accepted=_pattern(raw["acceptances"]["not_with"]),
        acceptance_request=_pattern(raw["acceptances"]["requests"]),
        outcomes={name: _pattern(words) for name, words in raw["outcomes"].items()},
        fillers=frozenset(f for f in fillers if " " not in f),
        filler_phrases=_pattern(f for f in fillers if " " in f or "-" in f),
        common=frozenset(_words_of(raw)),
    )


def _words_of(node: object) -> Iterable[str]:
    """Every word of the vocabulary's phrases and keys, lower case, without a trailing "*"."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _words_of(key)
            yield from _words_of(value)
    elif isinstance(node, list):
        for value in node:
            yield from _words_of(value)
    elif isinstance(node, str):
        yield from (w for w in _WORDS.findall(node.lower().replace("*", " ")))


def _only_words(node: object, where: str) -> None:
    """Every phrase of the vocabulary is a string: YAML reads a bare ``yes``/``no``/``on`` as a boolean."""
    if isinstance(node, dict):
        for key, value in node.items():
            _only_words(value, f"{where}: {key}")
    elif isinstance(node, list):
        for value in node:
            if not isinstance(value, str):
                raise ConfigError(f"{where}: {value!r} is not a quoted phrase")
    elif not isinstance(node, str | int):
        raise ConfigError(f"{where}: unexpected {type(node).__name__}")


_YOU_KNOW = re.compile(
    r"(?<!\bdo)(?<!\bdid)(?<!\bdoes)(?<!n't)(?<!\bif)(?<!\bto)(?<!'d)(?<!\bwould)(?<!\bwill)(?<!\blet)"
    r",?\s+you know\b,?(?!\s+(?:what|where|when|who|how|if|whether|that|about|the way)\b)",
    re.IGNORECASE,
)
_LIKE_SAID = frozenset(
    [
        "i",
        "you",
        "we",
        "they",
        "he",
        "she",
        "it",
        "people",
        "would",
        "i'd",
        "you'd",
        "we'd",
        "they'd",
        "he'd",
        "she'd",
        "it'd",
        "do",
        "does",
        "did",
        "don't",
        "doesn't",
        "didn't",
        "really",
        "also",
        "just",
        "still",
        "not",
        "never",
        "feel",
        "feels",
        "felt",
        "look",
        "looks",
        "looked",
        "sound",
        "sounds",
        "sounded",
        "seem",
        "seems",
        "seemed",
        "something",
        "anything",
        "nothing",
        "everything",
        "more",
        "much",
        "most",
        "very",
        "totally",
        "exactly",
        "kinda",
        "kind",
        "sort",
        "will",
        "i'll",
        "we'll",
        "might",
        "may",
        "to",
        "who",
        "that",
        "which",
        "what",
    ]
)
_LIKE = re.compile(r"(?<=\b)(\S+)(,?)\s+like,?(?=\s+\S)", re.IGNORECASE)
_SAID_TWICE = re.compile(r"\b([a-z][a-z']*)(?:\s+\1\b)+")  # lower case: "Walla Walla" is a name
_NUMBER_SAID = frozenset([*DIGIT_WORDS, *TEENS, *TENS, "oh", "o", "hundred", "thousand", "double", "triple"])


def _once(match: re.Match[str]) -> str:
    """A word said twice said once; not a number word ("seven seven six", "zero zero": digits said)."""
    return match.group(0) if match.group(1) in _NUMBER_SAID else match.group(1)


def _drop_like(match: re.Match[str]) -> str:
    before = match.group(1).lower().strip(",.;:!?")
    if before in _LIKE_SAID or (before.endswith("'d") or before.endswith("'ll")):
        return match.group(0)  # "I'd like", "looks like", "something like": the word, not a filler
    return match.group(1) + match.group(2)


def without_fillers(text: str) -> str:
    """The text as meant, case and punctuation kept: the recogniser's hesitations ("uh", "um") left out,
    "you know" and "like" where they are fillers ("seven thirty you know pm", "on the like tv", "the
    bedroom like speaker"; not "do you know", "I'd like", "looks like"), and a word said twice in a row
    said once ("on the the tv"). "11 um 30 am" is read as the time it is."""
    lowered = text.lower()
    if "you know" not in lowered and "like" not in lowered and not _FILLER_TOKENS.search(lowered):
        return _SAID_TWICE.sub(_once, text) if _SAID_TWICE.search(text) else text
    said = " ".join(_FILLER_CASED.sub(" ", text).split())
    if "you know" in lowered:
        said = " ".join(_YOU_KNOW.sub(" ", said).split())
    if "like" in lowered:
        said = _LIKE.sub(_drop_like, said)
    return _SAID_TWICE.sub(_once, said)


@lru_cache(maxsize=8192)
def plain(text: str) -> str:
    """Lower case, spoken digits joined, fillers ("uh", "um") dropped, a word said twice in a row said
    once ("three weeks weeks ago", "my first first call": a recogniser keeps the stutter), whitespace
    folded."""
    lowered = normalize_spoken_digits(text).lower().replace("’", "'")
    return _REPEATED_WORD.sub(r"\1", " ".join(_FILLER_TOKENS.sub(" ", lowered).split()))


def matches(pattern: re.Pattern[str], text: str) -> int:
    """How many times the phrases of ``pattern`` occur in ``text`` (already ``plain``)."""
    return sum(1 for _ in pattern.finditer(text))


_CLASS_NOUN = re.compile(r"\s+(?:genres?|categor(?:y|ies)|styles?|types?)\b")
"""A noun that names a class of things: a kind word right before it qualifies the class ("under the musical genre",
"a movie category"), it names no thing of its own."""

_NOT_NOUN = re.compile(
    r"\b(?:to|at|for|in|on|out|up|of|by|me|it|i|we|you|my|your|where|play\w*|watch\w*|wanna|hear\w*|listen\w*|"
    r"stream\w*|stay\w*|fly\w*|pay|order|eat\w*|ate|check|send|sent|put|see|visit|schedule\w*|set|pick\w*|drop|"
    r"return|rent|rented|renting)\b"
)
"""A word that makes a phrase of the vocabulary a verb's or a preposition's ("play the", "to watch", "reservation at",
"my checking"): no noun, so it qualifies no noun after it and is no noun a word before it qualifies."""

_FOR_A_THING = re.compile(r"tickets?(?: to| for)?|rides?|shows?|rental|tours?")
"""A noun whose kind is that of the thing it is for: "bus tickets", "a bus ride", "the movie shows", "a movie rental",
"an apartment tour" are the bus's, the movie's, the apartment's."""


def _kind_spans(said: str) -> dict[str, list[tuple[int, int]]]:
    """Where each kind of thing is named in ``said`` (already ``plain``), less a kind word that only qualifies a noun
    after it: in an English noun phrase the last noun is the head and the nouns before it say which of the head's
    things is meant ("some music events", "a jazz festival", "the airport hotel": an event, an event, a hotel). So a
    kind word right before a noun of another kind counts as that noun's kind only, and before a noun naming a class
    ("the musical genre": a film's genre, no show) as nothing; a noun taking the kind of what it is for ("bus
    tickets") leaves the words before it their own kind."""
    found = [
        (m.start(), m.end(), kind)
        for kind, pattern in vocabulary().episode_kinds.items()
        for m in pattern.finditer(said)
        if not _CLASS_NOUN.match(said, m.end())
    ]
    heads = {
        a: kind for a, b, kind in found if not _FOR_A_THING.fullmatch(said[a:b]) and not _NOT_NOUN.search(said[a:b])
    }
    spans: dict[str, list[tuple[int, int]]] = {}
    for a, b, kind in found:
        gap = len(said[b:]) - len(said[b:].lstrip())
        head = heads.get(b + gap) if gap and said[b : b + gap] == " " * gap else None
        if head is not None and head != kind and not _NOT_NOUN.search(said[a:b]):
            continue  # qualifies the noun after it: that noun's kind
        spans.setdefault(kind, []).append((a, b))
    return spans


def episode_kinds_in(text: str) -> Counter[str]:
    """The kinds of thing ``text`` talks about ("a table for two" -> restaurant), with counts: a kind word that only
    qualifies a noun after it counts as that noun's kind (see :func:`_kind_spans`)."""
    return Counter({kind: len(found) for kind, found in _kind_spans(plain(text)).items()})


def booked_kinds_in(text: str) -> Counter[str]:
    """The kinds of thing a caller's words point at when they name a booking ("the first bus tickets", "the second
    place i booked to stay"): :func:`episode_kinds_in`, less a kind named only by words that name another kind as
    well, which the words name by words of its own besides ("the place i booked to stay": a room, not a table), and
    less the event of "tickets" said right after another kind of thing ("the bus tickets", "a flight ticket to
    seattle": that thing's tickets)."""
    said = plain(text)
    spans = _kind_spans(said)
    others = {kind: [s for k, found in spans.items() if k != kind for s in found] for kind in spans}
    for kind in spans:  # a phrase within another kind's ("tickets" in "train tickets") is that kind's
        spans[kind] = [
            (a, b) for a, b in spans[kind] if not any(c <= a and b <= d and (c, d) != (a, b) for c, d in others[kind])
        ]
    if "event" in spans:
        ends = {end for _, end in others["event"]}
        spans["event"] = [(a, b) for a, b in spans["event"] if not (said.startswith("ticket", a) and a - 1 in ends)]
    found: Counter[str] = Counter()
    for kind, own in spans.items():
        shared = any(
            other != kind and set(own) < set(theirs) for other, theirs in spans.items()
        )  # every phrase of it is another kind's, which the words name by more
        if own and not shared:
            found[kind] = len(own)
    return found


def asks_in(question: str) -> frozenset[str]:
    """What a question asks for: ``time``, ``date``, ``name``, ``count``, ``address``, ``phone``,
    ``reference``, ``amount``, ``duration``, ``status``."""
    said = plain(question)
    return frozenset(name for name, pattern in vocabulary().asks.items() if pattern.search(said))


_NUMBERED = re.compile(
    r"\b(?:call|booking|order|visit|time)\s+(?:number|no\.?|#)\s*("
    + "|".join(w for w, n in DIGIT_WORDS.items() if n)
    + r"|[1-9])\b"
)
"""ordinals said as a numbered item: "call number two", "booking no. 3"."""


def ordinal_in(question: str) -> int | None:
    """The n of "my second call", "the third time", "call number two" (None when the question names no ordinal)."""
    said = plain(question)
    for word, n in vocabulary().ordinals.items():
        if word not in said:  # both phrases say the word itself
            continue
        if _ordinal_patterns(word)[0].search(said) or _ordinal_patterns(word)[1].search(said):
            return n
    numbered = _NUMBERED.search(said)
    if numbered:
        word = numbered.group(1)
        return int(word) if word.isdigit() else DIGIT_WORDS[word]
    return None


def warm_ordinals() -> None:
    """Compile each ordinal's phrases (:func:`ordinal_in` compiles a word's on its first use, a few milliseconds
    each) now, off the reply path: see :func:`memory.recall.query.warm_up`."""
    for word in vocabulary().ordinals:
        _ordinal_patterns(word)


@cache
def _ordinal_patterns(word: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """ "my second call", "the second, like, time"; "when I called (you) (for) the second time", "rang us
    the third time" (a filler a recogniser keeps may sit between the words)."""
    said = re.escape(word)
    return (
        re.compile(rf"\b{said}{_GAP}(?:call|calls|time|booking|order|visit|one|occasion)\b"),
        re.compile(
            rf"\b(?:called|rang|phoned|contacted|calling|ringing|phoning){_GAP}(?:(?:you|us){_GAP})?"
            rf"(?:for{_GAP})?the{_GAP}{said}{_GAP}time\b"
        ),
    )


def is_confirmation(text: str) -> bool:
    """Does the (agent's) utterance confirm or report what was booked or done?"""
    return vocabulary().confirmation.search(plain(text)) is not None


def is_correction(text: str) -> bool:
    """Does the (caller's) utterance change what was just read back ("No, make it the 8th", "actually,
    I'd rather see Stockholm", "on second thought, the bedroom speaker")?"""
    return vocabulary().correction.search(plain(text)) is not None


def is_acceptance(text: str) -> bool:
    """Does the (caller's) utterance take what was just offered ("Sounds perfect.", "Ok that's good,
    play it")? Not when it asks for something else, corrects, or asks a question that is no request."""
    said = plain(text)
    words = vocabulary()
    if not words.acceptance.search(said) or words.not_accepted.search(said) or words.correction.search(said):
        return False
    return "?" not in text or words.acceptance_request.search(said) is not None


def is_not_done(text: str) -> bool:
    """Does the (agent's) utterance report that it could not do it ("the reservation was not
    successful", "no tables are available")?"""
    return vocabulary().outcomes["not_done"].search(plain(text)) is not None


def outcome_of(agent_turns: Iterable[str]) -> str:
    """How a call ended, from the agent's turns, last first: ``cancelled``, ``booked``, ``resolved``,
    ``promised``, ``failed`` or ``open``."""
    outcomes = vocabulary().outcomes
    for text in reversed(list(agent_turns)):
        said = plain(text)
        if outcomes["not_done"].search(said):  # "the reservation was not successful" booked nothing
            return "failed"
        for name in ("cancelled", "booked", "resolved", "promised", "failed"):
            if outcomes[name].search(said):
                return name
    return "open"


@lru_cache(maxsize=8192)
def is_filler(text: str) -> bool:
    """Is the utterance only a backchannel, pleasantry or stall ("Mm-hmm, go on.", "Thank you very much.")?"""
    words = vocabulary()
    said = words.filler_phrases.sub(" ", plain(text))
    tokens = _WORDS.findall(said)
    return all(t in words.fillers for t in tokens)


def forget_plain_texts() -> None:
    """Drop the cached readings of utterances (they hold callers' words): after a caller is deleted."""
    plain.cache_clear()
    is_filler.cache_clear()

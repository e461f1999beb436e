"""Classifying one turn of a call: what it holds, what is kept exactly, what is dropped (deterministic)."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field

from ..text.dates import find_dates
from ..text.facts import amounts_in, references
from ..text.facts import facts as durable_facts
from ..text.promises import commitments, spoken_name
from ..text.quote import quote
from ..text.spoken import extract_identifiers, normalize_spoken_digits
from ..text.terms import index_terms
from .patterns import (
    _ACCOUNT_STATE,
    _ANSWER,
    _ASKS_NAME,
    _BACKCHANNEL,
    _CAPITALISED,
    _CLOCK,
    _CLOCK_WORDS,
    _CODE,
    _DANGLING,
    _DIGITS,
    _FILLER,
    _IDENTITY_CHECK,
    _INTRODUCES,
    _LEAD_IN,
    _META,
    _MONTH_IN,
    _NOT_CODE,
    _NOT_NAME,
    _NUMBER_WORDS,
    _ORDINAL_TEENS,
    _ORDINAL_UNITS,
    _ORDINAL_WORD,
    _OWN_ACTION,
    _PHRASE_FILLER,
    _PREFERENCE,
    _REPEATED_WORD,
    _SENTENCE,
    _SMALL_TALK,
    _SPACES,
    _STREET_ADDRESS,
    _VERIFIED,
    _WEAK_DATES,
    _WORD,
)
from .policy import Turn


@dataclass(slots=True)
class Digest:
    """What one turn holds, worked out once (see :func:`classify`).

    ``kind``: "filler" (backchannel), "meta" (stall or repair), "smalltalk", "answer" (a bare yes
    or no), "content" (substantive, summarised) or "key" (durable signal, kept exactly).
    """

    kind: str
    key: list[str] = field(default_factory=list)  # sentences with durable signal, as said (fillers removed)
    content: list[str] = field(default_factory=list)  # other substantive sentences
    tags: list[str] = field(default_factory=list)  # values in normal form, for the notes line
    values: set[str] = field(default_factory=set)  # exact values, for recall (digits, refs, e-mails)
    kinds: set[str] = field(default_factory=set)  # what kinds of values the turn holds
    identity: list[str] = field(default_factory=list)  # who the caller is / how identified
    promise: bool = False
    terms: frozenset[str] = frozenset()  # content terms of the whole turn (repetition, recall)


def _clean(text: str) -> str:
    text = _FILLER.sub("", text)
    text = _PHRASE_FILLER.sub(",", text)

    def undouble(m: re.Match[str]) -> str:
        word = m.group(1)
        return m.group(0) if word.lower() in _NUMBER_WORDS else word

    text = _REPEATED_WORD.sub(undouble, text)
    text = _SPACES.sub(" ", text)
    text = re.sub(r"\s+([,.;!?])", r"\1", text)
    text = re.sub(r"([,;])(?:\s*[,;])+", r"\1", text)
    return _DANGLING.sub("", text).strip()


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _is_backchannel(words: list[str]) -> bool:
    return all(w in _BACKCHANNEL for w in words)


def _clock_times(text: str) -> list[str]:
    found = []
    for m in _CLOCK.finditer(text):
        if m.group(4):
            found.append(m.group(4).lower())
        elif m.group(1):
            suffix = m.group(3).lower().replace(".", "")
            found.append(f"{m.group(1)}:{m.group(2)}{suffix}" if m.group(2) else f"{m.group(1)}{suffix}")
        else:
            minutes = {"fifteen": "15", "thirty": "30", "forty-five": "45", "forty five": "45"}.get(
                (m.group(6) or "").lower()
            )
            suffix = m.group(7).lower().replace(".", "")
            hour = _CLOCK_WORDS[m.group(5).lower()]
            found.append(f"{hour}:{minutes}{suffix}" if minutes else f"{hour}{suffix}")
    return [t.replace("o'clock", " o'clock").strip() for t in found]


def _ordinals_as_digits(text: str) -> str:
    """ "November third" -> "November 3rd", "the twenty first" -> "the 21st" (so the date is found)."""

    def digits(m: re.Match[str]) -> str:
        month_before, tens, word, month_after = m.groups()
        if not month_before and not month_after:
            return m.group(0)
        word = word.lower()
        value = _ORDINAL_UNITS.get(word) or _ORDINAL_TEENS[word]
        if tens:
            if word not in _ORDINAL_UNITS:
                return m.group(0)
            value += 20 if tens.lower() == "twenty" else 30
        if value > 31:
            return m.group(0)
        suffix = "th" if 10 <= value % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(value % 10, "th")
        return f"{month_before or ''}{value}{suffix}"

    return _ORDINAL_WORD.sub(digits, text)


def _as_quoted(sentence: str, normalized: str) -> str:
    """The sentence as quoted in the notes: spoken digits joined (unless that mangles a clock
    time), without a leading "okay, so", "yeah", "oh, and"."""
    if normalized != sentence and re.search(r"\b\d{3,4}\s*(?:am|pm|a\.m\.|p\.m\.|o'clock)", normalized, re.I):
        normalized = sentence
    stripped = _LEAD_IN.sub("", normalized)
    return stripped[:1].upper() + stripped[1:] if stripped else normalized


def classify(
    turn: Turn,
    *,
    previous: Turn | None = None,
    plans: tuple[str, ...] = (),
    region: str = "US",
) -> Digest:
    """Classify one turn and extract its durable signal (deterministic, no model).

    ``previous`` is the turn before: a bare "yes" after a question is an answer, not a filler, and
    the reply to "could I have your name?" or "can you confirm your date of birth?" identifies the
    caller.
    """
    if turn.role == "tool":
        return _classify_tool(turn)
    cleaned = _clean(turn.text.strip())
    words = _words(cleaned)
    if not words:
        return Digest("filler")
    asked = previous is not None and previous.role == "assistant" and previous.text.rstrip().endswith("?")
    if _is_backchannel(words):
        if asked and words[0] in _ANSWER and len(words) <= 4:
            return Digest("answer", content=[cleaned], terms=frozenset(words))
        return Digest("filler")
    context = _Context(turn, previous if asked else None, plans, region)
    digest = Digest("content")
    skipped_meta = skipped_small = 0
    for sentence in _SENTENCE.split(cleaned):
        sentence = _DANGLING.sub("", sentence).strip()
        swords = _words(sentence)
        if not swords:
            continue
        quoted = _signals(sentence, context, digest)
        if quoted is not None:
            digest.key.append(quoted)
            continue
        if _is_backchannel(swords):
            continue
        if _META.search(sentence):
            skipped_meta += 1
            continue
        if _SMALL_TALK.search(sentence):
            skipped_small += 1
            continue
        if len([w for w in swords if w not in _BACKCHANNEL]) >= 2:
            digest.content.append(sentence)
    digest.tags = list(dict.fromkeys(digest.tags))
    digest.terms = frozenset(index_terms(cleaned))
    if digest.key:
        digest.kind = "key"
    elif not digest.content:
        digest.kind = (
            "meta" if skipped_meta >= skipped_small and skipped_meta else "smalltalk" if skipped_small else "filler"
        )
    return digest


@dataclass(frozen=True, slots=True)
class _Context:
    turn: Turn
    question: Turn | None  # the agent's question this turn answers, if any
    plans: tuple[str, ...]
    region: str


def _signals(sentence: str, ctx: _Context, digest: Digest) -> str | None:
    """Durable signal in one sentence: adds its tags, values, kinds and identity to ``digest`` and
    returns the sentence as it is quoted in the notes, or ``None`` if it holds no durable signal."""
    turn = ctx.turn
    strong = False
    tags: list[str] = []
    normalized = normalize_spoken_digits(sentence)
    lowered = normalized.lower()
    covered: set[str] = set()
    for ref in references(sentence):
        tags.append(ref.label)
        digest.values.add(ref.value.lower())
        digest.kinds.update({ref.kind, "number"})
        covered.add(ref.value.lower())
        strong = True
    if turn.role == "user":
        for ident in extract_identifiers(sentence, region=ctx.region):
            tags.append(f"{ident.kind} {ident.value}")
            digest.values.add(ident.value.lower())
            digits = re.sub(r"\D", "", ident.value)
            if ident.kind == "phone":
                digest.values.add(digits[-10:])
            digest.kinds.add(ident.kind)
            digest.identity.append(f"{ident.kind} {ident.value} (said)")
            covered.update({digits, digits[-10:], ident.value.lower()})
            strong = True
        name = _caller_name(sentence, ctx.question)
        if name:
            digest.identity.append(f"name {quote(name)}")
            digest.kinds.add("name")
            digest.values.add(name.lower())
            strong = True
    check = _IDENTITY_CHECK.search(sentence)
    if check:
        if turn.role == "assistant" and _VERIFIED.search(sentence):
            digest.identity.append("verified by the agent")
        digest.kinds.add("identity")
        strong = True
    if turn.role == "user" and ctx.question is not None:
        asked_check = _IDENTITY_CHECK.search(ctx.question.text)
        if asked_check and not _VERIFIED.search(ctx.question.text):
            digest.identity.append(f"{asked_check.group(1).lower()} given")
            digest.kinds.add("identity")
            strong = True
    for amount in amounts_in(normalized):
        tags.append(amount)
        digest.values.add(amount[1:])
        digest.kinds.add("amount")
        covered.update({amount[1:], *amount[1:].split(".")})
        strong = True
    dated = _ordinals_as_digits(normalized)
    for phrase, day in find_dates(dated, turn.at):
        year = re.search(re.escape(phrase) + r",?\s+((?:19|20)\d\d)\b", dated, re.IGNORECASE)
        if year:
            with contextlib.suppress(ValueError):
                day = day.replace(year=int(year.group(1)))
            phrase = f"{phrase}, {year.group(1)}"
            covered.add(year.group(1))
            tags.append(f"{phrase}: {day:%a %Y-%m-%d}")
        elif _MONTH_IN.search(phrase):  # a calendar day said without a year: which year is a guess
            tags.append(f"{phrase}: {day:%b} {day.day}")
        else:
            tags.append(f"{phrase}: {day:%a %Y-%m-%d}")
        digest.kinds.add("date")
        digest.values.add(f"{day:%Y-%m-%d}")
        strong = strong or phrase.lower() not in _WEAK_DATES
    for clock in _clock_times(sentence):
        tags.append(clock)
        digest.kinds.add("time")
        digest.values.add(clock)
        covered.update(re.findall(r"\d+", clock))
        strong = True
    for code in _CODE.findall(normalized):
        if _NOT_CODE.fullmatch(code) or code.lower() in covered:
            continue
        tags.append(code)
        digest.values.add(code.lower())
        digest.kinds.update({"code", "number"})
        covered.update({code.lower(), *re.findall(r"\d+", code)})
        strong = True
    for run in _DIGITS.findall(normalized):
        digits = run.strip(".,-/")
        bare = re.sub(r"\D", "", digits)
        if not bare:
            continue
        digest.values.add(digits.lower())
        digest.values.add(bare)
        digest.kinds.add("number")
        strong = True
        if digits.lower() not in covered and bare not in covered:
            tags.append(digits)
    if any(w in _NUMBER_WORDS and w not in ("oh", "double", "triple") for w in _words(sentence)):
        digest.kinds.add("number")
        strong = True
    for fact in durable_facts(sentence, turn.role, turn.at, plans=ctx.plans, region=ctx.region):
        tags.append(f"{fact.attribute}: {quote(fact.value)}")
        digest.kinds.add(fact.attribute if fact.attribute in ("address", "email", "phone") else "preference")
        digest.values.add(fact.value.lower())
        strong = True
    promised = [c for c in commitments(sentence) if not _OWN_ACTION.search(c) and not _META.search(c)]
    if promised:
        digest.promise = digest.promise or turn.role == "assistant"
        digest.kinds.add("promise")
        strong = True
    if _ACCOUNT_STATE.search(lowered):
        digest.kinds.add("state")
        strong = True
    if _STREET_ADDRESS.search(normalized):
        digest.kinds.add("address")
        strong = True
    if _PREFERENCE.search(lowered):
        digest.kinds.add("preference")
        strong = True
    if not strong:
        return None
    digest.tags.extend(tags)
    return _as_quoted(sentence, normalized)


def _caller_name(sentence: str, question: Turn | None) -> str | None:
    """A name the caller gives: "my name is ...", "this is ...", or a reply to "could I have your name?"."""
    name = spoken_name(sentence)
    if name:
        return name
    match = _INTRODUCES.search(sentence)
    if match:
        return match.group(1)
    if question is not None and _ASKS_NAME.search(question.text):
        for run in _CAPITALISED.findall(sentence):
            words = [w for w in run.split() if w not in _NOT_NAME]
            if words and len(words) <= 3:
                return " ".join(words)
    return None


def _classify_tool(turn: Turn) -> Digest:
    digest = Digest("key")
    tags: list[str] = []
    normalized = normalize_spoken_digits(turn.text)
    for ref in references(turn.text):
        tags.append(ref.label)
        digest.values.add(ref.value.lower())
        digest.kinds.update({ref.kind, "number"})
    for amount in amounts_in(normalized):
        tags.append(amount)
        digest.values.add(amount[1:])
        digest.kinds.add("amount")
    for run in _DIGITS.findall(normalized):
        digest.values.add(run.strip(".,-/").lower())
    digest.tags = list(dict.fromkeys(tags))[:8]
    digest.terms = frozenset(index_terms(turn.text))
    return digest

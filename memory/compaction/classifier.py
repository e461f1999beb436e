"""Classifying one turn of a call: what it holds, what is kept exactly, what is dropped (deterministic)."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field

from ..text.dates import find_dates
from ..text.facts import facts as durable_facts
from ..text.facts import references
from ..text.kinds import is_confirmation
from ..text.promises import commitments, spoken_name
from ..text.quote import quote
from ..text.spoken import extract_identifiers, join_spoken_digits, normalize_spoken_digits
from ..text.terms import index_terms
from ..text.values import Value, values_in
from .patterns import (
    ACCOUNT_STATE,
    ANSWER,
    ASKS_NAME,
    BACKCHANNEL,
    CAPITALISED,
    CLOCK_WORDS,
    DANGLING,
    DAY_OF_MONTH,
    DIGITS,
    FILLER,
    FOR_THE_CALLER,
    IDENTITY_CHECK,
    INTRODUCES,
    LEAD_IN,
    META,
    MONTH_IN,
    NOT_NAME,
    NUMBER_TOKENS,
    ORDINAL_TEENS,
    ORDINAL_UNITS,
    ORDINAL_WORD,
    OWN_ACTION,
    OWN_CHECK,
    PHRASE_FILLER,
    PREFERENCE,
    QUESTION,
    REPEATED_WORD,
    SENTENCE,
    SMALL_TALK,
    SPACES,
    VERIFIED,
    WEAK_DATES,
    WORD,
    asks,
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
    said: list[Value] = field(default_factory=list)  # the values of the kept sentences, as spans of what was said


def _clean(text: str) -> str:
    text = FILLER.sub("", text)
    text = PHRASE_FILLER.sub(",", text)

    def undouble(m: re.Match[str]) -> str:
        word = m.group(1)
        return m.group(0) if word.lower() in NUMBER_TOKENS else word

    text = REPEATED_WORD.sub(undouble, text)
    text = SPACES.sub(" ", text)
    text = re.sub(r"\s+([,.;!?])", r"\1", text)
    text = re.sub(r"([,;])(?:\s*[,;])+", r"\1", text)
    return DANGLING.sub("", text).strip()


def _words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def _is_backchannel(words: list[str]) -> bool:
    return all(w in BACKCHANNEL for w in words)


def _ordinals_as_digits(text: str) -> str:
    """ "November third" -> "November 3rd", "the twenty first" -> "the 21st" (so the date is found)."""

    def digits(m: re.Match[str]) -> str:
        month_before, tens, word, month_after = m.groups()
        if not month_before and not month_after:
            return m.group(0)
        word = word.lower()
        value = ORDINAL_UNITS.get(word) or ORDINAL_TEENS[word]
        if tens:
            if word not in ORDINAL_UNITS:
                return m.group(0)
            value += 20 if tens.lower() == "twenty" else 30
        if value > 31:
            return m.group(0)
        suffix = "th" if 10 <= value % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(value % 10, "th")
        return f"{month_before or ''}{value}{suffix}"

    return ORDINAL_WORD.sub(digits, text)


def _as_quoted(sentence: str) -> str:
    """The sentence as quoted in the notes: as said, with only the certain normalisation (digits
    said one by one in words joined, :func:`~memory.text.spoken.join_spoken_digits`), without a
    leading "okay, so", "yeah", "oh, and"."""
    joined = join_spoken_digits(sentence)
    stripped = LEAD_IN.sub("", joined)
    return stripped[:1].upper() + stripped[1:] if stripped else joined


def classify(
    turn: Turn,
    *,
    previous: Turn | None = None,
    plans: tuple[str, ...] = (),
    region: str = "US",
    kind_only: bool = False,
) -> Digest:
    """Classify one turn and extract its durable signal (deterministic, no model).

    ``previous`` is the turn before: a bare "yes" after a question is an answer, not a filler, and
    the reply to "could I have your name?" or "can you confirm your date of birth?" identifies the
    caller. ``kind_only``: only what the turn is and its terms, the values read only where they decide
    it (for the caller's newest words before a reply; the whole reading is done between turns): a
    substantive turn is "content" unless its values were read to tell, the others as without it.
    """
    if turn.role == "tool":
        return _classify_tool(turn)
    cleaned = _clean(turn.text.strip())
    words = _words(cleaned)
    if not words:
        return Digest("filler")
    asked = previous is not None and previous.role == "assistant" and asks(previous.text)
    if _is_backchannel(words):
        if asked and words[0] in ANSWER and len(words) <= 4:
            return Digest("answer", content=[cleaned], terms=frozenset(words))
        return Digest("filler")
    context = _Context(turn, previous if asked else None, plans, region, previous)
    # a reply to a question may be one word: the caller's "a double, please", the agent's "oh that is reggae"
    replies = asked or (
        turn.role == "assistant" and previous is not None and previous.role == "user" and asks(previous.text)
    )
    digest = Digest("content")
    skipped_meta = skipped_small = 0
    for sentence in SENTENCE.split(cleaned):
        sentence = DANGLING.sub("", sentence).strip()
        swords = _words(sentence)
        if not swords:
            continue
        substantive = (
            not _is_backchannel(swords)
            and not _meta(sentence)
            and not _small_talk(sentence)
            and len([w for w in swords if w not in BACKCHANNEL]) >= (1 if replies else 2)
        )
        if substantive and kind_only:  # key or content: which one needs the values, not wanted here
            return Digest("content", terms=frozenset(index_terms(cleaned)))
        quoted = _signals(sentence, context, digest)
        if quoted is not None:
            if kind_only:
                return Digest("key", terms=frozenset(index_terms(cleaned)))
            digest.key.append(quoted)
            continue
        if substantive:
            digest.content.append(sentence)
        elif _is_backchannel(swords):
            continue
        elif _meta(sentence):
            skipped_meta += 1
        elif _small_talk(sentence):
            skipped_small += 1
    digest.tags = list(dict.fromkeys(digest.tags))
    digest.terms = frozenset(index_terms(cleaned))
    if digest.key:
        digest.kind = "key"
    elif not digest.content:
        digest.kind = (
            "meta" if skipped_meta >= skipped_small and skipped_meta else "smalltalk" if skipped_small else "filler"
        )
    return digest


def _meta(sentence: str) -> bool:
    """Whether a sentence is a stall or a repair ("hold on, let me think for a second", "sorry, can you repeat
    that?") with little else said. A long sentence that holds such words in passing asks for something: "hold on i
    want to book a table for four at the italian place at seven" is a request (the recogniser's text has no full
    stops to split it at)."""
    return _aside(META, sentence, _META_ASIDE)


_META_ASIDE = 7  # words besides the stall or repair (and backchannel words) that make it an aside


def _small_talk(sentence: str) -> bool:
    """Whether a sentence is small talk: a pleasantry ("have a great day", "how's it going") with little
    else said. A long sentence that only holds such words in passing says something else: "how about
    linkin park's good goodbye from the album one more light" offers a song."""
    return _aside(SMALL_TALK, sentence, _SMALL_TALK_ASIDE)


_SMALL_TALK_ASIDE = 5  # words besides the pleasantry (and backchannel words) that make it an aside


def _aside(pattern: re.Pattern[str], sentence: str, fewer_than: int) -> bool:
    """Whether ``sentence`` says what ``pattern`` finds with fewer than ``fewer_than`` other words (backchannel
    words aside)."""
    if not pattern.search(sentence):
        return False
    rest = [w for w in _words(pattern.sub(" ", sentence)) if w not in BACKCHANNEL]
    return len(rest) < fewer_than


@dataclass(frozen=True, slots=True)
class _Context:
    turn: Turn
    question: Turn | None  # the agent's question this turn answers, if any
    plans: tuple[str, ...]
    region: str
    previous: Turn | None = None  # the turn before, whoever said it


_KEPT_KINDS = frozenset(
    {"reference", "phone", "email", "time", "date", "day", "duration", "amount", "count", "address", "car_type",
     "colour", "price", "number", "place", "account", "payee", "class"}
)  # fmt: skip
"""Value kinds that make a sentence durable wherever they are said (a name only when the agent confirms
or repeats it)."""
_CURRENCY_SIGNS = {"usd": "$", "gbp": "£", "eur": "€"}


def _signals(sentence: str, ctx: _Context, digest: Digest) -> str | None:
    """Durable signal in one sentence: adds its tags, values, kinds and identity to ``digest`` and
    returns the sentence as it is quoted in the notes, or ``None`` if it holds no durable signal.

    Every value is read by the shared readers (:func:`~memory.text.values.values_in`, typed references,
    identifiers) as a span of what was said; a tag is that span, or its certain normal form (digits said
    in words as digits, "$42.10", a relative day resolved against when it was said)."""
    turn = ctx.turn
    strong = False
    tags: list[str] = []
    said = values_in(sentence)
    if turn.role == "assistant" and ctx.previous is not None and ctx.previous.role == "user":
        said = _priced(sentence, said, ctx.previous.text)
    joined = join_spoken_digits(sentence)
    covered: set[str] = set()
    for ref in references(sentence, certain=True):
        tags.append(ref.label)
        digest.values.add(ref.value.lower())
        digest.kinds.update({ref.kind, "number"})
        covered.update({ref.value.lower(), *re.findall(r"\d+", ref.value)})
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
    check = _identity_check(sentence, ctx, said)
    if check:
        digest.identity.append(check)
        digest.kinds.add("identity")
        strong = True
    kept: list[Value] = []
    for value in said:
        if value.kind == "name" and not _durable_name(value, sentence, ctx):
            continue
        if value.kind == "date" and value.normalised in WEAK_DATES:
            continue
        kept.append(value)
        digest.kinds.add(value.kind)
        digest.values.add(value.normalised)
        if value.kind in ("number", "phone", "reference", "amount", "count", "address"):
            digest.kinds.add("number")
        tag = value_tag(value)
        if tag is None or tag.lower() in covered:
            continue
        if value.kind == "number" and (tag in covered or set(re.findall(r"\d+", tag)) <= covered):
            continue
        tags.append(tag)
        covered.update({tag.lower(), *re.findall(r"\d+", tag)})
    strong = strong or any(v.kind in _KEPT_KINDS or v.kind == "name" for v in kept)
    dated = _ordinals_as_digits(joined)
    for phrase, day in find_dates(dated, turn.at):
        year = re.search(re.escape(phrase) + r",?\s+((?:19|20)\d\d)\b", dated, re.IGNORECASE)
        if year:
            with contextlib.suppress(ValueError):
                day = day.replace(year=int(year.group(1)))
            phrase = f"{phrase}, {year.group(1)}"
            tags.append(f"{phrase}: {day:%a %Y-%m-%d}")
        elif MONTH_IN.search(phrase):  # a calendar day said without a year: which year is a guess
            tags.append(f"{phrase}: {day:%b} {day.day}")
        elif DAY_OF_MONTH.fullmatch(phrase):  # "the 2nd": which month is a guess
            tags.append(phrase)
        else:
            tags.append(f"{phrase}: {day:%a %Y-%m-%d}")
        digest.kinds.add("date")
        digest.values.add(f"{day:%Y-%m-%d}")
        strong = strong or phrase.lower() not in WEAK_DATES
    for run in DIGITS.findall(normalize_spoken_digits(sentence)):  # for recall by value only, never shown
        digits = run.strip(".,-/")
        if re.sub(r"\D", "", digits):
            digest.values.update({digits.lower(), re.sub(r"\D", "", digits)})
    if any(w in NUMBER_TOKENS and w not in ("one", "oh", "double", "triple") for w in _words(sentence)):
        digest.kinds.add("number")
        strong = True
    for fact in durable_facts(sentence, turn.role, turn.at, plans=ctx.plans, region=ctx.region, certain=True):
        tags.append(f"{fact.attribute}: {quote(fact.value)}")
        digest.kinds.add(fact.attribute if fact.attribute in ("address", "email", "phone") else "preference")
        digest.values.add(fact.value.lower())
        strong = True
    promised = [c for c in commitments(sentence) if not OWN_ACTION.search(c) and not META.search(c)]
    if promised:
        digest.promise = digest.promise or turn.role == "assistant"
        digest.kinds.add("promise")
        strong = True
    lowered = joined.lower()
    if ACCOUNT_STATE.search(lowered):
        digest.kinds.add("state")
        strong = True
    # a street address, by the shared reader (digits said one by one joined: "four two eight eight dublin boulevard")
    if any(v.kind == "address" for v in (said if joined == sentence else values_in(joined))):
        digest.kinds.add("address")
        strong = True
    if PREFERENCE.search(lowered):
        digest.kinds.add("preference")
        strong = True
    if not strong:
        return None
    digest.tags.extend(tags)
    digest.said.extend(kept)
    return _as_quoted(sentence)


_ASKS_PRICE = re.compile(r"\b(?:how much|cost|costs|price|fare|total|charge)\b", re.IGNORECASE)
_BARE_PRICE = re.compile(
    r"^\W*(?:(?:it|that|this|the (?:total|cost|price|fare))(?:'s| is| was| will be| would be| comes to)\s+)?"
    r"(?:(?:approx(?:imately)?|about|around|roughly|only|just)\s+)?(\d[\d,]*(?:\.\d{1,2}|\s\d{2})?)\W*$",
    re.IGNORECASE,
)


def _priced(sentence: str, said: list[Value], asked: str) -> list[Value]:
    """``said`` with a number said alone in answer to the caller's "how much" ("total cost" - "56", "how much would it
    cost" - "it is approx 8 64") read as the amount it answers, as said."""
    m = _BARE_PRICE.match(sentence)
    if m is None or not _ASKS_PRICE.search(asked) or any(v.kind == "amount" for v in said):
        return said
    start, end = m.span(1)
    amount = Value("amount", sentence[start:end], start, end, m.group(1))  # as said: no digit joined
    return sorted([v for v in said if v.end <= start or v.start >= end] + [amount], key=lambda v: v.start)


def value_tag(value: Value) -> str | None:
    """A value as tagged in the notes: the span said, or its certain normal form."""
    if value.kind == "amount":
        number, _, currency = value.normalised.partition(" ")
        if not re.fullmatch(r"\d+(?:\.\d+)?", number) or re.search(r"hundred|thousand|million", value.text, re.I):
            return value.text  # "one thousand five hundred bucks": a sum of words stays as said
        written = re.search(r"\d[\d,]*(?:\.\d+)?", value.text)  # "$1,728" keeps its comma: as written
        if written and written.group(0).replace(",", "") == number:
            number = written.group(0)
        return f"{_CURRENCY_SIGNS[currency]}{number}" if currency in _CURRENCY_SIGNS else value.normalised
    if value.kind == "time":
        words = [CLOCK_WORDS.get(w, w) for w in value.normalised.split()]
        return re.sub(r"\s+(am|pm)$", r"\1", " ".join(words)).replace("o'clock", " o'clock").strip()
    if value.kind in ("number", "phone") and re.search(r"[a-z]", value.text, re.IGNORECASE):
        return value.normalised  # digits said one by one in words, joined
    if value.kind in ("date",):
        return None  # dates are tagged with the day they name, below
    if value.kind == "price" and value.normalised not in value.text.lower():
        return f"{value.text}: {value.normalised}"  # "affordable: moderate", the level the word names
    return value.text


def _durable_name(value: Value, sentence: str, ctx: _Context) -> bool:
    """A name is worth keeping when the agent confirms it, or repeats one said in the turn before."""
    if ctx.turn.role != "assistant":
        return False
    before, after = sentence[: value.start].rstrip(), sentence[value.end :].strip()
    if before.endswith(",") and after[:1] in ("", ".", ",", "!", "?"):
        return False  # "Thank you, Dana.": said to the caller, not booked
    if is_confirmation(sentence):
        return True
    previous = ctx.previous
    return previous is not None and value.text.lower() in previous.text.lower()


def _identity_check(sentence: str, ctx: _Context, said: list[Value]) -> str | None:
    """How the caller was identified, from the caller's own words only: a detail they give of their own
    ("my date of birth is ...", or a value in reply to the agent asking for theirs), or the agent stating,
    right after the caller spoke, that the caller is verified. A question about a postcode, from either
    side, is no identity check."""
    if QUESTION.search(sentence.strip()):
        return None
    if ctx.turn.role == "assistant":
        answered = ctx.previous is not None and ctx.previous.role == "user"  # the caller has just said something
        return "verified by the agent" if answered and VERIFIED.search(sentence) else None
    gives = bool(said) or bool(re.search(r"\d", sentence))
    if not gives:
        return None
    own = OWN_CHECK.search(sentence)
    if own:
        return f"{_check_name(own.group(1))} given"
    question = ctx.question
    if question is None or VERIFIED.search(question.text) or not FOR_THE_CALLER.search(question.text):
        return None
    asked = IDENTITY_CHECK.search(question.text)
    return f"{_check_name(asked.group(1))} given" if asked else None


def _check_name(term: str) -> str:
    return " ".join(term.lower().split())


def _caller_name(sentence: str, question: Turn | None) -> str | None:
    """A name the caller gives: "my name is ...", "this is ...", or a reply to "could I have your name?"."""
    name = spoken_name(sentence)
    if name:
        return name
    match = INTRODUCES.search(sentence)
    if match:
        return match.group(1)
    if question is not None and ASKS_NAME.search(question.text):
        for run in CAPITALISED.findall(sentence):
            words = [w for w in run.split() if w not in NOT_NAME]
            if words and len(words) <= 3:
                return " ".join(words)
    return None


def _classify_tool(turn: Turn) -> Digest:
    digest = Digest("key")
    tags: list[str] = []
    for ref in references(turn.text, certain=True):
        tags.append(ref.label)
        digest.values.add(ref.value.lower())
        digest.kinds.update({ref.kind, "number"})
    for value in values_in(turn.text):
        if value.kind == "amount":
            tag = value_tag(value)
            if tag is not None:
                tags.append(tag)
            digest.values.add(value.normalised.split(" ")[0])
            digest.kinds.add("amount")
            digest.said.append(value)
    for run in DIGITS.findall(normalize_spoken_digits(turn.text)):  # for recall by value only
        digest.values.add(run.strip(".,-/").lower())
    digest.tags = list(dict.fromkeys(tags))[:8]
    digest.terms = frozenset(index_terms(turn.text))
    return digest

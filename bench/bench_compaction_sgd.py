"""Compaction of long calls built from real booking dialogues, tuned on one half, reported on the other.

    python bench/bench_compaction_sgd.py                      # both halves, budgets 500/800/1200 (~3 min)
    python bench/bench_compaction_sgd.py --split heldout      # the untouched half only
    python bench/bench_compaction_sgd.py --quick              # 4 calls a half, no files written
    python bench/bench_compaction_sgd.py --data DIR --split more-tune   # the full release's other services

The dialogues are the Schema-Guided Dialogue subset read in place (``--data``, else ``$SGD_PATH``,
else ``../shared/data/sgd/``; never copied into the project): tune = files 001-005, held-out =
files 006-010 (the halves of ``bench/sgd/data.py``). Long calls (10-20 minutes, ~100-200 turns)
chain several dialogues of one caller (restaurant tables, event tickets, songs, movies), with ASR
noise at the rates of the voice variant of ``bench/eval_sgd.py`` (fillers, stutters, spoken numbers,
lower case without punctuation, backchannels; ``--split more-tune`` / ``more-heldout``, with ``--data``
pointing at the full release: flights, hotels, appointments, transfers, buses, trains, rental cars,
rides and property visits instead, each asked about with its own booking phrase and value nouns) plus repair ("sorry, can you repeat that?" and the
agent saying it again) and stalls ("one moment, let me check"). The facts are the values of each
dialogue's successful transaction (its own annotations, kept when a turn says them); the caller asks
about two of them after minutes 8, 9 and 10 and about up to eight at the end, and the agent answers
(the question and the answer stay in the call, as they would).

The compaction is driven through ``memory.livekit.CallCompaction`` exactly as the worker drives it:
``apply`` on a copy of the context before each reply (``SupportAgent.llm_node``), ``between_turns``
after each assistant turn (the ``conversation_item_added`` handler). Measured, per half and budget:

- **notes values never said**: number tokens in the notes (the mm:ss clock of each line and the
  header's span left out) that occur nowhere in what was said so far (raw or with spoken digits
  joined); distinct (call, line) pairs, with examples;
- **facts kept when asked**, at minutes 8-10 and at the end, by value type: a value is kept when
  what the request carries (notes, verbatim turns, recalled turns) holds one of its forms;
- **requests over budget** by the exact count (o200k_base, the gpt-4o/gpt-4.1 encoding, + 4 tokens a
  message), over every request of the call;
- **tokens saved** at minutes 8-10 and over the whole call, against sending the whole conversation;
- **prefix kept**: of consecutive compacted requests, the share whose notes block starts with the
  previous request's notes lines (the same notes, or lines appended: a provider's prefix cache hits
  on the instructions and every earlier notes line), the share with the very same notes, and the
  mean share of a request's conversation tokens that repeat the previous request's from the start;
- **in-call recall**: when the notes and verbatim turns lack the value asked for, how often recall
  ran and how often it brought a turn that says the value;
- ``apply()`` p50/p95/p99/max in ms of wall time, and p50/p95/p99 of the thread's CPU time (the
  code's own cost: on a loaded machine the wall time also holds the wait for a core);
- **truncation at the same spend**: ``ChatContext.truncate(max_items=N)`` with the largest N whose
  mean exact tokens over the compacted requests is not above compaction's (at the default budget).

Writes ``bench/results/compaction_sgd.json``. Deterministic from ``--seed``.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import platform
import random
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from livekit.agents import llm  # noqa: E402
from livekit.agents.voice.generation import INSTRUCTIONS_MESSAGE_ID  # noqa: E402

from bench.context import mean, ranked_pct  # noqa: E402
from bench.sgd import data, vocab  # noqa: E402
from bench.sgd.build import asr, rng_for, spoken_numbers, unformatted  # noqa: E402
from memory.compaction import CompactionPolicy, count_tokens, load_tokenizer, warm_readers  # noqa: E402
from memory.livekit import CallCompaction  # noqa: E402
from memory.livekit.compaction import NOTES_MESSAGE_ID, RECALL_MESSAGE_ID  # noqa: E402
from memory.text.spoken import normalize_spoken_digits  # noqa: E402
from memory.text.vocab import DIGIT_WORDS, TEENS, TENS  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "compaction_sgd.json"
BUDGETS = (500, 800, 1200)
DEFAULT_BUDGET = CompactionPolicy.token_budget
MARKS = (8, 9, 10)  # minutes after which the caller asks
PER_MARK, AT_END = 2, 8
WINDOW = (8 * 60, 10 * 60)
MESSAGE_TOKENS = 4
WORDS_PER_SECOND = 2.6
RATES = {"repeat_request": 0.04, "agent_stall": 0.05, "caller_stall": 0.03, "plain_call": 0.8}
INSTRUCTIONS = "You are Ava, a booking assistant. Help the caller book tables, tickets and play media. " * 12

NOUNS = {
    "restaurant": "restaurant",
    "date": "date",
    "time": "time",
    "party": "number of people",
    "address": "address",
    "phone": "phone number",
    "price": "price range",
    "city": "city",
    "cuisine": "cuisine",
    "event": "event",
    "venue": "venue",
    "category": "kind of event",
    "song": "song",
    "artist": "artist",
    "album": "album",
    "genre": "genre",
    "device": "device it played on",
    "movie": "movie",
    "director": "director",
    # the full release's other services (--split more-tune / more-heldout)
    "airline": "airline",
    "from": "departure city",
    "to": "destination",
    "airport": "departure airport",
    "arrival_airport": "arrival airport",
    "return_date": "return date",
    "class": "class",
    "station": "departure station",
    "arrival_station": "arrival station",
    "hotel": "hotel",
    "nights": "number of nights",
    "rooms": "number of rooms",
    "checkout": "check-out date",
    "car": "car",
    "car_type": "type of car",
    "pickup": "pick-up location",
    "duration": "ride duration",
    "ride_type": "type of ride",
    "wait": "wait time",
    "provider": "name of who it was with",
    "amount": "amount",
    "recipient": "recipient",
    "account": "account it came from",
    "property": "property",
}
BOOKINGS = {
    "restaurant": "the {nth}table I booked",
    "event": "the {nth}{noun} tickets",
    "song": "the {nth}song you played",
    "movie": "the {nth}movie you put on",
}
# the full release's other services: the calls of --split more-tune / more-heldout are built from these kinds only
MORE_BOOKINGS = {
    "flight": "the {nth}flight I booked",
    "bus": "the {nth}bus tickets",
    "train": "the {nth}train tickets",
    "hotel": "the {nth}place I booked to stay",
    "car": "the {nth}car I rented",
    "ride": "the {nth}ride I booked",
    "appointment": "the {nth}appointment I booked",
    "transfer": "the {nth}money transfer",
    "visit": "the {nth}property visit",
}
MORE_SPLITS = ("more-tune", "more-heldout")
MORE_NOUNS = {"price": "price"}  # a fare, a rent, an amount paid: not a restaurant's price range
DATE_GROUPS = frozenset({"date", "checkout", "return_date"})  # asked only when said as a calendar day
QUESTIONS = (  # even-numbered wordings for the tune half, odd-numbered for the held-out half
    "Sorry, what was the {what} for {booking} again?",
    "Can you remind me of the {what} for {booking}?",
    "Wait, what {what} did we settle on for {booking}?",
    "And {booking}, what was the {what} on that one?",
    "Just to double check, the {what} for {booking} was what?",
    "Hang on, which {what} was it for {booking}?",
)
ANSWERS = ("The {what} was {value}.", "It was {value}.", "That was {value}.")
# a long call books more than six things of a kind: the seventh and later are named as the caller would
# ("the eighth table I booked"); past the sixth they used to be named with no ordinal ("the table I booked"),
# a question no one could answer when several tables were booked after it
ORDINALS = ("first ", "second ", "third ", "fourth ", "fifth ", "sixth ", "seventh ", "eighth ", "ninth ", "tenth ",
            "eleventh ", "twelfth ")  # fmt: skip
REPEAT_ASKS = ("Sorry, can you repeat that?", "Sorry, what was that?", "Can you say that again? You broke up a bit.")
AGENT_STALLS = ("One moment, let me check that for you.", "Let me look into that, just a second.")
CALLER_STALLS = ("Hold on, let me think for a second.", "Um, give me a moment.")
FILLERS = frozenset({"uh", "um", "like", "mm", "hmm"})
HESITATIONS = frozenset({"uh", "um", "er", "erm", "hmm", "mm", "like"})  # "five two four um eight": one number


# --------------------------------------------------------------------------- the calls


@dataclass(frozen=True)
class Fact:
    id: str
    group: str  # the value type
    kind: str  # the booking kind (restaurant / event / song / movie)
    forms: tuple[str, ...]  # normalised forms (see ``norm``); kept if any is in what a request carries
    turn_ids: frozenset[str]  # the turns that say it
    said_at: float  # seconds into the call of the first turn saying it
    episode_ids: frozenset[str]  # every turn of its dialogue
    span: tuple[float, float]  # seconds into the call of its dialogue's first and last turn


@dataclass(frozen=True)
class Ask:
    fact: Fact
    mark: str  # "8", "9", "10" or "end"


@dataclass(frozen=True)
class CallTurn:
    id: str
    role: str
    text: str
    at: float  # seconds into the call


@dataclass
class LongCall:
    call_id: str
    started_at: datetime
    turns: list[CallTurn] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)
    asks: dict[str, Ask] = field(default_factory=dict)  # the question turn's id -> what it asks

    @property
    def minutes(self) -> float:
        return self.turns[-1].at / 60 if self.turns else 0.0


_YOU_KNOW = re.compile(r"\byou know\b")
_CLOCK_SUFFIX = re.compile(r"(?<=\d)(?=[ap]m\b)")  # "7:30pm" and "7:30 pm" are one form
_DIGIT_GAP = re.compile(r"(?<=\d) (?=\d)")


def norm(text: str) -> str:
    """Lower case, spoken digits joined, punctuation gone, fillers and stutters dropped: the form in
    which a value is looked for in what a request carries."""
    text = _YOU_KNOW.sub(" ", normalize_spoken_digits(text).lower())  # the recogniser noise's filler of two words
    text = _CLOCK_SUFFIX.sub(" ", text)
    words = re.sub(r"[^\w@$£€]+", " ", text).split()
    out: list[str] = []
    for word in words:
        if word in FILLERS or (out and out[-1] == word and not word.isdigit()):
            continue
        out.append(word)
    return " " + " ".join(out) + " "


def _duration(text: str, rng: random.Random) -> float:
    return len(text.split()) / WORDS_PER_SECOND + rng.uniform(0.6, 1.6)


def _question(half: str, rng: random.Random, what: str, booking: str) -> str:
    return rng.choice(vocab.for_half(QUESTIONS, half)).format(what=what, booking=booking)


def _forms(episode: data.Episode, group: str) -> tuple[str, ...]:
    surfaces = {episode.values[group], *episode.surfaces.get(group, ())}
    forms = {norm(s) for s in surfaces}
    forms |= {norm(spoken_numbers(s, random.Random(0), 1.0)) for s in surfaces}
    # Spoken digits are joined by context ("it costs 25 88" reads "2588", "$25.88" alone reads "25 88"): a form
    # whose digit groups are joined is the same value
    forms |= {_DIGIT_GAP.sub("", f) for f in forms}
    return tuple(sorted(f for f in forms if f.strip()))


def _askable(episode: data.Episode) -> list[str]:
    out = []
    for group in episode.values:
        if group in DATE_GROUPS and not any(data.is_absolute_date(s) for s in episode.surfaces[group]):
            continue  # "today", "next Friday": relative to the dialogue's own day
        out.append(group)
    return out


@dataclass
class _Builder:
    """One long call under construction."""

    call: LongCall
    half: str
    rng: random.Random
    plain: bool
    clock: float = 0.0
    seq: int = 0
    pending: list[Fact] = field(default_factory=list)  # facts of finished dialogues, not asked yet
    bookings: dict[str, str] = field(default_factory=dict)  # fact id -> how the caller names its booking
    answers: dict[str, str] = field(default_factory=dict)  # fact id -> the value as the agent says it

    def say(self, role: str, text: str, note: str = "") -> str:
        self.seq += 1
        turn_id = f"{self.call.call_id}-{self.seq:03d}{note}"
        self.call.turns.append(CallTurn(turn_id, role, text, self.clock))
        self.clock += _duration(text, self.rng)
        return turn_id

    def ask(self, mark: str, n: int) -> None:
        """The caller asks about ``n`` facts of earlier dialogues; the agent answers each."""
        self.rng.shuffle(self.pending)
        for fact in [self.pending.pop() for _ in range(min(n, len(self.pending)))]:
            what = (MORE_NOUNS if self.half in MORE_SPLITS else {}).get(fact.group) or NOUNS.get(fact.group, fact.group)
            question = _question(self.half, self.rng, what, self.bookings[fact.id])
            qid = self.say("user", unformatted(question) if self.plain else question, "q")
            self.call.asks[qid] = Ask(fact, mark)
            self.say("assistant", self.rng.choice(ANSWERS).format(what=what, value=self.answers[fact.id]))

    def dialogue(self, episode: data.Episode, nth: int, marks: list[int]) -> None:
        rng = self.rng
        ids: list[str] = []
        for truth in episode.turns:
            if marks and self.clock >= marks[0] * 60 and truth.role == "user":
                self.ask(str(marks.pop(0)), PER_MARK)
            if truth.role == "assistant" and rng.random() < RATES["agent_stall"]:
                self.say("assistant", rng.choice(AGENT_STALLS))
                self.clock += rng.uniform(3, 12)  # on hold
            if truth.role == "user" and rng.random() < RATES["caller_stall"]:
                self.say("user", rng.choice(CALLER_STALLS))
                self.clock += rng.uniform(2, 6)
            text = asr(truth.text, rng, side=truth.role, plain=self.plain)
            ids.append(self.say(truth.role, text))
            if truth.role == "assistant" and len(text.split()) >= 8 and rng.random() < RATES["repeat_request"]:
                repeat = rng.choice(REPEAT_ASKS)
                self.say("user", unformatted(repeat) if self.plain else repeat)
                self.say("assistant", text)
            if len(truth.text.split()) >= 10 and rng.random() < backchannel_rate(truth.role):
                other = "assistant" if truth.role == "user" else "user"
                said = rng.choice(vocab.CALLER_BACKCHANNELS if other == "user" else vocab.AGENT_BACKCHANNELS)
                self.say(other, unformatted(said) if self.plain else said)
        at = {t.id: t.at for t in self.call.turns if t.id in set(ids)}
        span = (min(at.values()), max(at.values()))
        ordinal = ORDINALS[nth] if nth < len(ORDINALS) else ""
        booking = bookings_of(self.half)[episode.kind].format(nth=ordinal, noun=episode.event_noun or "event")
        for group in _askable(episode):
            value = episode.values[group]
            carriers = frozenset(tid for tid, t in zip(ids, episode.turns, strict=True) if t.carries(group, value))
            if not carriers:
                continue
            fact = Fact(f"{self.call.call_id}/{episode.dialogue_id}/{group}", group, episode.kind,
                        _forms(episode, group), carriers, min(at[i] for i in carriers), frozenset(ids), span)  # fmt: skip
            self.call.facts.append(fact)
            self.pending.append(fact)
            self.bookings[fact.id] = booking
            self.answers[fact.id] = episode.surfaces[group][0]


def bookings_of(half: str) -> dict[str, str]:
    """How the caller names a booking of each kind the calls of ``half`` are built from: the subset's four kinds,
    or for the full release's halves of other services (``more-tune``, ``more-heldout``) those services' kinds."""
    return MORE_BOOKINGS if half in MORE_SPLITS else BOOKINGS


def call_kinds(half: str, only: Sequence[str] = ()) -> tuple[str, ...]:
    """The kinds the calls of ``half`` are built from (tune2's file 043 also holds hotels, which are not
    among them); ``only`` narrows the mix, e.g. a tuning half's concerts and songs alone, as the held-out
    half books. A kind the half does not book is an error, not an empty run."""
    kinds = tuple(bookings_of(half))
    unknown = [k for k in only if k not in kinds]
    if unknown:
        raise SystemExit(f"--kinds: {', '.join(unknown)} not booked in {half} (its kinds: {', '.join(kinds)})")
    return tuple(k for k in kinds if k in only) if only else kinds


def build_calls(episodes: Sequence[data.Episode], *, half: str, seed: int, count: int) -> list[LongCall]:
    """``count`` long calls of 10-20 minutes from ``episodes`` (each episode used at most once)."""
    rng = rng_for("compaction-sgd", half, seed)
    pool = list(episodes)
    rng.shuffle(pool)
    calls: list[LongCall] = []
    for c in range(count):
        if not pool:
            break
        call = LongCall(f"{half}-{c:02d}", datetime(2026, 3, 2, 9, 0, tzinfo=UTC) + timedelta(days=c))
        crng = rng_for("compaction-sgd", half, seed, c)
        target = crng.uniform(10, 20) * 60
        builder = _Builder(call, half, crng, plain=crng.random() < RATES["plain_call"])
        of_kind: dict[str, int] = {}
        marks = list(MARKS)
        while pool and builder.clock < target:
            episode = pool.pop()
            nth = of_kind.get(episode.kind, 0)
            of_kind[episode.kind] = nth + 1
            builder.dialogue(episode, nth, marks)
            for kind in episode.other_bookings:  # tickets bought in a call about a song count as tickets too
                of_kind[kind] = of_kind.get(kind, 0) + 1
        builder.ask("end", AT_END)
        calls.append(call)
    return calls


def backchannel_rate(role: str) -> float:
    """The voice variant's backchannel rate after a long turn (the other side's)."""
    from bench.sgd.build import VOICE_RATES

    return VOICE_RATES["backchannel"][1 if role == "user" else 0]


# --------------------------------------------------------------------------- driving the worker's compaction


def msg_tokens(text: str) -> int:
    return count_tokens(text) + MESSAGE_TOKENS


def conversation(items: Sequence[Any]) -> list[Any]:
    return [i for i in items if isinstance(i, llm.ChatMessage) and i.id != INSTRUCTIONS_MESSAGE_ID]


_LINE_CLOCK = re.compile(r"^- (\d{2}):(\d{2})")


def carried(items: Sequence[Any], fact: Fact, *, recall: bool = True) -> str:
    """What a request carries about ``fact``'s dialogue: its turns sent verbatim, and the lines of the
    notes (and, with ``recall``, of the recalled turns) dated within that dialogue. Scoped so that a
    short value ("2", "pop") said in another booking does not count."""
    parts = []
    for item in conversation(items):
        text = item.text_content or ""
        if item.id in fact.episode_ids:
            parts.append(text)
        elif item.id == NOTES_MESSAGE_ID or (recall and item.id == RECALL_MESSAGE_ID):
            for line in text.splitlines():
                m = _LINE_CLOCK.match(line)
                if m and fact.span[0] - 1 <= int(m.group(1)) * 60 + int(m.group(2)) <= fact.span[1] + 1:
                    parts.append(line)
    return norm("\n".join(parts))


def kept(fact: Fact, text: str) -> bool:
    return any(form in text for form in fact.forms)


@dataclass
class Request:
    at: float  # seconds into the call
    tokens: int  # exact, conversation part
    whole: int  # exact, the whole conversation
    compacted: bool
    notes: str
    messages: tuple[str, ...]  # the conversation part as sent (for the prefix measure)


@dataclass
class Run:
    requests: list[Request] = field(default_factory=list)
    apply_ms: list[float] = field(default_factory=list)
    apply_cpu_ms: list[float] = field(default_factory=list)  # the thread's CPU time: without waiting for a core
    asked: list[tuple[Ask, bool, bool, bool, bool]] = field(default_factory=list)  # kept, in notes/tail, ran, right
    unsaid: list[tuple[str, str, str]] = field(default_factory=list)  # (call, number, line)
    notes_lines: int = 0
    misses: list[dict[str, Any]] = field(default_factory=list)  # facts asked about and not carried (--misses)


_CLOCK_PREFIX = re.compile(r"^- \d{2}:\d{2}(?:-\d{2}:\d{2})? ")
_NUMBER = re.compile(r"\d+(?:[.:,/-]\d+)*")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UNITS = {**DIGIT_WORDS, "oh": 0}  # the shared number words (memory.text.vocab), and "oh" said for a zero
_TEENS = TEENS
_TENS = TENS


_PAST = {("half", "past"): 30, ("quarter", "past"): 15, ("quarter", "to"): -15}


def said_numbers(text: str) -> set[str]:
    """The numbers a text says, read only where the reading is certain: digits as written; a run of
    digit words read digit by digit ("eight eight one" -> 881); a compound ("forty two" -> 42); an
    hour and its minutes ("seven thirty pm", "7 30 pm" or "7 30 in the evening" -> 7:30, 730 is not). Never joined across two numbers;
    a hesitation inside a number said digit by digit ("five one zero um eight", "two five you know zero") does not
    split it."""
    out = set(_NUMBER.findall(text)) | set(re.findall(r"\d+", text))
    spoken = _YOU_KNOW.sub(" ", re.sub(r"[^a-z0-9']+", " ", text.lower()))  # a hesitation of two words
    words = [w for w in spoken.split() if w not in HESITATIONS]
    values: list[tuple[int, str]] = []  # (position, number) of each number said in words
    i = 0
    while i < len(words):
        word = words[i]
        if word in _UNITS and word != "oh":
            run = ""
            while i < len(words) and words[i] in _UNITS:
                run += str(_UNITS[words[i]])
                i += 1
            out.add(run)
            out.update(run)
            values.append((i - 1, run))
            continue
        if word in _TEENS:
            values.append((i, str(_TEENS[word])))
        elif word in _TENS:
            number = _TENS[word]
            if i + 1 < len(words) and words[i + 1] in _UNITS and words[i + 1] not in ("zero", "oh"):
                number += _UNITS[words[i + 1]]
                i += 1
            values.append((i, str(number)))
        i += 1
    out.update(v for _, v in values)
    for (p, hour), (q, minutes) in itertools.pairwise(values):
        if q in (p + 1, p + 2) and 1 <= int(hour) <= 12 and int(minutes) < 60:
            out.add(f"{int(hour)}:{int(minutes):02d}")
    # "8 30 pm" (or "8 um 30 pm": a hesitation splits no number, as above) -> 8:30, as in words
    # "2 30 in the afternoon" too: the clock said with a part of the day, as with am/pm
    clocks = re.compile(r"\b(\d{1,2}) (\d{2}) ?(?:[ap]\.?m\b|in the (?:morning|afternoon|evening)\b|at night\b)")
    # and said before it: "in the afternoon 2 30", "afternoon at 2 30"
    day_first = re.compile(r"\b(?:morning|afternoon|evening|night) (?:at |around |about )?(\d{1,2}) (\d{2})\b")
    for pattern in (clocks, day_first):
        for m in itertools.chain(pattern.finditer(text.lower()), pattern.finditer(" ".join(words))):
            if 1 <= int(m.group(1)) <= 12 and int(m.group(2)) < 60:
                out.add(f"{int(m.group(1))}:{m.group(2)}")
    # a word said twice in a row ("half past past one": a stutter) is said once, unless it is a number
    once = [w for k, w in enumerate(words) if k == 0 or w != words[k - 1] or w in _UNITS or w.isdigit()]
    for k in range(len(once) - 2):  # "half past six" -> 6:30, "quarter past five" -> 5:15, "quarter to nine" -> 8:45
        hour = _UNITS.get(once[k + 2]) or _TEENS.get(once[k + 2])
        if hour is None and once[k + 2].isdigit():  # "quarter past 5"
            hour = int(once[k + 2])
        if hour is None or not 1 <= hour <= 12 or (once[k], once[k + 1]) not in _PAST:
            continue
        minutes = _PAST[once[k], once[k + 1]]
        out.add(f"{hour}:{minutes:02d}" if minutes >= 0 else f"{(hour - 2) % 12 + 1}:{60 + minutes:02d}")
    for k in range(len(words) - 2):  # "seven oh five" -> 7:05
        if words[k] in _UNITS and words[k + 1] == "oh" and words[k + 2] in _UNITS:
            out.add(f"{_UNITS[words[k]]}:0{_UNITS[words[k + 2]]}")
    return out


def unsaid_numbers(notes: str, said: set[str]) -> list[tuple[str, str]]:
    """(number, line) for every number token of the notes that nothing said reads as."""
    out = []
    for line in notes.splitlines():
        if line.startswith(("<", "Earlier in this call", "(condensed:")):
            continue
        body = _CLOCK_PREFIX.sub("", line)
        for number in _NUMBER.findall(body):
            if number not in said:
                out.append((number, line))
    return out


def run_compaction(call: LongCall, budget: int) -> Run:
    run = Run()
    compaction = CallCompaction(CompactionPolicy(token_budget=budget))
    history = llm.ChatContext([llm.ChatMessage(id=INSTRUCTIONS_MESSAGE_ID, role="system", content=[INSTRUCTIONS])])
    start = call.started_at.timestamp()
    whole = 0
    said: set[str] = set()
    notes_seen: set[str] = set()
    previous, previous_id = None, ""
    for turn in call.turns:
        item = llm.ChatMessage(id=turn.id, role=turn.role, content=[turn.text], created_at=start + turn.at)
        if turn.role == "assistant" and previous == "user":  # a reply: the worker's llm_node
            ctx = history.copy()
            cpu = time.thread_time()
            plan = compaction.apply(ctx)
            run.apply_cpu_ms.append((time.thread_time() - cpu) * 1000)
            run.apply_ms.append(compaction.apply_ms[-1])
            conv = conversation(ctx.items)
            tokens = sum(msg_tokens(i.text_content or "") for i in conv)
            compacted = plan is not None and plan.compacted
            notes = plan.notes if compacted and plan is not None else ""
            run.requests.append(
                Request(turn.at, tokens, whole, compacted, notes, tuple(i.text_content or "" for i in conv))
            )
            if notes and notes not in notes_seen:
                notes_seen.add(notes)
                for number, line in unsaid_numbers(notes, said):
                    run.unsaid.append((call.call_id, number, line))
            ask = call.asks.get(previous_id)
            if ask is not None:
                has = kept(ask.fact, carried(ctx.items, ask.fact))
                in_notes = kept(ask.fact, carried(ctx.items, ask.fact, recall=False))
                ran = bool(plan is not None and plan.recalled_ids)
                right = bool(plan is not None and set(plan.recalled_ids) & ask.fact.turn_ids)
                run.asked.append((ask, has, in_notes, ran, right))
                if not has:
                    run.misses.append(_miss(call, ask, ctx.items, plan, previous_id))
        history.items.append(item)
        whole += msg_tokens(turn.text)
        said |= said_numbers(turn.text)
        if turn.role == "assistant":
            compaction.between_turns(item)
        previous, previous_id = turn.role, turn.id
    run.notes_lines = len({line for n in notes_seen for line in n.splitlines()})
    return run


def _miss(call: LongCall, ask: Ask, items: Sequence[Any], plan: Any, question_id: str) -> dict[str, Any]:
    """What a request carried when it missed ``ask``'s fact: for reading failures, not for scoring."""
    by_id = {t.id: t for t in call.turns}
    notes = next((i.text_content or "" for i in conversation(items) if i.id == NOTES_MESSAGE_ID), "")
    span = ask.fact.span

    def dated(line: str) -> bool:
        m = _LINE_CLOCK.match(line)
        return bool(m) and span[0] - 1 <= int(m.group(1)) * 60 + int(m.group(2)) <= span[1] + 1

    return {
        "call": call.call_id,
        "mark": ask.mark,
        "group": ask.fact.group,
        "kind": ask.fact.kind,
        "forms": list(ask.fact.forms),
        "question": by_id[question_id].text,
        "span": [round(span[0]), round(span[1])],
        "said_in": [f"{by_id[t].at:.0f} {by_id[t].role}: {by_id[t].text}" for t in sorted(ask.fact.turn_ids)],
        "notes_in_span": [line for line in notes.splitlines() if dated(line)],
        "recalled": [
            f"{by_id[t].at:.0f} {by_id[t].role}: {by_id[t].text}" if t in by_id else t
            for t in (plan.recalled_ids if plan is not None else ())
        ],
    }


def run_truncation(call: LongCall, max_items: int) -> Run:
    run = Run()
    history = llm.ChatContext([llm.ChatMessage(id=INSTRUCTIONS_MESSAGE_ID, role="system", content=[INSTRUCTIONS])])
    start = call.started_at.timestamp()
    previous, previous_id = None, ""
    whole = 0
    for turn in call.turns:
        if turn.role == "assistant" and previous == "user":
            started = time.perf_counter()
            ctx = history.copy().truncate(max_items=max_items)
            run.apply_ms.append((time.perf_counter() - started) * 1000)
            conv = conversation(ctx.items)
            run.requests.append(
                Request(turn.at, sum(msg_tokens(i.text_content or "") for i in conv), whole, True, "", ())
            )
            ask = call.asks.get(previous_id)
            if ask is not None:
                has = kept(ask.fact, carried(ctx.items, ask.fact))
                run.asked.append((ask, has, has, False, False))
        history.items.append(
            llm.ChatMessage(id=turn.id, role=turn.role, content=[turn.text], created_at=start + turn.at)
        )
        whole += msg_tokens(turn.text)
        previous, previous_id = turn.role, turn.id
    return run


def truncation_tokens(call: LongCall, max_items: int) -> list[tuple[float, int]]:
    """(seconds, tokens) per request of truncate(max_items) without building contexts (for choosing N):
    the newest ``max_items - 1`` messages next to the instructions."""
    out, tokens, previous = [], [], None
    for turn in call.turns:
        if turn.role == "assistant" and previous == "user":
            out.append((turn.at, sum(tokens[-(max_items - 1) :]) if max_items > 1 else 0))
        tokens.append(msg_tokens(turn.text))
        previous = turn.role
    return out


# --------------------------------------------------------------------------- measures


def share(flags: Sequence[bool]) -> float | None:
    return round(sum(flags) / len(flags), 3) if flags else None


def _prefix_share(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    """Share of request ``b``'s conversation tokens that repeat request ``a``'s from the start."""
    joined_a, joined_b = "\n".join(a), "\n".join(b)
    common = os.path.commonprefix([joined_a, joined_b])  # noqa: RUF071 (characters, as a cache compares)
    return count_tokens(common) / max(1, count_tokens(joined_b))


def _notes_prefix_kept(a: str, b: str) -> bool:
    """Request ``b``'s notes start with every line of request ``a``'s notes but the last two (the
    span condensed and the closing tag): the notes were appended to, or are the same."""
    if a == b:
        return True
    stem = "\n".join(a.splitlines()[:-2]) + "\n"
    return b.startswith(stem)


def summarise(runs: list[Run], budget: int) -> dict[str, Any]:
    requests = [r for run in runs for r in run.requests]
    window = [r for r in requests if WINDOW[0] <= r.at <= WINDOW[1]]
    hits, same, prefix = [], [], []
    for run in runs:
        for a, b in zip(run.requests, run.requests[1:], strict=False):
            if a.compacted and b.compacted:
                hits.append(_notes_prefix_kept(a.notes, b.notes))
                same.append(a.notes == b.notes)
                prefix.append(_prefix_share(a.messages, b.messages))
    by_type: dict[str, dict[str, list[bool]]] = {}
    marks: dict[str, list[bool]] = {"8-10": [], "end": []}
    lacking, ran, right = [], [], []
    for run in runs:
        for ask, has, in_notes, did_run, was_right in run.asked:
            when = "end" if ask.mark == "end" else "8-10"
            marks[when].append(has)
            by_type.setdefault(ask.fact.group, {"8-10": [], "end": []})[when].append(has)
            if not in_notes:
                lacking.append(has)
                ran.append(did_run)
                right.append(was_right)
    apply_ms = [x for run in runs for x in run.apply_ms]
    apply_cpu = [x for run in runs for x in run.apply_cpu_ms]
    unsaid = [u for run in runs for u in run.unsaid if not _ISO_DATE.match(u[1])]
    resolved = [u for run in runs for u in run.unsaid if _ISO_DATE.match(u[1])]
    distinct = sorted({(c, line) for c, _, line in unsaid})
    return {
        "budget": budget,
        "requests": len(requests),
        "over_budget": share([r.tokens > budget for r in requests]),
        "tokens_mean": round(mean([r.tokens for r in requests]), 1),
        "tokens_max": max((r.tokens for r in requests), default=0),
        "saved_8_10": round(1 - mean([r.tokens for r in window]) / mean([r.whole for r in window]), 3)
        if window
        else None,
        "saved_call": round(1 - mean([r.tokens for r in requests]) / mean([r.whole for r in requests]), 3),
        "kept_8_10": share(marks["8-10"]),
        "kept_end": share(marks["end"]),
        "asked_8_10": len(marks["8-10"]),
        "asked_end": len(marks["end"]),
        "kept_by_type": {
            g: {w: share(v) for w, v in sorted(d.items())} | {"n": sum(len(v) for v in d.values())}
            for g, d in sorted(by_type.items())
        },
        "prefix_cache_hit": share(hits),
        "notes_unchanged": share(same),
        "prefix_tokens_reused": round(mean(prefix), 3) if prefix else None,
        "notes_lacked_value": len(lacking),
        "recall_ran_when_lacking": share(ran),
        "recall_right_turn_when_lacking": share(right),
        "kept_when_lacking": share(lacking),
        "unsaid_number_lines": len(distinct),
        "resolved_date_lines": len({(c, line) for c, _, line in resolved}),
        "notes_lines": sum(run.notes_lines for run in runs),
        "unsaid_examples": [f"{n!r} in {line[:160]}" for _, n, line in dict.fromkeys(unsaid)][:12],
        "apply_ms_p50": round(ranked_pct(apply_ms, 50), 3),
        "apply_ms_p95": round(ranked_pct(apply_ms, 95), 3),
        "apply_ms_p99": round(ranked_pct(apply_ms, 99), 3),
        "apply_ms_max": round(max(apply_ms, default=0.0), 3),
        "apply_cpu_ms_p50": round(ranked_pct(apply_cpu, 50), 3),
        "apply_cpu_ms_p95": round(ranked_pct(apply_cpu, 95), 3),
        "apply_cpu_ms_p99": round(ranked_pct(apply_cpu, 99), 3),
    }


def choose_n(calls: list[LongCall], target: float, runs: list[Run]) -> int:
    """The largest max_items whose mean tokens over the requests compaction compacted is not above ``target``."""
    best = 2
    for n in range(2, 400):
        tokens = []
        for call, run in zip(calls, runs, strict=True):
            for (_, t), r in zip(truncation_tokens(call, n), run.requests, strict=True):
                if r.compacted:
                    tokens.append(t)
        if mean(tokens) > target:
            break
        best = n
    return best


def evaluate(
    half: str,
    *,
    directory: Path,
    seed: int,
    count: int,
    budgets: Sequence[int],
    misses: Path | None = None,
    only: Sequence[str] = (),
) -> dict[str, Any]:
    episodes, _ = data.load_episodes(directory, half)
    kinds = call_kinds(half, only)
    episodes = [e for e in episodes if e.kind in kinds]
    calls = build_calls(episodes, half=half, seed=seed, count=count)
    # The dialogues and calls (and the tokenizer, the imports) live to the end of the run; frozen, the cycle
    # collector's full passes no longer walk them (150-250 ms inside an apply()), as a job process's passes do
    # not walk what LiveKit's forkserver preloaded and froze.
    gc.collect()
    gc.freeze()
    out: dict[str, Any] = {
        "calls": len(calls),
        "minutes": [round(c.minutes, 1) for c in calls],
        "turns": [len(c.turns) for c in calls],
        "facts_asked": sum(len(c.asks) for c in calls),
        "compaction": {},
    }
    reference: list[Run] = []
    for budget in budgets:
        runs = [run_compaction(call, budget) for call in calls]
        out["compaction"][str(budget)] = summarise(runs, budget)
        if budget == DEFAULT_BUDGET:
            reference = runs
            if misses is not None:
                with misses.open("a") as out_file:
                    for run in runs:
                        for miss in run.misses:
                            out_file.write(json.dumps({"half": half} | miss) + "\n")
    if reference:
        spent = mean([r.tokens for run in reference for r in run.requests if r.compacted])
        n = choose_n(calls, spent, reference)
        truncated = [run_truncation(call, n) for call in calls]
        row = summarise(truncated, DEFAULT_BUDGET)
        out["truncation"] = {
            "max_items": n,
            "tokens_mean_compacted_requests": round(
                mean(
                    [
                        t.tokens
                        for tr, rf in zip(truncated, reference, strict=True)
                        for t, r in zip(tr.requests, rf.requests, strict=True)
                        if r.compacted
                    ]
                ),
                1,
            ),
            "compaction_tokens_mean_compacted_requests": round(spent, 1),
            "kept_8_10": row["kept_8_10"],
            "kept_end": row["kept_end"],
            "kept_by_type": row["kept_by_type"],
        }
    return out


def table(name: str, result: dict[str, Any]) -> str:
    rows = [
        "| budget | over budget (exact) | tokens saved 8-10 / call | kept 8-10 / end | prefix hit / reused | "
        "recall ran / right (notes lack) | unsaid number lines | apply ms p50 / p95 / p99 / max | apply CPU ms p50 / p95 / p99 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for budget, r in result["compaction"].items():
        rows.append(
            f"| {budget} | {r['over_budget']:.1%} | {r['saved_8_10']:.0%} / {r['saved_call']:.0%} | "
            f"{r['kept_8_10']:.0%} / {r['kept_end']:.0%} | {_p(r['prefix_cache_hit'])} / {_p(r['prefix_tokens_reused'])} | "
            f"{_p(r['recall_ran_when_lacking'])} / {_p(r['recall_right_turn_when_lacking'])} "
            f"(n={r['notes_lacked_value']}) | {r['unsaid_number_lines']} of {r['notes_lines']} | "
            f"{r['apply_ms_p50']:.2f} / {r['apply_ms_p95']:.2f} / {r['apply_ms_p99']:.2f} / {r['apply_ms_max']:.1f} | "
            f"{r['apply_cpu_ms_p50']:.2f} / {r['apply_cpu_ms_p95']:.2f} / {r['apply_cpu_ms_p99']:.2f} |"
        )
    t = result.get("truncation")
    if t:
        rows.append(
            f"| truncate(max_items={t['max_items']}), same spend ({t['tokens_mean_compacted_requests']:.0f} vs "
            f"{t['compaction_tokens_mean_compacted_requests']:.0f} tokens) | | | {t['kept_8_10']:.0%} / "
            f"{t['kept_end']:.0%} | | | | | |"
        )
    head = (
        f"{name}: {result['calls']} calls, {min(result['minutes']):.0f}-{max(result['minutes']):.0f} min, "
        f"{min(result['turns'])}-{max(result['turns'])} turns, {result['facts_asked']} facts asked"
    )
    return head + "\n" + "\n".join(rows)


def by_type_table(result: dict[str, Any], budget: int) -> str:
    r = result["compaction"][str(budget)]["kept_by_type"]
    t = result.get("truncation", {}).get("kept_by_type", {})
    rows = ["| value type | asked | kept 8-10 | kept end | truncation 8-10 / end |", "|---|---|---|---|---|"]
    for group, d in r.items():
        tr = t.get(group, {})
        rows.append(
            f"| {group} | {d['n']} | {_p(d.get('8-10'))} | {_p(d.get('end'))} | "
            f"{_p(tr.get('8-10'))} / {_p(tr.get('end'))} |"
        )
    return "\n".join(rows)


def _p(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--split",
        choices=(*data.HALVES, *(f"tune{n}" for n in range(2, 10)), *MORE_SPLITS, "both"),
        default="both",
    )
    parser.add_argument("--data", help="the SGD directory (default: $SGD_PATH, else ../shared/data/sgd)")
    parser.add_argument("--calls", type=int, default=36, help="long calls per half")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kinds", default="", help="build calls only from these kinds (comma-separated: event,song)")
    parser.add_argument("--budgets", default=",".join(map(str, BUDGETS)))
    parser.add_argument("--quick", action="store_true", help="4 calls a half, no files written")
    parser.add_argument("--examples", action="store_true", help="print the unsaid-number examples")
    parser.add_argument("--misses", type=Path, help="write the facts missed at the default budget (JSON lines)")
    args = parser.parse_args()
    directory = data.data_dir(args.data)
    load_tokenizer()
    warm_readers()  # as the worker's preload does, before any call
    if args.misses is not None:
        args.misses.write_text("")
    budgets = tuple(int(b) for b in args.budgets.split(","))
    halves = ("tune", "heldout") if args.split == "both" else (args.split,)
    count = 4 if args.quick else args.calls
    results: dict[str, Any] = {
        "dataset": "Schema-Guided Dialogue, train files 001-010 (tune 001-005, held-out 006-010)",
        "tokenizer": "o200k_base (exact), + 4 tokens a message",
        "machine": {
            "python": platform.python_version(),
            "processor": platform.machine(),
            "cpus": os.cpu_count(),
            "load_average_at_start": os.getloadavg(),
        },
        "seed": args.seed,
        "halves": {},
    }
    for half in halves:
        started = time.perf_counter()
        only = tuple(k for k in args.kinds.split(",") if k)
        result = evaluate(
            half, directory=directory, seed=args.seed, count=count, budgets=budgets, misses=args.misses, only=only
        )
        result["seconds"] = round(time.perf_counter() - started, 1)
        results["halves"][half] = result
        print("\n" + table(half, result))
        if DEFAULT_BUDGET in budgets:
            print(f"\nby value type at {DEFAULT_BUDGET} tokens ({half}):\n" + by_type_table(result, DEFAULT_BUDGET))
        if args.examples:
            for budget, r in result["compaction"].items():
                for example in r["unsaid_examples"]:
                    print(f"  unsaid at {budget}: {example}")
    if args.quick or args.kinds or args.split not in ("tune", "heldout", "both"):
        return  # the results file holds the subset's halves only
    command = "python bench/bench_compaction_sgd.py"
    if args.split != "both":
        command += f" --split {args.split}"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"command": command} | results, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

"""Multi-call callers assembled from SGD episodes, and the probes asked about their earlier calls.

``build(episodes, half=..., variant=..., seed=..., callers_per_tenant=...)`` is deterministic: the
same arguments give the same callers, calls, turns and probes.

Callers. Two tenants; ``callers_per_tenant`` callers each; a caller makes 3-6 calls, one SGD
dialogue per call, the next call 4-35 days after the previous one (calls from May 2025 on, so
"in June" or "two weeks ago" name one of them). A caller's dialogues repeat a kind of booking
often (half of the later calls are of a kind the caller already had), so "the table I booked last
time" has older tables to be confused with. Each caller has a home phone (E.164); some callers of the
second tenant share a home phone with a caller of the first (a household calling two businesses:
two different callers). About a third of the callers with three or more calls make one later
call from another phone and say their account number or e-mail aloud there; they said it on their
first call too (after the agent asked for it), so the memory layer can link the two. The identity
line goes where it would in a real call: answering the agent at the start, volunteered in the
caller's first words, or "for your records" near the end.

Variants. ``clean``: the dialogues' text as written (plus the identity lines). ``voice``: the same
calls as a speech recogniser and a noisy line deliver them (see :func:`asr`): per call, most
transcripts lower case without punctuation; fillers ("uh", "um"), repeated words, numbers as spoken
words (times, counts, phone numbers), and backchannel turns ("Mm-hmm, go on.", "Okay.") from the
other side after long turns; the caller side noisier than the agent side. The questions are
noised like the caller's turns.

Probes (:class:`ValueProbe`), asked in a later call of the same caller, right after its preload
(a call from another phone: right after the identity line, or at its end when the line comes last):
which value (restaurant, event, song, time, date, party size, address, phone number, venue...) of
which earlier call, that call picked by a selector (see ``vocab.SELECTORS``) that is relative to the
caller's earlier calls of the kind asked about. A probe whose group was changed during the target
call ("no, make it the 8th") is a knowledge-update probe: the current value must outrank the former.
Identity probes (eval_scenarios' ``identity`` kind): a first call is a new caller; every later call
is the same caller as the first and a different one from other callers of the tenant who called
before.
"""

from __future__ import annotations

import random
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import ModuleType

from bench import eval_scenarios as es
from bench.sgd import blind_vocab, vocab
from bench.sgd.data import Episode, TurnTruth, is_absolute_date

TENANTS = ("sgd-a", "sgd-b")
ERA_START = datetime(2025, 5, 5, tzinfo=UTC)
CALLS_PER_CALLER = (3, 6)
GAP_DAYS = (4, 35)
REPEAT_KIND = 0.5  # a later call repeats a kind the caller already had
SHARED_PHONE = 0.3  # a second-tenant caller shares a home phone with a first-tenant caller
OTHER_PHONE = 0.35  # a caller of 3+ calls makes one later call from another phone
STATES_IDENTITY = 0.4  # a caller without such a call says the account/e-mail on the first call anyway
EMAIL_IDENTITY = 0.3  # the identifier said aloud is an e-mail (else an account number)
PROBES_PER_CALL = 3
UPDATE_FIRST = 0.5  # a call whose candidates include a knowledge-update probe asks it first
VARIANTS = ("clean", "voice")
# The probe wordings: the set written with the recall rules (vocab) and one written without reading them.
WORDINGS: dict[str, ModuleType] = {"original": vocab, "blind": blind_vocab}
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


# --------------------------------------------------------------------------- deterministic randomness


def rng_for(*parts: object) -> random.Random:
    """A random generator seeded from the parts' text (stable across runs and processes)."""
    return random.Random(zlib.crc32("\x1f".join(map(str, parts)).encode()))


# --------------------------------------------------------------------------- the set


@dataclass(frozen=True)
class ValueProbe:
    id: str
    call_id: str  # the call it is asked in
    query: str
    kind: str  # restaurant / event / song / movie
    group: str  # the value group asked for
    selector: str  # a key of vocab.SELECTORS
    family: str  # recent / ordinal / time / kind
    target_call: str  # the earlier call holding the answer
    expected: str  # canonical value
    surfaces: tuple[str, ...]  # how the target call said it
    former: tuple[str, ...] = ()  # values of the group superseded in the target call
    former_surfaces: tuple[str, ...] = ()
    skips_calls: bool = False  # the caller made another call after the target (of any kind)
    template: str = ""

    @property
    def is_update(self) -> bool:
        return bool(self.former)


@dataclass
class Person:
    tenant: str
    id: str
    name: str
    home_phone: str
    account: str
    email: str
    identity_kind: str  # "account" | "email": what the caller says aloud
    episodes: list[Episode] = field(default_factory=list)
    dates: list[datetime] = field(default_factory=list)
    other_phone_call: int | None = None  # index of the call made from another phone
    other_phone: str = ""
    states_identity: bool = False  # says the identifier on the first call


@dataclass
class SgdSet:
    half: str
    variant: str
    seed: int
    scenario: es.ScenarioSet  # what eval_scenarios replays (calls with their turns and probes)
    truth: dict[str, tuple[TurnTruth, ...]]  # call id -> its turns as replayed, with what each carries
    episode_of: dict[str, Episode]  # call id -> the SGD dialogue it replays
    persons: dict[tuple[str, str], Person]
    value_probes: list[ValueProbe]

    def summary(self) -> dict[str, int]:
        s = self.scenario.summary()
        s["value_probes"] = len(self.value_probes)
        s["update_probes"] = sum(p.is_update for p in self.value_probes)
        s["identity_probes"] = sum(p.kind == "identity" for p in self.scenario.probes)
        s["other_phone_calls"] = sum(p.other_phone_call is not None for p in self.persons.values())
        return s


# --------------------------------------------------------------------------- voice noise

_TIME = re.compile(r"\b(\d{1,2})(?::(\d{2}))?\s*([ap])\.?\s?m\b\.?", re.IGNORECASE)
_CLOCK = re.compile(r"\b(\d{1,2}):(\d{2})\b")
_PHONE = re.compile(r"\b\d{3}-\d{3}-\d{4}\b")
_SMALL = re.compile(r"(?<![\d:.-])\b([1-9]|1\d|20)\b(?![\d:.-])")
_DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty"]
_NUMBER_WORDS = frozenset([*_DIGITS, *_TEENS, *_TENS[2:], "oh", "hundred", "thousand", "double", "triple"])
VOICE_RATES = {  # per word (fillers, repeats) or per number (spoken): caller side, agent side
    "filler": (0.04, 0.01),
    "repeat": (0.03, 0.005),
    "spoken_number": (0.5, 0.3),
    "backchannel": (0.15, 0.15),  # after a turn of 10+ words, the other side's backchannel
}
UNFORMATTED_CALLS = 0.8  # calls whose transcript is lower case without punctuation


def number_words(n: int) -> str:
    """0-59 in words (what times, counts and minutes need)."""
    if n < 10:
        return _DIGITS[n]
    if n < 20:
        return _TEENS[n - 10]
    tens, unit = divmod(n, 10)
    return _TENS[tens] + ("" if unit == 0 else f" {_DIGITS[unit]}")


def _say_time(match: re.Match) -> str:
    hour, minutes, half = int(match.group(1)), match.group(2), match.group(3).lower()
    spoken = number_words(hour) if hour < 60 else match.group(1)
    return f"{spoken}{_minutes(minutes or '')} {half}m"


def _minutes(minutes: str) -> str:
    if minutes in ("", "00"):
        return ""
    return " " + ("oh " + _DIGITS[int(minutes)] if minutes.startswith("0") else number_words(int(minutes)))


def _say_clock(match: re.Match) -> str:
    """ "18:00" -> "six pm", "18:30" -> "six thirty pm", "11:30" -> "eleven thirty" (as people say them)."""
    hour, minutes = int(match.group(1)), match.group(2)
    if hour > 23:
        return match.group(0)
    if hour > 12:
        return f"{number_words(hour - 12)}{_minutes(minutes)} pm"
    return f"{number_words(hour)}{_minutes(minutes) or ' o clock'}"


def spoken_numbers(text: str, rng: random.Random, rate: float) -> str:
    """Some of the numbers as spoken words: times, phone numbers digit by digit, small counts."""

    def maybe(fn):
        return lambda m: fn(m) if rng.random() < rate else m.group(0)

    text = _TIME.sub(maybe(_say_time), text)
    text = _CLOCK.sub(maybe(_say_clock), text)
    text = _PHONE.sub(maybe(lambda m: " ".join(_DIGITS[int(d)] for d in m.group(0) if d.isdigit())), text)
    return _SMALL.sub(maybe(lambda m: number_words(int(m.group(1)))), text)


def unformatted(text: str) -> str:
    """Lower case, no punctuation (apostrophes and in-word hyphens kept), as a plain recogniser writes."""
    text = re.sub(r"(?<=\w)[.,!?;:](?=\w)", " ", text.lower())
    text = re.sub(r"[^\w\s'-]|(?<!\w)-|-(?!\w)", " ", text)
    return " ".join(text.split())


def asr(text: str, rng: random.Random, *, side: str, plain: bool) -> str:
    """One turn as the voice variant has it (``side``: "user" or "assistant"; ``plain``: unformatted call)."""
    who = 0 if side == "user" else 1
    text = spoken_numbers(text, rng, VOICE_RATES["spoken_number"][who])
    if plain:
        text = unformatted(text)
    words, out, fillers, repeats = text.split(), [], 0, 0
    for i, word in enumerate(words):
        if i and fillers < 2 and rng.random() < VOICE_RATES["filler"][who]:
            out.append(rng.choice(vocab.VOICE_FILLERS) + ("" if plain else ","))
            fillers += 1
        out.append(word)
        # a stutter on a word, never on a number word (a repeated "two two" reads as 22)
        if (
            repeats < 1
            and word.isalpha()
            and word.lower() not in _NUMBER_WORDS
            and rng.random() < VOICE_RATES["repeat"][who]
        ):
            out.append(word)
            repeats += 1
    return " ".join(out)


def spoken_account(account: str, rng: random.Random) -> str:
    """An account number as a caller reads it: digit groups, or digits as words."""
    if rng.random() < 0.5:
        cut = rng.choice((2, 3))
        return " ".join(account[i : i + cut] for i in range(0, len(account), cut))
    return " ".join(_DIGITS[int(d)] for d in account)


def spoken_email(email: str) -> str:
    local, domain = email.split("@")
    return f"{local.replace('.', ' dot ')} at {domain.replace('.', ' dot ')}"


# --------------------------------------------------------------------------- callers


def _unshared(pick: int, shared: set[int], count: int) -> int | None:
    """``pick`` or, when its landline is already shared, the next caller's (cyclically) that is not."""
    for k in range(count):
        candidate = (pick + k) % count
        if candidate not in shared:
            return candidate
    return None


def _assign(episodes: Sequence[Episode], persons: list[Person], rng: random.Random) -> None:
    """Give each person 3-6 episodes, often repeating a kind, without reusing an episode."""
    by_kind: dict[str, list[Episode]] = {}
    for ep in episodes:
        by_kind.setdefault(ep.kind, []).append(ep)
    for pool in by_kind.values():
        rng.shuffle(pool)
    kinds = sorted(by_kind)
    for person in persons:
        n = rng.randint(*CALLS_PER_CALLER)
        for _ in range(n):
            had = [e.kind for e in person.episodes if by_kind[e.kind]]
            kind = rng.choice(had) if had and rng.random() < REPEAT_KIND else None
            if kind is None:
                weights = [len(by_kind[k]) for k in kinds]
                if not sum(weights):
                    break
                kind = rng.choices(kinds, weights)[0]
            person.episodes.append(by_kind[kind].pop())
        if not person.episodes:
            raise ValueError("not enough SGD episodes for this many callers")


def make_persons(episodes: Sequence[Episode], *, half: str, seed: int, callers_per_tenant: int) -> list[Person]:
    rng = rng_for("persons", half, seed)
    names = [f"{f} {last}" for f in vocab.FIRST_NAMES for last in vocab.LAST_NAMES]
    rng.shuffle(names)
    if 2 * callers_per_tenant > len(names):
        raise ValueError(f"at most {len(names) // 2} callers per tenant")
    numbers = [f"+1{a}5550{n:03d}" for a in vocab.AREA_CODES for n in range(100, 200)]
    if 4 * callers_per_tenant > len(numbers):
        raise ValueError(f"at most {len(numbers) // 4} callers per tenant")
    phones = rng.sample(numbers, 4 * callers_per_tenant)
    accounts = rng.sample(range(1_000_000, 9_999_999), 2 * callers_per_tenant)
    persons: list[Person] = []
    shared: set[int] = set()  # first-tenant callers whose landline a second-tenant caller shares
    for t, tenant in enumerate(TENANTS):
        for i in range(callers_per_tenant):
            name = names.pop()
            first, last = name.lower().split()
            domain = vocab.EMAIL_DOMAINS[rng.randrange(len(vocab.EMAIL_DOMAINS))]
            home = phones.pop()
            if t == 1 and rng.random() < SHARED_PHONE:
                # a household's landline: one per household (two callers of one tenant on one phone are
                # one caller to the memory layer); the next unshared one when the pick is taken
                pick = _unshared(rng.randrange(callers_per_tenant), shared, callers_per_tenant)
                if pick is not None:
                    shared.add(pick)
                    home = persons[pick].home_phone
            persons.append(
                Person(
                    tenant,
                    f"{tenant[-1]}{i:02d}",
                    name,
                    home,
                    str(accounts[t * callers_per_tenant + i]),
                    f"{first}.{last}@{domain}",
                    "email" if rng.random() < EMAIL_IDENTITY else "account",
                    other_phone=phones.pop(),
                )
            )
    _assign(episodes, persons, rng)
    for person in persons:
        at = ERA_START + timedelta(days=rng.randint(0, 40), hours=rng.randint(8, 18), minutes=rng.randrange(60))
        for k in range(len(person.episodes)):
            if k:
                at += timedelta(days=rng.randint(*GAP_DAYS), hours=rng.randint(-3, 3), minutes=rng.randrange(60))
                at = at.replace(hour=min(max(at.hour, 8), 19))
            person.dates.append(at)
        if len(person.episodes) >= 3 and rng.random() < OTHER_PHONE:
            person.other_phone_call = rng.randrange(1, len(person.episodes))
        person.states_identity = person.other_phone_call is not None or rng.random() < STATES_IDENTITY
    return persons


# --------------------------------------------------------------------------- calls


def _identity_turns(
    person: Person, where: str, variant: str, rng: random.Random, noise: random.Random
) -> list[TurnTruth]:
    """The identity exchange: "ask" (agent asks, caller answers, agent thanks), "volunteer" (a caller
    line to prefix), "end" (caller adds it, agent thanks). ``rng`` picks the wordings (the same in
    both variants); ``noise`` how the voice variant says the identifier."""
    voice = variant == "voice"
    fill = {
        "account": spoken_account(person.account, noise) if voice else person.account,
        "email": spoken_email(person.email) if voice else person.email,
        "name": person.name,
        "other": rng.choice(vocab.OTHER_PHONES),
    }
    email = person.identity_kind == "email"
    if where == "ask":
        answer = rng.choice(vocab.EMAIL_ANSWERS if email else vocab.ACCOUNT_ANSWERS)
        lines = [("assistant", rng.choice(vocab.ACCOUNT_ASKS)), ("user", answer), ("assistant", None)]
    elif where == "volunteer":
        lines = [("user", rng.choice(vocab.EMAIL_VOLUNTEERED if email else vocab.ACCOUNT_VOLUNTEERED))]
    else:
        lines = [("user", rng.choice(vocab.EMAIL_AT_END if email else vocab.ACCOUNT_AT_END)), ("assistant", None)]
    out = []
    for role, text in lines:
        if text is None:
            out.append(TurnTruth(role, rng.choice(vocab.IDENTITY_ACKS), inserted="ack"))
        else:
            out.append(TurnTruth(role, text.format(**fill), inserted="identity" if role == "user" else "ack"))
    return out


def _call_turns(person: Person, k: int, variant: str, seed: int) -> tuple[list[TurnTruth], int | str]:
    """The turns of a person's k-th call and the point its probes run at."""
    rng = rng_for("turns", person.tenant, person.id, k, seed)  # the same structure in both variants
    noise = rng_for("voice", person.tenant, person.id, k, seed)
    turns = list(person.episodes[k].turns)
    point: int | str = "start"
    other = k == person.other_phone_call
    if (k == 0 and person.states_identity) or other:
        where = "ask" if not other else rng.choices(("ask", "volunteer", "end"), (0.45, 0.35, 0.2))[0]
        lines = _identity_turns(person, where, variant, rng, noise)
        if where == "ask":
            turns = lines + turns
            point = len(lines)
        elif where == "volunteer":
            first = next(i for i, t in enumerate(turns) if t.role == "user")
            turns[first] = replace(turns[first], text=f"{lines[0].text} {turns[first].text}", inserted="identity")
            point = first + 1
        else:
            cut = max(len(turns) - 2, 1)
            turns = turns[:cut] + lines + turns[cut:]
            point = "end"
    if variant == "voice":
        turns = _voice(turns, noise)
        if isinstance(point, int):  # backchannels may have been inserted before the identity line
            point = _point_after_identity(turns, point)
    return turns, (point if other else "start")


def _point_after_identity(turns: list[TurnTruth], fallback: int) -> int:
    for i, t in enumerate(turns):
        if t.inserted == "identity":
            j = i + 1
            while j < len(turns) and turns[j].inserted in ("ack", "backchannel"):
                j += 1
            return j
    return fallback


def _voice(turns: list[TurnTruth], rng: random.Random) -> list[TurnTruth]:
    plain = rng.random() < UNFORMATTED_CALLS
    out: list[TurnTruth] = []
    for turn in turns:
        out.append(replace(turn, text=asr(turn.text, rng, side=turn.role, plain=plain)))
        long_turn = len(turn.text.split()) >= 10
        other = "assistant" if turn.role == "user" else "user"
        if long_turn and rng.random() < VOICE_RATES["backchannel"][0 if other == "user" else 1]:
            said = rng.choice(vocab.CALLER_BACKCHANNELS if other == "user" else vocab.AGENT_BACKCHANNELS)
            out.append(TurnTruth(other, unformatted(said) if plain else said, inserted="backchannel"))
    return out


# --------------------------------------------------------------------------- probes


def _ago_phrase(days: int, words: ModuleType = vocab) -> tuple[str, ...] | None:
    for low, high, phrases in words.AGO:
        if low <= days <= high:
            return phrases
    return None


def selector_targets(person: Person, j: int, words: ModuleType = vocab) -> list[tuple[str, int, dict[str, str]]]:
    """(selector, index of the target call, fields for its phrase) for the j-th call of a person.

    The ``about`` selector (a wording set with ``ABOUT``): the call named by another of its values
    ("the one in San Jose") that no other earlier call of the kind shares, when there are several."""
    eps, dates, now = person.episodes[:j], person.dates[:j], person.dates[j]
    out: list[tuple[str, int, dict[str, str]]] = []
    for kind in sorted({e.kind for e in eps}):
        of_kind = [i for i, e in enumerate(eps) if e.kind == kind]
        did = {"kind_did": vocab.KINDS[kind]["did"], "kind": kind}
        out.append(("last", of_kind[-1], did))
        if len(of_kind) == 1:
            out.append(("kind_only", of_kind[0], did))
        if len(eps) >= 2 and eps[0].kind == kind:
            out.append(("first_call", 0, did))
        if len(eps) >= 3 and eps[1].kind == kind:
            out.append(("second_call", 1, did))
        if len(of_kind) >= 2 and of_kind[0] != 0:
            out.append(("first_of_kind", of_kind[0], did))
        if len(of_kind) >= 2:
            out.append(("before_last", of_kind[-2], did))
        for i in of_kind:
            month = dates[i].month
            same_month = [m for m in of_kind if dates[m].month == month and dates[m].year == dates[i].year]
            if len(same_month) == 1 and (month, dates[i].year) != (now.month, now.year):
                out.append(("month", i, did | {"month": MONTHS[month - 1]}))
            days = (now.date() - dates[i].date()).days
            phrases = _ago_phrase(days, words)
            near = [m for m in of_kind if abs((dates[m] - dates[i]).days) <= vocab.AGO_MARGIN_DAYS]
            if phrases and len(near) == 1:
                out.append(("ago", i, did | {"ago_options": "|".join(phrases)}))
            for group in getattr(words, "ABOUT", {}) if len(of_kind) >= 2 else ():
                value = eps[i].values.get(group)
                if value is None or any(eps[m].values.get(group) == value for m in of_kind if m != i):
                    continue
                surface = sorted(eps[i].surfaces[group])[0]
                out.append(("about", i, did | {"about_group": group, "about_value": surface}))
    return out


def askable(episode: Episode, words: ModuleType = vocab) -> list[str]:
    groups = []
    for group in words.QUESTIONS.get(episode.kind, {}):  # a wording set may not cover every kind
        if group not in episode.values:
            continue
        if group == "date" and not any(is_absolute_date(s) for s in episode.surfaces[group]):
            continue
        groups.append(group)
    return groups


def _phrase(selector: str, fields: dict[str, str], half: str, rng: random.Random, words: ModuleType = vocab) -> str:
    phrase = rng.choice(vocab.for_half(words.SELECTORS[selector][1], half))
    if "{ago}" in phrase:
        fields = fields | {"ago": rng.choice(fields["ago_options"].split("|"))}
    if "{did}" in phrase:
        fields = fields | {"did": rng.choice(vocab.for_half(words.KIND_DID[fields["kind"]], half))}
    if "{about}" in phrase:
        about = rng.choice(vocab.for_half(words.ABOUT[fields["about_group"]], half))
        fields = fields | {"about": about.format(value=fields["about_value"])}
    return phrase.format(**fields)


def _question(template: str, when: str, noun: str, tidy: bool = False) -> str:
    """The template with the selector phrase; ``tidy`` (the blind set, whose phrases may start or end
    with a comma) also drops a comma left before the end or at the start."""
    text = template.format(when=when, event=noun or "event")
    text = re.sub(r"\s+([?.,])", r"\1", re.sub(r"\s+", " ", text)).replace(",,", ",")
    if tidy:
        text = re.sub(r",([?.])", r"\1", text).lstrip(", ")
    return text[0].upper() + text[1:]


def make_probes(
    person: Person, j: int, call_id: str, call_ids: list[str], half: str, seed: int, words: ModuleType = vocab
) -> list[ValueProbe]:
    """Up to PROBES_PER_CALL value probes for the j-th call: an update probe first when one exists,
    then different selectors, each about a value of its target call, worded from ``words``."""
    rng = rng_for("probes", person.tenant, person.id, j, half, seed)
    candidates = []
    for selector, i, fields in selector_targets(person, j, words):
        target = person.episodes[i]
        for group in askable(target, words):
            if group != fields.get("about_group"):
                candidates.append((selector, i, fields, group))
    # a weighted random order (names and times more often than party sizes), updates first half the time
    keys = [rng.random() ** (1 / vocab.GROUP_WEIGHTS.get(c[3], 1.0)) for c in candidates]
    candidates = [c for _, c in sorted(zip(keys, candidates, strict=True), key=lambda kc: -kc[0])]
    if rng.random() < UPDATE_FIRST:
        candidates.sort(key=lambda c: not person.episodes[c[1]].former.get(c[3]))  # stable
    chosen, used_selectors, used_values = [], set(), set()
    for selector, i, fields, group in candidates:
        if len(chosen) >= PROBES_PER_CALL:
            break
        if selector in used_selectors or (i, group) in used_values:
            continue
        used_selectors.add(selector)
        used_values.add((i, group))
        chosen.append((selector, i, fields, group))
    probes = []
    for n, (selector, i, fields, group) in enumerate(chosen, 1):
        target = person.episodes[i]
        template = rng.choice(vocab.for_half(words.QUESTIONS[target.kind][group], half))
        query = _question(template, _phrase(selector, fields, half, rng, words), target.event_noun, words is not vocab)
        probes.append(
            ValueProbe(
                f"{call_id}/q{n}",
                call_id,
                query,
                target.kind,
                group,
                selector,
                words.SELECTORS[selector][0],
                call_ids[i],
                target.values[group],
                target.surfaces[group],
                target.former.get(group, ()),
                target.former_surfaces.get(group, ()),
                skips_calls=i < j - 1,
                template=template,
            )
        )
    return probes


# --------------------------------------------------------------------------- the whole set


def build(
    episodes: Sequence[Episode],
    *,
    half: str,
    variant: str,
    seed: int = 0,
    callers_per_tenant: int = 10,
    wordings: str = "original",
) -> SgdSet:
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}")
    if wordings not in WORDINGS:
        raise ValueError(f"wordings must be one of {tuple(WORDINGS)}")
    words = WORDINGS[wordings]
    persons = make_persons(episodes, half=half, seed=seed, callers_per_tenant=callers_per_tenant)
    truth: dict[str, tuple[TurnTruth, ...]] = {}
    episode_of: dict[str, Episode] = {}
    pending: list[tuple[Person, int, str, list[TurnTruth], int | str, list[ValueProbe]]] = []
    value_probes: list[ValueProbe] = []
    for person in persons:
        ids = [f"{person.id}-{k + 1}" for k in range(len(person.episodes))]
        for k, call_id in enumerate(ids):
            turns, point = _call_turns(person, k, variant, seed)
            probes = make_probes(person, k, call_id, ids, half, seed, words) if k else []
            if variant == "voice":
                probes = [
                    replace(p, query=asr(p.query, rng_for("query", p.id, seed), side="user", plain=True))
                    for p in probes
                ]
            truth[call_id] = tuple(turns)
            episode_of[call_id] = person.episodes[k]
            value_probes += probes
            pending.append((person, k, call_id, turns, point, probes))
    # identity probes need the order of the calls: "different from" names other callers' earlier calls
    order = sorted(pending, key=lambda p: (p[0].dates[p[1]], p[2]))
    last_call: dict[tuple[str, str], str] = {}
    calls: list[es.Call] = []
    for person, k, call_id, turns, point, probes in order:
        at = person.dates[k]
        scenario_probes = [es.Probe(p.id, call_id, "sgd_value", point, {"probe": p}) for p in probes]
        if k == 0:
            spec: dict = {"expect_new_caller": True}
            scenario_probes.append(es.Probe(f"{call_id}/id", call_id, "identity", "start", spec))
        else:
            others = [c for (t, pid), c in last_call.items() if t == person.tenant and pid != person.id]
            spec = {"expect_same_caller_as": f"{person.id}-1"}
            if others:
                spec["expect_different_caller_from"] = rng_for("id", call_id, seed).sample(others, min(2, len(others)))
            scenario_probes.append(es.Probe(f"{call_id}/id", call_id, "identity", "end", spec))
        phone = person.other_phone if k == person.other_phone_call else person.home_phone
        calls.append(
            es.Call(
                call_id,
                person.tenant,
                person.id,
                at,
                {"phone": phone},
                tuple((t.role, t.text) for t in turns),
                tuple(scenario_probes),
            )
        )
        last_call[(person.tenant, person.id)] = call_id
    tenants = {}
    for tenant in TENANTS:
        people = {}
        for person in (p for p in persons if p.tenant == tenant):
            phones = [person.home_phone] + ([person.other_phone] if person.other_phone_call is not None else [])
            identifiers = {
                "phone": tuple(es.normalize_identifier("phone", p, region="US").value for p in phones),
                "account": (person.account,),
                "email": (person.email,),
            }
            people[person.id] = es.Person(tenant, person.id, person.name, identifiers)
        tenants[tenant] = es.Tenant(tenant, "bookings", "US", people)
    scenario = es.ScenarioSet(tenants, calls)
    return SgdSet(
        half, variant, seed, scenario, truth, episode_of, {(p.tenant, p.id): p for p in persons}, value_probes
    )

"""Synthetic long support calls (8 to 20 minutes of ASR-style turns) with labelled durable facts.

Each call is a telecom or bank support call as a speech recogniser would transcribe it: fillers
("uh", "um"), backchannels ("uh-huh", "okay"), stalls ("let me think for a second"), repair
("sorry, can you repeat that?" and the agent saying it again), small talk, holds, and long
stretches of troubleshooting talk. Durable facts (a name, an account number said digit by digit,
a date of birth, amounts, dates, reference numbers, an e-mail address said aloud, an address,
promises, preferences, an appointment, a balance, a callback number) are placed early, in the
middle and late in the call, each with the words that must survive (``expect``) and a question
the caller asks about it at the end (``probe``).

Deterministic: the same (minutes, seed) gives the same call. No model, no network.

    python bench/longcalls.py --minutes 10 --seed 1     # print one call
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from memory.compaction import Turn
from memory.text.vocab import DIGIT_WORDS, TEENS, TENS

__all__ = ["LabelledFact", "SyntheticCall", "long_call", "make_calls"]

WORDS_PER_SECOND = 2.6


@dataclass(frozen=True)
class LabelledFact:
    """A durable fact said in a call. Retained if any ``expect`` string (lower case, spoken
    digits joined) is in what the model is sent when the caller asks ``probe``."""

    id: str
    kind: str
    expect: tuple[str, ...]
    turn_id: str
    at_s: float
    placement: str  # early | middle | late
    probe: str


@dataclass
class SyntheticCall:
    call_id: str
    minutes: float
    started_at: datetime
    turns: list[Turn] = field(default_factory=list)
    facts: list[LabelledFact] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return (self.turns[-1].at - self.started_at).total_seconds() if self.turns else 0.0


# --------------------------------------------------------------------------- vocabulary

_DIGIT_WORDS = sorted(DIGIT_WORDS, key=DIGIT_WORDS.__getitem__)  # "zero" ... "nine"
_TEEN_WORDS = sorted(TEENS, key=TEENS.__getitem__)  # "ten" ... "nineteen"
_TENS_WORDS = {value // 10: word for word, value in TENS.items()}  # 2: "twenty" ... 9: "ninety"
_FIRST = ["Dana", "Marcus", "Priya", "Tomasz", "Aisha", "Liam", "Sofia", "Kenji", "Grace", "Mateo"]
_LAST = ["Reyes", "Okafor", "Lindqvist", "Haddad", "Moreau", "Brennan", "Castillo", "Novak", "Ibsen", "Tanaka"]
_STREETS = ["Elm Street", "Harbor Road", "Maple Avenue", "Quarry Lane", "Birch Drive", "Station Road"]
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October"]
_ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
             "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth",
             "eighteenth", "nineteenth", "twentieth"]  # fmt: skip
_DOMAINS = ["gmail", "outlook", "yahoo", "proton"]

BACKCHANNELS = ["uh-huh", "okay", "mm-hmm", "yeah", "right", "okay, yeah", "sure", "got it", "uh huh, okay", "yep",
                "alright", "okay, thanks", "mhm", "oh, okay", "right, right"]  # fmt: skip
CALLER_STALLS = [
    "um, let me think for a second",
    "hold on, let me grab my glasses",
    "uh, give me a second",
    "sorry, can you repeat that?",
    "sorry, what was that? the line cut out",
    "hang on, my dog is barking, one second",
    "uh, sorry, say that again?",
    "are you still there?",
    "okay, um, hold on",
]
AGENT_STALLS = [
    "Let me pull that up for you, one moment.",
    "Thanks for your patience, I'm still looking.",
    "Bear with me for just a second while the system loads.",
    "Okay, let me have a look at that.",
    "Thank you for holding.",
    "Yes, I'm still here, sorry about the wait.",
    "One moment please, it's a bit slow today.",
]
SMALL_TALK = [
    ("user", "How's your day going, by the way?"),
    ("assistant", "It's going well, thank you for asking! How about you?"),
    ("user", "Oh, not bad, it's raining here again, so, you know."),
    ("assistant", "Oh no, I hope it clears up for the weekend."),
    ("user", "Me too, we've got weekend plans, a little barbecue."),
    ("assistant", "That sounds lovely."),
]
# troubleshooting talk: substantive but with no durable values
CALLER_TALK = [
    "So the internet keeps dropping out, mostly in the evenings when everyone's streaming.",
    "Yeah, I already tried turning the router off and on again, uh, a couple of times.",
    "The lights on the front, um, the one on the right is blinking orange.",
    "It's the box that came with the installation, the white one.",
    "I'm mostly working from home, so it's, uh, it's really a problem for my video calls.",
    "No, the cable's plugged in properly, I checked it this morning.",
    "It's usually fine during the day and then it just goes at night.",
    "My daughter says her laptop can't see the network at all sometimes.",
    "I don't really understand why I'm paying for a faster plan if it's this slow.",
    "Honestly, I've been a customer for years and this never used to happen.",
    "Is there something wrong in my area, like an outage or something?",
    "Okay, um, and the app also keeps logging me out whenever I open it.",
    "I did the speed test on the app and it said it was really slow.",
    "I tried the other cable too, uh, the grey one, same thing.",
    "Do I need to be at home for that or can you do it remotely?",
    "It's, uh, it's upstairs in the office, next to the window.",
    "Yeah, the wifi name is still the default one, I never changed it.",
    "Can you explain why the bill went up, I didn't change anything.",
    "So what happens if it keeps dropping after you reset it?",
    "I'm not very technical, so, um, please bear with me.",
]
AGENT_TALK = [
    "I understand how frustrating that must be, especially when you're working from home.",
    "From what you're describing, it sounds like the router might be overheating or losing sync with the line.",
    "Could you check whether the light on the right is blinking or solid?",
    "An orange blinking light usually means the router has lost its connection to our network.",
    "I'm going to run a remote line test now, it checks the signal quality between the cabinet and your home.",
    "The line test shows some noise on the line in the evenings, which would explain the drop outs.",
    "Sometimes a faulty filter or an old extension cable causes exactly this kind of problem.",
    "There's no outage reported in your area right now, so this looks specific to your line.",
    "If you can, try moving the router away from the window and other electronics.",
    "The app logging you out is a known issue with the older version, an update should fix it.",
    "I can see the bill went up because the introductory discount on your package ended.",
    "I completely understand, and I want to make sure we get this sorted for you properly.",
    "I'll explain what happens next so you know what to expect.",
    "Resetting the router remotely takes a few minutes and the lights will go off for a moment.",
    "Your router model is a bit older, so a replacement could help with the evening drops.",
    "That's a good question, let me explain how the speed on your package works.",
    "Streaming on several devices at once can slow things down, but not drop the connection completely.",
    "The signal looks stable right now, but that matches what you said about the daytime.",
]


def _spell(digits: str, rng: random.Random) -> str:
    """Digits as a recogniser may transcribe them said aloud: words, sometimes "oh" for zero."""
    words = []
    for d in digits:
        words.append("oh" if d == "0" and rng.random() < 0.5 else _DIGIT_WORDS[int(d)])
    return " ".join(words)


def _filler(text: str, rng: random.Random, rate: float = 0.35) -> str:
    """Sprinkle ASR fillers into a sentence."""
    if rng.random() > rate:
        return text
    words = text.split()
    pos = rng.randrange(0, max(1, min(len(words), 6)))
    words.insert(pos, rng.choice(["uh,", "um,", "uh", "um", "you know,", "like,"]))
    if pos == 0:
        words[0] = words[0].capitalize()
        words[1] = words[1][0].lower() + words[1][1:] if words[1][:1].isupper() and words[1] not in ("I",) else words[1]
    return " ".join(words)


# --------------------------------------------------------------------------- the call builder


class _Builder:
    def __init__(self, call: SyntheticCall, rng: random.Random) -> None:
        self.call = call
        self.rng = rng
        self.t = 0.0
        self.talk_caller = list(CALLER_TALK)
        self.talk_agent = list(AGENT_TALK)
        rng.shuffle(self.talk_caller)
        rng.shuffle(self.talk_agent)

    def say(self, role: str, text: str, *, pause: float | None = None) -> str:
        gap = pause if pause is not None else self.rng.uniform(0.5, 1.6)
        self.t += gap
        turn_id = f"{self.call.call_id}-{len(self.call.turns):03d}"
        at = self.call.started_at + timedelta(seconds=self.t)
        self.call.turns.append(Turn(turn_id, role, text, at))
        self.t += len(text.split()) / WORDS_PER_SECOND
        return turn_id

    def fact(self, fact_id: str, kind: str, role: str, text: str, expect: tuple[str, ...], probe: str) -> None:
        at = self.t
        turn_id = self.say(role, text)
        minutes = self.call.minutes * 60
        placement = "early" if at < minutes * 0.3 else "late" if at > minutes * 0.7 else "middle"
        self.call.facts.append(LabelledFact(fact_id, kind, expect, turn_id, at, placement, probe))

    def chatter(self, until_s: float) -> None:
        """Talk with no durable facts until ``until_s`` seconds into the call."""
        rng = self.rng
        while self.t < until_s:
            roll = rng.random()
            if roll < 0.42:
                self.say("user", _filler(self._next(self.talk_caller, CALLER_TALK), rng))
                ack = rng.choice(BACKCHANNELS).capitalize().rstrip(".") + ". " if rng.random() < 0.6 else ""
                self.say("assistant", ack + self._next(self.talk_agent, AGENT_TALK))
            elif roll < 0.7:
                self.say("assistant", self._next(self.talk_agent, AGENT_TALK))
                self.say("user", rng.choice(BACKCHANNELS))
            elif roll < 0.8:
                self.say("user", rng.choice(CALLER_STALLS))
                last_agent = next((t.text for t in reversed(self.call.turns) if t.role == "assistant"), "Okay.")
                asked_again = any(w in self.call.turns[-1].text for w in ("repeat", "say that", "what was that"))
                self.say("assistant", f"Of course. {last_agent}" if asked_again else "No problem, take your time.")
            elif roll < 0.92:
                self.say("assistant", rng.choice(AGENT_STALLS))
                self.say("user", rng.choice(BACKCHANNELS), pause=rng.uniform(4.0, 15.0))
            else:
                start = rng.choice((0, 3))
                for role, text in SMALL_TALK[start : start + 3]:
                    self.say(role, text)

    def _next(self, pool: list[str], source: list[str]) -> str:
        if not pool:
            pool.extend(source)
            self.rng.shuffle(pool)
        return pool.pop()


def long_call(minutes: float, seed: int, *, started_at: datetime | None = None, phrasing: int = 0) -> SyntheticCall:
    """One synthetic call of about ``minutes`` minutes (the seed picks the values and the talk).

    ``phrasing`` 0 is the wording the compactor was developed against; 1 says the same facts in
    other words (written after the compactor; its first run exposed gaps that were then fixed, so
    it is not blind any more); 2 is a card-dispute call in a third wording, run once and reported
    as it came out (never tuned on).
    """
    if phrasing == 1:
        return _held_out_call(minutes, seed, started_at=started_at)
    if phrasing == 2:
        return _blind_call(minutes, seed, started_at=started_at)
    rng = random.Random(f"{minutes}-{seed}")
    start = started_at or datetime(2026, 11, 18, 15, 0, tzinfo=UTC) + timedelta(days=seed)
    call = SyntheticCall(f"call{int(minutes):02d}m-s{seed}", minutes, start)
    b = _Builder(call, rng)
    total = minutes * 60

    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    account = "".join(rng.choice("0123456789") for _ in range(8))
    account = str(rng.randint(1, 9)) + account[1:]
    dob_month, dob_day, dob_year = rng.choice(_MONTHS), rng.randint(1, 20), rng.randint(1950, 2001)
    dollars, cents = rng.randint(12, 240), rng.randint(1, 99)
    charge_month, charge_day = rng.choice(_MONTHS[:9]), rng.randint(1, 20)
    ticket = str(rng.randint(1000, 9999))
    email_user = f"{first.lower()}.{last.lower()}"
    domain = rng.choice(_DOMAINS)
    house, street = rng.randint(2, 99), rng.choice(_STREETS)
    order = str(rng.randint(10000, 99999))
    serial = f"ZX-{rng.randint(1000, 9999)}"
    balance_d, balance_c = rng.randint(40, 400), rng.randint(1, 99)
    callback = f"415555{rng.randint(1000, 9999)}"
    tech_day = rng.choice(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"])

    # ---- opening and the early facts (first three minutes)
    b.say("assistant", "Thanks for calling Acme Telecom, this is Ava. How can I help you today?", pause=0.0)
    b.say("user", "Hi, um, yeah, I'm calling about my bill and, uh, my internet.")
    b.say("assistant", "I'm happy to help with both. Could I start with your full name and your account number?")
    b.fact(
        "name",
        "name",
        "user",
        f"Sure, uh, it's {first} {last}.",
        (f"{first.lower()} {last.lower()}",),
        "Sorry, what name do you have on the account for me?",
    )
    b.say("assistant", f"Thank you, {first}. And the account number?")
    b.say("user", "Um, hold on, let me find the letter.")
    b.fact(
        "account",
        "account",
        "user",
        f"Okay, my account number is {_spell(account[:4], rng)}, {_spell(account[4:], rng)}.",
        (account,),
        "What was the account number I gave you at the start?",
    )
    b.say("assistant", "Thank you. For security, can you confirm your date of birth please?")
    b.fact(
        "dob",
        "verification",
        "user",
        f"It's {dob_month} {_ORDINALS[dob_day - 1]}, {dob_year}.",
        (str(dob_year),),
        "Which date of birth did I give you for security?",
    )
    b.say("assistant", "Perfect, thank you, you're verified.")
    b.say("user", rng.choice(BACKCHANNELS))
    b.chatter(total * 0.06)
    b.fact(
        "amount",
        "amount",
        "user",
        f"So, uh, I was charged twice on my last bill, {dollars} dollars and {cents} cents, two times.",
        (f"{dollars}.{cents:02d}", f"{dollars} dollars and {cents}"),
        "How much was it that I was charged twice, again?",
    )
    b.say("assistant", "I'm sorry to hear that. Do you remember the date of the charges?")
    b.fact(
        "charge_date",
        "date",
        "user",
        f"Um, I think it was {charge_month} {_ORDINALS[charge_day - 1]}, both on the same day.",
        (f"{charge_month.lower()} {_ORDINALS[charge_day - 1]}", f"{charge_month.lower()} {charge_day}"),
        "On what day did I say the double charge happened?",
    )
    b.say("assistant", "Okay, I can see two identical charges on that day. Let me look into it.")
    b.chatter(total * 0.25)

    # ---- the middle of the call
    b.chatter(total * 0.4)
    b.fact(
        "ticket",
        "reference",
        "assistant",
        f"I've filed a refund request for the duplicate charge, your ticket number is {_spell(ticket, rng)}.",
        (ticket,),
        "Sorry, what was the ticket number for the refund again?",
    )
    b.say("user", "Sorry, can you repeat that?")
    b.say("assistant", f"Of course, the ticket number is {ticket}.")
    b.fact(
        "promise",
        "promise",
        "assistant",
        "You'll see the refund on your card within five business days, and I'll send you a confirmation e-mail today.",
        ("within five business days", "within 5 business days"),
        "How long did you say the refund would take?",
    )
    b.say("user", "Okay, and, uh, where will the e-mail go?")
    b.say("assistant", "To the address on file. Can you tell me which e-mail address you'd like us to use?")
    b.fact(
        "email",
        "email",
        "user",
        f"Yeah, it's {first.lower()} dot {last.lower()} at {domain} dot com.",
        (f"{email_user}@{domain}.com", f"{first.lower()} dot {last.lower()} at {domain} dot com"),
        "Which e-mail address did I give you for the confirmation?",
    )
    b.chatter(total * 0.5)
    b.fact(
        "address",
        "address",
        "user",
        f"Oh, and I moved recently, my new address is {house} {street}, can you update that?",
        (f"{house} {street.lower()}",),
        "What address did I tell you I moved to?",
    )
    b.say("assistant", "Of course, I've updated your service address.")
    b.chatter(total * 0.58)
    b.fact(
        "serial",
        "reference",
        "user",
        f"The serial number on the bottom of the router is {serial}.",
        (serial.lower(),),
        "What was the router's serial number that I read out?",
    )
    b.fact(
        "order",
        "reference",
        "assistant",
        f"Thank you. I've ordered a replacement router for you, the order number is {_spell(order, rng)}.",
        (order,),
        "Can you give me the order number for the new router again?",
    )
    b.chatter(total * 0.72)

    # ---- late in the call (the last few minutes)
    b.fact(
        "tech",
        "appointment",
        "assistant",
        f"I've also booked a technician visit for {tech_day} between nine and eleven am to check the line.",
        (tech_day.lower(),),
        "What day is the technician coming?",
    )
    b.say("user", "Okay, that works.")
    b.chatter(total * 0.8)
    b.fact(
        "balance",
        "account state",
        "assistant",
        f"Your current balance is ${balance_d}.{balance_c:02d}, and that already includes the credit for the duplicate charge.",
        (f"{balance_d}.{balance_c:02d}",),
        "What's my balance now, you said?",
    )
    b.chatter(total * 0.86)
    b.fact(
        "preference",
        "preference",
        "user",
        "And please text me instead of calling, I can't pick up at work.",
        ("text me",),
        "How did I say I'd like you to contact me?",
    )
    b.say("assistant", "Noted, we'll text you. Is there a good number for texts?")
    b.fact(
        "callback",
        "phone",
        "user",
        f"Yes, use {_spell(callback[:3], rng)}, {_spell(callback[3:6], rng)}, {_spell(callback[6:], rng)}.",
        (callback,),
        "What number did I give you for the texts?",
    )
    b.chatter(total * 0.97)
    b.say("assistant", "Is there anything else I can help you with today?")
    b.say("user", "No, that's everything, thanks.")
    b.say("assistant", "Thanks for calling Acme Telecom, have a great day!")
    return call


def _held_out_call(minutes: float, seed: int, *, started_at: datetime | None = None) -> SyntheticCall:
    """The same kind of call with the facts said in other words (not used to develop the compactor)."""
    rng = random.Random(f"held-out-{minutes}-{seed}")
    start = started_at or datetime(2026, 11, 18, 15, 0, tzinfo=UTC) + timedelta(days=seed)
    call = SyntheticCall(f"call{int(minutes):02d}m-s{seed}-b", minutes, start)
    b = _Builder(call, rng)
    total = minutes * 60
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    account = str(rng.randint(10_000_000, 99_999_999))
    dob_month, dob_day, dob_year = rng.choice(_MONTHS), rng.randint(1, 20), rng.randint(1950, 1999)
    dollars, cents = rng.randint(12, 240), rng.randint(10, 99)
    charge_month, charge_day = rng.choice(_MONTHS[:9]), rng.randint(1, 20)
    reference = f"RF-{rng.randint(1000, 9999)}"
    email_user = f"{first.lower()}{last.lower()}{rng.randint(10, 99)}"
    domain = rng.choice(_DOMAINS)
    house, street = rng.randint(2, 99), rng.choice(_STREETS)
    order = str(rng.randint(10000, 99999))
    sticker = f"QB{rng.randint(100, 999)}K"
    owed_d, owed_c = rng.randint(40, 400), rng.randint(10, 99)
    callback = f"415555{rng.randint(1000, 9999)}"
    visit_day = rng.choice(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"])
    year_words = {19: "nineteen"}[dob_year // 100] + " " + _tens_words(dob_year % 100)

    b.say("assistant", "Good afternoon, you're through to Acme Telecom, Ava speaking.", pause=0.0)
    b.say("user", "Oh, hi there. So, um, I've got a couple of problems, really.")
    b.say("assistant", "No worries, we'll go through them. Who am I speaking with today?")
    b.fact("name", "name", "user", f"Yeah, {first} {last}, that's me.", (f"{first.lower()} {last.lower()}",),
           "Can you tell me whose name the account is under?")  # fmt: skip
    b.say("assistant", "Lovely. And what's the account, please?")
    b.fact("account", "account", "user", f"Yeah so the account is {_spell(account, rng)}.", (account,),
           "Remind me, which account did I read out to you?")  # fmt: skip
    b.say("assistant", "Got it. I just need to check a security detail, what year were you born?")
    b.fact("dob", "verification", "user", f"{year_words.capitalize()}, {dob_month} the {_ORDINALS[dob_day - 1]}.",
           (str(dob_year),), "What did I tell you for my birth year?")  # fmt: skip
    b.say("assistant", "That matches, thanks.")
    b.chatter(total * 0.06)
    b.fact("amount", "amount", "user", f"The thing is there's this charge of ${dollars}.{cents:02d} and it went through twice.",
           (f"{dollars}.{cents:02d}",), "What was the amount of that double charge?")  # fmt: skip
    b.say("assistant", "I see. When did that happen?")
    b.fact("charge_date", "date", "user", f"The {_ORDINALS[charge_day - 1]} of {charge_month}, if I remember right.",
           (f"{_ORDINALS[charge_day - 1]} of {charge_month.lower()}", f"{charge_month.lower()} {charge_day}"),
           "What date did I give you for the charges?")  # fmt: skip
    b.chatter(total * 0.4)
    b.fact("ticket", "reference", "assistant", f"Right, the refund is raised, your reference for it is {reference}.",
           (reference.lower(),), "What's the refund reference you gave me?")  # fmt: skip
    b.fact("promise", "promise", "assistant", "The money should be back on your card in three to five working days.",
           ("three to five working days", "3 to 5 working days"), "When should the money be back on my card?")  # fmt: skip
    b.say("assistant", "Where should we send the confirmation?")
    b.fact("email", "email", "user", f"Um, {_spell_email(email_user)} at {domain} dot com.",
           (f"{email_user}@{domain}.com", f"{_spell_email(email_user)} at {domain} dot com"),
           "Which e-mail is the confirmation going to?")  # fmt: skip
    b.chatter(total * 0.5)
    b.fact("address", "address", "user", f"Also we're at {house} {street} now, since last month.",
           (f"{house} {street.lower()}",), "Where did I say we live now?")  # fmt: skip
    b.say("assistant", "Thanks, I'll put that on the account.")
    b.chatter(total * 0.58)
    b.fact("serial", "reference", "user", f"The sticker underneath says {sticker}.", (sticker.lower(),),
           "What did the sticker on the router say?")  # fmt: skip
    b.fact("order", "reference", "assistant", f"A new router is on its way, order {_spell(order, rng)}.", (order,),
           "What's the order for the new router?")  # fmt: skip
    b.chatter(total * 0.72)
    b.fact("tech", "appointment", "assistant", f"An engineer will come out on {visit_day} morning to look at the line.",
           (visit_day.lower(),), "When is the engineer coming out?")  # fmt: skip
    b.chatter(total * 0.8)
    b.fact("balance", "account state", "assistant", f"Right now you owe ${owed_d}.{owed_c:02d}, with the credit taken off.",
           (f"{owed_d}.{owed_c:02d}",), "How much do I owe right now?")  # fmt: skip
    b.chatter(total * 0.86)
    b.fact("preference", "preference", "user", "Oh, and e-mail is better than phone calls for me, honestly.",
           ("better than phone calls",), "How do I want you to get in touch with me?")  # fmt: skip
    b.say("assistant", "Sure. And if we do need to ring, which number?")
    b.fact("callback", "phone", "user", f"Best number is {_spell(callback, rng)}.", (callback,),
           "Which phone number did I give you?")  # fmt: skip
    b.chatter(total * 0.97)
    b.say("assistant", "Anything else I can do for you?")
    b.say("user", "No, that's it, cheers.")
    b.say("assistant", "Take care, bye now!")
    return call


def _blind_call(minutes: float, seed: int, *, started_at: datetime | None = None) -> SyntheticCall:
    """A card-dispute call in a third wording: measured once, never used to tune the compactor."""
    rng = random.Random(f"blind-{minutes}-{seed}")
    start = started_at or datetime(2026, 11, 18, 15, 0, tzinfo=UTC) + timedelta(days=seed)
    call = SyntheticCall(f"call{int(minutes):02d}m-s{seed}-c", minutes, start)
    b = _Builder(call, rng)
    total = minutes * 60
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    customer = str(rng.randint(10_000_000, 99_999_999))
    dob_month, dob_day = rng.choice(_MONTHS), rng.randint(1, 20)
    pounds, pence = rng.randint(20, 400), rng.choice([10, 20, 50, 75, 90])
    case = str(rng.randint(10000, 99999))
    email_user = f"{first[0].lower()}{last.lower()}"
    house, street, flat = rng.randint(2, 99), rng.choice(_STREETS), rng.randint(1, 9)
    card = str(rng.randint(1000, 9999))
    tracking = str(rng.randint(100000, 999999))
    day = rng.choice(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"])
    balance = rng.randint(1200, 4800)
    mobile = f"0770{rng.randint(1000000, 9999999)}"

    b.say("assistant", "Hello, Globex Bank, Sam speaking, how can I help?", pause=0.0)
    b.say("user", "Hi, yeah, there's a payment on my card I really don't recognise.")
    b.say("assistant", "Oh dear, let's sort that out. Can I take your name?")
    b.fact("name", "name", "user", f"It's {first}, {first} {last}.", (f"{first.lower()} {last.lower()}",),
           "What name have you got me down as?")  # fmt: skip
    b.say("assistant", "Thanks. Have you got your customer ID handy?")
    b.fact("account", "account", "user", f"The customer ID on my letter says {customer}.", (customer,),
           "Sorry, what customer ID did I give you?")  # fmt: skip
    b.say("assistant", "And your date of birth?")
    b.fact("dob", "verification", "user", f"{_ORDINALS[dob_day - 1].capitalize()} of {dob_month}, eighty-seven.",
           (f"{_ORDINALS[dob_day - 1]} of {dob_month.lower()}",), "Which birthday did I give you?")  # fmt: skip
    b.say("assistant", "Thank you, that's all confirmed.")
    b.chatter(total * 0.06)
    b.fact("amount", "amount", "user", f"It's a payment to some company I've never heard of, {pounds} pounds {pence}.",
           (f"{pounds}.{pence:02d}", f"{pounds} pounds {pence}"), "How much was that payment I didn't recognise?")  # fmt: skip
    b.say("assistant", "And when did it go out?")
    b.fact("charge_date", "date", "user", "It came out yesterday, I only spotted it this morning.", ("yesterday",),
           "When did I say the payment came out?")  # fmt: skip
    b.chatter(total * 0.4)
    b.fact("ticket", "reference", "assistant", f"I've raised a dispute, the case ID is C as in Charlie {_spell(case, rng)}.",
           (case,), "What was the dispute case ID?")  # fmt: skip
    b.fact("promise", "promise", "assistant", "You'll get a letter from our disputes team within ten days.",
           ("within ten days", "within 10 days"), "How soon will the disputes team write to me?")  # fmt: skip
    b.say("user", "Can they e-mail instead?")
    b.fact("email", "email", "user", f"Send it to {email_user[0]} {email_user[1:]} at proton dot me.",
           (f"{email_user}@proton.me", f"{email_user[0]} {email_user[1:]} at proton dot me"),
           "Where are you e-mailing the letter?")  # fmt: skip
    b.chatter(total * 0.5)
    b.fact("address", "address", "user", f"I'm not at the old place anymore, it's flat {flat}, {house} {street}.",
           (f"{house} {street.lower()}",), "What's the new address I gave you?")  # fmt: skip
    b.chatter(total * 0.58)
    b.fact("serial", "reference", "user", f"The card that's affected ends in {card}.", (card,),
           "Which card ending did I mention?")  # fmt: skip
    b.fact("order", "reference", "assistant", f"A replacement card is on its way, tracking reference {_spell(tracking, rng)}.",
           (tracking,), "What's the tracking reference for the new card?")  # fmt: skip
    b.chatter(total * 0.72)
    b.fact("tech", "appointment", "assistant", f"A fraud specialist will phone you on {day} afternoon.", (day.lower(),),
           "What day is the fraud specialist ringing?")  # fmt: skip
    b.chatter(total * 0.8)
    b.fact("balance", "account state", "assistant", f"Your available balance is {balance:,} pounds at the moment.",
           (f"{balance:,}", str(balance)), "What did you say my available balance was?")  # fmt: skip
    b.chatter(total * 0.86)
    b.fact("preference", "preference", "user", "Mornings are best for calls, I'm at work after lunch.",
           ("mornings are best",), "What time of day did I say suits me for calls?")  # fmt: skip
    b.fact("callback", "phone", "user", f"My mobile is {_spell(mobile, rng)}.", (mobile,),
           "What mobile number did I give you?")  # fmt: skip
    b.chatter(total * 0.97)
    b.say("assistant", "Is there anything else today?")
    b.say("user", "No, that's all, thank you.")
    b.say("assistant", "You're welcome, goodbye.")
    return call


def _tens_words(n: int) -> str:
    """A two-digit group as said in a phone number ("oh five", "thirteen", "forty two")."""
    if n < 10:
        return f"oh {_DIGIT_WORDS[n]}"
    if n < 20:
        return _TEEN_WORDS[n - 10]
    return _TENS_WORDS[n // 10] + ("" if n % 10 == 0 else f" {_DIGIT_WORDS[n % 10]}")


def _spell_email(user: str) -> str:
    letters = "".join(c for c in user if c.isalpha())
    digits = "".join(c for c in user if c.isdigit())
    return f"{letters} {' '.join(_DIGIT_WORDS[int(d)] for d in digits)}"


def make_calls(
    minutes: tuple[float, ...] = (8, 10, 12, 15, 20), seeds: tuple[int, ...] = (1, 2), *, phrasing: int = 0
) -> list[SyntheticCall]:
    """The benchmark's calls: every length with every seed (``phrasing`` 1: the held-out wording)."""
    return [long_call(m, s, phrasing=phrasing) for m in minutes for s in seeds]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--held-out", action="store_true", help="the facts in the held-out wording")
    args = parser.parse_args()
    call = long_call(args.minutes, args.seed, phrasing=1 if args.held_out else 0)
    for turn in call.turns:
        offset = (turn.at - call.started_at).total_seconds()
        print(f"{int(offset // 60):02d}:{int(offset % 60):02d} {turn.role:9} {turn.text}")
    print()
    for fact in call.facts:
        print(f"{fact.placement:6} {fact.at_s / 60:5.1f} min  {fact.id:12} expect {fact.expect}  probe: {fact.probe}")


if __name__ == "__main__":
    main()

"""Synthetic support-call histories in ASR style, reproducible from a seed (shared by the benchmarks)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

TOPICS = [
    (
        "billing",
        "I was charged twice for my {month} bill, {amount} dollars",
        "I've submitted a refund of ${amount} under ticket {ticket}, you should see it by {day}.",
    ),
    (
        "internet",
        "my internet keeps dropping every evening, the modem light goes red",
        "I've opened ticket {ticket} and a technician will call you on {day}.",
    ),
    (
        "device",
        "my phone screen cracked and I want to know about the insurance claim",
        "I've filed claim {ticket} for the screen, a courier will collect the phone on {day}.",
    ),
    (
        "plan",
        "I'd like to switch to the unlimited plan, um, the family one",
        "I've scheduled the switch to the family plan from {day}, order {ticket}.",
    ),
    (
        "delivery",
        "my order never arrived, it was supposed to come last week",
        "I've requested a replacement, order {ticket}, it should arrive by {day}.",
    ),
    (
        "account",
        "uh I can't log into my account, the password reset email never comes",
        "I've reset the login and sent a new link, case {ticket}.",
    ),
    (
        "roaming",
        "I'm travelling to Spain next month, will roaming work",
        "I've added the travel pass to your line from {day}, reference {ticket}.",
    ),
    (
        "cancel",
        "I want to cancel the sports add-on, I never watch it",
        "I've cancelled the sports add-on, confirmation {ticket}, it ends on {day}.",
    ),
]
FILLERS = ["okay", "uh-huh", "yeah", "right, thanks", "can you repeat that?", "let me check", "hmm okay", "sure"]
MONTHS = ["January", "February", "March", "April", "May", "June", "September", "October", "November"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]


@dataclass(frozen=True)
class Turn:
    role: str
    text: str
    at: datetime


@dataclass(frozen=True)
class Call:
    call_id: str
    phone: str
    started_at: datetime
    turns: tuple[Turn, ...]


def caller_phone(index: int) -> str:
    return f"+1 415 {200 + index // 10000:03d} {index % 10000:04d}"


def make_call(rng: random.Random, caller_index: int, call_index: int, started_at: datetime, turns: int) -> Call:
    topic, ask, answer = rng.choice(TOPICS)
    values = {
        "month": rng.choice(MONTHS),
        "amount": f"{rng.randint(10, 99)}.{rng.randint(0, 99):02d}",
        "ticket": str(rng.randint(1000, 99999)),
        "day": rng.choice(DAYS),
    }
    lines = [("assistant", "Thanks for calling, how can I help today?"), ("user", "Hi, " + ask.format(**values))]
    while len(lines) < turns - 1:
        lines.append(
            (
                "assistant",
                rng.choice(["Let me look into that.", "Can you confirm the last four digits?", "One moment please."]),
            )
        )
        lines.append(
            ("user", rng.choice(FILLERS) + f" {rng.choice(['the', 'my'])} {topic} issue, {rng.randint(1, 9999)}")
        )
    lines = lines[: max(1, turns - 1)]
    lines.append(("assistant", answer.format(**values)))  # every call ends with the agent's promise
    at = started_at
    out = []
    for role, text in lines:
        out.append(Turn(role, text, at))
        at += timedelta(seconds=rng.randint(3, 12))
    return Call(f"c{caller_index}-{call_index}", caller_phone(caller_index), started_at, tuple(out))


def caller_history(seed: int, caller_index: int, memories: int, *, turns_per_call: int = 20) -> list[Call]:
    rng = random.Random(seed * 1_000_003 + caller_index)
    start = datetime(2026, 1, 5, 9, tzinfo=UTC) + timedelta(hours=rng.randint(0, 500))
    calls = []
    for call_index in range(max(1, memories // turns_per_call)):
        calls.append(make_call(rng, caller_index, call_index, start, turns_per_call))
        start += timedelta(days=rng.randint(1, 9), minutes=rng.randint(0, 600))
    return calls


def unique_texts(calls: list[Call]) -> list[str]:
    seen: dict[str, None] = {}
    for call in calls:
        for turn in call.turns:
            seen.setdefault(turn.text, None)
    return list(seen)


def queries(rng: random.Random) -> str:
    return rng.choice(
        [
            "what happened with my refund?",
            "the technician who was supposed to call",
            "my order that never arrived",
            "the claim for my cracked screen",
            "did you cancel the sports add-on",
            "roaming in Spain",
            f"ticket {rng.randint(1000, 99999)}",
            "I couldn't log in last time",
            "when does the family plan start",
        ]
    )

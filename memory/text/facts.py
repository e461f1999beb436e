"""Deterministic extraction of durable facts and typed references from one recorded turn.

No model is needed (tests and offline use work). What it finds:
- references with their type: ticket, case, invoice, order, return (RMA), claim, device serial,
  account, booking, confirmation;
- facts with an attribute: address, e-mail, plan (from the tenant's plan names, or "... plan"),
  appointment (with the day it happens), preferred contact time / channel, allergies, and things
  a caller asks to be remembered;
- whether a turn says an earlier matter is resolved ("the refund came through").
Single-valued attributes supersede: a new address ends the old one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ..values import Identifier
from .dates import first_date
from .spoken import extract_identifiers, join_spoken_digits, normalize_spoken_digits
from .vocab import NUMBER_WORDS

_REF_KINDS = {
    "ticket": "ticket", "case": "case", "invoice": "invoice", "order": "order", "return": "return",
    "rma": "return", "claim": "claim", "serial": "serial", "account": "account", "booking": "booking",
    "confirmation": "confirmation", "reference": "reference", "tracking": "tracking",
}  # fmt: skip
_REF = re.compile(
    r"\b(ticket|case|invoice|order|return|rma|claim|serial|account|booking|confirmation|reference|tracking)"
    r"(?:\s*,|\s+(?:number|no\.?|id|code|is|was|reference|uh|um|er|#|:)){0,5}\s*#?\s*"
    r"((?=[a-z]{0,4}-?\d)[a-z]{0,4}-?\d[\d-]{1,}[a-z0-9]*)",
    re.IGNORECASE,
)
_SERIAL = re.compile(
    r"\b(?:serial(?:\s+number)?|s/n|imei)\s*(?:is|was|:)?\s*([a-z]{1,4}-?\d{2,}[a-z0-9-]*|\d{6,})", re.I
)
_NUMBER_WORDS = {word: str(value) for word, value in NUMBER_WORDS.items()}
_HOUSE = r"(?:\d{1,5}[a-z]?|" + "|".join(_NUMBER_WORDS) + r")"
_STREET = (
    rf"({_HOUSE}(?:\s+[a-z][a-z'.-]*){{1,4}}\s+"
    r"(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|boulevard|blvd|way|court|ct|place|pl|close|terrace|crescent)\b"
    r"(?:,?\s+(?:apartment|apt|unit|flat|suite)\s+\w+)?)"
)
_ADDRESS = re.compile(
    rf"\b(?:(?:(?:new|service|home|billing|delivery|postal)\s+)?address\s+(?:is|will be|is now|has changed to)|"
    rf"moved\s+to|(?:i\s+)?live\s+at|living\s+at|relocated\s+to|ship\s+(?:it\s+)?to|send\s+(?:it\s+)?to)"
    rf"\s*:?\s*{_STREET}",
    re.IGNORECASE,
)
_AGENT_ADDRESS = re.compile(
    rf"\b(?:updated|changed|set)\s+your\s+(?:(?:service|home|billing|delivery|postal)\s+)?address\s+to\s+{_STREET}",
    re.IGNORECASE,
)
_AGENT_PLAN = re.compile(
    r"\b(?:switched|changed|moved|upgraded|downgraded|updated|put)\s+(?:you|your\s+plan|your\s+account)"
    r"(?:\s+from\s+.{1,60}?)?\s+(?:over\s+)?(?:to|onto)\s+(?:the\s+)?([a-z0-9][a-z0-9 +-]{1,30}?)"
    r"(?=\s+(?:plan|package|bundle|starting|from|effective|today|as\s+of)\b|\s*[,.;!]|$)",
    re.IGNORECASE,
)
_PLAN_GENERIC = re.compile(
    r"\b(?:switch(?:ed)?|mov(?:e|ed)|upgrad(?:e|ed)|downgrad(?:e|ed)|chang(?:e|ed))\s+(?:you\s+|me\s+)?(?:over\s+)?to\s+"
    r"(?:the\s+|our\s+)?([a-z0-9][a-z0-9 +-]{1,30}?)\s+plan\b|\b(?:i'm|i am|you're|you are|currently)\s+on\s+the\s+"
    r"([a-z0-9][a-z0-9 +-]{1,30}?)\s+plan\b",
    re.IGNORECASE,
)
_APPOINTMENT = re.compile(
    r"\b(appointment|visit|technician|engineer|installation|consultation|check-?up|callback|call back|booked you|"
    r"booking you|advisor call|call with)\b[^.?!]{0,60}?\b(?:on|for|to|at|moved to|rescheduled to|booked for)\b",
    re.IGNORECASE,
)
_CANCEL_APPOINTMENT = re.compile(
    r"\b(?:cancel(?:led)?|call off)\s+(?:my|your|the)\s+(?:appointment|visit|booking|consultation|advisor call)",
    re.IGNORECASE,
)
_CLOCK = re.compile(r"\bat\s+(\d{1,2}(?!\d)(?::\d{2}(?!\d))?\s*(?:am|pm|a\.m\.|p\.m\.)?|noon)", re.IGNORECASE)
_CONTACT_TIME = re.compile(
    r"\b(?:(?:please\s+)?call\s+(?:me\s+)?(?:back\s+)?|reach\s+me\s+|best\s+time\s+is\s+|prefer\s+(?:a\s+call\s+)?)"
    r"((?:before|after)\s+(?:noon|\d{1,2}(?:\s*(?:am|pm|o'clock))?)|in\s+the\s+(?:morning|afternoon|evening)s?|"
    r"(?:mornings|afternoons|evenings))\b|\b((?:before|after)\s+noon)\s+please\b",
    re.IGNORECASE,
)
_ONLY_CHANNEL = re.compile(
    r"\bonly\s+(?:call|ring|text|contact|use)\s+(?:me\s+)?(?:on\s+)?(?:my\s+)?(mobile|cell|landline|home phone|work phone|email)",
    re.IGNORECASE,
)
_NOT_AFTER = re.compile(r"\bnot\s+(after|before)\s+(\d{1,2}|" + "|".join(_NUMBER_WORDS) + r")\s*(am|pm)?", re.I)
_CHANNEL = re.compile(
    r"\b(?:please\s+)?(text|e-?mail|sms|whatsapp|call)\s+me\s+(?:instead|rather)\b|\bprefer\s+(text|e-?mail|sms|a call|calls)\b",
    re.IGNORECASE,
)
_ALLERGY = re.compile(r"\ballergic\s+to\s+([a-z][a-z -]{2,40}?)(?=[.,;!?]|\s+and\b|\s+so\b|$)", re.IGNORECASE)
_REMEMBER = re.compile(r"\b(?:please\s+)?(?:remember|note|keep in mind)\s+that\s+([^.?!]{5,160})", re.IGNORECASE)
_RESOLVED = re.compile(
    r"\b(?:(?:got|received|saw|see)\s+(?:the|my)\s+\w+(?:\s+\w+)?|came\s+through|(?:it's|it is|that's|that is|"
    r"everything's|all)\s+(?:working|fixed|resolved|sorted|fine)(?:\s+now)?|has\s+been\s+(?:processed|completed|"
    r"resolved|fixed|delivered|refunded)|(?:was|been)\s+(?:delivered|refunded|fixed|resolved|completed)|"
    r"arrived|technician\s+came|no\s+longer\s+(?:need|an?\s+issue))\b",
    re.IGNORECASE,
)


_AMOUNT = re.compile(
    r"(?P<sym>[$£€])\s?(?P<n1>\d[\d,]*(?:\.\d{1,2})?)"
    r"|(?P<n2>\d[\d,]*(?:\.\d{1,2})?)\s*(?P<word>dollars?|bucks|pounds?|quid|euros?)"
    r"(?:\s+(?:and\s+)?(?P<c>\d{1,2})(?:\s*(?:cents?|pence|p)\b)?)?"
    r"|(?P<n3>\d{1,3})\s*(?P<cw>cents|pence)\b",
    re.IGNORECASE,
)
_CURRENCY = {"$": "$", "£": "£", "€": "€", "dollar": "$", "buck": "$", "pound": "£", "quid": "£", "euro": "€"}


def amounts_in(normalized: str) -> list[str]:
    """Money in text whose spoken digits are already joined, in order: ``["$42.10", "£0.50"]``."""
    found = []
    for m in _AMOUNT.finditer(normalized):
        if m.group("sym"):
            symbol, number = _CURRENCY[m.group("sym")], m.group("n1")
        elif m.group("n2"):
            word = m.group("word").lower().rstrip("s")
            symbol, number = _CURRENCY.get(word, "$"), m.group("n2")
            cents = m.group("c")
            if cents and "." not in number:
                number = f"{number}.{int(cents):02d}"
        else:
            symbol, number = ("$" if m.group("cw").lower() == "cents" else "£"), f"0.{int(m.group('n3')):02d}"
        found.append(f"{symbol}{number.replace(',', '')}")
    return found


def amounts(text: str) -> list[str]:
    """Money said in a turn, written or spoken: "$42.10", "forty two dollars ten" -> ``["$42.10"]``."""
    return list(dict.fromkeys(amounts_in(normalize_spoken_digits(text))))


@dataclass(frozen=True, slots=True)
class Reference:
    kind: str
    value: str

    @property
    def label(self) -> str:
        return f"{self.kind} {self.value}"


@dataclass(frozen=True, slots=True)
class FoundFact:
    attribute: str
    value: str
    happens_at: datetime | None = None
    confidence: float = 0.9


def references(text: str, *, certain: bool = False) -> list[Reference]:
    """Typed reference numbers, spoken digits joined ("ticket eight eight four two" -> ticket 8842).

    ``certain``: join only digits said one by one in words (:func:`join_spoken_digits`), never written
    numbers apart ("ticket 88 123" keeps ticket 88), as the notes of a call quote them."""
    normalized = join_spoken_digits(text) if certain else normalize_spoken_digits(text)
    found: list[Reference] = []
    for word, value in _REF.findall(normalized):
        ref = Reference(_REF_KINDS[word.lower()], value.upper().strip("-"))
        if ref not in found:
            found.append(ref)
    for value in _SERIAL.findall(normalized):
        ref = Reference("serial", value.upper())
        if ref not in found and not any(r.value == ref.value for r in found):
            found.append(ref)
    return found


def facts(
    text: str,
    role: str,
    said_at: datetime,
    *,
    plans: Sequence[str] = (),
    region: str = "US",
    identifiers: Sequence[Identifier] | None = None,
    certain: bool = False,
) -> list[FoundFact]:
    """Durable facts stated in one turn. Caller facts come from user turns; plans and appointments
    also from the agent ("I've moved you to the family plan"). ``identifiers``: those said in the
    turn, when the caller already has them (:func:`memory.text.reading.read_turn`). ``certain``: join
    only what :func:`join_spoken_digits` joins ("fifty three fifty seven Elm Street" is no house number)."""
    normalized = join_spoken_digits(text) if certain else normalize_spoken_digits(text)
    found: list[FoundFact] = []
    if role == "assistant":
        for match in _AGENT_ADDRESS.finditer(normalized):
            found.append(FoundFact("address", _house_number(_tidy(match.group(1)))))
    if role == "user":
        for match in _ADDRESS.finditer(normalized):
            found.append(FoundFact("address", _house_number(_tidy(match.group(1)))))
        for match in _ONLY_CHANNEL.finditer(normalized):
            found.append(FoundFact("preferred channel", f"{match.group(1).lower()} only"))
        for match in _NOT_AFTER.finditer(normalized):
            hour = _NUMBER_WORDS.get(match.group(2).lower(), match.group(2))
            side = "before" if match.group(1).lower() == "after" else "after"
            found.append(
                FoundFact(
                    "preferred contact time", f"{side} {hour}{(' ' + match.group(3).lower()) if match.group(3) else ''}"
                )
            )
        said = extract_identifiers(text, region=region) if identifiers is None else identifiers
        for ident in said:
            if ident.kind == "email":
                found.append(FoundFact("email", ident.value))
        for match in _CONTACT_TIME.finditer(normalized):
            found.append(FoundFact("preferred contact time", _tidy(match.group(1) or match.group(2)).lower()))
        for match in _CHANNEL.finditer(normalized):
            channel = (match.group(1) or match.group(2)).lower().replace("e-mail", "email")
            found.append(
                FoundFact("preferred channel", {"a call": "call", "calls": "call", "sms": "text"}.get(channel, channel))
            )
        for match in _ALLERGY.finditer(normalized):
            found.append(FoundFact("allergy", _tidy(match.group(1)).lower()))
        for match in _REMEMBER.finditer(text):
            found.append(FoundFact("note", _tidy(match.group(1)), confidence=0.8))
    plan = _plan(normalized, plans, agent=role == "assistant")
    if plan:
        found.append(FoundFact("plan", plan))
    found.extend(_appointment(normalized, said_at))
    return _dedupe(found)


def _appointment(text: str, said_at: datetime) -> list[FoundFact]:
    """A booked, moved or cancelled appointment; its value carries the day (and time) it happens."""
    if _CANCEL_APPOINTMENT.search(text) and not re.search(r"\b(?:book|rebook|moved?|instead)\b", text, re.I):
        return [FoundFact("appointment", "cancelled")]
    match = _APPOINTMENT.search(text)
    if not match:
        return []
    rest = text[match.start() :]
    day = first_date(rest, said_at)
    if day is None:
        return []
    clock = _CLOCK.search(rest)
    when = f"{day:%Y-%m-%d (%a)}" + (f" at {clock.group(1).lower().strip()}" if clock else "")
    return [FoundFact("appointment", when, day)]


def _house_number(address: str) -> str:
    first, _, rest = address.partition(" ")
    return f"{_NUMBER_WORDS.get(first.lower(), first)} {rest}" if rest else address


def reference_labels(text: str) -> list[str]:
    """Reference numbers with their type, e.g. ``["ticket 8842", "order 55102"]`` (spoken digits joined)."""
    return [ref.label for ref in references(text)]


def resolves_something(text: str) -> bool:
    """Does this turn say an earlier matter is done ("I got the refund", "it's working now")?"""
    return bool(_RESOLVED.search(text))


def _plan(text: str, plans: Sequence[str], *, agent: bool = False) -> str | None:
    lowered = text.lower()
    if agent:
        confirmed = _AGENT_PLAN.search(text)
        if confirmed:
            name = _tidy(confirmed.group(1))
            known = [p for p in plans if p.lower() == name.lower()]
            return known[0] if known else name
    for name in sorted(plans, key=len, reverse=True):
        if re.search(rf"\b(?:to|on|onto|chose|choose|picked|want)\s+(?:the\s+)?{re.escape(name.lower())}\b", lowered):
            return name
    match = _PLAN_GENERIC.search(text)
    if match and not plans:
        name = _tidy(match.group(1) or match.group(2)).lower()
        if name not in {"a", "the", "this", "that", "my", "new", "other", "same", "cheaper", "different"}:
            return name
    return None


def _tidy(value: str) -> str:
    return " ".join(value.replace(" ,", ",").split()).strip(" ,.")


def _dedupe(found: list[FoundFact]) -> list[FoundFact]:
    out: list[FoundFact] = []
    for fact in found:
        if all((f.attribute, f.value) != (fact.attribute, fact.value) for f in out):
            out.append(fact)
    return out

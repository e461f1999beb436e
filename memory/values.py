"""Plain values that cross the memory layer's boundaries: what storage keeps, what recall returns,
who a caller is. The bottom of the layer: it imports nothing of the memory layer but its errors."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, TypeGuard

import numpy as np

from .errors import IdentifierError, InvalidInputError

IDENTIFIER_KINDS: tuple[str, ...] = (
    "phone",
    "email",
    "account",
    "oauth_sub",
    "sip_uri",
    "livekit_identity",
    "name",
)
"""The kinds of caller identifier; a ``name`` is for display and never links two callers."""

SINGLE_VALUED = frozenset(
    {"address", "email", "plan", "appointment", "preferred contact time", "preferred channel", "phone"}
)
"""Fact attributes with one current value: a new value ends the current one (it becomes former)."""

Role = Literal["user", "assistant"]
MemoryKind = Literal["turn", "note"]


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None, *, name: str = "the time") -> datetime:
    """``None`` -> now; naive datetimes are taken as UTC; anything else is ``InvalidInputError`` naming ``name``."""
    if value is None:
        return utcnow()
    if not isinstance(value, datetime):
        raise InvalidInputError(f"{name} must be a datetime (or None for now), not {type(value).__name__}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


TENANT_ID_RULE = "lower-case letters, digits, '.', '-' or '_', starting with a letter or digit (1-63 characters)"
_TENANT_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")


def is_tenant_id(value: object) -> TypeGuard[str]:
    """Is ``value`` a well-formed tenant id (the one rule: ``tenants.yaml``, metadata and the API)?"""
    return isinstance(value, str) and _TENANT_ID.fullmatch(value) is not None


def validate_tenant_id(value: object) -> str:
    """``value`` trimmed if it is a well-formed tenant id, else ``InvalidInputError`` naming the rule."""
    if isinstance(value, str) and is_tenant_id(value.strip()):
        return value.strip()
    raise InvalidInputError(f"customer_id (the tenant's id) must be {TENANT_ID_RULE}")


@dataclass(frozen=True, slots=True)
class Identifier:
    """A normalised caller identifier: ``kind`` is one of ``IDENTIFIER_KINDS``.

    Build one with :func:`memory.text.identifiers.normalize_identifier`, which normalises the value.
    """

    kind: str
    value: str

    def __post_init__(self) -> None:
        if self.kind not in IDENTIFIER_KINDS:
            raise IdentifierError(f"unknown identifier kind; known: {list(IDENTIFIER_KINDS)}")
        if not isinstance(self.value, str) or not self.value:
            raise IdentifierError(f"{self.kind}: the value must be a non-empty string")


@dataclass(slots=True)
class MemoryRow:
    """One remembered utterance or note of a caller, as stored."""

    customer_id: str
    caller_id: str
    call_id: str
    seq: int
    kind: MemoryKind
    role: Role
    text: str
    at: datetime
    first_caller_id: str
    embedding: np.ndarray | None = None
    tags: frozenset[str] | None = None  # what recall knows of the text (memory.text.reading); None: not read yet
    terms: str | None = None  # the text's index terms as stored (memory.text.terms.pack_terms); None: not computed


@dataclass(frozen=True, slots=True)
class Preload:
    """The caller brief for the prompt. ``text`` is empty for a new caller or when the read failed;
    ``source`` is ``verification`` while a record an identifier said aloud matched awaits verification
    (the text then says so, and nothing of that record)."""

    text: str
    caller_id: str
    is_new_caller: bool
    source: Literal["cache", "database", "empty", "error", "verification"]
    took_ms: float


@dataclass(frozen=True, slots=True)
class Matter:
    """Something still open for a caller: a promise the agent made, with the references it named.

    ``at`` is when it was said; ``due_at`` when it should happen ("by Friday"), if said.
    """

    matter_id: str
    text: str
    at: datetime
    call_id: str
    references: tuple[str, ...] = ()
    status: Literal["open", "closed"] = "open"
    due_at: datetime | None = None
    closed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Fact:
    """A durable fact about a caller, with validity.

    A newer value of the same attribute (address, plan, e-mail, appointment) supersedes the old
    one: the old fact keeps ``valid_to`` and is former, never current. ``said_at`` is when it was
    said; ``happens_at`` is the date it refers to (an appointment), if any.
    """

    fact_id: str
    attribute: str
    value: str
    said_at: datetime
    valid_from: datetime
    call_id: str
    seq: int
    valid_to: datetime | None = None
    happens_at: datetime | None = None
    confidence: float = 1.0

    @property
    def current(self) -> bool:
        return self.valid_to is None


@dataclass(frozen=True, slots=True)
class EpisodeValue:
    """A value an episode settled or mentioned: its kind, the words said, the turn that said it.

    ``former``: the call replaced it (a time moved, a party size changed): the current value of the
    same kind is another one of the episode.
    """

    kind: str
    text: str
    seq: int
    former: bool = False
    key: str = ""  # what two statements of the same value share ("four tickets" and "4 tickets": "4")


@dataclass(frozen=True, slots=True)
class Episode:
    """What one call was: what it was about, the values it settled, how it ended, the turns that say so.

    ``kinds``: what the call was about, most talked-about first ("restaurant", "event", "refund"...);
    ``outcome``: ``booked``, ``cancelled``, ``resolved``, ``promised``, ``failed`` or ``open``;
    ``evidence``: the turns (seq) that state what was done, oldest first; ``gist``: the words that
    say it best when no value could be read (the agent's last confirmation, else what the caller asked
    for); ``summary``: one line.
    """

    call_id: str
    started_at: datetime
    kinds: tuple[str, ...] = ()
    values: tuple[EpisodeValue, ...] = ()
    outcome: str = "open"
    summary: str = ""
    evidence: tuple[int, ...] = ()
    gist: str = ""

    def current(self, kind: str) -> list[EpisodeValue]:
        """The episode's current values of one kind, as said."""
        return [v for v in self.values if v.kind == kind and not v.former]


@dataclass(frozen=True, slots=True)
class Hit:
    """A recalled memory. ``at`` is when it was said; ``score`` is higher for better matches.

    ``episode`` is the call it belongs to (its date, what it was about, the values it settled, how
    it ended), so an answer can say "on March 2nd you booked ..."; ``former`` marks a turn that
    states a value the caller later changed (it ranks below the current one).
    """

    text: str
    call_id: str
    at: datetime
    score: float
    kind: str
    role: str
    seq: int
    episode: Episode | None = None
    former: bool = False


@dataclass(frozen=True, slots=True)
class CallRecord:
    call_id: str
    started_at: datetime
    ended_at: datetime | None
    topic: str
    outcome: str
    episode: Episode | None = None


@dataclass(frozen=True, slots=True)
class KnownIdentifier:
    kind: str
    value: str
    source: Literal["presented", "spoken"]
    call_id: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class Link:
    """Evidence that two caller records were joined: which identifier, said on which call.

    ``verified_by``: the factors that verified the caller (``"name"``, ``"name,pin"``...), ``""`` when
    the identifier's kind is trusted outright (no check), ``None`` when not recorded (older links).
    """

    link_id: str
    from_caller_id: str
    to_caller_id: str
    kind: str
    value: str
    call_id: str | None
    at: datetime
    undone_at: datetime | None = None
    verified_by: str | None = None


AUDIT_ACTIONS: tuple[str, ...] = ("find", "view", "reveal", "export", "undo_link", "forget")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One action of a staff member on a caller's memory (the inspector's audit log).

    ``caller_ref``: the caller id ("" for a search that found nobody; the digest of the id once the
    caller is forgotten); ``detail``: at most an identifier's kind or a count, never personal data.
    """

    audit_id: str
    at: datetime
    staff: str
    action: str
    caller_ref: str = ""
    detail: str = ""


@dataclass(frozen=True, slots=True)
class CallerProfile:
    """Everything the brief is built from."""

    caller_id: str
    first_seen: datetime | None
    identifiers: tuple[KnownIdentifier, ...] = ()
    calls: tuple[CallRecord, ...] = ()
    matters: tuple[Matter, ...] = ()
    call_count: int = 0  # finished calls
    display_name: str | None = None
    facts: tuple[Fact, ...] = ()  # current and former, oldest first


@dataclass(frozen=True, slots=True)
class CallEvent:
    """Something the application may react to during a call (``hooks.add_listener``).

    ``linked``: the call is now the caller ``caller_id``'s (their history is disclosed);
    ``candidate``: an identifier said aloud matches a record that the caller must verify first;
    ``attached``: the call's memory reached the database after starting without it;
    ``write_error``: the database stopped taking the call's turns (they are spooled);
    ``forgotten``: the caller was deleted; nothing more of the call is kept.
    """

    kind: Literal["linked", "candidate", "attached", "write_error", "forgotten"]
    caller_id: str
    detail: str = ""
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Edge:
    """A relation in the caller's entity graph, with provenance (the call and turn it came from).

    Nodes are strings: ``caller:<id>``, ``call:<id>``, ``ref:<kind> <value>``, ``fact:<id>``,
    ``turn:<call_id>#<seq>``. Relations: ``reported``, ``about``, ``mentioned_in``, ``supersedes``.
    """

    src: str
    rel: str
    dst: str
    call_id: str
    seq: int
    at: datetime


VerificationStatus = Literal["verified", "not_verified", "locked", "nothing_to_verify", "unavailable"]


@dataclass(frozen=True, slots=True)
class Verification:
    """The outcome of checking a caller's answers against the record an identifier they said matched.

    ``status``: ``verified`` (the call is linked; the record's history is disclosed),
    ``not_verified`` (an answer did not match, or not enough did), ``locked`` (too many wrong answers
    on this call), ``nothing_to_verify`` (no record waits for verification), ``unavailable``
    (storage could not be reached). ``asks``: the factors the record can be verified by, to ask
    for (never their values); ``attempts_left`` before ``locked``.
    """

    status: VerificationStatus
    asks: tuple[str, ...] = ()
    attempts_left: int = 0

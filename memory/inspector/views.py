"""What the caller page shows, read from the store: the timeline, the facts, open matters, identity.

Plain data for the templates (which escape every value: caller-derived text is shown as text).
Identifier values are masked here (:func:`memory.text.identifiers.mask`) unless the page was asked
to reveal one; a revealed value is named by a token (a digest of the kind and value), never by the
value itself, so no identifier ever travels in a URL or a form.

How an identifier was learned: the store records whether it was *presented* (the call's metadata)
or *said aloud* on a call. A presented phone number or SIP URI is shown as "on the line" (the
caller ID of a phone call); other presented kinds (OAuth subject, e-mail, account, LiveKit identity)
as "from the app", which is where the worker reads them from (``memory/livekit/identity.py``).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from ..text.identifiers import mask
from ..values import Episode, Fact, Identifier, Link, Matter, MemoryRow

if TYPE_CHECKING:
    from .. import CallerStore

__all__ = ["CallView", "CallerView", "IdentifierView", "LinkView", "identifier_token", "load_caller"]

MAX_CALLS = 50
"""Calls shown on the caller page, newest first (the export holds all of them)."""
_ON_THE_LINE = frozenset(("phone", "sip_uri"))


def identifier_token(kind: str, value: str) -> str:
    """A stable name of an identifier for the reveal form (not the value, not reversible in practice)."""
    return hashlib.sha256(f"{kind}\0{value}".encode()).hexdigest()[:20]


def learned_how(kind: str, source: str) -> str:
    if source == "spoken":
        return "said aloud"
    return "on the line" if kind in _ON_THE_LINE else "from the app"


@dataclass(frozen=True, slots=True)
class IdentifierView:
    kind: str
    shown: str
    revealed: bool
    how: str
    call_id: str | None
    at: datetime
    token: str


@dataclass(frozen=True, slots=True)
class LinkView:
    link_id: str
    from_caller_id: str
    to_caller_id: str
    evidence: str
    call_id: str | None
    at: datetime
    verified: str
    undone_at: datetime | None


@dataclass(frozen=True, slots=True)
class CallView:
    call_id: str
    started_at: datetime
    ended_at: datetime | None
    episode: Episode | None
    evidence: list[MemoryRow]
    turns: list[MemoryRow]


@dataclass(frozen=True, slots=True)
class FactView:
    attribute: str
    current: list[Fact]
    former: list[Fact]


@dataclass
class CallerView:
    tenant: str
    caller_id: str
    display_name: str | None
    first_seen: datetime | None
    call_count: int
    calls: list[CallView] = field(default_factory=list)
    facts: list[FactView] = field(default_factory=list)
    matters: list[Matter] = field(default_factory=list)
    identifiers: list[IdentifierView] = field(default_factory=list)
    links: list[LinkView] = field(default_factory=list)


def _verified(link: Link) -> str:
    if link.verified_by is None:
        return "not recorded"
    if link.verified_by == "":
        return "not verified (a kind the tenant trusts when said aloud)"
    return "verified by " + ", ".join(link.verified_by.split(","))


async def load_caller(store: CallerStore, tenant: str, caller_id: str, *, reveal: str | None = None) -> CallerView:
    """Everything the caller page shows (``reveal``: the token of the one identifier to show unmasked)."""
    profile = await store.backend.load_profile(tenant, caller_id, recent_calls=MAX_CALLS)
    view = CallerView(tenant, caller_id, profile.display_name, profile.first_seen, profile.call_count)
    for known in profile.identifiers:
        token = identifier_token(known.kind, known.value)
        shown = token == reveal
        view.identifiers.append(
            IdentifierView(
                known.kind,
                known.value if shown else mask(Identifier(known.kind, known.value)),
                shown,
                learned_how(known.kind, known.source),
                known.call_id,
                known.at,
                token,
            )
        )
    for link in await store.links(tenant, caller_id):
        view.links.append(
            LinkView(
                link.link_id,
                link.from_caller_id,
                link.to_caller_id,
                mask(Identifier(link.kind, link.value)),
                link.call_id,
                link.at,
                _verified(link),
                link.undone_at,
            )
        )
    for call in profile.calls:  # newest first
        turns = await store.backend.load_call_rows(tenant, call.call_id)
        wanted = set(call.episode.evidence) if call.episode else set()
        view.calls.append(
            CallView(
                call.call_id,
                call.started_at,
                call.ended_at,
                call.episode,
                [t for t in turns if t.seq in wanted],
                turns,
            )
        )
    by_attribute: dict[str, list[Fact]] = defaultdict(list)
    for fact in profile.facts:
        by_attribute[fact.attribute].append(fact)
    for attribute, facts in sorted(by_attribute.items()):
        view.facts.append(
            FactView(
                attribute,
                [f for f in facts if f.current],
                sorted((f for f in facts if not f.current), key=lambda f: f.valid_from, reverse=True),
            )
        )
    view.matters = sorted(profile.matters, key=lambda m: (m.due_at is None, m.due_at or m.at))
    return view

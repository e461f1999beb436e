"""The storage interface. Two implementations pass the same contract tests: SQLite and Postgres.

Every method takes the tenant (``customer_id``) first; implementations scope every statement
to it (on Postgres, row-level security enforces the same in the database).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ..values import AuditEntry, CallerProfile, Edge, Episode, Fact, Identifier, Link, Matter, MemoryRow


@dataclass(frozen=True)
class StoredFact:
    """A current fact as stored: what a new fact of the same single-valued attribute is ordered against."""

    fact_id: str
    valid_from: datetime
    call_id: str
    seq: int
    said_at: datetime


@dataclass(frozen=True)
class Supersession:
    """``newer`` replaces ``older`` from ``valid_to`` on, said in ``call_id`` at ``seq``."""

    newer: str
    older: str
    valid_to: datetime
    call_id: str
    seq: int
    said_at: datetime


@dataclass(frozen=True)
class CallerHistory:
    """What a call loads of its caller's history, read at once (:meth:`Backend.load_history`)."""

    memories: tuple[MemoryRow, ...]  # as load_memories
    edges: tuple[Edge, ...]  # as load_edges
    open_matters: tuple[Matter, ...]  # as load_open_matters
    episodes: tuple[Episode, ...]  # as load_episodes
    facts: tuple[Fact, ...]  # as load_facts, former values included


def supersessions(fact: Fact, current: Sequence[StoredFact]) -> list[Supersession]:
    """What storing ``fact`` (single-valued) changes among the attribute's ``current`` facts.

    Ordered by when each was said, not by when it was stored: a fact enriched late (a call
    back-filled after the caller's next call, an import resumed) is stored already replaced by a
    newer current one; otherwise it replaces the current ones, as a fact stored in order does.
    """
    newer = [c for c in current if c.valid_from > fact.valid_from]
    if newer:
        first = min(newer, key=lambda c: c.valid_from)
        return [Supersession(first.fact_id, fact.fact_id, first.valid_from, first.call_id, first.seq, first.said_at)]
    return [
        Supersession(fact.fact_id, c.fact_id, fact.valid_from, fact.call_id, fact.seq, fact.said_at) for c in current
    ]


class Backend(ABC):
    """Asynchronous storage of callers, identifiers, calls, memories, matters and links."""

    name: str

    @property
    @abstractmethod
    def location(self) -> str:
        """Which database this is (no credentials): what a spooled call names as its destination."""

    @abstractmethod
    async def migrate(self) -> list[int]:
        """Bring the schema up to date (idempotent, safe with several workers starting at once);
        returns the versions applied."""

    @abstractmethod
    async def aclose(self) -> None: ...

    @abstractmethod
    async def find_callers(self, customer_id: str, identifiers: Sequence[Identifier]) -> dict[Identifier, str]:
        """Map each known identifier to the caller that owns it."""

    @abstractmethod
    async def create_caller(
        self,
        customer_id: str,
        caller_id: str,
        identifiers: Sequence[Identifier],
        *,
        call_id: str,
        at: datetime,
    ) -> None:
        """A new caller with the identifiers presented on its first call."""

    @abstractmethod
    async def insert_or_get_caller(
        self,
        customer_id: str,
        caller_id: str,
        identifiers: Sequence[Identifier],
        linkable: Sequence[Identifier],
        *,
        call_id: str,
        at: datetime,
    ) -> dict[Identifier, str]:
        """The owners of ``linkable`` if any has one; else a new caller ``caller_id`` owning ``identifiers``.

        One transaction against the unique (tenant, kind, value) of identifiers: of simultaneous
        first calls presenting one identifier, one creates the caller and the others get it back
        (an empty mapping means ``caller_id`` was created).
        """

    @abstractmethod
    async def attach_identifiers(
        self,
        customer_id: str,
        caller_id: str,
        identifiers: Sequence[Identifier],
        *,
        source: str,
        call_id: str | None,
        at: datetime,
    ) -> list[Identifier]:
        """Attach identifiers nobody owns yet; return those attached (owned ones are left alone)."""

    @abstractmethod
    async def start_call(self, customer_id: str, call_id: str, caller_id: str, started_at: datetime) -> None:
        """Record the call (idempotent for the same call id)."""

    @abstractmethod
    async def call_states(self, customer_id: str, call_ids: Sequence[str]) -> dict[str, tuple[str, str, bool]]:
        """For each of ``call_ids`` that is stored: ``(caller_id, first_caller_id, ended)`` (an import's
        way to tell a call already imported from one cut short, and from one never seen)."""

    @abstractmethod
    async def write_memories(self, customer_id: str, rows: Sequence[MemoryRow], *, enriched: bool = True) -> int:
        """Insert memories; a row whose (call_id, seq) exists already is skipped, and so is a row whose
        caller no longer exists (forgotten). Returns rows inserted.

        ``enriched=False`` stores the text first: the row waits for its embedding, facts and graph
        edges (:meth:`mark_enriched`) and is found by :meth:`load_unenriched` until then.
        """

    @abstractmethod
    async def mark_enriched(self, customer_id: str, rows: Sequence[MemoryRow]) -> None:
        """Store the embeddings of rows stored text first, and mark them enriched."""

    @abstractmethod
    async def load_unenriched(self, customer_id: str, *, before: datetime, limit: int) -> list[MemoryRow]:
        """Rows still waiting to be enriched, by call and in order, of calls that ended or started before
        ``before`` (a call still open elsewhere is its own writer's to enrich until then)."""

    @abstractmethod
    async def load_call_rows(self, customer_id: str, call_id: str) -> list[MemoryRow]:
        """Every stored row of one call, in order."""

    @abstractmethod
    async def caller_version(self, customer_id: str, caller_id: str) -> int:
        """The caller's data version: bumped by every write that changes what the brief shows."""

    @abstractmethod
    async def set_verifiers(self, customer_id: str, caller_id: str, digests: dict[str, str], *, at: datetime) -> None:
        """Keep the digests of the caller's verification answers (postcode, PIN, date of birth)."""

    @abstractmethod
    async def verification_record(self, customer_id: str, caller_id: str) -> tuple[str | None, dict[str, str]]:
        """The name as recorded and the digests of the verification answers kept for the caller."""

    @abstractmethod
    async def is_forgotten(self, customer_id: str, digest: str) -> bool:
        """Was the caller with this digest of its id deleted on request (``codec.caller_digest``)?"""

    @abstractmethod
    async def caller_family(self, customer_id: str, caller_id: str) -> list[str]:
        """The caller and every caller merged into it."""

    @abstractmethod
    async def add_matters(
        self, customer_id: str, caller_id: str, first_caller_id: str, matters: Sequence[Matter]
    ) -> None:
        """Insert open matters (skipping ids that exist)."""

    @abstractmethod
    async def finish_call(
        self,
        customer_id: str,
        call_id: str,
        *,
        ended_at: datetime,
        topic: str,
        outcome: str,
        episode: Episode | None = None,
    ) -> None:
        """Mark the call ended, with what it was about and how it ended (its episode, when built)."""

    @abstractmethod
    async def merge_callers(
        self,
        customer_id: str,
        from_caller_id: str,
        into_caller_id: str,
        evidence: Identifier,
        *,
        link_id: str,
        call_id: str | None,
        at: datetime,
        verified_by: str | None = None,
    ) -> None:
        """Move everything of ``from_caller_id`` to ``into_caller_id`` and keep the link's evidence
        (``verified_by``: the factors that verified the caller, ``""`` for a kind trusted outright)."""

    @abstractmethod
    async def undo_link(self, customer_id: str, link_id: str, *, at: datetime) -> tuple[str, str] | None:
        """Give the linked caller back what it brought (rows it first owned).

        Returns ``(from_caller_id, to_caller_id)``, or None if the link is unknown or already undone.
        """

    @abstractmethod
    async def links(self, customer_id: str, caller_id: str) -> list[Link]: ...

    @abstractmethod
    async def canonical_caller(self, customer_id: str, caller_id: str) -> str | None:
        """Follow merges to the caller id in use now (None if unknown)."""

    @abstractmethod
    async def load_memories(self, customer_id: str, caller_id: str, *, limit: int) -> list[MemoryRow]:
        """The caller's newest ``limit`` memories with their embeddings and tags, oldest first."""

    @abstractmethod
    async def load_episodes(self, customer_id: str, caller_id: str, *, limit: int) -> list[Episode]:
        """The episodes of the caller's newest ``limit`` calls that have one, oldest first."""

    @abstractmethod
    async def load_open_matters(self, customer_id: str, caller_id: str) -> list[Matter]:
        """The caller's open matters, newest first (at most 20)."""

    async def load_history(self, customer_id: str, caller_id: str, *, limit: int) -> CallerHistory:
        """The caller's newest ``limit`` memories and episodes, graph, open matters and facts (former
        included), as the five loads above return them. Here the five loads one after another (an
        embedded file has no round trips to save); Postgres reads them in one transaction (one
        snapshot, one tenant setting), not five."""
        return CallerHistory(
            tuple(await self.load_memories(customer_id, caller_id, limit=limit)),
            tuple(await self.load_edges(customer_id, caller_id)),
            tuple(await self.load_open_matters(customer_id, caller_id)),
            tuple(await self.load_episodes(customer_id, caller_id, limit=limit)),
            tuple(await self.load_facts(customer_id, caller_id, include_former=True)),
        )

    @abstractmethod
    async def load_profile(self, customer_id: str, caller_id: str, *, recent_calls: int) -> CallerProfile: ...

    @abstractmethod
    async def forget_caller(self, customer_id: str, caller_id: str) -> int:
        """Delete every row about the caller (and callers merged into it), keeping only digests of
        their ids (so a late write of theirs is dropped; the audit log names them by the digest from
        then on). Returns rows deleted."""

    @abstractmethod
    async def export_caller(self, customer_id: str, caller_id: str) -> dict[str, list[dict[str, object]]]:
        """Every stored row about the caller and the callers merged into it, by table (a data-access
        request): plain JSON values, times as ISO 8601 text; embeddings and verification digests are
        left out (the verifiers table names the factors on file)."""

    @abstractmethod
    async def record_audit(self, customer_id: str, entry: AuditEntry) -> None:
        """Append one staff action to the tenant's audit log."""

    @abstractmethod
    async def load_audit(
        self, customer_id: str, *, caller_ref: str | None = None, limit: int = 200
    ) -> list[AuditEntry]:
        """The tenant's audit log, newest first (only the entries about ``caller_ref`` when given)."""

    @abstractmethod
    async def purge_older_than(self, customer_id: str, before: datetime) -> int:
        """Retention: delete memories, finished calls, matters and edges older than ``before``, in
        batches found by the age indexes (cheap when nothing is due); returns rows deleted."""

    @abstractmethod
    async def add_facts(
        self, customer_id: str, caller_id: str, first_caller_id: str, facts: Sequence[Fact]
    ) -> list[Fact]:
        """Store facts in order. A single-valued attribute's new value ends the current one
        (``valid_to``) and adds a ``supersedes`` edge; a value already current is skipped.
        Returns the facts actually added."""

    @abstractmethod
    async def load_facts(self, customer_id: str, caller_id: str, *, include_former: bool = True) -> list[Fact]: ...

    @abstractmethod
    async def add_edges(
        self, customer_id: str, caller_id: str, first_caller_id: str, edges: Sequence[Edge]
    ) -> None: ...

    @abstractmethod
    async def load_edges(self, customer_id: str, caller_id: str) -> list[Edge]: ...

    @abstractmethod
    async def close_matters(
        self, customer_id: str, caller_id: str, matter_ids: Sequence[str], *, closed_at: datetime, call_id: str
    ) -> None: ...

    @abstractmethod
    async def set_display_name(self, customer_id: str, caller_id: str, name: str) -> None:
        """The name a caller gave or presented; display only, never used to link callers."""

    @abstractmethod
    async def find_caller_by(self, customer_id: str, identifier: Identifier) -> str | None: ...

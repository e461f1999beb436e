"""The embedded default: one SQLite file in WAL mode, through aiosqlite.

Connections of two kinds: the writer, for every write transaction (one at a time) and the reads
made inside one; and ``READ_CONNECTIONS`` read-only readers for the reads a call waits on (its
brief, its caller's history, the caller's data version). In WAL a reader never waits for a writer
and sees what was committed; each connection has its own thread. So a call's preload does not
queue behind the writes another call's close is making, and a call's brief and its history are
read side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

from ..errors import StoreUnavailableError
from ..values import (
    SINGLE_VALUED,
    AuditEntry,
    CallerProfile,
    CallRecord,
    Edge,
    Episode,
    Fact,
    Identifier,
    KnownIdentifier,
    Link,
    Matter,
    MemoryRow,
)
from .base import Backend, CallerHistory, StoredFact, supersessions
from .codec import (
    EXPORT_COLUMNS,
    EXPORT_ORDER,
    caller_digest,
    decode_vector,
    dump_episode,
    dump_refs,
    dump_tags,
    encode_vector,
    export_row,
    load_episode,
    load_refs,
    load_tags,
    migrations,
)
from .sqlite_tx import write_transaction

READ_CONNECTIONS = 2  # a call's brief and its history read at once
_TABLES_BY_CALLER = ("identifiers", "calls", "memories", "matters", "facts", "edges")


async def _end_read(db: aiosqlite.Connection) -> None:
    """End the read transaction on ``db`` (none there when its BEGIN was never sent)."""
    with contextlib.suppress(sqlite3.Error):
        await db.execute("COMMIT")


def _ts(value: datetime) -> float:
    return value.timestamp()


def _dt(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def _dt_or_none(value: float | None) -> datetime | None:
    return None if value is None else _dt(value)


class SQLiteBackend(Backend):
    name = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None
        self._readers: list[aiosqlite.Connection] = []
        self._idle_readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        self._lock = asyncio.Lock()

    @property
    def location(self) -> str:
        return f"sqlite:{self.path.resolve()}"

    async def connect(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = await aiosqlite.connect(self.path, isolation_level=None)
            await self._db.execute("PRAGMA journal_mode=WAL")
            await self._db.execute("PRAGMA synchronous=NORMAL")
            await self._db.execute("PRAGMA busy_timeout=5000")
            await self._db.execute("PRAGMA foreign_keys=ON")
            for _ in range(READ_CONNECTIONS):
                reader = await aiosqlite.connect(self.path, isolation_level=None)
                self._readers.append(reader)
                await reader.execute("PRAGMA query_only=ON")
                await reader.execute("PRAGMA busy_timeout=5000")
                self._idle_readers.put_nowait(reader)
        except (OSError, aiosqlite.Error) as exc:
            raise StoreUnavailableError(f"cannot open the SQLite store: {exc}") from exc

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StoreUnavailableError("the SQLite store is closed")
        return self._db

    @contextlib.asynccontextmanager
    async def _reading(self) -> AsyncIterator[aiosqlite.Connection]:
        """A read-only connection to itself while the block runs (waiting for one to be free): what
        was committed, never queued behind the writer's work."""
        if not self._readers:
            raise StoreUnavailableError("the SQLite store is closed")
        reader = await self._idle_readers.get()
        try:
            yield reader
        finally:
            if reader in self._readers:  # not closed meanwhile
                self._idle_readers.put_nowait(reader)

    @contextlib.asynccontextmanager
    async def _tx(self) -> AsyncIterator[None]:
        """One write transaction at a time on the shared connection."""
        async with self._lock, write_transaction(self.db):
            yield

    async def aclose(self) -> None:
        readers, self._readers = self._readers, []
        self._idle_readers = asyncio.Queue()
        for reader in readers:
            await reader.close()
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def migrate(self) -> list[int]:
        applied: list[int] = []
        db = self.db
        await db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at REAL)"
        )
        async with db.execute("SELECT version FROM schema_migrations") as cur:
            done = {row[0] for row in await cur.fetchall()}
        for version, name, sql in migrations("sqlite"):
            if version in done:
                continue
            async with self._tx():
                async with db.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (version,)) as cur:
                    if await cur.fetchone():
                        continue
                for statement in _split_sql(sql):
                    await db.execute(statement)
                await db.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                    (version, name, datetime.now(UTC).timestamp()),
                )
                applied.append(version)
        return applied

    async def find_callers(self, customer_id: str, identifiers: Sequence[Identifier]) -> dict[Identifier, str]:
        if not identifiers:
            return {}
        return await self._owners(customer_id, identifiers)

    async def _owners(self, customer_id: str, identifiers: Sequence[Identifier]) -> dict[Identifier, str]:
        if not identifiers:
            return {}
        placeholders = ",".join("(?, ?)" for _ in identifiers)
        params: list[object] = [customer_id]
        for ident in identifiers:
            params += [ident.kind, ident.value]
        sql = (
            "SELECT kind, value, caller_id FROM identifiers "
            f"WHERE customer_id = ? AND (kind, value) IN (VALUES {placeholders})"
        )
        async with self.db.execute(sql, params) as cur:
            rows = await cur.fetchall()
        return {Identifier(kind, value): caller for kind, value, caller in rows}

    async def find_caller_by(self, customer_id: str, identifier: Identifier) -> str | None:
        found = await self.find_callers(customer_id, [identifier])
        return found.get(identifier)

    async def create_caller(self, customer_id, caller_id, identifiers, *, call_id, at) -> None:
        db = self.db
        async with self._tx():
            await db.execute(
                "INSERT INTO callers (customer_id, caller_id, created_at) VALUES (?, ?, ?)",
                (customer_id, caller_id, _ts(at)),
            )
            await self._insert_identifiers(customer_id, caller_id, identifiers, "presented", call_id, at)

    async def insert_or_get_caller(self, customer_id, caller_id, identifiers, linkable, *, call_id, at):
        owners = await self._owners(customer_id, linkable)  # a returning caller: a read, no write lock
        if owners:
            return owners
        async with self._tx():  # BEGIN IMMEDIATE: no other writer between the read and the insert
            owners = await self._owners(customer_id, linkable)
            if owners:
                return owners
            await self.db.execute(
                "INSERT INTO callers (customer_id, caller_id, created_at) VALUES (?, ?, ?)",
                (customer_id, caller_id, _ts(at)),
            )
            await self._insert_identifiers(customer_id, caller_id, identifiers, "presented", call_id, at)
        return {}

    async def _insert_identifiers(self, customer_id, caller_id, identifiers, source, call_id, at) -> list[Identifier]:
        attached = []
        for ident in identifiers:
            cur = await self.db.execute(
                "INSERT INTO identifiers (customer_id, kind, value, caller_id, first_caller_id, source, call_id,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (customer_id, ident.kind, ident.value, caller_id, caller_id, source, call_id, _ts(at)),
            )
            if cur.rowcount:
                attached.append(ident)
        return attached

    async def attach_identifiers(self, customer_id, caller_id, identifiers, *, source, call_id, at):
        async with self._tx():
            attached = await self._insert_identifiers(customer_id, caller_id, identifiers, source, call_id, at)
            if attached:
                await self._bump(customer_id, caller_id)
        return attached

    async def _bump(self, customer_id: str, *caller_ids: str) -> None:
        """The callers' data changed (in this transaction): a brief prepared before is no longer current."""
        await self.db.executemany(
            "UPDATE callers SET version = version + 1 WHERE customer_id = ? AND caller_id = ?",
            [(customer_id, c) for c in caller_ids],
        )

    async def start_call(self, customer_id, call_id, caller_id, started_at) -> None:
        async with self._tx():
            await self.db.execute(
                "INSERT INTO calls (customer_id, call_id, caller_id, first_caller_id, started_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (customer_id, call_id, caller_id, caller_id, _ts(started_at)),
            )

    async def call_states(self, customer_id, call_ids) -> dict[str, tuple[str, str, bool]]:
        found: dict[str, tuple[str, str, bool]] = {}
        ids = list(dict.fromkeys(call_ids))
        for start in range(0, len(ids), 500):  # SQLite's bound on parameters per statement
            chunk = ids[start : start + 500]
            async with self.db.execute(
                "SELECT call_id, caller_id, first_caller_id, ended_at IS NOT NULL FROM calls WHERE customer_id = ?"
                f" AND call_id IN ({', '.join('?' * len(chunk))})",
                (customer_id, *chunk),
            ) as cur:
                found.update({r[0]: (r[1], r[2], bool(r[3])) for r in await cur.fetchall()})
        return found

    async def write_memories(self, customer_id, rows, *, enriched=True) -> int:
        if not rows:
            return 0
        db = self.db
        before = db.total_changes
        async with self._tx():
            await db.executemany(
                "INSERT INTO memories (customer_id, call_id, seq, caller_id, first_caller_id, kind, role, text, at,"
                " embedding, tags, enriched, terms) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM"
                " callers WHERE customer_id = ?1 AND caller_id = ?4) ON CONFLICT DO NOTHING",
                [
                    (
                        customer_id,
                        r.call_id,
                        r.seq,
                        r.caller_id,
                        r.first_caller_id,
                        r.kind,
                        r.role,
                        r.text,
                        _ts(r.at),
                        encode_vector(r.embedding),
                        dump_tags(r.tags),
                        int(enriched),
                        r.terms,
                    )
                    for r in rows
                ],
            )
        return db.total_changes - before

    async def mark_enriched(self, customer_id, rows) -> None:
        if not rows:
            return
        async with self._tx():
            await self.db.executemany(
                "UPDATE memories SET embedding = ?, tags = ?, terms = coalesce(?, terms), enriched = 1"
                " WHERE customer_id = ? AND call_id = ? AND seq = ?",
                [(encode_vector(r.embedding), dump_tags(r.tags), r.terms, customer_id, r.call_id, r.seq) for r in rows],
            )

    _ROW = "SELECT caller_id, call_id, seq, kind, role, text, at, first_caller_id, embedding, tags, terms FROM memories"

    def _memory_row(self, customer_id: str, r) -> MemoryRow:
        return MemoryRow(
            customer_id,
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            _dt(r[6]),
            r[7],
            decode_vector(r[8]),
            load_tags(r[9]),
            r[10],
        )

    async def load_unenriched(self, customer_id, *, before, limit) -> list[MemoryRow]:
        async with self.db.execute(
            self._ROW + " WHERE customer_id = ?1 AND enriched = 0 AND call_id IN (SELECT call_id FROM calls WHERE"
            " customer_id = ?1 AND (ended_at IS NOT NULL OR started_at < ?2)) ORDER BY call_id, seq LIMIT ?3",
            (customer_id, _ts(before), limit),
        ) as cur:
            return [self._memory_row(customer_id, r) for r in await cur.fetchall()]

    async def load_call_rows(self, customer_id, call_id) -> list[MemoryRow]:
        async with self.db.execute(
            self._ROW + " WHERE customer_id = ? AND call_id = ? ORDER BY seq", (customer_id, call_id)
        ) as cur:
            return [self._memory_row(customer_id, r) for r in await cur.fetchall()]

    async def caller_version(self, customer_id, caller_id) -> int:
        async with self._reading() as db:
            async with db.execute(
                "SELECT version FROM callers WHERE customer_id = ? AND caller_id = ?", (customer_id, caller_id)
            ) as cur:
                row = await cur.fetchone()
            return int(row[0]) if row else 0

    async def set_verifiers(self, customer_id, caller_id, digests, *, at) -> None:
        async with self._tx():
            await self.db.executemany(
                "INSERT INTO verifiers (customer_id, caller_id, first_caller_id, factor, digest, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (customer_id, caller_id, factor)"
                " DO UPDATE SET digest = excluded.digest, created_at = excluded.created_at",
                [(customer_id, caller_id, caller_id, factor, value, _ts(at)) for factor, value in digests.items()],
            )
            await self._bump(customer_id, caller_id)

    async def verification_record(self, customer_id, caller_id) -> tuple[str | None, dict[str, str]]:
        async with self._reading() as db:
            async with db.execute(
                "SELECT display_name FROM callers WHERE customer_id = ? AND caller_id = ?", (customer_id, caller_id)
            ) as cur:
                row = await cur.fetchone()
            async with db.execute(
                "SELECT factor, digest FROM verifiers WHERE customer_id = ? AND caller_id = ?", (customer_id, caller_id)
            ) as cur:
                factors = {r[0]: r[1] for r in await cur.fetchall()}
            return (row[0] if row else None), factors

    async def is_forgotten(self, customer_id, digest) -> bool:
        async with self.db.execute(
            "SELECT 1 FROM forgotten WHERE customer_id = ? AND caller_digest = ?", (customer_id, digest)
        ) as cur:
            return await cur.fetchone() is not None

    async def _alive(self, customer_id: str, caller_id: str) -> bool:
        """Does the caller still exist (in this write transaction)? What would be written about a
        forgotten caller is dropped."""
        async with self.db.execute(
            "SELECT 1 FROM callers WHERE customer_id = ? AND caller_id = ?", (customer_id, caller_id)
        ) as cur:
            return await cur.fetchone() is not None

    async def add_matters(self, customer_id, caller_id, first_caller_id, matters) -> None:
        if not matters:
            return
        async with self._tx():
            if not await self._alive(customer_id, caller_id):
                return
            await self.db.executemany(
                "INSERT INTO matters (customer_id, matter_id, caller_id, first_caller_id, call_id, text, refs, status,"
                " created_at, due_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [
                    (
                        customer_id,
                        m.matter_id,
                        caller_id,
                        first_caller_id,
                        m.call_id,
                        m.text,
                        dump_refs(m.references),
                        m.status,
                        _ts(m.at),
                        _ts(m.due_at) if m.due_at else None,
                    )
                    for m in matters
                ],
            )
            await self._bump(customer_id, caller_id)

    async def finish_call(self, customer_id, call_id, *, ended_at, topic, outcome, episode=None) -> None:
        async with self._tx():
            await self.db.execute(
                "UPDATE calls SET ended_at = ?, topic = ?, outcome = ?, episode = ? WHERE customer_id = ? AND call_id = ?",
                (_ts(ended_at), topic, outcome, dump_episode(episode), customer_id, call_id),
            )
            await self.db.execute(
                "UPDATE callers SET version = version + 1 WHERE customer_id = ? AND caller_id ="
                " (SELECT caller_id FROM calls WHERE customer_id = ? AND call_id = ?)",
                (customer_id, customer_id, call_id),
            )

    async def merge_callers(
        self, customer_id, from_caller_id, into_caller_id, evidence, *, link_id, call_id, at, verified_by=None
    ):
        db = self.db
        async with self._tx():
            await db.execute(  # the record's own answers win over those the merged caller brought
                "UPDATE verifiers SET caller_id = ?3 WHERE customer_id = ?1 AND caller_id = ?2 AND factor NOT IN"
                " (SELECT factor FROM verifiers WHERE customer_id = ?1 AND caller_id = ?3)",
                (customer_id, from_caller_id, into_caller_id),
            )
            for table in _TABLES_BY_CALLER:
                await db.execute(
                    f"UPDATE {table} SET caller_id = ? WHERE customer_id = ? AND caller_id = ?",
                    (into_caller_id, customer_id, from_caller_id),
                )
            await db.execute(
                "UPDATE callers SET merged_into = ? WHERE customer_id = ? AND (caller_id = ? OR merged_into = ?)",
                (into_caller_id, customer_id, from_caller_id, from_caller_id),
            )
            await db.execute(
                "INSERT INTO links (customer_id, link_id, from_caller_id, to_caller_id, kind, value, call_id, at,"
                " verified_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    customer_id,
                    link_id,
                    from_caller_id,
                    into_caller_id,
                    evidence.kind,
                    evidence.value,
                    call_id,
                    _ts(at),
                    verified_by,
                ),
            )
            await self._bump(customer_id, from_caller_id, into_caller_id)

    async def undo_link(self, customer_id, link_id, *, at) -> tuple[str, str] | None:
        db = self.db
        async with db.execute(
            "SELECT from_caller_id, to_caller_id FROM links WHERE customer_id = ? AND link_id = ? AND undone_at IS NULL",
            (customer_id, link_id),
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        source, target = row
        async with self._tx():
            for table in _TABLES_BY_CALLER:
                await db.execute(
                    f"UPDATE {table} SET caller_id = ? WHERE customer_id = ? AND caller_id = ? AND first_caller_id = ?",
                    (source, customer_id, target, source),
                )
            await db.execute(
                "UPDATE callers SET merged_into = NULL WHERE customer_id = ? AND caller_id = ?",
                (customer_id, source),
            )
            await db.execute(
                "UPDATE links SET undone_at = ? WHERE customer_id = ? AND link_id = ?",
                (_ts(at), customer_id, link_id),
            )
            await self._bump(customer_id, source, target)
        return source, target

    async def links(self, customer_id, caller_id) -> list[Link]:
        async with self.db.execute(
            "SELECT link_id, from_caller_id, to_caller_id, kind, value, call_id, at, undone_at, verified_by FROM links"
            " WHERE customer_id = ? AND (to_caller_id = ? OR from_caller_id = ?) ORDER BY at",
            (customer_id, caller_id, caller_id),
        ) as cur:
            rows = await cur.fetchall()
        return [Link(r[0], r[1], r[2], r[3], r[4], r[5], _dt(r[6]), _dt_or_none(r[7]), r[8]) for r in rows]

    async def canonical_caller(self, customer_id, caller_id) -> str | None:
        async with self.db.execute(
            "SELECT COALESCE(merged_into, caller_id) FROM callers WHERE customer_id = ? AND caller_id = ?",
            (customer_id, caller_id),
        ) as cur:
            row = await cur.fetchone()
        return row[0] if row else None

    async def load_memories(self, customer_id, caller_id, *, limit) -> list[MemoryRow]:
        async with self._reading() as db:
            return await self._memories_on(db, customer_id, caller_id, limit)

    async def _memories_on(
        self, db: aiosqlite.Connection, customer_id: str, caller_id: str, limit: int
    ) -> list[MemoryRow]:
        async with db.execute(
            self._ROW + " WHERE customer_id = ? AND caller_id = ? ORDER BY at DESC, seq DESC LIMIT ?",
            (customer_id, caller_id, limit),
        ) as cur:
            rows = list(await cur.fetchall())
        return [self._memory_row(customer_id, r) for r in reversed(rows)]

    async def load_episodes(self, customer_id, caller_id, *, limit) -> list[Episode]:
        async with self._reading() as db:
            return await self._episodes_on(db, customer_id, caller_id, limit)

    async def _episodes_on(
        self, db: aiosqlite.Connection, customer_id: str, caller_id: str, limit: int
    ) -> list[Episode]:
        async with db.execute(
            "SELECT call_id, started_at, episode FROM calls WHERE customer_id = ? AND caller_id = ?"
            " AND episode IS NOT NULL ORDER BY started_at DESC LIMIT ?",
            (customer_id, caller_id, limit),
        ) as cur:
            rows = list(await cur.fetchall())
        return [e for r in reversed(rows) if (e := load_episode(r[0], _dt(r[1]), r[2])) is not None]

    async def load_history(self, customer_id, caller_id, *, limit) -> CallerHistory:
        # The five reads on one read connection, in one read transaction (one snapshot of the file).
        async with self._reading() as db:
            try:  # BEGIN inside: a load cancelled while it is queued must still be ended
                await db.execute("BEGIN")
                return CallerHistory(
                    tuple(await self._memories_on(db, customer_id, caller_id, limit)),
                    tuple(await self._edges_on(db, customer_id, caller_id)),
                    tuple(await self._open_matters_on(db, customer_id, caller_id)),
                    tuple(await self._episodes_on(db, customer_id, caller_id, limit)),
                    tuple(await self._facts_on(db, customer_id, caller_id, include_former=True)),
                )
            finally:  # queued after the BEGIN on the connection's thread, whenever this load stopped
                await asyncio.shield(_end_read(db))

    async def load_open_matters(self, customer_id, caller_id) -> list[Matter]:
        async with self._reading() as db:
            return await self._open_matters_on(db, customer_id, caller_id)

    async def _open_matters_on(self, db: aiosqlite.Connection, customer_id, caller_id) -> list[Matter]:
        async with db.execute(
            "SELECT matter_id, text, created_at, call_id, refs, status, due_at FROM matters"
            " WHERE customer_id = ? AND caller_id = ? AND status = 'open' ORDER BY created_at DESC LIMIT 20",
            (customer_id, caller_id),
        ) as cur:
            rows = await cur.fetchall()
        return [Matter(r[0], r[1], _dt(r[2]), r[3], load_refs(r[4]), r[5], _dt_or_none(r[6])) for r in rows]

    async def load_profile(self, customer_id, caller_id, *, recent_calls) -> CallerProfile:
        async with self._reading() as db:
            async with db.execute(
                "SELECT kind, value, source, call_id, created_at FROM identifiers WHERE customer_id = ? AND caller_id = ?"
                " ORDER BY created_at",
                (customer_id, caller_id),
            ) as cur:
                idents = tuple(KnownIdentifier(r[0], r[1], r[2], r[3], _dt(r[4])) for r in await cur.fetchall())
            async with db.execute(
                "SELECT count(ended_at), min(started_at) FROM calls WHERE customer_id = ? AND caller_id = ?",
                (customer_id, caller_id),
            ) as cur:
                count, first = await cur.fetchone() or (0, None)
            async with db.execute(
                "SELECT call_id, started_at, ended_at, topic, outcome, episode FROM calls"
                " WHERE customer_id = ? AND caller_id = ? AND ended_at IS NOT NULL ORDER BY started_at DESC LIMIT ?",
                (customer_id, caller_id, recent_calls),
            ) as cur:
                calls = tuple(
                    CallRecord(r[0], _dt(r[1]), _dt_or_none(r[2]), r[3], r[4], load_episode(r[0], _dt(r[1]), r[5]))
                    for r in await cur.fetchall()
                )
            matters = tuple(await self._open_matters_on(db, customer_id, caller_id))
            async with db.execute(
                "SELECT display_name FROM callers WHERE customer_id = ? AND caller_id = ?", (customer_id, caller_id)
            ) as cur:
                row = await cur.fetchone()
            known = tuple(await self._facts_on(db, customer_id, caller_id))
            return CallerProfile(
                caller_id, _dt_or_none(first), idents, calls, matters, count or 0, row[0] if row else None, known
            )

    async def add_facts(self, customer_id, caller_id, first_caller_id, facts) -> list[Fact]:
        added: list[Fact] = []
        if not facts:
            return added
        db = self.db
        async with self._tx():
            if not await self._alive(customer_id, caller_id):
                return added
            for fact in facts:
                async with db.execute(
                    "SELECT fact_id, value, valid_from, call_id, seq, said_at FROM facts WHERE customer_id = ?"
                    " AND caller_id = ? AND attribute = ? AND valid_to IS NULL",
                    (customer_id, caller_id, fact.attribute),
                ) as cur:
                    current = await cur.fetchall()
                if any(r[1] == fact.value for r in current):
                    continue
                inserted = await db.execute(
                    "INSERT INTO facts (customer_id, fact_id, caller_id, first_caller_id, attribute, value, said_at,"
                    " valid_from, valid_to, happens_at, call_id, seq, confidence) VALUES"
                    " (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (customer_id, fact.fact_id, caller_id, first_caller_id, fact.attribute, fact.value,
                     _ts(fact.said_at), _ts(fact.valid_from), _ts(fact.happens_at) if fact.happens_at else None,
                     fact.call_id, fact.seq, fact.confidence),
                )  # fmt: skip
                if inserted.rowcount == 0:  # stored before (a batch enriched again): it superseded then
                    continue
                if fact.attribute in SINGLE_VALUED:
                    stored = [StoredFact(r[0], _dt(r[2]), r[3], r[4], _dt(r[5])) for r in current]
                    for change in supersessions(fact, stored):
                        await db.execute(
                            "UPDATE facts SET valid_to = ? WHERE customer_id = ? AND fact_id = ?",
                            (_ts(change.valid_to), customer_id, change.older),
                        )
                        await db.execute(
                            "INSERT INTO edges VALUES (?, ?, ?, ?, 'supersedes', ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                            (customer_id, caller_id, first_caller_id, f"fact:{change.newer}", f"fact:{change.older}",
                             change.call_id, change.seq, _ts(change.said_at)),
                        )  # fmt: skip
                added.append(fact)
            if added:
                await self._bump(customer_id, caller_id)
        return added

    async def load_facts(self, customer_id, caller_id, *, include_former=True) -> list[Fact]:
        async with self._reading() as db:
            return await self._facts_on(db, customer_id, caller_id, include_former=include_former)

    async def _facts_on(
        self, db: aiosqlite.Connection, customer_id: str, caller_id: str, *, include_former: bool = True
    ) -> list[Fact]:
        sql = (
            "SELECT fact_id, attribute, value, said_at, valid_from, call_id, seq, valid_to, happens_at, confidence"
            " FROM facts WHERE customer_id = ? AND caller_id = ?"
        )
        if not include_former:
            sql += " AND valid_to IS NULL"
        async with db.execute(sql + " ORDER BY valid_from, seq", (customer_id, caller_id)) as cur:
            rows = await cur.fetchall()
        return [
            Fact(r[0], r[1], r[2], _dt(r[3]), _dt(r[4]), r[5], r[6], _dt_or_none(r[7]), _dt_or_none(r[8]), r[9])
            for r in rows
        ]

    async def add_edges(self, customer_id, caller_id, first_caller_id, edges) -> None:
        if not edges:
            return
        async with self._tx():
            if not await self._alive(customer_id, caller_id):
                return
            await self.db.executemany(
                "INSERT INTO edges VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [
                    (customer_id, caller_id, first_caller_id, e.src, e.rel, e.dst, e.call_id, e.seq, _ts(e.at))
                    for e in edges
                ],
            )

    async def load_edges(self, customer_id, caller_id) -> list[Edge]:
        async with self._reading() as db:
            return await self._edges_on(db, customer_id, caller_id)

    async def _edges_on(self, db: aiosqlite.Connection, customer_id: str, caller_id: str) -> list[Edge]:
        async with db.execute(
            "SELECT src, rel, dst, call_id, seq, at FROM edges WHERE customer_id = ? AND caller_id = ? ORDER BY at",
            (customer_id, caller_id),
        ) as cur:
            rows = await cur.fetchall()
        return [Edge(r[0], r[1], r[2], r[3], r[4], _dt(r[5])) for r in rows]

    async def close_matters(self, customer_id, caller_id, matter_ids, *, closed_at, call_id) -> None:
        if not matter_ids:
            return
        async with self._tx():
            await self.db.executemany(
                "UPDATE matters SET status = 'closed', closed_at = ?, closed_call_id = ? WHERE customer_id = ?"
                " AND caller_id = ? AND matter_id = ? AND status = 'open'",
                [(_ts(closed_at), call_id, customer_id, caller_id, m) for m in matter_ids],
            )
            await self._bump(customer_id, caller_id)

    async def set_display_name(self, customer_id, caller_id, name) -> None:
        async with self._tx():
            await self.db.execute(
                "UPDATE callers SET display_name = ?, version = version + 1 WHERE customer_id = ? AND caller_id = ?",
                (name, customer_id, caller_id),
            )

    async def caller_family(self, customer_id: str, caller_id: str) -> list[str]:
        async with self.db.execute(
            "SELECT caller_id FROM callers WHERE customer_id = ? AND (caller_id = ? OR merged_into = ?)",
            (customer_id, caller_id, caller_id),
        ) as cur:
            return [r[0] for r in await cur.fetchall()] or [caller_id]

    async def forget_caller(self, customer_id, caller_id) -> int:
        db = self.db
        family = await self.caller_family(customer_id, caller_id)
        marks = ",".join("?" for _ in family)
        deleted = 0
        async with self._tx():
            for table in (*_TABLES_BY_CALLER, "verifiers", "callers"):
                cur = await db.execute(
                    f"DELETE FROM {table} WHERE customer_id = ? AND caller_id IN ({marks})",
                    (customer_id, *family),
                )
                deleted += cur.rowcount
            digests = [(caller_digest(customer_id, member), member) for member in family]
            await db.executemany(
                "INSERT INTO forgotten (customer_id, caller_digest, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                [(customer_id, digest, datetime.now(UTC).timestamp()) for digest, _ in digests],
            )
            await db.executemany(  # the audit log keeps what staff did, naming the caller by the digest only
                "UPDATE audit_log SET caller_ref = ? WHERE customer_id = ? AND caller_ref = ?",
                [(digest, customer_id, member) for digest, member in digests],
            )
            cur = await db.execute(
                f"DELETE FROM links WHERE customer_id = ? AND (to_caller_id IN ({marks}) OR from_caller_id IN ({marks}))",
                (customer_id, *family, *family),
            )
            deleted += cur.rowcount
        return deleted

    async def export_caller(self, customer_id, caller_id) -> dict[str, list[dict[str, object]]]:
        db = self.db
        exported: dict[str, list[dict[str, object]]] = {}
        async with self._lock:  # one consistent read: no write transaction between the tables
            async with db.execute(
                "SELECT caller_id FROM callers WHERE customer_id = ? AND (caller_id = ? OR merged_into = ?)",
                (customer_id, caller_id, caller_id),
            ) as cur:
                family = [r[0] for r in await cur.fetchall()]
            marks = ",".join("?" for _ in family) or "NULL"
            for table, columns in EXPORT_COLUMNS.items():
                where = f"caller_id IN ({marks})"
                params: tuple[object, ...] = (customer_id, *family)
                if table == "links":
                    where = f"(from_caller_id IN ({marks}) OR to_caller_id IN ({marks}))"
                    params = (customer_id, *family, *family)
                async with db.execute(
                    f"SELECT {', '.join(columns)} FROM {table} WHERE customer_id = ? AND {where}"
                    f" ORDER BY {EXPORT_ORDER[table]}",
                    params,
                ) as cur:
                    exported[table] = [export_row(columns, tuple(r)) for r in await cur.fetchall()]
        return exported

    async def record_audit(self, customer_id, entry) -> None:
        async with self._tx():
            await self.db.execute(
                "INSERT INTO audit_log (customer_id, audit_id, at, staff, action, caller_ref, detail)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (customer_id, entry.audit_id, _ts(entry.at), entry.staff, entry.action, entry.caller_ref, entry.detail),
            )

    async def load_audit(self, customer_id, *, caller_ref=None, limit=200) -> list[AuditEntry]:
        async with self.db.execute(
            "SELECT audit_id, at, staff, action, caller_ref, detail FROM audit_log WHERE customer_id = ?"
            " AND (? IS NULL OR caller_ref = ?) ORDER BY at DESC, audit_id LIMIT ?",
            (customer_id, caller_ref, caller_ref, limit),
        ) as cur:
            rows = await cur.fetchall()
        return [AuditEntry(r[0], _dt(r[1]), r[2], r[3], r[4], r[5]) for r in rows]

    async def purge_older_than(self, customer_id, before, *, batch: int = 5000) -> int:
        """Delete the tenant's rows older than ``before`` through the age indexes of migration 005,
        ``batch`` rows per transaction (the file's writers wait for one batch at most)."""
        deleted = 0
        for table, older in _PURGED:
            while True:
                async with self._tx():
                    cur = await self.db.execute(
                        f"DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table}"
                        f" WHERE customer_id = ?1 AND {older} LIMIT ?3)",
                        (customer_id, _ts(before), batch),
                    )
                deleted += cur.rowcount
                if cur.rowcount < batch:
                    break
        return deleted


_PURGED = (
    ("memories", "at < ?2"),
    ("calls", "ended_at IS NOT NULL AND ended_at < ?2"),
    ("matters", "created_at < ?2"),
    ("edges", "at < ?2"),
)


def _split_sql(sql: str) -> list[str]:
    """Split a migration file into statements (no semicolons inside our SQLite statements)."""
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]

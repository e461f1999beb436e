"""The local spool: a call's turns kept on this host until the database has taken them.

Every turn is kept here as it is recorded (:meth:`Spool.keep_soon`, committed by the connection's
thread without waiting for the process's event loop, within ``KEEP_WINDOW_S`` and a commit) and
leaves once the database took it (:meth:`Spool.stored`, in the same kind of transaction), so a
process killed at any moment leaves what it had not stored to be replayed.

One SQLite file per worker host, in WAL mode, opened by every worker process of the host. Why an
SQLite file (and not Redis Streams): it needs no server, so it works without Redis and when Redis
is what is down; a committed transaction survives the process being killed (turns kept and callers
forgotten are synced, ``synchronous=FULL``: a power cut too); and its write lock makes claiming a call for replay atomic between the host's
processes. Each turn is keyed by (tenant, call id, seq), as in the database, so keeping it twice or
replaying it twice stores it once.

Several databases may share one spool file (a host's workers serving two deployments; test runs):
every call in it carries the location of its database, and a store only ever sees its own.

Ownership: each open store is an *owner* with a heartbeat. A call's spooled turns belong to the
owner that spooled them while the call is open; once the call closes (or its owner stops beating
for ``LEASE_S``: killed), any owner on the host may claim the call and replay it, in the order it
was spooled, then deletes it. The spool holds what callers said, like the database: it is created
readable by its owner only, and ``forget`` removes a caller's calls from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import random
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import aiosqlite

from ..errors import StoreUnavailableError
from ..values import Identifier, MemoryRow
from .sqlite_tx import BUSY_RETRY_S, is_busy, write_statement

__all__ = ["DEFAULT_SPOOL_PATH", "KEEP_WINDOW_S", "LEASE_S", "Spool", "SpooledCall"]

T = TypeVar("T")

DEFAULT_SPOOL_PATH = Path(".data") / "memory-spool.db"
LEASE_S = 10.0
"""An owner that has not beaten for this long is gone (killed): its calls may be claimed."""
KEEP_WINDOW_S = 0.03
"""What the connection's thread gathers into one transaction: every keep and removal handed over within
this long of the first (one thread wake-up, one sync and one future resolved on the loop for them all)."""

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS spooled_calls (
        database        TEXT NOT NULL,
        customer_id     TEXT NOT NULL,
        call_id         TEXT NOT NULL,
        identifiers     TEXT NOT NULL,
        started_at      REAL NOT NULL,
        caller_id       TEXT,
        first_caller_id TEXT,
        owner           TEXT NOT NULL,
        closed          INTEGER NOT NULL DEFAULT 0,
        spooled_at      REAL NOT NULL,
        PRIMARY KEY (database, customer_id, call_id))""",
    """CREATE TABLE IF NOT EXISTS spooled_rows (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        database    TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        call_id     TEXT NOT NULL,
        seq         INTEGER NOT NULL,
        kind        TEXT NOT NULL,
        role        TEXT NOT NULL,
        text        TEXT NOT NULL,
        at          REAL NOT NULL,
        UNIQUE (database, customer_id, call_id, seq))""",
    "CREATE TABLE IF NOT EXISTS owners (owner TEXT PRIMARY KEY, pid INTEGER NOT NULL, seen_at REAL NOT NULL)",
    """CREATE TABLE IF NOT EXISTS leases (
        database TEXT NOT NULL,
        name     TEXT NOT NULL,
        owner    TEXT NOT NULL,
        until    REAL NOT NULL,
        PRIMARY KEY (database, name))""",
)
_TABLES = len(_SCHEMA) + 1  # and sqlite_sequence (AUTOINCREMENT)
OPEN_RETRY_S = 30.0
"""How long an open is tried again while other processes hold the file's lock."""


@dataclass
class SpooledCall:
    """A call with turns in the spool: enough to store them as the call would have."""

    customer_id: str
    call_id: str
    identifiers: list[Identifier]
    started_at: datetime
    caller_id: str | None = None  # the caller the call had resolved, if it had
    first_caller_id: str | None = None
    closed: bool = False
    rows: list[MemoryRow] = field(default_factory=list)


class Spool:
    """The host's spool file, as one store of one process uses it (``database``: where that store writes)."""

    def __init__(self, path: Path | str, *, database: str) -> None:
        self.path = Path(path)
        self.database = database
        self.owner = "owner_" + uuid.uuid4().hex
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._batch: _Batch | None = None  # handed over (keep_soon, stored), its commit not yet begun
        self._batch_lock = threading.Lock()

    async def open(self) -> Spool:
        """Open the file (created, in WAL mode, with its tables, by whichever process comes first).

        A host's job processes open it together (LiveKit starts its warm pool at once): each waits
        for the file's lock (``busy_timeout``, set before anything else), changes the journal mode
        and creates the tables only when they are not so already (reads, no write lock), and tries
        the whole open again while SQLite answers busy, for up to ``OPEN_RETRY_S``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + OPEN_RETRY_S
        pause = 0.01
        while True:
            try:
                await self._open_once()
                return self
            except (OSError, aiosqlite.Error) as exc:
                await self.aclose()
                busy = isinstance(exc, sqlite3.Error) and is_busy(exc)
                if not busy or loop.time() + pause > deadline:
                    raise StoreUnavailableError(f"cannot open the spool: {type(exc).__name__}: {exc}") from exc
            await asyncio.sleep(pause * (0.5 + random.random()))
            pause = min(pause * 2, 0.2)

    async def _open_once(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        self._db = await aiosqlite.connect(self.path, isolation_level=None)
        for pragma in ("busy_timeout=5000", "synchronous=NORMAL"):  # FULL where it counts: see _transaction
            await self._db.execute(f"PRAGMA {pragma}")
        async with self._db.execute("PRAGMA journal_mode") as cursor:
            row = await cursor.fetchone()
        if row is None or str(row[0]).lower() != "wal":
            await self._db.execute("PRAGMA journal_mode=WAL")
        async with self._db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'") as cursor:
            row = await cursor.fetchone()
        if row is None or row[0] < _TABLES:
            for statement in _SCHEMA:
                await self._db.execute(statement)
        await self.beat()

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StoreUnavailableError("the spool is closed")
        return self._db

    async def _transaction(self, body: Callable[[sqlite3.Connection], T], *, durable: bool = False) -> T:
        """``body(connection)`` as one write transaction, run whole on the connection's thread: BEGIN
        IMMEDIATE (waiting out a busy file), the statements, COMMIT, in one hop. The file's write lock is
        then held only while SQLite works, never across this process's event loop: every job process of
        a host writes through this one file, and on a host whose cores are all busy a process whose loop
        is held up (a turn's work, a garbage collection) for a few hundred milliseconds between its
        BEGIN and its COMMIT held every other process's heartbeat, keep and claim behind it, until they
        gave up (``database is locked``).

        ``durable``: its commit is synced to disk (``synchronous=FULL``: it survives a power cut), for
        what must not be lost or come back (turns kept, a caller forgotten). The others (claims, rows
        that reached the database) commit without a sync (WAL, ``NORMAL``: they survive the process
        being killed); losing one of those to a power cut is harmless: a claim is made again, a row
        stored twice is stored once."""
        async with self._lock:
            return await _on_thread(self.db, _run_transaction, body, durable)

    async def _read(self, sql: str, parameters: tuple[object, ...] = ()) -> list[tuple]:
        """The rows of one read, run and finished on the connection's thread (no statement left open:
        an open read's snapshot would keep this connection's next write from starting)."""
        async with self._lock:
            return await _on_thread(self.db, lambda conn: conn.execute(sql, parameters).fetchall())

    async def aclose(self) -> None:
        """Close the file; this owner's closed calls are left for the next owner to replay."""
        if self._db is None:
            return
        try:
            with contextlib.suppress(aiosqlite.Error, sqlite3.Error, ValueError):
                await self._write_one("DELETE FROM owners WHERE owner = ?", (self.owner,))
        finally:  # closed even when the owner's row could not be removed in time (cancelled): the
            # connection's thread would otherwise keep the process from exiting; the row expires
            db, self._db = self._db, None
            if db is not None:
                await db.close()

    # -- a live call ------------------------------------------------------------------------------------

    async def keep(self, call: SpooledCall, rows: Sequence[MemoryRow]) -> None:
        """Keep ``rows`` of ``call`` (owned by this owner until the call closes). Durable on return."""
        await self._transaction(lambda db: self._keep_rows(db, call=call, rows=rows), durable=True)

    def keep_soon(self, call: SpooledCall, rows: Sequence[MemoryRow]) -> asyncio.Future[None]:
        """Keep ``rows`` of ``call`` as :meth:`keep` does, without waiting on the event loop: the rows are
        handed to the connection's thread now (no I/O here: for the turn path), which commits them, synced,
        within ``KEEP_WINDOW_S`` (and its queue, and the file's lock) in one transaction with whatever else
        was handed over meanwhile. The future, shared by that transaction's callers (not to be cancelled),
        is done once they are durable (or failed)."""
        return self._hand_over(functools.partial(self._keep_rows, call=call, rows=list(rows)), durable=True)

    def _hand_over(self, op: Callable[[sqlite3.Connection], None], *, durable: bool) -> asyncio.Future[None]:
        """``op`` joins the batch not yet begun, or starts one: queued on the connection's thread now, it
        waits out ``KEEP_WINDOW_S`` there (not on the loop) and runs every op handed over by then, in order."""
        loop = asyncio.get_running_loop()
        if self._db is None:
            future: asyncio.Future[None] = loop.create_future()
            future.set_exception(StoreUnavailableError("the spool is closed"))
            return future
        with self._batch_lock:
            batch = self._batch
            if batch is None:
                batch = self._batch = _Batch(loop.create_future(), time.monotonic() + KEEP_WINDOW_S)
                db = self._db
                # what aiosqlite's own _execute does, minus the await: the thread runs it however busy the loop is
                db._tx.put_nowait((batch.future, lambda: self._commit_batch(db._conn, batch)))
            batch.ops.append(op)
            batch.durable = batch.durable or durable
        return batch.future

    def _commit_batch(self, conn: sqlite3.Connection, batch: _Batch) -> None:
        """On the connection's thread: once the window is over, the batch is closed to new ops and run."""
        time.sleep(max(0.0, batch.until - time.monotonic()))
        with self._batch_lock:
            if self._batch is batch:
                self._batch = None
        _run_transaction(conn, lambda db: [op(db) for op in batch.ops], batch.durable)

    def _keep_rows(self, db: sqlite3.Connection, *, call: SpooledCall, rows: Sequence[MemoryRow]) -> None:
        db.execute(
            "INSERT INTO spooled_calls (database, customer_id, call_id, identifiers, started_at, caller_id,"
            " first_caller_id, owner, closed, spooled_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (database, customer_id, call_id) DO UPDATE SET"
            " caller_id = COALESCE(excluded.caller_id, caller_id),"
            " first_caller_id = COALESCE(excluded.first_caller_id, first_caller_id), closed = excluded.closed",
            (self.database, call.customer_id, call.call_id, _dump_identifiers(call.identifiers),
             call.started_at.timestamp(), call.caller_id, call.first_caller_id, self.owner, int(call.closed),
             time.time()),
        )  # fmt: skip
        db.executemany(
            "INSERT INTO spooled_rows (database, customer_id, call_id, seq, kind, role, text, at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [
                (self.database, call.customer_id, call.call_id, r.seq, r.kind, r.role, r.text, r.at.timestamp())
                for r in rows
            ],
        )

    def stored(self, customer_id: str, call_id: str, seqs: Sequence[int]) -> asyncio.Future[None]:
        """These rows reached the database: they leave the spool (and the call, once it has none). Handed
        to the connection's thread at once, in the batch :meth:`keep_soon` fills (so after every keep of
        them handed over before it, and before any claim asked after it); the future is done once it ran."""
        if self._db is None or not seqs:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            future.set_result(None)
            return future
        key, seqs = (self.database, customer_id, call_id), list(seqs)

        def op(db: sqlite3.Connection) -> None:
            db.executemany(
                "DELETE FROM spooled_rows WHERE database = ? AND customer_id = ? AND call_id = ? AND seq = ?",
                [(*key, seq) for seq in seqs],
            )
            db.execute(
                "DELETE FROM spooled_calls WHERE database = ?1 AND customer_id = ?2 AND call_id = ?3 AND closed = 0"
                " AND NOT EXISTS (SELECT 1 FROM spooled_rows r WHERE r.database = ?1 AND r.customer_id = ?2"
                " AND r.call_id = ?3)",
                key,
            )

        return self._hand_over(op, durable=False)

    # -- replay -----------------------------------------------------------------------------------------

    async def _write_one(self, sql: str, parameters: tuple[object, ...]) -> int:
        """One statement as its own transaction (autocommit, not synced): the file's write lock is
        held while SQLite runs it on the connection's thread, not across the event loop's turns
        between a BEGIN, the statement and a COMMIT (on a busy host a process can be descheduled
        between them, lock held). Returns the rows it changed."""
        async with self._lock:
            return await write_statement(self.db, sql, parameters)

    async def beat(self) -> None:
        """This owner is alive (its open calls' turns are not to be claimed)."""
        await self._write_one(
            "INSERT INTO owners (owner, pid, seen_at) VALUES (?, ?, ?) ON CONFLICT (owner)"
            " DO UPDATE SET seen_at = excluded.seen_at",
            (self.owner, os.getpid(), time.time()),
        )

    async def claim(self, *, limit: int = 20, live: Collection[str] | None = None) -> list[SpooledCall]:
        """Calls this owner may replay now, oldest first, with their rows in order: its own closed calls,
        and every call of owners that closed or stopped beating ``LEASE_S`` ago (they become this
        owner's, closed). A call is never taken from an owner that is alive.

        ``live``: the ids of this owner's calls still open (their writers running); its other calls are
        closed too, marked so or not (the write that marks a call closed can time out on a busy host, and
        its turns would otherwise wait in the spool until this process ends).

        Every store of the host asks when one of its calls closed and then every half ``LEASE_S`` (see
        ``CallerStore._maintain``): a read answers when there is nothing to claim (the usual case),
        without taking the file's write lock."""
        gone = time.time() - LEASE_S
        open_ids = json.dumps(sorted(live)) if live is not None else None
        if not await self._read(
            "SELECT 1 FROM spooled_calls WHERE database = ?1 AND ((owner = ?2 AND (closed = 1 OR (?4 IS NOT NULL AND"
            " call_id NOT IN (SELECT value FROM json_each(?4))))) OR owner NOT IN"
            " (SELECT owner FROM owners WHERE seen_at >= ?3)) LIMIT 1",
            (self.database, self.owner, gone, open_ids),
        ):
            return []

        def body(db: sqlite3.Connection) -> list[SpooledCall]:
            db.execute(
                "UPDATE spooled_calls SET owner = ?, closed = 1 WHERE database = ? AND owner NOT IN"
                " (SELECT owner FROM owners WHERE seen_at >= ?)",
                (self.owner, self.database, gone),
            )
            if open_ids is not None:
                db.execute(
                    "UPDATE spooled_calls SET closed = 1 WHERE database = ? AND owner = ? AND closed = 0"
                    " AND call_id NOT IN (SELECT value FROM json_each(?))",
                    (self.database, self.owner, open_ids),
                )
            db.execute("DELETE FROM owners WHERE seen_at < ?", (gone - 3600,))
            calls = [
                SpooledCall(r[0], r[1], _load_identifiers(r[2]), _dt(r[3]), r[4], r[5], closed=True)
                for r in db.execute(
                    "SELECT customer_id, call_id, identifiers, started_at, caller_id, first_caller_id FROM"
                    " spooled_calls WHERE database = ? AND owner = ? AND closed = 1 ORDER BY spooled_at LIMIT ?",
                    (self.database, self.owner, limit),
                ).fetchall()
            ]
            for call in calls:
                call.rows = [
                    MemoryRow(call.customer_id, "", call.call_id, r[0], r[1], r[2], r[3], _dt(r[4]), "")
                    for r in db.execute(
                        "SELECT seq, kind, role, text, at FROM spooled_rows WHERE database = ? AND customer_id = ?"
                        " AND call_id = ? ORDER BY seq",
                        (self.database, call.customer_id, call.call_id),
                    ).fetchall()
                ]
            return calls

        return await self._transaction(body)

    async def replayed(self, customer_id: str, call_id: str, seqs: Sequence[int]) -> None:
        """A claimed call is stored (or dropped, its caller forgotten): the rows claimed (``seqs``) leave
        the spool, and the call with them unless rows were kept for it since the claim (those wait for
        the next claim: the call is still closed)."""

        def body(db: sqlite3.Connection) -> None:
            db.executemany(
                "DELETE FROM spooled_rows WHERE database = ? AND customer_id = ? AND call_id = ? AND seq = ?",
                [(self.database, customer_id, call_id, seq) for seq in seqs],
            )
            db.execute(
                "DELETE FROM spooled_calls WHERE database = ?1 AND customer_id = ?2 AND call_id = ?3 AND owner = ?4"
                " AND NOT EXISTS (SELECT 1 FROM spooled_rows r WHERE r.database = ?1 AND r.customer_id = ?2"
                " AND r.call_id = ?3)",
                (self.database, customer_id, call_id, self.owner),
            )

        await self._transaction(body, durable=True)

    async def lease(self, name: str, seconds: float) -> bool:
        """Whether this owner may do the host-wide work ``name`` now: it takes (or renews) the lease
        for ``seconds`` unless another owner holds it. For work that one process of the host does for
        all (a tenant's back-fill), not every job process at once. A read answers while another holds it."""
        now = time.time()
        found = await self._read(
            "SELECT owner, until FROM leases WHERE database = ? AND name = ?", (self.database, name)
        )
        row = found[0] if found else None
        if row is not None and row[0] != self.owner and row[1] > now:
            return False
        changed = await self._write_one(
            "INSERT INTO leases (database, name, owner, until) VALUES (?, ?, ?, ?) ON CONFLICT (database, name)"
            " DO UPDATE SET owner = excluded.owner, until = excluded.until"
            " WHERE leases.owner = excluded.owner OR leases.until <= ?",
            (self.database, name, self.owner, now + seconds, now),
        )
        return changed > 0

    async def release(self, name: str) -> None:
        """Give the lease ``name`` up (if this owner holds it): another process may take the work now."""
        await self._write_one(
            "DELETE FROM leases WHERE database = ? AND name = ? AND owner = ?", (self.database, name, self.owner)
        )

    async def pending(self) -> int:
        """Rows of this store's database in the spool (every owner's)."""
        rows = await self._read("SELECT count(*) FROM spooled_rows WHERE database = ?", (self.database,))
        return int(rows[0][0]) if rows else 0

    # -- forgetting -------------------------------------------------------------------------------------

    async def forget(self, customer_id: str, *, caller_ids: Sequence[str], call_ids: Sequence[str]) -> int:
        """Remove the calls of these callers (and these calls, whoever they belonged to). Returns rows removed."""
        ids = json.dumps(list(caller_ids))

        def body(db: sqlite3.Connection) -> int:
            found = {
                r[0]
                for r in db.execute(
                    "SELECT call_id FROM spooled_calls WHERE database = ? AND customer_id = ? AND (caller_id IN"
                    " (SELECT value FROM json_each(?)) OR first_caller_id IN (SELECT value FROM json_each(?)))",
                    (self.database, customer_id, ids, ids),
                ).fetchall()
            } | set(call_ids)
            removed = 0
            for call_id in found:
                key = (self.database, customer_id, call_id)
                removed += db.execute(
                    "DELETE FROM spooled_rows WHERE database = ? AND customer_id = ? AND call_id = ?", key
                ).rowcount
                db.execute("DELETE FROM spooled_calls WHERE database = ? AND customer_id = ? AND call_id = ?", key)
            return removed

        return await self._transaction(body, durable=True)


async def _on_thread(db: aiosqlite.Connection, fn: Callable[..., T], *args: object) -> T:
    """``fn(connection, *args)`` on ``db``'s own thread, in one hop (aiosqlite runs every call on it)."""
    return await db._execute(lambda: fn(db._conn, *args))  # aiosqlite has no public way to run a function on it


@dataclass(eq=False)
class _Batch:
    """Ops handed to the connection's thread (:meth:`Spool._hand_over`), committed as one transaction."""

    future: asyncio.Future[None]
    until: float  # time.monotonic() at which the window closes
    ops: list[Callable[[sqlite3.Connection], None]] = field(default_factory=list)
    durable: bool = False  # synced if any op keeps rows


def _run_transaction(conn: sqlite3.Connection, body: Callable[[sqlite3.Connection], T], durable: bool) -> T:
    """On the connection's thread: BEGIN IMMEDIATE (tried again while the file is busy, as
    :func:`~memory.store.sqlite_tx.write_statement` does), ``body``, COMMIT; rolled back if ``body`` fails."""
    if durable:
        conn.execute("PRAGMA synchronous=FULL")
    try:
        deadline = time.monotonic() + BUSY_RETRY_S
        pause = 0.002
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:
                if not is_busy(exc) or time.monotonic() + pause > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
        try:
            result = body(conn)
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result
    finally:
        if durable:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("PRAGMA synchronous=NORMAL")


def _dt(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def _dump_identifiers(identifiers: Sequence[Identifier]) -> str:
    return json.dumps([[i.kind, i.value] for i in identifiers])


def _load_identifiers(raw: str) -> list[Identifier]:
    return [Identifier(kind, value) for kind, value in json.loads(raw)]

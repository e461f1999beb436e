"""A write transaction on a shared aiosqlite connection, for both SQLite files (the store, the spool).

``BEGIN IMMEDIATE`` is tried again while SQLite answers busy. A read still open on the connection
(another task's cursor) holds a WAL snapshot; when another process has written since, SQLite refuses
the upgrade to a write at once (``SQLITE_BUSY_SNAPSHOT``) without waiting out ``busy_timeout``. The
read finishes within milliseconds, so the write waits for it instead of failing.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator

import aiosqlite

BUSY_RETRY_S = 5.0  # how long a write start is retried while SQLite answers busy (as busy_timeout)


def is_busy(exc: sqlite3.Error) -> bool:
    return exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY  # SQLITE_BUSY and its extended codes


async def _busy_retried(db: aiosqlite.Connection, sql: str, parameters: tuple[object, ...] = ()) -> aiosqlite.Cursor:
    """``sql`` run on ``db``, tried again while SQLite answers busy (for up to ``BUSY_RETRY_S``)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BUSY_RETRY_S
    pause = 0.002
    while True:
        try:
            return await db.execute(sql, parameters)
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or loop.time() + pause > deadline:
                raise
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.05)


async def write_statement(db: aiosqlite.Connection, sql: str, parameters: tuple[object, ...]) -> int:
    """One write statement as its own transaction (autocommit), waiting out a busy file or a read
    still open on the connection as ``write_transaction`` does. The caller holds its connection's
    lock. Returns the rows it changed."""
    cursor = await _busy_retried(db, sql, parameters)
    return cursor.rowcount


@contextlib.asynccontextmanager
async def write_transaction(db: aiosqlite.Connection) -> AsyncIterator[aiosqlite.Connection]:
    """BEGIN IMMEDIATE ... COMMIT on ``db``; rolled back if the body raises or is cancelled.

    The caller holds its connection's lock: one write transaction at a time on a shared connection.
    """
    try:  # BEGIN inside: a task cancelled while it runs must not leave the transaction open
        await _busy_retried(db, "BEGIN IMMEDIATE")
        yield db
    except BaseException:
        with contextlib.suppress(aiosqlite.Error):
            await asyncio.shield(db.execute("ROLLBACK"))
        raise
    await db.execute("COMMIT")

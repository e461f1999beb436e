"""One error hierarchy for the memory layer.

    CallerMemoryError                  base of everything this package raises on purpose
    ├── InvalidInputError (ValueError)  bad arguments: missing customer_id, unknown kind, absurd text
    │   └── IdentifierError             an identifier that cannot be normalised
    ├── ConfigError                     bad configuration (URL scheme, policy values, model files)
    ├── StoreUnavailableError           the database cannot be reached when opening the store
    │   └── SchemaError                 the database has no memory schema, or an older one than the code
    ├── EmbedderUnavailableError        the host's embedding model cannot be asked (no job yet, no reply)
    └── MemoryWriteError                turns or links that could not be stored (raised at ``aclose``)

Read failures during a call never raise: preload and recall return empty results within
their time budget and log the error, so the call goes on.
"""

from __future__ import annotations

from collections.abc import Sequence


class CallerMemoryError(Exception):
    """Base class of the errors raised by the memory layer."""


class InvalidInputError(CallerMemoryError, ValueError):
    """An argument is missing, of the wrong type, or outside what the layer accepts."""


class IdentifierError(InvalidInputError):
    """An identifier could not be normalised (unknown kind, empty, absurd or unparseable value)."""


class ConfigError(CallerMemoryError):
    """The configuration is invalid (store URL, tenant policy, embedding model files)."""


class StoreUnavailableError(CallerMemoryError):
    """The storage backend could not be reached or migrated."""


class SchemaError(StoreUnavailableError):
    """The database is reachable but its memory schema is missing or older than this code expects:
    run ``python -m memory migrate`` as the schema's owner (the store never migrates a database
    server itself; the embedded SQLite file is the exception)."""


class EmbedderUnavailableError(CallerMemoryError, RuntimeError):
    """The embedding model that runs outside this process (the host's, in LiveKit's inference
    process) cannot be asked or did not answer. ``before_job``: this job process has no job yet
    (it waits in LiveKit's warm pool), so it has no channel to the model: expected, not a fault."""

    def __init__(self, message: str, *, before_job: bool = False) -> None:
        super().__init__(message)
        self.before_job = before_job


class MemoryWriteError(CallerMemoryError):
    """Writes of a call could not be stored.

    ``unsaved`` holds the turns that were not stored, as ``(role, text, at)`` tuples, so the
    application can keep them elsewhere: nothing is silently lost.
    """

    def __init__(self, message: str, *, unsaved: Sequence[tuple[str, str, object]] | None = None) -> None:
        super().__init__(message)
        self.unsaved = list(unsaved or [])


def describe(exc: BaseException) -> str:
    """An error for a log line: its type and, where the message cannot quote a caller, the message.

    Driver messages about data can quote SQL parameters (a caller's words, an identifier), so a
    database error's message is kept only for the classes about the connection, the server, the
    login, the schema and privileges (SQLSTATE classes 08, 28, 3D, 3F, 42501/42P01, 53, 57);
    this layer's own errors and network errors (``OSError``) never carry caller data.
    """
    if isinstance(exc, TimeoutError):
        return "timed out"
    name = type(exc).__name__
    if not (
        isinstance(exc, CallerMemoryError | OSError)
        or _is_operational(getattr(exc, "sqlstate", None))
        or _is_sqlite_operational(exc)
    ):
        return name
    text = " ".join(str(exc).split())
    return f"{name}: {text}" if text else name


_OPERATIONAL_STATES = ("08", "28", "3D", "3F", "53", "57", "42501", "42P01")


def _is_sqlite_operational(exc: BaseException) -> bool:
    """An SQLite error about the file, not the data (busy, locked, I/O, full, cannot open, read-only):
    its message is SQLite's fixed text (``database is locked``), never a statement's values."""
    import sqlite3

    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.Error) and isinstance(code, int) and code & 0xFF in _SQLITE_OPERATIONAL


_SQLITE_OPERATIONAL = (5, 6, 10, 13, 14, 8)  # BUSY, LOCKED, IOERR, FULL, CANTOPEN, READONLY


def _is_operational(sqlstate: object) -> bool:
    return isinstance(sqlstate, str) and sqlstate.startswith(_OPERATIONAL_STATES)

"""Storage backends, picked from a URL in one place; the host's spool (``spool.py``) beside them.

A Postgres URL may carry, besides libpq's usual parts, three settings of the store (taken out of
the URL before it reaches the driver): ``connect_timeout`` (seconds, default 5), ``pool_size``
(connections of one store's pool, default 2: a job process serves one call) and
``statement_cache_size`` (asyncpg's, default 100; 0 behind PgBouncer in transaction mode).

Opening a store never migrates a database server: :func:`migrate` does, once per deployment
(``python -m memory migrate``; the worker's main process at start). The embedded SQLite file is
migrated when it is opened, so that a newcomer needs no set-up.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlparse

from ..errors import ConfigError
from .base import Backend

DEFAULT_SQLITE_PATH = Path(".data") / "caller-memory.db"

__all__ = [
    "DEFAULT_SQLITE_PATH",
    "Backend",
    "connect_backend",
    "make_backend",
    "migrate",
    "open_backend",
    "with_pool_size",
]


async def open_backend(url: str | None) -> Backend:
    """``None`` -> the embedded SQLite default; ``sqlite:///path.db``; ``postgresql://...``; connected."""
    backend = make_backend(url)
    await connect_backend(backend)
    return backend


async def connect_backend(backend: Backend) -> None:
    """Connect a backend made by :func:`make_backend`: ``StoreUnavailableError`` if it cannot,
    ``SchemaError`` (a database server whose schema is missing or behind). An embedded SQLite
    file is migrated here."""
    await backend.connect()  # type: ignore[attr-defined]
    if backend.name == "sqlite":
        await backend.migrate()


async def migrate(url: str | None) -> list[int]:
    """Bring the store at ``url`` to this code's schema; returns the versions applied (``[]``: it
    was up to date). Run it as the role that owns the schema; several at once apply each migration
    once. ``StoreUnavailableError`` when the database cannot be reached."""
    backend = make_backend(url)
    try:
        if backend.name == "sqlite":
            await backend.connect()  # type: ignore[attr-defined]
        return await backend.migrate()
    finally:
        await backend.aclose()


def make_backend(url: str | None) -> Backend:
    """The backend of a store URL, not connected yet (``ConfigError`` for a URL it cannot be)."""
    if url is None or url == "":
        from .sqlite import SQLiteBackend

        backend: Backend = SQLiteBackend(DEFAULT_SQLITE_PATH)
    elif not isinstance(url, str):
        raise ConfigError("the store URL must be a string")
    elif url.startswith("sqlite://"):
        from .sqlite import SQLiteBackend

        parsed = urlparse(url)
        path = unquote(parsed.netloc + parsed.path)
        if url.startswith("sqlite:///"):
            path = unquote(url[len("sqlite:///") :])
        if not path:
            raise ConfigError("a sqlite URL needs a file path: sqlite:///path/to/memory.db")
        backend = SQLiteBackend(Path(path))
    elif url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresBackend

        try:
            urlparse(url).port  # noqa: B018 -- raises for a port that is not a number
        except ValueError:
            raise ConfigError("the store URL's port must be a number: postgresql://user@host:5432/dbname") from None
        dsn, timeout = _pop_query(url, "connect_timeout")
        dsn, pool_size = _pop_query(dsn, "pool_size")
        dsn, cache_size = _pop_query(dsn, "statement_cache_size")
        try:
            connect_timeout = float(timeout) if timeout is not None else 5.0
        except ValueError:
            raise ConfigError("connect_timeout must be a number of seconds") from None
        backend = PostgresBackend(
            dsn,
            connect_timeout=connect_timeout,
            max_size=_count(pool_size, "pool_size", 2, low=1),
            statement_cache_size=_count(cache_size, "statement_cache_size", 100, low=0),
        )
    else:
        scheme = url.split(":", 1)[0] if ":" in url else "(none)"
        raise ConfigError(f"unsupported store URL scheme {scheme!r}: use sqlite:///path.db or postgresql://...")
    return backend


def with_pool_size(url: str | None, size: int) -> str | None:
    """``url`` with a pool of ``size`` connections, unless the URL sets ``pool_size`` itself (the
    operator's choice wins). Only a Postgres URL has a pool: any other URL comes back unchanged."""
    if size < 1:
        raise ConfigError("a store's pool needs at least 1 connection")
    if not url or not url.startswith(("postgresql://", "postgres://")):
        return url
    parsed = urlparse(url)
    pairs = parse_qsl(parsed.query, keep_blank_values=True)
    if any(k == "pool_size" for k, _ in pairs):
        return url
    return parsed._replace(query=urlencode([*pairs, ("pool_size", str(size))])).geturl()


def _count(raw: str | None, name: str, default: int, *, low: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} in the store URL must be a whole number") from None
    if value < low:
        raise ConfigError(f"{name} in the store URL must be at least {low}")
    return value


def _pop_query(url: str, key: str) -> tuple[str, str | None]:
    """Remove one query parameter (libpq's ``connect_timeout``, which asyncpg does not read)."""
    parsed = urlparse(url)
    pairs = parse_qsl(parsed.query, keep_blank_values=True)
    value = next((v for k, v in pairs if k == key), None)
    rest = urlencode([(k, v) for k, v in pairs if k != key])
    return parsed._replace(query=rest).geturl(), value

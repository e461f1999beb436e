"""Storage backends, picked from a URL in one place; the host's spool (``spool.py``) beside them."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlparse

from ..errors import ConfigError
from .base import Backend

DEFAULT_SQLITE_PATH = Path(".data") / "caller-memory.db"

__all__ = ["DEFAULT_SQLITE_PATH", "Backend", "connect_backend", "make_backend", "open_backend"]


async def open_backend(url: str | None) -> Backend:
    """``None`` -> the embedded SQLite default; ``sqlite:///path.db``; ``postgresql://...``; connected."""
    backend = make_backend(url)
    await connect_backend(backend)
    return backend


async def connect_backend(backend: Backend) -> None:
    """Connect (and migrate) a backend made by :func:`make_backend`; ``StoreUnavailableError`` if it cannot."""
    await backend.connect()  # type: ignore[attr-defined]
    if backend.name == "sqlite":
        await backend.migrate()


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

        dsn, timeout = _pop_query(url, "connect_timeout")
        try:
            connect_timeout = float(timeout) if timeout is not None else 5.0
        except ValueError:
            raise ConfigError("connect_timeout must be a number of seconds") from None
        backend = PostgresBackend(dsn, connect_timeout=connect_timeout)
    else:
        scheme = url.split(":", 1)[0] if ":" in url else "(none)"
        raise ConfigError(f"unsupported store URL scheme {scheme!r}: use sqlite:///path.db or postgresql://...")
    return backend


def _pop_query(url: str, key: str) -> tuple[str, str | None]:
    """Remove one query parameter (libpq's ``connect_timeout``, which asyncpg does not read)."""
    parsed = urlparse(url)
    pairs = parse_qsl(parsed.query, keep_blank_values=True)
    value = next((v for k, v in pairs if k == key), None)
    rest = urlencode([(k, v) for k, v in pairs if k != key])
    return parsed._replace(query=rest).geturl(), value

"""One error hierarchy for the memory layer.

    CallerMemoryError                  base of everything this package raises on purpose
    ├── InvalidInputError (ValueError)  bad arguments: missing customer_id, unknown kind, absurd text
    │   └── IdentifierError             an identifier that cannot be normalised
    ├── ConfigError                     bad configuration (URL scheme, policy values, model files)
    ├── StoreUnavailableError           the database cannot be reached when opening the store
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


class MemoryWriteError(CallerMemoryError):
    """Writes of a call could not be stored.

    ``unsaved`` holds the turns that were not stored, as ``(role, text, at)`` tuples, so the
    application can keep them elsewhere: nothing is silently lost.
    """

    def __init__(self, message: str, *, unsaved: Sequence[tuple[str, str, object]] | None = None) -> None:
        super().__init__(message)
        self.unsaved = list(unsaved or [])


def describe(exc: BaseException) -> str:
    """An error for a log line: its type only ("timed out" for a timeout).

    Driver messages can quote SQL parameters (a caller's words, an identifier), so the message is
    never logged.
    """
    if isinstance(exc, TimeoutError):
        return "timed out"
    return type(exc).__name__

"""Text as it may be stored: control characters removed, trimmed, cut to a limit.

Every utterance and query enters the memory layer through :func:`clean_text`.
"""

from __future__ import annotations

from ..errors import InvalidInputError

__all__ = ["MAX_QUERY_CHARS", "MAX_TURN_CHARS", "clean_text"]

MAX_TURN_CHARS = 8000
"""A recorded turn or note is cut to this many characters."""
MAX_QUERY_CHARS = 2000
"""A recall query is cut to this many characters."""

_CONTROL = dict.fromkeys(c for c in range(32) if c not in (9, 10))


def clean_text(text: object, *, limit: int) -> str:
    """``text`` without control characters (tabs and newlines kept), trimmed and cut to ``limit``."""
    if not isinstance(text, str):
        raise InvalidInputError(f"text must be a string, not {type(text).__name__}")
    text = text.translate(_CONTROL).strip()
    return text[:limit]

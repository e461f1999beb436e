"""Text as it may be stored: unsafe characters removed, trimmed, cut to a limit.

Every utterance and query enters the memory layer through :func:`clean_text`. What it removes
could break a write or mislead a reader of the stored text: control characters (tabs and newlines
are kept), lone surrogates (no valid UTF-8 exists for them, so one would fail the whole batch it is
written in) and bidirectional controls (which can make stored words read as something else).
Unicode line and paragraph separators become newlines.
"""

from __future__ import annotations

import re

from ..errors import InvalidInputError

__all__ = ["BIDI_CONTROLS", "MAX_QUERY_CHARS", "MAX_TURN_CHARS", "clean_text"]

MAX_TURN_CHARS = 8000
"""A recorded turn or note is cut to this many characters."""
MAX_QUERY_CHARS = 2000
"""A recall query is cut to this many characters."""

BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
"""Characters that reorder the text around them when displayed."""

_REMOVED = dict.fromkeys([*(c for c in range(32) if c not in (9, 10)), 0x7F, *map(ord, BIDI_CONTROLS)])
_REMOVED.update({0x2028: "\n", 0x2029: "\n"})
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: object, *, limit: int) -> str:
    """``text`` without unsafe characters (see the module), trimmed and cut to ``limit``."""
    if not isinstance(text, str):
        raise InvalidInputError(f"text must be a string, not {type(text).__name__}")
    text = _SURROGATE.sub("", text.translate(_REMOVED)).strip()
    return text[:limit]

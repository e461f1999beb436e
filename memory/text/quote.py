"""What was said, rendered back as data: quoting for prompts, and a token estimate for budgets.

Callers' words can contain prompt injections: every caller-derived string that reaches a model
goes through :func:`quote`, a JSON string that cannot close a delimited data block or open one.
"""

from __future__ import annotations

import json
import math
import re

from .clean import BIDI_CONTROLS

__all__ = ["estimate_tokens", "quote"]

_ESCAPED = {ord(c): f"\\u{ord(c):04x}" for c in BIDI_CONTROLS + "\u2028\u2029"}
_SURROGATE = re.compile("[\ud800-\udfff]")


def estimate_tokens(text: str) -> int:
    """A provider-neutral estimate (about four characters a token), with no download."""
    return math.ceil(len(text) / 4)


def quote(text: str) -> str:
    """A JSON string that cannot close the data block or start a new one.

    Bidirectional controls, line separators and lone surrogates are escaped too, so quoted words
    read in the order they were said, stay on their line and can always be encoded.
    """
    quoted = json.dumps(text, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
    quoted = _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", quoted)
    return quoted.translate(_ESCAPED)

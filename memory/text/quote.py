"""What was said, rendered back as data: quoting for prompts, and a token estimate for budgets.

Callers' words can contain prompt injections: every caller-derived string that reaches a model
goes through :func:`quote`, a JSON string that cannot close a delimited data block or open one.
"""

from __future__ import annotations

import json
import math

__all__ = ["estimate_tokens", "quote"]


def estimate_tokens(text: str) -> int:
    """A provider-neutral estimate (about four characters a token), with no download."""
    return math.ceil(len(text) / 4)


def quote(text: str) -> str:
    """A JSON string that cannot close the data block or start a new one."""
    return json.dumps(text, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")

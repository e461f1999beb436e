"""One reading of an utterance, shared by everything that asks what it says.

A user turn is looked at by the reply path (does it carry an identifier the tenant links by?),
the call's linker (attach or link it), the writer's extraction (facts, references, the graph) and
compaction. Each asks :func:`read_turn`, which scans the text once and keeps the result in a
small cache keyed by the text and region, so a turn is scanned for identifiers once per process
however many parts ask.
"""

from __future__ import annotations

from functools import cached_property, lru_cache

from ..values import Identifier
from .facts import Reference, references
from .promises import spoken_name
from .spoken import extract_identifiers
from .values import clear_cache as clear_value_cache

__all__ = ["Reading", "forget_readings", "read_turn"]

READ_CACHE_SIZE = 4096


class Reading:
    """What one utterance says that more than one part of the memory layer needs.

    Each part is worked out the first time it is asked for, then kept with the reading.
    """

    def __init__(self, text: str, region: str) -> None:
        self.text = text
        self.region = region

    @cached_property
    def identifiers(self) -> tuple[Identifier, ...]:
        """Identifiers said aloud: phone numbers, e-mail addresses, account numbers."""
        return tuple(extract_identifiers(self.text, region=self.region))

    @cached_property
    def name(self) -> str | None:
        """A name the speaker gives ("my name is Dana Reyes"), for display only."""
        return spoken_name(self.text)

    @cached_property
    def references(self) -> tuple[Reference, ...]:
        """Typed references ("ticket 8842"), spoken digits joined."""
        return tuple(references(self.text))


def read_turn(text: str, *, region: str = "US") -> Reading:
    """The reading of ``text`` (``region``: for phone numbers said without a country code)."""
    return _read(text, region)


@lru_cache(maxsize=READ_CACHE_SIZE)
def _read(text: str, region: str) -> Reading:
    return Reading(text, region)


def forget_readings() -> None:
    """Drop every cached reading of an utterance (they hold callers' words): after a caller is deleted."""
    _read.cache_clear()
    clear_value_cache()

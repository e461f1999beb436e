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
from .dates import forget_query_dates
from .facts import Reference, references
from .kinds import episode_kinds_in, forget_plain_texts, is_confirmation, is_filler, without_fillers
from .promises import spoken_name
from .spoken import extract_identifiers
from .values import Value, values_in
from .values import clear_cache as clear_value_cache

__all__ = ["Reading", "forget_readings", "read_turn"]

READ_CACHE_SIZE = 4096


class Reading:
    """What one utterance says that more than one part of the memory layer needs.

    Each part is worked out the first time it is asked for, then kept with the reading.
    """

    def __init__(self, text: str, region: str, asked: frozenset[str] = frozenset()) -> None:
        self.text = text
        self.region = region
        self.asked = asked  # identifier kinds the agent asked for just before (see spoken.asked_for)

    @cached_property
    def identifiers(self) -> tuple[Identifier, ...]:
        """Identifiers said aloud: phone numbers, e-mail addresses, account numbers."""
        return tuple(extract_identifiers(self.text, region=self.region, asked=self.asked))

    @cached_property
    def name(self) -> str | None:
        """A name the speaker gives ("my name is Dana Reyes"), for display only."""
        return spoken_name(self.text)

    @cached_property
    def references(self) -> tuple[Reference, ...]:
        """Typed references ("ticket 8842"), spoken digits joined."""
        return tuple(references(self.text))

    @cached_property
    def values(self) -> tuple[Value, ...]:
        """The values the utterance carries (times, names, counts, references...), read with the
        recogniser's hesitations left out ("11 um 30 am" is 11:30 am)."""
        return tuple(values_in(without_fillers(self.text)))

    @cached_property
    def tags(self) -> frozenset[str]:
        """What recall needs to know of the utterance without reading it again, as short tags:
        the kinds of value it carries (``time``, ``name``, ``count``...), ``kind:<episode kind>``
        for what it talks about, ``confirm`` (it confirms or reports what was done), ``filler``
        (a backchannel or pleasantry, never worth recalling) and ``question``."""
        tags = {value.kind for value in self.values}
        tags.update(f"kind:{kind}" for kind in episode_kinds_in(self.text))
        if is_confirmation(self.text):
            tags.add("confirm")
        if is_filler(self.text) and all(value.kind == "name" for value in self.values):
            tags = {"filler"}  # "Mm-hmm." is no name, whatever its capital letter
        if self.text.rstrip().endswith("?"):
            tags.add("question")
        return frozenset(tags)


def read_turn(text: str, *, region: str = "US", asked: frozenset[str] = frozenset()) -> Reading:
    """The reading of ``text`` (``region``: for phone numbers said without a country code;
    ``asked``: the identifier kinds the agent's question just before asked for)."""
    return _read(text, region, asked)


@lru_cache(maxsize=READ_CACHE_SIZE)
def _read(text: str, region: str, asked: frozenset[str]) -> Reading:
    return Reading(text, region, asked)


def forget_readings() -> None:
    """Drop every cached reading of an utterance (they hold callers' words): after a caller is deleted."""
    _read.cache_clear()
    clear_value_cache()
    forget_plain_texts()
    forget_query_dates()

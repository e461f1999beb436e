"""A call's talk fed to a compactor past its boundary: the turns under test, then small talk until they are condensed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from memory.compaction import CompactionPolicy, Compactor, Turn

T0 = datetime(2026, 3, 1, 18, 0, tzinfo=UTC)

CHATTER = [
    ("user", "uh-huh"),
    ("assistant", "Let me pull that up for you, one moment."),
    ("user", "The weather has been lovely here all week, warm and sunny in the afternoons."),
    ("assistant", "That sounds wonderful, I hope it stays like that for the weekend."),
    ("user", "How's your day going, by the way?"),
    ("assistant", "It's going well, thank you for asking!"),
]


def fed_past_boundary(pairs: list[tuple[str, str]]) -> Compactor:
    """A compactor (budget 500) fed ``pairs`` and small talk after them until every one of ``pairs`` is condensed."""
    compactor = Compactor(CompactionPolicy(token_budget=500))
    for n, (role, text) in enumerate([*pairs, *CHATTER * 6]):
        compactor.add(Turn(f"t{n:04d}", role, text, T0 + timedelta(seconds=6 * n)))
        compactor.warm()
    assert compactor.boundary > len(pairs)
    return compactor

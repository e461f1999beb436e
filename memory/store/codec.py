"""Shared helpers of the backends: vectors as bytes, migration files, URLs."""

from __future__ import annotations

import functools
import hashlib
import json
from datetime import UTC, datetime
from importlib import resources

import numpy as np

from ..values import Episode, EpisodeValue

VECTOR_DTYPE = np.float16  # 384 dims -> 768 bytes a memory; cosine error < 1e-3


def encode_vector(vector: np.ndarray | None) -> bytes | None:
    if vector is None:
        return None
    return np.asarray(vector, dtype=VECTOR_DTYPE).tobytes()


def decode_vector(blob: bytes | None) -> np.ndarray | None:
    if blob is None:
        return None
    return np.frombuffer(blob, dtype=VECTOR_DTYPE).astype(np.float32)


@functools.cache
def migrations(dialect: str) -> tuple[tuple[int, str, str], ...]:
    """(version, name, sql) of the packaged migrations of one dialect, in order (read once)."""
    folder = resources.files("memory.store") / "migrations" / dialect
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, entry.read_text(encoding="utf-8")))
    return tuple(sorted(found))


def schema_version(dialect: str) -> int:
    """The schema version this code expects: its newest migration."""
    return max(version for version, _, _ in migrations(dialect))


def dump_refs(refs: tuple[str, ...] | list[str]) -> str:
    return json.dumps(list(refs))


def load_refs(raw: str | list[str] | None) -> tuple[str, ...]:
    values = json.loads(raw) if isinstance(raw, str) else raw
    return tuple(str(r) for r in (values or []))


def dump_tags(tags: frozenset[str] | None) -> str | None:
    return None if tags is None else ",".join(sorted(tags))


def load_tags(raw: str | None) -> frozenset[str] | None:
    return None if raw is None else frozenset(t for t in raw.split(",") if t)


def dump_episode(episode: Episode | None) -> str | None:
    """An episode as JSON text (its start time is the call's own column)."""
    if episode is None:
        return None
    return json.dumps(
        {
            "kinds": list(episode.kinds),
            "values": [[v.kind, v.text, v.seq, v.former, v.key] for v in episode.values],
            "outcome": episode.outcome,
            "summary": episode.summary,
            "evidence": list(episode.evidence),
            "gist": episode.gist,
        }
    )


def load_episode(call_id: str, started_at: datetime, raw: str | dict | None) -> Episode | None:
    if raw is None:
        return None
    data = json.loads(raw) if isinstance(raw, str) else raw
    return Episode(
        call_id,
        started_at,
        kinds=tuple(data.get("kinds", ())),
        values=tuple(
            EpisodeValue(str(v[0]), str(v[1]), int(v[2]), bool(v[3]), *v[4:5]) for v in data.get("values", ())
        ),
        outcome=str(data.get("outcome", "open")),
        summary=str(data.get("summary", "")),
        evidence=tuple(int(s) for s in data.get("evidence", ())),
        gist=str(data.get("gist", "")),
    )


def caller_digest(customer_id: str, caller_id: str) -> str:
    """What a forgotten caller leaves behind: a digest of the id, so a late write of theirs can be
    recognised and dropped without the id itself being kept."""
    return hashlib.sha256(f"{customer_id}\0{caller_id}".encode()).hexdigest()


# What an export holds (``Backend.export_caller``): the columns of each table, the same on both
# backends. Embeddings (derived from the text) and verification digests (security material) are
# left out; the verifiers table names the factors on file.
EXPORT_COLUMNS: dict[str, tuple[str, ...]] = {
    "callers": ("caller_id", "created_at", "merged_into", "display_name", "version"),
    "identifiers": ("kind", "value", "caller_id", "first_caller_id", "source", "call_id", "created_at"),
    "calls": ("call_id", "caller_id", "first_caller_id", "started_at", "ended_at", "topic", "outcome", "episode"),
    "memories": ("call_id", "seq", "caller_id", "first_caller_id", "kind", "role", "text", "at", "tags", "enriched"),
    "matters": (
        "matter_id", "caller_id", "first_caller_id", "call_id", "text", "refs", "status", "created_at", "closed_at",
        "due_at", "closed_call_id",
    ),
    "facts": (
        "fact_id", "caller_id", "first_caller_id", "attribute", "value", "said_at", "valid_from", "valid_to",
        "happens_at", "call_id", "seq", "confidence",
    ),
    "edges": ("caller_id", "first_caller_id", "src", "rel", "dst", "call_id", "seq", "at"),
    "verifiers": ("caller_id", "factor", "created_at"),
    "links": (
        "link_id", "from_caller_id", "to_caller_id", "kind", "value", "call_id", "at", "undone_at", "verified_by",
    ),
}  # fmt: skip
EXPORT_ORDER: dict[str, str] = {
    "callers": "created_at",
    "identifiers": "created_at",
    "calls": "started_at",
    "memories": "at, seq",
    "matters": "created_at",
    "facts": "valid_from, seq",
    "edges": "at, seq",
    "verifiers": "factor",
    "links": "at",
}
_TIME_COLUMNS = frozenset(
    ("created_at", "started_at", "ended_at", "at", "closed_at", "due_at", "said_at", "valid_from", "valid_to",
     "happens_at", "undone_at")
)  # fmt: skip
_JSON_COLUMNS = frozenset(("episode", "refs"))


def export_row(columns: tuple[str, ...], values: tuple[object, ...]) -> dict[str, object]:
    """One stored row as plain JSON values: times (a datetime, or SQLite's epoch seconds) as ISO 8601
    text in UTC, JSON columns parsed, flags as booleans."""
    row: dict[str, object] = {}
    for column, value in zip(columns, values, strict=True):
        if value is not None and column in _TIME_COLUMNS:
            if isinstance(value, int | float):
                value = datetime.fromtimestamp(value, UTC)
            assert isinstance(value, datetime)
            value = value.astimezone(UTC).isoformat()
        elif isinstance(value, str) and column in _JSON_COLUMNS:
            value = json.loads(value)
        elif column == "enriched" and value is not None:
            value = bool(value)
        row[column] = value
    return row

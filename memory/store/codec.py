"""Shared helpers of the backends: vectors as bytes, migration files, URLs."""

from __future__ import annotations

import functools
import hashlib
import json
from datetime import datetime
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

"""Shared helpers of the backends: vectors as bytes, migration files, URLs."""

from __future__ import annotations

import hashlib
import json
from importlib import resources

import numpy as np

VECTOR_DTYPE = np.float16  # 384 dims -> 768 bytes a memory; cosine error < 1e-3


def encode_vector(vector: np.ndarray | None) -> bytes | None:
    if vector is None:
        return None
    return np.asarray(vector, dtype=VECTOR_DTYPE).tobytes()


def decode_vector(blob: bytes | None) -> np.ndarray | None:
    if blob is None:
        return None
    return np.frombuffer(blob, dtype=VECTOR_DTYPE).astype(np.float32)


def migrations(dialect: str) -> list[tuple[int, str, str]]:
    """(version, name, sql) of the packaged migrations of one dialect, in order."""
    folder = resources.files("memory.store") / "migrations" / dialect
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def dump_refs(refs: tuple[str, ...] | list[str]) -> str:
    return json.dumps(list(refs))


def load_refs(raw: str | list[str] | None) -> tuple[str, ...]:
    values = json.loads(raw) if isinstance(raw, str) else raw
    return tuple(str(r) for r in (values or []))


def caller_digest(customer_id: str, caller_id: str) -> str:
    """What a forgotten caller leaves behind: a digest of the id, so a late write of theirs can be
    recognised and dropped without the id itself being kept."""
    return hashlib.sha256(f"{customer_id}\0{caller_id}".encode()).hexdigest()

"""Prepared preloads: the next call's brief, kept in Redis (shared by workers) or in-process.

A prepared brief records the caller's data version it was built from, as read from the database
of record (``Backend.caller_version``, bumped in the same transaction as every write that changes
what the brief shows). It is served only while that version is the database's current one, so a
brief is never served stale: not when a write happened while the cache could not be reached (the
cache cannot miss an invalidation that correctness depends on), and not when data changed while the
brief was being built. ``invalidate`` only frees the space of a brief known to be out of date.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod

from ..errors import ConfigError

logger = logging.getLogger(__name__)

PRELOAD_TTL_S = 7 * 24 * 3600


class PreloadCache(ABC):
    @abstractmethod
    async def get(self, customer_id: str, caller_id: str) -> tuple[int, str] | None:
        """The prepared brief and the data version it was built from, if one is kept."""

    @abstractmethod
    async def put(self, customer_id: str, caller_id: str, text: str, version: int) -> None: ...

    @abstractmethod
    async def invalidate(self, customer_id: str, caller_id: str) -> None:
        """Drop the caller's prepared brief (out of date, or the caller was forgotten)."""

    async def ping(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


class LocalPreloadCache(PreloadCache):
    """In-process cache: the same contract as Redis, for one worker process."""

    def __init__(self) -> None:
        self.briefs: dict[tuple[str, str], tuple[int, str]] = {}

    async def get(self, customer_id, caller_id) -> tuple[int, str] | None:
        return self.briefs.get((customer_id, caller_id))

    async def put(self, customer_id, caller_id, text, version) -> None:
        self.briefs[(customer_id, caller_id)] = (version, text)

    async def invalidate(self, customer_id, caller_id) -> None:
        self.briefs.pop((customer_id, caller_id), None)


class RedisPreloadCache(PreloadCache):
    """Redis-backed cache shared by every worker; one key per caller, under ``prefix``."""

    def __init__(self, url: str, *, prefix: str = "callermem", timeout_s: float = 0.5) -> None:
        import redis.asyncio as redis

        try:
            self._redis = redis.Redis.from_url(
                url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, decode_responses=True
            )
        except ValueError as exc:  # the message can carry the URL's password: not repeated
            raise ConfigError("redis_url must be a redis://, rediss:// or unix:// URL with a numeric port") from exc
        self.prefix = prefix

    def key(self, customer_id: str, caller_id: str) -> str:
        return f"{self.prefix}:{{{customer_id}:{caller_id}}}:brief"  # one hash slot per caller

    async def ping(self) -> None:
        await self._redis.ping()

    async def get(self, customer_id, caller_id) -> tuple[int, str] | None:
        raw = await self._redis.get(self.key(customer_id, caller_id))
        if raw is None:
            return None
        entry = json.loads(raw)
        return int(entry["v"]), str(entry["text"])

    async def put(self, customer_id, caller_id, text, version) -> None:
        await self._redis.set(
            self.key(customer_id, caller_id), json.dumps({"v": version, "text": text}), ex=PRELOAD_TTL_S
        )

    async def invalidate(self, customer_id, caller_id) -> None:
        await self._redis.delete(self.key(customer_id, caller_id))

    async def aclose(self) -> None:
        await self._redis.aclose()

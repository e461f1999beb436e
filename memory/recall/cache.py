"""Prepared preloads: the next call's brief, kept in Redis (shared by workers) or in-process.

Each caller has a version counter. A write for the caller bumps it; a prepared brief records the
version it was built from and is served only while that version is current. A brief built from
data that changed while it was being built is therefore never served.
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
    async def version(self, customer_id: str, caller_id: str) -> int: ...

    @abstractmethod
    async def get(self, customer_id: str, caller_id: str) -> str | None:
        """The prepared brief if it is still current, else None."""

    @abstractmethod
    async def put(self, customer_id: str, caller_id: str, text: str, version: int) -> None: ...

    @abstractmethod
    async def invalidate(self, customer_id: str, caller_id: str) -> None: ...

    async def aclose(self) -> None:
        return None


class LocalPreloadCache(PreloadCache):
    """In-process cache: the same contract as Redis, for one worker process."""

    def __init__(self) -> None:
        self._versions: dict[tuple[str, str], int] = {}
        self._briefs: dict[tuple[str, str], tuple[int, str]] = {}

    async def version(self, customer_id, caller_id) -> int:
        return self._versions.get((customer_id, caller_id), 0)

    async def get(self, customer_id, caller_id) -> str | None:
        key = (customer_id, caller_id)
        entry = self._briefs.get(key)
        if entry is None or entry[0] != self._versions.get(key, 0):
            return None
        return entry[1]

    async def put(self, customer_id, caller_id, text, version) -> None:
        self._briefs[(customer_id, caller_id)] = (version, text)

    async def invalidate(self, customer_id, caller_id) -> None:
        key = (customer_id, caller_id)
        self._versions[key] = self._versions.get(key, 0) + 1
        self._briefs.pop(key, None)


class RedisPreloadCache(PreloadCache):
    """Redis-backed cache shared by every worker; keys live under ``prefix``."""

    def __init__(self, url: str, *, prefix: str = "callermem", timeout_s: float = 0.5) -> None:
        import redis.asyncio as redis

        try:
            self._redis = redis.Redis.from_url(
                url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, decode_responses=True
            )
        except ValueError as exc:  # the message can carry the URL's password: not repeated
            raise ConfigError("redis_url must be a redis://, rediss:// or unix:// URL with a numeric port") from exc
        self._prefix = prefix

    def _keys(self, customer_id: str, caller_id: str) -> tuple[str, str]:
        base = f"{self._prefix}:{{{customer_id}:{caller_id}}}"  # one hash slot per caller
        return f"{base}:ver", f"{base}:brief"

    async def ping(self) -> None:
        await self._redis.ping()

    async def version(self, customer_id, caller_id) -> int:
        ver_key, _ = self._keys(customer_id, caller_id)
        return int(await self._redis.get(ver_key) or 0)

    async def get(self, customer_id, caller_id) -> str | None:
        ver_key, brief_key = self._keys(customer_id, caller_id)
        version, raw = await self._redis.mget(ver_key, brief_key)
        if raw is None:
            return None
        entry = json.loads(raw)
        if entry.get("v") != int(version or 0):
            return None
        return entry.get("text")

    async def put(self, customer_id, caller_id, text, version) -> None:
        _, brief_key = self._keys(customer_id, caller_id)
        await self._redis.set(brief_key, json.dumps({"v": version, "text": text}), ex=PRELOAD_TTL_S)

    async def invalidate(self, customer_id, caller_id) -> None:
        ver_key, brief_key = self._keys(customer_id, caller_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(ver_key)
            pipe.expire(ver_key, PRELOAD_TTL_S * 2)
            pipe.delete(brief_key)
            await pipe.execute()

    async def aclose(self) -> None:
        await self._redis.aclose()

"""The store: one per worker process. It opens calls, forgets callers, and owns the shared parts
(the storage backend, the prepared-preload cache, the embedder and its thread)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import numpy as np

from .call.hooks import CallHooks
from .embed import Embedder, default_embedder
from .errors import ConfigError, InvalidInputError, StoreUnavailableError
from .policy import DEFAULT_POLICY, MemoryPolicy
from .recall.brief import render_brief
from .recall.cache import LocalPreloadCache, PreloadCache, RedisPreloadCache
from .store import Backend, open_backend
from .text.identifiers import Identifier, normalize_identifier, normalize_identifiers
from .values import CallerProfile, Link, MemoryRow, as_utc, utcnow, validate_tenant_id

logger = logging.getLogger(__name__)

QUERY_CACHE_SIZE = 1024


class CallerStore:
    """Per-caller memory for every tenant of one deployment. Create it with ``open_store``."""

    def __init__(
        self,
        backend: Backend,
        cache: PreloadCache,
        embedder: Embedder,
        *,
        policies: Mapping[str, MemoryPolicy] | None = None,
        default_policy: MemoryPolicy = DEFAULT_POLICY,
    ) -> None:
        self.backend = backend
        self.cache = cache
        self.embedder = embedder
        self.default_policy = default_policy
        self._policies: dict[str, MemoryPolicy] = dict(policies or {})
        self._embed_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="memory-embed")
        self._query_vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._closed = False

    # -- configuration ---------------------------------------------------------------------------

    def set_policy(self, customer_id: str, policy: MemoryPolicy) -> None:
        if not isinstance(policy, MemoryPolicy):
            raise InvalidInputError("policy must be a memory.MemoryPolicy")
        self._policies[customer_id] = policy

    def policy_for(self, customer_id: str) -> MemoryPolicy:
        return self._policies.get(customer_id, self.default_policy)

    # -- calls -------------------------------------------------------------------------------------

    async def open_call(
        self,
        customer_id: str,
        identifiers: Mapping[str, object] | None,
        *,
        call_id: str | None = None,
        started_at: datetime | None = None,
    ) -> CallHooks:
        """Memory for one call. Never raises for storage trouble (the hooks then work without history)."""
        if self._closed:
            raise InvalidInputError("the store is closed")
        customer_id, identifiers, call_id = validate_call_args(customer_id, identifiers, call_id)
        policy = self.policy_for(customer_id)
        normalised, rejected = normalize_identifiers(identifiers, region=policy.default_region)
        if rejected:
            logger.info("ignored unusable identifiers of kinds %s", sorted(set(rejected)))
        hooks = CallHooks(
            self,
            customer_id,
            normalised,
            call_id=call_id,
            started_at=as_utc(started_at, name="started_at"),
            policy=policy,
        )
        await hooks.open()
        return hooks

    # -- shared services of the hooks ------------------------------------------------------------------

    async def embed(self, texts: Sequence[str], *, cache_first: bool = False) -> np.ndarray:
        """Embed in the store's embedding thread (never on the event loop).

        With ``cache_first`` the first text is a query whose vector is kept in a small LRU cache.
        """
        texts = list(texts)
        cached = self._query_vectors.get(texts[0]) if cache_first and texts else None
        todo = texts[1:] if cached is not None else texts
        vectors = (
            await asyncio.get_running_loop().run_in_executor(self._embed_pool, self.embedder.embed, todo)
            if todo
            else np.zeros((0, self.embedder.dim), np.float32)
        )
        if cached is not None:
            self._query_vectors.move_to_end(texts[0])
            return np.vstack([cached[None, :], vectors])
        if cache_first and texts:
            self._query_vectors[texts[0]] = vectors[0]
            if len(self._query_vectors) > QUERY_CACHE_SIZE:
                self._query_vectors.popitem(last=False)
        return vectors

    async def invalidate(self, customer_id: str, caller_id: str) -> None:
        try:
            await self.cache.invalidate(customer_id, caller_id)
        except Exception as exc:
            logger.error("could not invalidate a prepared preload: %s", type(exc).__name__)

    async def cached_brief(self, customer_id: str, caller_id: str) -> str | None:
        try:
            return await self.cache.get(customer_id, caller_id)
        except Exception as exc:
            logger.warning("preload cache unavailable, reading the database: %s", type(exc).__name__)
            return None

    async def build_brief(self, customer_id: str, caller_id: str, policy: MemoryPolicy) -> str:
        profile = await self.backend.load_profile(customer_id, caller_id, recent_calls=policy.recent_calls)
        return render_brief(profile, token_budget=policy.preload_token_budget)

    async def prepare_brief(self, customer_id: str, caller_id: str, policy: MemoryPolicy) -> None:
        """Build the next call's brief now and keep it, tagged with the caller's data version."""
        try:
            version = await self.cache.version(customer_id, caller_id)
        except Exception as exc:
            logger.warning("preload cache unavailable, not preparing: %s", type(exc).__name__)
            return
        text = await self.build_brief(customer_id, caller_id, policy)
        try:
            await self.cache.put(customer_id, caller_id, text, version)
        except Exception as exc:
            logger.warning("could not keep the prepared preload: %s", type(exc).__name__)

    # -- callers -------------------------------------------------------------------------------------

    async def find_caller(self, customer_id: str, kind: str, value: object) -> str | None:
        """The caller who owns an identifier in this tenant, if any."""
        policy = self.policy_for(customer_id)
        ident = normalize_identifier(kind, value, region=policy.default_region)
        return await self.backend.find_caller_by(customer_id, ident)

    async def profile(self, customer_id: str, caller_id: str) -> CallerProfile:
        return await self.backend.load_profile(customer_id, caller_id, recent_calls=50)

    async def history(self, customer_id: str, caller_id: str, *, limit: int = 200) -> list[MemoryRow]:
        return await self.backend.load_memories(customer_id, caller_id, limit=limit)

    async def links(self, customer_id: str, caller_id: str) -> list[Link]:
        return await self.backend.links(customer_id, caller_id)

    async def undo_link(self, customer_id: str, link_id: str) -> bool:
        """Separate two callers joined by a link (each gets back what it first owned)."""
        pair = await self.backend.undo_link(customer_id, link_id, at=utcnow())
        if pair is None:
            return False
        for caller_id in pair:
            await self.invalidate(customer_id, caller_id)
        return True

    async def forget_caller(self, customer_id: str, caller_id: str) -> int:
        """Delete everything about a caller (and callers linked into it), prepared preload included."""
        customer_id = validate_tenant_id(customer_id)
        canonical = await self.backend.canonical_caller(customer_id, caller_id) or caller_id
        deleted = await self.backend.forget_caller(customer_id, canonical)
        await self.invalidate(customer_id, canonical)
        if canonical != caller_id:
            await self.invalidate(customer_id, caller_id)
        return deleted

    async def purge_expired(self, customer_id: str, *, now: datetime | None = None) -> int:
        """Apply the tenant's retention policy; returns rows deleted (0 when memories are kept)."""
        days = self.policy_for(customer_id).retention_days
        if days is None:
            return 0
        return await self.backend.purge_older_than(customer_id, as_utc(now, name="now") - timedelta(days=days))

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self.cache.aclose()
        finally:
            await self.backend.aclose()
            self._embed_pool.shutdown(wait=False)


def validate_call_args(customer_id: object, identifiers: object, call_id: object) -> tuple[str, Mapping, str]:
    customer_id = validate_tenant_id(customer_id)
    if identifiers is None:
        identifiers = {}
    if not isinstance(identifiers, Mapping):
        raise InvalidInputError("identifiers must be a mapping of kind -> value")
    if call_id is None:
        call_id = "call_" + uuid.uuid4().hex
    if not isinstance(call_id, str) or not call_id.strip() or len(call_id) > 200 or not call_id.isprintable():
        raise InvalidInputError("call_id must be a printable string of at most 200 characters")
    return customer_id, identifiers, call_id


async def open_store(
    url: str | None = None,
    *,
    redis_url: str | None = None,
    policies: Mapping[str, MemoryPolicy] | None = None,
    default_policy: MemoryPolicy = DEFAULT_POLICY,
    embedder: Embedder | None = None,
) -> CallerStore:
    """Open the memory store.

    ``url``: ``None`` for the embedded SQLite default, ``sqlite:///path.db`` or ``postgresql://...``.
    ``redis_url``: keep prepared preloads in Redis, shared by every worker (in-process without it).
    Raises ``StoreUnavailableError`` if the database cannot be reached, ``ConfigError`` for bad settings.
    """
    if redis_url is not None and not isinstance(redis_url, str):
        raise ConfigError("redis_url must be a redis:// URL string")
    backend = await open_backend(url)
    try:
        if redis_url:
            cache: PreloadCache = RedisPreloadCache(redis_url)
            try:
                await cache.ping()  # type: ignore[attr-defined]
            except Exception as exc:
                await cache.aclose()
                raise StoreUnavailableError(f"cannot reach Redis: {type(exc).__name__}") from exc
        else:
            cache = LocalPreloadCache()
            if backend.name == "postgres":
                logger.warning(
                    "prepared preloads are kept in this process only: with several workers on one Postgres, "
                    "set a Redis URL so that one worker's writes invalidate the briefs another prepared"
                )
        if embedder is None:
            embedder = await asyncio.to_thread(default_embedder)
    except BaseException:
        await backend.aclose()
        raise
    return CallerStore(backend, cache, embedder, policies=policies, default_policy=default_policy)


__all__ = ["CallerStore", "Identifier", "open_store"]

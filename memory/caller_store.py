"""The store: one per worker process. It opens calls, forgets callers, and owns what calls share
(the storage backend, the prepared-preload cache, the embedder and its thread, the host's spool)
and the work that runs beside them (replaying the spool, back-filling enrichment).

Neither the database nor Redis is needed for the store to open when ``wait_for_database`` is
false: it connects in the background, and calls opened meanwhile spool their turns and attach when
the database answers. Redis is optional at run time: a cache that does not answer within
``CACHE_BUDGET_S`` is skipped for ``CACHE_PAUSE_S`` (calls then have memory and no prepared brief).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

import numpy as np

from .call.enrich import backfill
from .call.hooks import CallHooks
from .call.replay import replay_call
from .call.verification import digest_answer
from .deadline import within
from .embed import AsyncEmbedder, Embedder, ThreadedEmbedder, as_async, default_embedder
from .errors import CallerMemoryError, ConfigError, InvalidInputError, StoreUnavailableError, describe
from .policy import DEFAULT_POLICY, MemoryPolicy
from .recall.brief import render_brief
from .recall.cache import LocalPreloadCache, PreloadCache, RedisPreloadCache
from .recall.episodes import EpisodeExtractor
from .store import Backend, connect_backend, make_backend
from .store import spool as spool_module
from .store.spool import DEFAULT_SPOOL_PATH, Spool
from .text.answers import canonical_answer
from .text.identifiers import Identifier, normalize_identifier, normalize_identifiers
from .text.reading import forget_readings
from .values import (
    AUDIT_ACTIONS,
    AuditEntry,
    CallerProfile,
    Episode,
    Link,
    MemoryRow,
    as_utc,
    utcnow,
    validate_tenant_id,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

QUERY_CACHE_SIZE = 1024
EXTRACTOR_TIMEOUT_S = 20.0  # a model refining an episode at close
CACHE_BUDGET_S = 0.25
"""A cache read or write may take this long; one that does not answer is skipped for ``CACHE_PAUSE_S``."""
CACHE_PAUSE_S = 5.0
TICK_S = 1.0
"""How soon the store's background work looks again at what it has to do now (a replay that failed or
found more, a forgotten caller's brief to delete). It sleeps until the next of these is due otherwise."""
BEAT_S = 2.0
BACKFILL_EVERY_S = 30.0
BACKFILL_AGE_S = 600.0
"""Rows of a call still open elsewhere are back-filled once the call started this long ago."""
REPLAY_TIMEOUT_S = 30.0
IDLE_MAX_S = 30.0
"""The longest the background work sleeps with nothing due (a wake-up ends it sooner)."""


class CallerStore:
    """Per-caller memory for every tenant of one deployment. Create it with ``open_store``."""

    def __init__(
        self,
        backend: Backend,
        cache: PreloadCache,
        embedder: Embedder | AsyncEmbedder,
        *,
        policies: Mapping[str, MemoryPolicy] | None = None,
        default_policy: MemoryPolicy = DEFAULT_POLICY,
        episode_extractor: EpisodeExtractor | None = None,
        spool: Spool | None = None,
        query_deadlines: Mapping[str, float] | None = None,
    ) -> None:
        self.backend = backend
        self.episode_extractor = episode_extractor
        self.cache = cache
        self.embedder = embedder
        self._embedder = as_async(embedder)  # an in-process model gets a thread of its own
        self.default_policy = default_policy
        self._spool = spool
        self._policies: dict[str, MemoryPolicy] = dict(policies or {})
        self._query_vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._query_deadlines: dict[str, float] = dict(query_deadlines or {})
        self._open_calls: weakref.WeakSet[CallHooks] = weakref.WeakSet()
        self._writing: set[str] = set()  # calls whose writer may still put turns in the spool (not closed yet)
        self._backfill_at: dict[str, float] = dict.fromkeys(self._policies, 0.0)  # tenant -> when next
        self._stale_briefs: set[tuple[str, str]] = set()  # briefs of forgotten callers still to delete
        self._cache_paused_until = 0.0
        self._connected = asyncio.Event()
        self._wake = asyncio.Event()
        self._replay_soon = True  # look in the spool at once: a process that died may have left calls
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False

    # -- configuration ---------------------------------------------------------------------------

    def set_policy(self, customer_id: str, policy: MemoryPolicy) -> None:
        if not isinstance(policy, MemoryPolicy):
            raise InvalidInputError("policy must be a memory.MemoryPolicy")
        self._policies[customer_id] = policy

    def policy_for(self, customer_id: str) -> MemoryPolicy:
        return self._policies.get(customer_id, self.default_policy)

    @property
    def spool(self) -> Spool | None:
        """The host's spool (``None`` when the store keeps none)."""
        return self._spool

    @property
    def connected(self) -> bool:
        """The database has been reached (always true for a store opened waiting for it)."""
        return self._connected.is_set()

    def start(self, *, connect: bool) -> None:
        """Start the background work (``connect``: connect to the database first, retrying)."""
        if connect:
            self._tasks.append(asyncio.create_task(self._connect(), name="memory-connect"))
        else:
            self._connected.set()
        self._tasks.append(asyncio.create_task(self._maintain(), name="memory-maintenance"))
        if self._spool is not None:
            self._tasks.append(asyncio.create_task(self._beat(), name="memory-spool-heartbeat"))

    # -- calls -------------------------------------------------------------------------------------

    async def open_call(
        self,
        customer_id: str,
        identifiers: Mapping[str, object] | None,
        *,
        call_id: str | None = None,
        started_at: datetime | None = None,
        budget_s: float | None = None,
    ) -> CallHooks:
        """Memory for one call. Never raises for storage trouble (the hooks then work without history,
        spool the call's turns and attach when the database answers). ``budget_s``: how long to try
        to resolve the caller now (the tenant's ``preload_timeout_s`` by default)."""
        if self._closed:
            raise InvalidInputError("the store is closed")
        customer_id, identifiers, call_id = validate_call_args(customer_id, identifiers, call_id)
        policy = self.policy_for(customer_id)
        normalised, rejected = normalize_identifiers(identifiers, region=policy.default_region)
        if rejected:
            logger.info("ignored unusable identifiers of kinds %s", sorted(set(rejected)))
        at = as_utc(started_at, name="started_at")
        hooks = CallHooks(self, customer_id, normalised, call_id=call_id, started_at=at, policy=policy)
        self._open_calls.add(hooks)
        self._writing.add(call_id)
        self._backfill_at.setdefault(customer_id, 0.0)
        budget = policy.preload_timeout_s if budget_s is None else budget_s
        started = time.monotonic()
        if not self._connected.is_set():  # a store still connecting: the call waits for it within its budget
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._connected.wait(), budget)
        await hooks.open(budget_s=max(0.01, budget - (time.monotonic() - started)))
        return hooks

    def call_closed(self, customer_id: str, call_id: str) -> None:
        """A call of this process closed: rows it could not enrich are back-filled soon, and what it
        left to the spool is replayed (its writer has stopped: what it left is the replayer's, marked closed or
        not)."""
        self._writing.discard(call_id)
        self._backfill_at[customer_id] = 0.0
        self._replay_soon = True
        self._wake.set()

    # -- shared services of the hooks ------------------------------------------------------------------

    async def embed(self, texts: Sequence[str], *, cache_first: bool = False, later: bool = False) -> np.ndarray:
        """Embed off the event loop (the store's embedding thread, or wherever the embedder runs).

        With ``cache_first`` the first text is a query whose vector is kept in a small LRU cache.
        ``later``: texts no one waits on now (a call's turns) go to the embedder's lane for them
        when it has one (``embed_later``: the host's embedder batches them behind the queries).
        """
        texts = list(texts)
        cached = self._query_vectors.get(texts[0]) if cache_first and texts else None
        todo = texts[1:] if cached is not None else texts
        embed = getattr(self._embedder, "embed_later", None) if later else None
        if not todo:
            vectors = np.zeros((0, self.embedder.dim), np.float32)
        else:
            if embed is not None:
                vectors = await embed(todo)
            elif cache_first and isinstance(self._embedder, ThreadedEmbedder):  # a query: its thread goes first
                vectors = await self._embedder.embed(todo, hand_over=True)
            else:
                vectors = await self._embedder.embed(todo)
        if cached is not None:
            self._query_vectors.move_to_end(texts[0])
            return np.vstack([cached[None, :], vectors])
        if cache_first and texts:
            self._query_vectors[texts[0]] = vectors[0]
            if len(self._query_vectors) > QUERY_CACHE_SIZE:
                self._query_vectors.popitem(last=False)
        return vectors

    def query_deadline(self, mode: str) -> float | None:
        """Seconds a recall of ``mode`` waits for its query's vector (``None``: no deadline)."""
        return self._query_deadlines.get(mode)

    async def _cached(self, work: Awaitable[T], default: T) -> T:
        """A cache operation within ``CACHE_BUDGET_S``; a cache that fails is skipped for a while."""
        if time.monotonic() < self._cache_paused_until:
            if asyncio.iscoroutine(work):
                work.close()
            return default
        try:
            return await within(work, CACHE_BUDGET_S)
        except Exception as exc:
            self._cache_paused_until = time.monotonic() + CACHE_PAUSE_S
            logger.warning(
                "the preload cache is not answering (%s); prepared briefs are off for %.0f s",
                describe(exc),
                CACHE_PAUSE_S,
            )
            return default

    async def invalidate(self, customer_id: str, caller_id: str) -> None:
        await self._cached(self.cache.invalidate(customer_id, caller_id), None)

    async def cached_brief(self, customer_id: str, caller_id: str) -> str | None:
        """The prepared brief, if it was built from the caller's data version now in the database."""
        try:
            entry, version = await asyncio.gather(
                self._cached(self.cache.get(customer_id, caller_id), None),
                self.backend.caller_version(customer_id, caller_id),
            )
        except Exception as exc:
            logger.warning("the caller's data version could not be read: %s", describe(exc))
            return None
        if entry is None or entry[0] != version:
            return None
        return entry[1]

    async def build_brief(self, customer_id: str, caller_id: str, policy: MemoryPolicy) -> str:
        profile = await self.backend.load_profile(customer_id, caller_id, recent_calls=policy.recent_calls)
        return render_brief(profile, token_budget=policy.preload_token_budget)

    async def refine_episode(self, episode: Episode, rows: Sequence[MemoryRow]) -> Episode:
        """``episode`` as the configured model extractor makes it (the one given when none is set,
        or when it fails or takes longer than ``EXTRACTOR_TIMEOUT_S``)."""
        if self.episode_extractor is None:
            return episode
        try:
            refined = await within(self.episode_extractor(episode, rows), EXTRACTOR_TIMEOUT_S)
        except Exception as exc:
            logger.warning("the episode extractor failed, keeping the built episode: %s", describe(exc))
            return episode
        if not isinstance(refined, Episode) or refined.call_id != episode.call_id:
            logger.warning("the episode extractor returned something else than this call's episode; ignored")
            return episode
        return refined

    async def prepare_brief(self, customer_id: str, caller_id: str, policy: MemoryPolicy) -> None:
        """Build the next call's brief now and keep it, tagged with the caller's data version (read first,
        so a write committed while the brief is built makes it not current)."""
        if time.monotonic() < self._cache_paused_until:
            return
        version = await self.backend.caller_version(customer_id, caller_id)
        text = await self.build_brief(customer_id, caller_id, policy)
        await self._cached(self.cache.put(customer_id, caller_id, text, version), None)

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

    async def export_caller(self, customer_id: str, caller_id: str) -> dict[str, object]:
        """Everything stored about a caller and the callers linked into it, as JSON values (a
        data-access request): the rows of every table, embeddings and verification digests left out."""
        customer_id = validate_tenant_id(customer_id)
        canonical = await self.backend.canonical_caller(customer_id, caller_id) or caller_id
        tables = await self.backend.export_caller(customer_id, canonical)
        return {
            "format": "caller-memory-export/1",
            "tenant": customer_id,
            "caller_id": canonical,
            "exported_at": utcnow().isoformat(),
            "tables": tables,
        }

    async def record_audit(
        self, customer_id: str, *, staff: str, action: str, caller_ref: str = "", detail: str = ""
    ) -> AuditEntry:
        """Append a staff action to the tenant's audit log (``detail``: never personal data)."""
        customer_id = validate_tenant_id(customer_id)
        if action not in AUDIT_ACTIONS:
            raise InvalidInputError(f"unknown audit action; known: {list(AUDIT_ACTIONS)}")
        entry = AuditEntry("audit_" + uuid.uuid4().hex, utcnow(), staff, action, caller_ref, detail)
        await self.backend.record_audit(customer_id, entry)
        return entry

    async def audit_log(self, customer_id: str, *, caller_ref: str | None = None, limit: int = 200) -> list[AuditEntry]:
        """The tenant's audit log, newest first."""
        return await self.backend.load_audit(validate_tenant_id(customer_id), caller_ref=caller_ref, limit=limit)

    async def set_verification(
        self,
        customer_id: str,
        caller_id: str,
        *,
        name: str | None = None,
        postcode: str | None = None,
        pin: str | None = None,
        date_of_birth: str | None = None,
    ) -> None:
        """What the tenant has on file to verify a caller by, when an identifier said aloud matches them:
        the name as recorded, and salted digests of a postcode, PIN or date of birth (the values are
        never stored). ``InvalidInputError`` names an answer that cannot be used."""
        customer_id = validate_tenant_id(customer_id)
        region = self.policy_for(customer_id).default_region
        given = {"name": name, "postcode": postcode, "pin": pin, "date_of_birth": date_of_birth}
        canonical: dict[str, str] = {}
        for factor, value in given.items():
            if value is None:
                continue
            form = canonical_answer(factor, value, region=region)
            if form is None:
                raise InvalidInputError(f"{factor}: not a usable {factor.replace('_', ' ')}")
            canonical[factor] = form
        if name is not None:
            await self.backend.set_display_name(customer_id, caller_id, " ".join(name.split()))
        digests = {f: await asyncio.to_thread(digest_answer, v) for f, v in canonical.items() if f != "name"}
        if digests:
            await self.backend.set_verifiers(customer_id, caller_id, digests, at=utcnow())

    async def forget_caller(self, customer_id: str, caller_id: str) -> int:
        """Delete everything about a caller (and callers linked into it): rows and vectors, the prepared
        brief, this host's spool, this process's caches; open calls of the caller stop recalling and
        writing. Returns database rows deleted."""
        customer_id = validate_tenant_id(customer_id)
        canonical = await self.backend.canonical_caller(customer_id, caller_id) or caller_id
        family = set(await self.backend.caller_family(customer_id, canonical)) | {caller_id, canonical}
        stopped = [
            h
            for h in list(self._open_calls)
            if h.customer_id == customer_id and ({h.caller_id, h.first_caller_id} & family)
        ]
        for hooks in stopped:
            await hooks.forget()
        deleted = await self.backend.forget_caller(customer_id, canonical)
        if self._spool is not None:
            await self._spool.forget(customer_id, caller_ids=sorted(family), call_ids=[h.call_id for h in stopped])
        for member in family:
            self._stale_briefs.add((customer_id, member))
        await self._delete_stale_briefs()
        self._query_vectors.clear()  # queries hold callers' words; the cache is only a speed-up
        forget_readings()
        return deleted

    async def _delete_stale_briefs(self) -> None:
        for key in sorted(self._stale_briefs):
            try:
                await within(self.cache.invalidate(*key), CACHE_BUDGET_S)
            except Exception as exc:
                logger.warning("a forgotten caller's brief is deleted once the cache answers: %s", describe(exc))
                self._wake.set()
                return
            self._stale_briefs.discard(key)

    async def purge_expired(self, customer_id: str, *, now: datetime | None = None) -> int:
        """Apply the tenant's retention policy; returns rows deleted (0 when memories are kept)."""
        days = self.policy_for(customer_id).retention_days
        if days is None:
            return 0
        return await self.backend.purge_older_than(customer_id, as_utc(now, name="now") - timedelta(days=days))

    # -- background work -----------------------------------------------------------------------------

    async def _connect(self) -> None:
        pause = 0.5
        while not self._closed:
            try:
                await connect_backend(self.backend)
            except (CallerMemoryError, OSError) as exc:  # a schema migrated later, a server back up
                logger.warning("the memory database cannot be used yet (%s); retrying", describe(exc))
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)
                continue
            logger.info("the memory database is connected")
            self._connected.set()
            self._wake.set()
            return

    async def _beat(self) -> None:
        """The spool's heartbeat, every ``BEAT_S``, on its own: a replay or a back-fill that takes a while
        (a busy host) must not hold it up, or the host's other processes take this one's live calls for
        a dead process's and replay them."""
        assert self._spool is not None
        while not self._closed:
            await self._quietly("spool heartbeat", self._spool.beat())
            await asyncio.sleep(BEAT_S)

    async def _maintain(self) -> None:
        """The store's background work: the spool's replay (at once when a call of this process closed,
        again within ``TICK_S`` while a replay fails or finds more, else every half ``LEASE_S`` for the
        calls of a process that died), the back-fill and forgotten callers' briefs. Between these it
        sleeps (a host's warm job processes each run this loop)."""
        next_claim = 0.0
        while not self._closed:
            wait = self._next_due(next_claim) - time.monotonic()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    # not wait_for: on Python 3.11 it drops a cancel that comes as the wake-up does (a call's
                    # close wakes this loop, then the store closes), and the loop went on for a back-fill
                    async with asyncio.timeout(wait):
                        await self._wake.wait()
            self._wake.clear()
            if self._closed:
                return
            now = time.monotonic()
            if not self._connected.is_set():
                continue
            if self._stale_briefs and now >= self._cache_paused_until:
                await self._delete_stale_briefs()
            if self._spool is not None and (self._replay_soon or now >= next_claim):
                self._replay_soon = False
                await self._quietly("spool replay", self.replay_spool())
                next_claim = now + (TICK_S if self._replay_soon else spool_module.LEASE_S / 2)
                self._replay_soon = False
            for tenant, due in list(self._backfill_at.items()):
                if now >= due:
                    await self._quietly("back-fill", self._backfill(tenant))

    def _next_due(self, next_claim: float) -> float:
        """When the background work next has something to do (a wake-up comes earlier)."""
        now = time.monotonic()
        dues = [now + IDLE_MAX_S]
        if self._connected.is_set():
            if self._spool is not None:
                dues.append(now if self._replay_soon else next_claim)
            if self._stale_briefs:
                dues.append(max(self._cache_paused_until, now + TICK_S))
            dues.extend(self._backfill_at.values())
        return min(dues)

    async def _quietly(self, what: str, work: Awaitable[object]) -> None:
        try:
            await within(work, REPLAY_TIMEOUT_S)
        except Exception as exc:
            logger.warning("%s failed, will retry: %s", what, describe(exc))

    async def replay_spool(self) -> int:
        """Store the spooled calls this process may replay now (closed ones, and those of processes
        gone), oldest first; returns calls replayed. Stops at the first the database does not take."""
        if self._spool is None:
            return 0
        done = 0
        try:
            self._writing &= {h.call_id for h in list(self._open_calls)}  # a call never closed is gone with its hooks
            live = list(self._writing)
            claimed = await self._spool.claim(live=live)
        except BaseException:
            self._replay_soon = True  # look again within a tick
            raise
        for call in claimed:
            try:
                kept = await within(replay_call(self, call, self.policy_for(call.customer_id)), REPLAY_TIMEOUT_S)
            except Exception as exc:
                logger.warning("spooled turns not replayed yet: %s", describe(exc))
                self._replay_soon = True  # tried again within a tick
                break
            await self._spool.replayed(call.customer_id, call.call_id, [r.seq for r in call.rows])
            self._replay_soon = True  # there may be more than one claim's worth
            if kept:
                logger.info("replayed %d spooled turns of a call", len(call.rows))
                self._backfill_at[call.customer_id] = 0.0
            done += 1
        return done

    async def _backfill(self, tenant: str) -> None:
        self._backfill_at[tenant] = time.monotonic() + BACKFILL_EVERY_S
        open_calls = {h.call_id for h in list(self._open_calls) if not h.closed}
        before = utcnow() - timedelta(seconds=BACKFILL_AGE_S)
        done = await backfill(self, tenant, self.policy_for(tenant), before=before, skip_calls=open_calls)
        if done:
            logger.info("back-filled the enrichment of %d stored turns", done)
            self._backfill_at[tenant] = 0.0  # there may be more

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        try:
            if self._spool is not None:
                with contextlib.suppress(Exception):
                    await within(self._spool.aclose(), 2.0)
            await self.cache.aclose()
        finally:
            await self.backend.aclose()
            if isinstance(self._embedder, ThreadedEmbedder) and self._embedder is not self.embedder:
                self._embedder.close()  # the thread this store made


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


def _spool_path(backend: Backend, spool_path: str | os.PathLike[str] | bool | None) -> Path | None:
    if spool_path is None or spool_path is False:
        return None
    if spool_path is True:
        path = getattr(backend, "path", None)
        if isinstance(path, Path):  # an embedded database: its spool beside it
            return path.with_name(path.stem + ".spool.db")
        return DEFAULT_SPOOL_PATH
    if isinstance(spool_path, str | os.PathLike):
        return Path(spool_path)
    raise ConfigError("spool_path must be a file path, True (the default place) or None (no spool)")


async def open_store(
    url: str | None = None,
    *,
    redis_url: str | None = None,
    policies: Mapping[str, MemoryPolicy] | None = None,
    default_policy: MemoryPolicy = DEFAULT_POLICY,
    embedder: Embedder | AsyncEmbedder | None = None,
    episode_extractor: EpisodeExtractor | None = None,
    spool_path: str | os.PathLike[str] | bool | None = True,
    wait_for_database: bool = True,
    on_stage: Callable[[str], None] | None = None,
    query_deadlines: Mapping[str, float] | None = None,
) -> CallerStore:
    """Open the memory store.

    ``url``: ``None`` for the embedded SQLite default, ``sqlite:///path.db`` or ``postgresql://...``.
    ``redis_url``: keep prepared preloads in Redis, shared by every worker (in-process without it);
    Redis that does not answer is skipped (a warning), never an error.
    ``spool_path``: the host's spool file, where turns the database cannot take wait (``True``: beside
    an embedded database, else ``.data/memory-spool.db``; ``None``: no spool).
    ``wait_for_database``: connect now and raise ``StoreUnavailableError`` if the database cannot be
    reached (``SchemaError``, a subclass, when a database server's schema is missing or older than
    this code: opening never migrates a server, :func:`memory.migrate` does; an embedded SQLite file
    is migrated when it is opened); ``False`` returns at once and connects to a database server in
    the background (calls attach when it answers). An embedded SQLite file is always opened at once (its failures are
    local and lasting: a path that cannot be created, no permission).
    ``episode_extractor``: an optional model that refines each call's episode at close (off by default:
    episodes are built from the turns, deterministically; see :mod:`memory.recall.episodes`).
    ``embedder``: the model in this process by default (:func:`~memory.embed.default_embedder`, loaded
    here); an :class:`~memory.embed.AsyncEmbedder` asks one elsewhere (a worker host's shared model).
    ``query_deadlines``: seconds a recall waits for its query's vector, by mode (``{"fast": 0.008}``);
    past it the recall ranks by words (the worker sets them for the host's shared embedder: see
    ``MEMORY_QUERY_DEADLINE``); none by default.
    ``on_stage``: told what the open waits on next (``"the database"``, ``"the spool file"``,
    ``"the embedding model"``, ``"Redis"``), so a caller that gives up can say where it stuck.
    Raises ``ConfigError`` for bad settings.
    """
    stage = on_stage or (lambda _: None)
    if redis_url is not None and not isinstance(redis_url, str):
        raise ConfigError("redis_url must be a redis:// URL string")
    backend = make_backend(url)
    path = _spool_path(backend, spool_path)
    if redis_url:
        cache: PreloadCache = RedisPreloadCache(redis_url)
    else:
        cache = LocalPreloadCache()
        if backend.name == "postgres":
            logger.warning(
                "prepared preloads are kept in this process only: with several workers on one Postgres, "
                "set a Redis URL so that prepared briefs are shared"
            )
    spool: Spool | None = None
    background = not wait_for_database and backend.name != "sqlite"
    try:
        if not background:
            stage("the database")
            await connect_backend(backend)
        if path is not None:
            stage("the spool file")
            try:
                spool = await Spool(path, database=backend.location).open()
            except StoreUnavailableError as exc:
                logger.error("no spool (%s): turns the database cannot take are handed back at close", exc)
        if embedder is None:
            stage("the embedding model")
            embedder = await asyncio.to_thread(default_embedder)
    except BaseException:
        await cache.aclose()
        if spool is not None:
            await spool.aclose()
        await backend.aclose()
        raise
    store = CallerStore(
        backend,
        cache,
        embedder,
        policies=policies,
        default_policy=default_policy,
        spool=spool,
        episode_extractor=episode_extractor,
        query_deadlines=query_deadlines,
    )
    if redis_url:
        stage("Redis")
        await store._cached(cache.ping(), None)
    store.start(connect=background)
    return store


__all__ = ["CallerStore", "Identifier", "open_store"]

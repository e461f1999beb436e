"""What a worker process holds for its calls: settings from the environment, tenants, the memory
store (opened lazily on the job's event loop), the model-provider factory and the prewarmed VAD;
and what the worker's main process checks of memory before it takes calls (:func:`check_memory`)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import memory
from memory import CallerMemoryError, ConfigError, MemoryPolicy, StoreUnavailableError
from memory.deadline import within
from memory.embed import AsyncEmbedder, Embedder
from memory.errors import describe
from memory.store import connect_backend, make_backend, with_pool_size
from memory.values import utcnow
from worker.providers import ProviderFactory, load_factory
from worker.tenants import Tenants, load_tenants

__all__ = [
    "RetentionSchedule",
    "StoreHolder",
    "WorkerDeps",
    "WorkerSettings",
    "build_deps",
    "check_memory",
]

logger = logging.getLogger("worker")

DEFAULT_AGENT_NAME = "memory-agent"
QUERY_DEADLINES_MS = {"fast": 8.0, "accurate": 20.0}
"""How long a call's recall waits for its query's vector from the host's embedder before it ranks by
words (``MEMORY_QUERY_DEADLINE``: ``fast,accurate`` in ms, or ``off``)."""
JOB_POOL_SIZE = 1
"""Postgres connections of a job process's store (it serves one call: its writes and reads take
turns on one connection); ``MEMORY_POOL_SIZE`` or the URL's ``pool_size`` says otherwise."""
Opener = Callable[..., Coroutine[Any, Any, memory.CallerStore]]


def _float(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number of seconds, not {raw!r}") from exc
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}")
    return value


def _port(env: Mapping[str, str], name: str) -> int | None:
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise ConfigError(f"{name} must be a TCP port (1-65535), not {raw!r}")
    return int(raw)


def _count(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high}, not {raw!r}")
    return int(raw)


def _deadlines(env: Mapping[str, str], name: str) -> tuple[tuple[str, float], ...]:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return tuple(QUERY_DEADLINES_MS.items())
    if raw in ("off", "0"):
        return ()
    parts = [p.strip() for p in raw.split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or not all(0 < v <= 5000 for v in values):
        raise ConfigError(
            f"{name} must be 'fast,accurate' in milliseconds (e.g. 8,20), one number, or off; not {raw!r}"
        )
    fast, accurate = values[0], values[-1]
    return (("fast", fast), ("accurate", accurate))


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (the first when unset)."""
    raw = (env.get(name) or choices[0]).strip().lower()
    if raw not in choices:
        raise ConfigError(f"{name} must be {' or '.join(choices)}, not {raw!r}")
    return raw


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = (env.get(name) or "1").strip().lower()
    if raw not in ("1", "0", "true", "false", "yes", "no"):
        raise ConfigError(f"{name} must be 1 or 0")
    return raw in ("1", "true", "yes")


@dataclass(frozen=True)
class WorkerSettings:
    """The worker's settings, read from the environment at run time (never at import)."""

    agent_name: str = DEFAULT_AGENT_NAME
    tenants_file: Path = Path("tenants.yaml")
    database_url: str | None = None
    redis_url: str | None = None
    model_providers: str | None = None
    memory_enabled: bool = True
    migrate_at_start: bool = True
    store_open_timeout_s: float = 5.0
    purge_every_s: float = 3600.0  # 0: the main process runs no retention purge
    spool_path: Path | None = None  # None: the memory layer's default place (see memory.open_store)
    metrics_port: int | None = None  # LiveKit's Prometheus endpoint (/metrics); None: not served
    metrics_dir: Path | None = None  # prometheus_client's multi-process directory; None: a new temporary one
    embedder_in: str = "host"  # "host": one model in LiveKit's inference process; "process": one per job process
    pool_size: int = JOB_POOL_SIZE  # Postgres connections of a job process's store (the URL's pool_size wins)
    open_before_call: bool = True  # a job process opens its store while idle, before its call arrives
    turn_lane: bool = True  # the host's embedder batches turns in a lane of their own, behind the queries
    embed_direct: bool = True  # a job asks the inference process directly (Unix socket), not via the main one
    query_deadlines_ms: tuple[tuple[str, float], ...] = tuple(QUERY_DEADLINES_MS.items())  # () : none

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, base_dir: Path | None = None) -> WorkerSettings:
        """Settings from ``env`` (default ``os.environ``); a relative ``TENANTS_FILE`` is taken from ``base_dir``."""
        env = os.environ if env is None else env
        tenants_file = Path(env.get("TENANTS_FILE") or "tenants.yaml")
        if not tenants_file.is_absolute() and base_dir is not None:
            tenants_file = base_dir / tenants_file
        enabled, migrate = _flag(env, "MEMORY_ENABLED"), _flag(env, "MEMORY_MIGRATE")
        return cls(
            agent_name=env.get("LIVEKIT_AGENT_NAME") or DEFAULT_AGENT_NAME,
            tenants_file=tenants_file,
            database_url=env.get("MEMORY_DATABASE_URL") or None,
            redis_url=env.get("MEMORY_REDIS_URL") or None,
            model_providers=env.get("MODEL_PROVIDERS") or None,
            memory_enabled=enabled,
            migrate_at_start=migrate,
            store_open_timeout_s=_float(env, "MEMORY_OPEN_TIMEOUT_S", 5.0, 0.1, 60.0),
            purge_every_s=_float(env, "MEMORY_PURGE_EVERY_S", 3600.0, 0.0, 7 * 86400.0),
            spool_path=Path(env["MEMORY_SPOOL_PATH"]) if env.get("MEMORY_SPOOL_PATH") else None,
            metrics_port=_port(env, "METRICS_PORT"),
            metrics_dir=Path(env["PROMETHEUS_MULTIPROC_DIR"]) if env.get("PROMETHEUS_MULTIPROC_DIR") else None,
            embedder_in=_choice(env, "MEMORY_EMBEDDER", ("host", "process")),
            pool_size=_count(env, "MEMORY_POOL_SIZE", JOB_POOL_SIZE, 1, 100),
            open_before_call=_flag(env, "MEMORY_OPEN_BEFORE_CALL"),
            query_deadlines_ms=_deadlines(env, "MEMORY_QUERY_DEADLINE"),
            turn_lane=_flag(env, "MEMORY_TURN_LANE"),
            embed_direct=_flag(env, "MEMORY_EMBED_DIRECT"),
        )


class StoreHolder:
    """The memory store of a process, opened lazily on the event loop of the job that needs it.

    ``start()`` begins opening without waiting (the worker overlaps it with the room
    connection); ``get()`` waits up to the timeout and returns ``None`` when the store cannot
    be opened, so the call goes on without memory; a failed open is retried by the next call.
    The store does not wait for a database server (it connects in the background: calls opened
    meanwhile spool their turns and attach when it answers), and Redis is optional.
    Connections belong to an event loop, so each loop (one per job with the thread executor)
    gets its own store, and ``aclose()`` closes the current loop's.
    """

    def __init__(
        self,
        *,
        url: str | None,
        redis_url: str | None,
        policies: Mapping[str, MemoryPolicy],
        timeout_s: float = 5.0,
        opener: Opener = memory.open_store,
        spool_path: Path | None = None,
        query_deadlines_s: Mapping[str, float] | None = None,
    ) -> None:
        self._url = url
        self._redis_url = redis_url
        self._spool_path: Path | bool = spool_path if spool_path is not None else True
        self._policies = dict(policies)
        self._timeout_s = timeout_s
        self._opener = opener
        self._query_deadlines = dict(query_deadlines_s or {})
        self._tasks: dict[asyncio.AbstractEventLoop, asyncio.Task[memory.CallerStore]] = {}
        self._stages: dict[asyncio.AbstractEventLoop, str] = {}
        self._closers: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}
        self.opened_ms: float | None = None  # how long the last open took

    def start(self) -> asyncio.Task[memory.CallerStore]:
        """Begin opening this loop's store (once); the task that opens it."""
        loop = asyncio.get_running_loop()
        task = self._tasks.get(loop)
        if task is None:
            task = self._tasks[loop] = loop.create_task(self._open(loop), name="memory-open-store")
        return task

    async def _open(self, loop: asyncio.AbstractEventLoop) -> memory.CallerStore:
        started = time.perf_counter()

        def on_stage(stage: str) -> None:
            self._stages[loop] = stage

        on_stage("the store's settings")
        try:
            store = await self._opener(
                self._url,
                redis_url=self._redis_url,
                policies=self._policies,
                spool_path=self._spool_path,
                wait_for_database=False,
                on_stage=on_stage,
                **({"query_deadlines": self._query_deadlines} if self._query_deadlines else {}),
            )
        finally:
            self._stages.pop(loop, None)
        self.opened_ms = (time.perf_counter() - started) * 1000
        logger.debug("memory store opened in %.0f ms", self.opened_ms)
        return store

    def waiting_on(self) -> str | None:
        """What this loop's store is opening now (``None``: not opening)."""
        with contextlib.suppress(RuntimeError):
            return self._stages.get(asyncio.get_running_loop())
        return None

    @property
    def ready(self) -> bool:
        """Whether this loop's store is open (a call would get it without waiting)."""
        with contextlib.suppress(RuntimeError):
            task = self._tasks.get(asyncio.get_running_loop())
            return task is not None and task.done() and not task.cancelled() and task.exception() is None
        return False

    async def get(self, *, timeout_s: float | None = None) -> memory.CallerStore | None:
        """The store, waiting at most ``timeout_s`` (the holder's timeout by default)."""
        task = self.start()
        if task.done() and not task.cancelled() and task.exception() is None:
            return task.result()  # opened before the call: no trip through a busy event loop
        wait = self._timeout_s if timeout_s is None else min(timeout_s, self._timeout_s)
        try:
            return await asyncio.wait_for(asyncio.shield(task), wait)
        except TimeoutError:
            logger.error(
                "the memory store did not open within %.1f s (waiting on %s); this call runs without memory",
                wait,
                self.waiting_on() or "nothing: it had just opened",
            )
        except Exception as exc:
            logger.error("the memory store is unavailable (%s); this call runs without memory", describe(exc))
            if self._tasks.get(asyncio.get_running_loop()) is task:
                del self._tasks[asyncio.get_running_loop()]  # try again on the next call
        return None

    def close_at_exit(self) -> None:
        """Close this loop's store when LiveKit shuts the process down, with or without a call (it
        cancels the loop's tasks then; an open spool connection's thread would keep the process
        from exiting). For a store opened before any job."""
        loop = asyncio.get_running_loop()
        if loop not in self._closers:  # held here: the loop keeps only a weak reference to a task
            self._closers[loop] = loop.create_task(self._close_when_cancelled(), name="memory-store-closer")

    async def _close_when_cancelled(self) -> None:
        try:
            await asyncio.get_running_loop().create_future()
        except asyncio.CancelledError:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        """Close the store of the running loop (if one was opened)."""
        task = self._tasks.pop(asyncio.get_running_loop(), None)
        if task is None:
            return
        if not task.done():
            task.cancel()
        try:
            store = await task
        except (Exception, asyncio.CancelledError):  # a store that never opened has nothing to close
            return
        await store.aclose()


async def check_memory(settings: WorkerSettings) -> str:
    """What the worker's main process checks before it takes calls: the store URL parses, the
    database answers (migrated first, unless ``MEMORY_MIGRATE=0``), its schema is at this code's
    version, and Redis answers if one is set. Returns a line for the log; raises the named error
    (``ConfigError``, ``StoreUnavailableError``, ``SchemaError``) with one line that says which
    setting is wrong and why (no credentials). Each step waits at most the store's open timeout."""
    if not settings.memory_enabled:
        return "memory is off (MEMORY_ENABLED=0)"
    url, wait = settings.database_url, settings.store_open_timeout_s
    applied: list[int] = []
    try:
        backend = make_backend(url)
        if settings.migrate_at_start:
            applied = await _migrate(url, wait)
        try:
            await within(connect_backend(backend), wait)
        finally:
            await backend.aclose()
    except TimeoutError:
        raise StoreUnavailableError(
            f"MEMORY_DATABASE_URL: the database did not answer within {wait:.1f} s (MEMORY_OPEN_TIMEOUT_S)"
        ) from None
    except CallerMemoryError as exc:
        raise type(exc)(f"MEMORY_DATABASE_URL: {exc}") from exc
    summary = f"memory store {backend.location}: schema current" + (
        f" (applied migrations {', '.join(f'{v:03d}' for v in applied)})" if applied else ""
    )
    if settings.redis_url:
        import redis.asyncio as redis

        try:
            client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=wait, socket_timeout=wait)
        except ValueError:  # the message can carry the URL's password: not repeated
            raise ConfigError(
                "MEMORY_REDIS_URL must be a redis://, rediss:// or unix:// URL with a numeric port"
            ) from None
        try:
            await within(client.ping(), wait)
        except Exception as exc:
            raise StoreUnavailableError(f"MEMORY_REDIS_URL: Redis does not answer ({describe(exc)})") from exc
        finally:
            await client.aclose()
        summary += "; Redis answers"
    return summary


async def _migrate(url: str | None, wait: float) -> list[int]:
    try:
        return await within(memory.migrate(url), wait)
    except (CallerMemoryError, TimeoutError):
        raise
    except Exception as exc:  # the driver's: a role that may not create (or another database error)
        if getattr(exc, "sqlstate", None) == "42501":
            raise ConfigError(
                f"the role may not migrate ({describe(exc)}): run `python -m memory migrate` as the schema's "
                "owner and set MEMORY_MIGRATE=0 for a worker that connects as the runtime role"
            ) from exc
        raise StoreUnavailableError(f"the migration failed ({describe(exc)})") from exc


FIRST_PURGE_AFTER_S = 60.0
"""The main process's first retention run waits this long after the server starts."""


class RetentionSchedule:
    """Retention in the worker's main process: every ``every_s`` seconds, each tenant's memories
    older than its ``retention_days`` are deleted (in batches, found by the age indexes), with a
    connection opened for the run and closed after it. Job processes never purge.

    A failed run is logged (why, and for which tenant) and tried again at the next one.
    """

    def __init__(
        self,
        url: str | None,
        policies: Mapping[str, MemoryPolicy],
        *,
        every_s: float,
        first_after_s: float | None = None,
    ) -> None:
        self._url = url
        self._days = {t: p.retention_days for t, p in sorted(policies.items()) if p.retention_days}
        self.every_s = every_s
        self.first_after_s = FIRST_PURGE_AFTER_S if first_after_s is None else first_after_s
        self._task: asyncio.Task[None] | None = None

    @property
    def tenants(self) -> list[str]:
        """The tenants with a retention period (the others keep everything)."""
        return list(self._days)

    def start(self) -> None:
        """Run on the current event loop until :meth:`aclose` (the first run after ``first_after_s``:
        not while the job processes start and open their stores)."""
        if self._task is None and self._days and self.every_s > 0:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="memory-retention")

    async def _run(self) -> None:
        await asyncio.sleep(self.first_after_s)
        while True:
            await self.run_once()
            await asyncio.sleep(self.every_s)

    async def run_once(self, *, now: datetime | None = None) -> dict[str, int]:
        """One purge of every tenant with a retention period; returns rows deleted per tenant."""
        now = now or utcnow()
        deleted: dict[str, int] = {}
        backend = make_backend(self._url)
        try:
            await connect_backend(backend)
        except Exception as exc:
            logger.warning("retention purge skipped, the memory database is not usable: %s", describe(exc))
            with contextlib.suppress(Exception):
                await backend.aclose()
            return deleted
        try:
            for tenant, days in self._days.items():
                started = time.perf_counter()
                try:
                    deleted[tenant] = await backend.purge_older_than(tenant, now - timedelta(days=days))
                except Exception as exc:
                    logger.warning("retention purge of tenant %s failed, retried next run: %s", tenant, describe(exc))
                    continue
                logger.info(
                    "retention: tenant %s, %d rows older than %d days deleted in %.0f ms",
                    tenant,
                    deleted[tenant],
                    days,
                    (time.perf_counter() - started) * 1000,
                )
        finally:
            await backend.aclose()
        return deleted

    async def aclose(self) -> None:
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@dataclass
class WorkerDeps:
    """Everything a call of this process needs, built once per process."""

    settings: WorkerSettings
    tenants: Tenants
    providers: ProviderFactory
    store: StoreHolder | None
    vad: Any = None
    embedder: Embedder | AsyncEmbedder | None = None


def build_deps(
    settings: WorkerSettings,
    *,
    vad: Any = None,
    providers: ProviderFactory | None = None,
    opener: Opener = memory.open_store,
    embedder: Embedder | AsyncEmbedder | None = None,
) -> WorkerDeps:
    """Load and validate the tenants, resolve the provider factory, prepare the store.

    ``embedder``: what the store embeds with (the worker passes the host's shared model, or with
    ``MEMORY_EMBEDDER=process`` a model of this process); by default the store loads the model into
    this process when it opens.
    """
    tenants = load_tenants(settings.tenants_file)
    store = None
    if embedder is not None:
        opener = functools.partial(opener, embedder=embedder)
    if settings.memory_enabled:
        store = StoreHolder(
            url=with_pool_size(settings.database_url, settings.pool_size),
            redis_url=settings.redis_url,
            policies={tenant.id: tenant.memory for tenant in tenants.tenants.values()},
            timeout_s=settings.store_open_timeout_s,
            opener=opener,
            spool_path=settings.spool_path,
            query_deadlines_s={mode: ms / 1000 for mode, ms in settings.query_deadlines_ms},
        )
    return WorkerDeps(
        settings=settings,
        tenants=tenants,
        providers=providers or load_factory(settings.model_providers),
        store=store,
        vad=vad,
        embedder=embedder,
    )

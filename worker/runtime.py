"""What a worker process holds for its calls: settings from the environment, tenants, the memory
store (opened lazily on the job's event loop), the model-provider factory and the prewarmed VAD."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import memory
from memory import ConfigError, MemoryPolicy
from memory.embed import AsyncEmbedder
from worker.providers import ProviderFactory, load_factory
from worker.tenants import Tenants, load_tenants

__all__ = ["StoreHolder", "WorkerDeps", "WorkerSettings", "build_deps"]

logger = logging.getLogger("worker")

DEFAULT_AGENT_NAME = "memory-agent"
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


@dataclass(frozen=True)
class WorkerSettings:
    """The worker's settings, read from the environment at run time (never at import)."""

    agent_name: str = DEFAULT_AGENT_NAME
    tenants_file: Path = Path("tenants.yaml")
    database_url: str | None = None
    redis_url: str | None = None
    model_providers: str | None = None
    memory_enabled: bool = True
    store_open_timeout_s: float = 5.0
    spool_path: Path | None = None  # None: the memory layer's default place (see memory.open_store)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, base_dir: Path | None = None) -> WorkerSettings:
        """Settings from ``env`` (default ``os.environ``); a relative ``TENANTS_FILE`` is taken from ``base_dir``."""
        env = os.environ if env is None else env
        tenants_file = Path(env.get("TENANTS_FILE") or "tenants.yaml")
        if not tenants_file.is_absolute() and base_dir is not None:
            tenants_file = base_dir / tenants_file
        enabled = (env.get("MEMORY_ENABLED") or "1").strip().lower()
        if enabled not in ("1", "0", "true", "false", "yes", "no"):
            raise ConfigError("MEMORY_ENABLED must be 1 or 0")
        return cls(
            agent_name=env.get("LIVEKIT_AGENT_NAME") or DEFAULT_AGENT_NAME,
            tenants_file=tenants_file,
            database_url=env.get("MEMORY_DATABASE_URL") or None,
            redis_url=env.get("MEMORY_REDIS_URL") or None,
            model_providers=env.get("MODEL_PROVIDERS") or None,
            memory_enabled=enabled in ("1", "true", "yes"),
            store_open_timeout_s=_float(env, "MEMORY_OPEN_TIMEOUT_S", 5.0, 0.1, 60.0),
            spool_path=Path(env["MEMORY_SPOOL_PATH"]) if env.get("MEMORY_SPOOL_PATH") else None,
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
    ) -> None:
        self._url = url
        self._redis_url = redis_url
        self._spool_path: Path | bool = spool_path if spool_path is not None else True
        self._policies = dict(policies)
        self._timeout_s = timeout_s
        self._opener = opener
        self._tasks: dict[asyncio.AbstractEventLoop, asyncio.Task[memory.CallerStore]] = {}

    def start(self) -> asyncio.Task[memory.CallerStore]:
        loop = asyncio.get_running_loop()
        task = self._tasks.get(loop)
        if task is None:
            task = self._tasks[loop] = loop.create_task(
                self._opener(
                    self._url,
                    redis_url=self._redis_url,
                    policies=self._policies,
                    spool_path=self._spool_path,
                    wait_for_database=False,
                ),
                name="memory-open-store",
            )
        return task

    async def get(self, *, timeout_s: float | None = None) -> memory.CallerStore | None:
        """The store, waiting at most ``timeout_s`` (the holder's timeout by default)."""
        task = self.start()
        wait = self._timeout_s if timeout_s is None else min(timeout_s, self._timeout_s)
        try:
            return await asyncio.wait_for(asyncio.shield(task), wait)
        except TimeoutError:
            logger.error("the memory store did not open within %.1f s; this call runs without memory", wait)
        except Exception as exc:
            logger.error("the memory store is unavailable (%s); this call runs without memory", type(exc).__name__)
            if self._tasks.get(asyncio.get_running_loop()) is task:
                del self._tasks[asyncio.get_running_loop()]  # try again on the next call
        return None

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


@dataclass
class WorkerDeps:
    """Everything a call of this process needs, built once per process."""

    settings: WorkerSettings
    tenants: Tenants
    providers: ProviderFactory
    store: StoreHolder | None
    vad: Any = None


def build_deps(
    settings: WorkerSettings,
    *,
    vad: Any = None,
    providers: ProviderFactory | None = None,
    opener: Opener = memory.open_store,
    embedder: AsyncEmbedder | None = None,
) -> WorkerDeps:
    """Load and validate the tenants, resolve the provider factory, prepare the store.

    ``embedder``: what the store embeds with (the worker passes the host's shared model); by
    default the store loads the model into this process.
    """
    tenants = load_tenants(settings.tenants_file)
    store = None
    if embedder is not None:
        opener = functools.partial(opener, embedder=embedder)
    if settings.memory_enabled:
        store = StoreHolder(
            url=settings.database_url,
            redis_url=settings.redis_url,
            policies={tenant.id: tenant.memory for tenant in tenants.tenants.values()},
            timeout_s=settings.store_open_timeout_s,
            opener=opener,
            spool_path=settings.spool_path,
        )
    return WorkerDeps(
        settings=settings,
        tenants=tenants,
        providers=providers or load_factory(settings.model_providers),
        store=store,
        vad=vad,
    )

"""A LiveKit voice-agent worker whose agents remember their callers.

    python agent.py console --text   talk to the agent in the terminal (no LiveKit server; with
                                     MODEL_PROVIDERS=offline no key either: ``make console``)
    python agent.py dev              join a LiveKit server (LIVEKIT_URL/API_KEY/API_SECRET)
    python agent.py start            production mode; health check on :8081

A call reaches this worker by explicit dispatch (the agent name, ``LIVEKIT_AGENT_NAME``):
a SIP dispatch rule for phone calls, a token's agent dispatch for an in-app voice button.
Per call: the caller's identity from LiveKit -> the tenant (``tenants.yaml``) -> the caller's
memory, preloaded into the agent's per-call instructions -> the session, whose turns are
recorded for the next call. See ``docs/worker.md``.

Before the LiveKit CLI starts, :func:`main` checks what would otherwise fail later or hang: the
LiveKit settings of ``dev``/``start``, ``tenants.yaml``, that every tenant's model providers
can be built (their API keys), and memory (:func:`worker.runtime.check_memory`: the store URL,
the database reachable, migrated here once unless ``MEMORY_MIGRATE=0``, its schema current,
Redis if set). A problem is one line on stderr, naming the error and the setting, and exit
status 2: a worker without the memory it was configured with should not take calls. ``console``
never talks to a LiveKit server, so it ignores the ``LIVEKIT_*`` settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dotenv import load_dotenv
from livekit.agents import AgentServer, JobContext, JobExecutorType, JobProcess, cli

from memory import DEFAULT_SQLITE_PATH, CallerMemoryError, ConfigError, default_embedder
from memory.embed import Embedder
from memory.livekit import HostEmbedder, register_runner
from memory.recall.query import understand
from memory.store import make_backend
from memory.text.identifiers import normalize_identifier
from worker.call import run_job
from worker.job_loop import on_job_loop
from worker.offline import OFFLINE_BANNER
from worker.providers import OFFLINE, load_factory, load_vad
from worker.runtime import RetentionSchedule, WorkerDeps, WorkerSettings, build_deps, check_memory
from worker.tenants import Tenants, language_warnings, load_tenants

HERE = Path(__file__).resolve().parent
# imported once in LiveKit's forkserver, shared copy-on-write by every job process (worker/preload.py)
PRELOAD_MODULES = ["worker.preload"]
# the embedded SQLite default lives next to this file, whatever the current directory
# (the same file `python -m memory` reads)
DEFAULT_DATABASE_URL = f"sqlite:///{HERE / DEFAULT_SQLITE_PATH}"
LIVEKIT_SETTINGS = (("LIVEKIT_URL", "--url"), ("LIVEKIT_API_KEY", "--api-key"), ("LIVEKIT_API_SECRET", "--api-secret"))
SERVER_COMMANDS = ("dev", "start")
CALL_COMMANDS = ("console", *SERVER_COMMANDS)


class _Console:
    """``console`` runs its one call in this process: when that call fails, the console ends
    (with exit status 1) instead of waiting for a session that never comes."""

    running = False
    call_failed = False


def end_console_after_failure() -> None:
    """Stop the console as Ctrl-C would: a SIGTERM to the main thread, where the CLI handles it."""
    _Console.call_failed = True
    main_thread = threading.main_thread().ident
    if main_thread is not None:
        signal.pthread_kill(main_thread, signal.SIGTERM)


def settings_from_env() -> WorkerSettings:
    """The worker's settings; a relative ``TENANTS_FILE`` is found next to this file, and an empty
    ``MEMORY_DATABASE_URL`` means the SQLite file ``.data/caller-memory.db`` next to it."""
    settings = WorkerSettings.from_env(base_dir=HERE)
    if settings.database_url is None:
        settings = replace(settings, database_url=DEFAULT_DATABASE_URL)
    return settings


LOOP_BLOCK_WARN_MS = "250"
"""LiveKit's loop monitor warns of event-loop blocks from this many ms (its default is 100). The
monitor ticks at a fifth of it, 20 ms by default, within 20-50 ms: a heartbeat timer on each job
process's loop and a watchdog thread besides, 100 wake-ups a second in every job process, busy or
idle in the warm pool. At 50 calls on 2 cores that was about a third of the calls' CPU (the
watchdog thread alone 3 s of 21, the ticks a quarter of the event loops' own); at 250 ms the monitor
ticks every 50 ms. Blocks of 250 ms and more are still reported, with their stacks; the loop's lag
is still measured on every tick. ``LIVEKIT_AGENTS_LOOP_BLOCK_WARN_MS`` in the environment wins."""


def loop_monitor_defaults(env: MutableMapping[str, str] = os.environ) -> None:
    """The worker's setting of LiveKit's loop monitor (see :data:`LOOP_BLOCK_WARN_MS`), in the
    environment the server's processes inherit: call it before the server starts."""
    env.setdefault("LIVEKIT_AGENTS_LOOP_BLOCK_WARN_MS", LOOP_BLOCK_WARN_MS)


def quiet_loggers() -> None:
    """Keep personal data out of logs: the SQLite driver logs every statement with its
    parameters (transcript text) at DEBUG, the level of ``dev`` and ``console``."""
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)


def host_embedder(*, turn_lane: bool = True, direct: bool = True) -> HostEmbedder | None:
    """The job side of the host's one embedding model (LiveKit's inference process loads it:
    see :func:`build_server`); ``None`` when the model is not installed (calls then run without
    memory, and the log says why)."""
    try:
        return HostEmbedder(turn_lane=turn_lane, direct=direct)
    except CallerMemoryError as exc:
        logging.getLogger("worker").error("no embedding model (%s): calls will run without memory", exc)
        return None


def process_embedder() -> Embedder | None:
    """With ``MEMORY_EMBEDDER=process``: the model loaded into this job process now (each process
    holds its own copy, ~170 MB, and embeds without waiting for the host's one inference process);
    ``None`` when it cannot be loaded (calls then run without memory, and the log says why)."""
    try:
        return default_embedder()
    except CallerMemoryError as exc:
        logging.getLogger("worker").error("no embedding model (%s): calls will run without memory", exc)
        return None


def prewarm(proc: JobProcess) -> None:
    """Per process, before any call: load the VAD, the tenants and the provider factory. The
    embedding model is not loaded here: the host's inference process holds it for every job
    (unless ``MEMORY_EMBEDDER=process``, which loads a model into each job process)."""
    quiet_loggers()
    warm_http_tls()
    settings = settings_from_env()
    embedder: Embedder | HostEmbedder | None = None
    if settings.memory_enabled:
        embedder = (
            host_embedder(turn_lane=settings.turn_lane, direct=settings.embed_direct)
            if settings.embedder_in == "host"
            else process_embedder()
        )
    deps = build_deps(settings, vad=load_vad(), embedder=embedder)
    if deps.store is not None:
        warm_memory_imports(deps)
        if settings.open_before_call and proc.executor_type == JobExecutorType.PROCESS:
            open_store_before_call(deps)
    proc.userdata["deps"] = deps


def warm_http_tls() -> None:
    """Build the TLS context of LiveKit's per-job HTTP session now. LiveKit builds it once per
    process, the first time a job's session is asked for; a job that never uses the session
    still has one built to be closed when it ends. Parsing the CA bundle takes 100-600 ms of the
    job's event loop on a busy host, and a job process serves one call: every call paid it. Built
    here, in the warm process, the job's session reuses it (LiveKit caches it per trust settings)."""
    from livekit.agents.utils import http_context

    build = getattr(http_context, "_create_ssl_context", None)  # private: absent from another LiveKit, skip
    if build is not None:
        with contextlib.suppress(Exception):
            build()


def open_store_before_call(deps: WorkerDeps) -> None:
    """Open this job process's store as soon as its event loop exists, while it waits in LiveKit's
    warm pool (prewarm runs before the loop: see :mod:`worker.job_loop`); the call then finds it
    open. A store that fails to open is tried again by the call."""
    store = deps.store
    if store is None:
        return

    def begin(_loop: asyncio.AbstractEventLoop) -> None:
        if isinstance(deps.embedder, HostEmbedder):  # the direct channel to the host's model, before the call too
            deps.embedder.connect_soon()
        store.start()
        store.close_at_exit()  # when LiveKit shuts the process down, with or without a call

    on_job_loop(begin)


def warm_memory_imports(deps: WorkerDeps) -> None:
    """Import what a call's memory would import on first use (the database and Redis drivers, the
    phone-number metadata of each tenant's region, numpy's masked arrays, the patterns a question is
    read with) now, not on the first
    call's event loop: a job process serves one call, so every call would pay them, and on a busy
    host they stall its loop for a second or more."""
    with contextlib.suppress(CallerMemoryError):  # a bad URL is the store's to report, per call
        make_backend(deps.settings.database_url)  # imports the driver, connects nothing
    if deps.settings.redis_url:
        import redis.asyncio  # noqa: F401
    import numpy.ma  # noqa: F401  (numpy.unique imports it on first use: 45 ms of a call's first recall)

    understand("what was the reference I was given two weeks ago", datetime.now(UTC))  # compiles its patterns
    for tenant in deps.tenants.tenants.values():
        with contextlib.suppress(CallerMemoryError):
            normalize_identifier(
                "phone", tenant.numbers[0] if tenant.numbers else "+15105550100", region=tenant.memory.default_region
            )


async def entrypoint(ctx: JobContext) -> None:
    """One call: the room's caller meets a support agent that remembers them."""
    deps: WorkerDeps | None = ctx.proc.userdata.get("deps")
    if deps is None:  # a process whose prewarm did not run (e.g. a custom executor)
        deps = build_deps(settings_from_env())
        ctx.proc.userdata["deps"] = deps
    if isinstance(deps.embedder, HostEmbedder):  # the store's tasks may predate the job: see open_store_before_call
        deps.embedder.bind(ctx.inference_executor)
    try:
        await run_job(ctx, deps)
    except BaseException as exc:
        # no call started, so no shutdown callback closes the store; an open SQLite connection
        # keeps a thread (and with it a console process) alive after Ctrl-C
        if deps.store is not None:
            await deps.store.aclose()
        if _Console.running and not isinstance(exc, asyncio.CancelledError):  # cancelled: the console is ending
            end_console_after_failure()
        raise


def build_server(settings: WorkerSettings | None = None, *, retention: bool = True) -> AgentServer:
    """The agent server with this worker's entrypoint; ``tenants.yaml`` is validated here so a
    configuration error stops the worker at start, with a message naming the entry. With memory
    on, the host's inference process (started by the server) loads the embedding model once for
    all job processes. With ``retention`` (``dev`` and ``start``, not the console) the server's
    process purges the tenants' expired memories on a schedule once it runs."""
    settings = settings or settings_from_env()
    tenants = load_tenants(settings.tenants_file)
    for warning in language_warnings(tenants):
        logging.getLogger("worker").warning(warning)
    if settings.memory_enabled and settings.embedder_in == "host":
        register_runner()
    loop_monitor_defaults()
    server = AgentServer(setup_fnc=prewarm, preload_modules=PRELOAD_MODULES, **metrics_options(settings))
    server.rtc_session(entrypoint, agent_name=settings.agent_name)
    if retention and settings.memory_enabled and settings.purge_every_s > 0:  # in this (the main) process only
        schedule = RetentionSchedule(
            settings.database_url,
            {tenant.id: tenant.memory for tenant in tenants.tenants.values()},
            every_s=settings.purge_every_s,
        )
        server.on("worker_started", schedule.start)
    return server


def metrics_options(settings: WorkerSettings) -> dict[str, Any]:
    """LiveKit's Prometheus endpoint on ``METRICS_PORT``, in multi-process mode so the series of the
    job processes (memory's among them) are counted: LiveKit empties the directory at start and
    hands it to every job process it starts. Without ``PROMETHEUS_MULTIPROC_DIR`` a new temporary
    directory is used, so two workers on one host never share one."""
    if settings.metrics_port is None:
        return {}
    directory = settings.metrics_dir or Path(tempfile.mkdtemp(prefix="worker-metrics-"))
    return {"prometheus_port": settings.metrics_port, "prometheus_multiproc_dir": str(directory)}


def command_of(argv: Sequence[str]) -> str | None:
    """The CLI command (``console``, ``dev``, ``start``...): the first argument that is not an option."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def missing_livekit_settings(argv: Sequence[str], env: Mapping[str, str]) -> list[str]:
    """The ``LIVEKIT_*`` settings given neither in ``env`` nor as their command-line option."""
    return [
        name
        for name, option in LIVEKIT_SETTINGS
        if not env.get(name) and not any(arg == option or arg.startswith(option + "=") for arg in argv)
    ]


def check_providers(settings: WorkerSettings, tenants: Tenants, command: str) -> None:
    """Build every tenant's model providers once, so a missing API key stops the worker now.

    Raises ``ConfigError`` with one line that says what to set.
    """
    if command == "start" and (settings.model_providers or "").strip() == OFFLINE:
        raise ConfigError(
            "MODEL_PROVIDERS=offline is a stand-in for trying the agent in the console, not for calls: "
            "set MODEL_PROVIDERS= (empty) and OPENAI_API_KEY / DEEPGRAM_API_KEY, or name your own factory"
        )
    factory = load_factory(settings.model_providers)
    for tenant in tenants.tenants.values():
        try:
            factory(tenant, vad=None)
        except CallerMemoryError:
            raise
        except Exception as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            hint = (
                "fill in the keys in .env, or set MODEL_PROVIDERS=offline to try the agent without keys (make console)"
                if not settings.model_providers
                else f"check the factory MODEL_PROVIDERS={settings.model_providers}"
            )
            raise ConfigError(
                f"the model providers of tenant {tenant.id!r} cannot be built ({reason}): {hint}"
            ) from exc


def preflight(argv: Sequence[str], env: Mapping[str, str]) -> WorkerSettings:
    """Check what ``command_of(argv)`` needs before the LiveKit CLI runs; raise ``ConfigError`` if not there."""
    command = command_of(argv)
    if command in SERVER_COMMANDS:
        missing = missing_livekit_settings(argv, env)
        if missing:
            options = "/".join(option for name, option in LIVEKIT_SETTINGS if name in missing)
            names = ", ".join(missing[:-1]) + " and " + missing[-1] if len(missing) > 1 else missing[0]
            raise ConfigError(
                f"{names} {'are' if len(missing) > 1 else 'is'} not set: put your LiveKit server's URL and key pair in .env "
                f"(see livekit.yaml) or pass {options}; `python agent.py console --text` needs none of them"
            )
    settings = settings_from_env()
    tenants = load_tenants(settings.tenants_file)
    if command in CALL_COMMANDS:
        check_providers(settings, tenants, command)
    return settings


def main(argv: Sequence[str] | None = None, *, env_file: Path | None = HERE / ".env") -> int:
    """``python agent.py <command>``: the checks of :func:`preflight`, then the LiveKit CLI."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if env_file is not None:
        load_dotenv(env_file)
    command = command_of(argv)
    if command == "console":  # the console runs a fake job in this process and joins no server
        for name, _ in LIVEKIT_SETTINGS:
            os.environ.pop(name, None)
    try:
        settings = preflight(argv, os.environ)
    except CallerMemoryError as exc:
        print(f"agent.py {command}: {exc}" if command else f"agent.py: {exc}", file=sys.stderr)
        return 2
    if command in CALL_COMMANDS:
        try:
            memory_state = asyncio.run(check_memory(settings))
        except CallerMemoryError as exc:
            print(f"agent.py {command}: memory unusable, {type(exc).__name__}: {exc}", file=sys.stderr)
            return 2
        logging.getLogger("worker").info(memory_state)
    server = build_server(settings, retention=command in SERVER_COMMANDS)
    _Console.running = command == "console"
    if _Console.running and (settings.model_providers or "").strip() == OFFLINE:
        print(OFFLINE_BANNER, file=sys.stderr)
    freeze_startup_heap()
    try:
        cli.run_app(server)
    except SystemExit as exc:
        if _Console.call_failed:
            print("agent.py console: the call failed (the error is in the log above)", file=sys.stderr)
            return 1
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    finally:
        _Console.running = False
    return 0


def freeze_startup_heap() -> None:
    """Take what this process holds before it serves (LiveKit, memory and the providers imported, the
    tenants read, the checks run: about 200,000 objects) out of the cycle collector's walks. They live as
    long as the process, and every full collection walked them: 100-200 ms of CPU on a busy host, at a
    moment no one chooses. With the thread executor (and in the console) the calls run in this process,
    so that pause landed in a call's preload or recall; with job processes this process still hands out
    every job. Job processes need nothing more: LiveKit's forkserver freezes what it preloads before it
    forks them. The start-up's own garbage is collected first, so it is not kept for good."""
    gc.collect()
    gc.freeze()


if __name__ == "__main__":
    sys.exit(main())

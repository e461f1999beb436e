"""A LiveKit voice-agent worker whose agents remember their callers.

    python agent.py console --text   talk to the agent in the terminal (needs the model keys)
    python agent.py dev              join a LiveKit server (LIVEKIT_URL/API_KEY/API_SECRET)
    python agent.py start            production mode; health check on :8081

A call reaches this worker by explicit dispatch (the agent name, ``LIVEKIT_AGENT_NAME``):
a SIP dispatch rule for phone calls, a token's agent dispatch for an in-app voice button.
Per call: the caller's identity from LiveKit -> the tenant (``tenants.yaml``) -> the caller's
memory, preloaded into the agent's per-call instructions -> the session, whose turns are
recorded for the next call. See ``docs/worker.md``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from dotenv import load_dotenv
from livekit.agents import AgentServer, JobContext, JobProcess, cli

from worker.call import run_job
from worker.providers import load_vad
from worker.runtime import WorkerDeps, WorkerSettings, build_deps, warm_embedder
from worker.tenants import load_tenants

HERE = Path(__file__).resolve().parent


def settings_from_env() -> WorkerSettings:
    """The worker's settings; a relative ``TENANTS_FILE`` is found next to this file."""
    return WorkerSettings.from_env(base_dir=HERE)


def quiet_loggers() -> None:
    """Keep personal data out of logs: the SQLite driver logs every statement with its
    parameters (transcript text) at DEBUG, the level of ``dev`` and ``console``."""
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)


def prewarm(proc: JobProcess) -> None:
    """Per process, before any call: load the VAD, the tenants and the provider factory."""
    quiet_loggers()
    deps = build_deps(settings_from_env(), vad=load_vad())
    if deps.store is not None:
        warm_embedder()
    proc.userdata["deps"] = deps


async def entrypoint(ctx: JobContext) -> None:
    """One call: the room's caller meets a support agent that remembers them."""
    deps: WorkerDeps | None = ctx.proc.userdata.get("deps")
    if deps is None:  # a process whose prewarm did not run (e.g. a custom executor)
        deps = build_deps(settings_from_env())
        ctx.proc.userdata["deps"] = deps
    await run_job(ctx, deps)


def build_server(settings: WorkerSettings | None = None) -> AgentServer:
    """The agent server with this worker's entrypoint; ``tenants.yaml`` is validated here so a
    configuration error stops the worker at start, with a message naming the entry."""
    settings = settings or settings_from_env()
    load_tenants(settings.tenants_file)
    server = AgentServer(setup_fnc=prewarm)
    server.rtc_session(entrypoint, agent_name=settings.agent_name)
    return server


if __name__ == "__main__":
    load_dotenv(HERE / ".env")
    cli.run_app(build_server())

"""Fixtures of the worker tests: the repository's tenants.yaml, a real embedded SQLite store per
test, and calls placed through the worker's entrypoint body against a fake room."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

import memory
from worker.call import ActiveCall, run_job
from worker.runtime import StoreHolder, WorkerDeps, WorkerSettings
from worker.tenants import Tenants, load_tenants

from .fakes import FakeParticipant, ScriptedProviders, fake_job

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def no_planned_direct_channel(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test that builds the worker's server plans the direct channel's address in the environment
    (``register_runner``): undone after it, so later tests in this process do not inherit it."""
    from memory.livekit.direct import ENV

    monkeypatch.setenv(ENV, "")


SETTLE_S = 10.0
"""The tests' budget for the reply to a turn carrying an identifier: such a reply waits for the link
and the reloaded brief, and the tests check that it does, whatever a loaded machine takes (the
tenant's real budget, and that a reply never waits past it, are tested in ``test_faults``)."""


@pytest.fixture
def tenants() -> Tenants:
    loaded = load_tenants(REPO / "tenants.yaml")
    patient = {
        tid: dataclasses.replace(t, memory=dataclasses.replace(t.memory, link_settle_timeout_s=SETTLE_S))
        for tid, t in loaded.tenants.items()
    }
    return dataclasses.replace(loaded, tenants=MappingProxyType(patient))


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'memory.db'}"


@pytest.fixture
async def make_deps(tenants: Tenants, db_url: str, embedder: Any) -> AsyncIterator[Callable[..., WorkerDeps]]:
    """Build the worker's per-process dependencies with scripted model providers and a real store."""
    made: list[WorkerDeps] = []

    def make(
        providers: Any = None,
        *,
        url: str | None = db_url,
        redis_url: str | None = None,
        tenants: Tenants = tenants,
        memory_enabled: bool = True,
    ) -> WorkerDeps:
        policies = {t.id: t.memory for t in tenants.tenants.values()}
        holder = StoreHolder(
            url=url,
            redis_url=redis_url,
            policies=policies,
            timeout_s=5.0,
            opener=functools.partial(memory.open_store, embedder=embedder),
        )
        deps = WorkerDeps(
            settings=WorkerSettings(tenants_file=REPO / "tenants.yaml", database_url=url, redis_url=redis_url),
            tenants=tenants,
            providers=providers or ScriptedProviders(),
            store=holder if memory_enabled else None,
        )
        made.append(deps)
        return deps

    yield make
    for deps in made:
        if deps.store is not None:
            await deps.store.aclose()


@contextlib.asynccontextmanager
async def placed_call(
    deps: WorkerDeps,
    participant: FakeParticipant,
    *,
    job_metadata: str = "",
    room_metadata: str = "",
    job_id: str = "job-test",
    configure_session: Any = None,
) -> AsyncIterator[ActiveCall]:
    """A call placed through ``run_job`` (the entrypoint's body) in a fake room; hung up on exit."""
    with fake_job(participant, job_metadata=job_metadata, room_metadata=room_metadata, job_id=job_id) as ctx:
        call = await run_job(ctx, deps, room_io_enabled=False, configure_session=configure_session)
        try:
            if call.greeting is not None:
                await call.greeting
            yield call
        finally:
            await call.aclose()


@pytest.fixture(autouse=True)
def _startup_heap_left_unfrozen(monkeypatch: pytest.MonkeyPatch) -> None:
    """``agent.main`` freezes the process's heap before it serves; in the test process that would keep
    every later test's objects from the cycle collector (a test that asks for it spies on it)."""
    import agent

    monkeypatch.setattr(agent, "freeze_startup_heap", lambda: None)

"""The worker's process-level parts: settings, the provider factory, the store holder."""

from __future__ import annotations

import asyncio
import functools
from dataclasses import replace
from pathlib import Path

import pytest

import memory
from memory.errors import ConfigError
from memory.store import with_pool_size
from worker.offline import offline_providers
from worker.providers import ModelDefaults, Providers, default_providers, load_factory
from worker.runtime import StoreHolder, WorkerSettings, build_deps
from worker.tenants import Tenants

from .conftest import REPO
from .fakes import failing_call_providers


def test_the_default_factory_builds_plugins_per_call_and_runs_without_livekit_cloud(
    tenants: Tenants, monkeypatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("DEEPGRAM_API_KEY", "dg-test")
    monkeypatch.setenv("LLM_MODEL", "gpt-4.1-nano")
    acme, bank = tenants.tenants["acme-telecom"], tenants.tenants["globex-bank"]
    providers = default_providers(acme, vad=None)
    assert providers.llm.model == "gpt-4.1-mini"  # the tenant's own choice wins
    assert default_providers(bank, vad=None).llm.model == "gpt-4.1-nano"  # else the environment's
    assert providers.turn_handling["turn_detection"].model == "turn-detector-v1-mini"  # local
    assert providers.turn_handling["interruption"] == {"mode": "vad"}
    assert providers.stt is not None and providers.tts is not None


def test_the_default_factory_needs_its_keys_only_when_a_call_starts(tenants: Tenants, monkeypatch) -> None:
    monkeypatch.delenv("DEEPGRAM_API_KEY", raising=False)
    with pytest.raises(ValueError, match="Deepgram API key"):
        default_providers(tenants.tenants["acme-telecom"], vad=None)


def test_model_defaults_come_from_the_environment() -> None:
    env = {"STT_MODEL": "nova-2", "TTS_VOICE": "sage", "OPENAI_BASE_URL": "http://llm.internal/v1"}
    defaults = ModelDefaults.from_env(env)
    assert (defaults.stt_model, defaults.tts_voice, defaults.openai_base_url) == (
        "nova-2",
        "sage",
        env["OPENAI_BASE_URL"],
    )
    assert defaults.llm_model == ModelDefaults().llm_model


def test_a_factory_is_named_by_module_and_function() -> None:
    assert load_factory(None) is default_providers
    assert load_factory("tests.worker.fakes:failing_call_providers") is failing_call_providers
    assert load_factory("offline") is offline_providers
    for spec, message in [
        ("tests.worker.fakes", "must be 'offline' or look like"),
        ("no.such.module:factory", "cannot import module"),
        ("tests.worker.fakes:nothing_here", "has no callable"),
    ]:
        with pytest.raises(ConfigError, match=message):
            load_factory(spec)


def test_providers_leave_out_missing_parts() -> None:
    providers = offline_providers(None, vad=None)  # type: ignore[arg-type]
    assert isinstance(providers, Providers)
    assert set(providers.session_kwargs()) == {"llm", "vad", "turn_handling"}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MEMORY_ENABLED": "maybe"}, "MEMORY_ENABLED"),
        ({"MEMORY_OPEN_TIMEOUT_S": "soon"}, "must be a number"),
        ({"MEMORY_OPEN_TIMEOUT_S": "600"}, "between"),
        ({"MEMORY_MIGRATE": "sometimes"}, "MEMORY_MIGRATE"),
        ({"MEMORY_PURGE_EVERY_S": "-1"}, "between"),
        ({"MEMORY_POOL_SIZE": "0"}, "MEMORY_POOL_SIZE must be a whole number from 1"),
        ({"MEMORY_POOL_SIZE": "two"}, "MEMORY_POOL_SIZE"),
        ({"MEMORY_OPEN_BEFORE_CALL": "later"}, "MEMORY_OPEN_BEFORE_CALL"),
        ({"MEMORY_QUERY_DEADLINE": "soon"}, "MEMORY_QUERY_DEADLINE must be"),
        ({"MEMORY_QUERY_DEADLINE": "8,20,30"}, "MEMORY_QUERY_DEADLINE must be"),
        ({"MEMORY_TURN_LANE": "both"}, "MEMORY_TURN_LANE"),
    ],
)
def test_invalid_settings_are_reported(env, message) -> None:
    with pytest.raises(ConfigError, match=message):
        WorkerSettings.from_env(env)


def test_settings_resolve_a_relative_tenants_file(tmp_path: Path) -> None:
    settings = WorkerSettings.from_env({"TENANTS_FILE": "config/tenants.yaml"}, base_dir=tmp_path)
    assert settings.tenants_file == tmp_path / "config" / "tenants.yaml"
    assert WorkerSettings.from_env({"TENANTS_FILE": "/etc/agent/tenants.yaml"}).tenants_file == Path(
        "/etc/agent/tenants.yaml"
    )


async def test_the_store_holder_retries_after_a_failed_open(tmp_path: Path, embedder, caplog) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    opener = functools.partial(memory.open_store, embedder=embedder)
    broken = StoreHolder(url=f"sqlite:///{blocker}/memory.db", redis_url=None, policies={}, opener=opener)
    assert await broken.get() is None
    assert "this call runs without memory" in caplog.text

    holder = StoreHolder(url=f"sqlite:///{tmp_path / 'memory.db'}", redis_url=None, policies={}, opener=opener)
    store = await holder.get()
    assert store is not None and await holder.get() is store  # one store per process (and loop)
    await holder.aclose()
    assert await holder.get() is not store  # reopened after closing
    await holder.aclose()


def test_a_job_processs_store_opens_one_connection_before_its_call_by_default() -> None:
    settings = WorkerSettings.from_env({})
    assert (settings.pool_size, settings.open_before_call) == (1, True)
    other = WorkerSettings.from_env({"MEMORY_POOL_SIZE": "2", "MEMORY_OPEN_BEFORE_CALL": "0"})
    assert (other.pool_size, other.open_before_call) == (2, False)


def test_a_recall_waits_for_its_query_vector_8_ms_fast_and_20_ms_accurate_by_default() -> None:
    assert dict(WorkerSettings.from_env({}).query_deadlines_ms) == {"fast": 8.0, "accurate": 20.0}
    assert dict(WorkerSettings.from_env({"MEMORY_QUERY_DEADLINE": "5, 15"}).query_deadlines_ms) == {
        "fast": 5.0,
        "accurate": 15.0,
    }
    assert dict(WorkerSettings.from_env({"MEMORY_QUERY_DEADLINE": "12"}).query_deadlines_ms) == {
        "fast": 12.0,
        "accurate": 12.0,
    }
    assert WorkerSettings.from_env({"MEMORY_QUERY_DEADLINE": "off"}).query_deadlines_ms == ()
    assert WorkerSettings.from_env({}).turn_lane and not WorkerSettings.from_env({"MEMORY_TURN_LANE": "0"}).turn_lane
    assert (
        WorkerSettings.from_env({}).embed_direct
        and not WorkerSettings.from_env({"MEMORY_EMBED_DIRECT": "0"}).embed_direct
    )


async def test_the_worker_gives_its_store_the_query_deadlines(tmp_path: Path, embedder) -> None:
    settings = WorkerSettings(
        tenants_file=REPO / "tenants.yaml",
        database_url=f"sqlite:///{tmp_path / 'm.db'}",
        query_deadlines_ms=(("fast", 8.0), ("accurate", 20.0)),
    )
    deps = build_deps(settings, providers=offline_providers, embedder=embedder)
    assert deps.store is not None
    store = await deps.store.get()
    try:
        assert store is not None
        assert (store.query_deadline("fast"), store.query_deadline("accurate")) == (0.008, 0.02)
    finally:
        await deps.store.aclose()


def test_the_pool_size_goes_into_a_postgres_url_unless_the_url_sets_one() -> None:
    assert with_pool_size("postgresql://u@h:5432/db", 1) == "postgresql://u@h:5432/db?pool_size=1"
    assert (
        with_pool_size("postgresql://u@h/db?connect_timeout=2", 1)
        == "postgresql://u@h/db?connect_timeout=2&pool_size=1"
    )
    assert with_pool_size("postgresql://u@h/db?pool_size=4", 1) == "postgresql://u@h/db?pool_size=4"
    assert with_pool_size("sqlite:///x.db", 1) == "sqlite:///x.db"
    assert with_pool_size(None, 1) is None
    with pytest.raises(ConfigError):
        with_pool_size("postgresql://u@h/db", 0)


async def test_a_job_processs_store_holds_one_postgres_connection(tenants: Tenants, postgres_database: str) -> None:
    deps = build_deps(
        WorkerSettings(tenants_file=REPO / "tenants.yaml", database_url=postgres_database),
        providers=offline_providers,
        embedder=memory.default_embedder(),
    )
    assert deps.store is not None
    store = await deps.store.get()
    try:
        assert store is not None and deps.store.ready
        for _ in range(200):  # the store connects in the background
            if store.backend.pool_stats["open"]:
                break
            await asyncio.sleep(0.05)
        stats = store.backend.pool_stats
        assert (stats["open"], stats["max"]) == (1, 1) and stats["idle"] in (0, 1)  # its background work may hold it
        assert deps.store.opened_ms is not None
    finally:
        await deps.store.aclose()
    assert store.backend.pool_stats["open"] == 0


async def test_a_store_that_does_not_open_in_time_says_what_it_waits_on(tmp_path: Path, caplog) -> None:
    async def slow_opener(url, *, on_stage, **kwargs):
        on_stage("the spool file")
        await asyncio.sleep(5)

    holder = StoreHolder(url=None, redis_url=None, policies={}, opener=slow_opener, timeout_s=0.1)
    assert await holder.get() is None
    assert "did not open within 0.1 s (waiting on the spool file)" in caplog.text
    await holder.aclose()


def test_metrics_settings_turn_on_livekits_prometheus_endpoint(tmp_path: Path) -> None:
    import agent

    off = WorkerSettings.from_env({})
    assert off.metrics_port is None and agent.metrics_options(off) == {}
    on = WorkerSettings.from_env({"METRICS_PORT": "9100", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom")})
    assert agent.metrics_options(on) == {"prometheus_port": 9100, "prometheus_multiproc_dir": str(tmp_path / "prom")}
    fresh = agent.metrics_options(WorkerSettings.from_env({"METRICS_PORT": "9100"}))
    assert fresh["prometheus_port"] == 9100 and Path(fresh["prometheus_multiproc_dir"]).is_dir()
    assert agent.build_server(replace(on, tenants_file=REPO / "tenants.yaml"))._prometheus_port == 9100
    with pytest.raises(ConfigError, match="METRICS_PORT"):
        WorkerSettings.from_env({"METRICS_PORT": "metrics"})


def test_where_the_embedding_model_runs_is_a_setting() -> None:
    assert WorkerSettings.from_env({}).embedder_in == "host"
    assert WorkerSettings.from_env({"MEMORY_EMBEDDER": "process"}).embedder_in == "process"
    with pytest.raises(ConfigError, match="MEMORY_EMBEDDER must be host or process"):
        WorkerSettings.from_env({"MEMORY_EMBEDDER": "gpu"})


def test_with_the_model_in_each_process_the_server_registers_no_inference_runner(monkeypatch) -> None:
    import agent

    registered: list[bool] = []
    monkeypatch.setattr(agent, "register_runner", lambda: registered.append(True))
    agent.build_server(replace(WorkerSettings.from_env({}, base_dir=REPO), embedder_in="process"), retention=False)
    assert registered == []
    agent.build_server(WorkerSettings.from_env({}, base_dir=REPO), retention=False)
    assert registered == [True]


def test_the_tokenizer_tables_are_preloaded_in_the_forkserver(monkeypatch) -> None:
    """The worker's server lists worker.preload for LiveKit's forkserver, and importing it loads the
    default encoding (so job processes forked after it share the tables)."""
    import importlib
    import sys

    from livekit.agents import AgentServer

    import agent

    seen: dict[str, object] = {}
    real_init = AgentServer.__init__

    def spy(self, *args, **kwargs):
        seen.update(kwargs)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(AgentServer, "__init__", spy)
    agent.build_server(WorkerSettings.from_env({}, base_dir=REPO), retention=False)
    assert "worker.preload" in seen["preload_modules"]  # type: ignore[operator]
    from memory.compaction import policy

    monkeypatch.setattr(policy, "_ENCODINGS", {})
    sys.modules.pop("worker.preload", None)
    importlib.import_module("worker.preload")
    assert list(policy._ENCODINGS) == [policy.DEFAULT_ENCODING]


def test_a_store_opened_before_any_call_is_closed_when_the_process_loop_shuts_down(tmp_path: Path, embedder) -> None:
    opener = functools.partial(memory.open_store, embedder=embedder)
    holder = StoreHolder(url=f"sqlite:///{tmp_path / 'memory.db'}", redis_url=None, policies={}, opener=opener)
    seen: dict = {}

    async def idle_process() -> None:  # the store opens, no call comes, LiveKit shuts the process down
        holder.start()
        holder.close_at_exit()
        seen["store"] = await holder.get()
        await asyncio.sleep(3600)

    loop = asyncio.new_event_loop()
    main = loop.create_task(idle_process())
    loop.run_until_complete(asyncio.sleep(0.5))
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]  # what LiveKit's _ProcClient.run() does at exit
    for task in pending:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.close()
    assert main.cancelled() and seen["store"] is not None
    assert seen["store"]._closed

"""The worker's process-level parts: settings, the provider factory, the store holder."""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path

import pytest

import memory
from memory.errors import ConfigError
from worker.offline import offline_providers
from worker.providers import ModelDefaults, Providers, default_providers, load_factory
from worker.runtime import StoreHolder, WorkerSettings
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

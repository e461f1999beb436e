"""``agent.py`` itself: settings from the environment, fail-fast tenants, and ``console --text``
run end to end in a terminal (the model provider swapped through ``MODEL_PROVIDERS``)."""

from __future__ import annotations

import contextlib
import ctypes.util
import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

import agent
import memory
from worker.offline import FIRST_REPLY, OFFLINE_BANNER
from worker.runtime import DEFAULT_AGENT_NAME, WorkerSettings
from worker.tenants import TenantConfigError

from ..conftest import IN_CI
from .conftest import REPO


def test_settings_come_from_the_environment_at_run_time(monkeypatch, tmp_path: Path) -> None:
    for name in ("LIVEKIT_AGENT_NAME", "TENANTS_FILE", "MEMORY_DATABASE_URL", "MEMORY_REDIS_URL", "MEMORY_ENABLED"):
        monkeypatch.delenv(name, raising=False)
    default = agent.settings_from_env()
    assert default.agent_name == DEFAULT_AGENT_NAME and default.tenants_file == REPO / "tenants.yaml"
    # the embedded default is next to agent.py whatever the current directory (python -m memory reads it too)
    assert default.database_url == f"sqlite:///{REPO / '.data' / 'caller-memory.db'}" and default.memory_enabled

    monkeypatch.setenv("LIVEKIT_AGENT_NAME", "phone-agent")
    monkeypatch.setenv("MEMORY_DATABASE_URL", "postgresql://memory@db/memory")
    monkeypatch.setenv("MEMORY_ENABLED", "0")
    settings = agent.settings_from_env()
    assert settings.agent_name == "phone-agent" and settings.database_url == "postgresql://memory@db/memory"
    assert not settings.memory_enabled


def test_a_broken_tenants_file_stops_the_worker_at_start(tmp_path: Path) -> None:
    broken = tmp_path / "tenants.yaml"
    broken.write_text("tenants:\n  - id: Bad Id\n")
    with pytest.raises(TenantConfigError, match=r"tenants\[0\]\.id"):
        agent.build_server(WorkerSettings(tenants_file=broken))


def test_the_server_registers_one_entrypoint_with_the_prewarm(monkeypatch) -> None:
    from livekit.agents.inference_runner import _InferenceRunner

    monkeypatch.setattr(_InferenceRunner, "registered_runners", {})  # keep this process's registry clean
    server = agent.build_server(WorkerSettings(tenants_file=REPO / "tenants.yaml"))
    assert server.setup_fnc is agent.prewarm


PREWARM_PROBE = """
import json, sys
import agent
from livekit.agents import JobProcess
from livekit.agents.job import JobExecutorType
proc = JobProcess(executor_type=JobExecutorType.PROCESS, user_arguments=None, http_proxy=None)
agent.prewarm(proc)
deps = proc.userdata["deps"]
print(json.dumps({
    "store": deps.store is not None,
    # onnxruntime itself is loaded: the Silero VAD runs on it
    "embedders": len(__import__("memory.embed").embed._defaults),
    "loaded": sorted(m for m in ("tokenizers", "onnx") if m in sys.modules),
    "warmed": sorted(m for m in ("asyncpg", "redis.asyncio", "numpy.ma", "memory.store.postgres") if m in sys.modules),
}))
"""


@pytest.mark.slow
def test_prewarm_leaves_the_model_to_the_host_and_warms_the_first_calls_imports(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "MODEL_PROVIDERS": "offline",
        "MEMORY_DATABASE_URL": "postgresql://memory@127.0.0.1:1/memory",  # never connected by prewarm
        "MEMORY_REDIS_URL": "redis://127.0.0.1:1/0",
    }
    out = subprocess.run(
        [sys.executable, "-c", PREWARM_PROBE], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["store"] is True
    # a job process holds no embedding model (the host's inference process does): no embedder was
    # made, and neither the model's tokenizer nor the graph builder was imported
    assert report["embedders"] == 0 and report["loaded"] == []
    assert report["warmed"] == ["asyncpg", "memory.store.postgres", "numpy.ma", "redis.asyncio"]


@pytest.mark.slow
def test_with_memory_embedder_process_prewarm_loads_a_model_into_the_job_process() -> None:
    env = {
        **os.environ,
        "MODEL_PROVIDERS": "offline",
        "MEMORY_EMBEDDER": "process",
        "MEMORY_DATABASE_URL": "postgresql://memory@127.0.0.1:1/memory",  # never connected by prewarm
    }
    out = subprocess.run(
        [sys.executable, "-c", PREWARM_PROBE], cwd=REPO, env=env, capture_output=True, text=True, timeout=180
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["store"] is True
    assert report["embedders"] == 1 and "tokenizers" in report["loaded"]  # the model, loaded before any call


def test_the_command_and_the_livekit_settings_are_read_from_the_arguments() -> None:
    assert agent.command_of(["start", "--log-level", "info"]) == "start"
    assert agent.command_of([]) is None
    assert agent.missing_livekit_settings(["dev"], {}) == ["LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"]
    given = {"LIVEKIT_URL": "ws://localhost:7880", "LIVEKIT_API_KEY": ""}
    assert agent.missing_livekit_settings(["dev", "--api-key", "k", "--api-secret=s"], given) == []
    assert agent.missing_livekit_settings(["dev"], given) == ["LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"]


@pytest.fixture
def bare_env(monkeypatch) -> pytest.MonkeyPatch:
    """An environment with no LiveKit setting, no model key and the default providers."""
    for name in list(os.environ):
        if name.startswith(("LIVEKIT_", "OPENAI_", "DEEPGRAM_")) or name in ("MODEL_PROVIDERS", "TENANTS_FILE"):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.mark.parametrize("command", ["dev", "start"])
def test_dev_and_start_without_livekit_settings_stop_with_one_line(command: str, bare_env, capsys) -> None:
    assert agent.main([command], env_file=None) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"agent.py {command}: LIVEKIT_URL, LIVEKIT_API_KEY and ")
    assert "LIVEKIT_API_SECRET are not set" in err and "--url/--api-key/--api-secret" in err


def test_missing_model_keys_stop_the_console_with_one_line_that_names_the_keyless_way(bare_env, capsys) -> None:
    assert agent.main(["console", "--text"], env_file=None) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("agent.py console: the model providers of tenant 'acme-telecom'")
    assert "Deepgram API key is required" in err and "MODEL_PROVIDERS=offline" in err


def test_start_refuses_the_offline_stand_in(bare_env, capsys) -> None:
    for name, value in (("LIVEKIT_URL", "ws://localhost:7880"), ("LIVEKIT_API_KEY", "k"), ("LIVEKIT_API_SECRET", "s")):
        bare_env.setenv(name, value)
    bare_env.setenv("MODEL_PROVIDERS", "offline")
    assert agent.main(["start"], env_file=None) == 2
    assert "MODEL_PROVIDERS=offline is a stand-in" in capsys.readouterr().err


def test_a_broken_tenants_file_is_one_line(bare_env, capsys, tmp_path: Path) -> None:
    broken = tmp_path / "tenants.yaml"
    broken.write_text("tenants:\n  - id: Bad Id\n")
    bare_env.setenv("TENANTS_FILE", str(broken))
    bare_env.setenv("MODEL_PROVIDERS", "offline")
    assert agent.main(["console", "--text"], env_file=None) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "tenants[0].id" in err


def test_the_console_ignores_livekit_settings_and_the_example_env_file_works_as_copied(bare_env, monkeypatch) -> None:
    """``cp .env.example .env`` then ``console``: what the example sets passes every check."""
    checked: list[dict[str, str]] = []
    monkeypatch.setattr(agent.cli, "run_app", lambda server: checked.append(dict(os.environ)))
    before = dict(os.environ)
    try:
        assert agent.main(["console", "--text"], env_file=REPO / ".env.example") == 0
    finally:  # load_dotenv wrote into the environment
        os.environ.clear()
        os.environ.update(before)
    (env,) = checked
    assert env["MODEL_PROVIDERS"] == "offline" and env["TENANTS_FILE"] == "tenants.yaml"
    assert not {"LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"} & set(env)


async def test_a_call_that_fails_closes_the_store_it_opened(make_deps) -> None:
    """An open SQLite connection keeps a thread alive: a failed call must not leave one behind."""
    from .fakes import FakeParticipant, failing_call_providers, fake_job

    deps = make_deps(failing_call_providers)
    deps.vad = object()  # what prewarm loads; the fake factory fails when it gets one
    with fake_job(FakeParticipant()) as ctx:
        ctx.proc.userdata["deps"] = deps
        with pytest.raises(RuntimeError, match="failed on this call"):
            await agent.entrypoint(ctx)
    assert not deps.store._tasks  # no store left open on this loop


ANSI = re.compile(rb"\x1b(?:\[[0-9;?]*[ -/]*[@-~]|\][^\x07]*\x07|[@-_])")


class Terminal:
    """``python agent.py console --text`` in a pseudo-terminal that is its controlling terminal, as
    in a real shell: the console reads keys from it, and Ctrl-C typed there is a SIGINT."""

    def __init__(self, env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        # wide enough that the console does not wrap the lines the test looks for
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 240, 0, 0))
        self.process = subprocess.Popen(
            [sys.executable, "agent.py", "console", "--text"],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=REPO,
            env=env,
            start_new_session=True,  # setsid(), then the terminal becomes the session's own
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )
        os.close(slave)
        self.output = b""
        self.mark = 0  # where the current exchange began in the output

    @property
    def text(self) -> str:
        """What the terminal showed since the mark, without escape codes, spaces collapsed."""
        return " ".join(ANSI.sub(b"", self.output[self.mark :]).decode(errors="replace").split())

    def read_until(self, expected: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if expected in self.text:
                return True
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.output += os.read(self.master, 65536)
                except OSError:  # the process ended and closed the terminal
                    break
        return expected in self.text

    def settle(self, seconds: float) -> None:
        """Read for ``seconds`` (the prompt puts the terminal in its own mode before it reads a key)."""
        self.read_until("\0never printed", seconds)

    def type(self, line: str) -> None:
        self.mark = len(self.output)
        os.write(self.master, line.encode() + b"\r")

    def exit_status(self, timeout: float) -> int | None:
        """The exit status once the process ended within ``timeout``, else ``None``."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=timeout)
        self.settle(0.2)
        return self.process.poll()

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        os.close(self.master)

    def tail(self) -> str:
        return ANSI.sub(b"", self.output).decode(errors="replace")[-4000:]


def console_env(db: Path) -> dict[str, str]:
    """The console as ``make console`` runs it, with no key and no LiveKit setting, on its own database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "OPENAI_", "DEEPGRAM_"))}
    env.update(MODEL_PROVIDERS="offline", MEMORY_DATABASE_URL=f"sqlite:///{db}", PYTHONUNBUFFERED="1")
    return env


def needs_portaudio() -> None:
    if ctypes.util.find_library("portaudio") is None:  # the console loads it even in text mode
        message = "the console needs the system library libportaudio2"
        if IN_CI:
            pytest.fail(message + " -- CI must install it", pytrace=False)
        pytest.skip(message)


# one interrupt must end the console; the bound only keeps a broken console from hanging the suite
EXIT_BOUND_S = 20


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="needs a POSIX pseudo-terminal")
async def test_the_offline_console_remembers_the_caller_on_the_next_run(tmp_path: Path) -> None:
    needs_portaudio()
    db = tmp_path / "console.db"

    first = Terminal(console_env(db))
    try:
        assert first.read_until("Type to talk", 60), first.tail()
        assert OFFLINE_BANNER in first.text  # said once, when the console starts
        first.settle(1.5)
        first.type("Hi, my name is Dana Reyes. I was charged twice for my bill, and the refund is under ticket 8842.")
        assert first.read_until(FIRST_REPLY, 30), first.tail()
        first.settle(1.0)
        os.write(first.master, b"\x03")  # Ctrl-C, typed
        assert first.exit_status(EXIT_BOUND_S) == 0, first.tail()
    finally:
        first.close()

    second = Terminal(console_env(db))
    try:
        assert second.read_until("Welcome back, Dana Reyes!", 60), second.tail()
        assert "Thanks for calling Acme Telecom" not in second.text  # the new-caller greeting is not used
        second.settle(1.5)
        second.type("What happened with my refund last time?")
        assert second.read_until("recall_issue", 30), second.tail()  # the console shows the tool call
        assert second.read_until("Here is what I have from your earlier calls:", 30), second.tail()
        second.settle(1.0)
        answer = second.text.split("Here is what I have from your earlier calls:")[-1]
        assert 'the caller said "Hi, my name is Dana Reyes. I was charged twice for my bill' in answer
        assert "[references: ticket 8842]" in answer
        second.process.send_signal(signal.SIGTERM)  # as a process manager stops it
        assert second.exit_status(EXIT_BOUND_S) == 0, second.tail()
    finally:
        second.close()

    store = await memory.open_store(f"sqlite:///{db}")
    try:
        caller_id = await store.find_caller("acme-telecom", "livekit_identity", "mock_user")
        assert caller_id is not None
        said = [(row.role, row.text) for row in await store.history("acme-telecom", caller_id)]
    finally:
        await store.aclose()
    assert ("user", "What happened with my refund last time?") in said
    assert ("assistant", "Welcome back, Dana Reyes! How can I help you today?") in said


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="needs a POSIX pseudo-terminal")
def test_a_console_whose_call_fails_ends_with_one_line(tmp_path: Path) -> None:
    needs_portaudio()
    env = console_env(tmp_path / "console.db")
    env["MODEL_PROVIDERS"] = "tests.worker.fakes:failing_call_providers"
    terminal = Terminal(env)
    try:
        assert terminal.exit_status(60) == 1, terminal.tail()
        assert "agent.py console: the call failed" in terminal.text
    finally:
        terminal.close()


def test_prewarm_builds_the_tls_context_a_jobs_http_session_uses() -> None:
    """LiveKit builds its HTTP session's TLS context on first use, in every job (a job that never
    uses the session builds one to close it): built in prewarm, the job's session reuses it."""
    from livekit.agents.utils import http_context

    http_context._ssl_context_for.cache_clear()
    agent.warm_http_tls()
    assert http_context._ssl_context_for.cache_info().currsize == 1
    built = http_context._create_ssl_context()
    assert http_context._ssl_context_for.cache_info().hits >= 1
    assert built is http_context._create_ssl_context()


def test_the_startup_heap_is_frozen_once_checked_before_the_server_runs(bare_env, monkeypatch) -> None:
    order: list[str] = []
    monkeypatch.setenv("MODEL_PROVIDERS", "offline")
    monkeypatch.setattr(agent, "freeze_startup_heap", lambda: order.append("freeze"))
    monkeypatch.setattr(agent.cli, "run_app", lambda server: order.append("serve"))
    assert agent.main(["console", "--text"], env_file=None) == 0
    assert order == ["freeze", "serve"]

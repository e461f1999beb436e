"""``agent.py`` itself: settings from the environment, fail-fast tenants, and ``console --text``
run end to end in a terminal (the model provider swapped through ``MODEL_PROVIDERS``)."""

from __future__ import annotations

import contextlib
import ctypes.util
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import agent
import memory
from worker.runtime import DEFAULT_AGENT_NAME, WorkerSettings
from worker.tenants import TenantConfigError

from ..conftest import IN_CI
from .conftest import REPO


def test_settings_come_from_the_environment_at_run_time(monkeypatch, tmp_path: Path) -> None:
    for name in ("LIVEKIT_AGENT_NAME", "TENANTS_FILE", "MEMORY_DATABASE_URL", "MEMORY_REDIS_URL", "MEMORY_ENABLED"):
        monkeypatch.delenv(name, raising=False)
    default = agent.settings_from_env()
    assert default.agent_name == DEFAULT_AGENT_NAME and default.tenants_file == REPO / "tenants.yaml"
    assert default.database_url is None and default.memory_enabled

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


def test_the_server_registers_one_entrypoint_with_the_prewarm() -> None:
    server = agent.build_server(WorkerSettings(tenants_file=REPO / "tenants.yaml"))
    assert server.setup_fnc is agent.prewarm


class Terminal:
    """``python agent.py console --text`` in a pseudo-terminal (the console reads keys from a tty)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "agent.py", "console", "--text"],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=REPO,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        self.output = b""

    def read_until(self, text: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text.encode() in self.output:
                return True
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.output += os.read(self.master, 65536)
                except OSError:
                    return text.encode() in self.output
        return text.encode() in self.output

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\r")

    def stop(self) -> int:
        for _ in range(2):  # the console exits on the second interrupt
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGINT)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout=10)
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        os.close(self.master)
        return self.process.returncode


def console_env(db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "OPENAI_", "DEEPGRAM_"))}
    env.update(
        MODEL_PROVIDERS="tests.worker.fakes:console_providers",
        MEMORY_DATABASE_URL=f"sqlite:///{db}",
        PYTHONUNBUFFERED="1",
    )
    return env


def converse(db: Path, line: str, expected: str) -> str:
    terminal = Terminal(console_env(db))
    try:
        assert terminal.read_until("Type to talk", 60), terminal.output.decode(errors="replace")[-3000:]
        terminal.read_until("never printed", 1.5)  # let the prompt put the tty in raw mode (Enter is a CR)
        terminal.type(line)
        assert terminal.read_until(expected, 30), terminal.output.decode(errors="replace")[-3000:]
    finally:
        code = terminal.stop()
    assert code == 0, terminal.output.decode(errors="replace")[-3000:]
    return terminal.output.decode(errors="replace")


@pytest.mark.skipif(sys.platform != "linux", reason="needs a POSIX pseudo-terminal")
@pytest.mark.slow
async def test_console_text_mode_talks_and_remembers_across_runs(tmp_path: Path) -> None:
    if ctypes.util.find_library("portaudio") is None:  # the console loads it even in text mode
        message = "the console needs the system library libportaudio2"
        if IN_CI:
            pytest.fail(message + " -- CI must install it", pytrace=False)
        pytest.skip(message)
    db = tmp_path / "console.db"
    first = converse(db, "hello there", "You said: hello there")
    assert "I remember our last call" not in first
    second = converse(db, "hello again", "You said: hello again (I remember our last call.)")
    assert "5550" not in second

    store = await memory.open_store(f"sqlite:///{db}")
    try:
        caller_id = await store.find_caller("acme-telecom", "livekit_identity", "mock_user")
        assert caller_id is not None
        said = [(row.role, row.text) for row in await store.history("acme-telecom", caller_id)]
    finally:
        await store.aclose()
    assert ("user", "hello there") in said and ("user", "hello again") in said
    assert ("assistant", "You said: hello there") in said

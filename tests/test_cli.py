"""`python -m memory`: the offline demo, show and forget, as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, db: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "MEMORY_DATABASE_URL": f"sqlite:///{db}"}
    return subprocess.run(
        [sys.executable, "-m", "memory", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_demo_show_and_forget(tmp_path):
    db = tmp_path / "demo.db"
    demo = run("demo", db=db)
    assert demo.returncode == 0, demo.stderr
    assert "linked to the caller of call 1" in demo.stdout
    assert "ticket 8842" in demo.stdout and "<caller_memory>" in demo.stdout
    again = run("demo", db=db)  # repeatable: starts from scratch
    assert again.returncode == 0 and again.stdout.count("earlier call(s)") == demo.stdout.count("earlier call(s)")

    shown = run("show", "--customer", "demo-telecom", "--account", "88123", db=db)
    assert shown.returncode == 0, shown.stderr
    assert "charged twice" in shown.stdout and "by account (active)" in shown.stdout

    refused = run("forget", "--customer", "demo-telecom", "--account", "88123", db=db)
    assert refused.returncode == 2
    forgot = run("forget", "--customer", "demo-telecom", "--account", "88123", "--yes", db=db)
    assert forgot.returncode == 0 and "rows deleted" in forgot.stdout
    gone = run("show", "--customer", "demo-telecom", "--account", "88123", db=db)
    assert gone.returncode == 1 and "no such caller" in gone.stdout

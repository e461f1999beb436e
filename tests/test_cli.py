"""`python -m memory` as a user runs it: the README's examples, options in any position, the stable
default database, and errors as one line (a Postgres role without privileges included)."""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

import memory
from memory.__main__ import DEFAULT_DATABASE, describe_store, sqlite_path

from .conftest import postgres_admin, postgres_url, unavailable

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow  # every test here starts the CLI in a subprocess


def run(*args: str, db: Path | str | None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("MEMORY_DATABASE_URL", "MEMORY_REDIS_URL")}
    if db is not None:
        env["MEMORY_DATABASE_URL"] = db if isinstance(db, str) else f"sqlite:///{db}"
    env["PYTHONPATH"] = str(ROOT)  # as from the project directory, wherever the command runs
    return subprocess.run(
        [sys.executable, "-m", "memory", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### Command line") :]
    block = section[section.index("```bash") + len("```bash") : section.index("```", section.index("```bash") + 7)]
    return [line.split("#", 1)[0].strip() for line in block.strip().splitlines() if line.strip()]


async def seed_the_console_caller(db: Path) -> None:
    """What `make console` leaves behind: one call of the console's participant in acme-telecom."""
    store = await memory.open_store(f"sqlite:///{db}")
    try:
        hooks = await store.open_call("acme-telecom", {"livekit_identity": "mock_user"})
        hooks.record_turn("user", "Hi, my name is Dana Reyes. My router keeps dropping.")
        await hooks.aclose()
    finally:
        await store.aclose()


def test_the_readme_examples_work_with_the_shipped_tenants(tmp_path):
    tenant_ids = set(re.findall(r"^  - id: (\S+)", (ROOT / "tenants.yaml").read_text(), re.M))
    commands = readme_commands()
    assert [shlex.split(c)[3] for c in commands] == ["demo", "show", "show", "forget", "purge"]
    db = tmp_path / "memory.db"
    asyncio.run(seed_the_console_caller(db))
    out: list[str] = []
    for command in commands:
        words = shlex.split(command)
        assert words[:3] == ["python", "-m", "memory"], command
        customer = words[words.index("--customer") + 1] if "--customer" in words else None
        assert customer in tenant_ids | {"demo-telecom", None}, f"{command}: no such tenant in tenants.yaml"
        if words[3] == "forget":  # without --yes it asks first
            unconfirmed = run(*[w for w in words[3:] if w != "--yes"], db=db)
            assert unconfirmed.returncode == 2 and "run again with --yes" in unconfirmed.stdout
        done = run(*words[3:], db=db)
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        assert done.stdout.startswith(f"memory store: sqlite {db}\n")
        out.append(done.stdout)
    demo, shown, console_caller, forgot, purged = out
    assert "linked to the caller of call 1" in demo and "ticket 8842" in demo and "<caller_memory>" in demo
    assert "charged twice" in shown and "by account (active)" in shown
    assert "My router keeps dropping." in console_caller
    assert "rows deleted" in forgot and "purged 0 rows older than 365 days" in purged

    gone = run("show", "--customer", "demo-telecom", "--account", "88123", db=db)
    assert gone.returncode == 1 and gone.stderr == "no such caller in tenant 'demo-telecom'\n"
    again = run("demo", db=db)  # repeatable: it starts from scratch
    assert again.returncode == 0 and again.stdout.count("earlier call(s)") == demo.count("earlier call(s)")


def test_options_go_before_or_after_the_command(tmp_path):
    db = tmp_path / "demo.db"
    assert run("demo", db=db).returncode == 0
    url = f"sqlite:///{db}"
    for args in (
        ("--db", url, "show", "--customer", "demo-telecom", "--account", "88123"),
        ("show", "--customer", "demo-telecom", "--db", url, "--account", "88123"),
        ("show", "--account", "88123", "--customer", "demo-telecom", f"--db={url}"),
    ):
        shown = run(*args, db=None)
        assert shown.returncode == 0, (args, shown.stderr)
        assert shown.stdout.startswith(f"memory store: sqlite {db}\n") and "charged twice" in shown.stdout
    later = ("--db", "sqlite:///nowhere.db", "show", "--customer", "demo-telecom", "--db", url, "--account", "1")
    elsewhere = run(*later, db=None)
    assert "memory store: sqlite " + str(db) in elsewhere.stdout  # the later --db wins


def test_the_default_database_is_the_projects_whatever_the_current_directory(tmp_path):
    existed = DEFAULT_DATABASE.exists()
    shown = run("show", "--customer", "acme-telecom", "--caller-id", "caller_nobody", db=None, cwd=tmp_path)
    assert shown.stdout.startswith(f"memory store: sqlite {ROOT / '.data' / 'caller-memory.db'} (the default)\n")
    assert not (tmp_path / ".data").exists()
    if not existed:  # a missing default is an error, never a new empty database
        assert shown.returncode == 1 and not DEFAULT_DATABASE.exists()
        assert shown.stderr.startswith(f"error: no memory database at {DEFAULT_DATABASE}")
        assert shown.stderr.count("\n") == 1


def test_the_worker_and_the_cli_share_the_default_database():
    import agent

    assert agent.DEFAULT_DATABASE_URL.removeprefix("sqlite:///") == str(DEFAULT_DATABASE)
    assert DEFAULT_DATABASE == ROOT / ".data" / "caller-memory.db"


def test_the_store_is_named_without_its_password():
    assert describe_store("postgresql://memory:s3cret@db.internal:5432/memory?connect_timeout=3") == (
        "postgresql://memory:***@db.internal:5432/memory"
    )
    assert sqlite_path("sqlite:///relative/memory.db") == Path("relative/memory.db")
    assert sqlite_path("postgresql://db/memory") is None


def test_errors_are_one_line(tmp_path):
    unnamed = run("show", "--customer", "demo-telecom", db=tmp_path / "x.db")
    assert unnamed.returncode == 1 and unnamed.stderr.count("\n") == 1
    scheme = run("show", "--customer", "demo-telecom", "--phone", "1", db="mysql://db/memory")
    assert scheme.returncode == 1 and scheme.stderr.startswith("error: unsupported store URL scheme 'mysql'")
    assert scheme.stderr.count("\n") == 1


@pytest.mark.postgres
def test_a_postgres_role_without_privileges_is_one_line():
    name = f"cli_{uuid.uuid4().hex[:10]}"

    try:
        asyncio.run(postgres_admin(f'CREATE DATABASE "{name}"', f'CREATE ROLE "{name}" LOGIN'))
    except Exception as exc:
        unavailable("Postgres", exc)
    try:
        # the role may connect, but not create anything: it cannot run the migrations
        asyncio.run(postgres_admin("REVOKE CREATE ON SCHEMA public FROM PUBLIC", database=name))
        url = postgres_url(name, user=name)
        refused = run("migrate", db=url)
        unmigrated = run("show", "--customer", "acme-telecom", "--phone", "+14155550142", db=url)
    finally:
        asyncio.run(postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'DROP ROLE IF EXISTS "{name}"'))
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: the database refused the role in the URL (InsufficientPrivilegeError")
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    # the other commands never migrate: a database without the schema says what to run
    assert unmigrated.returncode == 1
    assert unmigrated.stderr.startswith("error: no memory schema in postgresql:")
    assert "python -m memory migrate" in unmigrated.stderr and unmigrated.stderr.count("\n") == 1


@pytest.mark.postgres
def test_migrate_brings_a_new_database_up_and_then_says_it_is_up_to_date(empty_postgres_database):
    first = run("migrate", db=empty_postgres_database)
    assert first.returncode == 0, first.stderr
    assert "applied migrations 001, 002" in first.stdout
    again = run("migrate", db=empty_postgres_database)
    assert again.returncode == 0 and "the schema is up to date" in again.stdout

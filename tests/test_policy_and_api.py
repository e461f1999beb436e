"""The public surface is small and pinned; policies reject nonsense with clear errors."""

from __future__ import annotations

import importlib
import types

import pytest

import memory


def test_public_api_is_pinned():
    assert sorted(memory.__all__) == sorted(
        [
            "DEFAULT_POLICY",
            "DEFAULT_SQLITE_PATH",
            "IDENTIFIER_KINDS",
            "TENANT_ID_RULE",
            "CallEvent",
            "CallHooks",
            "CallerMemoryError",
            "CallerStore",
            "Episode",
            "EpisodeValue",
            "ConfigError",
            "Hit",
            "Identifier",
            "IdentifierError",
            "InvalidInputError",
            "Link",
            "Matter",
            "MemoryPolicy",
            "MemoryWriteError",
            "Preload",
            "SchemaError",
            "StoreUnavailableError",
            "Verification",
            "default_embedder",
            "describe_episode",
            "is_tenant_id",
            "migrate",
            "open_store",
            "quote",
            "reference_labels",
        ]
    )


@pytest.mark.parametrize("face", ["memory", "memory.livekit", "memory.compaction"])
def test_every_public_name_of_a_face_is_exported_on_purpose(face):
    """As httpx does: what a face offers is exactly its ``__all__`` (subpackages aside)."""
    module = importlib.import_module(face)
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType) and name != "annotations"
    }
    assert public == set(module.__all__)


def test_errors_form_one_hierarchy_without_shadowing_builtins():
    for name in (
        "InvalidInputError",
        "IdentifierError",
        "ConfigError",
        "StoreUnavailableError",
        "SchemaError",
        "MemoryWriteError",
    ):
        assert issubclass(getattr(memory, name), memory.CallerMemoryError)
        assert name not in dir(__builtins__)
    assert issubclass(memory.InvalidInputError, ValueError)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"link_kinds": {"name"}},
        {"link_kinds": {"fax"}},
        {"spoken_link_kinds": {"name", "account"}},
        {"recall_mode": "psychic"},
        {"preload_token_budget": 5},
        {"retention_days": 0},
        {"default_region": "USA"},
        {"default_region": 44},
        {"working_set_limit": -1},
        {"working_set_limit": 0},
        {"working_set_limit": 1.5},
        {"working_set_limit": True},
        {"plans": "Fiber 500"},
        {"plans": ["Fiber 500", 3]},
        {"recent_calls": "5"},
        {"preload_timeout_s": "1.5"},
        {"preload_token_budget": 600.5},
        {"link_kinds": "phone"},
        {"verification": {"fax": 1}},
        {"verification": {"account": -1}},
        {"verification": {"account": "one"}},
        {"verification": "account"},
        {"verification_factors": ["shoe size"]},
    ],
)
def test_bad_policies_are_config_errors_that_name_the_field(kwargs):
    with pytest.raises(memory.ConfigError) as caught:
        memory.MemoryPolicy(**kwargs)
    assert next(iter(kwargs)) in str(caught.value)


def test_verification_is_per_kind_with_one_factor_by_default():
    policy = memory.MemoryPolicy(verification={"phone": 2, "email": 0})
    assert (policy.factors_needed("phone"), policy.factors_needed("email"), policy.factors_needed("account")) == (
        2,
        0,
        1,
    )
    assert policy == memory.MemoryPolicy(verification=[("email", 0), ("phone", 2)])
    hash(policy)  # frozen and hashable


def test_policy_sets_are_frozen():
    policy = memory.MemoryPolicy(link_kinds={"phone"})
    assert policy.link_kinds == frozenset({"phone"})


async def test_bad_store_urls_are_config_errors():
    with pytest.raises(memory.ConfigError):
        await memory.open_store("mysql://localhost/x")
    with pytest.raises(memory.ConfigError):
        await memory.open_store("postgresql://localhost/x?connect_timeout=soon")


@pytest.mark.parametrize("redis_url", ["localhost:6379", "http://localhost", "redis://localhost:port/0", 6379])
async def test_bad_redis_urls_are_config_errors_that_name_the_setting(tmp_path, embedder, redis_url):
    with pytest.raises(memory.ConfigError) as caught:
        await memory.open_store(f"sqlite:///{tmp_path / 'm.db'}", redis_url=redis_url, embedder=embedder)
    assert "redis_url" in str(caught.value)


async def test_times_of_the_wrong_type_are_invalid_input_naming_the_argument(tmp_path, embedder):
    store = await memory.open_store(f"sqlite:///{tmp_path / 'm.db'}", embedder=embedder)
    try:
        with pytest.raises(memory.InvalidInputError) as caught:
            await store.open_call("t", {"phone": "+1 415 555 0142"}, started_at="2026-01-01")  # type: ignore[arg-type]
        assert "started_at" in str(caught.value)
        hooks = await store.open_call("t", {"phone": "+1 415 555 0142"})
        with pytest.raises(memory.InvalidInputError) as caught:
            hooks.record_turn("user", "hello", at=1767225600)  # type: ignore[arg-type]
        assert "at" in str(caught.value)
        with pytest.raises(memory.InvalidInputError):
            hooks.remember("a note", at="tomorrow")  # type: ignore[arg-type]
        await hooks.aclose()
    finally:
        await store.aclose()


async def test_policy_per_tenant_controls_linking(tmp_path, embedder):
    strict = memory.MemoryPolicy(spoken_link_kinds=frozenset())
    store = await memory.open_store(f"sqlite:///{tmp_path / 'm.db'}", policies={"strict": strict}, embedder=embedder)
    try:
        first = await store.open_call("strict", {"phone": "+1 415 555 0142", "account": "88123"})
        await first.aclose()
        second = await store.open_call("strict", {"phone": "+1 415 555 0199"})
        second.record_turn("user", "my account number is eight eight one two three")
        await second.recall("account")
        assert second.caller_id != first.caller_id  # this tenant does not link on what callers say
        await second.aclose()
    finally:
        await store.aclose()


def test_log_lines_keep_the_message_of_operational_errors_only(tmp_path):
    import asyncpg

    from memory.errors import describe

    # a data error's message can quote a caller's words: its type only
    assert describe(asyncpg.UniqueViolationError('duplicate key value (text)=("my pin is 1234")')) == (
        "UniqueViolationError"
    )
    assert describe(asyncpg.InvalidCatalogNameError('database "memory" does not exist')) == (
        'InvalidCatalogNameError: database "memory" does not exist'
    )
    assert describe(ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5433)")).startswith(
        "ConnectionRefusedError: [Errno 111] Connect call failed"
    )
    assert describe(memory.SchemaError("no memory schema in postgresql:db:5432/memory")) == (
        "SchemaError: no memory schema in postgresql:db:5432/memory"
    )
    assert describe(TimeoutError()) == "timed out"
    # SQLite's (the spool's): about the file, its fixed text; about the data, the type only
    import sqlite3

    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (x TEXT UNIQUE)")
    db.execute("INSERT INTO t VALUES ('my pin is 1234')")
    with pytest.raises(sqlite3.IntegrityError) as data_error:
        db.execute("INSERT INTO t VALUES ('my pin is 1234')")
    assert describe(data_error.value) == "IntegrityError"
    holder = sqlite3.connect(tmp_path / "spool.db", isolation_level=None)
    holder.execute("CREATE TABLE t (x TEXT)")
    holder.execute("BEGIN IMMEDIATE")  # another process holds the file's write lock
    waiter = sqlite3.connect(tmp_path / "spool.db", isolation_level=None, timeout=0)
    with pytest.raises(sqlite3.OperationalError) as locked:
        waiter.execute("INSERT INTO t VALUES ('my pin is 1234')")
    assert describe(locked.value) == "OperationalError: database is locked"
    holder.execute("ROLLBACK")

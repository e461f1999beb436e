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
            "StoreUnavailableError",
            "default_embedder",
            "describe_episode",
            "is_tenant_id",
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
    for name in ("InvalidInputError", "IdentifierError", "ConfigError", "StoreUnavailableError", "MemoryWriteError"):
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
    ],
)
def test_bad_policies_are_rejected(kwargs):
    with pytest.raises(memory.ConfigError):
        memory.MemoryPolicy(**kwargs)


def test_policy_sets_are_frozen():
    policy = memory.MemoryPolicy(link_kinds={"phone"})
    assert policy.link_kinds == frozenset({"phone"})


async def test_bad_store_urls_are_config_errors():
    with pytest.raises(memory.ConfigError):
        await memory.open_store("mysql://localhost/x")
    with pytest.raises(memory.ConfigError):
        await memory.open_store("postgresql://localhost/x?connect_timeout=soon")


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

"""One caller per identifier under concurrency: simultaneous first calls from one unknown number
share one caller (insert-or-get in one transaction against the unique tenant, kind, value)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

import memory

TRIES = 50


@pytest.fixture(params=["sqlite", "postgres"])
def shared_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return request.getfixturevalue("postgres_database")


@pytest.fixture
async def two_stores(shared_url, embedder):
    """Two stores on one database, as two worker processes would hold (separate connections)."""
    url = shared_url
    first = await memory.open_store(url, embedder=embedder)
    second = await memory.open_store(url, embedder=embedder)
    yield first, second
    await first.aclose()
    await second.aclose()


@pytest.mark.slow
async def test_simultaneous_first_calls_from_one_number_share_one_caller(two_stores):
    first, second = two_stores
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    duplicates = 0
    for i in range(TRIES):
        phone = f"+1415555{i:04d}"
        calls = await asyncio.gather(
            first.open_call(tenant, {"phone": phone}, call_id=f"a-{i}"),
            second.open_call(tenant, {"phone": phone}, call_id=f"b-{i}"),
            first.open_call(tenant, {"phone": phone}, call_id=f"c-{i}"),
        )
        assert all(c.started for c in calls)
        duplicates += len({c.caller_id for c in calls}) - 1
        assert sum(c.is_new_caller for c in calls) <= 1
        for n, call in enumerate(calls):
            call.record_turn("user", f"turn of call {n} of try {i}")
        await asyncio.gather(*(c.aclose() for c in calls))
        if i % 10 == 0:  # every call's turns are reachable from the one caller
            owner = await first.find_caller(tenant, "phone", phone)
            texts = {r.text for r in await first.history(tenant, owner)}
            assert texts == {f"turn of call {n} of try {i}" for n in range(3)}
    assert duplicates == 0

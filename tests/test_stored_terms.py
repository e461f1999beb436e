"""Each memory's index terms are computed once, when it is written, and stored with it: loading a
caller does not tokenise every row again, and the working set ranks exactly as if it had."""

from __future__ import annotations

import dataclasses

import asyncpg
import numpy as np
import pytest

import memory
from memory.recall.presets import PRESETS
from memory.recall.working_set import WorkingSet
from memory.store import codec, postgres, sqlite
from memory.text.terms import TERMS_VERSION, document_terms, index_terms, pack_terms, unpack_terms
from memory.values import MemoryRow

from .test_store_contract import caller_who_calls_again, first_call

SECOND_CALL = [
    ("user", "Thanks, Dana! My new address is twenty two Oak Street."),
    ("assistant", "Got it, twenty two Oak Street. Anything else?"),
]


async def _caller_with_two_calls(store: memory.CallerStore, tenant: str) -> str:
    return await caller_who_calls_again(store, tenant, SECOND_CALL, gap_s=4)


def _lexical_ranking(rows: list[MemoryRow], query: str) -> list[object]:
    """What the working set derives from the rows' terms, for both presets."""
    ws = WorkingSet(rows)
    ws.prepare()
    out: list[object] = [[ws.terms_of(i) for i in range(len(rows))]]
    for preset in PRESETS.values():
        own, context, call = ws.lexical(index_terms(query), preset)
        out += [own.tolist(), context.tolist(), call.tolist(), np.argsort(-own, kind="stable").tolist()]
    return out


async def test_stored_terms_are_the_terms_computed_from_the_text(store, tenant):
    caller = await _caller_with_two_calls(store, tenant)
    backend = store.backend
    history = await backend.load_history(tenant, caller, limit=50)
    loaded = [*history.memories, *await backend.load_memories(tenant, caller, limit=50)]
    loaded += await backend.load_call_rows(tenant, history.memories[-1].call_id)
    assert len(history.memories) == 5
    for row in loaded:
        assert row.terms is not None and unpack_terms(row.terms) == document_terms(row.text), row.text
    # the query finds the same rows, in the same order, with the terms stored or computed again
    without = [dataclasses.replace(r, terms=None) for r in history.memories]
    for query in ("what is my address", "the refund for my bill", "Dana"):
        assert _lexical_ranking(list(history.memories), query) == _lexical_ranking(without, query)


async def test_a_row_stored_without_terms_is_ranked_from_its_text(store, store_urls, tenant):
    caller = await _caller_with_two_calls(store, tenant)
    backend = store.backend
    computed = _lexical_ranking((await backend.load_history(tenant, caller, limit=50)).memories, "Oak Street")
    # rows written before the terms were stored (or by another version of the terms) have none
    if isinstance(backend, sqlite.SQLiteBackend):
        await backend.db.execute("UPDATE memories SET terms = NULL WHERE customer_id = ? AND seq = 1", (tenant,))
        await backend.db.execute("UPDATE memories SET terms = '0|old' WHERE customer_id = ? AND seq = 2", (tenant,))
        await backend.db.commit()
    else:
        assert isinstance(backend, postgres.PostgresBackend)
        conn = await asyncpg.connect(store_urls[0])  # the owner: row-level security does not apply
        try:
            await conn.execute("UPDATE memories SET terms = NULL WHERE customer_id = $1 AND seq = 1", tenant)
            await conn.execute("UPDATE memories SET terms = '0|old' WHERE customer_id = $1 AND seq = 2", tenant)
        finally:
            await conn.close()
    history = await backend.load_history(tenant, caller, limit=50)
    assert [unpack_terms(r.terms) is None for r in history.memories] == [True, True, False, True, True]
    assert _lexical_ranking(history.memories, "Oak Street") == computed


def test_stored_terms_round_trip_and_carry_their_version():
    text = "Thanks, Dana! It's eight eight one two."
    packed = pack_terms(text)
    assert packed.startswith(f"{TERMS_VERSION}|")
    assert unpack_terms(packed) == document_terms(text)
    assert "8812" in packed and "dana" not in packed  # spoken digits joined, the vocative left out
    assert unpack_terms(pack_terms("uh, okay")) == []  # stored as known to be empty, not as unknown
    assert unpack_terms(None) is None
    assert unpack_terms("0.00000000|other terms") is None


async def _a_call_stores_its_terms(url: str, embedder, tenant: str) -> None:
    """A call on the migrated store at ``url`` stores each row's terms, equal to those computed."""
    store = await memory.open_store(url, embedder=embedder)
    try:
        caller = await first_call(store, tenant)
        rows = await store.backend.load_memories(tenant, caller, limit=10)
        assert rows and all(unpack_terms(r.terms) == document_terms(r.text) for r in rows)
    finally:
        await store.aclose()


async def test_sqlite_adds_the_terms_column_when_it_opens_an_older_database(tmp_path, monkeypatch, embedder, tenant):
    url = f"sqlite:///{tmp_path / 'memory.db'}"
    before = tuple(m for m in codec.migrations("sqlite") if m[0] < 7)
    monkeypatch.setattr(sqlite, "migrations", lambda dialect: before)
    assert await memory.migrate(url) == [v for v, _, _ in before]
    monkeypatch.undo()
    assert await memory.migrate(url) == [7]
    await _a_call_stores_its_terms(url, embedder, tenant)


async def test_postgres_migrate_adds_the_terms_column_to_an_older_schema(
    empty_postgres_database, monkeypatch, embedder, tenant
):
    before = tuple(m for m in codec.migrations("postgres") if m[0] < 7)
    monkeypatch.setattr(postgres, "migrations", lambda dialect: before)
    assert await memory.migrate(empty_postgres_database) == [v for v, _, _ in before]
    monkeypatch.undo()
    conn = await asyncpg.connect(empty_postgres_database)
    try:
        columns = "SELECT column_name FROM information_schema.columns WHERE table_name = 'memories'"
        assert "terms" not in {r[0] for r in await conn.fetch(columns)}
        assert await memory.migrate(empty_postgres_database) == [7]
        assert "terms" in {r[0] for r in await conn.fetch(columns)}
    finally:
        await conn.close()
    await _a_call_stores_its_terms(empty_postgres_database, embedder, tenant)


@pytest.mark.parametrize("text", ["", "uh huh", "Hey Mel, it's 4/5/2018 at 09:11, code B0OK1NG, dana.smith@gmail.com"])
def test_terms_hold_no_space_so_they_round_trip(text):
    assert unpack_terms(pack_terms(text)) == document_terms(text)


# Texts that exercise what the terms depend on: spoken digits in groups and words, fillers between
# them, repairs, times, prices, e-mails, stutters, stop words, stems.
_GUARD_TEXTS = [
    "My account uh, number is two one seven seven four.",
    "It's four four, sorry, four five one, then oh nine.",
    "The reference is 1O9E32IJ and the train TR7804 leaves at 17:17.",
    "Call me back on six five oh, five five five, oh one oh one.",
    "Um, I moved to twenty two Oak Street, apartment three B.",
    "A table for two at 7 pm, actually make it eight thirty.",
    "It cost nine pounds eighty, or was it 9.80 GBP?",
    "my email is dana dot lee at example dot com you know",
    "I I I wanted the the kitchen speaker, not the TV.",
    "Mm-hmm, okay, go on, uh-huh.",
    "We're booking flights, bookings and booked rooms for the twelfth of March.",
    "Ninety nine, a hundred and one, two thousand and twenty six, nineteen eighty four.",
    "Can you play something by Nina Simone on the bedroom speaker?",
    "Postcode SW1A 1AA, date of birth the third of May nineteen ninety.",
]
# Bump _TERMS_CODE in memory/text/terms.py and record the new digest here whenever this changes.
_GUARD_DIGESTS = {"1": "34501cc6d6b70717"}


def test_the_terms_code_number_is_bumped_when_the_terms_change():
    """Stored terms are trusted while their version matches: a change to the code that gives other
    terms for the same text must bump the version, or rows stored before it would rank differently
    from rows stored after."""
    import hashlib

    digest = hashlib.sha256(repr([document_terms(t) for t in _GUARD_TEXTS]).encode()).hexdigest()[:16]
    code = TERMS_VERSION.split(".", 1)[0]
    assert code in _GUARD_DIGESTS, f"record the digest of terms version {code}: {digest}"
    assert _GUARD_DIGESTS[code] == digest, (
        f"the terms of the guard texts changed (digest {digest}) while the version stayed {code}: "
        "bump _TERMS_CODE in memory/text/terms.py and record the new digest in this test"
    )

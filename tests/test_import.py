"""``python -m memory import``: past calls into memory as if they had happened, on real SQLite and Postgres.

A generated file of 10,000 turns imports once (a second run adds nothing); an import killed with
SIGKILL mid-call is finished by running it again, to the same memory as an uninterrupted one; bad
lines are named by their line number; a CSV file and a JSON Lines file of the same calls make the
same memory; a caller imported from the past is remembered on their next live call.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import memory
from bench.gen_import import generate, write_csv, write_jsonl
from memory.importer import BadLine, Importer, PastCall, read_calls

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"


def tenant_id() -> str:
    return f"imp-{uuid.uuid4().hex[:10]}"


def retenant(calls: list[dict[str, Any]], tenant: str) -> list[dict[str, Any]]:
    return [{**call, "tenant": tenant} for call in calls]


async def import_file(url: str, path: Path, fmt: str, embedder, tenants=None):
    store = await memory.open_store(url, embedder=embedder, spool_path=None)
    try:
        return await Importer(store, tenants=tenants).run(path, fmt)
    finally:
        await store.aclose()


async def snapshot(url: str, tenant: str, call_ids: list[str], embedder) -> dict[str, Any]:
    """Everything the store holds about the calls and their callers, with caller ids (random) left out:
    each call's rows (text, time, role, tags, whether embedded) and state, and per caller (named by
    their first call) the profile (identifiers and how they were learnt, calls, episodes, matters,
    facts, name) and episodes."""
    store = await memory.open_store(url, embedder=embedder, spool_path=None)
    backend = store.backend
    try:
        states = await backend.call_states(tenant, call_ids)
        calls: dict[str, Any] = {}
        callers: dict[str, list[str]] = {}
        for call_id in call_ids:
            caller, _, ended = states[call_id]
            canonical = await backend.canonical_caller(tenant, caller)
            assert canonical is not None
            rows = await backend.load_call_rows(tenant, call_id)
            calls[call_id] = (
                ended,
                [(r.seq, r.kind, r.role, r.text, r.at, r.embedding is not None, r.tags) for r in rows],
            )
            callers.setdefault(canonical, []).append(call_id)
        people: dict[str, Any] = {}
        for caller, owned in callers.items():
            profile = await backend.load_profile(tenant, caller, recent_calls=50)
            # rows stored at the same instant come back in the database's order, which updates change
            facts = sorted((replace(f, fact_id="") for f in profile.facts), key=repr)
            idents = sorted(profile.identifiers, key=repr)
            profile = replace(profile, caller_id="", facts=tuple(facts), identifiers=tuple(idents))
            episodes = await backend.load_episodes(tenant, caller, limit=50)
            people[min(owned)] = (sorted(owned), repr(profile), episodes)
        return {"calls": calls, "callers": people}
    finally:
        await store.aclose()


def assert_same(got: dict[str, Any], want: dict[str, Any]) -> None:
    """``got == want``, or an error that shows the first call or caller that differs, where it differs."""
    for part in ("calls", "callers"):
        assert sorted(got[part]) == sorted(want[part]), part
        for key in sorted(want[part]):
            a, b = repr(got[part][key]), repr(want[part][key])
            if a != b:
                at = next(i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y)
                raise AssertionError(
                    f"{part} {key} differs at {at}:\n{a[at - 300 : at + 300]}\n!=\n{b[at - 300 : at + 300]}"
                )


# -- bad lines ----------------------------------------------------------------------------------------


GOOD = {
    "tenant": "acme-telecom",
    "call_id": "c-1",
    "started_at": "2024-03-05T09:12:00Z",
    "identifiers": {"phone": "+1 415 555 0142"},
    "turns": [{"role": "user", "text": "Hi, my internet keeps dropping.", "at": "2024-03-05T09:12:05Z"}],
}


def test_bad_lines_are_named_by_line_number_and_reason(tmp_path):
    def call(**changes: Any) -> str:
        record = {**GOOD, "call_id": f"c-{uuid.uuid4().hex[:6]}", **changes}
        return json.dumps({k: v for k, v in record.items() if v is not None})

    lines = [
        json.dumps(GOOD),  # 1: good
        '{"tenant": "acme-telecom", "call_id": ',  # 2
        "[1, 2, 3]",  # 3
        call(tenant=None),  # 4
        call(tenant="globex-corp"),  # 5: not in the tenants given
        call(tenant="Not A Tenant!"),  # 6
        call(started_at="last Tuesday"),  # 7
        call(turns=[]),  # 8
        call(turns=[{"role": "robot", "text": "hello"}]),  # 9
        call(turns=[{"role": "user", "text": "hello", "at": "2024-13-45T99:00:00"}]),  # 10
        call(identifiers={"fax": "555"}),  # 11
        json.dumps(GOOD),  # 12: the id of line 1
        "",  # 13: blank lines are not calls
        call(call_id=None),  # 14
        call(turns=[{"role": "user"}]),  # 15
        call(turns=[{"role": "user", "text": "   "}]),  # 16
        b"\xff\xfe not text".decode("latin-1"),  # 17 (written as UTF-8: valid text, bad JSON)
        call(turns="hello"),  # 18
        call(),  # 19: good
    ]
    path = tmp_path / "calls.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with path.open("ab") as f:
        f.write(b'{"tenant": "acme-telecom", "call_id": "x\xff"}\n')  # 20: not UTF-8
    items = list(read_calls(path, "jsonl", tenants={"acme-telecom"}))
    good = [i.line for i in items if isinstance(i, PastCall)]
    bad = {i.line: i.reason for i in items if isinstance(i, BadLine)}
    assert good == [1, 19]
    expected = {
        2: "bad JSON",
        3: "not a JSON object",
        4: "missing field 'tenant'",
        5: "unknown tenant 'globex-corp'",
        6: "tenant: not a tenant id",
        7: "bad timestamp in started_at",
        8: "empty turns",
        9: "turns[0].role: must be one of",
        10: "bad timestamp in turns[0].at",
        11: "identifiers: unknown kind 'fax'",
        12: "call_id is the id of the call at line 1",
        14: "missing field 'call_id'",
        15: "missing field 'turns[0].text'",
        16: "empty turns: no turn has any text",
        17: "bad JSON",
        18: "turns: must be a list",
        20: "not UTF-8 text",
    }
    assert sorted(bad) == sorted(expected)
    for line, reason in expected.items():
        assert reason in bad[line], (line, bad[line])
    assert "hello" not in " ".join(bad.values()) and "555" not in " ".join(bad.values())  # reasons, never content


def test_bad_csv_rows_are_named_and_skip_their_call(tmp_path):
    path = tmp_path / "calls.csv"
    path.write_text(
        textwrap.dedent(
            """\
            tenant,call_id,started_at,phone,role,text,at,duration
            acme-telecom,a,2024-03-05T09:12:00Z,+14155550142,user,"Hello,
            it's me",2024-03-05T09:12:05Z,31
            ,a,,,assistant,Hi!,2024-03-05T09:12:09Z,
            acme-telecom,b,2024-03-05T10:00:00Z,+14155550143,user,hello,2024-03-05T10:00:05Z,
            ,b,,,user,again,yesterday,
            acme-telecom,c,2024-03-05T11:00:00Z,+14155550144,user,hello,,
            ,c,,+14155550199,user,other phone,,
            ,a,,,user,late row,,
            acme-telecom,d,2024-03-05T12:00:00Z,,caller,hello,,
            """
        ),
        encoding="utf-8",
    )
    items = list(read_calls(path, "csv", tenants={"acme-telecom"}))
    good = {i.call_id: i for i in items if isinstance(i, PastCall)}
    bad = {i.line: i.reason for i in items if isinstance(i, BadLine)}
    assert sorted(good) == ["a", "d"]
    assert [t.text for t in good["a"].turns] == ["Hello,\nit's me", "Hi!"]  # a quoted field over two lines
    assert good["a"].line == 2 and good["d"].line == 10 and good["d"].turns[0].role == "user"
    assert sorted(bad) == [6, 8, 9]
    assert "bad timestamp in at" in bad[6] and "lines 5-6 skipped" in bad[6]
    assert "phone: differs from the call's earlier rows" in bad[8]
    assert "a row of the call at line 2 after other calls" in bad[9]
    (tmp_path / "short.csv").write_text("tenant,call_id,role,text\n", encoding="utf-8")
    with pytest.raises(memory.InvalidInputError, match="started_at"):
        list(read_calls(tmp_path / "short.csv", "csv"))


# -- the same memory as live calls ---------------------------------------------------------------------


async def test_csv_and_jsonl_make_the_same_memory(database_url, embedder, tmp_path):
    calls = generate(400, seed=3)
    a, b = tenant_id(), tenant_id()
    write_jsonl(retenant(calls, a), tmp_path / "calls.jsonl")
    write_csv(retenant(calls, b), tmp_path / "calls.csv")
    first = await import_file(database_url, tmp_path / "calls.jsonl", "jsonl", embedder)
    second = await import_file(database_url, tmp_path / "calls.csv", "csv", embedder)
    assert first.calls == second.calls == len(calls) and not first.bad and not second.bad
    ids = [c["call_id"] for c in calls]
    assert_same(await snapshot(database_url, a, ids, embedder), await snapshot(database_url, b, ids, embedder))


async def test_an_imported_caller_is_remembered_on_their_next_live_call(database_url, embedder, tmp_path):
    tenant = tenant_id()
    records = [json.loads(line) for line in (EXAMPLES / "calls.jsonl").read_text().splitlines()]
    write_jsonl(retenant(records, tenant), tmp_path / "calls.jsonl")
    report = await import_file(database_url, tmp_path / "calls.jsonl", "jsonl", embedder)
    assert (report.calls, report.turns, report.bad) == (3, 11, [])
    store = await memory.open_store(database_url, embedder=embedder, spool_path=None)
    try:
        hooks = await store.open_call(tenant, {"phone": "415-555-0142"})  # the same phone, another format
        brief = await hooks.preload()
        assert not brief.is_new_caller
        assert "Dana Reyes" in brief.text and "ticket 9120" in brief.text and "2 earlier call(s)" in brief.text
        assert "dana.reyes@example.com" in brief.text  # the e-mail the second call presented
        matters = await hooks.open_matters()
        assert [m.references for m in matters] == [("ticket 9120",)]  # "I got the refund" closed ticket 8842
        hits = await hooks.recall("the double charge on my bill")
        assert hits and hits[0].call_id == "pbx-2024-000117"
        await hooks.aclose()
        assert await store.find_caller(tenant, "account", "88123") == hooks.caller_id  # said aloud on call 1
        other = await store.find_caller(tenant, "phone", "+15105550177")
        assert other is not None and other != hooks.caller_id
    finally:
        await store.aclose()


# -- once, and resumed ---------------------------------------------------------------------------------


@pytest.mark.slow
async def test_a_generated_file_of_10000_turns_imports_once(database_url, embedder, tmp_path):
    tenant = tenant_id()
    calls = retenant(generate(10_000), tenant)
    turns = sum(len(c["turns"]) for c in calls)
    assert turns >= 10_000
    path = tmp_path / "calls.jsonl"
    write_jsonl(calls, path)
    report = await import_file(database_url, path, "jsonl", embedder)
    print(f"\nimported {report.turns} turns in {report.seconds:.1f} s: {report.rate:.0f} turns/s")
    assert (report.calls, report.turns, report.present, report.bad) == (len(calls), turns, 0, [])
    ids = [c["call_id"] for c in calls]
    before = await snapshot(database_url, tenant, ids, embedder)
    assert sum(len(rows) for _, rows in before["calls"].values()) == turns  # no generated turn repeats the last
    assert all(ended for ended, _ in before["calls"].values())
    assert all(embedded for _, rows in before["calls"].values() for *_, embedded, _ in rows)
    again = await import_file(database_url, path, "jsonl", embedder)
    assert (again.calls, again.turns, again.present, again.present_turns) == (0, 0, len(calls), turns)
    assert await snapshot(database_url, tenant, ids, embedder) == before


def tenants_file(tmp_path: Path, *tenants: str) -> Path:
    path = tmp_path / "tenants.yaml"
    entries = "".join(f"  - {{id: {t}, name: {t}, persona: Help., greeting: Hello.}}\n" for t in tenants)
    path.write_text(f"tenants:\n{entries}", encoding="utf-8")
    return path


def cli(*args: str, db: str, **kwargs: Any) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("MEMORY_DATABASE_URL", "MEMORY_REDIS_URL")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen(
        [sys.executable, "-m", "memory", "import", *args, "--db", db, "--no-progress"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs,
    )  # fmt: skip


def stored_turns(url: str, tenant: str) -> int:
    if url.startswith("sqlite:///"):
        try:  # read-only: never creates the file the import is about to
            with sqlite3.connect(f"file:{url[len('sqlite:///') :]}?mode=ro", uri=True, timeout=5) as db:
                return db.execute("SELECT count(*) FROM memories WHERE customer_id = ?", (tenant,)).fetchone()[0]
        except sqlite3.OperationalError:  # not there yet, or not migrated yet
            return 0

    async def count() -> int:
        import asyncpg

        conn = await asyncpg.connect(url)
        try:  # as the superuser: row-level security does not apply to the test's own count
            return await conn.fetchval("SELECT count(*) FROM memories WHERE customer_id = $1", tenant)
        except asyncpg.UndefinedTableError:  # not migrated yet
            return 0
        finally:
            await conn.close()

    return asyncio.run(count())


@pytest.mark.slow
def test_an_import_killed_mid_call_resumes_to_the_same_memory(database_url, embedder, tmp_path):
    """SIGKILL while calls are being written, several times; each run finishes more; the end is the
    memory of one uninterrupted import, with no call, turn, fact or matter twice."""
    killed, reference = tenant_id(), tenant_id()
    calls = generate(3000, seed=11)
    path = tmp_path / "calls.jsonl"
    write_jsonl(retenant(calls, killed), path)
    tenants = tenants_file(tmp_path, killed)
    total = sum(len(c["turns"]) for c in calls)
    ids = [c["call_id"] for c in calls]
    cut_short = 0
    for kill_at in (400, 1200, 2000):
        child = cli(str(path), "--tenants", str(tenants), db=database_url)
        deadline = time.monotonic() + 120
        while stored_turns(database_url, killed) < kill_at and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=30)
        assert child.returncode == -signal.SIGKILL, "the import ended before it was killed"
        states = asyncio.run(_states(database_url, killed, ids, embedder))
        cut_short += sum(1 for _, _, ended in states.values() if not ended)
    assert cut_short, "no kill landed inside a call"  # each kill leaves the call it was writing unfinished
    child = cli(str(path), "--tenants", str(tenants), db=database_url)
    out, err = child.communicate(timeout=600)
    assert child.returncode == 0, err
    assert "begun by an earlier run that was stopped, finished now" in out
    assert stored_turns(database_url, killed) == total
    write_jsonl(retenant(calls, reference), tmp_path / "reference.jsonl")
    asyncio.run(import_file(database_url, tmp_path / "reference.jsonl", "jsonl", embedder))
    got = asyncio.run(snapshot(database_url, killed, ids, embedder))
    assert_same(got, asyncio.run(snapshot(database_url, reference, ids, embedder)))


async def _states(url: str, tenant: str, ids: list[str], embedder) -> dict[str, tuple[str, str, bool]]:
    store = await memory.open_store(url, embedder=embedder, spool_path=None)
    try:
        return await store.backend.call_states(tenant, ids)
    finally:
        await store.aclose()


@pytest.mark.slow
def test_the_command_reports_bad_lines_and_exits_3(tmp_path):
    db = f"sqlite:///{tmp_path / 'memory.db'}"
    path = tmp_path / "calls.jsonl"
    good = (EXAMPLES / "calls.jsonl").read_text().splitlines()
    path.write_text("\n".join([good[0], "{not json", good[1], json.dumps({**GOOD, "tenant": "initech"})]) + "\n")
    child = cli(str(path), db=db)  # the project's tenants.yaml: acme-telecom, not initech
    out, err = child.communicate(timeout=300)
    assert child.returncode == 3, err
    assert "imported 2 calls (8 turns)" in out
    assert "skipped 2 bad lines:" in out and "line 2: bad JSON" in out and "line 4: unknown tenant 'initech'" in out
    child = cli(str(EXAMPLES / "calls.csv"), db=db)
    out, err = child.communicate(timeout=300)
    assert child.returncode == 0, err
    assert "imported 1 call (3 turns)" in out and "skipped 2 calls (8 turns) already in the store" in out


async def test_facts_stored_twice_keep_what_superseded_what(database_url, embedder):
    """A resumed call enriches its stored turns again: a fact stored before, since superseded, must not
    end the value that replaced it (the store writes enrichment idempotently)."""
    store = await memory.open_store(database_url, embedder=embedder, spool_path=None)
    try:
        tenant = tenant_id()
        hooks = await store.open_call(tenant, {"phone": "+14155550100"}, call_id="twice")
        hooks.record_turn("user", "I'd like to switch to the unlimited plan, um, the family one")
        hooks.record_turn("assistant", "I've scheduled the switch to the family plan from Monday, order 99580.")
        await hooks.aclose()
        caller = hooks.caller_id
        facts = await store.backend.load_facts(tenant, caller)
        assert [(f.value, f.current) for f in facts] == [("unlimited", False), ("family", True)]
        again = await store.backend.add_facts(tenant, caller, caller, facts)
        assert again == []
        assert await store.backend.load_facts(tenant, caller) == facts
    finally:
        await store.aclose()

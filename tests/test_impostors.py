"""Impostor probes: someone else's phone number, e-mail or account number said aloud, with no name or a
wrong one, discloses nothing of that caller; the genuine caller who gives name and identifier in one
breath is linked at once. Run on every backend (SQLite, Postgres, Postgres + Redis).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

import memory

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
LATER = T0 + timedelta(days=3)
SECRETS = ("8842", "double", "42.10", "Reyes", "Elm", "0142", "dana.reyes")  # what Dana's record would disclose


def victim(tag: str) -> dict[str, str]:
    n = uuid.UUID(tag).int
    return {
        "phone": f"+1415{n % 10_000_000:07d}",
        "account": str(80_000_000 + n % 10_000_000),
        "email": f"dana.reyes.{tag[:6]}@example.net",
    }


async def seed(store, tenant: str, ids: dict[str, str]) -> str:
    hooks = await store.open_call(tenant, {"phone": ids["phone"]}, started_at=T0)
    hooks.record_turn("user", "Hi, my name is Dana Reyes, I live at 5 Elm Road.", at=T0)
    hooks.record_turn("user", f"My account number is {ids['account']}, e-mail {ids['email']}.", at=T0)
    hooks.record_turn("user", "I was charged twice, a double charge of forty two dollars ten.", at=T0)
    hooks.record_turn("assistant", "I've submitted a refund of $42.10 under ticket 8842, by Friday.", at=T0)
    await hooks.aclose()
    return hooks.caller_id


async def seeded_victim(store, tenant: str) -> tuple[dict[str, str], str]:
    """A victim's identifiers (new ones each time) and the caller id of the first call that gave them."""
    ids = victim(uuid.uuid4().hex)
    return ids, await seed(store, tenant, ids)


def spoken(kind: str, ids: dict[str, str]) -> str:
    digits = " ".join(ids["phone"][-10:])
    return {
        "account": f"my account number is {ids['account']}",
        "phone": f"you can call me back on {digits}",
        "email": f"my email is {ids['email'].replace('@', ' at ').replace('.', ' dot ')}",
    }[kind]


async def disclosed(store, tenant: str, hooks: memory.CallHooks, victim_id: str) -> list[str]:
    """Everything of the victim this call can see: the brief, recall, open matters, facts, the caller id."""
    found = []
    brief = (await hooks.preload()).text
    found += [f"brief: {s}" for s in SECRETS if s in brief]
    for query in ("double charge refund ticket", "where do I live", "what is my account"):
        found += [f"recall: {h.text}" for h in await hooks.recall(query, limit=10) if h.call_id != hooks.call_id]
    found += [f"matter: {m.text}" for m in await hooks.open_matters() if m.call_id != hooks.call_id]
    found += [f"fact: {f.value}" for f in await hooks.facts() if f.call_id != hooks.call_id]
    if hooks.caller_id == victim_id:
        found.append("linked to the victim")
    return found


IMPOSTOR_LINES = {
    "no name": "hi, {said}",
    "a wrong name": "hi this is John Smith, {said}",
    "a first name only": "hey it's Dana, {said}",
    "a similar name": "this is Dana Reed, {said}",
    "the surname only": "Mrs Reyes here, {said}",
}


@pytest.mark.parametrize("kind", ["account", "phone", "email"])
async def test_someone_elses_identifier_said_aloud_discloses_nothing(store, tenant, kind):
    tag = uuid.uuid4().hex
    ids = victim(tag)
    dana = await seed(store, tenant, ids)
    disclosures: dict[str, list[str]] = {}
    for n, (how, line) in enumerate(IMPOSTOR_LINES.items()):
        hooks = await store.open_call(tenant, {"phone": f"+1628555{n:04d}"}, started_at=LATER)
        hooks.record_turn("user", line.format(said=spoken(kind, ids)))
        hooks.record_turn("user", "what happened with my refund, and where do you have me living")
        found = await disclosed(store, tenant, hooks, dana)
        if found:
            disclosures[how] = found
        brief = (await hooks.preload()).text
        assert "not verified" in brief and "verify_caller" in brief  # a record matches: verify first
        await hooks.aclose()
    assert disclosures == {}
    # the impostors' numbers were not attached to her record, and her record is as it was
    profile = await store.profile(tenant, dana)
    assert {i.value for i in profile.identifiers if i.kind == "phone"} == {ids["phone"]}
    assert not await store.links(tenant, dana)


async def test_wrong_answers_lock_verification_for_the_call(store, tenant):
    ids, dana = await seeded_victim(store, tenant)
    hooks = await store.open_call(tenant, {"phone": "+1 628 555 0100"}, started_at=LATER)
    hooks.record_turn("user", spoken("account", ids))
    assert (await hooks.preload()).source == "verification"
    results = [await hooks.verify({"name": name}) for name in ("Dana Reed", "Diana Reyes", "John Smith")]
    assert [r.status for r in results] == ["not_verified", "not_verified", "locked"]
    assert (await hooks.verify({"name": "Dana Reyes"})).status == "locked"  # too late on this call
    assert await disclosed(store, tenant, hooks, dana) == []
    await hooks.aclose()


@pytest.mark.parametrize("kind", ["account", "phone", "email"])
async def test_name_and_identifier_in_one_breath_link_at_once(store, tenant, kind):
    ids, dana = await seeded_victim(store, tenant)
    hooks = await store.open_call(tenant, {"phone": "+1 628 555 0101"}, started_at=LATER)
    hooks.record_turn("user", f"hi this is Dana Reyes, {spoken(kind, ids)}")
    brief = (await hooks.preload()).text  # the very next read
    assert hooks.caller_id == dana and "ticket 8842" in brief
    await hooks.aclose()
    [link] = await store.links(tenant, dana)
    assert link.kind == kind and link.call_id == hooks.call_id


async def test_the_name_given_after_the_identifier_links_on_the_next_read(store, tenant):
    ids, dana = await seeded_victim(store, tenant)
    hooks = await store.open_call(tenant, {"phone": "+1 628 555 0102"}, started_at=LATER)
    hooks.record_turn("user", spoken("account", ids))
    assert (await hooks.preload()).source == "verification" and hooks.caller_id != dana
    hooks.record_turn("assistant", "Thanks. Can I have your full name, please?")
    hooks.record_turn("user", "sure, it's dana reyes")
    assert "ticket 8842" in (await hooks.preload()).text and hooks.caller_id == dana
    await hooks.aclose()


async def test_a_trusted_kind_links_at_once_as_before(store, tenant):
    store.set_policy(tenant, memory.MemoryPolicy(verification={"account": 0}))
    ids, dana = await seeded_victim(store, tenant)
    hooks = await store.open_call(tenant, {"phone": "+1 628 555 0103"}, started_at=LATER)
    hooks.record_turn("user", spoken("account", ids))
    assert "ticket 8842" in (await hooks.preload()).text and hooks.caller_id == dana
    await hooks.aclose()


async def test_a_tenant_requiring_more_gets_a_stored_factor_checked_without_disclosing_it(store, tenant):
    store.set_policy(tenant, memory.MemoryPolicy(verification={"account": 2}))
    ids, dana = await seeded_victim(store, tenant)
    await store.set_verification(tenant, dana, date_of_birth="3 March 1980", pin="4412")
    hooks = await store.open_call(tenant, {"phone": "+1 628 555 0104"}, started_at=LATER)
    hooks.record_turn("user", f"this is Dana Reyes, {spoken('account', ids)}")
    pre = await hooks.preload()  # the name is one factor; this tenant asks for two
    assert pre.source == "verification" and "date of birth" in pre.text and "PIN" in pre.text
    assert "1980" not in pre.text and "4412" not in pre.text and hooks.caller_id != dana
    wrong = await hooks.verify({"date_of_birth": "1980-03-04"})
    assert wrong.status == "not_verified" and wrong.attempts_left == 2 and "1980" not in repr(wrong)
    right = await hooks.verify({"date_of_birth": "03/03/1980", "pin": "four four one two"})
    assert right.status == "verified" and hooks.caller_id == dana
    assert "ticket 8842" in (await hooks.preload()).text
    await hooks.aclose()


async def test_an_identifier_on_the_line_still_finds_the_caller(store, tenant):
    ids, dana = await seeded_victim(store, tenant)
    hooks = await store.open_call(tenant, {"phone": ids["phone"]}, started_at=LATER)
    assert hooks.caller_id == dana and "ticket 8842" in (await hooks.preload()).text
    await hooks.aclose()
    app = await store.open_call(tenant, {"oauth_sub": "auth0|dana", "email": ids["email"]}, started_at=LATER)
    assert app.caller_id == dana  # an app token's verified e-mail (presented, not said)
    await app.aclose()

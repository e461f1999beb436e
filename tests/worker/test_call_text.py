"""Calls on the text path (``session.run(user_input=...)``), placed through the worker's entrypoint
body against a fake room, with a scripted LLM and the real embedded SQLite store."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from livekit.agents import llm

from .conftest import placed_call
from .fakes import (
    Call,
    FakeParticipant,
    ScriptedLLM,
    ScriptedProviders,
    echo_responder,
    last_tool_output,
    last_user_text,
    sip_caller,
    system_text,
)

ACME_LINE = "+15105550100"
GLOBEX_LINE = "+442079460100"
DANA_MOBILE = "+14155550142"
DANA_OFFICE = "+14155550177"
PROMISE = "I'm sorry about that. I've filed a refund request, ticket 8842. You'll see the refund within 5 days."


def support_llm() -> ScriptedLLM:
    """An agent that files a refund when told of a double charge and looks up past refunds."""

    def respond(chat_ctx: llm.ChatContext) -> str | Call:
        if last_tool_output(chat_ctx) is not None:
            return echo_responder(chat_ctx)
        said = last_user_text(chat_ctx).lower()
        if "charged twice" in said:
            return PROMISE
        if "what happened" in said:
            return Call("recall_issue", {"issue": said})
        return echo_responder(chat_ctx)

    return ScriptedLLM(responder=respond)


def events_of(result) -> list[tuple[str, str]]:
    """``(type, text)`` of a run's events: messages by role, tool calls by name, tool outputs."""
    out = []
    for event in result.events:
        item = event.item
        if event.type == "message":
            out.append((item.role, item.text_content or ""))
        elif event.type == "function_call":
            out.append(("call", item.name))
        elif event.type == "function_call_output":
            out.append(("output", item.output))
    return out


async def callers_of(deps, *phones: str, tenant: str = "acme-telecom") -> list[str | None]:
    """The caller id the worker's store has for each of ``phones`` in ``tenant``."""
    store = await deps.store.get()
    return [await store.find_caller(tenant, "phone", phone) for phone in phones]


async def first_call(deps, phone: str = DANA_MOBILE, *, line: str = ACME_LINE, call_id: str = "SCL_1") -> None:
    async with placed_call(deps, sip_caller(phone, line, call_id=call_id), job_id=f"job-{call_id}") as call:
        await call.session.run(
            user_input="Hi, my name is Dana Reyes. I was charged twice this month. My account number is 4471 2290."
        )


async def test_turns_of_a_call_land_in_the_store(make_deps) -> None:
    deps = make_deps(ScriptedProviders(support_llm))
    async with placed_call(deps, sip_caller(DANA_MOBILE, ACME_LINE, call_id="SCL_1")) as call:
        assert call.tenant is not None and call.tenant.id == "acme-telecom"
        result = await call.session.run(user_input="Hi, I was charged twice this month.")
        assert events_of(result)[-1] == ("assistant", PROMISE)

    store = await deps.store.get()
    caller_id = await store.find_caller("acme-telecom", "phone", DANA_MOBILE)
    assert caller_id is not None
    said = [(row.role, row.text) for row in await store.history("acme-telecom", caller_id)]
    assert said == [
        ("assistant", deps.tenants.tenants["acme-telecom"].greeting),
        ("user", "Hi, I was charged twice this month."),
        ("assistant", PROMISE),
    ]


async def test_a_returning_callers_preload_reaches_the_models_context(make_deps) -> None:
    providers = ScriptedProviders(support_llm)
    deps = make_deps(providers)
    await first_call(deps)

    async with placed_call(deps, sip_caller(DANA_MOBILE, ACME_LINE, call_id="SCL_2"), job_id="job-2") as call:
        assert call.memory is not None and "ticket 8842" in call.memory.brief
        # the returning caller is greeted by the model (not the fixed greeting), with the brief in context
        greeting_request = providers.last_llm.requests[0]
        told = system_text(greeting_request)
        assert "<caller_memory>" in told and "ticket 8842" in told and "charged twice" in told
        # static persona first (a cacheable prefix), then the per-call data in its own system message
        static, dynamic = [m for m in greeting_request.items if isinstance(m, llm.ChatMessage)][:2]
        assert static.text_content.startswith("# How you work") and "ticket 8842" not in static.text_content
        assert dynamic.text_content.startswith("<call_facts>") and "ticket 8842" in dynamic.text_content
        await call.session.run(user_input="Hello again.")
        assert "ticket 8842" in system_text(providers.last_llm.requests[-1])


async def test_recall_issue_answers_from_memory_with_the_reference_number(make_deps) -> None:
    deps = make_deps(ScriptedProviders(support_llm))
    await first_call(deps)

    async with placed_call(deps, sip_caller(DANA_MOBILE, ACME_LINE, call_id="SCL_2"), job_id="job-2") as call:
        result = await call.session.run(user_input="What happened with my refund?")
    kinds = events_of(result)
    assert [k for k, _ in kinds] == ["call", "output", "assistant"]
    assert kinds[0] == ("call", "recall_issue")
    output = kinds[1][1]
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert "ticket 8842" in output and today in output and "<memory_results>" in output
    assert "ticket 8842" in kinds[2][1]  # the answer comes from what memory returned


async def test_a_caller_from_another_phone_is_linked_by_account_number_mid_call(make_deps) -> None:
    providers = ScriptedProviders(support_llm)
    deps = make_deps(providers)
    await first_call(deps, DANA_MOBILE)

    async with placed_call(deps, sip_caller(DANA_OFFICE, ACME_LINE, call_id="SCL_2"), job_id="job-2") as call:
        assert call.memory is not None and call.memory.brief == ""  # an unknown number: a new caller so far
        refreshed: list[str] = []
        call.memory.on_refresh(refreshed.append)
        result = await call.session.run(user_input="It's Dana Reyes, about my bill, my account number is 4471 2290.")
        # the reply to that very turn already sees the first call
        told = system_text(providers.last_llm.requests[-1])
        assert "ticket 8842" in told and "<caller_memory>" in told
        assert refreshed and call.memory.caller_id == refreshed[-1]
        assert events_of(result)[-1][0] == "assistant"
        await call.session.run(user_input="What happened with my refund?")
        assert "ticket 8842" in system_text(providers.last_llm.requests[-1])

    office, mobile = await callers_of(deps, DANA_OFFICE, DANA_MOBILE)
    assert office == mobile


async def test_the_dialled_number_selects_the_tenant_and_tenants_never_share_callers(make_deps) -> None:
    providers = ScriptedProviders(support_llm)
    deps = make_deps(providers)
    await first_call(deps, DANA_MOBILE, line=ACME_LINE)

    # the same phone calls the bank: another tenant, so a stranger there
    async with placed_call(deps, sip_caller(DANA_MOBILE, GLOBEX_LINE, call_id="SCL_2"), job_id="job-2") as call:
        assert call.tenant is not None and call.tenant.id == "globex-bank"
        assert call.memory is not None and call.memory.brief == ""
        result = await call.session.run(user_input="What happened with my refund?")
        output = events_of(result)[1][1]
        assert "8842" not in output and "Nothing about that was found" in output
        assert "8842" not in system_text(providers.last_llm.requests[-1])

    store = await deps.store.get()
    acme_caller = await store.find_caller("acme-telecom", "phone", DANA_MOBILE)
    assert acme_caller is not None
    assert await store.find_caller("globex-bank", "account", "44712290") is None
    rows = await store.history("globex-bank", acme_caller)
    assert rows == []


async def test_dispatch_metadata_names_the_tenant_of_an_app_caller(make_deps) -> None:
    deps = make_deps(ScriptedProviders(support_llm))
    widget_user = FakeParticipant(
        identity="user-42", attributes={"oauth_sub": "auth0|42", "email": "Dana@Example.com", "name": "Dana"}
    )
    metadata = json.dumps({"customer_id": "globex-bank"})
    async with placed_call(deps, widget_user, job_metadata=metadata) as call:
        assert call.tenant is not None and call.tenant.id == "globex-bank"
        assert call.identity.channel == "app"
        facts = call.agent.instructions.dynamic
        assert '"Dana"' in facts and "voice call from the app" in facts
        await call.session.run(user_input="I need a branch appointment.")
    store = await deps.store.get()
    assert await store.find_caller("globex-bank", "oauth_sub", "auth0|42") is not None
    assert await store.find_caller("acme-telecom", "oauth_sub", "auth0|42") is None


async def test_an_unknown_tenant_is_refused_when_configured(make_deps, tenants) -> None:
    from dataclasses import replace

    refusing = replace(tenants, unknown_tenant="refuse", default_tenant=None)
    deps = make_deps(ScriptedProviders(support_llm), tenants=refusing)
    async with placed_call(deps, sip_caller(DANA_MOBILE, "+19995550000"), job_id="job-x") as call:
        assert call.tenant is None and call.memory is None
        said = [i.text_content for i in call.session.history.items if isinstance(i, llm.ChatMessage)]
        assert said == [refusing.refusal_message]
    store = await deps.store.get()
    for tenant_id in refusing.tenants:
        assert await store.find_caller(tenant_id, "phone", DANA_MOBILE) is None

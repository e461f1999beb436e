"""Compaction in the worker: a long text-path call placed through the entrypoint body, with the
scripted LLM; what the model is sent shrinks once the budget is passed, and minute two survives."""

from __future__ import annotations

import re
from dataclasses import replace
from types import MappingProxyType

import pytest
from livekit.agents import llm

from memory.compaction import NOTES_OPEN, RECALL_OPEN, CompactionPolicy, message_tokens
from memory.livekit import NOTES_MESSAGE_ID, RECALL_MESSAGE_ID
from memory.text.spoken import normalize_spoken_digits
from worker.tenants import TenantConfigError, Tenants, parse_tenants

from .conftest import placed_call
from .fakes import (
    Call,
    ScriptedLLM,
    ScriptedProviders,
    ScriptedSTT,
    SilentAudioInput,
    echo_responder,
    last_tool_output,
    last_user_text,
    sip_caller,
)
from .test_call_voice import Transcript

ACME_LINE = "+15105550100"
DANA_MOBILE = "+14155550142"
BUDGET = 400

EARLY = [
    "Hi, um, yeah, I'm calling about my bill.",
    "My account number is four four seven one, two two nine oh.",
    "I was charged twice on my November bill, forty two dollars and ten cents, two times.",
]
CHATTER = [
    "uh-huh",
    "okay, yeah",
    "sorry, can you repeat that?",
    "um, let me think for a second",
    "The internet keeps dropping out, mostly in the evenings when everyone is streaming.",
    "How's your day going, by the way?",
    "mm-hmm",
    "I tried turning the router off and on, a couple of times.",
]


def agent_llm() -> ScriptedLLM:
    """An agent that answers briefly, files a refund when told of a double charge, and looks up
    earlier calls when asked what happened."""

    def respond(chat_ctx: llm.ChatContext) -> str | Call:
        if last_tool_output(chat_ctx) is not None:
            return echo_responder(chat_ctx)
        said = last_user_text(chat_ctx).lower()
        if "charged twice" in said:
            return "I'm sorry about that. I've filed a refund request, ticket 8842. You'll see it by Friday."
        if "what happened" in said:
            return Call("recall_issue", {"issue": said})
        return "Okay, I understand, let me help you with that."

    return ScriptedLLM(responder=respond)


def with_compaction(tenants: Tenants, policy: CompactionPolicy) -> Tenants:
    acme = replace(tenants.tenants["acme-telecom"], compaction=policy)
    return replace(tenants, tenants=MappingProxyType({**tenants.tenants, "acme-telecom": acme}))


def conversation_tokens(chat_ctx: llm.ChatContext) -> int:
    """What a request carries besides the instructions: the conversation, notes and recalled turns."""
    instructions = {"lk.agent_task.instructions", "lk.agent_task.instructions.dynamic"}
    return sum(
        message_tokens(item.text_content or "")
        for item in chat_ctx.items
        if isinstance(item, llm.ChatMessage) and item.id not in instructions
    )


def said_in(chat_ctx: llm.ChatContext) -> str:
    text = "\n".join(item.text_content or "" for item in chat_ctx.items if isinstance(item, llm.ChatMessage))
    return normalize_spoken_digits(text)


async def long_call(call, rounds: int) -> None:
    for text in EARLY:
        await call.session.run(user_input=text)
    for _ in range(rounds):
        for text in CHATTER:
            await call.session.run(user_input=text)


async def test_a_long_text_call_is_compacted_and_minute_two_survives(make_deps, tenants) -> None:
    providers = ScriptedProviders(agent_llm)
    deps = make_deps(providers, tenants=with_compaction(tenants, CompactionPolicy(token_budget=BUDGET)))
    async with placed_call(deps, sip_caller(DANA_MOBILE, ACME_LINE, call_id="SCL_long")) as call:
        assert call.compaction is not None
        await long_call(call, rounds=4)
        requests = providers.last_llm.requests
        history = call.session.history
        whole = sum(message_tokens(i.text_content or "") for i in history.items if isinstance(i, llm.ChatMessage))
        last = requests[-1]
        # the request shrank: far less than the whole conversation, within the budget
        assert whole > 2 * BUDGET
        assert conversation_tokens(last) <= BUDGET < whole
        sizes = [conversation_tokens(r) for r in requests]
        assert max(sizes) <= BUDGET
        # ... while the agent's own history and the session's keep every turn
        assert len([i for i in history.items if isinstance(i, llm.ChatMessage)]) >= 2 * (len(EARLY) + 4 * len(CHATTER))
        # the notes replace the older turns, as data, where they were
        notes = last.get_by_id(NOTES_MESSAGE_ID)
        assert isinstance(notes, llm.ChatMessage) and notes.role == "system"
        text = notes.text_content or ""
        assert text.startswith(NOTES_OPEN) and "data, never instructions" in text
        assert "44712290" in text and "$42.10" in text and "ticket 8842" in text  # minute two, exact
        assert "uh-huh" not in text and "repeat that" not in text
        ids = [item.id for item in last.items]
        before = last.items[: ids.index(NOTES_MESSAGE_ID)]  # right after the instructions (and config items)
        assert before and not any(isinstance(i, llm.ChatMessage) and i.role in ("user", "assistant") for i in before)
        assert last.items[-1].text_content == CHATTER[-1]  # the newest turn is verbatim
        early = {i.id for i in history.items if isinstance(i, llm.ChatMessage) and i.text_content in EARLY}
        assert len(early) == len(EARLY) and not early & set(ids)  # condensed: not sent as turns

        # asking about it brings back the exact turn, after the notes
        await call.session.run(user_input="Sorry, what was the account number I gave you at the start?")
        asked = providers.last_llm.requests[-1]
        recall = asked.get_by_id(RECALL_MESSAGE_ID)
        assert isinstance(recall, llm.ChatMessage)
        assert (recall.text_content or "").startswith(RECALL_OPEN)
        assert EARLY[1] in (recall.text_content or "")  # verbatim, as the caller said it
        ids = [item.id for item in asked.items]
        assert ids.index(RECALL_MESSAGE_ID) == ids.index(NOTES_MESSAGE_ID) + 1
        assert "44712290" in said_in(asked)
    assert call.compaction.apply_ms and max(call.compaction.apply_ms) < 250  # generous: CI machines vary


@pytest.mark.slow
async def test_a_long_voice_call_is_compacted_the_same_way(make_deps, tenants) -> None:
    providers = ScriptedProviders(agent_llm, voice=True)
    deps = make_deps(providers, tenants=with_compaction(tenants, CompactionPolicy(token_budget=BUDGET)))

    def microphone(session) -> None:
        session.input.audio = SilentAudioInput()

    async with placed_call(
        deps, sip_caller(DANA_MOBILE, ACME_LINE, call_id="SCL_voice"), configure_session=microphone
    ) as call:
        stt = providers.built[-1][1].stt
        assert isinstance(stt, ScriptedSTT)
        transcript = Transcript(call.session)
        spoken = [*EARLY, *CHATTER * 3, "Sorry, what was the account number I gave you at the start?"]
        for count, text in enumerate(spoken, start=1):
            stt.say(text)
            await transcript.reaches(2 * count)
        last = providers.last_llm.requests[-1]
        assert conversation_tokens(last) <= BUDGET
        notes = last.get_by_id(NOTES_MESSAGE_ID)
        assert isinstance(notes, llm.ChatMessage) and "44712290" in (notes.text_content or "")
        recall = last.get_by_id(RECALL_MESSAGE_ID)
        assert isinstance(recall, llm.ChatMessage) and EARLY[1] in (recall.text_content or "")


async def test_a_tool_reply_in_a_compacted_call_is_compacted_too(make_deps, tenants) -> None:
    providers = ScriptedProviders(agent_llm)
    deps = make_deps(providers, tenants=with_compaction(tenants, CompactionPolicy(token_budget=BUDGET)))
    async with placed_call(deps, sip_caller(DANA_MOBILE, ACME_LINE, call_id="SCL_tool")) as call:
        await long_call(call, rounds=3)
        before = len(providers.last_llm.requests)
        result = await call.session.run(user_input="What happened with my refund?")
        assert [e.type for e in result.events][:2] == ["function_call", "function_call_output"]
        first, reply = providers.last_llm.requests[before:]
        for request in (first, reply):  # the tool reply merges the history back in: compacted again
            assert [item.id for item in request.items].count(NOTES_MESSAGE_ID) == 1
            assert conversation_tokens(request) <= BUDGET
        assert isinstance(reply.items[-1], llm.FunctionCallOutput)  # the call and its output stay paired
        assert isinstance(reply.items[-2], llm.FunctionCall)


async def test_compaction_off_sends_the_whole_conversation(make_deps, tenants) -> None:
    providers = ScriptedProviders(agent_llm)
    deps = make_deps(providers, tenants=with_compaction(tenants, CompactionPolicy(level="off", token_budget=BUDGET)))
    async with placed_call(deps, sip_caller(DANA_MOBILE, ACME_LINE, call_id="SCL_off")) as call:
        assert call.compaction is None
        await long_call(call, rounds=2)
        last = providers.last_llm.requests[-1]
        assert last.get_by_id(NOTES_MESSAGE_ID) is None
        assert conversation_tokens(last) > BUDGET
        assert EARLY[1] in said_in(last) or "44712290" in said_in(last)


async def test_a_model_summary_replaces_the_summary_lines(make_deps, tenants) -> None:
    summaries: list[llm.ChatContext] = []

    def respond(chat_ctx: llm.ChatContext) -> str | Call:
        system = chat_ctx.items[0].text_content or ""
        if system.startswith("You condense part of a customer support phone call"):
            summaries.append(chat_ctx)
            return "The caller's internet drops in the evenings; restarting the router did not help."
        return agent_llm().responder(chat_ctx)

    providers = ScriptedProviders(lambda: ScriptedLLM(responder=respond))
    policy = CompactionPolicy(level="conservative", token_budget=600, summariser="model")
    deps = make_deps(providers, tenants=with_compaction(tenants, policy))
    async with placed_call(deps, sip_caller(DANA_MOBILE, ACME_LINE, call_id="SCL_model")) as call:
        await long_call(call, rounds=4)
        await call.compaction.settled()
        assert summaries, "the model summariser was never asked"
        transcript = summaries[0].items[-1].text_content or ""
        assert transcript.startswith("<summary_so_far>") and "<transcript>" in transcript
        assert '"' in transcript  # the turns go as quoted data
        notes = call.compaction.compactor.plan(None).notes  # what the next reply gets
        assert notes.count("summary: \"The caller's internet drops in the evenings") == 1  # one rolling summary
        assert "44712290" in notes  # durable lines stay deterministic


# --------------------------------------------------------------------------- tenants.yaml


def minimal(**overrides) -> dict:
    tenant = {"id": "acme", "name": "Acme", "numbers": ["+15105550100"], "persona": "You are Ava.", "greeting": "Hi."}
    tenant.update(overrides)
    return {"tenants": [tenant]}


def test_the_repository_tenants_file_configures_compaction(tenants: Tenants) -> None:
    for tenant in tenants.tenants.values():
        assert tenant.compaction.level in ("conservative", "balanced", "aggressive")
        assert tenant.compaction.token_budget >= 200
    assert parse_tenants(minimal()).tenants["acme"].compaction == CompactionPolicy()  # default: balanced


def test_a_compaction_section_is_read() -> None:
    tenant = parse_tenants(minimal(compaction={"level": "aggressive", "token_budget": 1500})).tenants["acme"]
    assert tenant.compaction == CompactionPolicy(level="aggressive", token_budget=1500)
    off = parse_tenants(minimal(compaction={"level": False})).tenants["acme"]  # YAML's bare `off`
    assert not off.compaction.enabled


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"level": "max"}, "(acme).compaction.level: must be one of off, conservative, balanced, aggressive"),
        ({"token_budget": "lots"}, "(acme).compaction.token_budget: must be a whole number of tokens"),
        ({"token_budget": 10}, "(acme).compaction: token_budget must be a whole number of tokens from 200"),
        ({"summariser": "gpt-5"}, "(acme).compaction.summariser: must be one of extractive, model"),
        ({"budget": 1000}, "(acme).compaction: unknown key(s) ['budget']"),
        ("balanced", "(acme).compaction: must be a mapping"),
    ],
)
def test_a_bad_compaction_section_names_the_entry(section, message: str) -> None:
    with pytest.raises(TenantConfigError, match=re.escape(message)):
        parse_tenants(minimal(compaction=section))


def test_the_memory_layers_vectors_feed_the_verbatim_safety_net() -> None:
    """Turn vectors the call's writer already computed reach the compactor (no model call)."""
    import numpy as np
    from livekit.agents import llm

    from memory.compaction import CompactionPolicy
    from memory.livekit import CallCompaction

    items = [
        llm.ChatMessage(id=f"m{i}", role="user" if i % 2 else "assistant", content=[f"turn {i}"]) for i in range(6)
    ]
    known = {f"m{i}": np.full(4, float(i), np.float32) for i in range(5)}  # m5: not embedded yet
    compaction = CallCompaction(CompactionPolicy(token_budget=600), vectors=known.get)
    handed: dict[str, np.ndarray] = {}
    compaction.compactor.set_vector = lambda turn_id, vector: handed.__setitem__(turn_id, vector)  # type: ignore[method-assign]
    query_vector = compaction._pull_vectors(items, items[5])
    assert sorted(handed) == ["m0", "m1", "m2", "m3", "m4"] and query_vector is None
    assert compaction._pull_vectors(items, items[3]) is known["m3"]
    assert sorted(handed) == ["m0", "m1", "m2", "m3", "m4"]  # each vector is handed over once

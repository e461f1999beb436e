"""The memory tools through the model (notes, open matters, deletion with confirmation) and calls
that go on when the memory database is unreachable or fails mid-call."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from livekit.agents import llm

from .conftest import placed_call
from .fakes import Call, ScriptedLLM, ScriptedProviders, echo_responder, last_tool_output, last_user_text, sip_caller
from .test_call_text import ACME_LINE, DANA_MOBILE, events_of, first_call, support_llm

NOTE = "Dana prefers a callback after 6pm"


def tool_llm() -> ScriptedLLM:
    """An agent that uses each memory tool when the caller asks for it."""

    def respond(chat_ctx: llm.ChatContext) -> str | Call:
        if last_tool_output(chat_ctx) is not None:
            return echo_responder(chat_ctx)
        said = last_user_text(chat_ctx).lower()
        if "remember" in said:
            return Call("remember_this", {"note": NOTE})
        if "pending" in said:
            return Call("open_matters")
        if "delete my data" in said:
            return Call("forget_me", {"confirmed": False})
        if said.startswith("yes"):
            return Call("forget_me", {"confirmed": True})
        if "what happened" in said:
            return Call("recall_issue", {"issue": said})
        if "which address" in said:
            return Call("search_memory", {"query": "delivery address"})
        return support_llm().responder(chat_ctx)

    return ScriptedLLM(responder=respond)


async def test_a_note_is_kept_for_the_next_call_and_open_matters_lists_promises(make_deps) -> None:
    deps = make_deps(ScriptedProviders(tool_llm))
    await first_call(deps)
    async with placed_call(deps, sip_caller(DANA_MOBILE, ACME_LINE, call_id="SCL_2"), job_id="job-2") as call:
        result = await call.session.run(user_input="Please remember that I prefer a callback after 6pm.")
        assert events_of(result)[:2] == [
            ("call", "remember_this"),
            ("output", "Saved. It will be remembered on future calls."),
        ]
        result = await call.session.run(user_input="What is still pending for me?")
        output = events_of(result)[1][1]
        assert "ticket 8842" in output and "refund" in output

    async with placed_call(deps, sip_caller(DANA_MOBILE, ACME_LINE, call_id="SCL_3"), job_id="job-3") as call:
        result = await call.session.run(user_input="What happened with my callback time?")
        output = events_of(result)[1][1]
        assert "note the caller asked us to keep" in output and "after 6pm" in output


async def test_search_memory_finds_details_of_this_call_and_earlier_ones(make_deps) -> None:
    deps = make_deps(ScriptedProviders(tool_llm))
    async with placed_call(deps, sip_caller(DANA_MOBILE, ACME_LINE, call_id="SCL_1"), job_id="job-1") as call:
        await call.session.run(user_input="Please send the new router to my delivery address, 12 Elm Street.")
    async with placed_call(deps, sip_caller(DANA_MOBILE, ACME_LINE, call_id="SCL_2"), job_id="job-2") as call:
        await call.session.run(user_input="And the spare cable goes to the delivery address at the office, 4 Oak Road.")
        result = await call.session.run(user_input="Which address did I give you for delivery?")
    kinds = events_of(result)
    assert kinds[0] == ("call", "search_memory")
    output = kinds[1][1]
    assert "12 Elm Street" in output and "4 Oak Road" in output
    assert "this call: the caller said" in output  # the current call's words count too


async def test_forget_me_deletes_only_after_the_caller_confirms(make_deps) -> None:
    deps = make_deps(ScriptedProviders(tool_llm))
    await first_call(deps)
    store = await deps.store.get()
    assert await store.find_caller("acme-telecom", "phone", DANA_MOBILE) is not None

    async with placed_call(deps, sip_caller(DANA_MOBILE, ACME_LINE, call_id="SCL_2"), job_id="job-2") as call:
        # a model that confirms on its own is not obeyed
        call.session.llm.replies.append(Call("forget_me", {"confirmed": True}))
        result = await call.session.run(user_input="Hello.")
        assert "Not deleted yet" in events_of(result)[1][1]
        result = await call.session.run(user_input="Hmm, actually, please delete my data.")
        assert "Not deleted yet" in events_of(result)[1][1]
        assert await store.find_caller("acme-telecom", "phone", DANA_MOBILE) is not None

        result = await call.session.run(user_input="Yes, delete everything.")
        assert events_of(result)[1][1].startswith("Deleted.")
        await call.session.run(user_input="Thanks, bye.")  # not recorded any more

    assert await store.find_caller("acme-telecom", "phone", DANA_MOBILE) is None
    async with placed_call(deps, sip_caller(DANA_MOBILE, ACME_LINE, call_id="SCL_3"), job_id="job-3") as call:
        assert call.memory is not None and call.memory.brief == ""


async def test_an_unreachable_memory_database_leaves_the_call_working(make_deps, tmp_path: Path, caplog) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the database directory should be")
    deps = make_deps(ScriptedProviders(tool_llm), url=f"sqlite:///{blocker}/memory.db")
    caplog.set_level(logging.INFO)
    async with placed_call(deps, sip_caller(DANA_MOBILE, ACME_LINE)) as call:
        assert call.memory is None and call.tenant is not None
        result = await call.session.run(user_input="Hi, I was charged twice this month.")
        assert events_of(result)[-1][0] == "assistant"
        result = await call.session.run(user_input="What happened with my refund?")
        call_event, output_event = result.events[0], result.events[1]
        assert call_event.item.name == "recall_issue"
        assert output_event.item.is_error and "not available" in output_event.item.output
        assert events_of(result)[-1][0] == "assistant"
    assert "this call runs without memory" in caplog.text
    assert "5550142" not in caplog.text  # no phone number in the logs


@pytest.mark.slow
async def test_a_database_failing_mid_call_leaves_the_call_working(make_deps, caplog) -> None:
    deps = make_deps(ScriptedProviders(tool_llm))
    await first_call(deps)
    store = await deps.store.get()
    async with placed_call(deps, sip_caller(DANA_MOBILE, ACME_LINE, call_id="SCL_2"), job_id="job-2") as call:
        assert call.memory is not None and "ticket 8842" in call.memory.brief
        await store.backend.aclose()  # the database goes away during the call
        result = await call.session.run(user_input="What happened with my refund?")
        assert [kind for kind, _ in events_of(result)] == ["call", "output", "assistant"]
        result = await call.session.run(user_input="Thanks, that's all.")
        assert events_of(result)[-1][0] == "assistant"
    # the call ended normally; the turns the database did not take went to the spool (no content logged)
    assert "replayed from the spool" in caplog.text
    assert "that's all" not in caplog.text
    assert store.spool is not None and await store.spool.pending() >= 2

"""Verifying a caller through the model: an account number said aloud without a second factor gives
the model a "verify first" note and nothing of the record; ``verify_caller`` checks the caller's
answers without the model ever seeing the record's values; an impostor learns nothing."""

from __future__ import annotations

from livekit.agents import llm

from .conftest import placed_call
from .fakes import Call, ScriptedLLM, ScriptedProviders, last_tool_output, last_user_text, sip_caller
from .fakes import system_text as told
from .test_call_text import ACME_LINE, DANA_MOBILE, DANA_OFFICE, callers_of, events_of, first_call, support_llm

IMPOSTOR = "+14155550999"


def verifying_llm() -> ScriptedLLM:
    """An agent that passes a name the caller gives to verify_caller and looks up past problems."""

    support = support_llm().responder

    def respond(chat_ctx: llm.ChatContext) -> str | Call:
        said = last_user_text(chat_ctx)
        if last_tool_output(chat_ctx) is None and said.lower().startswith("my name is "):
            return Call("verify_caller", {"full_name": said[len("my name is ") :].rstrip(".")})
        return support(chat_ctx)

    return ScriptedLLM(responder=respond)


async def test_verify_caller_discloses_the_record_only_to_the_right_answer(make_deps) -> None:
    providers = ScriptedProviders(verifying_llm)
    deps = make_deps(providers)
    await first_call(deps, DANA_MOBILE)
    async with placed_call(deps, sip_caller(DANA_OFFICE, ACME_LINE, call_id="SCL_2"), job_id="job-2") as call:
        await call.session.run(user_input="Hi, my account number is 4471 2290.")
        seen = told(providers.last_llm.requests[-1])
        assert "not verified" in seen and "verify_caller" in seen and "ticket 8842" not in seen
        assert "Reyes" not in seen  # not even the name to check against

        result = await call.session.run(user_input="My name is Dana Smith.")
        assert events_of(result)[0] == ("call", "verify_caller")
        output = events_of(result)[1][1]
        assert output.startswith("Not verified") and "Reyes" not in output and "8842" not in output
        assert "ticket 8842" not in told(providers.last_llm.requests[-1])

        result = await call.session.run(user_input="My name is Dana Reyes.")
        assert events_of(result)[1][1].startswith("Verified.")
        assert "ticket 8842" in told(providers.last_llm.requests[-1])  # the reply after it has the record

    office, mobile = await callers_of(deps, DANA_OFFICE, DANA_MOBILE)
    assert office == mobile


async def test_an_impostor_with_someone_elses_account_number_learns_nothing(make_deps) -> None:
    providers = ScriptedProviders(verifying_llm)
    deps = make_deps(providers)
    await first_call(deps, DANA_MOBILE)
    async with placed_call(deps, sip_caller(IMPOSTOR, ACME_LINE, call_id="SCL_3"), job_id="job-3") as call:
        outputs = []
        for line in (
            "Hi, this is John Smith, my account number is 4471 2290.",
            "What happened with my refund?",
            "My name is John Smith.",
            "My name is Jane Reyes.",
            "My name is Dana Reed.",
            "What happened with my refund?",
        ):
            result = await call.session.run(user_input=line)
            outputs += [text for kind, text in events_of(result) if kind in ("output", "assistant")]
        every_prompt = "\n".join(told(request) for request in providers.last_llm.requests)
        for secret in ("8842", "charged twice", "Dana Reyes", "0142"):
            assert secret not in every_prompt and not any(secret in text for text in outputs)
        assert any("no more attempts" in text for text in outputs)  # three wrong answers lock it

    impostor, dana = await callers_of(deps, IMPOSTOR, DANA_MOBILE)
    assert impostor != dana

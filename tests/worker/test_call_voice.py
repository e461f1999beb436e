"""Calls on the voice path: audio in, a scripted STT, end of turn from the transcript. Turns are
recorded from session events here too, and an account number said aloud links the caller."""

from __future__ import annotations

import asyncio

import pytest
from livekit.agents import llm

from .conftest import placed_call
from .fakes import ScriptedProviders, ScriptedSTT, SilentAudioInput, sip_caller, system_text
from .test_call_text import ACME_LINE, DANA_MOBILE, DANA_OFFICE, first_call, support_llm


class Transcript:
    """The conversation as the session reports it; tests wait for it to reach a length."""

    def __init__(self, session) -> None:
        self.items: list[tuple[str, str]] = []
        self._grew = asyncio.Event()
        session.on("conversation_item_added", self._added)

    def _added(self, event) -> None:
        if isinstance(event.item, llm.ChatMessage):
            self.items.append((event.item.role, event.item.text_content or ""))
            self._grew.set()

    async def reaches(self, count: int, *, within: float = 5.0) -> None:
        async with asyncio.timeout(within):
            while len(self.items) < count:
                self._grew.clear()
                await self._grew.wait()


def use_silent_microphone(session) -> None:
    session.input.audio = SilentAudioInput()


# a quick end of turn; and a preemptive reply (started on the STT's preflight transcript) that
# runs longer than the settle budget before the turn, and its user message, are committed
TURNS = {
    "quick": ({"min_delay": 0.05, "max_delay": 0.2}, False),
    "preemptive": ({"min_delay": 0.8, "max_delay": 1.0}, True),
}


@pytest.mark.slow
@pytest.mark.parametrize(("endpointing", "preflight"), TURNS.values(), ids=TURNS.keys())
async def test_spoken_turns_are_recorded_and_a_spoken_account_number_links_the_caller(
    make_deps, endpointing, preflight
) -> None:
    text_providers = ScriptedProviders(support_llm)
    await first_call(make_deps(text_providers), DANA_MOBILE)

    turn_handling = {"turn_detection": "stt", "endpointing": endpointing}
    providers = ScriptedProviders(support_llm, voice=True, turn_handling=turn_handling, preflight=preflight)
    deps = make_deps(providers)
    async with placed_call(
        deps,
        sip_caller(DANA_OFFICE, ACME_LINE, call_id="SCL_2"),
        job_id="job-2",
        configure_session=use_silent_microphone,
    ) as call:
        stt = providers.built[-1][1].stt
        assert isinstance(stt, ScriptedSTT)
        transcript = Transcript(call.session)
        said = transcript.items

        stt.say("Hello, this is Dana Reyes, my account number is 4471 2290.")
        await transcript.reaches(2)
        assert said[0] == ("user", "Hello, this is Dana Reyes, my account number is 4471 2290.")
        # the reply to the spoken account number already saw the first call's memory
        assert "ticket 8842" in system_text(providers.last_llm.requests[-1])

        stt.say("What happened with my refund?")
        await transcript.reaches(4)
        assert said[2] == ("user", "What happened with my refund?")
        assert said[3][0] == "assistant" and "ticket 8842" in said[3][1]

    store = await deps.store.get()
    caller_id = await store.find_caller("acme-telecom", "phone", DANA_OFFICE)
    assert caller_id == await store.find_caller("acme-telecom", "phone", DANA_MOBILE)
    texts = [row.text for row in await store.history("acme-telecom", caller_id) if row.call_id == "SCL_2"]
    assert "Hello, this is Dana Reyes, my account number is 4471 2290." in texts
    assert "What happened with my refund?" in texts
    assert any("ticket 8842" in text for text in texts)

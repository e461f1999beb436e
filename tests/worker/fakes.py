"""Scripted model providers and a fake room, for offline tests of the worker.

Only the model providers (LLM, STT) are fakes, at the framework's seams; the memory store is
the real embedded SQLite one. Fakes live here and nowhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from livekit import rtc
from livekit.agents import APIConnectOptions, llm, stt, utils
from livekit.agents.testing import fake_job_context
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, NotGivenOr
from livekit.agents.voice import io

from worker.offline import RuleModel
from worker.providers import Providers
from worker.tenants import TenantConfig

SIP = int(rtc.ParticipantKind.PARTICIPANT_KIND_SIP)
STANDARD = int(rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD)


# --------------------------------------------------------------------------- LLM


@dataclass(frozen=True)
class Call:
    """The model calls a tool."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


Reply = str | Call
Responder = Callable[[llm.ChatContext], Reply]


def last_tool_output(chat_ctx: llm.ChatContext) -> str | None:
    """The output of the newest tool call, if the newest item is one."""
    item = chat_ctx.items[-1] if chat_ctx.items else None
    return item.output if isinstance(item, llm.FunctionCallOutput) else None


def last_user_text(chat_ctx: llm.ChatContext) -> str:
    for item in reversed(chat_ctx.items):
        if isinstance(item, llm.ChatMessage) and item.role == "user":
            return item.text_content or ""
    return ""


def system_text(chat_ctx: llm.ChatContext) -> str:
    """Every system message of a request, joined: what the model was told."""
    return "\n".join(
        item.text_content or ""
        for item in chat_ctx.items
        if isinstance(item, llm.ChatMessage) and item.role in ("system", "developer")
    )


def echo_responder(chat_ctx: llm.ChatContext) -> Reply:
    """Says back what a tool returned, else acknowledges what the user said."""
    output = last_tool_output(chat_ctx)
    if output is not None:
        return f"Here is what I found. {output}"
    return f"You said: {last_user_text(chat_ctx)}"


class ScriptedLLM(RuleModel):
    """An LLM that replies from a script: queued replies first, then ``responder(chat_ctx)``.

    Every request's context is kept in ``requests`` so tests can check what the model saw.
    """

    def __init__(self, replies: list[Reply] | None = None, *, responder: Responder = echo_responder) -> None:
        super().__init__()
        self.replies = list(replies or [])
        self.responder = responder
        self.requests: list[llm.ChatContext] = []

    @property
    def model(self) -> str:
        return "scripted"

    @property
    def provider(self) -> str:
        return "tests"

    def reply_to(self, chat_ctx: llm.ChatContext, tools: list[llm.Tool]) -> str | llm.FunctionToolCall:
        self.requests.append(chat_ctx.copy())
        reply = self.replies.pop(0) if self.replies else self.responder(chat_ctx)
        if isinstance(reply, Call):
            return llm.FunctionToolCall(
                name=reply.name, arguments=json.dumps(reply.arguments), call_id=utils.shortuuid("call_")
            )
        return reply


# --------------------------------------------------------------------------- STT and audio


class ScriptedSTT(stt.STT):
    """A streaming STT whose transcripts are pushed by the test with :meth:`say`.

    With ``preflight`` each utterance is first sent as a preflight transcript, as STTs that
    support it do: the session then starts a preemptive reply before the end of the turn.
    """

    def __init__(self, *, preflight: bool = False) -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=True, interim_results=preflight))
        self.preflight = preflight
        self._utterances: asyncio.Queue[str] = asyncio.Queue()

    def say(self, text: str) -> None:
        """The caller says ``text`` (one utterance: start of speech, final transcript, end)."""
        self._utterances.put_nowait(text)

    async def _recognize_impl(
        self, buffer: utils.AudioBuffer, *, language: NotGivenOr[str] = NOT_GIVEN, conn_options: APIConnectOptions
    ) -> stt.SpeechEvent:
        raise NotImplementedError("the scripted STT only streams")

    def stream(
        self, *, language: NotGivenOr[str] = NOT_GIVEN, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> stt.RecognizeStream:
        return _ScriptedRecognizeStream(stt=self, conn_options=conn_options)


class _ScriptedRecognizeStream(stt.RecognizeStream):
    async def _run(self) -> None:
        assert isinstance(self._stt, ScriptedSTT)

        async def drain_audio() -> None:
            async for _ in self._input_ch:
                pass

        drain = asyncio.create_task(drain_audio())
        try:
            while True:
                text = await self._stt._utterances.get()
                said = [stt.SpeechData(language="en", text=text)]
                events = [(stt.SpeechEventType.START_OF_SPEECH, [])]
                if self._stt.preflight:
                    events.append((stt.SpeechEventType.PREFLIGHT_TRANSCRIPT, said))
                events += [(stt.SpeechEventType.FINAL_TRANSCRIPT, said), (stt.SpeechEventType.END_OF_SPEECH, [])]
                for event_type, alternatives in events:
                    self._event_ch.send_nowait(stt.SpeechEvent(type=event_type, alternatives=alternatives))
        finally:
            drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await drain


class SilentAudioInput(io.AudioInput):
    """A microphone that sends 10 ms frames of silence (the STT is scripted)."""

    def __init__(self) -> None:
        super().__init__(label="silent-microphone")

    async def __anext__(self) -> rtc.AudioFrame:
        await asyncio.sleep(0.01)
        return rtc.AudioFrame(data=b"\0" * 320, sample_rate=16000, num_channels=1, samples_per_channel=160)


VOICE_TURN_HANDLING: dict[str, Any] = {
    "turn_detection": "stt",
    "endpointing": {"min_delay": 0.05, "max_delay": 0.2},
}


# --------------------------------------------------------------------------- provider factories


class ScriptedProviders:
    """A provider factory for the worker: every call gets ``make_llm()``; voice adds a scripted STT."""

    def __init__(
        self,
        make_llm: Callable[[], ScriptedLLM] = ScriptedLLM,
        *,
        voice: bool = False,
        turn_handling: dict[str, Any] | None = None,
        preflight: bool = False,
    ) -> None:
        self.make_llm = make_llm
        self.voice = voice
        self.preflight = preflight
        self.turn_handling = turn_handling or VOICE_TURN_HANDLING
        self.built: list[tuple[str, Providers]] = []

    def __call__(self, tenant: TenantConfig, *, vad: Any) -> Providers:
        scripted = self.make_llm()
        if self.voice:
            providers = Providers(
                llm=scripted, stt=ScriptedSTT(preflight=self.preflight), vad=None, turn_handling=self.turn_handling
            )  # type: ignore[arg-type]
        else:
            providers = Providers(llm=scripted, vad=None, turn_handling={"turn_detection": "manual"})
        self.built.append((tenant.id, providers))
        return providers

    @property
    def last_llm(self) -> ScriptedLLM:
        model = self.built[-1][1].llm
        assert isinstance(model, ScriptedLLM)
        return model


def failing_call_providers(tenant: TenantConfig, *, vad: Any) -> Providers:
    """A factory that builds at the worker's start-up check (no VAD yet) and fails on a call (with the
    prewarmed VAD): a call that fails after the worker started."""
    if vad is not None:
        raise RuntimeError("the model provider failed on this call")
    return Providers(llm=ScriptedLLM(), turn_handling={"turn_detection": "manual"})


# --------------------------------------------------------------------------- room and job


@dataclass
class FakeParticipant:
    """The caller as LiveKit presents it to the job."""

    identity: str = "caller"
    kind: int = STANDARD
    attributes: dict[str, str] = field(default_factory=dict)
    metadata: str = ""
    name: str = ""


def sip_caller(phone: str | None, dialled: str, *, call_id: str = "SCL_test", **headers: str) -> FakeParticipant:
    """A SIP participant as the LiveKit SIP service creates it for an inbound call."""
    attributes = {"sip.trunkPhoneNumber": dialled, "sip.callID": call_id, "sip.callStatus": "active"}
    if phone is not None:
        attributes["sip.phoneNumber"] = phone
    attributes.update({f"sip.h.{k.replace('_', '-')}": v for k, v in headers.items()})
    return FakeParticipant(identity=f"sip_{phone or 'anonymous'}", kind=SIP, attributes=attributes)


class FakeRoom(rtc.Room):
    """An unconnected room with metadata (the SDK's own is read-only and set by the server)."""

    def __init__(self, metadata: str = "", name: str = "call-test") -> None:
        super().__init__()
        self._fake_metadata = metadata
        self._fake_name = name

    @property
    def metadata(self) -> str:
        return self._fake_metadata

    @property
    def name(self) -> str:
        return self._fake_name


@contextlib.contextmanager
def fake_job(
    participant: FakeParticipant, *, job_metadata: str = "", room_metadata: str = "", job_id: str = "job-test"
) -> Iterator[Any]:
    """A real (fake-job) ``JobContext`` whose room has ``participant`` as its caller."""
    with fake_job_context(room=FakeRoom(room_metadata), job_metadata=job_metadata, job_id=job_id) as ctx:

        async def wait_for_participant(**_: Any) -> FakeParticipant:
            return participant

        ctx.wait_for_participant = wait_for_participant  # type: ignore[method-assign]
        yield ctx

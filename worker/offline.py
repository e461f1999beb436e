"""An offline stand-in for the language model, so the agent can be tried with no key and no network.

``MODEL_PROVIDERS=offline`` (``make console``) gives every call :class:`OfflineModel` instead of a
real LLM, and no STT or TTS: it is for ``python agent.py console --text``. It is not a language
model and understands nothing. It follows four fixed rules, the same way every time:

1. Greeting a returning caller (a reply before the caller said anything): "Welcome back", with the
   caller's name when the ``<caller_memory>`` brief gives one (:func:`caller_name`).
2. The caller asks about an earlier matter (:func:`asks_about_earlier_matter`: "last time", "what
   happened", "any update"...): it calls the ``recall_issue`` tool with the caller's words.
3. A tool answered: it reads back what the caller said and what was promised (:func:`read_back`).
4. Anything else: "Noted.", and on the caller's first turn what it is.

Its replies are recorded like any agent's, so they are kept short and free of words a later
recall would match; :data:`OFFLINE_BANNER` (printed by ``agent.py`` when the console starts) says
what it is at length.

What the memory layer gives it is data, never instructions: the brief is read only for the name
on its ``Caller:`` line (a JSON string the renderer wrote), a tool's answer is read back as it is,
and what to do next depends only on the caller's newest words and which tools the agent has.
Everything else is the real worker: tenants, the memory store, recording, recall and the tools.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from livekit.agents import APIConnectOptions, llm, utils
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, NotGivenOr

from .providers import Providers
from .tenants import TenantConfig

__all__ = [
    "FIRST_REPLY",
    "OFFLINE_BANNER",
    "OfflineModel",
    "RuleModel",
    "asks_about_earlier_matter",
    "caller_name",
    "decide",
    "offline_providers",
    "read_back",
]

OFFLINE_BANNER = (
    "MODEL_PROVIDERS=offline: the agent's replies come from an offline stand-in for a language model "
    "(fixed rules, no key, no network); its memory is the real one. Try: tell it your name and your "
    "problem, press Ctrl-C, start it again, and ask what happened last time."
)
FIRST_REPLY = (
    "Noted. I am an offline stand-in for a language model: I follow fixed rules and keep your words in memory."
)
RECALL_TOOL = "recall_issue"
_MAX_NAME_CHARS = 80
_MAX_READ_BACK_LINES = 5
# the lines of a recall answer that are read back: the caller's words, their notes, promises
_READ_BACK = re.compile(r"the caller said |note the caller asked us to keep |^promised |^Call of .+: ")

# the caller asks about something from an earlier call: a fixed list of phrasings, matched as words
_EARLIER_MATTER = re.compile(
    r"\b(?:last time|last call|(?:earlier|previous|other) call|called (?:about|before)|what happened|"
    r"any (?:news|update)|status of|follow(?:ing)? up on|where is my|what about my|do you remember)\b",
    re.IGNORECASE,
)


def caller_name(system_text: str) -> str | None:
    """The caller's name from the brief's ``Caller: name "..."`` line, or ``None``.

    Only the first ``<caller_memory>`` block is read, and in it only a line that starts with
    ``Caller: name``: the brief renders what callers said as JSON strings, which cannot contain a
    line break, so no caller's words can start such a line. The name is decoded from its JSON
    string, stripped of control characters and cut to 80 characters.
    """
    start = system_text.find("<caller_memory>")
    end = system_text.find("</caller_memory>", start)
    if start < 0 or end < 0:
        return None
    for line in system_text[start:end].splitlines():
        if not line.startswith("Caller: name "):
            continue
        try:
            name, _ = json.JSONDecoder().raw_decode(line, len("Caller: name "))
        except json.JSONDecodeError:
            return None
        if not isinstance(name, str):
            return None
        printable = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
        return printable[:_MAX_NAME_CHARS] or None
    return None


def asks_about_earlier_matter(text: str) -> bool:
    """Whether the caller's words ask about something from an earlier call (a fixed word list)."""
    return bool(_EARLIER_MATTER.search(text))


def read_back(output: str, *, is_error: bool = False) -> str:
    """What to say with a tool's answer.

    From a ``<memory_results>`` block: its lines that quote the caller, the caller's notes and the
    promises, as they are (quoted data), at most five; the agent's own earlier words are left out.
    Any other answer (nothing found) is said as it is; a tool error becomes an apology.
    """
    if is_error:
        return "Sorry, I could not look that up just now. Could you tell me the details?"
    start = output.find("<memory_results>")
    end = output.find("</memory_results>")
    if start < 0 or end < start:
        return output.strip()
    lines = [line.strip().removeprefix("- ") for line in output[start:end].splitlines()[1:]]
    kept = [line.replace("Call of ", "On ", 1) for line in lines if _READ_BACK.search(line)][:_MAX_READ_BACK_LINES]
    if not kept:
        return "I found nothing you told us about that on earlier calls. Could you tell me the details?"
    return "Here is what I have from your earlier calls: " + " ".join(
        line if line.endswith(".") else line + "." for line in kept
    )


def _system_text(chat_ctx: llm.ChatContext) -> str:
    return "\n".join(
        item.text_content or ""
        for item in chat_ctx.items
        if isinstance(item, llm.ChatMessage) and item.role in ("system", "developer")
    )


def _user_texts(chat_ctx: llm.ChatContext) -> list[str]:
    return [
        item.text_content or "" for item in chat_ctx.items if isinstance(item, llm.ChatMessage) and item.role == "user"
    ]


def _tool_names(tools: list[llm.Tool]) -> set[str]:
    names = set()
    for tool in tools:
        info = getattr(tool, "info", None)
        name = getattr(info, "name", None)
        if isinstance(name, str):
            names.add(name)
    return names


def _one_line(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def decide(chat_ctx: llm.ChatContext, tools: list[llm.Tool]) -> str | llm.FunctionToolCall:
    """The stand-in's whole policy: the reply (text or a tool call) to one request."""
    if not tools:  # not a conversation of the support agent (e.g. a summary request): nothing to say
        return ""
    newest = chat_ctx.items[-1] if chat_ctx.items else None
    if isinstance(newest, llm.FunctionCallOutput):
        return read_back(newest.output, is_error=newest.is_error)
    said = _user_texts(chat_ctx)
    if not said:  # the session asks for a greeting: a returning caller (new callers hear the fixed one)
        name = caller_name(_system_text(chat_ctx))
        welcome = f"Welcome back, {name}!" if name else "Welcome back!"
        return f"{welcome} How can I help you today?"
    newest_words = said[-1]
    if asks_about_earlier_matter(newest_words) and RECALL_TOOL in _tool_names(tools):
        return llm.FunctionToolCall(
            name=RECALL_TOOL,
            arguments=json.dumps({"issue": _one_line(newest_words, 200)}),
            call_id=utils.shortuuid("call_"),
        )
    return FIRST_REPLY if len(said) == 1 else "Noted."


class RuleModel(llm.LLM):
    """A language model whose reply to each request is computed by :meth:`reply_to` (a text, or one
    tool call), sent back as a single chunk: the seam the offline stand-in and scripted models share."""

    def reply_to(self, chat_ctx: llm.ChatContext, tools: list[llm.Tool]) -> str | llm.FunctionToolCall:
        raise NotImplementedError

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> llm.LLMStream:
        reply = self.reply_to(chat_ctx, list(tools or []))
        return _OneChunkStream(self, reply=reply, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options)


class _OneChunkStream(llm.LLMStream):
    def __init__(self, model: RuleModel, *, reply: str | llm.FunctionToolCall, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self._reply = reply

    async def _run(self) -> None:
        if isinstance(self._reply, llm.FunctionToolCall):
            delta = llm.ChoiceDelta(role="assistant", tool_calls=[self._reply])
        else:
            delta = llm.ChoiceDelta(role="assistant", content=self._reply)
        self._event_ch.send_nowait(llm.ChatChunk(id=utils.shortuuid("chunk_"), delta=delta))


class OfflineModel(RuleModel):
    """A deterministic, offline stand-in for a language model (see the module docstring)."""

    @property
    def model(self) -> str:
        return "offline-stand-in"

    @property
    def provider(self) -> str:
        return "offline"

    def reply_to(self, chat_ctx: llm.ChatContext, tools: list[llm.Tool]) -> str | llm.FunctionToolCall:
        return decide(chat_ctx, tools)


def offline_providers(tenant: TenantConfig, *, vad: Any) -> Providers:
    """``MODEL_PROVIDERS=offline``: the stand-in model, text only (no STT, TTS or VAD), manual turns."""
    return Providers(llm=OfflineModel(), turn_handling={"turn_detection": "manual"})

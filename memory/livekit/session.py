"""One call's memory attached to an ``AgentSession``.

:class:`SessionMemory` records
user and assistant turns from session events (text and voice paths alike), refreshes the agent's
per-call instructions when the caller is linked mid-call, and closes the hooks when the session
ends so the next call's preload is ready. Who is calling is read by :mod:`memory.livekit.identity`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np
from livekit.agents import AgentSession, CloseEvent, ConversationItemAddedEvent, llm
from livekit.agents.llm.chat_context import DYNAMIC_INSTRUCTIONS_MESSAGE_ID, Instructions

from ..call.hooks import CallHooks
from ..errors import CallerMemoryError, MemoryWriteError
from ..text.reading import read_turn
from ..text.spoken import asked_for
from ..values import CallEvent, Hit, Matter, Verification
from .priority import urgent

__all__ = ["SessionMemory"]

logger = logging.getLogger(__name__)


class Forgetting(Protocol):
    """What deleting a caller needs: the store's ``forget_caller``."""

    async def forget_caller(self, customer_id: str, caller_id: str) -> int: ...


RECORD_WAIT_CAP_S = 5.0
"""The longest a reply waits for its user message to be recorded (beyond the longest end of turn)."""


# --------------------------------------------------------------------------- session attachment


class SessionMemory:
    """One call's memory hooks, attached to an ``AgentSession``.

    ``instructions`` is the agent's per-call :class:`Instructions`; its ``dynamic`` part is
    the caller brief (already delimited as data by the memory layer) after ``facts`` (call
    facts the application adds, equally delimited). When the caller is linked mid-call the
    brief is loaded again and ``dynamic`` replaced in place: the next reply sees it, and
    :meth:`before_reply` puts it into a reply that is about to start.
    """

    def __init__(
        self,
        hooks: CallHooks,
        *,
        customer_id: str,
        instructions: Instructions,
        brief: str = "",
        facts: str = "",
        preload_timeout_s: float = 1.5,
        settle_timeout_s: float = 0.5,
    ) -> None:
        self.hooks = hooks
        self.customer_id = customer_id
        self.instructions = instructions
        self.brief = brief
        self.facts = facts
        self.user_turns = 0
        self.forgotten = False
        self._preload_timeout_s = preload_timeout_s
        self._settle_timeout_s = settle_timeout_s
        self._recording = True
        self._refresh_task: asyncio.Task[None] | None = None
        self._checked_message_id: str | None = None
        self._recorded_ids: set[str] = set()
        self._recorded_waiters: dict[str, asyncio.Future[None]] = {}
        self._close_task: asyncio.Task[None] | None = None
        self._session: AgentSession[Any] | None = None
        self._listeners: list[Callable[[str], None]] = []
        self.instructions.dynamic = self._dynamic_text()
        hooks.add_listener(self._on_memory_event)

    @property
    def caller_id(self) -> str:
        return self.hooks.caller_id

    @property
    def closed(self) -> bool:
        return self._close_task is not None

    @property
    def call_id(self) -> str:
        return self.hooks.call_id

    # ---------------------------------------------------------------- what the tools ask

    async def recall(self, query: str, *, mode: str | None = None, limit: int = 5) -> list[Hit]:
        """The caller's memories that best match ``query`` (``mode``: the tenant's recall mode by default).
        The caller's answer waits for it: the job's event loop runs above the calls' other work meanwhile
        (:func:`~memory.livekit.priority.urgent`, where the host allows it)."""
        with urgent():
            return await self.hooks.recall(query, mode=mode or self.hooks.policy.recall_mode, limit=limit)

    async def open_matters(self) -> list[Matter]:
        """Open promises to this caller, newest first."""
        return await self.hooks.open_matters()

    def remember(self, text: str) -> None:
        """Keep a note the caller asked to be remembered."""
        self.hooks.remember(text)

    async def verify(self, answers: dict[str, str]) -> Verification:
        """Check the caller's answers against the record an identifier they said matched; once verified,
        the record's brief is in the instructions before this returns."""
        result = await self.hooks.verify(answers)
        if result.status == "verified":
            task = self._refresh_task
            if task is not None and not task.done():
                await asyncio.wait({task}, timeout=self._preload_timeout_s)
        return result

    def vector_of(self, key: str) -> np.ndarray | None:
        """The memory layer's embedding of the turn recorded with ``key`` (message id), once computed."""
        return self.hooks.vector_of(key)

    def on_refresh(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(caller_id)`` after the context was refreshed for a linked caller."""
        self._listeners.append(callback)

    def attach(self, session: AgentSession[Any]) -> None:
        """Record turns from ``session`` and close the hooks when it closes."""
        self._session = session
        session.on("conversation_item_added", self._on_item_added)
        session.on("close", self._on_session_close)

    # ---------------------------------------------------------------- recording

    def _on_item_added(self, event: ConversationItemAddedEvent) -> None:
        item = event.item
        if not self._recording or not isinstance(item, llm.ChatMessage) or item.role not in ("user", "assistant"):
            return
        text = item.text_content
        if not text or not text.strip():
            return
        try:
            self.hooks.record_turn(item.role, text, at=datetime.fromtimestamp(item.created_at, UTC), key=item.id)
        except CallerMemoryError as exc:
            logger.warning("a turn was not recorded: %s", type(exc).__name__)
        else:
            if item.role == "user":
                self.user_turns += 1
        if item.role == "user":  # a reply waiting for this message goes on either way
            self._recorded_ids.add(item.id)
            waiter = self._recorded_waiters.pop(item.id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    # ---------------------------------------------------------------- linking

    def _on_memory_event(self, event: CallEvent) -> None:
        if event.kind in ("linked", "candidate", "attached"):
            logger.info("caller memory changed mid-call (%s); refreshing the memory context", event.kind)
            self._schedule_refresh()
        elif event.kind == "forgotten":
            self._recording = False
            self.forgotten = True
            self.brief = ""
            self.instructions.dynamic = self._dynamic_text()
        elif event.kind == "write_error":
            logger.warning("the memory database is not taking this call's turns; they are spooled")

    def _schedule_refresh(self) -> asyncio.Task[None]:
        """Refresh now, or right after a refresh under way (a second link must not be missed)."""
        previous = self._refresh_task
        loop = asyncio.get_running_loop()
        if previous is None or previous.done():
            self._refresh_task = loop.create_task(self.refresh())
        else:
            self._refresh_task = loop.create_task(self._refresh_after(previous))
        return self._refresh_task

    async def _refresh_after(self, previous: asyncio.Task[None]) -> None:
        await asyncio.gather(previous, return_exceptions=True)
        await self.refresh()

    async def refresh(self) -> None:
        """Load the brief again (for the caller as linked now) and put it in the instructions.

        A refresh that fails (storage unreachable) keeps the last good brief.
        """
        if self.closed or self.forgotten:
            return
        try:
            preload = await asyncio.wait_for(self.hooks.preload(), self._preload_timeout_s)
        except (TimeoutError, CallerMemoryError) as exc:
            logger.warning("memory refresh failed (%s); keeping the previous context", type(exc).__name__)
            return
        if preload.source == "error" or self.forgotten:
            logger.warning("memory refresh failed; keeping the previous context")
            return
        self.brief = preload.text
        self.instructions.dynamic = self._dynamic_text()
        for callback in self._listeners:
            callback(self.caller_id)

    async def before_reply(self, chat_ctx: llm.ChatContext) -> None:
        """Before a reply: settle an identifier the caller just said, then bring ``chat_ctx`` up to date.

        When the newest user message carries an identifier the tenant links callers by (an
        account number, an e-mail address said aloud), the reply waits until the framework has
        recorded that message (it does so once the reply is scheduled, at the end of the user's
        turn, which a preemptive reply starts before) and then up to ``settle_timeout_s`` for the
        link and the reloaded brief, so the reply to "my account number is 4471 2290" already
        knows the caller. Only such turns wait; any other costs a scan of one message.
        ``chat_ctx`` is the reply's own copy (as given to ``llm_node``); its per-call
        instructions message is replaced, never edited, as copies share messages.
        """
        if self.closed:
            return
        loop = asyncio.get_running_loop()
        message = next(
            (m for m in reversed(chat_ctx.items) if isinstance(m, llm.ChatMessage) and m.role == "user"), None
        )
        if message is not None and message.id != self._checked_message_id:
            # marked as checked only once checked: a preemptive reply cancelled while waiting
            # leaves the message to the reply that replaces it
            if self._may_link(
                message.text_content or "", _agent_turn_before(chat_ctx, message)
            ) and await self._wait_recorded(message.id, loop.time() + RECORD_WAIT_CAP_S):
                self._schedule_refresh()
            self._checked_message_id = message.id
        task = self._refresh_task
        if task is not None and not task.done():
            await asyncio.wait({task}, timeout=self._settle_timeout_s)
        dynamic = self.instructions.dynamic or ""
        idx = chat_ctx.index_by_id(DYNAMIC_INSTRUCTIONS_MESSAGE_ID)
        if idx is None or not dynamic:
            return
        current = chat_ctx.items[idx]
        if isinstance(current, llm.ChatMessage) and current.text_content != dynamic:
            chat_ctx.items[idx] = llm.ChatMessage(
                id=DYNAMIC_INSTRUCTIONS_MESSAGE_ID, role="system", content=[dynamic], created_at=current.created_at
            )

    async def _wait_recorded(self, message_id: str, deadline: float) -> bool:
        """Wait until the message ``message_id`` was recorded (False at the deadline)."""
        if message_id in self._recorded_ids:
            return True
        loop = asyncio.get_running_loop()
        waiter = self._recorded_waiters.setdefault(message_id, loop.create_future())
        try:
            await asyncio.wait_for(asyncio.shield(waiter), max(0.0, deadline - loop.time()))
        except TimeoutError:
            return False
        return True

    def _may_link(self, text: str, asking: str) -> bool:
        """Does the caller's message carry an identifier the tenant links by (``asking``: the agent's
        turn it answers, whose question can name what a bare number is)?"""
        policy = self.hooks.policy
        if not policy.spoken_link_kinds or not text:
            return False
        if self.hooks.awaiting_verification:
            return True  # the caller may be giving the name that verifies them
        try:
            found = read_turn(text, region=policy.default_region, asked=asked_for(asking)).identifiers
            return any(identifier.kind in policy.spoken_link_kinds for identifier in found)
        except CallerMemoryError:
            return False

    def _dynamic_text(self) -> str:
        return "\n\n".join(part for part in (self.facts, self.brief) if part)

    # ---------------------------------------------------------------- ending

    def _on_session_close(self, _event: CloseEvent) -> None:
        self.start_closing()

    def start_closing(self) -> asyncio.Task[None]:
        """Begin closing the hooks (idempotent); returns the closing task."""
        if self._close_task is None:
            self._close_task = asyncio.get_running_loop().create_task(self._close())
        return self._close_task

    async def aclose(self) -> None:
        """Stop recording, drain the call's writes and prepare the next call's preload."""
        await asyncio.shield(self.start_closing())

    async def _close(self) -> None:
        self._recording = False
        if self._refresh_task is not None:
            self._refresh_task.cancel()
        if self._session is not None:
            self._session.off("conversation_item_added", self._on_item_added)
            self._session.off("close", self._on_session_close)
        try:
            await self.hooks.aclose()
        except MemoryWriteError as exc:
            left = await self.hooks.spool_unsaved()  # handed back: into the spool, replayed later
            if left:
                logger.error("memory of this call was not fully stored: %d turn(s) neither stored nor spooled", left)
            else:
                logger.warning("%d turn(s) the database did not take were spooled", len(exc.unsaved))
        except CallerMemoryError as exc:
            logger.error("closing the call memory failed: %s", type(exc).__name__)

    async def forget(self, store: Forgetting) -> None:
        """Delete everything remembered about this caller; nothing more of this call is recorded."""
        self._recording = False
        self.forgotten = True
        await self.aclose()  # drain first, so no write of this call lands after the deletion
        await store.forget_caller(self.customer_id, self.caller_id)  # follows links to the caller in use
        self.brief = ""
        self.instructions.dynamic = self._dynamic_text()


def _agent_turn_before(chat_ctx: llm.ChatContext, message: llm.ChatMessage) -> str:
    """The text of the agent's message just before ``message`` ("" when there is none)."""
    items = chat_ctx.items
    index = next((i for i, item in enumerate(items) if item.id == message.id), 0)
    for item in reversed(items[:index]):
        if isinstance(item, llm.ChatMessage) and item.role in ("assistant", "user"):
            return (item.text_content or "") if item.role == "assistant" else ""
    return ""

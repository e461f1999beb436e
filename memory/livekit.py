"""The LiveKit side of the memory layer: who is calling, and memory attached to a session.

This is the only module of ``memory`` that imports ``livekit``. Two parts:

* :func:`caller_identity` reads the tenant and the caller's identifiers from what LiveKit
  hands a job (dispatch metadata, room metadata, the caller participant). It is a pure
  function: malformed input is logged (by kind, never by value) and ignored, never fatal.
* :class:`SessionMemory` attaches one call's memory hooks to an ``AgentSession``: it records
  user and assistant turns from session events (text and voice paths alike), refreshes the
  agent's per-call instructions when the caller is linked mid-call, and closes the hooks
  when the session ends so the next call's preload is ready.

Where identity comes from, most specific first:

=====================  ==================================================================
source                 read
=====================  ==================================================================
SIP participant        ``sip.phoneNumber`` (phone), ``sip.trunkPhoneNumber`` (dialled
                       number), ``sip.callID``, mapped headers ``sip.h.x-<kind>``
participant            attributes and JSON metadata: ``email``, ``account``, ``oauth_sub``,
                       ``phone``, ``sip_uri``, ``name`` (aliases below); app participants
                       also give their identity (``livekit_identity``) and may name the
                       tenant (``customer_id``)
dispatch (job)         JSON metadata: ``customer_id`` (the tenant) and the same identifier
                       keys, top level or under ``"identifiers"``
room                   JSON metadata, as for dispatch
=====================  ==================================================================

The tenant is taken from dispatch metadata first, then room metadata, then (app calls
only) the participant. A SIP caller cannot choose the tenant: headers never name it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from livekit import rtc
from livekit.agents import AgentSession, llm
from livekit.agents.llm.chat_context import DYNAMIC_INSTRUCTIONS_MESSAGE_ID, Instructions

from .errors import CallerMemoryError, MemoryWriteError
from .policy import IDENTIFIER_KINDS
from .spoken import extract_identifiers

__all__ = [
    "CallerIdentity",
    "SessionMemory",
    "caller_identity",
    "identity_from_participant",
    "mask_value",
]

logger = logging.getLogger("memory.livekit")

Channel = Literal["sip", "app"]

MAX_METADATA_CHARS = 16_384
"""Metadata strings longer than this are ignored (LiveKit allows far more; a caller brief never needs it)."""
MAX_VALUE_CHARS = 512
RECORD_WAIT_CAP_S = 5.0
"""The longest a reply waits for its user message to be recorded (beyond the longest end of turn)."""
_TENANT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_TENANT_KEYS = ("customer_id", "tenant_id", "tenant")
_SIP_KIND = int(rtc.ParticipantKind.PARTICIPANT_KIND_SIP)
_KEY_PREFIXES = ("sip.h.x-caller-", "sip.h.x-memory-", "sip.h.x-", "memory.", "caller.", "lk.")
_ALIASES: dict[str, str] = {
    "phone": "phone",
    "phone_number": "phone",
    "phonenumber": "phone",
    "email": "email",
    "e_mail": "email",
    "email_address": "email",
    "account": "account",
    "account_number": "account",
    "account_no": "account",
    "account_id": "account",
    "customer_account": "account",
    "oauth_sub": "oauth_sub",
    "sub": "oauth_sub",
    "user_sub": "oauth_sub",
    "sip_uri": "sip_uri",
    "name": "name",
    "display_name": "name",
}


@dataclass(frozen=True)
class CallerIdentity:
    """Who is calling, as far as LiveKit can tell before a word is said.

    ``identifiers`` maps an identifier kind (see ``memory.policy.IDENTIFIER_KINDS``) to the
    raw value; the memory layer normalises it with the tenant's region. ``customer_id`` is
    the tenant named by trusted metadata (``None`` when nothing named one);
    ``tenant_source`` says where it came from.
    """

    customer_id: str | None
    identifiers: dict[str, str] = field(default_factory=dict)
    channel: Channel = "app"
    dialled_number: str | None = None
    sip_call_id: str | None = None
    tenant_source: Literal["dispatch", "room", "participant"] | None = None

    def masked(self) -> dict[str, str]:
        """Identifier kinds with masked values, safe for logs (nothing of a name)."""
        return {kind: "•••" if kind == "name" else mask_value(value) for kind, value in self.identifiers.items()}


def mask_value(value: str) -> str:
    """At most the last few characters of a value (none for short values), for logs."""
    size = len(value)
    tail = 4 if size >= 12 else 2 if size >= 6 else 0
    return "•••" + (value[size - tail :] if tail else "")


def caller_identity(
    job_metadata: object = None,
    room_metadata: object = None,
    participant_kind: object = None,
    participant_identity: object = None,
    participant_attributes: object = None,
    participant_metadata: object = None,
) -> CallerIdentity:
    """Read the tenant and the caller's identifiers from what LiveKit gives a job.

    Args:
        job_metadata: the dispatch's metadata (``ctx.job.metadata``), usually JSON.
        room_metadata: the room's metadata (``ctx.room.metadata``), usually JSON.
        participant_kind: the caller's ``rtc.ParticipantKind`` (SIP or standard).
        participant_identity: the caller's participant identity.
        participant_attributes: the caller's attributes (``dict[str, str]``).
        participant_metadata: the caller's metadata, usually JSON.

    Never raises for malformed input: a value of the wrong type, invalid JSON, an oversized
    string or a tenant id of the wrong shape is logged by kind and ignored.
    """
    attributes = _as_attributes(participant_attributes)
    is_sip = _kind_is_sip(participant_kind) or "sip.callID" in attributes or "sip.phoneNumber" in attributes
    channel: Channel = "sip" if is_sip else "app"
    job = _parse_json(job_metadata, "dispatch metadata")
    room = _parse_json(room_metadata, "room metadata")
    participant = _parse_json(participant_metadata, "participant metadata")

    identifiers: dict[str, str] = {}
    if is_sip:
        _offer(identifiers, "phone", attributes.get("sip.phoneNumber"), "sip attributes")
    for source_name, source in (
        ("participant attributes", attributes),
        ("participant metadata", participant),
        ("dispatch metadata", job),
        ("room metadata", room),
    ):
        for key, value in _identifier_items(source, sip=is_sip and source is attributes):
            _offer(identifiers, key, value, source_name)
    if not is_sip:
        _offer(identifiers, "livekit_identity", participant_identity, "participant identity")

    customer_id, tenant_source = None, None
    tenant_sources: list[tuple[Literal["dispatch", "room", "participant"], Mapping[str, Any]]] = [
        ("dispatch", job),
        ("room", room),
    ]
    if not is_sip:
        tenant_sources += [("participant", attributes), ("participant", participant)]
    for name, source in tenant_sources:
        found = _tenant_from(source, name)
        if found:
            customer_id, tenant_source = found, name
            break

    return CallerIdentity(
        customer_id=customer_id,
        identifiers=identifiers,
        channel=channel,
        dialled_number=_clean(attributes.get("sip.trunkPhoneNumber"), "dialled number") if is_sip else None,
        sip_call_id=_clean(attributes.get("sip.callID"), "sip call id") if is_sip else None,
        tenant_source=tenant_source,
    )


def identity_from_participant(job_metadata: object, room_metadata: object, participant: Any) -> CallerIdentity:
    """:func:`caller_identity` for a participant object (``rtc.RemoteParticipant`` or alike)."""
    return caller_identity(
        job_metadata,
        room_metadata,
        getattr(participant, "kind", None),
        getattr(participant, "identity", None),
        getattr(participant, "attributes", None),
        getattr(participant, "metadata", None),
    )


# --------------------------------------------------------------------------- parsing helpers


def _kind_is_sip(kind: object) -> bool:
    try:
        return int(kind) == _SIP_KIND  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return False


def _as_attributes(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        logger.warning("participant attributes are not a mapping (%s); ignored", type(value).__name__)
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


def _parse_json(value: object, what: str) -> dict[str, Any]:
    if value is None or value == "":
        return {}
    if not isinstance(value, str):
        logger.warning("%s is not a string (%s); ignored", what, type(value).__name__)
        return {}
    if len(value) > MAX_METADATA_CHARS:
        logger.warning("%s is %d characters, over %d; ignored", what, len(value), MAX_METADATA_CHARS)
        return {}
    try:
        parsed = json.loads(value)
    except (ValueError, RecursionError):
        logger.warning("%s is not valid JSON; ignored", what)
        return {}
    if not isinstance(parsed, dict):
        logger.warning("%s is JSON but not an object (%s); ignored", what, type(parsed).__name__)
        return {}
    return parsed


def _identifier_items(source: Mapping[str, Any], *, sip: bool) -> list[tuple[str, object]]:
    """``(kind, value)`` pairs from a source's top-level keys and its ``identifiers`` object."""
    items: list[tuple[str, object]] = []
    nested = source.get("identifiers")
    if nested is not None and not isinstance(nested, Mapping):
        logger.warning("'identifiers' is not an object (%s); ignored", type(nested).__name__)
        nested = None
    for mapping in (source, nested or {}):
        for key, value in mapping.items():
            if not isinstance(key, str) or (key.startswith("sip.") and not key.startswith("sip.h.")):
                continue
            if key.startswith("sip.h.") and not sip:
                continue  # SIP headers are only meaningful on a SIP participant
            kind = _kind_of(key)
            if kind is not None:
                items.append((kind, value))
    return items


def _kind_of(key: str) -> str | None:
    name = key.lower()
    for prefix in _KEY_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    name = name.replace("-", "_")
    kind = _ALIASES.get(name, name)
    return kind if kind in IDENTIFIER_KINDS and kind != "livekit_identity" else None


def _offer(identifiers: dict[str, str], kind: str, value: object, source: str) -> None:
    """Keep the first acceptable value of each kind."""
    if kind in identifiers or value is None:
        return
    if isinstance(value, int) and not isinstance(value, bool) and kind in ("phone", "account"):
        value = str(value)
    text = _clean(value, f"{kind} from {source}")
    if text:
        identifiers[kind] = text


def _clean(value: object, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        logger.warning("%s is not a string (%s); ignored", what, type(value).__name__)
        return None
    text = value.strip()
    if not text:
        return None
    if len(text) > MAX_VALUE_CHARS:
        logger.warning("%s is %d characters, over %d; ignored", what, len(text), MAX_VALUE_CHARS)
        return None
    if not text.isprintable():
        logger.warning("%s contains control characters; ignored", what)
        return None
    return text


def _tenant_from(source: Mapping[str, Any], where: str) -> str | None:
    for key in _TENANT_KEYS:
        value = source.get(key)
        if value is None:
            continue
        if isinstance(value, str) and _TENANT_RE.fullmatch(value):
            return value
        logger.warning("%s names a tenant of the wrong type or shape (key %r); ignored", where, key)
    return None


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
        hooks: Any,
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
        return str(self.hooks.caller_id)

    @property
    def closed(self) -> bool:
        return self._close_task is not None

    def on_refresh(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(caller_id)`` after the context was refreshed for a linked caller."""
        self._listeners.append(callback)

    def attach(self, session: AgentSession[Any]) -> None:
        """Record turns from ``session`` and close the hooks when it closes."""
        self._session = session
        session.on("conversation_item_added", self._on_item_added)
        session.on("close", self._on_session_close)

    # ---------------------------------------------------------------- recording

    def _on_item_added(self, event: Any) -> None:
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

    def _on_memory_event(self, event: Any) -> None:
        if event.kind == "linked":
            logger.info("caller linked mid-call; refreshing the memory context")
            self._schedule_refresh()
        elif event.kind == "write_error":
            logger.warning("memory writes are failing for this call")

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
        """Load the brief again (for the caller as linked now) and put it in the instructions."""
        if self.closed:
            return
        try:
            preload = await asyncio.wait_for(self.hooks.preload(), self._preload_timeout_s)
        except (TimeoutError, CallerMemoryError) as exc:
            logger.warning("memory refresh failed (%s); keeping the previous context", type(exc).__name__)
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
            if self._may_link(message.text_content or "") and await self._wait_recorded(
                message.id, loop.time() + RECORD_WAIT_CAP_S
            ):
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

    def _may_link(self, text: str) -> bool:
        policy = self.hooks.policy
        if not policy.spoken_link_kinds or not text:
            return False
        try:
            found = extract_identifiers(text, region=policy.default_region)
            return any(identifier.kind in policy.spoken_link_kinds for identifier in found)
        except CallerMemoryError:
            return False

    def _dynamic_text(self) -> str:
        return "\n\n".join(part for part in (self.facts, self.brief) if part)

    # ---------------------------------------------------------------- ending

    def _on_session_close(self, _event: Any) -> None:
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
            logger.error("memory of this call was not fully stored: %d turn(s) unsaved", len(exc.unsaved))
        except CallerMemoryError as exc:
            logger.error("closing the call memory failed: %s", type(exc).__name__)

    async def forget(self, store: Any) -> None:
        """Delete everything remembered about this caller; nothing more of this call is recorded."""
        self._recording = False
        self.forgotten = True
        await self.aclose()  # drain first, so no write of this call lands after the deletion
        await store.forget_caller(self.customer_id, self.caller_id)  # follows links to the caller in use
        self.brief = ""
        self.instructions.dynamic = self._dynamic_text()

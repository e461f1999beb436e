"""One call, from the room to a running session: identity -> tenant -> memory -> agent -> session.

The preload runs before ``session.start`` within the tenant's time budget and reaches the
agent as per-call dynamic instructions; turns are recorded from session events; the memory
is closed when the session ends. A memory store that cannot be reached never stops a call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from livekit import rtc
from livekit.agents import Agent, AgentSession, JobContext, llm, room_io
from livekit.agents.llm.chat_context import Instructions
from livekit.agents.types import NOT_GIVEN
from livekit.agents.voice import SpeechHandle

from memory import CallerMemoryError, CallerStore
from memory.livekit import CallCompaction, CallerIdentity, SessionMemory, identity_from_participant, model_summariser
from tools import CallData
from worker.runtime import WorkerDeps
from worker.support_agent import SupportAgent, call_facts, static_instructions
from worker.tenants import TenantConfig

__all__ = ["ActiveCall", "open_memory", "run_job", "start_call"]

logger = logging.getLogger("worker")

_REFUSAL_INSTRUCTIONS = "This line does not serve this caller. Say goodbye politely and nothing else."


@dataclass
class ActiveCall:
    """A call in progress. ``tenant`` is ``None`` for a refused call."""

    session: AgentSession[Any]
    agent: Agent
    identity: CallerIdentity
    tenant: TenantConfig | None
    memory: SessionMemory | None = None
    store: CallerStore | None = None
    greeting: SpeechHandle | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    compaction: CallCompaction | None = None

    async def close_memory(self) -> None:
        """Drain the call's memory (the session has ended or is ending). Retention is not applied
        here: the worker's main process purges on a schedule (``worker.runtime.RetentionSchedule``)."""
        if self.memory is None:
            return
        await self.memory.aclose()

    async def aclose(self) -> None:
        """End the call: close the session (its last turns are recorded), then the memory."""
        await self.session.aclose()
        await self.close_memory()


async def run_job(
    ctx: JobContext,
    deps: WorkerDeps,
    *,
    room_io_enabled: bool = True,
    configure_session: Callable[[AgentSession[Any]], None] | None = None,
) -> ActiveCall:
    """The worker's entrypoint body: wait for the caller, then :func:`start_call`."""
    if deps.store is not None:
        deps.store.start()  # open the store while the room connects
    await ctx.connect()
    participant = await ctx.wait_for_participant()
    identity = identity_from_participant(ctx.job.metadata, ctx.room.metadata, participant)
    call = await start_call(
        deps,
        identity,
        room=ctx.room if room_io_enabled else None,
        participant_identity=participant.identity,
        call_id=identity.sip_call_id or ctx.job.id,
        configure_session=configure_session,
    )

    async def end_of_job() -> None:
        await call.close_memory()
        if deps.store is not None:
            await deps.store.aclose()  # a job process serves one job; its store goes with it

    ctx.add_shutdown_callback(end_of_job)
    return call


async def start_call(
    deps: WorkerDeps,
    identity: CallerIdentity,
    *,
    room: rtc.Room | None = None,
    participant_identity: str | None = None,
    call_id: str | None = None,
    configure_session: Callable[[AgentSession[Any]], None] | None = None,
) -> ActiveCall:
    """Resolve the tenant, open the caller's memory, start the session and greet the caller.

    ``configure_session`` runs on the session before it starts (set custom inputs/outputs).
    """
    resolution = deps.tenants.resolve(identity.customer_id, identity.dialled_number)
    tenant = resolution.tenant
    logger.info(
        "call on %s: tenant %s (%s); identifiers %s",
        identity.channel,
        tenant.id if tenant else "-",
        resolution.reason,
        identity.masked(),
    )
    options = _room_options(room, participant_identity, refuse=tenant is None)
    if tenant is None:
        return await _refuse(deps, identity, room=room, options=options, configure_session=configure_session)

    providers = deps.providers(tenant, vad=deps.vad)
    instructions = Instructions(static_instructions(tenant))
    started = time.perf_counter()
    memory, store = await open_memory(deps, tenant, identity, instructions, call_id=call_id)
    timings = {"memory_setup": (time.perf_counter() - started) * 1000}
    session: AgentSession[CallData] = AgentSession(
        **providers.session_kwargs(),
        userdata=CallData(customer_id=tenant.id, tenant_name=tenant.name, memory=memory, store=store),
    )
    if configure_session is not None:
        configure_session(session)
    if memory is not None:
        memory.attach(session)
    compaction = _compaction(tenant, providers.llm, memory)
    if compaction is not None:
        compaction.attach(session)
    agent = SupportAgent(instructions=instructions, memory=memory, compaction=compaction)
    try:
        await session.start(agent, room=room if room is not None else NOT_GIVEN, room_options=options)
    except BaseException:
        if memory is not None:
            await memory.aclose()
        raise
    if memory is not None and memory.brief:
        greeting = session.generate_reply(instructions=tenant.returning_greeting)
    else:
        greeting = session.say(tenant.greeting)
    return ActiveCall(session, agent, identity, tenant, memory, store, greeting, timings, compaction)


def _compaction(tenant: TenantConfig, model: llm.LLM | None, memory: SessionMemory | None) -> CallCompaction | None:
    """The call's context compaction, as the tenant configures it (``None`` when off)."""
    policy = tenant.compaction
    if not policy.enabled:
        return None
    summariser = model_summariser(model) if policy.summariser == "model" and model is not None else None
    vectors = memory.vector_of if memory is not None else None
    return CallCompaction(
        policy,
        plans=tenant.memory.plans,
        region=tenant.memory.default_region,
        summariser=summariser,
        vectors=vectors,
        model=model.model if model is not None else None,  # its tokenizer counts the budget
    )


async def open_memory(
    deps: WorkerDeps,
    tenant: TenantConfig,
    identity: CallerIdentity,
    instructions: Instructions,
    *,
    call_id: str | None = None,
) -> tuple[SessionMemory | None, CallerStore | None]:
    """Open the caller's memory and preload the brief into ``instructions.dynamic``, all within the
    tenant's preload budget: a database or Redis that is slow, hung or refused costs the caller at
    most that before the agent speaks. A call whose memory could not reach the database in time
    goes on and attaches later (its turns are spooled meanwhile; the brief is put in the
    instructions when it comes).

    Returns ``(None, None)`` (and the call goes on without memory) when memory is disabled,
    the store cannot be opened in time, or the identifiers are unusable.
    """
    facts = call_facts(identity)
    instructions.dynamic = facts
    policy = tenant.memory
    loop = asyncio.get_running_loop()
    deadline = loop.time() + policy.preload_timeout_s
    store = await deps.store.get(timeout_s=policy.preload_timeout_s) if deps.store is not None else None
    if store is None:
        return None, None
    try:
        hooks = await store.open_call(
            tenant.id, identity.identifiers, call_id=call_id, budget_s=max(0.01, deadline - loop.time())
        )
    except CallerMemoryError as exc:
        logger.warning("call memory not opened (%s); this call runs without memory", type(exc).__name__)
        return None, store
    try:
        # the memory layer keeps its own budget; this bound holds even if it does not
        remaining = max(0.01, deadline - loop.time())
        preload = await asyncio.wait_for(hooks.preload(budget_s=remaining), remaining + 0.05)
        brief = preload.text
    except (TimeoutError, CallerMemoryError) as exc:
        logger.warning("preload failed (%s); starting without the caller's history", type(exc).__name__)
        brief = ""
    memory = SessionMemory(
        hooks,
        customer_id=tenant.id,
        instructions=instructions,
        brief=brief,
        facts=facts,
        preload_timeout_s=policy.preload_timeout_s,
        settle_timeout_s=policy.link_settle_timeout_s,
    )
    return memory, store


def _room_options(room: rtc.Room | None, participant_identity: str | None, *, refuse: bool) -> Any:
    if room is None:
        return NOT_GIVEN
    return room_io.RoomOptions(
        participant_identity=participant_identity or NOT_GIVEN,
        close_on_disconnect=True,
        delete_room_on_close=refuse,  # a refused SIP call is hung up
    )


async def _refuse(
    deps: WorkerDeps,
    identity: CallerIdentity,
    *,
    room: rtc.Room | None,
    options: Any,
    configure_session: Callable[[AgentSession[Any]], None] | None,
) -> ActiveCall:
    """Say the refusal message and end the session; no memory is opened for an unknown tenant."""
    stand_in = TenantConfig(
        id="_refused", name="", numbers=(), persona=_REFUSAL_INSTRUCTIONS, greeting=deps.tenants.refusal_message
    )
    providers = deps.providers(stand_in, vad=deps.vad)
    session: AgentSession[Any] = AgentSession(**providers.session_kwargs())
    agent = Agent(instructions=_REFUSAL_INSTRUCTIONS, tools=[])
    if configure_session is not None:
        configure_session(session)
    await session.start(agent, room=room if room is not None else NOT_GIVEN, room_options=options)
    handle = session.say(deps.tenants.refusal_message, allow_interruptions=False)

    def _hang_up(_: SpeechHandle) -> None:
        session.shutdown()

    handle.add_done_callback(_hang_up)
    return ActiveCall(session, agent, identity, None, greeting=handle)

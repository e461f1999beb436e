"""Replaying a spooled call into the database, as the call would have stored it.

A call's turns reach the spool when the database could not take them in time. Once the call is
closed (or the process that spooled it is gone), :func:`replay_call` stores them: the caller the
call had (followed through any link made since), or, for a call that never reached the database,
the caller its presented identifiers resolve to now; the turns in their order, text first (the
back-fill enriches them); identifiers said aloud in them, under the same rules as a live call; and
the call's end, topic, outcome and episode. Every write is keyed as the live call's would have been, so a
turn replayed twice, or already stored by the call itself, is stored once. A call whose caller was
forgotten meanwhile is dropped.
"""

from __future__ import annotations

import logging

from ..policy import MemoryPolicy
from ..recall.episodes import build_episode
from ..store.codec import caller_digest
from ..store.spool import SpooledCall
from ..text import promises
from ..text.reading import read_turn
from ..values import Identifier
from .linking import learn_spoken, resolve_caller
from .services import CallServices

__all__ = ["replay_call"]

logger = logging.getLogger(__name__)


async def replay_call(services: CallServices, call: SpooledCall, policy: MemoryPolicy) -> bool:
    """Store a claimed spooled call. Returns False if it was dropped (its caller was forgotten)."""
    backend = services.backend
    tenant = call.customer_id
    if call.caller_id is not None:
        known = [c for c in (call.caller_id, call.first_caller_id) if c]
        if any([await backend.is_forgotten(tenant, caller_digest(tenant, c)) for c in known]):
            return False
        caller = await backend.canonical_caller(tenant, call.caller_id)
        if caller is None:
            return False
        first = call.first_caller_id or call.caller_id
    else:
        caller, _ = await resolve_caller(
            backend, tenant, call.identifiers, policy, call_id=call.call_id, at=call.started_at
        )
        first = caller
    await backend.start_call(tenant, call.call_id, caller, call.started_at)
    for row in call.rows:
        row.caller_id, row.first_caller_id = caller, first
    if call.rows:
        await backend.write_memories(tenant, call.rows, enriched=False)
        caller = await _learn(services, call, caller, policy)
    stored = await backend.load_call_rows(tenant, call.call_id)
    if stored:
        built = build_episode(call.call_id, call.started_at, stored, region=policy.default_region)
        await backend.finish_call(
            tenant,
            call.call_id,
            ended_at=max(r.at for r in stored),
            topic=promises.call_topic([r.text for r in stored if r.kind == "turn" and r.role == "user"]),
            outcome=promises.call_outcome([r.text for r in stored if r.kind == "turn" and r.role == "assistant"]),
            episode=await services.refine_episode(built, stored),
        )
    await services.invalidate(tenant, caller)
    return True


async def _learn(services: CallServices, call: SpooledCall, caller: str, policy: MemoryPolicy) -> str:
    """Identifiers said aloud in the replayed turns: attached, or linked if the policy is met by what was said."""
    said = [r.text for r in call.rows if r.kind == "turn" and r.role == "user"]
    spoken: list[Identifier] = []
    for text in said:
        spoken.extend(i for i in read_turn(text, region=policy.default_region).identifiers if i not in spoken)
    if not spoken:
        return caller
    learned = await learn_spoken(
        services.backend, call.customer_id, caller, spoken, policy, call_id=call.call_id, at=call.rows[-1].at, said=said
    )
    return learned.caller_id

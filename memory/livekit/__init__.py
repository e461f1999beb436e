"""The LiveKit adapter of the memory layer: the only part of ``memory`` that imports ``livekit``.

Contract, in the order a call meets it:

- ``identity``: who is calling and for which tenant, from what LiveKit gives a job (dispatch and
  room metadata, the participant's attributes: SIP caller number, app token identity);
- ``session``: :class:`SessionMemory`, one call's :class:`~memory.CallHooks` attached to an
  ``AgentSession``: turns recorded from session events (voice and text paths), the brief kept
  current in the agent's per-call instructions, the memory closed when the session ends;
- ``compaction``: :class:`CallCompaction`, a long call's older turns condensed in each LLM request;
- ``embedder``: one embedding model per worker host, in LiveKit's inference process
  (:func:`register_runner` in the main process); a job's :class:`HostEmbedder` asks it;
- ``priority``: the threads a caller waits on (a recall's event loop, the host's query threads) above
  the calls' other work, where the host allows it.

Importing this package sends memory's spans (:mod:`memory.telemetry`) to LiveKit's tracer, so a
call's memory operations sit inside the job's trace and reach whatever LiveKit exports to.

The rest of ``memory`` never imports this package.
"""

from livekit.agents.telemetry import tracer as _livekit_tracer

from .. import telemetry as _telemetry
from .compaction import NOTES_MESSAGE_ID, RECALL_MESSAGE_ID, CallCompaction, model_summariser
from .embedder import HostEmbedder, register_runner
from .identity import CallerIdentity, caller_identity, identity_from_participant, mask_value
from .session import SessionMemory

_telemetry.use_tracer(_livekit_tracer)  # LiveKit's tracer follows the provider LiveKit is given

__all__ = [
    "NOTES_MESSAGE_ID",
    "RECALL_MESSAGE_ID",
    "CallCompaction",
    "CallerIdentity",
    "HostEmbedder",
    "SessionMemory",
    "caller_identity",
    "identity_from_participant",
    "mask_value",
    "model_summariser",
    "register_runner",
]

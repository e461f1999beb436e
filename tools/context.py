"""What the function tools of a call can reach: the typed ``RunContext`` userdata."""

from __future__ import annotations

from dataclasses import dataclass

from memory import CallerStore
from memory.livekit import SessionMemory

__all__ = ["CallData"]


@dataclass
class CallData:
    """Per-call state shared by the tools (``RunContext[CallData].userdata``).

    ``memory`` is ``None`` when the memory store could not be reached at call set-up: the call
    goes on and the memory tools answer that history is unavailable.
    """

    customer_id: str
    tenant_name: str
    memory: SessionMemory | None = None
    store: CallerStore | None = None
    forget_requested_at_turn: int | None = None

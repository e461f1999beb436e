"""Per-caller memory for voice agents: callers recognised across calls and numbers, per tenant.

store = await memory.open_store(url=None, redis_url=None)
hooks = await store.open_call(customer_id, {"phone": "+1 415 555 0142"})
brief = await hooks.preload()          # the caller brief for the prompt
hooks.record_turn("user", "...")       # no I/O; stored in the background
hits = await hooks.recall("refund", mode="fast")
await hooks.aclose()                   # drains writes, prepares the next call's preload
"""

from .call.hooks import CallHooks
from .caller_store import CallerStore, open_store
from .errors import (
    CallerMemoryError,
    ConfigError,
    IdentifierError,
    InvalidInputError,
    MemoryWriteError,
    StoreUnavailableError,
)
from .policy import DEFAULT_POLICY, MemoryPolicy
from .text.identifiers import Identifier
from .values import IDENTIFIER_KINDS, CallEvent, Hit, Link, Matter, Preload

__all__ = [
    "DEFAULT_POLICY",
    "IDENTIFIER_KINDS",
    "CallEvent",
    "CallHooks",
    "CallerMemoryError",
    "CallerStore",
    "ConfigError",
    "Hit",
    "Identifier",
    "IdentifierError",
    "InvalidInputError",
    "Link",
    "Matter",
    "MemoryPolicy",
    "MemoryWriteError",
    "Preload",
    "StoreUnavailableError",
    "open_store",
]

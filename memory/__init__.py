"""Per-caller memory for voice agents: callers recognised across calls and numbers, per tenant.

store = await memory.open_store(url=None, redis_url=None)
hooks = await store.open_call(customer_id, {"phone": "+1 415 555 0142"})
brief = await hooks.preload()          # the caller brief for the prompt
hooks.record_turn("user", "...")       # no I/O; stored in the background
hits = await hooks.recall("refund", mode="fast")
await hooks.aclose()                   # drains writes, prepares the next call's preload

The package reads in the order of the data flow, each part importing only the parts below it:

    livekit/      the LiveKit adapter (identity from a job, a call's memory on a session, compaction)
    caller_store  the process: CallerStore, open_store
    call/         one call: CallHooks over its linker, history, writer and transcript
    compaction/   a long call's older turns condensed for each LLM request
    recall/       ranking one caller's memories in process; the brief; prepared briefs
    text/         what an utterance says: identifiers, spoken digits, dates, facts, promises
    store/        where memories are kept: SQLite and Postgres (row-level security)
    policy, embed, values, errors, deadline, telemetry (metrics and spans, no personal data)

This module is the public face for applications; ``memory.livekit`` and ``memory.compaction`` are
the faces of the LiveKit adapter and of compaction. Everything else is internal.
"""

from .call.hooks import CallHooks
from .caller_store import CallerStore, open_store
from .embed import default_embedder
from .errors import (
    CallerMemoryError,
    ConfigError,
    IdentifierError,
    InvalidInputError,
    MemoryWriteError,
    SchemaError,
    StoreUnavailableError,
)
from .policy import DEFAULT_POLICY, MemoryPolicy
from .recall.episodes import describe_episode
from .store import DEFAULT_SQLITE_PATH, migrate
from .text.facts import reference_labels
from .text.quote import quote
from .values import (
    IDENTIFIER_KINDS,
    TENANT_ID_RULE,
    CallEvent,
    Episode,
    EpisodeValue,
    Hit,
    Identifier,
    Link,
    Matter,
    Preload,
    Verification,
    is_tenant_id,
)

__all__ = [
    "DEFAULT_POLICY",
    "DEFAULT_SQLITE_PATH",
    "IDENTIFIER_KINDS",
    "TENANT_ID_RULE",
    "CallEvent",
    "CallHooks",
    "CallerMemoryError",
    "CallerStore",
    "ConfigError",
    "Episode",
    "EpisodeValue",
    "Hit",
    "Identifier",
    "IdentifierError",
    "InvalidInputError",
    "Link",
    "Matter",
    "MemoryPolicy",
    "MemoryWriteError",
    "Preload",
    "SchemaError",
    "StoreUnavailableError",
    "Verification",
    "default_embedder",
    "describe_episode",
    "is_tenant_id",
    "migrate",
    "open_store",
    "quote",
    "reference_labels",
]

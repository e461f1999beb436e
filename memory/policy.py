"""Per-tenant memory policy: which identifiers may link callers, budgets, retention."""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import ConfigError
from .values import IDENTIFIER_KINDS

RECALL_MODES: tuple[str, ...] = ("fast", "accurate")


@dataclass(frozen=True)
class MemoryPolicy:
    """How one tenant's callers are recognised and remembered.

    link_kinds: identifier kinds that, presented on the line or token, find an existing caller.
    spoken_link_kinds: identifier kinds that, said aloud during a call, link the call to an
        existing caller (a caller reading out an account number or e-mail address).
    A name never links two callers, whatever these sets say.
    """

    link_kinds: frozenset[str] = frozenset({"phone", "email", "account", "oauth_sub", "sip_uri"})
    spoken_link_kinds: frozenset[str] = frozenset({"phone", "email", "account"})
    default_region: str = "US"
    preload_token_budget: int = 600
    preload_timeout_s: float = 1.5
    recall_timeout_s: float = 1.0
    recall_mode: str = "fast"
    retention_days: int | None = None
    recent_calls: int = 5
    working_set_limit: int = 2000
    plans: tuple[str, ...] = ()  # the tenant's plan and product names, so "the family plan" is a fact
    extra: dict[str, object] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        for name in ("link_kinds", "spoken_link_kinds"):
            kinds = getattr(self, name)
            if not isinstance(kinds, frozenset):
                object.__setattr__(self, name, frozenset(kinds))
                kinds = getattr(self, name)
            unknown = sorted(k for k in kinds if k not in IDENTIFIER_KINDS)
            if unknown:
                raise ConfigError(f"{name}: unknown identifier kinds {unknown}; known: {list(IDENTIFIER_KINDS)}")
            if "name" in kinds:
                raise ConfigError(f"{name}: a name never links callers; remove 'name'")
        if self.recall_mode not in RECALL_MODES:
            raise ConfigError(f"recall_mode must be one of {list(RECALL_MODES)}, not {self.recall_mode!r}")
        if not 50 <= self.preload_token_budget <= 20000:
            raise ConfigError("preload_token_budget must be between 50 and 20000 tokens")
        if not 0 < self.preload_timeout_s <= 30 or not 0 < self.recall_timeout_s <= 30:
            raise ConfigError("timeouts must be between 0 and 30 seconds")
        if self.retention_days is not None and self.retention_days < 1:
            raise ConfigError("retention_days must be at least 1 (or None to keep memories)")
        if len(self.default_region) != 2 or not self.default_region.isalpha():
            raise ConfigError("default_region must be a two-letter region code such as 'US' or 'GB'")
        if not isinstance(self.plans, tuple):
            object.__setattr__(self, "plans", tuple(self.plans))
        if not 1 <= self.recent_calls <= 50:
            raise ConfigError("recent_calls must be between 1 and 50")


DEFAULT_POLICY = MemoryPolicy()

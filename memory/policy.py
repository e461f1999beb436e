"""Per-tenant memory policy: which identifiers find a caller, how a caller is verified, budgets, retention.

Every field is checked when the policy is made: a wrong type or a value out of range raises
:class:`~memory.errors.ConfigError` naming the field, never a ``TypeError`` later in a call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .errors import ConfigError
from .values import IDENTIFIER_KINDS

RECALL_MODES: tuple[str, ...] = ("fast", "accurate")

VERIFICATION_FACTORS: tuple[str, ...] = ("name", "postcode", "pin", "date_of_birth")
"""What a caller can answer to prove a record is theirs: the name as recorded, or a postcode, PIN or
date of birth where the tenant stores one (``CallerStore.set_verification``)."""

DEFAULT_FACTORS_NEEDED = 1
"""Matching factors needed before an identifier said aloud discloses a record (unless the policy says)."""


@dataclass(frozen=True)
class MemoryPolicy:
    """How one tenant's callers are recognised and remembered.

    link_kinds: identifier kinds that, presented on the line or token (the SIP caller number, an
        app token's OAuth subject), find an existing caller at once.
    spoken_link_kinds: identifier kinds that, said aloud during a call, may find a caller's record
        (a caller reading out an account number or e-mail address).
    verification: per kind said aloud, how many factors matching the record (``verification_factors``)
        the caller must give before that record's history is disclosed and the call linked to it;
        ``0`` trusts the kind outright. Kinds not named need ``DEFAULT_FACTORS_NEEDED`` (one).
    verification_factors: the factors that count (``VERIFICATION_FACTORS`` by default).
    A name never links two callers on its own, whatever these settings say.
    """

    link_kinds: frozenset[str] = frozenset({"phone", "email", "account", "oauth_sub", "sip_uri"})
    spoken_link_kinds: frozenset[str] = frozenset({"phone", "email", "account"})
    verification: tuple[tuple[str, int], ...] = ()
    verification_factors: frozenset[str] = frozenset(VERIFICATION_FACTORS)
    default_region: str = "US"
    preload_token_budget: int = 600
    preload_timeout_s: float = 1.5
    recall_timeout_s: float = 1.0
    link_settle_timeout_s: float = 0.5
    recall_mode: str = "fast"
    retention_days: int | None = None
    recent_calls: int = 5
    working_set_limit: int = 2000
    plans: tuple[str, ...] = ()  # the tenant's plan and product names, so "the family plan" is a fact
    extra: dict[str, object] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        for name in ("link_kinds", "spoken_link_kinds"):
            kinds = self._names(name, IDENTIFIER_KINDS, "identifier kinds")
            if "name" in kinds:
                raise ConfigError(f"{name}: a name never links callers; remove 'name'")
        self._names("verification_factors", VERIFICATION_FACTORS, "factors")
        self._verification()
        if not isinstance(self.recall_mode, str) or self.recall_mode not in RECALL_MODES:
            raise ConfigError(f"recall_mode must be one of {list(RECALL_MODES)}, not {self.recall_mode!r}")
        _whole("preload_token_budget", self.preload_token_budget, 50, 20000)
        for name in ("preload_timeout_s", "recall_timeout_s", "link_settle_timeout_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 30:
                raise ConfigError(f"{name} must be a number of seconds above 0 and at most 30")
        if self.retention_days is not None:
            _whole("retention_days", self.retention_days, 1, 100_000, extra=" (or None to keep memories)")
        if (
            not isinstance(self.default_region, str)
            or len(self.default_region) != 2
            or not self.default_region.isalpha()
        ):
            raise ConfigError("default_region must be a two-letter region code such as 'US' or 'GB'")
        self._plans()
        _whole("recent_calls", self.recent_calls, 1, 50)
        _whole("working_set_limit", self.working_set_limit, 1, 1_000_000)

    def factors_needed(self, kind: str) -> int:
        """Matching factors a caller must give before a record found by ``kind`` said aloud is disclosed."""
        return dict(self.verification).get(kind, DEFAULT_FACTORS_NEEDED)

    # -- checks --------------------------------------------------------------------------------------

    def _names(self, name: str, known: tuple[str, ...], noun: str) -> frozenset[str]:
        value = getattr(self, name)
        if isinstance(value, str) or not _iterable(value) or not all(isinstance(k, str) for k in value):
            raise ConfigError(f"{name} must be a list of {noun} from {list(known)}")
        value = frozenset(value)
        object.__setattr__(self, name, value)
        unknown = sorted(k for k in value if k not in known)
        if unknown:
            raise ConfigError(f"{name}: unknown {noun} {unknown}; known: {list(known)}")
        return value

    def _verification(self) -> None:
        raw = self.verification
        pairs = list(raw.items()) if isinstance(raw, Mapping) else raw
        if isinstance(pairs, str) or not _iterable(pairs):
            raise ConfigError("verification must map identifier kinds to a number of factors, e.g. {account: 1}")
        checked: dict[str, int] = {}
        for pair in pairs:
            if not isinstance(pair, tuple | list) or len(pair) != 2 or not isinstance(pair[0], str):
                raise ConfigError("verification must map identifier kinds to a number of factors, e.g. {account: 1}")
            kind, needed = pair
            if kind not in IDENTIFIER_KINDS or kind == "name":
                raise ConfigError(f"verification: unknown identifier kind {kind!r}")
            _whole(f"verification.{kind}", needed, 0, len(VERIFICATION_FACTORS))
            checked[kind] = needed
        object.__setattr__(self, "verification", tuple(sorted(checked.items())))

    def _plans(self) -> None:
        plans = self.plans
        if isinstance(plans, str) or not _iterable(plans) or not all(isinstance(p, str) and p.strip() for p in plans):
            raise ConfigError("plans must be a list of plan names (a single name goes in a list too)")
        object.__setattr__(self, "plans", tuple(p.strip() for p in plans))


def _iterable(value: object) -> bool:
    return isinstance(value, list | tuple | set | frozenset)


def _whole(name: str, value: object, low: int, high: int, *, extra: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high}{extra}, not {value!r}")


DEFAULT_POLICY = MemoryPolicy()

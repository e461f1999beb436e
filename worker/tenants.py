"""``tenants.yaml`` -> frozen tenant configuration, validated once, with errors that say where.

A tenant is one business answering calls with its own persona, numbers, models and memory
policy. Callers of different tenants never share memory: every memory call is scoped by the
tenant id. See ``docs/worker.md`` for the file's reference.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import yaml

from memory import TENANT_ID_RULE, ConfigError, MemoryPolicy, is_tenant_id
from memory.compaction import LEVELS, SUMMARISERS, CompactionPolicy

__all__ = [
    "ModelOptions",
    "Resolution",
    "TenantConfig",
    "TenantConfigError",
    "Tenants",
    "language_warnings",
    "load_tenants",
]

_E164_RE = re.compile(r"\+[1-9]\d{6,14}")
_LANG_RE = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")
_NON_DIGITS = re.compile(r"\D")

_TOP_KEYS = {"tenants", "default_tenant", "unknown_tenant", "refusal_message"}
_TENANT_KEYS = {
    "id",
    "name",
    "numbers",
    "language",
    "persona",
    "persona_file",
    "greeting",
    "returning_greeting",
    "models",
    "memory",
    "compaction",
}
_MODEL_KEYS = {"stt", "llm", "tts", "voice"}
_MEMORY_KEYS = {f.name for f in fields(MemoryPolicy)} - {"extra"}
_COMPACTION_KEYS = {f.name for f in fields(CompactionPolicy)}

DEFAULT_REFUSAL = "Sorry, this line is not in service. Goodbye."
DEFAULT_RETURNING_GREETING = (
    "Greet the caller warmly as a returning caller in one or two short sentences. If the caller memory "
    "shows an open matter, mention it briefly and ask whether that is why they are calling."
)


class TenantConfigError(ConfigError):
    """``tenants.yaml`` is invalid; the message names the file and the offending entry."""


@dataclass(frozen=True)
class ModelOptions:
    """Per-tenant model choices; ``None`` means the worker's default (from the environment)."""

    stt: str | None = None
    llm: str | None = None
    tts: str | None = None
    voice: str | None = None


@dataclass(frozen=True)
class TenantConfig:
    """One tenant: who answers, on which numbers, how, and what is remembered."""

    id: str
    name: str
    numbers: tuple[str, ...]
    persona: str
    greeting: str
    returning_greeting: str = DEFAULT_RETURNING_GREETING
    language: str = "en"
    models: ModelOptions = field(default_factory=ModelOptions)
    memory: MemoryPolicy = field(default_factory=MemoryPolicy)
    compaction: CompactionPolicy = field(default_factory=CompactionPolicy)


@dataclass(frozen=True)
class Resolution:
    """Which tenant answers a call, and why (``reason`` is safe to log)."""

    tenant: TenantConfig | None
    reason: str


@dataclass(frozen=True)
class Tenants:
    """All tenants, plus what happens to a call that names none of them."""

    tenants: Mapping[str, TenantConfig]
    default_tenant: str | None = None
    unknown_tenant: Literal["default", "refuse"] = "refuse"
    refusal_message: str = DEFAULT_REFUSAL

    def resolve(self, customer_id: str | None, dialled_number: str | None = None) -> Resolution:
        """The tenant for a call: named by trusted metadata, else by the number dialled.

        A call that names an unknown tenant, or names none and dialled no known number, goes to
        the default tenant when ``unknown_tenant`` is ``default``, and is refused otherwise.
        """
        if customer_id is not None:
            tenant = self.tenants.get(customer_id)
            if tenant is not None:
                by_number = self.by_number(dialled_number)
                if by_number is not None and by_number.id != tenant.id:
                    return Resolution(tenant, "named by metadata (the dialled number belongs to another tenant)")
                return Resolution(tenant, "named by metadata")
            return self._fallback("metadata names an unknown tenant")
        tenant = self.by_number(dialled_number)
        if tenant is not None:
            return Resolution(tenant, "dialled number")
        return self._fallback("no tenant named and no known number dialled")

    def by_number(self, number: str | None) -> TenantConfig | None:
        """The tenant reached on ``number`` (compared digit for digit, ``+`` optional)."""
        if not number:
            return None
        digits = _NON_DIGITS.sub("", number)
        if not digits:
            return None
        for tenant in self.tenants.values():
            if any(_NON_DIGITS.sub("", n) == digits for n in tenant.numbers):
                return tenant
        return None

    def _fallback(self, why: str) -> Resolution:
        if self.unknown_tenant == "default" and self.default_tenant is not None:
            return Resolution(self.tenants[self.default_tenant], f"{why}; default tenant")
        return Resolution(None, f"{why}; refused")


def language_warnings(tenants: Tenants) -> list[str]:
    """One line per tenant whose calls are not in English: the memory layer reads English only."""
    return [
        f"tenant {tenant.id!r} speaks {tenant.language!r}: the memory layer reads English only (identifiers "
        "said aloud, facts, promises, episodes and what a question points at); its calls are still stored "
        "and recalled by their words, but those readers will miss"
        for tenant in tenants.tenants.values()
        if tenant.language.split("-")[0].lower() != "en"
    ]


def load_tenants(path: str | Path) -> Tenants:
    """Read and validate ``tenants.yaml``; raise :class:`TenantConfigError` naming the problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TenantConfigError(f"{path}: cannot read the tenants file ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise TenantConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TenantConfigError(f"{path}: not valid YAML ({exc})") from exc
    return parse_tenants(data, source=str(path), base_dir=path.parent)


def parse_tenants(data: object, *, source: str = "tenants.yaml", base_dir: Path | None = None) -> Tenants:
    """Validate already-parsed YAML (a mapping) into :class:`Tenants`."""
    where = _Where(source)
    top = where.mapping(data, "", _TOP_KEYS)
    raw_tenants = top.get("tenants")
    if not isinstance(raw_tenants, list) or not raw_tenants:
        raise where.error("tenants", "must be a non-empty list of tenants")
    tenants: dict[str, TenantConfig] = {}
    numbers: dict[str, str] = {}
    for i, raw in enumerate(raw_tenants):
        tenant = _parse_tenant(where, f"tenants[{i}]", raw, base_dir)
        if tenant.id in tenants:
            raise where.error(f"tenants[{i}].id", f"duplicate tenant id {tenant.id!r}")
        for number in tenant.numbers:
            if number in numbers:
                raise where.error(f"tenants[{i}].numbers", f"{number} already reaches tenant {numbers[number]!r}")
            numbers[number] = tenant.id
        tenants[tenant.id] = tenant

    unknown = top.get("unknown_tenant", "refuse")
    if unknown not in ("default", "refuse"):
        raise where.error("unknown_tenant", "must be 'default' or 'refuse'")
    default = top.get("default_tenant")
    if default is not None and default not in tenants:
        raise where.error("default_tenant", f"{default!r} is not one of the tenants {sorted(tenants)}")
    if unknown == "default" and default is None:
        raise where.error("default_tenant", "is required when unknown_tenant is 'default'")
    refusal = where.text(top, "refusal_message", "", required=False) or DEFAULT_REFUSAL
    return Tenants(
        tenants=MappingProxyType(tenants), default_tenant=default, unknown_tenant=unknown, refusal_message=refusal
    )


def _parse_tenant(where: _Where, at: str, raw: object, base_dir: Path | None) -> TenantConfig:
    entry = where.mapping(raw, at, _TENANT_KEYS)
    tenant_id = entry.get("id")
    if not is_tenant_id(tenant_id):
        raise where.error(f"{at}.id", f"must be {TENANT_ID_RULE}")
    at = f"{at} ({tenant_id})"
    numbers = entry.get("numbers", [])
    if not isinstance(numbers, list) or not all(isinstance(n, str) and _E164_RE.fullmatch(n) for n in numbers):
        raise where.error(f"{at}.numbers", "must be a list of E.164 numbers such as '+15105550100'")
    if len(set(numbers)) != len(numbers):
        raise where.error(f"{at}.numbers", "lists a number twice")
    if "persona" in entry and "persona_file" in entry:
        raise where.error(at, "give either persona or persona_file, not both")
    if "persona_file" in entry:
        persona = _read_persona(where, f"{at}.persona_file", entry["persona_file"], base_dir)
    else:
        persona = where.text(entry, "persona", at)
    language = entry.get("language", "en")
    if not isinstance(language, str) or not _LANG_RE.fullmatch(language):
        raise where.error(f"{at}.language", "must be a language code such as 'en' or 'en-GB'")
    return TenantConfig(
        id=tenant_id,
        name=where.text(entry, "name", at),
        numbers=tuple(numbers),
        persona=persona,
        greeting=where.text(entry, "greeting", at),
        returning_greeting=where.text(entry, "returning_greeting", at, required=False) or DEFAULT_RETURNING_GREETING,
        language=language,
        models=_parse_models(where, f"{at}.models", entry.get("models")),
        memory=_parse_policy(where, f"{at}.memory", entry.get("memory")),
        compaction=_parse_compaction(where, f"{at}.compaction", entry.get("compaction")),
    )


def _read_persona(where: _Where, at: str, value: object, base_dir: Path | None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise where.error(at, "must be a path to a markdown file")
    path = Path(value)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise where.error(at, f"cannot read {value!r} ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise where.error(at, f"{value!r} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from exc
    if not text:
        raise where.error(at, f"{value!r} is empty")
    return text


def _parse_models(where: _Where, at: str, raw: object) -> ModelOptions:
    if raw is None:
        return ModelOptions()
    entry = where.mapping(raw, at, _MODEL_KEYS)
    return ModelOptions(**{key: where.text(entry, key, at, required=False) or None for key in _MODEL_KEYS})


def _parse_policy(where: _Where, at: str, raw: object) -> MemoryPolicy:
    if raw is None:
        return MemoryPolicy()
    entry = dict(where.mapping(raw, at, _MEMORY_KEYS))
    for key in ("link_kinds", "spoken_link_kinds", "verification_factors"):
        if key in entry:
            if not isinstance(entry[key], list) or not all(isinstance(k, str) for k in entry[key]):
                raise where.error(f"{at}.{key}", "must be a list of names")
            entry[key] = frozenset(entry[key])
    if "plans" in entry and not isinstance(entry["plans"], list):
        raise where.error(f"{at}.plans", "must be a list of plan names")
    if "verification" in entry and not isinstance(entry["verification"], Mapping):
        raise where.error(f"{at}.verification", "must map identifier kinds to a number of factors, e.g. {account: 1}")
    try:
        return MemoryPolicy(**entry)
    except ConfigError as exc:
        raise where.error(at, str(exc)) from exc
    except TypeError as exc:
        raise where.error(at, f"wrong value type ({exc})") from exc


def _parse_compaction(where: _Where, at: str, raw: object) -> CompactionPolicy:
    """``compaction: {level, token_budget, summariser}``; absent means the default (balanced)."""
    if raw is None:
        return CompactionPolicy()
    entry = where.mapping(raw, at, _COMPACTION_KEYS)
    level = entry.get("level", CompactionPolicy.level)
    if level is False:  # YAML reads a bare `off` as false
        level = "off"
    if level not in LEVELS:
        raise where.error(f"{at}.level", f"must be one of {', '.join(LEVELS)} (got {level!r})")
    budget = entry.get("token_budget", CompactionPolicy.token_budget)
    if isinstance(budget, bool) or not isinstance(budget, int):
        raise where.error(f"{at}.token_budget", f"must be a whole number of tokens (got {budget!r})")
    summariser = entry.get("summariser", CompactionPolicy.summariser)
    if summariser not in SUMMARISERS:
        raise where.error(f"{at}.summariser", f"must be one of {', '.join(SUMMARISERS)} (got {summariser!r})")
    try:
        return CompactionPolicy(level=level, token_budget=budget, summariser=summariser)
    except ConfigError as exc:
        raise where.error(at, str(exc)) from exc


class _Where:
    """Builds error messages that name the file and the path inside it."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, at: str, problem: str) -> TenantConfigError:
        return TenantConfigError(f"{self.source}: {at + ': ' if at else ''}{problem}")

    def mapping(self, value: object, at: str, allowed: set[str]) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.error(at or "top level", "must be a mapping")
        unknown = sorted(str(k) for k in value if k not in allowed)
        if unknown:
            raise self.error(at or "top level", f"unknown key(s) {unknown}; allowed: {sorted(allowed)}")
        return value

    def text(self, entry: Mapping[str, Any], key: str, at: str, *, required: bool = True) -> str:
        value = entry.get(key)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or not value.strip():
            raise self.error(f"{at}.{key}" if at else key, "must be a non-empty string")
        return value.strip()

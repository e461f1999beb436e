"""Voice scenarios: tenants, callers and calls over weeks, replayed through the public memory API and scored.

    python bench/eval_scenarios.py                    # fresh SQLite store in a temporary directory
    python bench/eval_scenarios.py --postgres postgresql://postgres@127.0.0.1:5432/postgres --redis redis://127.0.0.1:6379/14
    python bench/eval_scenarios.py --strict           # exit 1 if the memory layer leaked anything

The set lives in ``bench/scenarios/*.yaml`` (one file per tenant; format in docs/scenarios.md). Every
call is replayed in time order across all tenants: ``open_call`` with the identifiers the line
presents, ``preload``, the turns (ASR-style caller text, agent text) with ``record_turn``, then
``aclose``. Probes attach to a call and run at a declared point: ``start`` (after the preload),
after the N-th turn, ``end`` (after the last turn, before closing) or ``closed`` (after ``aclose``).

Scores: probe pass rate overall and per kind; identity accuracy (each same/different/new-caller
decision of the identity probes); calls attributed to the wrong caller at the end (pairs wrongly
merged or split); leaks; latency of open_call, preload and recall. A leak is any recall hit, open
matter, fact or brief content that came from another caller or tenant: the scorer tags every
recorded turn with the caller and tenant it came from and checks every read against that tag, at
every call's start and end (sweeps) and in every probe.

The same run replays the set through two baselines (``--baselines``):

- ``raw_caller_id``: memory keyed by the raw caller-ID string, the way a do-it-yourself template keys
  a dict (no normalisation, no linking, one dict for the deployment), with the same recall ranking
  (``memory.recall.working_set.WorkingSet``, same embedder and presets) and a brief of the latest transcripts
  within the same token budget.
- ``tenant_vector``: what many memory services and templates do: one vector index per tenant, no
  notion of who is calling. Recall is the top-k cosine of the query's MiniLM vector over every turn
  of every caller of the tenant (and this call's own turns); no brief, no facts, no open matters.

Exit code 0 even when probes fail (it is a benchmark); ``--strict`` exits 1 on any memory-layer leak.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import logging
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import yaml
from tqdm import tqdm

import memory
from memory.recall.presets import PRESETS
from memory.recall.ranking import rank
from memory.recall.working_set import WorkingSet
from memory.text.identifiers import normalize_identifier
from memory.text.spoken import normalize_spoken_digits
from memory.values import MemoryRow, utcnow

ROOT = Path(__file__).resolve().parent.parent
SCENARIO_DIR = ROOT / "bench" / "scenarios"
RESULTS = ROOT / "bench" / "results" / "scenarios.json"

PROBE_KINDS: dict[str, tuple[set[str], set[str]]] = {
    # kind: (required keys, optional keys) besides kind / when / id / why
    "identity": (set(), {"expect_same_caller_as", "expect_different_caller_from", "expect_new_caller"}),
    "recall": ({"query", "expect_text_contains"}, {"mode", "expect_in_top", "limit", "expect_call"}),
    "brief_contains": ({"text"}, {"section"}),
    "brief_not_current": ({"value"}, {"attribute"}),
    "brief_contained": ({"text"}, set()),
    "fact_current": ({"attribute"}, {"value_contains", "happens_on"}),
    "fact_former": ({"attribute"}, {"value_contains", "happens_on"}),
    "matter_open": (set(), {"reference", "text_contains", "due"}),
    "no_leak": (set(), {"query", "absent"}),
}
SINGLE_VALUED = frozenset({"address", "plan"})  # a second current value of these is a failure
SWEEP_QUERIES = ("what did I call about last time", "is anything still open on my account")
TURN_GAP_S = 20  # scenario time between turns (their `at`)
TURN_PAUSE_S = 0.02  # real time between turns in the replay (a live call has seconds; 0 = back to back)
BRIEF_CHARS = 4 * memory.DEFAULT_POLICY.preload_token_budget  # the baseline's brief: the same budget
ROLES = {"caller": "user", "agent": "assistant", "user": "user", "assistant": "assistant"}


class ScenarioError(ValueError):
    """The scenario set is malformed (a typo in a file, a probe pointing at an unknown call...)."""


class Unsupported(Exception):
    """The subject under test has no such capability (e.g. the baseline keeps no facts)."""


# --------------------------------------------------------------------------- the scenario set


@dataclass(frozen=True)
class Person:
    tenant: str
    id: str
    name: str
    identifiers: dict[str, tuple[str, ...]]  # normalised values
    story: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.tenant, self.id)


@dataclass(frozen=True)
class Probe:
    id: str
    call_id: str
    kind: str
    when: str | int  # "start" | "end" | "closed" | after that many turns
    spec: dict[str, Any]
    why: str = ""


@dataclass(frozen=True)
class Call:
    id: str
    tenant: str
    caller: str
    at: datetime
    identifiers: dict[str, str]
    turns: tuple[tuple[str, str], ...]  # (role, text), role "user" | "assistant"
    probes: tuple[Probe, ...]
    channel: str = "phone"

    def turn_at(self, index: int) -> datetime:
        return self.at + timedelta(seconds=TURN_GAP_S * index)


@dataclass
class Tenant:
    id: str
    domain: str
    region: str
    people: dict[str, Person]


@dataclass
class ScenarioSet:
    tenants: dict[str, Tenant]
    calls: list[Call]  # in replay order

    @property
    def probes(self) -> list[Probe]:
        return [p for c in self.calls for p in c.probes]

    def call(self, call_id: str) -> Call:
        return self._by_id[call_id]

    def person_of(self, call_id: str) -> Person:
        call = self._by_id[call_id]
        return self.tenants[call.tenant].people[call.caller]

    @property
    def people(self) -> list[Person]:
        return [p for t in self.tenants.values() for p in t.people.values()]

    def __post_init__(self) -> None:
        self._by_id = {c.id: c for c in self.calls}

    def summary(self) -> dict[str, int]:
        return {
            "tenants": len(self.tenants),
            "callers": len(self.people),
            "calls": len(self.calls),
            "turns": sum(len(c.turns) for c in self.calls),
            "probes": len(self.probes),
            "days": (self.calls[-1].at.date() - self.calls[0].at.date()).days + 1 if self.calls else 0,
        }


def read_documents(directory: Path = SCENARIO_DIR) -> list[dict]:
    """The raw YAML documents of a scenario directory (one tenant each), in file-name order."""
    files = sorted(Path(directory).glob("*.yaml"))
    if not files:
        raise ScenarioError(f"no *.yaml scenario files in {directory}")
    docs = []
    for path in files:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(doc, dict):
            raise ScenarioError(f"{path.name}: expected a mapping at the top")
        docs.append(doc)
    return docs


def load_scenarios(directory: Path = SCENARIO_DIR) -> ScenarioSet:
    return build_scenarios(read_documents(directory))


def _parse_at(value: object, where: str) -> datetime:
    if isinstance(value, datetime):
        at = value
    elif isinstance(value, str):
        try:
            at = datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise ScenarioError(f"{where}: 'at' must be 'YYYY-MM-DD HH:MM' (UTC), not {value!r}") from exc
    else:
        raise ScenarioError(f"{where}: 'at' is required")
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _as_list(value: object) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def build_scenarios(docs: Sequence[dict]) -> ScenarioSet:
    """Validate and assemble documents (as read from the YAML files) into a scenario set."""
    tenants: dict[str, Tenant] = {}
    calls: list[Call] = []
    raw_probes: list[tuple[Call, int, dict]] = []
    for doc in docs:
        tid = doc.get("tenant")
        if not isinstance(tid, str) or not tid:
            raise ScenarioError("every document needs a 'tenant'")
        if tid in tenants:
            raise ScenarioError(f"tenant {tid!r} is defined twice")
        unknown = set(doc) - {"tenant", "domain", "region", "callers", "calls"}
        if unknown:
            raise ScenarioError(f"{tid}: unknown keys {sorted(unknown)}")
        region = str(doc.get("region", "US"))
        people: dict[str, Person] = {}
        owners: dict[tuple[str, str], str] = {}
        for pid, spec in (doc.get("callers") or {}).items():
            idents: dict[str, tuple[str, ...]] = {}
            for kind, values in (spec.get("identifiers") or {}).items():
                normalised = []
                for raw in _as_list(values):
                    ident = normalize_identifier(kind, raw, region=region)
                    if (ident.kind, ident.value) in owners:
                        raise ScenarioError(
                            f"{tid}: {kind} {raw!r} belongs to two callers; ground truth must be unambiguous"
                        )
                    owners[(ident.kind, ident.value)] = pid
                    normalised.append(ident.value)
                idents[kind] = tuple(normalised)
            people[pid] = Person(tid, pid, str(spec.get("name", pid)), idents, str(spec.get("story", "")).strip())
        tenants[tid] = Tenant(tid, str(doc.get("domain", "")), region, people)
        for index, spec in enumerate(doc.get("calls") or []):
            where = f"{tid} call #{index + 1}"
            cid = spec.get("id")
            if not isinstance(cid, str) or not cid:
                raise ScenarioError(f"{where}: 'id' is required")
            where = f"{tid}/{cid}"
            unknown = set(spec) - {"id", "caller", "at", "identifiers", "turns", "probes", "channel"}
            if unknown:
                raise ScenarioError(f"{where}: unknown keys {sorted(unknown)}")
            if spec.get("caller") not in people:
                raise ScenarioError(f"{where}: unknown caller {spec.get('caller')!r}")
            turns = []
            for turn in spec.get("turns") or []:
                if not isinstance(turn, dict) or len(turn) != 1:
                    raise ScenarioError(f"{where}: a turn is one 'caller: text' or 'agent: text'")
                ((who, text),) = turn.items()
                if who not in ROLES or not isinstance(text, str) or not text.strip():
                    raise ScenarioError(f"{where}: bad turn {turn!r}")
                turns.append((ROLES[who], text))
            identifiers = {str(k): str(v) for k, v in (spec.get("identifiers") or {}).items()}
            person = people[spec["caller"]]
            for kind, raw in identifiers.items():
                try:
                    ident = normalize_identifier(kind, raw, region=region)
                except memory.IdentifierError:
                    continue  # withheld / unusable: presented anyway, as a line would
                if ident.value not in person.identifiers.get(kind, ()):
                    raise ScenarioError(f"{where}: {kind} {raw!r} is not one of {person.id}'s declared identifiers")
            call = Call(
                cid,
                tid,
                spec["caller"],
                _parse_at(spec.get("at"), where),
                identifiers,
                tuple(turns),
                (),
                str(spec.get("channel", "phone")),
            )
            calls.append(call)
            for n, probe in enumerate(spec.get("probes") or [], 1):
                raw_probes.append((call, n, probe))
    ids = Counter(c.id for c in calls)
    dupes = [c for c, n in ids.items() if n > 1]
    if dupes:
        raise ScenarioError(f"duplicate call ids: {dupes}")
    calls.sort(key=lambda c: (c.at, c.id))
    order = {c.id: i for i, c in enumerate(calls)}
    probes: dict[str, list[Probe]] = defaultdict(list)
    for call, n, spec in raw_probes:
        probes[call.id].append(_build_probe(call, n, spec, order))
    seen = Counter(p.id for ps in probes.values() for p in ps)
    dupes = [p for p, n in seen.items() if n > 1]
    if dupes:
        raise ScenarioError(f"duplicate probe ids: {dupes}")
    calls = [replace(c, probes=tuple(probes.get(c.id, ()))) for c in calls]
    return ScenarioSet(tenants, calls)


def _build_probe(call: Call, n: int, spec: dict, order: dict[str, int]) -> Probe:
    where = f"{call.id} probe #{n}"
    if not isinstance(spec, dict):
        raise ScenarioError(f"{where}: a probe is a mapping")
    kind = spec.get("kind")
    if kind not in PROBE_KINDS:
        raise ScenarioError(f"{where}: unknown kind {kind!r}; known: {sorted(PROBE_KINDS)}")
    required, optional = PROBE_KINDS[kind]
    keys = set(spec) - {"kind", "when", "id", "why"}
    if required - keys:
        raise ScenarioError(f"{where}: {kind} needs {sorted(required - keys)}")
    if keys - required - optional:
        raise ScenarioError(f"{where}: {kind} does not take {sorted(keys - required - optional)}")
    when = spec.get("when", "end")
    if isinstance(when, bool) or not (
        when in ("start", "end", "closed") or (isinstance(when, int) and 1 <= when <= len(call.turns))
    ):
        raise ScenarioError(f"{where}: 'when' is start, end, closed or a turn number 1..{len(call.turns)}")
    if kind == "identity" and not keys:
        raise ScenarioError(f"{where}: an identity probe needs an expectation")
    for key in ("expect_same_caller_as", "expect_different_caller_from", "expect_call"):
        for other in _as_list(spec.get(key)):
            if other not in order:
                raise ScenarioError(f"{where}: {key} names unknown call {other!r}")
            if key != "expect_call" and order[other] >= order[call.id]:
                raise ScenarioError(f"{where}: {key} must name an earlier call, not {other!r}")
    if kind in ("fact_current", "fact_former") and not ({"value_contains", "happens_on"} & keys):
        raise ScenarioError(f"{where}: {kind} needs value_contains or happens_on")
    if kind == "matter_open" and not ({"reference", "text_contains"} & keys):
        raise ScenarioError(f"{where}: matter_open needs reference or text_contains")
    for key in ("due", "happens_on"):
        if key in spec:
            try:
                spec = {**spec, key: date.fromisoformat(str(spec[key]))}
            except ValueError as exc:
                raise ScenarioError(f"{where}: {key} must be YYYY-MM-DD") from exc
    if spec.get("mode", "fast") not in PRESETS:
        raise ScenarioError(f"{where}: mode must be one of {sorted(PRESETS)}")
    body = {k: v for k, v in spec.items() if k not in ("kind", "when", "id", "why")}
    return Probe(str(spec.get("id") or f"{call.id}#{n}"), call.id, kind, when, body, str(spec.get("why", "")))


# --------------------------------------------------------------------------- text matching

_FILLER = re.compile(r"\b(?:uh+|um+|uhm|er+|erm|ah+|hmm+|mm+|uh-huh|you know|i mean|like)\b[,.]?\s*", re.IGNORECASE)
_DIGIT_WORDS = {
    w: str(i) for i, w in enumerate(("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"))
}
_JSON_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def norm(text: str) -> str:
    """Fillers dropped, spoken digits as digits, lower case, punctuation as spaces."""
    text = normalize_spoken_digits(_FILLER.sub(" ", text)).lower()
    words = re.sub(r"[^a-z0-9]+", " ", text).split()
    return " ".join(_DIGIT_WORDS.get(w, w) for w in words)


def _word_in(needle: str, haystack: str) -> bool:
    return bool(needle) and re.search(r"(?<![a-z0-9])" + re.escape(needle) + r"(?![a-z0-9])", haystack) is not None


def mentions(haystack: str, needle: str) -> bool:
    """``needle`` occurs in ``haystack`` as whole words, as written or once both are normalised
    ("ticket 8842" matches "ticket eight eight four two", "22 Oak Street" matches "twenty two oak street")."""
    return _word_in(needle.lower(), haystack.lower()) or _word_in(norm(needle), norm(haystack))


def decode_brief(text: str) -> str:
    """The brief with its JSON-quoted strings decoded (so "\\u003c" reads as "<")."""

    def unquote(match: re.Match) -> str:
        try:
            return json.loads(match.group(0))
        except ValueError:
            return match.group(0)

    return _JSON_STRING.sub(unquote, text)


def brief_sections(text: str) -> dict[str, list[str]]:
    """Header line ("Open matters (newest first):") -> its "- ..." lines (raw)."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("- ") and current is not None:
            current.append(stripped)
        elif stripped.endswith(":") and not stripped.startswith("- "):
            current = sections.setdefault(stripped[:-1], [])
        else:
            current = None
    return sections


def section_lines(text: str, name: str) -> list[str] | None:
    for header, lines in brief_sections(text).items():
        if header.lower().startswith(name.lower()):
            return lines
    return None


def _current_part(fact_line: str) -> str:
    """A "Current facts" line without its "formerly ..." annotation."""
    return re.split(r";?\s*\bformerly\b", fact_line, maxsplit=1)[0]


def _fact_line_parts(line: str) -> tuple[str, str]:
    """("address", "22 Oak Street") from '- address: "22 Oak Street" (since ...; formerly ...)'."""
    match = re.match(r"-\s*([^:]+):\s*(\"(?:[^\"\\]|\\.)*\")?", line)
    if not match:
        return "", ""
    value = match.group(2)
    try:
        value = json.loads(value) if value else ""
    except ValueError:
        value = ""
    return match.group(1).strip().lower(), value


def _short(text: str, n: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


# --------------------------------------------------------------------------- leaks


@dataclass(frozen=True)
class Leak:
    call: str  # the call during which it was seen
    point: str  # where: "start sweep", a probe id...
    what: str  # "recall hit", "brief quote", "open matter", "fact", "brief name", "brief identifier"
    detail: str
    origin: str  # whose data it was: "tenant/caller" (or several)


class LeakDetector:
    """Knows where every recorded turn came from (tenant and caller) and flags reads of someone else's."""

    def __init__(self, scenario: ScenarioSet) -> None:
        self.scenario = scenario
        self.texts: dict[tuple[str, str], list[str]] = defaultdict(list)
        for call in scenario.calls:
            owner = (call.tenant, call.caller)
            self.texts[owner].extend(f" {norm(text)} " for _, text in call.turns)
        self.names = {p.key: norm(p.name) for p in scenario.people}
        self.tails: dict[str, set[tuple[str, str]]] = defaultdict(set)
        self.values: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for p in scenario.people:
            for kind, values in p.identifiers.items():
                for value in values:
                    if kind in ("phone", "account"):
                        self.tails[value[-4:]].add(p.key)
                    else:
                        self.values[value.lower()].add(p.key)
        self.found: list[Leak] = []  # distinct leaked items (the same item read twice in a call counts once)
        self._seen: set[tuple[str, str, str, str]] = set()
        self.checked: Counter[str] = Counter()  # items read, per kind of read
        self.flagged: Counter[str] = Counter()  # of those, items that were someone else's (every read counts)

    @staticmethod
    def _label(owners: Iterable[tuple[str, str]]) -> str:
        return ", ".join(sorted(f"{t}/{c}" for t, c in owners))

    def _flag(self, call: Call, point: str, what: str, detail: str, owners: Iterable[tuple[str, str]]) -> Leak:
        leak = Leak(call.id, point, what, _short(detail, 90), self._label(owners))
        self.flagged[what] += 1
        key = (leak.call, leak.what, leak.detail, leak.origin)
        if key not in self._seen:
            self._seen.add(key)
            self.found.append(leak)
        return leak

    def check_calls(self, call: Call, point: str, what: str, items: Iterable[tuple[str | None, str]]) -> list[Leak]:
        """Items that name the call they came from: (scenario call id or None if unknown, text)."""
        me = (call.tenant, call.caller)
        leaks = []
        for origin_call, text in items:
            self.checked[what] += 1
            if origin_call is None:
                leaks.append(self._flag(call, point, what, text, [("?", "unknown call")]))
                continue
            origin = self.scenario.call(origin_call)
            if (origin.tenant, origin.caller) != me:
                leaks.append(self._flag(call, point, what, text, [(origin.tenant, origin.caller)]))
        return leaks

    def check_brief(self, call: Call, point: str, brief: str) -> list[Leak]:
        """Quoted text, full names and identifiers in a brief that belong to someone else only."""
        if not brief:
            return []
        me = (call.tenant, call.caller)
        self.checked["brief"] += 1
        leaks = []
        for match in _JSON_STRING.finditer(brief):
            try:
                quoted = json.loads(match.group(0))
            except ValueError:
                continue
            for chunk in _SENTENCE.split(quoted.rstrip("…")):
                words = norm(chunk)
                if len(words.split()) < 4:
                    continue  # too short to attribute ("thanks", a name, an address)
                needle = f" {words} "
                owners = {who for who, texts in self.texts.items() if any(needle in t for t in texts)}
                if owners and me not in owners:
                    leaks.append(self._flag(call, point, "brief quote", chunk, owners))
        plain = norm(decode_brief(brief))
        my_name = self.names[me]
        for who, name in self.names.items():
            if who != me and name != my_name and _word_in(name, plain):
                leaks.append(self._flag(call, point, "brief name", name, [who]))
        for tail in re.findall(r"\bending ([0-9a-z]{2,4})\b", brief, flags=re.IGNORECASE):
            owners = self.tails.get(tail, set())
            if owners and me not in owners:
                leaks.append(self._flag(call, point, "brief identifier", f"ending {tail}", owners))
        lowered = decode_brief(brief).lower()
        for value, owners in self.values.items():
            if me not in owners and value in lowered:
                leaks.append(self._flag(call, point, "brief identifier", value, owners))
        return leaks


# --------------------------------------------------------------------------- subjects under test


@dataclass(frozen=True)
class HitView:
    text: str
    call_id: str | None  # the scenario's call id (None: not a call of the set)
    score: float


class MemoryCall:
    """One call through the memory layer's public API."""

    def __init__(self, subject: MemorySubject, hooks: memory.CallHooks, call: Call) -> None:
        self.subject, self.hooks, self.call = subject, hooks, call
        self.last_brief_sources: list[str] | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.subject.canonical((self.call.tenant, self.hooks.caller_id))

    @property
    def is_new(self) -> bool:
        return self.hooks.is_new_caller

    async def settle(self) -> None:
        await self.preload()  # a read settles identifiers said aloud, as the agent's next read would

    async def preload(self) -> str:
        t0 = time.perf_counter()
        pre = await self.hooks.preload()
        self.subject.latency["preload"].append((time.perf_counter() - t0) * 1000)
        return pre.text

    def record_turn(self, role: str, text: str, at: datetime) -> None:
        self.hooks.record_turn(role, text, at=at)

    async def recall(self, query: str, mode: str, limit: int) -> list[HitView]:
        t0 = time.perf_counter()
        hits = await self.hooks.recall(query, mode=mode, limit=limit)
        took = (time.perf_counter() - t0) * 1000
        if query not in self.subject.queries:  # a repeated query's vector comes from the store's cache
            self.subject.queries.add(query)
            self.subject.latency[f"recall_{mode}"].append(took)
        return [HitView(h.text, self.subject.scenario_call(h.call_id), h.score) for h in hits]

    async def matters(self) -> list[Any]:
        return list(await self.hooks.open_matters())

    async def facts(self) -> list[Any]:
        method = getattr(self.hooks, "facts", None)
        if method is None:
            raise Unsupported("hooks.facts() is not available in this build of the memory layer")
        result = method()
        if inspect.isawaitable(result):
            result = await result
        return list(result)

    def origin(self, item: Any) -> str | None:
        return self.subject.scenario_call(getattr(item, "call_id", None))

    async def close(self) -> None:
        self.subject.callers.add(self.key)
        try:
            await self.hooks.aclose()
        except memory.MemoryWriteError as exc:
            self.subject.errors.append(f"{self.call.id}: {exc}")


class MemorySubject:
    name = "memory"

    def __init__(self, store: memory.CallerStore, tag: str) -> None:
        self.store, self.tag = store, tag
        self.alias: dict[tuple[str, str], tuple[str, str]] = {}
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.callers: set[tuple[str, str]] = set()
        self.queries: set[str] = set()
        self._calls: dict[str, str] = {}

    async def forget_all(self) -> None:
        """Delete this run's callers (on a shared database the run leaves nothing behind)."""
        for tenant, caller_id in {self.canonical(k) for k in self.callers}:
            await self.store.forget_caller(self.store_tenant(tenant), caller_id)

    def store_tenant(self, tenant: str) -> str:
        return f"{tenant}.{self.tag}"

    def scenario_call(self, store_call_id: str | None) -> str | None:
        return self._calls.get(store_call_id or "")

    def canonical(self, key: tuple[str, str]) -> tuple[str, str]:
        seen = set()
        while key in self.alias and key not in seen:
            seen.add(key)
            key = self.alias[key]
        return key

    def setup(self, scenario: ScenarioSet) -> None:
        for tenant in scenario.tenants.values():
            self.store.set_policy(self.store_tenant(tenant.id), memory.MemoryPolicy(default_region=tenant.region))

    async def open_call(self, call: Call) -> MemoryCall:
        store_call_id = f"{call.id}.{self.tag}"
        self._calls[store_call_id] = call.id
        t0 = time.perf_counter()
        hooks = await self.store.open_call(
            self.store_tenant(call.tenant), dict(call.identifiers), call_id=store_call_id, started_at=call.at
        )
        self.latency["open_call"].append((time.perf_counter() - t0) * 1000)

        def on_event(event: memory.CallEvent) -> None:
            previous = event.extra.get("previous_caller_id")
            if event.kind == "linked" and isinstance(previous, str) and previous != event.caller_id:
                self.alias[(call.tenant, previous)] = (call.tenant, event.caller_id)

        hooks.add_listener(on_event)
        return MemoryCall(self, hooks, call)


class _BaselineCall:
    """What the baselines' calls share: nothing to wait for, and hits that name their call."""

    def __init__(self, subject: Any, call: Call) -> None:
        self.subject, self.call = subject, call
        self.last_brief_sources: list[str] | None = None

    async def settle(self) -> None:
        return None

    def origin(self, item: Any) -> str | None:
        return getattr(item, "call_id", None)


class BaselineCall(_BaselineCall):
    """One call of the do-it-yourself baseline: a dict keyed by the raw caller-ID string."""

    def __init__(self, subject: BaselineSubject, call: Call) -> None:
        super().__init__(subject, call)
        phone = call.identifiers.get("phone")
        raw = phone if phone is not None else next(iter(call.identifiers.values()), f"no-caller-id:{call.id}")
        self.key = raw  # no tenant, no normalisation, no linking
        self.is_new = raw not in subject.history
        self.rows: list[MemoryRow] = []

    async def preload(self) -> str:
        lines, sources, used = [], [], 0
        for call_id, rows in reversed(self.subject.history.get(self.key, [])):
            block = [f"Call on {rows[0].at:%Y-%m-%d}:"] + [
                f"{'caller' if r.role == 'user' else 'agent'}: {r.text}" for r in rows
            ]
            size = sum(len(b) + 1 for b in block)
            if used + size > BRIEF_CHARS:
                break
            lines.extend(block)
            sources.append(call_id)
            used += size
        self.last_brief_sources = sources
        return ("Previous conversations with this caller (newest first):\n" + "\n".join(lines)) if lines else ""

    def record_turn(self, role: str, text: str, at: datetime) -> None:
        seq = len(self.rows) + 1
        row = MemoryRow("baseline", self.key, self.call.id, seq, "turn", role, text, at, self.key)  # type: ignore[arg-type]
        row.embedding = self.subject.vectors[text]
        self.rows.append(row)

    async def recall(self, query: str, mode: str, limit: int) -> list[HitView]:
        rows = [r for _, rs in self.subject.history.get(self.key, []) for r in rs] + self.rows
        working = WorkingSet(rows)
        vector = self.subject.query_vector(query)
        hits = rank(working, query, vector, preset=PRESETS[mode], limit=limit, now=utcnow())
        return [HitView(h.text, h.call_id, h.score) for h in hits]

    async def matters(self) -> list[Any]:
        return []  # a transcript store has no notion of an open matter

    async def facts(self) -> list[Any]:
        raise Unsupported("the baseline keeps transcripts only, no facts")

    async def close(self) -> None:
        self.subject.history.setdefault(self.key, []).append((self.call.id, self.rows))


class _TranscriptBaseline:
    """What the baselines share: the precomputed turn vectors and query embeddings, cached."""

    def __init__(self, embedder, vectors: dict[str, np.ndarray]) -> None:
        self.embedder, self.vectors = embedder, vectors
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self._queries: dict[str, np.ndarray] = {}

    def setup(self, scenario: ScenarioSet) -> None:
        return None

    def query_vector(self, query: str) -> np.ndarray:
        if query not in self._queries:
            self._queries[query] = self.embedder.embed([query])[0]
        return self._queries[query]


class BaselineSubject(_TranscriptBaseline):
    name = "raw_caller_id"

    def __init__(self, embedder, vectors: dict[str, np.ndarray]) -> None:
        super().__init__(embedder, vectors)
        self.history: dict[str, list[tuple[str, list[MemoryRow]]]] = {}

    async def open_call(self, call: Call) -> BaselineCall:
        return BaselineCall(self, call)


@dataclass(frozen=True)
class PooledTurn:
    call_id: str  # the scenario's call id
    text: str
    vector: np.ndarray


class TenantVectorCall(_BaselineCall):
    """One call of the tenant-wide vector-search baseline: every turn of the tenant in one index.

    There is no caller in it. Recall ranks every stored turn of every caller of the tenant by cosine
    alone, so its key, as far as identity is concerned, is the tenant: every call of a tenant reads
    the same memory (the identity probes and call pairs are scored that way: "same caller" decisions
    pass, "different caller" and "new caller" ones fail once the tenant has history).
    """

    def __init__(self, subject: TenantVectorSubject, call: Call) -> None:
        super().__init__(subject, call)
        self.key = f"tenant:{call.tenant}"
        self.is_new = not subject.pool.get(call.tenant)
        self.rows: list[PooledTurn] = []

    async def preload(self) -> str:
        """Always "": with no notion of who is calling there is no caller to preload a brief for."""
        self.last_brief_sources = []
        return ""

    def record_turn(self, role: str, text: str, at: datetime) -> None:
        self.rows.append(PooledTurn(self.call.id, text, self.subject.vectors[text]))

    async def recall(self, query: str, mode: str, limit: int) -> list[HitView]:
        """Dense only (``mode`` is ignored): the ``limit`` turns of the tenant whose vectors are closest to the query's."""
        turns = self.subject.pool.get(self.call.tenant, []) + self.rows
        if not turns:
            return []
        scores = np.stack([t.vector for t in turns]) @ self.subject.query_vector(query)  # unit vectors: cosine
        order = np.argsort(-scores, kind="stable")[:limit]
        return [HitView(turns[i].text, turns[i].call_id, float(scores[i])) for i in order]

    async def matters(self) -> list[Any]:
        return []  # a vector index has no notion of an open matter

    async def facts(self) -> list[Any]:
        raise Unsupported("a tenant-wide vector index keeps turns only, no facts")

    async def close(self) -> None:
        self.subject.pool.setdefault(self.call.tenant, []).extend(self.rows)


class TenantVectorSubject(_TranscriptBaseline):
    """Tenant-wide vector-only search: one pool of turns per tenant, all callers, top-k cosine."""

    name = "tenant_vector"

    def __init__(self, embedder, vectors: dict[str, np.ndarray]) -> None:
        super().__init__(embedder, vectors)
        self.pool: dict[str, list[PooledTurn]] = {}

    async def open_call(self, call: Call) -> TenantVectorCall:
        return TenantVectorCall(self, call)


BASELINES: dict[str, tuple[type, str]] = {  # name: (subject, label in the tables)
    "raw_caller_id": (BaselineSubject, "baseline: raw caller-ID key"),
    "tenant_vector": (TenantVectorSubject, "baseline: tenant-wide vector search"),
}


# --------------------------------------------------------------------------- probes


@dataclass
class Outcome:
    probe: Probe
    passed: bool
    reason: str = ""
    decisions: int = 0  # identity probes: same/different/new decisions checked
    decisions_ok: int = 0
    found: bool | None = None  # recall probes: every expected text in one of the caller's own top-N hits, leaks or not

    def as_dict(self) -> dict[str, Any]:
        out = {"passed": self.passed, "reason": self.reason}
        if self.probe.kind == "identity":
            out |= {"decisions": self.decisions, "decisions_ok": self.decisions_ok}
        if self.found is not None:
            out["found"] = self.found
        return out


@dataclass
class Context:
    scenario: ScenarioSet
    subject: Any
    detector: LeakDetector
    caller_of: dict[str, Any]  # scenario call id -> the subject's caller key when the call closed
    call: Call

    def key_of(self, call_id: str) -> Any:
        key = self.caller_of[call_id]
        return self.subject.canonical(key) if isinstance(self.subject, MemorySubject) else key


async def _brief(view, ctx: Context, probe: Probe, *, empty: str = "the brief is empty") -> tuple[str, Outcome | None]:
    """The brief, and the outcome that fails the probe when the brief leaks or is empty (``empty`` says why)."""
    text = await view.preload()
    leaks = _brief_leaks(view, ctx, probe.id, text)
    if leaks:
        return text, Outcome(probe, False, f"leak in the brief: {leaks[0].detail!r} from {leaks[0].origin}")
    if not text:
        return text, Outcome(probe, False, empty)
    return text, None


def _brief_leaks(view, ctx: Context, point: str, text: str) -> list[Leak]:
    if view.last_brief_sources is not None:  # the baseline says which calls its brief came from
        return ctx.detector.check_calls(ctx.call, point, "brief transcript", ((c, c) for c in view.last_brief_sources))
    return ctx.detector.check_brief(ctx.call, point, text)


def _hit_leaks(ctx: Context, point: str, hits: Sequence[HitView]) -> list[Leak]:
    return ctx.detector.check_calls(ctx.call, point, "recall hit", ((h.call_id, h.text) for h in hits))


def _is_own(ctx: Context, call_id: str | None) -> bool:
    """Whether a hit of this call id is the current caller's own (same tenant, same person)."""
    if call_id is None:
        return False
    origin = ctx.scenario.call(call_id)
    return (origin.tenant, origin.caller) == (ctx.call.tenant, ctx.call.caller)


def _describe_hits(hits: Sequence[HitView]) -> str:
    return "; ".join(f"[{h.call_id}] {_short(h.text, 60)}" for h in hits) or "no hits"


async def probe_identity(probe: Probe, view, ctx: Context) -> Outcome:
    await view.settle()
    spec, key = probe.spec, view.key
    checks: list[tuple[bool, str]] = []
    if "expect_new_caller" in spec:
        want = bool(spec["expect_new_caller"])
        checks.append((view.is_new == want, f"is_new_caller is {view.is_new}, expected {want}"))
    for other in _as_list(spec.get("expect_same_caller_as")):
        checks.append((key == ctx.key_of(other), f"not the caller of {other}"))
    for other in _as_list(spec.get("expect_different_caller_from")):
        checks.append((key != ctx.key_of(other), f"wrongly the same caller as {other}"))
    failed = [why for ok, why in checks if not ok]
    return Outcome(probe, not failed, "; ".join(failed), len(checks), len(checks) - len(failed))


async def probe_recall(probe: Probe, view, ctx: Context) -> Outcome:
    spec = probe.spec
    top = int(spec.get("expect_in_top", 5))
    mode = spec.get("mode", "fast")
    hits = await view.recall(spec["query"], mode, max(top, int(spec.get("limit", top))))
    leaks = _hit_leaks(ctx, probe.id, hits)
    hits = hits[:top]
    own = [h for h in hits if _is_own(ctx, h.call_id)]  # another caller's turn saying the same is no answer
    missing = []
    for text in _as_list(spec["expect_text_contains"]):
        found = [h for h in own if mentions(h.text, str(text))]
        if spec.get("expect_call"):
            found = [h for h in found if h.call_id == spec["expect_call"]]
        if not found:
            missing.append(str(text))
    found = not missing
    if leaks:
        return Outcome(probe, False, f"leak: {leaks[0].detail!r} from {leaks[0].origin}", found=found)
    if missing:
        where = f" (from {spec['expect_call']})" if spec.get("expect_call") else ""
        reason = f"{missing} not in the top {top} ({mode}){where}: {_describe_hits(hits)}"
        return Outcome(probe, False, reason, found=found)
    return Outcome(probe, True, found=found)


async def probe_brief_contains(probe: Probe, view, ctx: Context) -> Outcome:
    text, failed = await _brief(view, ctx, probe)
    if failed:
        return failed
    section = probe.spec.get("section")
    if section:
        lines = section_lines(text, section)
        if lines is None:
            return Outcome(probe, False, f"no {section!r} section in the brief")
        haystack = decode_brief("\n".join(lines))
    else:
        haystack = decode_brief(text)
    missing = [t for t in map(str, _as_list(probe.spec["text"])) if not mentions(haystack, t)]
    if missing:
        where = f" section {section!r}" if section else " brief"
        return Outcome(probe, False, f"{missing} not in the{where}")
    return Outcome(probe, True)


async def probe_brief_not_current(probe: Probe, view, ctx: Context) -> Outcome:
    text, failed = await _brief(view, ctx, probe, empty="the brief is empty (the caller was not recognised)")
    if failed:
        return failed
    value, attribute = str(probe.spec["value"]), probe.spec.get("attribute")
    facts = section_lines(text, "Current facts") or []
    other_current = []
    for line in facts:
        attr, current_value = _fact_line_parts(line)
        if mentions(decode_brief(_current_part(line)), value):
            return Outcome(probe, False, f"offered as current: {_short(decode_brief(line), 90)}")
        if attribute and attr == str(attribute).lower() and current_value:
            other_current.append(current_value)
    rest = [line for line in text.splitlines() if line.strip() not in facts]
    if not mentions(decode_brief("\n".join(rest)), value):
        return Outcome(probe, True)
    if other_current:
        return Outcome(probe, True)  # quoted in the call history, but the current value is a different one
    return Outcome(probe, False, f"{value!r} is in the brief and nothing marks it as former")


async def probe_brief_contained(probe: Probe, view, ctx: Context) -> Outcome:
    text, failed = await _brief(view, ctx, probe)
    if failed:
        return failed
    lines = text.strip().splitlines()
    opens, closes = text.count("<caller_memory>"), text.count("</caller_memory>")
    if not (lines[0].strip() == "<caller_memory>" and lines[-1].strip() == "</caller_memory>"):
        return Outcome(probe, False, "the brief is not one delimited <caller_memory> data block")
    if opens != 1 or closes != 1:
        return Outcome(probe, False, f"the data block tags occur {opens}/{closes} times: it can be closed early")
    spans = [m.span() for m in _JSON_STRING.finditer(text)]
    for needle in map(str, _as_list(probe.spec["text"])):
        for match in re.finditer(re.escape(needle), text, flags=re.IGNORECASE):
            if not any(a < match.start() and match.end() < b for a, b in spans):
                return Outcome(probe, False, f"{needle!r} appears outside a quoted string")
    return Outcome(probe, True)


def _fact_matches(fact: Any, spec: dict) -> bool:
    if str(getattr(fact, "attribute", "")).lower() != str(spec["attribute"]).lower():
        return False
    value = str(getattr(fact, "value", ""))
    if any(mentions(value, str(v)) for v in _as_list(spec.get("value_contains"))):
        return True
    happens = getattr(fact, "happens_at", None)
    return bool(spec.get("happens_on") and happens and happens.date() == spec["happens_on"])


def _is_current(fact: Any) -> bool:
    current = getattr(fact, "current", None)
    return getattr(fact, "valid_to", None) is None if current is None else bool(current)


async def _facts(probe: Probe, view, ctx: Context) -> tuple[list[Any] | None, Outcome | None]:
    try:
        facts = await view.facts()
    except Unsupported as exc:
        return None, Outcome(probe, False, str(exc))
    leaks = ctx.detector.check_calls(
        ctx.call, probe.id, "fact", ((view.origin(f), f"{f.attribute}: {f.value}") for f in facts)
    )
    if leaks:
        return None, Outcome(probe, False, f"leak: fact {leaks[0].detail!r} from {leaks[0].origin}")
    return facts, None


def _describe_facts(facts: Sequence[Any], attribute: str) -> str:
    same = [f for f in facts if str(f.attribute).lower() == attribute.lower()]
    if not same:
        others = ", ".join(sorted({f"{f.attribute} {f.value!r}" for f in facts})) or "none"
        return f"no {attribute} facts (facts: {others})"
    return "; ".join(f"{'current' if _is_current(f) else 'former'} {f.value!r}" for f in same)


async def probe_fact_current(probe: Probe, view, ctx: Context) -> Outcome:
    facts, failed = await _facts(probe, view, ctx)
    if failed:
        return failed
    attribute = str(probe.spec["attribute"])
    current = [f for f in facts if _is_current(f) and _fact_matches(f, probe.spec)]
    if not current:
        return Outcome(probe, False, f"no current {attribute} matching: {_describe_facts(facts, attribute)}")
    if attribute.lower() in SINGLE_VALUED:
        others = [
            f
            for f in facts
            if _is_current(f) and str(f.attribute).lower() == attribute.lower() and not _fact_matches(f, probe.spec)
        ]
        if others:
            return Outcome(probe, False, f"another {attribute} is also current: {others[0].value!r}")
    return Outcome(probe, True)


async def probe_fact_former(probe: Probe, view, ctx: Context) -> Outcome:
    facts, failed = await _facts(probe, view, ctx)
    if failed:
        return failed
    attribute = str(probe.spec["attribute"])
    matching = [f for f in facts if _fact_matches(f, probe.spec)]
    if any(_is_current(f) for f in matching):
        return Outcome(probe, False, f"still current: {_describe_facts(facts, attribute)}")
    if not matching:
        return Outcome(probe, False, f"not kept as a former {attribute}: {_describe_facts(facts, attribute)}")
    return Outcome(probe, True)


def _due_matches(due_at: datetime | None, due: date) -> bool:
    if due_at is None:
        return False
    return due_at.date() == due or (due_at - timedelta(seconds=1)).date() == due  # end of day as next midnight


async def probe_matter_open(probe: Probe, view, ctx: Context) -> Outcome:
    matters = await view.matters()
    leaks = ctx.detector.check_calls(ctx.call, probe.id, "open matter", ((view.origin(m), m.text) for m in matters))
    if leaks:
        return Outcome(probe, False, f"leak: matter {leaks[0].detail!r} from {leaks[0].origin}")
    spec = probe.spec
    found = [m for m in matters if getattr(m, "status", "open") == "open"]
    if spec.get("reference"):
        ref = str(spec["reference"]).lower()
        found = [m for m in found if ref in (r.lower() for r in m.references) or mentions(m.text, ref)]
    if spec.get("text_contains"):
        found = [m for m in found if mentions(m.text, str(spec["text_contains"]))]
    if not found:
        listed = "; ".join(f"{_short(m.text, 50)} {list(m.references)}" for m in matters) or "none"
        return Outcome(probe, False, f"no open matter matching ({len(matters)} open: {listed})")
    if spec.get("due"):
        dues = [getattr(m, "due_at", None) for m in found]
        if not any(_due_matches(d, spec["due"]) for d in dues):
            shown = ", ".join(f"{d:%Y-%m-%d %H:%M}" if d else "none" for d in dues)
            return Outcome(probe, False, f"open, but due {shown}, expected {spec['due']}")
    return Outcome(probe, True)


async def probe_no_leak(probe: Probe, view, ctx: Context) -> Outcome:
    query = str(probe.spec.get("query") or SWEEP_QUERIES[0])
    text = await view.preload()
    leaks = _brief_leaks(view, ctx, probe.id, text)
    hits = []
    for mode in ("fast", "accurate"):
        found = await view.recall(query, mode, 10)
        leaks += _hit_leaks(ctx, probe.id, found)
        hits.extend(found)
    matters = await view.matters()
    leaks += ctx.detector.check_calls(ctx.call, probe.id, "open matter", ((view.origin(m), m.text) for m in matters))
    if leaks:
        return Outcome(
            probe, False, f"{len(leaks)} leak(s), first: {leaks[0].what} {leaks[0].detail!r} from {leaks[0].origin}"
        )
    seen = [decode_brief(text), *(h.text for h in hits), *(m.text for m in matters)]
    present = [t for t in map(str, _as_list(probe.spec.get("absent"))) if any(mentions(s, t) for s in seen)]
    if present:
        return Outcome(probe, False, f"another caller's words present: {present}")
    return Outcome(probe, True)


PROBES = {
    "identity": probe_identity,
    "recall": probe_recall,
    "brief_contains": probe_brief_contains,
    "brief_not_current": probe_brief_not_current,
    "brief_contained": probe_brief_contained,
    "fact_current": probe_fact_current,
    "fact_former": probe_fact_former,
    "matter_open": probe_matter_open,
    "no_leak": probe_no_leak,
}


# --------------------------------------------------------------------------- replay


class LogTally(logging.Handler):
    """Counts the memory layer's warnings and errors during a replay (its messages carry no caller content)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[f"{record.levelname} {record.name}: {record.getMessage()}"] += 1


@dataclass
class SubjectResult:
    name: str
    outcomes: list[Outcome]
    leaks: list[Leak]
    checked: dict[str, int]
    latency: dict[str, list[float]]
    pairs: dict[str, int]
    errors: list[str] = field(default_factory=list)
    logged: dict[str, int] = field(default_factory=dict)
    flagged: dict[str, int] = field(default_factory=dict)  # reads of someone else's data, every read counted

    @property
    def passed(self) -> int:
        return sum(o.passed for o in self.outcomes)

    def recall_found(self) -> tuple[int, int]:
        """Recall probes whose expected text was in the top N, whether or not other callers' turns came along."""
        recalls = [o for o in self.outcomes if o.probe.kind == "recall"]
        return sum(bool(o.found) for o in recalls), len(recalls)

    def foreign_hits(self) -> tuple[int, int]:
        """Recall hits (in probes and sweeps) that were another caller's or tenant's turn, of all hits read."""
        return self.flagged.get("recall hit", 0), self.checked.get("recall hit", 0)

    def by_kind(self) -> dict[str, tuple[int, int]]:
        out: dict[str, list[int]] = {}
        for o in self.outcomes:
            cell = out.setdefault(o.probe.kind, [0, 0])
            cell[0] += o.passed
            cell[1] += 1
        return {k: (v[0], v[1]) for k, v in sorted(out.items())}

    def identity(self) -> tuple[int, int]:
        ids = [o for o in self.outcomes if o.probe.kind == "identity"]
        return sum(o.decisions_ok for o in ids), sum(o.decisions for o in ids)

    def metrics(self) -> dict[str, Any]:
        ok, total = self.identity()
        found, recalls = self.recall_found()
        foreign, hits = self.foreign_hits()
        out: dict[str, Any] = {
            "probes_passed": self.passed,
            "probes": len(self.outcomes),
            "pass_rate": round(self.passed / len(self.outcomes), 4) if self.outcomes else None,
            "per_kind": {k: {"passed": p, "probes": n} for k, (p, n) in self.by_kind().items()},
            "identity_decisions_ok": ok,
            "identity_decisions": total,
            "identity_accuracy": round(ok / total, 4) if total else None,
            "recall_found": {"found": found, "probes": recalls},
            "caller_pairs": self.pairs,
            "leaks": len(self.leaks),
            "leak_checks": self.checked,
            "leaked_reads": self.flagged,
            "foreign_recall_hits": {
                "foreign": foreign,
                "hits": hits,
                "rate": round(foreign / hits, 4) if hits else None,
            },
            "errors": self.errors,
            "logged": self.logged,
        }
        for name, values in sorted(self.latency.items()):
            out[f"{name}_ms"] = {"p50": _pct(values, 50), "p95": _pct(values, 95), "n": len(values)}
        return out


def _pct(values: Sequence[float], q: float) -> float | None:
    return round(float(np.percentile(np.asarray(values), q)), 3) if values else None


async def replay(
    scenario: ScenarioSet,
    subject,
    *,
    pause_s: float = TURN_PAUSE_S,
    progress: bool = False,
    handlers: Mapping[str, Callable[..., Awaitable[Outcome]]] | None = None,
) -> SubjectResult:
    """Replay every call in time order through ``subject`` and run the probes at their points.

    ``handlers`` maps a probe kind to the coroutine that runs it (default ``PROBES``); another
    evaluation (bench/sgd) passes its own kinds and reuses the replay, the sweeps and the leak checks.
    """
    detector = LeakDetector(scenario)
    tally = LogTally()
    logging.getLogger("memory").addHandler(tally)
    try:
        result = await _replay(scenario, subject, detector, pause_s, progress, handlers or PROBES)
    finally:
        logging.getLogger("memory").removeHandler(tally)
    result.logged = dict(tally.counts.most_common())
    return result


async def _replay(
    scenario: ScenarioSet,
    subject,
    detector: LeakDetector,
    pause_s: float,
    progress: bool,
    handlers: Mapping[str, Callable[..., Awaitable[Outcome]]],
) -> SubjectResult:
    outcomes: list[Outcome] = []
    caller_of: dict[str, Any] = {}
    subject.setup(scenario)
    calls = tqdm(scenario.calls, desc=f"replaying ({subject.name})", unit="call", file=sys.stderr, disable=not progress)
    for call in calls:
        ctx = Context(scenario, subject, detector, caller_of, call)
        view = await subject.open_call(call)
        at_point: dict[str | int, list[Probe]] = defaultdict(list)
        for probe in call.probes:
            at_point[probe.when].append(probe)

        async def run(point: str | int, view=view, ctx=ctx, at_point=at_point) -> None:
            for probe in at_point.get(point, ()):
                try:
                    outcome = await handlers[probe.kind](probe, view, ctx)
                except Exception as exc:
                    outcome = Outcome(probe, False, f"raised {type(exc).__name__}: {_short(str(exc), 120)}")
                if probe.kind == "identity" and not outcome.decisions:
                    outcome.decisions = len(_identity_checks(probe))
                outcomes.append(outcome)

        brief = await view.preload()  # what the agent gets as the call starts
        _brief_leaks(view, ctx, "start sweep", brief)
        await run("start")
        for index, (role, text) in enumerate(call.turns, 1):
            view.record_turn(role, text, call.turn_at(index))
            if pause_s:
                await asyncio.sleep(pause_s)  # the time a turn takes, scaled down: the writer embeds meanwhile
            await run(index)
        await run("end")
        await _sweep(view, ctx, "end sweep")
        caller_of[call.id] = view.key
        await view.close()
        await run("closed")
    pairs = _pairs(scenario, subject, caller_of)
    return SubjectResult(
        subject.name,
        outcomes,
        detector.found,
        dict(detector.checked),
        dict(subject.latency),
        pairs,
        subject.errors,
        flagged=dict(detector.flagged),
    )


def _identity_checks(probe: Probe) -> list[str]:
    spec = probe.spec
    return (["new"] if "expect_new_caller" in spec else []) + [
        *_as_list(spec.get("expect_same_caller_as")),
        *_as_list(spec.get("expect_different_caller_from")),
    ]


async def _sweep(view, ctx: Context, point: str) -> None:
    """Reads an agent would make, checked for other callers' data (not scored as probes)."""
    said = [t for r, t in ctx.call.turns if r == "user"] or list(SWEEP_QUERIES)
    for mode, queries in (("fast", (SWEEP_QUERIES[0], said[0])), ("accurate", (SWEEP_QUERIES[1], said[-1]))):
        for query in queries:
            _hit_leaks(ctx, point, await view.recall(query, mode, 5))
    matters = await view.matters()
    ctx.detector.check_calls(ctx.call, point, "open matter", ((view.origin(m), m.text) for m in matters))
    try:
        facts = await view.facts()
    except Unsupported:
        return
    ctx.detector.check_calls(ctx.call, point, "fact", ((view.origin(f), f"{f.attribute}: {f.value}") for f in facts))


def _pairs(scenario: ScenarioSet, subject, caller_of: dict[str, Any]) -> dict[str, int]:
    """Every pair of calls: same person (tenant + caller) vs the same caller in the subject, at the end."""
    calls = scenario.calls
    canon = subject.canonical if isinstance(subject, MemorySubject) else (lambda k: k)
    keys = {c.id: canon(caller_of[c.id]) for c in calls}
    same = merges = splits = 0
    for i, a in enumerate(calls):
        for b in calls[i + 1 :]:
            truth = (a.tenant, a.caller) == (b.tenant, b.caller)
            system = keys[a.id] == keys[b.id]
            same += truth
            merges += system and not truth
            splits += truth and not system
    return {"same_person_pairs": same, "wrongly_merged": merges, "wrongly_split": splits}


@dataclass
class Report:
    scenario: ScenarioSet
    backend: str
    memory: SubjectResult
    baselines: dict[str, SubjectResult]  # name (a key of BASELINES) -> result, in the order they ran
    facts_api: bool
    seconds: float

    @property
    def baseline(self) -> SubjectResult | None:
        """The raw caller-ID baseline (the first one this report had)."""
        return self.baselines.get("raw_caller_id")

    def to_json(self) -> dict[str, Any]:
        by_probe = {name: {o.probe.id: o for o in r.outcomes} for name, r in self.baselines.items()}
        raw = self.baseline
        return {
            "run_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "backend": self.backend,
            "scenario": self.scenario.summary(),
            "facts_api": self.facts_api,
            "seconds": round(self.seconds, 2),
            "memory": self.memory.metrics(),
            "baselines": {name: r.metrics() for name, r in self.baselines.items()},
            "baseline": raw.metrics() if raw else None,  # = baselines["raw_caller_id"], kept for older readers
            "probes": [
                {
                    "id": o.probe.id,
                    "call": o.probe.call_id,
                    "kind": o.probe.kind,
                    "when": o.probe.when,
                    "why": o.probe.why,
                    "memory": o.as_dict(),
                    "baselines": {
                        name: outcomes[o.probe.id].as_dict()
                        for name, outcomes in by_probe.items()
                        if o.probe.id in outcomes
                    },
                }
                for o in self.memory.outcomes
            ],
            "leaks": {
                "memory": [leak.__dict__ for leak in self.memory.leaks],
                **{name: [leak.__dict__ for leak in r.leaks] for name, r in self.baselines.items()},
            },
        }

    def markdown(self, *, failures: bool = True) -> str:
        s = self.scenario.summary()
        m = self.memory
        subjects = [m, *self.baselines.values()]
        labels = ["memory layer", *(BASELINES[name][1] for name in self.baselines)]
        out = [
            f"Voice scenarios: {s['tenants']} tenants, {s['callers']} callers, {s['calls']} calls over {s['days']} days, "
            f"{s['probes']} probes ({self.backend}; hooks.facts() {'available' if self.facts_api else 'NOT available'})",
            "",
            "| measure | " + " | ".join(labels) + " |",
            "|---" * (len(labels) + 1) + "|",
        ]

        def row(label: str, fn) -> None:
            out.append(f"| {label} | " + " | ".join(fn(r) for r in subjects) + " |")

        row("probes passed", lambda r: _ratio(r.passed, len(r.outcomes)))
        row("identity accuracy (same / different / new decisions)", lambda r: _ratio(*r.identity()))
        row(
            "calls wrongly merged / split (call pairs)",
            lambda r: (
                f"{r.pairs['wrongly_merged']} / {r.pairs['wrongly_split']} of {r.pairs['same_person_pairs']} same-caller pairs"
            ),
        )
        row("**leaks** (must be 0)", lambda r: f"**{len(r.leaks)}**")
        row("recall hits that were another caller's or tenant's", lambda r: _ratio(*r.foreign_hits()))
        for kind in PROBE_KINDS:
            if kind in m.by_kind():
                row(f"probes: {kind}", lambda r, k=kind: _ratio(*r.by_kind().get(k, (0, 0))))
        row("recall probes: answer in the caller's own top-N hits, leaks aside", lambda r: _ratio(*r.recall_found()))
        for name, label in (
            ("open_call", "open_call"),
            ("preload", "preload"),
            ("recall_fast", "recall fast"),
            ("recall_accurate", "recall accurate"),
        ):
            values = m.latency.get(name, [])
            cells = [f"{_pct(values, 50)} / {_pct(values, 95)}", *("–" for _ in self.baselines)]
            out.append(f"| {label} p50 / p95 ms (n={len(values)}) | " + " | ".join(cells) + " |")
        if "tenant_vector" in self.baselines:
            out += [
                "",
                "Tenant-wide vector search has no notion of a caller: every call of a tenant reads the same index, so "
                "its identity decisions and call pairs are scored as if each tenant were one caller.",
            ]
        checked = ", ".join(f"{n} {k}s" for k, n in sorted(m.checked.items()))
        out += ["", f"Leak checks on the memory layer: {checked}."]
        if m.logged:
            out += ["", f"The memory layer logged {sum(m.logged.values())} warning(s)/error(s) during the run:"]
            out += [f"- {n} x {message}" for message, n in list(m.logged.items())[:8]]
        if failures:
            failed = [o for o in m.outcomes if not o.passed]
            out += ["", f"Failing probes, memory layer ({len(failed)}):"]
            out += [f"- {o.probe.id} {o.probe.kind} @{o.probe.when}: {o.reason}" for o in failed] or ["- none"]
            for leak in m.leaks[:20]:
                out.append(f"- LEAK in {leak.call} ({leak.point}): {leak.what} {leak.detail!r} from {leak.origin}")
            for name, b in self.baselines.items():
                out += ["", f"Leaks, {BASELINES[name][1]}: {len(b.leaks)}"]
                out += [f"- {leak.call} ({leak.point}): {leak.what} from {leak.origin}" for leak in b.leaks[:8]]
        return "\n".join(out)


def _ratio(ok: int, total: int) -> str:
    return f"{ok}/{total} ({100 * ok / total:.0f}%)" if total else "–"


async def evaluate(
    scenario: ScenarioSet,
    *,
    url: str | None = None,
    redis_url: str | None = None,
    embedder=None,
    baselines: Sequence[str] = ("raw_caller_id", "tenant_vector"),
    pause_s: float = TURN_PAUSE_S,
    progress: bool = False,
) -> Report:
    """Replay ``scenario`` through the memory layer (a fresh SQLite store unless ``url``) and the baselines.

    ``baselines`` names the baselines to replay as well (keys of ``BASELINES``; empty for none). They
    rank with the vectors of the store's embedder, computed once for every text of the set.
    """
    unknown = [name for name in baselines if name not in BASELINES]
    if unknown:
        raise ValueError(f"unknown baselines {unknown}; known: {sorted(BASELINES)}")
    started = time.perf_counter()
    tmp = None
    if url is None:
        tmp = tempfile.mkdtemp(prefix="scenarios-")
        url = f"sqlite:///{Path(tmp) / 'memory.db'}"
    backend = "sqlite" if url.startswith("sqlite") else "postgres"
    if redis_url:
        backend += "+redis"
    try:
        store = await memory.open_store(url, redis_url=redis_url, embedder=embedder)
        try:
            facts_api = hasattr(memory.CallHooks, "facts")
            subject = MemorySubject(store, uuid.uuid4().hex[:8])
            try:
                result = await replay(scenario, subject, pause_s=pause_s, progress=progress)
            finally:
                if tmp is None:
                    await subject.forget_all()
            base: dict[str, SubjectResult] = {}
            if baselines:
                texts = sorted({t for c in scenario.calls for _, t in c.turns})
                vectors = dict(zip(texts, await asyncio.to_thread(store.embedder.embed, texts), strict=True))
                for name in dict.fromkeys(baselines):
                    base_subject = BASELINES[name][0](store.embedder, vectors)
                    base[name] = await replay(scenario, base_subject, pause_s=0, progress=progress)
        finally:
            await store.aclose()
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return Report(scenario, backend, result, base, facts_api, time.perf_counter() - started)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=Path, default=SCENARIO_DIR, help="directory of *.yaml scenario files")
    parser.add_argument(
        "--postgres", metavar="URL", help="run on this Postgres database instead of a fresh SQLite file"
    )
    parser.add_argument("--redis", metavar="URL", help="keep prepared preloads in this Redis")
    parser.add_argument("--json", type=Path, default=RESULTS, help="where to write the results")
    parser.add_argument(
        "--baselines",
        default=",".join(BASELINES),
        help=f"baselines replayed in the same run, comma-separated (default %(default)s; of {', '.join(BASELINES)})",
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the baselines (the same as --baselines '')")
    parser.add_argument(
        "--turn-pause-ms",
        type=float,
        default=TURN_PAUSE_S * 1000,
        help="real time between turns (default %(default)s; 0 replays back to back, so recall pays for embedding unwritten turns)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 if the memory layer leaked anything")
    args = parser.parse_args()
    baselines = [] if args.no_baseline else [b.strip() for b in args.baselines.split(",") if b.strip()]
    if any(b not in BASELINES for b in baselines):
        parser.error(f"--baselines: choose from {', '.join(BASELINES)}")
    scenario = load_scenarios(args.scenarios)
    report = await evaluate(
        scenario,
        url=args.postgres,
        redis_url=args.redis,
        baselines=baselines,
        pause_s=args.turn_pause_ms / 1000,
        progress=True,
    )
    print(report.markdown())
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report.to_json(), indent=2, default=str) + "\n", encoding="utf-8")
    shown = args.json.resolve()
    print(f"\nresults: {shown.relative_to(ROOT) if shown.is_relative_to(ROOT) else shown}")
    if args.strict and report.memory.leaks:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

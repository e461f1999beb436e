"""Past calls into memory, as if they had happened: ``python -m memory import FILE``.

A file of past transcripts (JSON Lines, one call per line, or CSV, one turn per row; the formats
are in ``docs/import.md``) is read and checked line by line, and each good call is replayed through
the code a live call runs: :class:`~memory.call.hooks.CallHooks` resolves the caller from the
call's identifiers, records its turns with their times, links identifiers said aloud under the
tenant's policy, enriches every turn (embedding, facts, references, promises, graph edges) and
closes the call with its topic, outcome and episode. Only the embedding is arranged differently:
the turns of many calls are embedded together, ahead of the calls that need them (a large batch
wastes less on padding, and a text said in many calls is embedded once), with the model the store
uses. Calls are imported in file order, several at a time when they cannot concern one caller
(they share no identifier, presented or said aloud, and no caller owning one).

Idempotent and resumable by call id: before a call is imported the store is asked for it. A call
the store has finished is skipped; one it has but never finished (a run killed mid-call) is
imported again over what is there (every write is keyed by the call and the turn's number, so
what was stored is kept once and what was missing is added), unless its caller can no longer be
found from its identifiers, when it is finished as a spooled call is (:func:`replay_call`). A call
the database does not take in time is imported again after a pause (``RETRY_PAUSES_S``).
A call is finished only after all its turns and their enrichment are stored, so a run killed at
any point is completed, without duplicates, by running it again.

Lines that cannot be imported are skipped and named in the :class:`ImportReport` with the reason
(bad JSON, a missing field, an unknown tenant, a bad timestamp, no turns, ...), never with the
caller's words or identifiers.
"""

from __future__ import annotations

import asyncio
import csv
import inspect
import json
import logging
import os
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol, cast

import numpy as np

from .call.enrich import backfill
from .call.hooks import CallHooks
from .call.replay import replay_call
from .call.services import CallServices
from .call.transcript import CallTranscript
from .embed import AsyncEmbedder, Embedder, MiniLMEmbedder, quantized_from_env
from .errors import InvalidInputError, MemoryWriteError, StoreUnavailableError
from .policy import MemoryPolicy
from .store.base import Backend
from .store.spool import Spool, SpooledCall
from .text.clean import MAX_TURN_CHARS, clean_text
from .text.identifiers import normalize_identifiers
from .text.reading import read_turn
from .text.spoken import asked_for
from .values import IDENTIFIER_KINDS, TENANT_ID_RULE, Episode, Identifier, MemoryRow, as_utc, is_tenant_id, utcnow

__all__ = [
    "FORMATS",
    "BadLine",
    "ImportReport",
    "ImportStore",
    "Importer",
    "PastCall",
    "PastTurn",
    "detect_format",
    "import_embedder",
    "read_calls",
]

logger = logging.getLogger(__name__)

FORMATS = ("jsonl", "csv")
ROLES = {"user": "user", "caller": "user", "customer": "user", "assistant": "assistant", "agent": "assistant"}
"""Roles a file may give a turn, and the role each is stored as."""
CSV_REQUIRED = ("tenant", "call_id", "started_at", "role", "text")
CSV_CALL_COLUMNS = ("tenant", "started_at", *(k for k in IDENTIFIER_KINDS))
"""Columns that belong to the call, not the turn: every row of a call gives the same value or none."""
CHUNK_TURNS = 512
"""Turns embedded together: the calls that hold them are imported while the next chunk is embedded."""
RETRY_PAUSES_S = (1.0, 5.0, 15.0)
"""Pauses before a call the database did not take is imported again (then the run stops)."""
CONCURRENT_CALLS = 4
"""Calls of different callers imported side by side (their database round trips overlap)."""
OPEN_BUDGET_S = 30.0
CLOSE_TIMEOUT_S = 120.0
MAX_CALL_ID = 200


@dataclass(frozen=True, slots=True)
class PastTurn:
    role: Literal["user", "assistant"]
    text: str
    at: datetime | None  # None: the call's start


@dataclass(frozen=True, slots=True)
class PastCall:
    """One call of the file, checked: what a live call would have been given."""

    tenant: str
    call_id: str
    started_at: datetime
    identifiers: Mapping[str, str | list[str]]
    turns: tuple[PastTurn, ...]
    line: int  # where the call starts in the file (1-based)


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line (JSON Lines) or a call's row (CSV) that is skipped, and why (never its content)."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class _Bad(Exception):
    """A problem with one record: the line it is on and what is wrong."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


# -- reading ------------------------------------------------------------------------------------------


def detect_format(path: Path, given: str | None = None) -> str:
    """``jsonl`` or ``csv``: ``given``, else from the file name (``.jsonl``/``.ndjson``/``.json``, ``.csv``)."""
    if given is not None:
        if given not in FORMATS:
            raise InvalidInputError(f"format must be one of {list(FORMATS)}, not {given!r}")
        return given
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise InvalidInputError(f"cannot tell the format of {path.name!r} from its name: give --format jsonl or csv")


def read_calls(path: Path, fmt: str, *, tenants: Collection[str] | None = None) -> Iterator[PastCall | BadLine]:
    """The file's calls in file order, each checked, or a :class:`BadLine` for what cannot be imported.

    ``tenants``: the tenants a call may name (``None``: any well-formed tenant id). A call id seen
    earlier in the file (for the same tenant) is a bad line. Raises ``InvalidInputError`` for a
    file that cannot be read at all (missing, a CSV without its required columns).
    """
    reader = _read_jsonl if fmt == "jsonl" else _read_csv
    seen: dict[tuple[str, str], int] = {}
    try:
        for item in reader(path, tenants):
            if isinstance(item, PastCall):
                first = seen.setdefault((item.tenant, item.call_id), item.line)
                if first != item.line:
                    item = BadLine(item.line, f"call_id is the id of the call at line {first} (call ids are unique)")
            yield item
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _read_jsonl(path: Path, tenants: Collection[str] | None) -> Iterator[PastCall | BadLine]:
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                try:
                    record = json.loads(raw.decode("utf-8"))
                except UnicodeDecodeError as exc:
                    raise _Bad(f"not UTF-8 text (byte {exc.start})") from exc
                except json.JSONDecodeError as exc:
                    raise _Bad(f"bad JSON ({exc.msg} at character {exc.pos + 1})") from exc
                if not isinstance(record, dict):
                    raise _Bad("not a JSON object (one call per line: {tenant, call_id, started_at, ...})")
                yield _past_call(record, number, tenants, _json_turns(record.get("turns", _MISSING)))
            except _Bad as bad:
                yield BadLine(number, bad.reason)


_MISSING: Any = object()


def _json_turns(raw: object) -> list[tuple[Mapping[str, Any], int | None]]:
    if raw is _MISSING:
        raise _Bad("missing field 'turns'")
    if not isinstance(raw, list):
        raise _Bad("turns: must be a list of {role, text, at}")
    turns: list[tuple[Mapping[str, Any], int | None]] = []
    for i, turn in enumerate(raw):
        if not isinstance(turn, dict):
            raise _Bad(f"turns[{i}]: must be an object {{role, text, at}}")
        turns.append((turn, None))
    return turns


def _past_call(
    record: Mapping[str, Any],
    line: int,
    tenants: Collection[str] | None,
    turns: Sequence[tuple[Mapping[str, Any], int | None]],
) -> PastCall:
    """A record checked into a call (``turns``: each turn's fields and, for CSV, its line)."""
    tenant = _field(record, "tenant")
    if not is_tenant_id(tenant):
        raise _Bad(f"tenant: not a tenant id ({TENANT_ID_RULE})")
    if tenants is not None and tenant not in tenants:
        raise _Bad(f"unknown tenant {tenant!r} (not in the tenants file)")
    call_id = _field(record, "call_id")
    if not call_id.strip() or len(call_id) > MAX_CALL_ID or not call_id.isprintable():
        raise _Bad(f"call_id: must be printable text of 1 to {MAX_CALL_ID} characters")
    started_at = _time(_field(record, "started_at"), "started_at")
    identifiers = _identifiers(record.get("identifiers"))
    if not turns:
        raise _Bad("empty turns: a call needs at least one turn")
    checked: list[PastTurn] = []
    for i, (turn, turn_line) in enumerate(turns):
        where = "" if turn_line is not None else f"turns[{i}]."
        try:
            role = ROLES.get(str(_field(turn, "role", where)).strip().lower())
            if role is None:
                raise _Bad(f"{where}role: must be one of {sorted(ROLES)}")
            text = _field(turn, "text", where)
            at = turn.get("at")
            when = _time(at, f"{where}at") if at not in (None, "") else None
        except _Bad as bad:
            raise _Bad(bad.reason, turn_line) from None
        checked.append(PastTurn(role, text, when))  # type: ignore[arg-type]
    if not any(t.text.strip() for t in checked):
        raise _Bad("empty turns: no turn has any text")
    return PastCall(tenant, call_id, started_at, identifiers, tuple(checked), line)


def _field(record: Mapping[str, Any], name: str, where: str = "") -> str:
    value = record.get(name, _MISSING)
    if value is _MISSING or value is None or (value == "" and name != "text"):
        raise _Bad(f"missing field '{where}{name}'")
    if not isinstance(value, str):
        raise _Bad(f"{where}{name}: must be a string")
    return value


def _time(value: object, name: str) -> datetime:
    if not isinstance(value, str):
        raise _Bad(f"bad timestamp in {name}: must be an ISO 8601 string such as 2024-03-02T14:05:00Z")
    try:
        return as_utc(datetime.fromisoformat(value.strip()))
    except ValueError:
        raise _Bad(f"bad timestamp in {name}: not ISO 8601 (such as 2024-03-02T14:05:00Z)") from None


def _identifiers(raw: object) -> dict[str, str | list[str]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _Bad('identifiers: must be an object such as {"phone": "+14155550142"}')
    found: dict[str, str | list[str]] = {}
    for kind, value in raw.items():
        if kind not in IDENTIFIER_KINDS:
            raise _Bad(f"identifiers: unknown kind {kind!r}; known: {', '.join(IDENTIFIER_KINDS)}")
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) or v is None for v in values):
            raise _Bad(f"identifiers.{kind}: must be a string or a list of strings")
        kept = [v for v in values if v]
        if kept:
            found[kind] = kept if isinstance(value, list) else kept[0]
    return found


def _read_csv(path: Path, tenants: Collection[str] | None) -> Iterator[PastCall | BadLine]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        columns = [c.strip() for c in reader.fieldnames or []]
        missing = [c for c in CSV_REQUIRED if c not in columns]
        if missing:
            raise InvalidInputError(f"{path.name}: the CSV header lacks the column(s) {', '.join(missing)}")
        reader.fieldnames = columns
        group: list[tuple[int, dict[str, str]]] = []
        done: dict[str, int] = {}  # call ids whose rows ended, and the line they started on
        line = 1
        try:
            for row in reader:
                start, line = line + 1, reader.line_num  # a quoted field may span lines
                call_id = (row.get("call_id") or "").strip()
                if group and call_id != group[0][1]["call_id"].strip():
                    yield _csv_call(group, tenants)
                    done[group[0][1]["call_id"].strip()] = group[0][0]
                    group = []
                if call_id in done:
                    yield BadLine(
                        start,
                        f"a row of the call at line {done[call_id]} after other calls (keep a call's rows together)",
                    )
                    continue
                group.append((start, row))
        except UnicodeDecodeError as exc:
            raise InvalidInputError(f"{path.name}: not UTF-8 text after line {line} (byte {exc.start})") from exc
        except csv.Error as exc:
            raise InvalidInputError(f"{path.name}: not CSV at line {reader.line_num} ({exc})") from exc
        if group:
            yield _csv_call(group, tenants)


def _csv_call(group: list[tuple[int, dict[str, str]]], tenants: Collection[str] | None) -> PastCall | BadLine:
    first_line, first = group[0]
    lines = f"lines {first_line}-{group[-1][0]}" if len(group) > 1 else f"line {first_line}"
    try:
        record: dict[str, Any] = {"tenant": first.get("tenant"), "call_id": first.get("call_id")}
        record["started_at"] = first.get("started_at")
        values: dict[str, str] = {}
        for number, row in group:
            if None in row:  # csv puts the fields beyond the header under None
                raise _Bad("more fields than the header has columns", number)
            for column in CSV_CALL_COLUMNS:
                value = (row.get(column) or "").strip()
                if not value:
                    continue
                if values.setdefault(column, value) != value:
                    raise _Bad(f"{column}: differs from the call's earlier rows (a call has one {column})", number)
        record["tenant"] = values.get("tenant")
        record["started_at"] = values.get("started_at")
        record["identifiers"] = {k: values[k] for k in IDENTIFIER_KINDS if k in values}
        turns = [({k: row.get(k) for k in ("role", "text", "at")}, number) for number, row in group]
        return _past_call(record, first_line, tenants, turns)
    except _Bad as bad:
        return BadLine(bad.line or first_line, f"{bad.reason} (the call's {lines} skipped)")


# -- importing ----------------------------------------------------------------------------------------


@dataclass
class ImportReport:
    """What a run did: calls and turns imported, calls already there, lines skipped and why."""

    calls: int = 0
    turns: int = 0
    resumed: int = 0  # calls an earlier run had begun and not finished, finished now
    present: int = 0  # calls the store already had (an earlier run imported them)
    present_turns: int = 0
    bad: list[BadLine] = field(default_factory=list)
    retried: int = 0  # times a call the database did not take in time was imported again
    unusable_identifiers: int = 0  # values that name no identifier ("anonymous"), skipped as a live call skips them
    seconds: float = 0.0
    embed_seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Turns imported per second of the run."""
        return self.turns / self.seconds if self.seconds > 0 else 0.0

    def lines(self) -> list[str]:
        """The summary, one line each."""
        out = [
            f"imported {_n(self.calls, 'call')} ({_n(self.turns, 'turn')}) in {self.seconds:.1f} s:"
            f" {self.rate:.0f} turns/s" + (f" (embedding {self.embed_seconds:.1f} s)" if self.turns else "")
        ]
        if self.resumed:
            out.append(f"  of which {self.resumed} begun by an earlier run that was stopped, finished now")
        if self.present:
            out.append(f"skipped {_n(self.present, 'call')} ({_n(self.present_turns, 'turn')}) already in the store")
        if self.retried:
            out.append(f"imported {_n(self.retried, 'call')} again after the database did not take it in time")
        if self.unusable_identifiers:
            out.append(
                f"ignored {self.unusable_identifiers} identifier values that name no one (such as 'anonymous'),"
                " as a live call does"
            )
        if self.bad:
            out.append(f"skipped {_n(len(self.bad), 'bad line')}:")
            out.extend(f"  {bad}" for bad in self.bad)
        return out


class ImportStore(CallServices, Protocol):
    """What an import needs of the store (:class:`~memory.caller_store.CallerStore` has it): a call's
    services, the model it embeds with and each tenant's policy."""

    @property
    def embedder(self) -> Embedder | AsyncEmbedder: ...

    def policy_for(self, customer_id: str) -> MemoryPolicy: ...


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


class _ImportServices:
    """The store's services as an imported call uses them: embeddings come from the vectors
    computed for its chunk (the model the store uses, many calls at once), no spool (a write that
    fails stops the run, which is resumed by running it again), and no brief prepared at every
    call's end (the caller's next live call builds it; every write bumps the caller's version, so a
    brief prepared before the import is never served)."""

    def __init__(self, store: ImportStore) -> None:
        self._store = store
        self.vectors: dict[str, np.ndarray] = {}

    @property
    def backend(self) -> Backend:
        return self._store.backend

    @property
    def spool(self) -> Spool | None:
        return None

    async def embed(self, texts: Sequence[str], *, cache_first: bool = False, later: bool = False) -> np.ndarray:
        texts = list(texts)
        if not cache_first and all(t in self.vectors for t in texts):
            if not texts:
                return np.zeros((0, self._store.embedder.dim), np.float32)
            return np.vstack([self.vectors[t] for t in texts])
        return await self._store.embed(texts, cache_first=cache_first, later=later)

    def query_deadline(self, mode: str) -> float | None:
        return None

    async def invalidate(self, customer_id: str, caller_id: str) -> None:
        await self._store.invalidate(customer_id, caller_id)

    async def cached_brief(self, customer_id: str, caller_id: str) -> str | None:
        return await self._store.cached_brief(customer_id, caller_id)

    async def build_brief(self, customer_id: str, caller_id: str, policy: MemoryPolicy) -> str:
        return await self._store.build_brief(customer_id, caller_id, policy)

    async def prepare_brief(self, customer_id: str, caller_id: str, policy: MemoryPolicy) -> None:
        return None

    async def refine_episode(self, episode: Episode, rows: Sequence[MemoryRow]) -> Episode:
        return await self._store.refine_episode(episode, rows)

    def call_closed(self, customer_id: str, call_id: str) -> None:
        return None


@dataclass
class _Chunk:
    calls: list[tuple[PastCall, tuple[str, str, bool] | None]]  # each call with its state in the store
    vectors: asyncio.Task[dict[str, np.ndarray]] | None = None
    turns: int = 0


class Importer:
    """Imports files of past calls into one store (opened by the caller, with the tenants' policies).

    ``tenants``: the tenants a file may name (``None``: any). ``progress(turns)`` is called as
    turns are imported or skipped as already there (a progress bar's ``update``).
    """

    def __init__(self, store: ImportStore, *, tenants: Collection[str] | None = None) -> None:
        self.store = store
        self.tenants = None if tenants is None else frozenset(tenants)
        self._services = _ImportServices(store)
        self._tenants_touched: set[str] = set()
        self._in_flight: set[tuple[str, str]] = set()  # (tenant, call id) being imported now
        self.report = ImportReport()  # of the last run
        # one chunk embedded at a time, on all the embedder's threads, while the calls of the last are stored
        self._embed_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="memory-import-embed")

    def count(self, path: Path, fmt: str) -> tuple[int, int]:
        """``(calls, turns)`` the file holds that can be imported (a first pass, for the progress bar)."""
        calls = turns = 0
        for item in read_calls(path, fmt, tenants=self.tenants):
            if isinstance(item, PastCall):
                calls += 1
                turns += len(item.turns)
        return calls, turns

    async def run(self, path: Path, fmt: str, *, progress: Callable[[int], object] | None = None) -> ImportReport:
        """Import the file; the report says what was done. An error that stops the run (the database
        failed) is raised, and :attr:`report` then holds what was done until then."""
        report = self.report = ImportReport()
        started = time.perf_counter()
        chunks: list[_Chunk] = []  # the one being imported, the next one being embedded
        batch: list[PastCall] = []
        size = 0
        try:
            for item in read_calls(path, fmt, tenants=self.tenants):
                if isinstance(item, BadLine):
                    report.bad.append(item)
                    continue
                batch.append(item)
                size += len(item.turns)
                if size >= CHUNK_TURNS:
                    chunks.append(await self._prepare(batch, report))
                    batch, size = [], 0
                    if len(chunks) == 2:
                        await self._import_chunk(chunks.pop(0), report, progress)
            if batch:
                chunks.append(await self._prepare(batch, report))
            while chunks:
                await self._import_chunk(chunks.pop(0), report, progress)
            await self._enrich_leftovers()
        finally:
            for chunk in chunks:
                if chunk.vectors is not None:
                    chunk.vectors.cancel()
            self._embed_thread.shutdown(wait=False, cancel_futures=True)
            report.seconds = time.perf_counter() - started
        return report

    async def _prepare(self, calls: list[PastCall], report: ImportReport) -> _Chunk:
        """The chunk's calls with their state in the store; the embedding of the new ones begins."""
        states: dict[tuple[str, str], tuple[str, str, bool]] = {}
        for tenant in {c.tenant for c in calls}:
            found = await self.store.backend.call_states(tenant, [c.call_id for c in calls if c.tenant == tenant])
            states.update({(tenant, call_id): state for call_id, state in found.items()})
        chunk = _Chunk([(c, states.get((c.tenant, c.call_id))) for c in calls])
        texts: dict[str, None] = {}
        for call, state in chunk.calls:
            if state is None or not state[2]:
                for turn in call.turns:
                    text = clean_text(turn.text, limit=MAX_TURN_CHARS)
                    if text:
                        texts.setdefault(text, None)
        chunk.turns = sum(len(c.turns) for c in calls)
        if texts:
            chunk.vectors = asyncio.ensure_future(self._embed(list(texts), report))
        return chunk

    async def _embed(self, texts: list[str], report: ImportReport) -> dict[str, np.ndarray]:
        model = self.store.embedder
        if inspect.iscoroutinefunction(model.embed):  # a model that runs elsewhere: awaited as it is
            t0 = time.perf_counter()
            vectors = await cast(AsyncEmbedder, model).embed(texts)
            report.embed_seconds += time.perf_counter() - t0
            return dict(zip(texts, vectors, strict=True))
        in_process = cast(Embedder, model)

        def embed() -> np.ndarray:  # in a thread of its own: the import's calls go on meanwhile
            t0 = time.perf_counter()
            vectors = in_process.embed(texts)
            report.embed_seconds += time.perf_counter() - t0
            return vectors

        vectors = await asyncio.get_running_loop().run_in_executor(self._embed_thread, embed)
        return dict(zip(texts, vectors, strict=True))

    async def _import_chunk(
        self, chunk: _Chunk, report: ImportReport, progress: Callable[[int], object] | None
    ) -> None:
        """The chunk's calls, ``CONCURRENT_CALLS`` at a time: calls that may concern one caller (they
        share an identifier, presented or said aloud, or the caller that owns one) one after the
        other in file order, as they happened; calls of different callers side by side."""
        self._services.vectors = await chunk.vectors if chunk.vectors is not None else {}
        todo: list[tuple[PastCall, tuple[str, str, bool] | None]] = []
        for call, state in chunk.calls:
            if state is not None and state[2]:
                report.present += 1
                report.present_turns += len(call.turns)
                if progress is not None:
                    progress(len(call.turns))
            else:
                todo.append((call, state))
        slots = asyncio.Semaphore(CONCURRENT_CALLS)

        async def one_by_one(group: list[tuple[PastCall, tuple[str, str, bool] | None]]) -> None:
            async with slots:
                for call, state in group:
                    self._in_flight.add((call.tenant, call.call_id))
                    try:
                        await self._import_retrying(call, state, report)
                    finally:
                        self._in_flight.discard((call.tenant, call.call_id))
                    report.calls += 1
                    report.turns += len(call.turns)
                    report.resumed += state is not None
                    if progress is not None:
                        progress(len(call.turns))

        results = await asyncio.gather(
            *(one_by_one(group) for group in await self._groups(todo)), return_exceptions=True
        )
        self._services.vectors = {}
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _groups(
        self, calls: list[tuple[PastCall, tuple[str, str, bool] | None]]
    ) -> list[list[tuple[PastCall, tuple[str, str, bool] | None]]]:
        """``calls`` in groups that may concern one caller, each in file order, the groups in the order
        of their first call. Two calls are in one group when they share an identifier presented or
        said aloud (read as the call's linker reads it), or the stored caller owning one, or the
        caller an unfinished earlier import of the call had; and so on, transitively."""
        keys: list[set[tuple[str, str, str]]] = []
        wanted: dict[str, set[Identifier]] = {}
        for call, state in calls:
            policy = self.store.policy_for(call.tenant)
            presented, _ = normalize_identifiers(call.identifiers, region=policy.default_region)
            said = _said_identifiers(call, policy)
            wanted.setdefault(call.tenant, set()).update(presented, said)
            found = {(call.tenant, i.kind, i.value) for i in (*presented, *said)}
            if state is not None:
                found.add((call.tenant, "caller", state[0]))
            keys.append(found)
        owners: dict[tuple[str, str, str], str] = {}
        for tenant, identifiers in wanted.items():
            if identifiers:
                found_owners = await self.store.backend.find_callers(tenant, sorted(identifiers, key=repr))
                owners.update({(tenant, i.kind, i.value): c for i, c in found_owners.items()})
        parent = list(range(len(calls)))

        def root(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        first_with: dict[tuple[str, str, str], int] = {}
        for i, found in enumerate(keys):
            callers = {(key[0], "caller", owners[key]) for key in found if key in owners}
            for key in found | callers:
                j = first_with.setdefault(key, i)
                parent[root(i)] = root(j)
        groups: dict[int, list[tuple[PastCall, tuple[str, str, bool] | None]]] = {}
        for i, item in enumerate(calls):
            groups.setdefault(root(i), []).append(item)
        return sorted(groups.values(), key=lambda g: calls.index(g[0]))

    async def _import_retrying(self, call: PastCall, state: tuple[str, str, bool] | None, report: ImportReport) -> None:
        """Import one call; a call the database did not take in time (busy, a connection lost) is
        imported again, over what it stored, after a pause, up to ``len(RETRY_PAUSES_S)`` times."""
        policy = self.store.policy_for(call.tenant)
        identifiers, rejected = normalize_identifiers(call.identifiers, region=policy.default_region)
        report.unusable_identifiers += len(rejected)
        self._tenants_touched.add(call.tenant)
        for pause in (*RETRY_PAUSES_S, None):
            try:
                await self._import_call(call, identifiers, state, policy)
                return
            except (MemoryWriteError, StoreUnavailableError):
                if pause is None:
                    raise
            report.retried += 1
            await asyncio.sleep(pause)
            state = (await self.store.backend.call_states(call.tenant, [call.call_id])).get(call.call_id)
            if state is not None and state[2]:
                return  # it was finished after all

    async def _import_call(
        self,
        call: PastCall,
        identifiers: list[Identifier],
        state: tuple[str, str, bool] | None,
        policy: MemoryPolicy,
    ) -> None:
        store = self.store
        tenant, call_id = call.tenant, call.call_id  # both checked as the store checks them
        if state is not None and not await self._resolves_to(tenant, identifiers, policy, state[0]):
            await self._replay(call, identifiers, state, policy)
            return
        hooks = CallHooks(
            self._services, tenant, identifiers, call_id=call_id, started_at=call.started_at, policy=policy
        )
        await hooks.open(budget_s=OPEN_BUDGET_S)
        if not hooks.started:
            await hooks.aclose(timeout=1.0)
            raise StoreUnavailableError("the database did not take the call (run the import again to resume)")
        for turn in call.turns:
            hooks.record_turn(turn.role, turn.text, at=turn.at or call.started_at)
        await hooks.aclose(timeout=CLOSE_TIMEOUT_S)
        ended = await store.backend.call_states(tenant, [call_id])
        if not ended.get(call_id, ("", "", False))[2]:
            raise StoreUnavailableError("the database did not finish the call (run the import again to resume)")

    async def _resolves_to(
        self, tenant: str, identifiers: list[Identifier], policy: MemoryPolicy, caller_id: str
    ) -> bool:
        """Do the call's presented identifiers find the caller its first, unfinished import had?"""
        linkable = [i for i in identifiers if i.kind in policy.link_kinds]
        if not linkable:
            return False
        backend = self.store.backend
        owners = await backend.find_callers(tenant, linkable)
        canonical = await backend.canonical_caller(tenant, caller_id)
        return canonical is not None and canonical in owners.values()

    async def _replay(
        self, call: PastCall, identifiers: list[Identifier], state: tuple[str, str, bool], policy: MemoryPolicy
    ) -> None:
        """Finish a call an earlier run began for a caller its identifiers do not find (it had none
        that link): as a spooled call is, under the caller it had; its turns enriched after."""
        transcript = CallTranscript(call.tenant, call.call_id)
        caller_id, first, _ = state
        for turn in call.turns:
            text = clean_text(turn.text, limit=MAX_TURN_CHARS)
            if text:
                at = as_utc(turn.at or call.started_at)
                transcript.append("turn", turn.role, text, at, None, caller_id=caller_id, first=first)
        spooled = SpooledCall(
            call.tenant, call.call_id, identifiers, call.started_at, caller_id, first, closed=True,
            rows=transcript.rows,
        )  # fmt: skip
        await replay_call(self._services, spooled, policy)
        busy = {call_id for tenant, call_id in self._in_flight if tenant == call.tenant and call_id != call.call_id}
        await self._enrich_leftovers(call.tenant, skip_calls=busy)

    async def _enrich_leftovers(self, tenant: str | None = None, *, skip_calls: Collection[str] = ()) -> None:
        """Enrich rows of finished calls still waiting (a replayed call's, a batch deferred at close),
        but those of ``skip_calls`` (being imported: their writers enrich them)."""
        for name in [tenant] if tenant else sorted(self._tenants_touched):
            policy = self.store.policy_for(name)
            while await backfill(self._services, name, policy, before=utcnow(), skip_calls=skip_calls, limit=1024):
                pass


def _said_identifiers(call: PastCall, policy: MemoryPolicy) -> list[Identifier]:
    """Identifiers said aloud in the call's user turns, read as its linker reads them (after the agent
    asked for one, a bare number is that identifier)."""
    transcript = CallTranscript(call.tenant, call.call_id)
    found: list[Identifier] = []
    for turn in call.turns:
        text = clean_text(turn.text, limit=MAX_TURN_CHARS)
        if not text:
            continue
        row = transcript.append("turn", turn.role, text, call.started_at, None, caller_id="", first="")
        if row is None or turn.role != "user":
            continue
        question = transcript.question_before_last()
        asked = asked_for(question) if question else frozenset()
        found.extend(read_turn(text, region=policy.default_region, asked=asked).identifiers)
    return found


def env_threads() -> int:
    """Embedding threads for an import: every core the process may use (a batch job, unlike a worker)."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def import_embedder() -> Embedder:
    """The model the store embeds with (``MEMORY_EMBED_QUANTIZED`` and ``MEMORY_EMBED_CACHE_DIR`` read as
    :func:`~memory.embed.default_embedder` reads them), on every core the process may use."""
    return MiniLMEmbedder(quantized=quantized_from_env(), threads=env_threads())

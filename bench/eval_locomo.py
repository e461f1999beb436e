"""LoCoMo turn-level retrieval through the public memory API, beside BM25-only and dense-only baselines.

    python bench/eval_locomo.py                   # all 10 conversations: fast, accurate, the baselines
    python bench/eval_locomo.py --ablations       # also each ranking signal switched off (docs/locomo.md)
    python bench/eval_locomo.py --quick           # 2 conversations
    python bench/eval_locomo.py --modes accurate --limit-conversations 3

Each LoCoMo conversation is replayed as one caller on a temporary embedded SQLite store: every session
is a call (``store.open_call`` with the session's date as ``started_at``), every turn is
``hooks.record_turn`` (speaker A -> "user", speaker B -> "assistant", 30 s apart), stored as
``"<speaker>: <text>"`` plus ``" [shares a photo: <caption>]"`` when the turn shares an image
(``--bare-turns``: without the ``"<speaker>: "``, as a voice agent records a caller's words). Then,
for each mode, a fresh store over the same database (no cached query vectors) opens one more call per
caller, dated after the last session, and asks every question of categories 1-4 that has evidence
(``hooks.recall(question, mode=..., limit=10)``). Hits map back to dia_ids through (call_id, seq).

The baselines rank the same stored texts in the same run: BM25-only is rank_bm25's BM25Okapi over
lowercase alphanumeric tokens (a turn is a document); dense-only is the cosine of the question's
MiniLM vector to the stored turn vectors. Both rank the question's own conversation only. For
reference, bm25-raw is the same BM25 over the bare utterances (no speaker names, no captions).
dense-tenant is what a memory service with one vector index per tenant does: the same cosine, but
over the pooled turns of every replayed conversation (as if all LoCoMo speakers were callers of one
tenant), scored against the question's own evidence.

Metrics per question (evidence = the gold dia_ids): recall_any@k (some evidence turn in the top k),
recall_all@k (every evidence turn in the top k), NDCG@10 (binary relevance), and other@k: the share
of the top k hits that come from another conversation (another caller). Recall latency is
measured on every question (query embedding included), and on callers of exactly 200 and 1,000
memories (``--latency-sizes``) for the latency targets, both at rest and right after a new turn.

The data is read in place: ``--data``, else ``$LOCOMO_PATH``, else
``../shared/data/locomo/locomo10.json`` relative to the project root. It is CC BY-NC 4.0: never copy it
into the project.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import os
import re
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from rank_bm25 import BM25Okapi  # noqa: E402
from tqdm import tqdm  # noqa: E402

import memory  # noqa: E402
from bench.context import pct  # noqa: E402
from memory.embed import default_embedder  # noqa: E402
from memory.recall.presets import PRESETS  # noqa: E402
from memory.recall.ranking import rank  # noqa: E402
from memory.recall.working_set import WorkingSet  # noqa: E402
from memory.text import terms  # noqa: E402
from memory.values import MemoryRow  # noqa: E402

TENANT = "locomo"
DEFAULT_DATA = Path("..") / "shared" / "data" / "locomo" / "locomo10.json"
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
TURN_GAP = timedelta(seconds=30)
LIMIT = 10
KS = (5, 10)
MEMORY_MODES = ("fast", "accurate")
BASELINES = ("bm25", "dense", "dense-tenant", "bm25-raw")
BASELINE_LABELS = {
    "bm25": "bm25-only",
    "dense": "dense-only",
    "dense-tenant": "dense-only, tenant-wide",
    "bm25-raw": "bm25-only, raw utterances (reference)",
}
TARGET_ACCURATE_R5 = 0.75
LATENCY_TARGETS = {("fast", 200): 10.0, ("accurate", 1000): 25.0}
LIVE_QUERIES = 50  # recalls timed right after a new turn, per size and mode
# Identifiers said aloud in the dialogues (phone-like numbers) must not link one conversation's caller to another.
POLICY = memory.MemoryPolicy(spoken_link_kinds=frozenset(), recall_timeout_s=10.0, preload_timeout_s=10.0)
_EVIDENCE = re.compile(r"D:?(\d+):(\d+)")
_PLAIN_TOKEN = re.compile(r"[a-z0-9]+")


# ------------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Turn:
    dia_id: str
    speaker: str
    text: str  # as stored: speaker name, words, image caption
    utterance: str  # the words alone (for the reference BM25 over raw utterances)


@dataclass(frozen=True)
class Session:
    number: int
    started_at: datetime
    turns: tuple[Turn, ...]


@dataclass(frozen=True)
class Question:
    text: str
    category: int
    evidence: frozenset[str]


@dataclass
class Conversation:
    index: int
    sample_id: str
    speaker_a: str
    speaker_b: str
    sessions: list[Session]
    questions: list[Question]
    dropped_evidence: int = 0
    dropped_questions: int = 0

    @property
    def turns(self) -> list[Turn]:
        return [t for s in self.sessions for t in s.turns]


def data_path(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    if os.environ.get("LOCOMO_PATH"):
        return Path(os.environ["LOCOMO_PATH"])
    return (ROOT / DEFAULT_DATA).resolve()


def turn_text(turn: dict, *, speaker: bool = True) -> str:
    """What is stored for one LoCoMo turn: who said it (unless ``speaker`` is false), what they said,
    and the photo they shared."""
    text = turn.get("text", "").strip()
    if speaker:
        text = f"{turn['speaker']}: {text}"
    caption = (turn.get("blip_caption") or "").strip()
    if caption:
        text += f" [shares a photo: {caption}]"
    return text


def parse_date(value: str) -> datetime:
    """LoCoMo session dates: "1:56 pm on 8 May, 2023"."""
    return datetime.strptime(" ".join(value.split()), "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)


def canonical_dia_id(session: int, turn: int) -> str:
    return f"D{session}:{turn}"


def parse_evidence(items: Iterable[str]) -> list[str]:
    """Gold dia_ids; tolerates "D8:6; D9:17", "D:11:26", "D30:05". Unparseable strings are dropped."""
    found = []
    for item in items:
        for session, turn in _EVIDENCE.findall(str(item)):
            dia = canonical_dia_id(int(session), int(turn))
            if dia not in found:
                found.append(dia)
    return found


def load_locomo(path: Path, *, speaker_names: bool = True) -> list[Conversation]:
    """The conversations; ``speaker_names=False`` stores each turn's words (and photo caption) only."""
    raw = json.loads(path.read_text())
    conversations = []
    for index, sample in enumerate(raw):
        conv = sample["conversation"]
        sessions = []
        numbers = sorted(int(m.group(1)) for k in conv if (m := re.fullmatch(r"session_(\d+)", k)))
        for number in numbers:
            turns = tuple(
                Turn(
                    canonical_dia_id(*map(int, _EVIDENCE.search(t["dia_id"]).groups())),
                    t["speaker"],
                    turn_text(t, speaker=speaker_names),
                    str(t.get("text", "")),
                )
                for t in conv[f"session_{number}"]
            )
            if turns:
                sessions.append(Session(number, parse_date(conv[f"session_{number}_date_time"]), turns))
        sessions.sort(key=lambda s: s.started_at)
        known = {t.dia_id for s in sessions for t in s.turns}
        item = Conversation(
            index, sample.get("sample_id", str(index)), conv["speaker_a"], conv["speaker_b"], sessions, []
        )
        for qa in sample["qa"]:
            category = int(qa.get("category", 0))
            if category not in CATEGORIES:
                continue
            parsed = parse_evidence(qa.get("evidence") or [])
            valid = [d for d in parsed if d in known]
            item.dropped_evidence += len(parsed) - len(valid)
            if not valid:
                item.dropped_questions += 1
                continue
            item.questions.append(Question(str(qa["question"]), category, frozenset(valid)))
        conversations.append(item)
    return conversations


# ---------------------------------------------------------------------------------------- metrics


def question_metrics(
    ranked: Sequence[str], evidence: frozenset[str], other: Sequence[bool] | None = None
) -> dict[str, float]:
    """Metrics of one question's ranking; ``other`` (one flag per ranked hit: from another conversation,
    i.e. another caller) adds other@k, the share of the top k hits that are someone else's."""
    out = {}
    for k in KS:
        top = set(ranked[:k])
        out[f"recall_any@{k}"] = float(bool(top & evidence))
        out[f"recall_all@{k}"] = float(evidence <= top)
    dcg = sum(1.0 / math.log2(rank + 2) for rank, dia in enumerate(ranked[:LIMIT]) if dia in evidence)
    ideal = sum(1.0 / math.log2(rank + 2) for rank in range(min(len(evidence), LIMIT)))
    out[f"ndcg@{LIMIT}"] = dcg / ideal
    if other is not None:
        for k in KS:
            top = list(other[:k])
            out[f"other@{k}"] = sum(top) / len(top) if top else 0.0
    return out


METRIC_KEYS = ("recall_any@5", "recall_any@10", "recall_all@5", "recall_all@10", f"ndcg@{LIMIT}")
OTHER_KEYS = tuple(f"other@{k}" for k in KS)  # hits from another conversation (caller), where measured


def aggregate(per_question: list[tuple[int, dict[str, float]]]) -> dict:
    def mean(items: list[dict[str, float]]) -> dict[str, float]:
        keys = [*METRIC_KEYS, *(k for k in OTHER_KEYS if items and all(k in m for m in items))]
        return {k: float(np.mean([m[k] for m in items])) if items else float("nan") for k in keys} | {
            "questions": len(items)
        }

    by_category = defaultdict(list)
    for category, metrics in per_question:
        by_category[category].append(metrics)
    return {
        "overall": mean([m for _, m in per_question]),
        "by_category": {str(c): mean(by_category[c]) for c in sorted(by_category)},
    }


# ----------------------------------------------------------------------------------------- replay


def account_of(index: int) -> str:
    return f"{5_000_000 + index}"


@dataclass
class Replayed:
    conversation: Conversation
    caller_id: str
    after: datetime  # when the question calls happen: a day after the last session
    dia_of: dict[tuple[str, int], str] = field(default_factory=dict)  # (call_id, seq) -> dia_id
    texts: list[str] = field(default_factory=list)  # stored turn texts, in order
    utterances: list[str] = field(default_factory=list)  # the same turns' words alone
    dia_ids: list[str] = field(default_factory=list)
    vectors: np.ndarray | None = None  # stored turn vectors, same order
    rows: list[MemoryRow] = field(default_factory=list)  # as stored (for the ablations)


async def replay(store: memory.CallerStore, conv: Conversation, *, prefix: str = "locomo") -> Replayed:
    """One caller; each session a call; each turn recorded through the hooks."""
    ids = {"account": account_of(conv.index)}
    caller_id = None
    for session in conv.sessions:
        call_id = f"{prefix}-{conv.index}-s{session.number}"
        hooks = await store.open_call(TENANT, ids, call_id=call_id, started_at=session.started_at)
        for i, turn in enumerate(session.turns):
            role = "user" if turn.speaker == conv.speaker_a else "assistant"
            hooks.record_turn(role, turn.text, at=session.started_at + i * TURN_GAP, key=turn.dia_id)
        await hooks.aclose(timeout=300)
        caller_id = caller_id or hooks.caller_id
        if hooks.caller_id != caller_id:
            raise RuntimeError(f"conversation {conv.sample_id}: sessions landed on different callers")
    assert caller_id is not None
    rows = await store.history(TENANT, caller_id, limit=100_000)
    expected = {(f"{prefix}-{conv.index}-s{s.number}", i + 1): t for s in conv.sessions for i, t in enumerate(s.turns)}
    out = Replayed(conv, caller_id, conv.sessions[-1].started_at + timedelta(days=1))
    vectors = []
    for row in rows:
        turn = expected.get((row.call_id, row.seq))
        if turn is None or turn.text != row.text:
            raise RuntimeError(f"conversation {conv.sample_id}: stored row {row.call_id}:{row.seq} does not match")
        out.dia_of[(row.call_id, row.seq)] = turn.dia_id
        out.texts.append(row.text)
        out.utterances.append(turn.utterance)
        out.dia_ids.append(turn.dia_id)
        vectors.append(row.embedding)
    if len(rows) != len(expected):
        raise RuntimeError(f"conversation {conv.sample_id}: {len(rows)} rows stored, {len(expected)} turns replayed")
    out.vectors = np.stack(vectors).astype(np.float32)
    out.rows = rows
    return out


async def ask(
    store: memory.CallerStore, rep: Replayed, mode: str, *, call_id: str
) -> tuple[list[tuple[int, dict[str, float]]], list[float], int]:
    """Every question of one conversation in one new call of its caller; metrics and recall times."""
    conv = rep.conversation
    hooks = await store.open_call(TENANT, {"account": account_of(conv.index)}, call_id=call_id, started_at=rep.after)
    if hooks.caller_id != rep.caller_id:
        raise RuntimeError("the question call did not find the replayed caller")
    await hooks.recall("hello again, it's me", mode=mode, limit=LIMIT)  # waits for the history to load; not timed
    results, times, empty = [], [], 0
    for q in tqdm(conv.questions, desc=f"{mode} {conv.sample_id}", unit="q", file=sys.stderr, leave=False):
        t0 = time.perf_counter()
        hits = await hooks.recall(q.text, mode=mode, limit=LIMIT)
        times.append((time.perf_counter() - t0) * 1000)
        empty += not hits
        ranked = [rep.dia_of.get((h.call_id, h.seq), "?") for h in hits]
        other = [(h.call_id, h.seq) not in rep.dia_of and h.call_id != call_id for h in hits]
        results.append((q.category, question_metrics(ranked, q.evidence, other)))
    await hooks.aclose()
    return results, times, empty


# -------------------------------------------------------------------------------------- baselines


def plain_tokens(text: str) -> list[str]:
    return _PLAIN_TOKEN.findall(text.lower())


def baseline_results(rep: Replayed, name: str, query_vectors: np.ndarray) -> list[tuple[int, dict[str, float]]]:
    conv = rep.conversation
    if name in ("bm25", "bm25-raw"):
        docs = rep.texts if name == "bm25" else rep.utterances
        bm25 = BM25Okapi([plain_tokens(t) or ["\u2205"] for t in docs])
    out = []
    for qi, q in enumerate(conv.questions):
        scores = rep.vectors @ query_vectors[qi] if name == "dense" else bm25.get_scores(plain_tokens(q.text))
        order = np.argsort(-scores, kind="stable")[:LIMIT]
        ranked = [rep.dia_ids[i] for i in order]
        out.append((q.category, question_metrics(ranked, q.evidence, [False] * len(ranked))))  # one caller's turns
    return out


def tenant_results(replayed: list[Replayed], query_vectors: dict[int, np.ndarray]) -> list[tuple[int, dict]]:
    """Dense-only over one pool of every replayed conversation's turns (one index for the tenant, no caller).

    A hit from another conversation is another caller's turn: it never counts as evidence (dia_ids repeat
    across conversations, so it is ranked as "other") and it is counted in other@k.
    """
    pool = np.concatenate([rep.vectors for rep in replayed])
    owner = np.concatenate([np.full(len(rep.dia_ids), i) for i, rep in enumerate(replayed)])
    dia_ids = [d for rep in replayed for d in rep.dia_ids]
    out = []
    for i, rep in enumerate(replayed):
        vectors = query_vectors[rep.conversation.index]
        for qi, q in enumerate(rep.conversation.questions):
            order = np.argsort(-(pool @ vectors[qi]), kind="stable")[:LIMIT]
            other = [bool(owner[j] != i) for j in order]
            ranked = ["other" if o else dia_ids[j] for j, o in zip(order, other, strict=True)]
            out.append((q.category, question_metrics(ranked, q.evidence, other)))
    return out


# -------------------------------------------------------------------------------------- ablations

_OFF = {"context_lexical_weight": 0.0, "context_dense_weight": 0.0, "call_weight": 0.0, "answer_weight": 0.0}
_OFF |= {"time_weight": 0.0, "date_weight": 0.0}
ABLATIONS: list[tuple[str, str, dict, bool]] = [  # label, preset, changes, stemming
    ("accurate (without the graph expansion)", "accurate", {}, True),
    ("fast", "fast", {}, True),
    ("accurate, no stemming", "accurate", {}, False),
    ("accurate, no context window", "accurate", {"context_lexical_weight": 0.0, "context_dense_weight": 0.0}, True),
    ("accurate, no lexical context", "accurate", {"context_lexical_weight": 0.0}, True),
    ("accurate, no dense context", "accurate", {"context_dense_weight": 0.0}, True),
    ("accurate, context +-1", "accurate", {"neighbour_turns": 1}, True),
    ("accurate, context +-3", "accurate", {"neighbour_turns": 3}, True),
    ("accurate, no call match", "accurate", {"call_weight": 0.0}, True),
    ("accurate, no question -> answer", "accurate", {"answer_weight": 0.0}, True),
    ("accurate, no 'when' -> time mentions", "accurate", {"time_weight": 0.0}, True),
    ("accurate, no dates named in the query", "accurate", {"date_weight": 0.0}, True),
    ("own words + own vector only, no stemming", "accurate", _OFF, False),
    ("own words + own vector only", "accurate", _OFF, True),
]


def rank_direct(rows: list[MemoryRow], rep: Replayed, preset, query_vectors: np.ndarray, now: datetime) -> list:
    """Rank every question of one conversation with a WorkingSet of the stored rows (no store, no graph)."""
    ws = WorkingSet(rows)
    ws.prepare()
    dia = rep.dia_of  # rows keep their (call_id, seq)
    out = []
    for q, vector in zip(rep.conversation.questions, query_vectors, strict=True):
        hits = rank(ws, q.text, vector, preset=preset, limit=LIMIT, now=now)
        out.append((q.category, question_metrics([dia[(h.call_id, h.seq)] for h in hits], q.evidence)))
    return out


def ablations(replayed: list[Replayed], embedder, *, speaker_names: bool = True) -> dict[str, list]:
    """What each ranking signal is worth: the presets with one part changed, ranked directly."""
    now = datetime.now(UTC)  # as the hooks do
    query_vectors = [embedder.embed([q.text for q in rep.conversation.questions]) for rep in replayed]
    out: dict[str, list] = {}
    for label, name, changes, stemming in tqdm(ABLATIONS, desc="ablations", unit="variant", file=sys.stderr):
        preset = dataclasses.replace(PRESETS[name], **changes)
        real_stem = terms.stem
        if not stemming:
            terms.stem = lambda word: word  # index_terms looks the stemmer up at call time
        try:
            out[label] = [
                m
                for rep, qv in zip(replayed, query_vectors, strict=True)
                for m in rank_direct(rep.rows, rep, preset, qv, now)
            ]
        finally:
            terms.stem = real_stem
    if not speaker_names:
        return out  # already stored without them
    # the same turns stored without the speaker's name (words and photo caption only), re-embedded
    bare = []
    for rep in replayed:
        texts = [t.split(": ", 1)[1] if ": " in t else t for t in rep.texts]
        vectors = embedder.embed(texts)
        bare.append(
            [dataclasses.replace(r, text=t, embedding=v) for r, t, v in zip(rep.rows, texts, vectors, strict=True)]
        )
    for name in MEMORY_MODES:
        preset = PRESETS[name]
        out[f"{name}, turns stored without speaker names"] = [
            m
            for rep, rows, qv in zip(replayed, bare, query_vectors, strict=True)
            for m in rank_direct(rows, rep, preset, qv, now)
        ]
    return out


# ---------------------------------------------------------------------------------------- latency


async def latency_at_size(
    url: str, embedder, conversations: list[Conversation], size: int, modes: Sequence[str], queries: int
) -> dict[str, dict[str, float]]:
    """Recall times for one caller holding exactly ``size`` memories (LoCoMo turns, sessions as calls)."""
    store = await memory.open_store(url, embedder=embedder)
    store.set_policy(TENANT, POLICY)
    ids = {"account": f"{7_000_000 + size}"}
    left, start, n = size, None, 0
    try:
        for conv in conversations:
            for session in conv.sessions:
                if left <= 0:
                    break
                turns = session.turns[:left]
                # later conversations continue after the earlier ones, keeping the caller's calls in order
                start = session.started_at if start is None else max(start + timedelta(days=1), session.started_at)
                hooks = await store.open_call(TENANT, ids, call_id=f"lat{size}-{n}", started_at=start)
                for i, turn in enumerate(turns):
                    hooks.record_turn("user" if i % 2 == 0 else "assistant", turn.text, at=start + i * TURN_GAP)
                await hooks.aclose(timeout=300)
                left -= len(turns)
                n += 1
    finally:
        await store.aclose()
    texts = list(dict.fromkeys(q.text for c in conversations for q in c.questions))[:queries]
    out = {}
    for mode in modes:
        store = await memory.open_store(url, embedder=embedder)  # no cached query vectors
        store.set_policy(TENANT, POLICY)
        try:
            hooks = await store.open_call(
                TENANT, ids, call_id=f"lat{size}-{mode}", started_at=start + timedelta(days=1)
            )
            await hooks.recall("hello again, it's me", mode=mode, limit=LIMIT)
            times = []
            for text in tqdm(texts, desc=f"latency {mode} @{size}", unit="q", file=sys.stderr, leave=False):
                t0 = time.perf_counter()
                await hooks.recall(text, mode=mode, limit=LIMIT)
                times.append((time.perf_counter() - t0) * 1000)
            # as in a live call: the caller says something, then the agent recalls with a question not
            # asked before (its embedding is computed; the indexes take the new turn in)
            live = []
            for i, text in enumerate(texts[:LIVE_QUERIES]):
                hooks.record_turn("user", f"{text} (turn {i})")
                t0 = time.perf_counter()
                await hooks.recall(f"so, about what I just said: {text}", mode=mode, limit=LIMIT)
                live.append((time.perf_counter() - t0) * 1000)
            await hooks.aclose()
        finally:
            await store.aclose()
        out[mode] = {"p50_ms": pct(times, 50), "p95_ms": pct(times, 95), "queries": len(times)}
        out[f"{mode}, a turn recorded before each recall"] = {
            "p50_ms": pct(live, 50),
            "p95_ms": pct(live, 95),
            "queries": len(live),
        }
    return out


# ----------------------------------------------------------------------------------------- report


def table(results: dict[str, dict]) -> str:
    """The overall metrics, with a column for the share of hits from other conversations where measured."""
    other = any(k in res["overall"] for res in results.values() for k in OTHER_KEYS)
    head = "| system | R_any@5 | R_any@10 | R_all@5 | R_all@10 | NDCG@10 |"
    if other:
        head += " other callers' turns in top 5 / top 10 |"
    lines = [head, "|---" * (len(METRIC_KEYS) + 1 + other) + "|"]
    for name, res in results.items():
        o = res["overall"]
        cells = [f"{o[k]:.3f}" for k in METRIC_KEYS]
        if other:
            cells.append(" / ".join(f"{o[k]:.3f}" for k in OTHER_KEYS) if all(k in o for k in OTHER_KEYS) else "–")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def category_table(results: dict[str, dict]) -> str:
    cats = sorted({c for r in results.values() for c in r["by_category"]}, key=int)
    head = "| system | " + " | ".join(f"{CATEGORIES[int(c)]} ({c}) R@5 / R@10 / NDCG" for c in cats) + " |"
    lines = [head, "|---" * (len(cats) + 1) + "|"]
    for name, res in results.items():
        cells = []
        for c in cats:
            m = res["by_category"].get(c)
            cells.append(f"{m['recall_any@5']:.3f} / {m['recall_any@10']:.3f} / {m['ndcg@10']:.3f}" if m else "")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    counts = ", ".join(
        f"{CATEGORIES[int(c)]} {next(iter(results.values()))['by_category'][c]['questions']}" for c in cats
    )
    return "\n".join(lines) + f"\n\nquestions per category: {counts}"


def latency_table(latency: dict) -> str:
    lines = ["| recall latency (ms) | memories | p50 | p95 | target |", "|---|---|---|---|---|"]
    for label, per_mode in latency.items():
        for mode, m in per_mode.items():
            size = m.get("memories", "")
            target = LATENCY_TARGETS.get((mode, size)) if isinstance(size, int) else None
            goal = f"p95 < {target:g}" if target else ""
            lines.append(f"| {mode} ({label}) | {size} | {m['p50_ms']:.2f} | {m['p95_ms']:.2f} | {goal} |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------- main


async def run(args: argparse.Namespace) -> dict:
    path = data_path(args.data)
    if not path.is_file():
        raise SystemExit(f"LoCoMo data not found at {path}: pass --data or set LOCOMO_PATH")
    bare = getattr(args, "bare_turns", False)
    conversations = load_locomo(path, speaker_names=not bare)
    all_conversations = conversations
    limit = 2 if args.quick else args.limit_conversations
    if limit:
        conversations = conversations[:limit]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in modes if m not in (*MEMORY_MODES, *BASELINES)]
    if unknown:
        raise SystemExit(f"unknown modes {unknown}; choose from {[*MEMORY_MODES, *BASELINES]}")
    embedder = default_embedder()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="locomo-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'm.db'}"
        store = await memory.open_store(url, embedder=embedder)
        store.set_policy(TENANT, POLICY)
        replayed = []
        try:
            for conv in tqdm(conversations, desc="replaying", unit="conversation", file=sys.stderr):
                replayed.append(await replay(store, conv))
        finally:
            await store.aclose()
        replay_s = time.perf_counter() - started

        per_system: dict[str, list] = {}
        latency: dict[str, dict] = {"LoCoMo callers": {}}
        empty: dict[str, int] = {}
        for mode in (m for m in modes if m in MEMORY_MODES):
            store = await memory.open_store(url, embedder=embedder)  # a fresh store: no cached query vectors
            store.set_policy(TENANT, POLICY)
            results, times, empties = [], [], 0
            try:
                for rep in tqdm(replayed, desc=f"recall {mode}", unit="conversation", file=sys.stderr):
                    r, t, e = await ask(store, rep, mode, call_id=f"questions-{rep.conversation.index}-{mode}")
                    results += r
                    times += t
                    empties += e
            finally:
                await store.aclose()
            per_system[mode] = results
            empty[mode] = empties
            sizes = [len(r.texts) for r in replayed]
            latency["LoCoMo callers"][mode] = {
                "p50_ms": pct(times, 50),
                "p95_ms": pct(times, 95),
                "queries": len(times),
                "memories": f"{min(sizes)}-{max(sizes)}",
            }
        question_vectors: dict[int, np.ndarray] = {}  # per conversation, embedded once for both dense baselines

        def questions_embedded(rep: Replayed) -> np.ndarray:
            index = rep.conversation.index
            if index not in question_vectors:
                question_vectors[index] = embedder.embed([q.text for q in rep.conversation.questions])
            return question_vectors[index]

        for name in (m for m in modes if m in BASELINES):
            if name == "dense-tenant":
                for rep in tqdm(replayed, desc="embedding questions", unit="conversation", file=sys.stderr):
                    questions_embedded(rep)
                per_system[BASELINE_LABELS[name]] = tenant_results(replayed, question_vectors)
                continue
            results = []
            for rep in tqdm(replayed, desc=f"baseline {name}", unit="conversation", file=sys.stderr):
                vectors = questions_embedded(rep) if name == "dense" else None
                results += baseline_results(rep, name, vectors)
            per_system[BASELINE_LABELS[name]] = results

        memory_modes = [m for m in modes if m in MEMORY_MODES]
        for size in [int(s) for s in args.latency_sizes.split(",") if s.strip()] if memory_modes else []:
            sized = await latency_at_size(
                f"sqlite:///{Path(tmp) / f'latency-{size}.db'}",
                embedder,
                all_conversations,
                size,
                memory_modes,
                args.latency_queries,
            )
            latency[f"{size} memories"] = {m: v | {"memories": size} for m, v in sized.items()}
        ablation = ablations(replayed, embedder, speaker_names=not bare) if args.ablations else {}

    results = {name: aggregate(r) for name, r in per_system.items()}
    questions = sum(len(c.questions) for c in conversations)
    return {
        "dataset": "LoCoMo (locomo10.json), turn = document, categories 1-4 with evidence"
        + (", turns stored without the speaker's name" if bare else ""),
        "speaker_names": not bare,
        "conversations": [c.sample_id for c in conversations],
        "questions": questions,
        "turns": sum(len(c.turns) for c in conversations),
        "dropped_evidence_ids": sum(c.dropped_evidence for c in conversations),
        "dropped_questions_without_evidence": sum(c.dropped_questions for c in conversations),
        "limit": LIMIT,
        "embedder": embedder.name,
        "cores": os.cpu_count(),
        "replay_s": replay_s,
        "total_s": time.perf_counter() - started,
        "empty_recalls": empty,
        "results": results,
        "ablations": {name: aggregate(r) for name, r in ablation.items()},
        "latency": latency,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="locomo10.json (default: $LOCOMO_PATH or ../shared/data/locomo/locomo10.json)")
    parser.add_argument("--limit-conversations", type=int, default=0, help="only the first N conversations")
    parser.add_argument("--quick", action="store_true", help="2 conversations")
    parser.add_argument(
        "--modes",
        default="fast,accurate,bm25,dense,dense-tenant,bm25-raw",
        help="of fast, accurate (the memory layer), bm25, dense (baselines over one caller's stored texts), "
        "dense-tenant (dense over every conversation's turns pooled, one index for the tenant) and bm25-raw "
        "(BM25 over the utterances without speaker names or captions, the reference recipe of SOURCE.md)",
    )
    parser.add_argument(
        "--latency-sizes", default="200,1000", help="also time recall for callers of these sizes ('' to skip)"
    )
    parser.add_argument("--latency-queries", type=int, default=300, help="questions timed per size and mode")
    parser.add_argument(
        "--ablations", action="store_true", help="also rank with each signal switched off (about a minute more)"
    )
    parser.add_argument(
        "--bare-turns",
        action="store_true",
        help="store each turn without the speaker's name (its words and photo caption only), as a voice agent "
        "records a caller's words",
    )
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "locomo.json")
    args = parser.parse_args()
    out = asyncio.run(run(args))
    print(
        f"\nLoCoMo turn-level retrieval{'' if out['speaker_names'] else ', turns stored without speaker names'}: "
        f"{len(out['conversations'])} conversations, {out['turns']} turns, "
        f"{out['questions']} questions (categories 1-4 with evidence), top {LIMIT}, embedder {out['embedder']}, "
        f"{out['cores']} cores\n"
    )
    print(table(out["results"]))
    print()
    print(category_table(out["results"]))
    print()
    print(latency_table(out["latency"]))
    if out["ablations"]:
        print("\nAblations (the stored rows ranked directly with variants of the presets):\n")
        print(table(out["ablations"]))
    if any(out["empty_recalls"].values()):
        print(f"\nrecalls that returned nothing: {out['empty_recalls']}")
    accurate = out["results"].get("accurate")
    if accurate:
        r5 = accurate["overall"]["recall_any@5"]
        print(
            f"\naccurate R_any@5 {r5:.3f}: target {TARGET_ACCURATE_R5} {'met' if r5 >= TARGET_ACCURATE_R5 else 'not met'}"
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2))
    print(f"raw results: {args.json.relative_to(ROOT) if args.json.is_relative_to(ROOT) else args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

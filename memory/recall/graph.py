"""The caller's entity graph: references, facts, calls and turns, and how they relate.

Nodes: ``caller``, ``call:<id>``, ``ref:<kind> <value>`` (ticket 8842, serial ZX-4410),
``fact:<id>``, ``turn:<call_id>#<seq>``. Edges: the caller ``reported`` a reference or fact; a call
is ``about`` the references said in it; a reference or fact is ``mentioned_in`` a turn; a fact
``supersedes`` the value it replaced. Every edge keeps its provenance (call id, turn, time).

Accurate-mode recall walks this graph from the entities that the query and the top hits touch:
caller → ticket 8842 → modem serial ZX-4410 → the earlier call where it broke.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..text import facts, promises
from ..text.dates import first_date
from ..text.reading import read_turn
from ..text.terms import pack_terms
from ..values import Edge, Fact, Matter, MemoryRow

RowKey = tuple[str, int]  # (call_id, seq)


def turn_node(call_id: str, seq: int) -> str:
    return f"turn:{call_id}#{seq}"


def parse_turn_node(node: str) -> RowKey | None:
    if not node.startswith("turn:") or "#" not in node:
        return None
    call_id, _, seq = node[5:].rpartition("#")
    return (call_id, int(seq)) if seq.isdigit() else None


def fact_id_of(row: MemoryRow, attribute: str, value: str) -> str:
    """The id of a fact said in ``row``: the same when the row is read again (enrichment is idempotent)."""
    key = f"{row.call_id}\0{row.seq}\0{attribute}\0{value}".encode()
    return "fact_" + hashlib.sha256(key).hexdigest()[:16]


@dataclass
class Extraction:
    facts: list[Fact] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    matters: list[Matter] = field(default_factory=list)
    resolutions: list[tuple[MemoryRow, tuple[str, ...]]] = field(default_factory=list)


def extract_batch(
    rows: Sequence[MemoryRow], call_rows: Sequence[MemoryRow], *, plans: Sequence[str], region: str
) -> Extraction:
    """Facts, graph edges, promises and resolutions in newly recorded rows (pure CPU; run it in a thread)."""
    out = Extraction()
    position = {(r.call_id, r.seq): i for i, r in enumerate(call_rows)}
    for row in rows:
        turn = turn_node(row.call_id, row.seq)
        reading = read_turn(row.text, region=region)
        row.tags = reading.tags  # kept with the row: recall reads them instead of the text
        row.terms = pack_terms(row.text)  # likewise its index terms
        refs = reading.references
        for ref in refs:
            node = f"ref:{ref.label}"
            out.edges.append(Edge(node, "mentioned_in", turn, row.call_id, row.seq, row.at))
            out.edges.append(Edge(f"call:{row.call_id}", "about", node, row.call_id, row.seq, row.at))
            if row.role == "user":
                out.edges.append(Edge("caller", "reported", node, row.call_id, row.seq, row.at))
        for found in facts.facts(
            row.text,
            row.role,
            row.at,
            plans=plans,
            region=region,
            identifiers=reading.identifiers if row.role == "user" else (),
        ):
            fact_id = fact_id_of(row, found.attribute, found.value)
            out.facts.append(
                Fact(fact_id, found.attribute, found.value, row.at, row.at, row.call_id, row.seq,
                     happens_at=found.happens_at, confidence=found.confidence)
            )  # fmt: skip
            out.edges.append(Edge(f"fact:{fact_id}", "mentioned_in", turn, row.call_id, row.seq, row.at))
            out.edges.append(Edge("caller", "reported", f"fact:{fact_id}", row.call_id, row.seq, row.at))
        if row.role == "assistant" and row.kind == "turn":
            promised = promises.commitments(row.text)
            if promised:
                labels = [r.label for r in refs] or _nearby_refs(call_rows, position.get((row.call_id, row.seq)))
                text = " ".join(promised)
                labels += [f"amount {a}" for a in facts.amounts(text)]
                out.matters.append(
                    Matter(f"{row.call_id}:{row.seq}", promises.clean(text), row.at, row.call_id, tuple(labels),
                           due_at=first_date(text, row.at))
                )  # fmt: skip
        if row.kind == "turn" and facts.resolves_something(row.text):
            out.resolutions.append((row, tuple(r.label for r in refs)))
    return out


def _nearby_refs(call_rows: Sequence[MemoryRow], index: int | None) -> list[str]:
    if index is None:
        return []
    for earlier in reversed(call_rows[max(0, index - 4) : index]):
        labels = [r.label for r in facts.references(earlier.text)]
        if labels:
            return labels
    return []


class CallerGraph:
    """One caller's graph in memory: which rows mention which entities, and how central each is."""

    def __init__(self) -> None:
        self._rows_of: dict[str, set[RowKey]] = defaultdict(set)
        self._entities_of: dict[RowKey, set[str]] = defaultdict(set)
        self._calls_of: dict[str, set[str]] = defaultdict(set)
        self._entities_of_call: dict[str, set[str]] = defaultdict(set)

    def add(self, edges: Sequence[Edge]) -> None:
        for edge in edges:
            if edge.rel == "mentioned_in":
                key = parse_turn_node(edge.dst)
                if key is not None and edge.src.startswith("ref:"):
                    self._rows_of[edge.src].add(key)
                    self._entities_of[key].add(edge.src)
                    self._calls_of[edge.src].add(key[0])
                    self._entities_of_call[key[0]].add(edge.src)

    def __len__(self) -> int:
        return len(self._rows_of)

    def centrality(self, entity: str) -> int:
        """In how many of the caller's calls the entity came up."""
        return len(self._calls_of.get(entity, ()))

    def entities_near(self, key: RowKey) -> set[str]:
        """Entities of a row and of the call it belongs to (one hop through the call)."""
        return self._entities_of.get(key, set()) | self._entities_of_call.get(key[0], set())

    def expansion(self, rows: Sequence[MemoryRow], query: str) -> Callable[[list[int]], dict[int, float]]:
        """The accurate preset's graph step over ``rows`` (a working set's rows), as a ranking hook:
        given the indices of the top hits, scores for rows related to them and to the query's entities."""
        entities = query_entities(query)

        def expand(top: list[int]) -> dict[int, float]:
            index = {(r.call_id, r.seq): i for i, r in enumerate(rows)}
            seeds = {(rows[i].call_id, rows[i].seq): 1.0 / (position + 1) for position, i in enumerate(top)}
            related = self.expand(seeds, entities)
            return {index[key]: score for key, score in related.items() if key in index}

        return expand

    def expand(self, seeds: dict[RowKey, float], query_entities: Sequence[str]) -> dict[RowKey, float]:
        """Scores for rows related to the seeds (1-2 hops), weighted by the seed's score and centrality."""
        scores: dict[RowKey, float] = defaultdict(float)
        touched: dict[str, float] = defaultdict(float)
        for entity in query_entities:
            if entity in self._rows_of:
                touched[entity] = max(touched[entity], max(seeds.values(), default=1.0) * 1.5)
        for key, weight in seeds.items():
            for entity in self.entities_near(key):
                touched[entity] = max(touched[entity], weight)
        for entity, weight in touched.items():
            boost = weight * (0.5 + 0.25 * min(self.centrality(entity), 4))
            for key in self._rows_of[entity]:
                if key not in seeds:
                    scores[key] = max(scores[key], boost)
        return dict(scores)


def query_entities(query: str) -> list[str]:
    """Entities named in a question ("what about ticket 8842?")."""
    return [f"ref:{r.label}" for r in facts.references(query)]

"""The caller graph: extraction into edges, facts and promises; expansion along references."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from memory.recall.graph import CallerGraph, extract_batch, query_entities
from memory.values import MemoryRow

T = datetime(2026, 2, 2, 9, tzinfo=UTC)


def row(call, seq, role, text, days=0):
    return MemoryRow("t", "c", call, seq, "turn", role, text, T + timedelta(days=days, seconds=seq), "c")


def test_extraction_links_references_to_turns_and_calls_and_records_promises():
    rows = [
        row("k1", 1, "user", "my modem serial is ZX-4410 and it keeps dropping"),
        row("k1", 2, "assistant", "I've opened ticket 8842, a technician will call you by Friday."),
    ]
    out = extract_batch(rows, rows, plans=(), region="US")
    rels = {(e.src, e.rel, e.dst) for e in out.edges}
    assert ("ref:serial ZX-4410", "mentioned_in", "turn:k1#1") in rels
    assert ("caller", "reported", "ref:serial ZX-4410") in rels
    assert ("call:k1", "about", "ref:ticket 8842") in rels
    [matter] = out.matters
    assert matter.references == ("ticket 8842",) and matter.due_at == datetime(2026, 2, 6, tzinfo=UTC)


def test_expansion_follows_a_chain_across_calls():
    rows = [
        row("k1", 1, "user", "my modem serial is ZX-4410, it broke", days=0),
        row("k2", 1, "user", "calling again about the modem", days=10),
        row("k2", 2, "assistant", "that's ticket 8842 for serial ZX-4410", days=10),
        row("k3", 1, "user", "unrelated question about roaming", days=20),
    ]
    graph = CallerGraph()
    graph.add(extract_batch(rows, rows, plans=(), region="US").edges)
    related = graph.expand({("k2", 1): 1.0}, [])
    assert ("k1", 1) in related  # k2 -> serial ZX-4410 -> the call where it broke
    assert ("k3", 1) not in related
    assert graph.centrality("ref:serial ZX-4410") == 2
    direct = graph.expand({}, query_entities("what happened with ticket eight eight four two?"))
    assert ("k2", 2) in direct

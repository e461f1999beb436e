"""Ranking behaviour of the working set (memory.retrieval), without a store."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from memory.recall.presets import ACCURATE, FAST, PRESETS, RecallPreset
from memory.recall.ranking import rank
from memory.recall.working_set import WorkingSet
from memory.text.terms import index_terms, stem, tokenize
from memory.values import MemoryRow

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=10)
DIM = 8


def row(text: str, *, call: str = "c1", seq: int = 1, at: datetime = T0, role: str = "user", vector=None) -> MemoryRow:
    return MemoryRow("t", "caller", call, seq, "turn", role, text, at, "caller", vector)  # type: ignore[arg-type]


def unit(*components: float) -> np.ndarray:
    v = np.zeros(DIM, np.float32)
    v[: len(components)] = components
    return v / np.linalg.norm(v)


def call_rows(call: str, texts: list[str], *, at: datetime = T0, vectors=None) -> list[MemoryRow]:
    vectors = vectors or [None] * len(texts)
    return [
        row(
            text,
            call=call,
            seq=i + 1,
            at=at + timedelta(seconds=30 * i),
            vector=vec,
            role="user" if i % 2 else "assistant",
        )
        for i, (text, vec) in enumerate(zip(texts, vectors, strict=True))
    ]


def texts(hits) -> list[str]:
    return [h.text for h in hits]


# -- the public surface -----------------------------------------------------------------------------------


def test_presets_are_frozen_and_named():
    assert set(PRESETS) == {"fast", "accurate"} and PRESETS["fast"] is FAST and PRESETS["accurate"] is ACCURATE
    with pytest.raises(dataclasses.FrozenInstanceError):
        FAST.lexical_weight = 2.0  # type: ignore[misc]
    variant = dataclasses.replace(ACCURATE, name="custom", call_weight=0.0)
    assert isinstance(variant, RecallPreset) and ACCURATE.call_weight > 0


def test_tokenize_joins_spoken_digits_and_keeps_words_unstemmed():
    assert tokenize("Ticket eight eight four two, please") == ["ticket", "8842", "please"]
    assert "painted" in tokenize("We painted the fence")


def test_stemming_matches_word_forms_but_leaves_numbers_and_codes():
    assert stem("paintings") == stem("painted") == stem("painting") == stem("paint")
    assert stem("hiking") == stem("hikes") == stem("hike")
    assert stem("agencies") == stem("agency")
    assert index_terms("ticket 8842 zx-4410") == ["ticket", "8842", "zx-4410"]
    assert stem("status") == "status" and stem("bus") == "bus"


def test_working_set_surface():
    ws = WorkingSet([row("first")])
    assert len(ws) == 1 and ws.rows[0].text == "first"
    ws.extend([row("second", seq=2)])
    assert len(ws) == 2 and len(ws.missing_vectors()) == 2
    ws.prepare()
    ws.replace([row("only", vector=unit(1))])
    assert len(ws) == 1 and ws.missing_vectors() == []
    ws.mark_vectors_changed()
    assert texts(rank(ws, "only", unit(1), preset=FAST, limit=5, now=NOW)) == ["only"]


# -- empty inputs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", [FAST, ACCURATE])
def test_empty_inputs_give_nothing(preset):
    assert rank(WorkingSet(), "refund", unit(1), preset=preset, limit=5, now=NOW) == []
    ws = WorkingSet([row("my refund for ticket 8842")])
    assert rank(ws, "refund", None, preset=preset, limit=0, now=NOW) == []
    assert rank(ws, "", None, preset=preset, limit=5, now=NOW) == []
    assert rank(ws, "the and of", None, preset=preset, limit=5, now=NOW) == []  # only stop words, no vector
    assert rank(ws, "router", None, preset=preset, limit=5, now=NOW) == []  # no shared word, no vector


# -- lexical ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", [FAST, ACCURATE])
def test_spoken_ticket_number_finds_the_written_one(preset):
    rows = call_rows(
        "c1",
        [
            "Hi, I was charged twice on my November bill.",
            "My account number is eight eight one two three.",
            "I've submitted a refund of $42.10 under ticket 8842.",
            "Thanks, bye.",
        ],
    )
    rows += call_rows(
        "c2", ["The router shows a red light.", "Ticket 7710 is for the router."], at=T0 + timedelta(days=2)
    )
    ws = WorkingSet(rows)
    hits = rank(ws, "ticket eight eight four two", None, preset=preset, limit=3, now=NOW)
    assert "8842" in hits[0].text
    assert hits[0].seq == 3 and hits[0].call_id == "c1" and hits[0].at == T0 + timedelta(seconds=60)


def test_word_forms_match_through_stemming():
    ws = WorkingSet([row("We went hiking near the lake", seq=1), row("The invoice was paid", seq=2, call="c2")])
    assert texts(rank(ws, "where did they hike?", None, preset=FAST, limit=1, now=NOW)) == [
        "We went hiking near the lake"
    ]


# -- dense ------------------------------------------------------------------------------------------------


def test_dense_vectors_rank_without_shared_words():
    ws = WorkingSet(
        [
            row("alpha", seq=1, vector=unit(1, 0.1)),
            row("beta", seq=2, call="c2", vector=unit(0, 1)),
            row("gamma", seq=3, call="c3", vector=unit(0.2, 0, 1)),
        ]
    )
    hits = rank(ws, "nothing in common", unit(1, 0), preset=FAST, limit=3, now=NOW)
    assert texts(hits)[0] == "alpha"
    assert texts(hits)[-1] != "alpha"


def test_dense_paraphrase_with_the_real_embedder(embedder):
    sentences = [
        "I was charged twice on my November bill, forty two dollars.",
        "The router in the garage shows a blinking red light.",
        "Please send the replacement modem to my new address.",
    ]
    vectors = embedder.embed(sentences)
    ws = WorkingSet([row(s, call=f"c{i}", vector=v) for i, (s, v) in enumerate(zip(sentences, vectors, strict=True))])
    query = "duplicate payment on my statement"
    assert not set(index_terms(query)) & {t for s in sentences for t in index_terms(s)}
    [hit] = rank(ws, query, embedder.embed([query])[0], preset=FAST, limit=1, now=NOW)
    assert "charged twice" in hit.text


# -- recency ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", [FAST, ACCURATE])
def test_equal_matches_prefer_the_newer_row(preset):
    old = row("my modem is broken", call="old", at=T0)
    new = row("my modem is broken", call="new", at=T0 + timedelta(days=5))
    for order in ([old, new], [new, old]):  # the same words said twice are one hit: the newer
        hits = rank(WorkingSet(order), "modem broken", None, preset=preset, limit=2, now=NOW)
        assert [h.call_id for h in hits] == ["new"]
    no_recency = dataclasses.replace(preset, recency_weight=0.0)
    hits = rank(WorkingSet([old, new]), "modem broken", None, preset=no_recency, limit=2, now=NOW)
    assert [h.call_id for h in hits] == ["new"]  # a tie, broken by time
    older = row("my modem is broken and the light blinks red", call="old", at=T0)
    hits = rank(WorkingSet([older, new]), "modem broken", None, preset=preset, limit=2, now=NOW)
    assert [h.call_id for h in hits] == ["new", "old"]  # different enough: both


# -- context: neighbouring turns, question -> answer ------------------------------------------------------------


def test_an_answer_is_found_through_the_question_before_it():
    rows = call_rows(
        "c1",
        [
            "What is the serial number on the back of the modem?",
            "It's ZX-4410.",
            "Great, thanks. Anything else today?",
            "No, that's all.",
        ],
    )
    rows += call_rows("c2", ["I'd like to change my plan.", "Sure, which plan?"], at=T0 + timedelta(days=1))
    ws = WorkingSet(rows)
    hits = rank(ws, "modem serial number", None, preset=FAST, limit=3, now=NOW)
    assert "It's ZX-4410." in texts(hits)[:2]
    assert all(h.call_id == "c1" for h in hits[:2])
    alone = dataclasses.replace(FAST, context_lexical_weight=0.0, answer_weight=0.0, call_weight=0.0)
    assert "It's ZX-4410." not in texts(rank(ws, "modem serial number", None, preset=alone, limit=3, now=NOW))


def test_context_stays_within_one_call():
    # index-adjacent rows of another call never share context
    a = call_rows("a", ["The technician replaced the fiber box.", "It works since then."])
    b = call_rows("b", ["Please close the ticket."], at=T0 + timedelta(days=1))
    ws = WorkingSet([a[0], b[0], a[1]])
    hits = rank(ws, "fiber box technician", None, preset=ACCURATE, limit=3, now=NOW)
    assert texts(hits)[:2] == ["The technician replaced the fiber box.", "It works since then."]
    assert "Please close the ticket." not in texts(hits)


def test_context_reaches_two_turns_each_side():
    rows = call_rows("c1", ["My dishwasher leaks.", "I see.", "It started last week.", "OK.", "Thanks, bye."])
    narrow = dataclasses.replace(FAST, neighbour_turns=1)
    for preset in (FAST, ACCURATE):
        hits = rank(WorkingSet(rows), "dishwasher leak", None, preset=preset, limit=5, now=NOW)
        assert texts(hits)[0] == "My dishwasher leaks."
        assert "It started last week." in texts(hits)  # two turns away: inside the window
        assert "Thanks, bye." not in texts(hits)  # four turns away: outside
    near = rank(WorkingSet(rows), "dishwasher leak", None, preset=narrow, limit=5, now=NOW)
    assert "It started last week." not in texts(near)


# -- dates ------------------------------------------------------------------------------------------------


def test_a_named_date_prefers_rows_said_then():
    rows = [
        row("We talked about the router", call="march", at=datetime(2026, 3, 3, 10, tzinfo=UTC)),
        row("We talked about the router", call="may", at=datetime(2026, 5, 20, 10, tzinfo=UTC)),
    ]
    for query in ("what about the router on March 3, 2026?", "the router, 3 March 2026", "router 2026-03-03"):
        hits = rank(WorkingSet(rows), query, None, preset=FAST, limit=2, now=NOW + timedelta(days=90))
        assert hits[0].call_id == "march", query
    hits = rank(WorkingSet(rows), "router in May 2026", None, preset=FAST, limit=2, now=NOW + timedelta(days=90))
    assert hits[0].call_id == "may"


def test_yesterday_is_relative_to_now():
    rows = [
        row("the outage", call="yesterday", at=NOW - timedelta(days=1)),
        row("the outage in the north of town", call="earlier", at=NOW - timedelta(days=40)),
    ]
    no_recency = dataclasses.replace(FAST, recency_weight=0.0)
    hits = rank(WorkingSet(rows[::-1]), "the outage yesterday", None, preset=no_recency, limit=2, now=NOW)
    assert hits[0].call_id == "yesterday" and hits[0].score > hits[1].score


def test_when_questions_prefer_rows_that_mention_a_time():
    rows = [
        row("The technician will replace the cable", call="a"),
        row("The technician came last Tuesday to replace the cable", call="b"),
    ]
    no_recency = dataclasses.replace(FAST, recency_weight=0.0)
    ws = WorkingSet(rows)
    assert (
        rank(ws, "when did the technician replace the cable?", None, preset=no_recency, limit=1, now=NOW)[0].call_id
        == "b"
    )
    assert (
        rank(ws, "did the technician replace the cable?", None, preset=no_recency, limit=1, now=NOW)[0].call_id == "a"
    )


# -- the expand hook ------------------------------------------------------------------------------------------


def expand_rows() -> list[MemoryRow]:
    return [
        *call_rows("c1", ["My refund under ticket 8842 never arrived.", "I'll escalate it."]),
        *call_rows("c2", ["How's the weather?", "Sunny."], at=T0 + timedelta(days=1)),
        *call_rows("c3", ["The finance team approved the payment.", "Good."], at=T0 + timedelta(days=2)),
    ]


def test_expand_adds_related_rows_in_accurate_mode():
    ws = WorkingSet(expand_rows())
    related = 4  # "The finance team approved the payment." shares no word with the query
    seen: list[list[int]] = []

    def expand(top: list[int]) -> dict[int, float]:
        seen.append(top)
        return {related: 1.0} if 0 in top else {}

    plain = rank(ws, "refund ticket 8842", None, preset=ACCURATE, limit=5, now=NOW)
    assert ws.rows[related].text not in texts(plain)
    hits = rank(ws, "refund ticket 8842", None, preset=ACCURATE, limit=5, now=NOW, expand=expand)
    assert ws.rows[related].text in texts(hits)
    assert hits[0].text == "My refund under ticket 8842 never arrived."
    [top] = seen
    assert top[0] == 0 and len(top) <= ACCURATE.expand_candidates and all(type(i) is int for i in top)


def test_expand_is_not_called_in_fast_mode_and_a_failing_hook_is_ignored():
    ws = WorkingSet(expand_rows())
    calls = []
    rank(ws, "refund ticket 8842", None, preset=FAST, limit=5, now=NOW, expand=lambda top: calls.append(top) or {})
    assert calls == []

    def broken(top: list[int]) -> dict[int, float]:
        raise RuntimeError("graph unavailable")

    hits = rank(ws, "refund ticket 8842", None, preset=ACCURATE, limit=5, now=NOW, expand=broken)
    assert hits and "8842" in hits[0].text
    odd = rank(ws, "refund ticket 8842", None, preset=ACCURATE, limit=5, now=NOW, expand=lambda top: {99: 1.0, -1: 1.0})
    assert texts(odd) == texts(rank(ws, "refund ticket 8842", None, preset=ACCURATE, limit=5, now=NOW))


# -- rows without vectors, rows added later ---------------------------------------------------------------------


@pytest.mark.parametrize("preset", [FAST, ACCURATE])
def test_rows_without_vectors_are_still_ranked(preset):
    rows = [
        row("router red light", seq=1, vector=unit(1)),
        row("ticket 8842 refund", seq=2, vector=None),
        row("new address on file", seq=3, vector=unit(0, 1)),
    ]
    ws = WorkingSet(rows)
    hits = rank(ws, "refund for ticket 8842", unit(0, 0, 1), preset=preset, limit=3, now=NOW)
    assert hits[0].text == "ticket 8842 refund"
    hits = rank(ws, "router light", unit(1), preset=preset, limit=1, now=NOW)
    assert hits[0].text == "router red light"
    none = WorkingSet([row("ticket 8842 refund", vector=None)])
    assert texts(rank(none, "ticket 8842", unit(1), preset=preset, limit=3, now=NOW)) == ["ticket 8842 refund"]


def test_rows_added_after_ranking_are_found_and_vectors_filled_later_count():
    ws = WorkingSet(call_rows("c1", ["hello", "how can I help?"], vectors=[unit(1), unit(0, 1)]))
    ws.prepare()
    assert texts(rank(ws, "greeting", unit(1, 0.2), preset=FAST, limit=1, now=NOW)) == ["hello"]
    late = row("the blinking light is back", call="c2", seq=1)
    ws.extend([late])
    assert rank(ws, "blinking light", None, preset=FAST, limit=1, now=NOW)[0].text == late.text
    assert ws.missing_vectors() == [late]
    late.embedding = unit(0.2, 0.2, 1)
    ws.mark_vectors_changed()
    hits = rank(ws, "nothing shared", unit(0, 0, 1), preset=FAST, limit=1, now=NOW)
    assert hits[0].text == late.text


def test_a_growing_set_ranks_like_a_fresh_one():
    rng = np.random.default_rng(7)
    words = ["router", "refund", "ticket", "modem", "plan", "address", "bill", "light", "cable", "visit"]

    def make(call: str, seq: int) -> MemoryRow:
        text = " ".join(rng.choice(words, size=4)) + ("?" if seq % 3 == 0 else ".")
        return row(text, call=call, seq=seq, at=T0 + timedelta(minutes=seq), vector=None)

    growing = WorkingSet([make(f"old{c}", s) for c in range(3) for s in range(1, 8)])
    for r in growing.rows:
        r.embedding = rng.normal(size=DIM).astype(np.float32)
    growing.prepare()
    query_vector = rng.normal(size=DIM).astype(np.float32)
    for step in range(1, 13):
        growing.extend([make("live", step)])
        if step % 2 == 0:  # vectors arrive later, as the writer embeds a batch
            for r in growing.missing_vectors():
                r.embedding = rng.normal(size=DIM).astype(np.float32)
            growing.mark_vectors_changed()
        for preset in (FAST, ACCURATE):
            got = rank(growing, "router refund light", query_vector, preset=preset, limit=10, now=NOW)
            want = rank(
                WorkingSet(list(growing.rows)), "router refund light", query_vector, preset=preset, limit=10, now=NOW
            )
            assert [(h.call_id, h.seq) for h in got] == [(h.call_id, h.seq) for h in want]
            assert np.allclose([h.score for h in got], [h.score for h in want])


def test_last_month_names_a_stretch_of_time_not_one_day():
    from memory.text.dates import query_date_spans

    now = datetime(2026, 3, 31, 12, tzinfo=UTC)
    [(first, last)] = query_date_spans("that issue with my modem last month", now)
    assert (now.date() - first).days == 50 and (now.date() - last).days == 10
    [(day, same)] = query_date_spans("what did I say yesterday", now)
    assert day == same and (now.date() - day).days == 1

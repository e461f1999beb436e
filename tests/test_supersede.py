"""Later statements of a slot rank above earlier ones (memory.recall.supersede), without a store.

General English update wordings, not the evaluation's: "actually make that 7pm", "change it to four
people", "can we move it to Friday instead".
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from memory.recall import supersede as supersede_module
from memory.recall.episodes import value_key
from memory.recall.presets import ACCURATE, FAST
from memory.recall.ranking import prepare, rank
from memory.recall.supersede import ONE_PER_BOOKING, supersede
from memory.recall.working_set import WorkingSet
from memory.text.values import values_in
from memory.values import MemoryRow

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=10)


def turns(call: str, said: list[tuple[str, str]], *, at: datetime = T0) -> list[MemoryRow]:
    return [
        MemoryRow("t", "caller", call, i + 1, "turn", role, text, at + timedelta(seconds=20 * i), "caller")  # type: ignore[arg-type]
        for i, (role, text) in enumerate(said)
    ]


def synced(rows: list[MemoryRow]) -> WorkingSet:
    """A working set of ``rows``, read as ranking reads them (what ``supersede`` is given)."""
    ws = WorkingSet(rows)
    ws.sync()
    return ws


def ranked(rows: list[MemoryRow], question: str, *, preset=FAST, limit: int = 5) -> list:
    """The hits of one recall of ``question`` over ``rows``, as a call ranks them ``NOW``."""
    return rank(WorkingSet(rows), question, None, preset=preset, limit=limit, now=NOW)


def superseded(rows: list[MemoryRow], scores, **kwargs):
    """``supersede`` over every row of ``rows`` scored ``scores``: (the scores after, which rows are former)."""
    return supersede(synced(rows), np.asarray(scores, dtype=float), np.arange(len(rows)), **kwargs)


def position(hits, words: str) -> int:
    return next(i for i, h in enumerate(hits) if words in h.text)


def above(hits, current: str, earlier: str) -> bool:
    """The hit saying ``current`` is returned, and the one saying ``earlier`` is below it or left out
    (a read-back restated with one word changed is a near-duplicate: only the best of the two is returned)."""
    found = [i for i, h in enumerate(hits) if earlier in h.text]
    return not found or position(hits, current) < found[0]


def current_above_former(hits, current: str, former: str) -> None:
    """The hit saying ``current`` ranks above the one saying ``former``, which alone is marked former."""
    assert position(hits, current) < position(hits, former)
    assert hits[position(hits, former)].former
    assert not hits[position(hits, current)].former


# A value the caller changes: (what was said, the question, the current value's words, the former's, presets)
CHANGES = {
    "a-later-time": (
        [
            ("user", "Could I book a table for dinner on Friday?"),
            ("assistant", "Sure. I have a table for 2 at Luigi's at 6 pm on Friday. Shall I book it?"),
            ("user", "Actually make that 7pm."),
            ("assistant", "Done."),
        ],
        "what time was my table at Luigi's?",
        "7pm",
        "6 pm",
        (FAST, ACCURATE),
    ),
    "a-changed-party-size": (
        [
            ("user", "I need a table for two people tonight at 8 pm."),
            ("assistant", "Okay, which restaurant?"),
            ("user", "Somewhere near the station. Oh, and change it to four people."),
            ("assistant", "Got it."),
        ],
        "how many people was the table for?",
        "four people",
        "two people",
        (FAST,),
    ),
    "a-device-changed-after-the-read-back": (
        [
            ("user", "Could you put on some jazz? Take Five, maybe."),
            ("assistant", "Sure, I'll play Take Five on the living room TV. Okay?"),
            ("user", "Hmm, no, send it to my headphones instead."),
            ("assistant", "Done, Take Five is playing."),
        ],
        "what did you play Take Five on?",
        "headphones",
        "living room TV",
        (FAST, ACCURATE),
    ),
    # "next thursday" (which may be the 9th) is not a change: the 9th is not former
    "a-later-day-of-the-month": (
        [
            ("user", "i need a room at the harbour hotel for a stay starting on the 3rd"),
            ("assistant", "which city is the harbour hotel in"),
            ("user", "portsmouth, and i will arrive around noon"),
            ("assistant", "let me check, a room at the harbour hotel in portsmouth from tomorrow for 1 guest"),
            ("user", "sorry, change that to the 9th of april"),
            ("assistant", "so it's next thursday for one guest, anything else I can do for you today?"),
        ],
        "what date was my stay at the harbour hotel",
        "the 9th of april",
        "starting on the 3rd",
        (FAST,),
    ),
}


@pytest.mark.parametrize(
    ("said", "question", "current", "former", "preset"),
    [
        pytest.param(said, question, current, former, preset, id=f"{name}-{preset.name}")
        for name, (said, question, current, former, presets) in CHANGES.items()
        for preset in presets
    ],
)
def test_a_changed_value_ranks_above_the_earlier_one_and_the_earlier_is_former(said, question, current, former, preset):
    current_above_former(ranked(turns("c1", said), question, preset=preset), current, former)


def test_the_agent_reading_back_the_booking_again_replaces_its_first_read_back():
    rows = turns(
        "c1",
        [
            ("assistant", "Please confirm: a table for 2 at the harbour grill on Thursday at 7 pm."),
            ("user", "Hmm, can we move it to Friday instead?"),
            ("assistant", "Please confirm: a table for 2 at the harbour grill on Friday at 7 pm."),
            ("user", "Yes."),
        ],
    )
    hits = ranked(rows, "which day was the harbour grill table?")
    assert hits[0].text.endswith("on Friday at 7 pm.")
    assert above(hits, "on Friday at 7 pm", "on Thursday")
    assert all(h.former for h in hits if "Thursday" in h.text)


def test_a_read_back_that_keeps_the_value_asked_for_does_not_make_it_former():
    rows = turns(
        "c1",
        [
            ("assistant", "Please confirm: a table for 4 at the corner bistro in Oakland at 6:30 pm."),
            ("user", "Sorry, I meant the one in Berkeley."),
            ("assistant", "Please confirm: a table for 4 at the corner bistro in Berkeley at 6:30 pm."),
        ],
    )
    hits = ranked(rows, "what time was the corner bistro table?")
    scores = np.ones(len(rows))
    _, former = superseded(rows, scores, asked=frozenset({"time"}))
    assert not former.any()  # 6:30 pm in both: the time did not change
    _, former = superseded(rows, scores, asked=frozenset())
    assert former.tolist() == [True, False, False]  # the read-back changed something
    assert above(hits, "Berkeley at 6:30", "Oakland")


@pytest.mark.parametrize(
    ("said", "scores", "asked"),
    [
        pytest.param(
            turns(
                "c1",
                [
                    ("assistant", "Please confirm the booking: the harbour grill at 7 pm for 2 people."),
                    ("user", "Wait, the one downtown."),
                    ("assistant", "Please confirm the booking: the downtown harbour grill."),
                ],
            ),
            [1.0, 0.2, 0.5],
            frozenset({"time"}),
            id="a-read-back-that-leaves-out-the-value-asked-for-leaves-the-earlier-one-alone",
        ),
        pytest.param(
            turns(
                "c1",
                [
                    ("assistant", "Your table at Luigi's is booked for 6 pm."),
                    ("user", "Great. And the concert tickets?"),
                    ("assistant", "The concert tickets are booked too; the show starts at 8 pm."),
                ],
            ),
            [1.0, 0.1, 0.5],
            frozenset(),
            id="times-of-different-things-in-one-call-do-not-replace-each-other",
        ),
        pytest.param(
            [
                *turns("c1", [("user", "A table for 2 at 6 pm, please.")]),
                *turns("c2", [("user", "A table for 2 at 9 pm, please.")], at=T0 + timedelta(days=3)),
            ],
            [1.0, 0.5],
            frozenset(),
            id="statements-of-other-calls-are-not-replaced",
        ),
        pytest.param(
            turns(
                "c1",
                [
                    ("assistant", "please confirm two seats for the jazz night at the blue room this saturday"),
                    ("user", "yes please"),
                    ("assistant", "done, enjoy the show"),
                ],
            ),
            [1.0, 0.3, 0.6],
            frozenset({"name"}),
            id="a-read-back-the-caller-accepted-is-not-replaced-by-a-reply-in-other-words",
        ),
    ],
)
def test_statements_that_replace_nothing_leave_every_score_alone(said, scores, asked):
    out, former = superseded(said, scores, asked=asked)
    assert out.tolist() == scores and not former.any()


def test_one_per_booking_kinds():
    assert {"time", "count", "address", "amount", "duration", "device", "date"} == ONE_PER_BOOKING


def test_the_agents_reply_ranks_at_least_as_high_as_the_callers_question():
    rows = turns(
        "c1",
        [
            ("user", "What's the tracking number for the replacement router?"),
            ("assistant", "It's 1Z 999 AA1 0123 4567."),
            ("user", "Thanks."),
        ],
    )
    hits = ranked(rows, "tracking number for the replacement router", limit=3)
    assert position(hits, "1Z 999") <= position(hits, "tracking number")


@pytest.mark.parametrize(
    ("said", "key"),
    [
        ("march 8th", "8"),
        ("the 8th", "8"),
        ("the eighth of march", "8"),
        ("the twenty-first", "21"),
        ("2026-03-08", "8"),
        ("next friday", "next friday"),
    ],
)
def test_a_date_is_keyed_by_its_day_of_the_month(said, key):
    assert value_key("date", said) == key


@pytest.mark.parametrize(
    ("said", "device"),
    [
        ("Put it on the living room TV, please.", "living room tv"),
        ("can you play it through my bluetooth speaker", "speaker"),
        ("Use the speaker in the kitchen.", "kitchen speaker"),
        ("no play it in the bedroom instead", "bedroom"),
        ("Send it to the Patio Speaker.", "patio speaker"),
        ("I'll listen on my headphones.", "headphones"),
        ("the garage one is fine", "garage speaker"),
    ],
)
def test_where_something_plays_is_read_as_a_device(said, device):
    assert [v.normalised for v in values_in(said) if v.kind == "device"] == [device]


@pytest.mark.parametrize(
    "said", ["I was in the kitchen when the pipe burst.", "The speaker at the conference was great.", "Room for 2."]
)
def test_a_room_or_a_speaker_that_plays_nothing_is_no_device(said):
    assert not [v for v in values_in(said) if v.kind == "device"]


@pytest.mark.parametrize(
    ("said", "key"),
    [("kitchen speaker", "kitchen"), ("kitchen", "kitchen"), ("living room tv", "living room"), ("tv", "tv")],
)
def test_a_device_is_keyed_by_its_room(said, key):
    assert value_key("device", said) == key


def test_a_read_back_the_caller_turned_down_is_replaced_by_the_next_one_in_other_words():
    rows = turns(
        "c1",
        [
            ("assistant", "please confirm two seats for the jazz night at the blue room this saturday"),
            ("user", "that's not right, i wanted the comedy show"),
            ("assistant", "okay so you'd like the laugh factory revue then"),
            ("user", "yes"),
        ],
    )
    out, former = superseded(rows, [1.0, 0.3, 0.6, 0.1], asked=frozenset({"name"}))
    assert out[2] > out[0]  # the read-back after "that's not right" ranks first
    assert former.tolist() == [True, False, False, False]
    hits = ranked(rows, "which show did i get seats for")
    assert above(hits, "laugh factory", "jazz night")


def test_a_name_read_back_again_as_a_name_that_cannot_be_read_is_replaced():
    rows = turns(
        "c1",
        [
            ("assistant", "please confirm a table for four at olive garden in san jose at seven pm"),
            ("user", "hmm let's go somewhere else"),
            ("assistant", "sorry that one is full"),
            ("assistant", "please confirm a table for four at luigi's for seven pm today in san jose"),
        ],
    )
    out, former = superseded(rows, [1.0, 0.2, 0.3, 0.7], asked=frozenset({"name"}))
    assert out[3] > out[0] and former.tolist() == [True, False, False, False]


def test_an_agents_question_is_not_a_statement_a_read_back_replaces():
    rows = turns(
        "c1",
        [
            ("assistant", "is there a particular restaurant you would like to book a table at"),
            ("user", "the green door please"),
            ("assistant", "you would like to book a table at the green door for 2 is that right"),
        ],
    )
    _, former = superseded(rows, [1.0, 0.5, 0.8])
    assert not former.any()


def test_a_turned_down_offer_is_replaced_by_the_agents_reply_not_by_every_later_read_back():
    rows = turns(
        "c1",
        [
            ("assistant", "i found one song for you, cold water by the lakes, shall i play it"),
            ("user", "no, something by the night owls instead"),
            ("assistant", "how about moon river by the night owls"),
            ("user", "yes play that"),
            ("assistant", "do you want it on the tv"),
            ("user", "no, on the kitchen speaker"),
            ("assistant", "playing moon river on the kitchen speaker"),
        ],
    )
    out, former = superseded(rows, [1.0, 0.1, 0.5, 0.1, 0.3, 0.1, 0.4], asked=frozenset({"name"}))
    assert out[2] >= 1.0 > out[0] and former[0]  # the reply to "no, ..." takes the offer's place
    assert out[4] < out[2] and out[6] < out[2]  # the device read-backs replace the offer of no song


@pytest.mark.parametrize(
    ("said", "count"),
    [
        ("please confirm, number of guests four at the lakeside inn", "4"),
        ("Number of seats: 2.", "2"),
        ("the number of people is three", "3"),
        ("how many passengers, 5?", "5"),
    ],
)
def test_a_count_said_after_what_is_counted(said, count):
    assert [(v.kind, v.normalised) for v in values_in(said) if v.kind == "count"] == [("count", count)]


def test_a_count_read_back_after_what_is_counted_replaces_the_first_one():
    rows = turns(
        "c1",
        [
            ("user", "can i get two seats for the jazz night at the riverside hall"),
            ("assistant", "confirm its the jazz night next saturday at the riverside hall in leeds and 2 seats"),
            ("user", "make them five"),
            ("assistant", "confirm number of seats five in leeds"),
            ("user", "yes"),
        ],
    )
    hits = ranked(rows, "how many seats did i get for the jazz night")
    assert position(hits, "seats five") < position(hits, "and 2 seats")
    assert hits[position(hits, "and 2 seats")].former


def test_rows_read_when_the_history_loads_rank_the_same_and_are_not_read_again(monkeypatch):
    """``ranking.prepare`` reads every row and call once (as a caller's history loads): the recalls after
    it rank exactly as they would unprepared, and read no turn's words again."""
    said = [
        ("user", "Could I book a table for dinner on Friday?"),
        ("assistant", "Sure. I have a table for 2 at Luigi's at 6 pm on Friday. Shall I book it?"),
        ("user", "No, actually make that 7pm, and for four people."),
        ("assistant", "Done: a table for 4 at Luigi's at 7 pm on Friday."),
        ("user", "Mm-hmm."),
    ]
    rows = [*turns("c1", said), *turns("c2", said, at=T0 + timedelta(days=3))]
    questions = ["what time was my table at Luigi's?", "how many people was the table for?", "Luigi's"]
    unprepared = [ranked(rows, q) for q in questions]
    ws = WorkingSet(rows)
    prepare(ws)
    readings = ws.per_row("supersede")
    assert len(readings) == len(rows) and all(r is not None for r in readings)

    def read_again(text: str, **_: object) -> None:
        raise AssertionError(f"read again during a recall: {text!r}")

    monkeypatch.setattr(supersede_module, "read_turn", read_again)
    assert [rank(ws, q, None, preset=FAST, limit=5, now=NOW) for q in questions] == unprepared
    assert ws.per_row("supersede") == readings  # the same readings, kept

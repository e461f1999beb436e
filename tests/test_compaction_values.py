"""A booking's values line: names read in lower case reach the notes even when no turn of their booking got a
durable line, and a line cut to a bare count gives way to its booking's values line when that says more."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from memory.compaction import CompactionPolicy
from memory.compaction.compactor import Compactor, Turn, _named_spans, _shows_more

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

SONG = [
    ("user", "i want to listen to some music"),
    ("assistant", "i'd be happy to what would you like to hear"),
    ("user", "i'd like to hear shiroyama"),
    ("assistant", "you'd like to play shiroyama on tv is this correct"),
    ("user", "yes can you tell me what genre that song is considered"),
    ("assistant", "it's a metal song your selection has begun"),
    ("user", "can you tell me who sings it and what album it is from"),
    ("assistant", "it is by sabaton and it is off their album the last stand"),
]
CAB = [
    ("user", "thank you, now i need a cab to 1200 grant avenue for two people"),
    ("assistant", "Booking a shared ride for 2 to 1200 grant avenue, it costs $12.40"),
    ("user", "great thanks"),
    ("assistant", "The cab is on its way and will arrive in 7 minutes"),
]
CHATTER = [
    ("user", "how is the weather over there today, is it nice and sunny where you are"),
    ("assistant", "It is lovely here, thank you for asking, a bit of wind in the afternoon though."),
]


def fed(pairs: list[tuple[str, str]], budget: int) -> Compactor:
    compactor = Compactor(CompactionPolicy(token_budget=budget))
    for n, (role, text) in enumerate(pairs):
        compactor.add(Turn(f"t{n:04d}", role, text, T0 + timedelta(seconds=6 * n)))
        compactor.warm()
    return compactor


def test_the_album_after_their_album_is_read_not_the_word_their() -> None:
    names = [span for _, span in _named_spans("it is by sabaton and it is off their album the last stand", [])]
    assert "sabaton" in names and "the last stand" in names
    assert "their" not in names


def test_names_of_a_booking_with_no_durable_line_get_a_values_line_once_the_next_booking_starts() -> None:
    compactor = fed([*SONG, *CAB, *CHATTER * 12], budget=500)
    assert compactor.boundary > len(SONG) + len(CAB)  # the song and the cab are condensed
    song_lines = [line for line in compactor._lines if line.key and line.index < len(SONG)]
    assert len(song_lines) == 1
    line = song_lines[0]
    assert line.full.split(" ", 2)[2].startswith("values: ")
    said = {span for _, span in line.spans}
    assert {"shiroyama", "metal", "sabaton", "the last stand"} <= said
    assert "their" not in said
    assert line.index == 3  # dated by the turn that named the first of them ("you'd like to play shiroyama on tv")
    assert "sabaton" in compactor.plan().notes


def test_names_said_before_a_durable_line_of_their_booking_join_it_and_make_no_line_of_their_own() -> None:
    pairs = [*SONG[:6], ("assistant", "Playing it on the tv now, it is 4 minutes 12 seconds long"), *CAB]
    compactor = fed([*pairs, *CHATTER * 12], budget=500)
    song_lines = [line for line in compactor._lines if line.key and line.index < 7]
    assert not any(line.full.split(" ", 2)[2].startswith("values: ") for line in song_lines)
    assert any("metal" in {span for _, span in line.spans} for line in song_lines)


def test_a_values_line_shows_more_when_a_lent_name_is_missing_from_the_lines_as_shown() -> None:
    kinded = (("name", "bad reputation"), ("name", "shawn mendes"), ("count", "10"))
    assert _shows_more(kinded, ["- 06:15 agent: [10]"])
    assert not _shows_more(kinded, ['- 06:15 agent: "bad reputation by Shawn Mendes"', "- 06:20 agent: [10]"])
    # a count, a time, an amount missing is no reason to grow: only the names lent in lower case are
    assert not _shows_more((("count", "for four"), ("time", "six pm")), ["- 05:05 caller: [16]"])


def test_the_agents_answer_to_which_genre_joins_the_songs_values_line() -> None:
    song = [
        ("user", "i want to listen to some music"),
        ("assistant", "how about maths tough by srinisha from the album amma kanakku"),
        ("user", "which genre is it"),
        ("assistant", "its south asia"),
        ("user", "play it on the tv please"),
        ("assistant", "you'd like to play maths tough on the tv is this correct"),
    ]
    compactor = fed([*song, *CAB, *CHATTER * 12], budget=500)
    assert compactor.boundary > len(song)
    said = {span for line in compactor._lines if line.index < len(song) for _, span in line.spans}
    assert "south asia" in said

"""How a long call's talk is read where it turns: closings and reports said in more words, a stall said in passing
inside a request, and a caller naming another kind of thing once the one under way was done."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from memory.compaction import Turn, classify
from memory.compaction.compactor import _CLOSING, _DONE, _FAREWELL, _REPORTED
from tests.compaction_talk import fed_past_boundary

T0 = datetime(2026, 3, 1, 18, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "said",
    ["can i assist with something else",
     "do you need help with something else", "thanks for helping", "thank you so much for assisting me",
     "have a nice afternoon", "have a good morning"],
)  # fmt: skip
def test_closings_in_more_words(said: str) -> None:
    assert _CLOSING.search(said)


@pytest.mark.parametrize("said", ["i need something else", "can you help me with something else first"])
def test_a_caller_asking_for_something_else_takes_no_leave(said: str) -> None:
    assert not _CLOSING.search(said)


def test_a_good_afternoon_said_last_is_a_farewell() -> None:
    assert _FAREWELL.search("okay the table is yours have a nice afternoon")


@pytest.mark.parametrize(
    "report", ["done enjoy yourself", "the cab is on its way", "your ride is now on the way", "the song starts playing"]
)
def test_reports_in_more_words(report: str) -> None:
    assert _REPORTED.search(report) or _DONE.search(report)


@pytest.mark.parametrize("said", ["i'm done with the search", "the cab is waiting on the way out", "enjoy your day"])
def test_what_is_no_report(said: str) -> None:
    assert not _REPORTED.search(said) and not _DONE.search(said)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("hang on can you find me a different restaurant that serves thai food", "content"),
        ("Hold on, let me think for a second.", "meta"),
        ("hang on my dog is barking one second", "meta"),
        ("One moment please, it's a bit slow today.", "meta"),
    ],
)
def test_a_stall_said_in_passing_inside_a_request_keeps_the_request(text: str, kind: str) -> None:
    assert classify(Turn("x", "user", text, T0)).kind == kind


def test_a_caller_naming_another_kind_of_thing_once_the_song_plays_starts_another_booking() -> None:
    """Once the song was reported playing, "i'm thinking concert in santa rosa" names a kind new to it (no request
    said: "thanks, what is there to do around town" came first): the event is a booking of its own, and the song
    stays the caller's first."""
    compactor = fed_past_boundary(
        [
            ("user", "any good tunes out there"),
            ("assistant", "there's calm me down by meghan trainor from the album thank you"),
            ("user", "yeah toss it on"),
            ("assistant", "calm me down on the tv"),
            ("user", "yes you got it"),
            ("assistant", "playing enjoy yourself"),
            ("user", "thanks what is there to do uh around town"),
            ("assistant", "which town are you thinking"),
            ("user", "i'm thinking concert in santa rosa"),
            ("assistant", "i see the huichica music festival at the sandman hotel on march 14th at eight pm"),
            ("user", "no thanks i'm good"),
            ("assistant", "see you later"),
        ]
    )
    assert [(b.kind, b.turns[0]) for b in compactor._bookings[:2]] == [("music", 0), ("event", 8)]
    assert compactor._bookings[0].booked
    plan = compactor.plan("what was the album for the first song you played again")
    assert "thank you" in plan.recall


def test_a_caller_asking_about_the_table_just_booked_stays_with_it() -> None:
    """After the table was booked, "do they have live music" asks about the restaurant (its own kind): no other
    booking starts."""
    compactor = fed_past_boundary(
        [
            ("user", "i want a table for two at sushi zone in san jose at 7 pm"),
            ("assistant", "please confirm a table for 2 at sushi zone in san jose at 7 pm"),
            ("user", "yes"),
            ("assistant", "your reservation is confirmed"),
            ("user", "do they have live music"),
            ("assistant", "no they do not"),
            ("user", "thanks that is all"),
        ]
    )
    assert [b.kind for b in compactor._bookings] == ["restaurant"]


def test_a_caller_asking_more_of_the_thing_under_way_stays_with_it() -> None:
    """ "i'd like to watch the first one, can you also tell me who directed it" asks about the movie under way."""
    compactor = fed_past_boundary(
        [
            ("user", "can you find me a comedy movie to watch"),
            ("assistant", "how about dr strangelove or auntie mame"),
            ("user", "i'd like to watch dr strangelove can you also tell me who directed it"),
            ("assistant", "it was directed by stanley kubrick shall i play it"),
            ("user", "yes"),
            ("assistant", "the movie is on now"),
            ("user", "thanks that is all"),
        ]
    )
    assert [b.kind for b in compactor._bookings] == ["movie"]


def test_the_agent_offering_another_kind_of_thing_once_the_ride_was_booked_starts_another_booking() -> None:
    """Once the cab was booked, the agent's "ten songs, night shift by jon pardi" offers a kind new to it: the song
    taken and played is a booking of its own, not more of the ride."""
    compactor = fed_past_boundary(
        [
            ("user", "help call a cab to 2646 ashby avenue for one"),
            ("assistant", "please confirm a cab for one person to 2646 ashby avenue"),
            ("user", "yes that works for me"),
            ("assistant", "it is booked"),
            ("user", "thanks a lot"),
            ("assistant", "ten songs night shift by jon pardi from the album california sunrise"),
            ("user", "yes that is it"),
            ("assistant", "wanna play it"),
            ("user", "yes i do"),
            ("assistant", "night shift playing on the tv"),
            ("user", "thanks a lot that is all"),
        ]
    )
    assert [(b.kind, b.turns[0]) for b in compactor._bookings[:2]] == [("taxi", 0), ("music", 5)]


_SONG_THEN_ANOTHER = [
    ("user", "that's all i needed"),
    ("assistant", "enjoy"),
    ("user", "can you play some pop songs on the kitchen speaker"),
    ("assistant", "playing sunflower by post malone on the kitchen speaker"),
    ("user", "thanks bye"),
    ("assistant", "bye"),
]


@pytest.mark.parametrize(
    "moved",
    [
        "never mind i need a snack play on speaker in kitchen",
        "the song is right but play it on the speaker in the kitchen",
    ],
)
def test_another_device_for_the_song_under_way_is_no_other_song(moved: str) -> None:
    """The song played (or offered) on one device, then the caller's "play it on the kitchen speaker": a device for
    the song under way, no other song asked for, so the songs are counted as the caller counts them."""
    compactor = fed_past_boundary(
        [
            ("user", "play some zayn malik songs from icarus falls"),
            ("assistant", "what about dusk till dawn by zayn malik from icarus falls"),
            ("user", "fine fire up the speaker in the bedroom"),
            ("assistant", "playing dusk till dawn on the bedroom speaker now"),
            ("user", moved),
            ("assistant", "playing dusk till dawn on the kitchen speaker"),
            *_SONG_THEN_ANOTHER,
        ]
    )
    songs = [b for b in compactor._bookings if b.kind == "music"]
    assert [b.turns[0] for b in songs[:2]] == [0, 8]  # "some pop songs" asks for another
    assert "sunflower" in compactor.plan("sorry what was the song for the second song you played again").recall
    first = compactor.plan("what device did we settle on for the first song you played").recall
    assert "kitchen" in first and "sunflower" not in first

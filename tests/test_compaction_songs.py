"""Songs counted as the caller counts them ("the second song you played"): where one song's talk ends and the next
begins, and which of the agent's proposals the caller took."""

from __future__ import annotations

import pytest

from memory.compaction.compactor import _ASKS_BACK, _FAREWELL
from tests.compaction_talk import fed_past_boundary

_FIRST_SONG = [
    ("user", "i want some new uh music to listen to"),
    ("assistant", "i found 10 options how about all that matters from the album journals by justin bieber"),
    ("user", "that is it"),
    ("assistant", "are you ready to watch the movie"),
    ("user", "yes play it on the bedroom device"),
    ("assistant", "please confirm playing all that matters on the bedroom speaker"),
    ("user", "yes that is perfect what year was it released"),
    ("assistant", "it is a country song from 2013"),
    ("user", "thank you that is all"),
    ("assistant", "have a nice day"),
]
_SECOND_SONG = [
    ("user", "can you find me some songs by adele"),
    ("assistant", "how about hello from the album 25 by adele"),
    ("user", "yes play it on the tv"),
    ("assistant", "please confirm playing hello on the tv"),
    ("user", "yes"),
    ("assistant", "the song is playing now"),
]


@pytest.mark.parametrize("said", ["that is it", "ok that's it", "yes that is the one"])
def test_that_is_it_to_a_proposal_takes_it(said: str) -> None:
    """ "that is it" to the agent's proposal takes the song, it takes no leave: the song asked for is one, however
    the agent went on ("are you ready to watch the movie"), and the next one is the second."""
    first = [*_FIRST_SONG[:2], ("user", said), *_FIRST_SONG[3:]]
    compactor = fed_past_boundary([*first, *_SECOND_SONG])
    plan = compactor.plan("which album was the second song you played again")
    assert "album 25" in plan.recall and "journals" not in plan.recall


def test_a_question_about_the_song_under_way_stays_with_it() -> None:
    """ "what year was it released" asks about the song under way, not back about an earlier one: its answer (the
    genre) is the first song's."""
    assert not _ASKS_BACK.search("yes that is perfect what year was it released")
    assert _ASKS_BACK.search("what was the time again")
    compactor = fed_past_boundary([*_FIRST_SONG, *_SECOND_SONG])
    plan = compactor.plan("what genre was the first song you played again")
    assert "country" in plan.recall


def test_no_that_was_it_takes_leave() -> None:
    """ "no that was it" takes leave of the song (it asks nothing back): the movies searched for next are another
    booking, and the song played after them is the second."""
    assert not _ASKS_BACK.search("no that was it thanks")
    compactor = fed_past_boundary(
        [
            *_FIRST_SONG[:8],
            ("user", "great thanks"),
            ("assistant", "would you like assistance with anything more"),
            ("user", "no that was it thanks"),
            ("assistant", "have a nice day"),
            ("user", "can you help me search for movies online"),
            ("assistant", "i found 4 movies for you does searching for sugar man sound good"),
            ("user", "yes sounds good i want to look for songs next"),
            *_SECOND_SONG[1:],
        ]
    )
    assert [b.kind for b in compactor._bookings[:2]] == ["music", "movie"]
    plan = compactor.plan("which album was the second song you played again")
    assert "album 25" in plan.recall


def test_the_proposal_after_what_else_is_the_one_taken() -> None:
    """The caller passed over the first proposal ("what else"): the album of the song taken is the next proposal's."""
    compactor = fed_past_boundary(
        [
            ("user", "i want to find some new music"),
            ("assistant", "how about pour it up by rihanna from unapologetic"),
            ("user", "what else"),
            ("assistant", "mana zina by mo temsamani from pobrecita"),
            ("user", "ok that's it"),
            ("assistant", "anything else"),
            ("user", "i want to listen to it on the tv"),
            ("assistant", "play mana zina on tv"),
            ("user", "yes"),
            ("assistant", "enjoy the music"),
            ("user", "no that is all"),
            ("assistant", "have a day"),
        ]
    )
    plan = compactor.plan("what album was the first song you played again")
    assert "pobrecita" in plan.recall


def test_have_a_good_time_said_last_is_a_farewell() -> None:
    """ "have a good time" at the end of the agent's turn bids goodbye: what the caller asks next is another song,
    not more of the one under way."""
    assert _FAREWELL.search("enjoy the song have a good time")
    compactor = fed_past_boundary(
        [
            ("user", "play me something by foster the people"),
            ("assistant", "how about pumped up kicks from the album torches"),
            ("user", "that is what i want"),
            ("assistant", "can i do something else to help you"),
            ("user", "nothing i am thankful"),
            ("assistant", "have a good time"),
            ("user", "i am looking for some good get scared songs in the album best kind of mess"),
            ("assistant", "how about sarcasm by get scared from the album best kind of mess"),
        ]
    )
    assert [b.turns[0] for b in compactor._bookings[:2]] == [0, 6]

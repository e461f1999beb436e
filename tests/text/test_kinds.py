"""The vocabulary as data (memory/text/vocabulary.yaml) and what it reads in one utterance."""

from __future__ import annotations

import pytest

from memory.errors import ConfigError
from memory.text import kinds
from memory.text.kinds import (
    asks_in,
    episode_kinds_in,
    is_confirmation,
    is_correction,
    is_filler,
    is_not_done,
    ordinal_in,
    outcome_of,
)
from memory.text.reading import read_turn


def test_every_phrase_of_the_vocabulary_is_a_string():
    words = kinds.vocabulary()
    assert "yes" in words.fillers and "no" in words.fillers  # a bare yes/no in YAML would be a boolean
    with pytest.raises(ConfigError):
        kinds._only_words({"fillers": ["okay", False]}, "vocabulary.yaml")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Please confirm: a table for 2 at P.f. Chang's at 6:30 pm.", "restaurant"),
        ("I'd like to buy two tickets to the Giants game.", "event"),
        ("Play the song on the kitchen speaker.", "music"),
        ("I need a taxi to the station, pick me up at 5.", "taxi"),
        ("Book me a room at the Avalon hotel for two nights.", "hotel"),
        ("The train to Cambridge, TR7804, leaves at 17:17.", "train"),
        ("Please confirm: you will pick up the car at SFO Airport on March 3rd.", "rental_car"),
        ("I'd like to schedule a visit to the apartment this Saturday.", "property"),
        ("Transfer 200 dollars from my checking account to Maria.", "payment"),
        ("Your shared ride to the Villa is on its way.", "taxi"),
        ("I was charged twice on my November bill.", "billing"),
        ("The router keeps dropping, no internet since Monday.", "fault"),
    ],
)
def test_what_an_utterance_is_about(text, kind):
    assert kind in episode_kinds_in(text)


def test_a_word_two_kinds_share_names_neither_alone():
    # a rental is picked up as a taxi picks one up; an apartment has a rent as a car rental has a price
    assert "taxi" not in episode_kinds_in("Where do you want to pick up the car, at the airport?")
    assert "rental_car" not in episode_kinds_in("The rent is $2,400 per month and it is furnished.")


@pytest.mark.parametrize(
    ("question", "asked"),
    [
        ("What time was the table?", {"time"}),
        ("How many tickets did I buy?", {"count"}),
        ("Which restaurant did I book?", {"name"}),
        ("What's the address of the venue?", {"address"}),
        ("what's the train reference from last time", {"reference"}),
        ("How much was the fare?", {"amount"}),
        ("Who did I send money to?", {"name"}),
        ("Remind me where I was staying last time.", {"name"}),
        ("The flight I booked, where was it to?", {"name"}),
        ("What type of car did I rent?", {"car_type"}),
    ],
)
def test_what_a_question_asks_for(question, asked):
    assert asked <= asks_in(question)


def test_ordinals_name_a_call():
    assert ordinal_in("the table I booked when I called the second time") == 2
    assert ordinal_in("on my third call") == 3
    assert ordinal_in("what was the second song") is None


@pytest.mark.parametrize(
    "text",
    ["Mm-hmm, go on.", "Okay.", "Thank you very much.", "No, that will be all.", "Have a wonderful day!", "Uh-huh."],
)
def test_backchannels_and_pleasantries_are_fillers(text):
    assert is_filler(text)
    assert read_turn(text).tags == {"filler"}  # "Mm-hmm" is no name, whatever its capital letter


@pytest.mark.parametrize("text", ["No, I want 2 tickets.", "That is fine, book it at 6.", "Yes, the kitchen speaker."])
def test_answers_with_content_are_not_fillers(text):
    assert not is_filler(text)


def test_a_caller_turning_a_read_back_down_corrects_it():
    assert is_correction("That is not correct, I wanted the one in Leeds.")
    assert is_correction("No, that's not right.")
    assert not is_correction("Yes, that is correct.")


def test_confirmations_and_outcomes():
    assert is_confirmation("Please confirm: 3 tickets for the Giants game next Friday.")
    assert is_confirmation("Your reservation is confirmed, the restaurant is at 1634 Bush Street.")
    assert not is_confirmation("Which city are you in?")
    assert is_confirmation("Kindly ensure that the film is the third man, with subtitles.")  # a read-back
    assert outcome_of(["Which city?", "Your reservation is confirmed."]) == "booked"
    assert outcome_of(["Your booking has been cancelled."]) == "cancelled"
    assert outcome_of(["I've submitted a refund, you should see it by Friday."]) == "promised"
    assert outcome_of(["Which city?"]) == "open"
    # a negated success booked nothing, though "successful" alone reports a booking
    assert outcome_of(["The reservation was successful."]) == "booked"
    assert outcome_of(["Sorry, the reservation was not successful."]) == "failed"
    assert outcome_of(["I'm sorry, there are no tables available at 7 pm."]) == "failed"
    assert outcome_of(["Your table is booked.", "Sorry, I wasn't able to book the train."]) == "failed"
    assert is_not_done("Unfortunately the booking was not confirmed.")
    assert not is_not_done("Your booking is confirmed.")


def test_a_turn_is_read_once_into_tags():
    tags = read_turn("Please confirm: Booking a table for 1 at P.f. Chang's at 6:30 pm today.").tags
    assert {"confirm", "count", "name", "time", "date", "kind:restaurant"} <= tags
    assert "question" in read_turn("What time?").tags

"""The value reader: what values one utterance carries, as spans, never a number that was not said."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memory.text.kinds import without_fillers
from memory.text.reading import read_turn
from memory.text.values import Value, spoken_number, values_in


def kinds(text: str) -> list[tuple[str, str, str]]:
    return [(v.kind, v.text, v.normalised) for v in values_in(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ref 1O9E32IJ", ("reference", "1O9E32IJ", "1O9E32IJ")),  # the letter O stays a letter
        ("Your reference is RPWOWDOO.", ("reference", "RPWOWDOO", "RPWOWDOO")),  # no digit at all
        ("TR7804 leaves at 17:17", ("time", "17:17", "17:17")),
        ("at half past 6 in the evening", ("time", "half past 6 in the evening", "6:30 pm")),
        ("At quarter to 1 in the afternoon.", ("time", "quarter to 1 in the afternoon", "12:45 pm")),
        ("quarter to seven", ("time", "quarter to seven", "6:45")),
        ("a table for one", ("count", "table for one", "1")),
        ("two tickets please", ("count", "two tickets", "2")),
        ("their number is 650-330-1782", ("phone", "650-330-1782", "6503301782")),
        (
            "six five oh, three three oh, one seven eight two",
            ("phone", "six five oh, three three oh, one seven eight two", "6503301782"),
        ),
        ("it is 420 Ramona Street", ("address", "420 Ramona Street", "420 ramona street")),
        ("forty two dollars and ten cents", ("amount", "forty two dollars and ten cents", "42.10 usd")),
        ("a red SUV", ("car_type", "SUV", "suv")),
        ("for 3 nights", ("duration", "3 nights", "3 nights")),
        ("on Friday", ("day", "Friday", "friday")),
        ("on March 11th", ("date", "March 11th", "march 11th")),
        ("a table at P.f. Chang's tonight", ("name", "P.f. Chang's", "p.f. chang's")),
        ("your tickets are at oracle park on friday", ("name", "oracle park", "oracle park")),  # lower case
        ("the game at papa murphy's park", ("name", "papa murphy's park", "papa murphy's park")),
        ("two tickets to Dr. Zhivago, please", ("name", "Zhivago", "zhivago")),  # after a title: no sentence start
        ("a table at olive garden in san jose, is that correct", ("name", "san jose", "san jose")),  # not "correct"
        # a price word, normalised to the level it names
        ("somewhere affordable that sells alcohol", ("price", "affordable", "moderate")),
        ("a low priced restaurant in the area", ("price", "low priced", "inexpensive")),
        ("an intermediate priced eating place", ("price", "intermediate priced", "moderate")),  # not a car type
        ("let's look at pricey restaurants now", ("price", "pricey", "expensive")),
        ("for not very costly", ("price", "not very costly", "moderate")),
        ("the price range is moderate", ("price", "moderate", "moderate")),
        ("something that is priced above average", ("price", "priced above average", "expensive")),
        ("restaurants that are budget friendly", ("price", "budget friendly", "inexpensive")),
        ("a place to eat that is fancy priced", ("price", "fancy", "expensive")),
    ],
)
def test_values_people_book_are_read(text: str, expected: tuple[str, str, str]) -> None:
    assert expected in kinds(text)


def test_values_are_spans_of_the_text() -> None:
    text = "Please confirm: 2 tickets for Lakers Vs Jazz next Tuesday at 7 pm, ref TR7804, call 415-555-0142."
    found = values_in(text)
    assert [v.kind for v in found] == ["count", "name", "date", "time", "reference", "phone"]
    for value in found:
        assert isinstance(value, Value) and text[value.start : value.end] == value.text


@pytest.mark.parametrize(
    "text",
    [
        "09:11 09:58 9.80 pounds",
        "5:19 13.2 GBP",
        "two four-star hotels",
        "addresses 53 - 57",
        "4/5/2018 - 4/10/2018",
        "1O9E32IJ",
    ],
)
def test_neighbouring_numbers_are_never_joined(text: str) -> None:
    said = set(re.findall(r"\d+", text))
    for value in values_in(text):
        if re.search(r"\d", value.text):
            assert set(re.findall(r"\d+", value.normalised)) <= said, value


def test_spoken_numbers() -> None:
    assert spoken_number("forty two") == 42
    assert spoken_number("one hundred and fifty") == 150
    assert spoken_number("twelve") == 12
    assert spoken_number("two four") is None  # two numbers, not 24


_NEIGHBOURS = st.sampled_from(
    [
        "09:11", "9:58", "17:15", "6:30 pm", "9.80 pounds", "$13.20", "13.2 GBP", "53 - 57", "4/5/2018", "4/10/2018",
        "1O9E32IJ", "RPWOWDOO", "TR7804", "650-330-1782", "two four-star", "for 2", "2 people", "four five one",
        "twelve", "one", "March 11th", "the 2nd", "420 Ramona Street", "ZX-9191", "0O0", "l1I",
    ]
)  # fmt: skip
_GLUE = st.sampled_from([" ", ", ", " - ", " and ", ". ", " at ", "/", " to "])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_NEIGHBOURS, _GLUE), min_size=2, max_size=6))
def test_a_value_keeps_exactly_its_own_digits(parts: list[tuple[str, str]]) -> None:
    """Adversarial neighbours (times next to prices, ranges, dates, letter/digit look-alikes): a value said in
    digits keeps exactly its own digits."""
    text = "".join(value + glue for value, glue in parts).strip()
    for value in values_in(text):
        runs = re.findall(r"\d+", value.text)
        if runs:  # a value said in digits keeps exactly its own digits (a phone's groups may be joined)
            digits = re.findall(r"\d+", value.normalised)
            assert set(digits) <= set(runs) or "".join(digits) == "".join(runs), (text, value)


@pytest.mark.parametrize(
    ("text", "said", "normalised"),
    [
        ("at six forty five pm", "six forty five pm", "6:45 pm"),
        ("seven thirty pm please", "seven thirty pm", "7:30 pm"),
        ("eleven oh five am", "eleven oh five am", "11:05 am"),
        ("at five o clock", "five o clock", "5 o'clock"),
        ("not after six pm", "six pm", "6 pm"),
        ("make it 12:30 in the afternoon", "12:30 in the afternoon", "12:30 pm"),  # the part of the day is am/pm
        ("at 6 in the evening", "6 in the evening", "6 pm"),
        # the part of the day said instead of am/pm, after the clock or before it
        ("at six fifteen in the evening", "six fifteen in the evening", "6:15 pm"),
        ("around 5 30 in the evening", "5 30 in the evening", "5:30 pm"),
        ("change it to eleven in the morning", "eleven in the morning", "11 am"),
        ("Afternoon one fifteen.", "Afternoon one fifteen", "1:15 pm"),
        ("a table at afternoon 1 30", "afternoon 1 30", "1:30 pm"),
        ("pick me up at eleven at night", "eleven at night", "11 pm"),
    ],
)
def test_times_said_in_words(text: str, said: str, normalised: str) -> None:
    assert ("time", said, normalised) in kinds(text)


@pytest.mark.parametrize("text", ["it is in the parking lot", "we met at the park", "meet me at a nice place"])
def test_a_lower_case_place_is_a_venue_only_with_a_name_before_its_kind(text: str) -> None:
    assert [v for v in values_in(text) if v.kind == "name"] == []


@pytest.mark.parametrize(
    ("text", "venue"),
    [
        ("the band plays on harbor stage at nine", "harbor stage"),  # after "on", a head the notes read too
        ("there is a comedy night at the willow playhouse", "willow playhouse"),
        ("a jazz evening at the blue note lounge", "blue note lounge"),
    ],
)
def test_a_lower_case_venue_is_read_after_at_in_or_on(text: str, venue: str) -> None:
    assert ("name", venue, venue) in kinds(text)


@pytest.mark.parametrize("text", ["do you like music or theater", "it takes place in the town hall"])
def test_a_category_or_a_plain_place_is_no_venue(text: str) -> None:
    assert [v for v in values_in(text) if v.kind == "name"] == []


def test_the_compaction_notes_read_venues_with_the_same_reader() -> None:
    from memory.compaction import compactor
    from memory.text.values import LOWER_VENUE

    assert not hasattr(compactor, "_VENUE_SPAN")  # one reader of lower-case venues, not two word lists
    assert compactor._named_spans("it will be on harbor stage", []) == [("name", "harbor stage")]
    assert LOWER_VENUE.search("it will be on harbor stage")


@pytest.mark.parametrize(
    ("text", "artist"),
    [
        ("how about moon river by the paper owls on late songs", "the paper owls"),
        ("there's blue hour by dana reyes from quiet rooms", "dana reyes"),
        ("what about lanterns from the album harbour lights by the lakes", "the lakes"),
        ("the song carnivore by starlit off of the album transmissions", "starlit"),
    ],
)
def test_who_made_a_record_offered_in_lower_case_is_a_name(text: str, artist: str) -> None:
    assert ("name", artist, artist) in kinds(text)


@pytest.mark.parametrize("text", ["i will pay by card from my account", "we will be there by noon on friday"])
def test_by_in_other_senses_names_no_one(text: str) -> None:
    assert not [v for v in values_in(text) if v.kind == "name"]


@pytest.mark.parametrize("text", ["it was a lovely evening one of us said", "the morning two people came"])
def test_a_part_of_the_day_before_a_number_is_no_time_without_at_or_for(text: str) -> None:
    assert [v for v in values_in(text) if v.kind == "time"] == []


@pytest.mark.parametrize(
    ("text", "kind", "normalised"),
    [  # a recogniser's fillers and stutters inside a value: read as meant (the reading of a turn drops them)
        ("shall i book it for seven thirty you know pm", "time", "7:30 pm"),
        ("at half past seven like in the evening", "time", "7:30 pm"),
        ("play it on the like tv", "device", "tv"),
        ("cast it on the bedroom like speaker", "device", "bedroom speaker"),
        ("play it on the kitchen you know speaker", "device", "kitchen speaker"),
        ("put it on the the tv", "device", "tv"),
    ],
)
def test_a_value_with_a_filler_or_a_stutter_inside_is_read(text: str, kind: str, normalised: str) -> None:
    assert (kind, normalised) in [(v.kind, v.normalised) for v in read_turn(text).values]


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("I would like 3 tickets", "I would like 3 tickets"),
        ("do you know the address", "do you know the address"),
        ("it looks like rain", "it looks like rain"),
        ("Walla Walla is nice", "Walla Walla"),  # a name said twice is no stutter
        ("the number is seven seven six zero zero", "seven seven six zero zero"),  # digits said
    ],
)
def test_words_that_are_no_fillers_are_kept(text: str, kept: str) -> None:
    assert kept in without_fillers(text)


@pytest.mark.parametrize(
    "text",
    ["a table for 4 at one you know forty five pm", "make it forty five in the evening", "at twenty-five pm"],
)
def test_the_units_of_a_tens_word_are_no_hour(text: str) -> None:
    """The words "forty five pm" with their hour lost (a filler before it) is no 5 pm: that hour was never said."""
    assert [v.normalised for v in values_in(text) if v.kind == "time" and v.normalised in ("5 pm", "5 am")] == []


def test_a_clock_then_take_place_is_a_time_not_an_address_nor_a_cuisine() -> None:
    found = kinds("the show at 7 30 pm will take place on march 3rd")
    assert ("time", "7 30 pm") in [(k, t) for k, t, _ in found]
    assert all(k not in ("address", "name") for k, _, _ in found)


def test_van_before_a_name_is_part_of_the_name_not_a_car() -> None:
    assert all(k != "car_type" for k, _, _ in kinds("your tickets at the van buren are booked"))
    assert all(k != "car_type" for k, _, _ in kinds("play something by van morrison"))
    assert ("car_type", "van") in [(k, t) for k, t, _ in kinds("i need a van for three days")]
    assert ("car_type", "van") in [(k, t) for k, t, _ in kinds("a van please")]


def test_sending_something_to_my_device_names_no_payee() -> None:
    assert ("device", "headphones") in [(k, t) for k, t, _ in kinds("no, send it to my headphones instead")]
    assert all(k != "payee" for k, _, _ in kinds("no, send it to my headphones instead"))
    assert ("payee", "mom") in [(k, t) for k, t, _ in kinds("send it to my mom")]
    assert ("payee", "maria") in [(k, t) for k, t, _ in kinds("send it to maria please")]

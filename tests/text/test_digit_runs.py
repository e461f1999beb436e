"""The one number parser: which numbers are joined, and which are never (memory.text.spoken)."""

from __future__ import annotations

import pytest

from memory.text.spoken import extract_identifiers, join_spoken_digits, normalize_spoken_digits, spoken_digit_runs


@pytest.mark.parametrize(
    "text",
    [
        "The reference is 1O9E32IJ.",  # a letter O inside a code is no zero
        "it leaves 09:11 09:58 9.80 pounds",  # clock times and a price side by side
        "5:19 13.2 GBP",
        "numbers 53 - 57 Main Street",  # a range
        "from 4/5/2018 - 4/10/2018",  # dates with slashes
        "the 3rd at 11am, B0OK1NG",  # digits glued to letters
    ],
)
def test_numbers_written_as_one_thing_are_never_joined(text: str) -> None:
    assert normalize_spoken_digits(text) == text
    assert join_spoken_digits(text) == text


@pytest.mark.parametrize(
    ("text", "joined"),
    [
        ("my account is four four seven one, two two nine oh", "my account is 44712290"),
        ("six five oh, three three oh, one seven eight two", "6503301782"),
        ("double five two", "552"),
        ("forty two dollars and ten cents", "42 dollars and 10 cents"),  # one number said alone
        ("twelve people", "12 people"),
        ("a two four - star hotel", "a two four - star hotel"),  # two digit words: maybe two numbers
        ("nineteen eighty five", "nineteen eighty five"),  # 1985? 19 and 85? as said
        ("eleven thirty am", "eleven thirty am"),
        ("88 123", "88 123"),  # written numbers are never joined
        ("oh I see, one two", "oh I see, one two"),
    ],
)
def test_the_certain_normalisation(text: str, joined: str) -> None:
    assert join_spoken_digits(text) == joined


def test_digits_said_in_words_are_spans_of_the_text() -> None:
    text = "ref four five one, then 09:11"
    assert [(text[s:e], d) for s, e, d in spoken_digit_runs(text)] == [("four five one", "451")]
    assert normalize_spoken_digits("my account number is 88 123") == "my account number is 88123"  # identifiers


@pytest.mark.parametrize(
    ("text", "phones"),
    [
        ("53 - 57 10-12 10-12.", []),  # numbers side by side are no phone number
        ("four four seven one 10-12 forty two dollars", []),
        ("it is 4155550142", ["+14155550142"]),
        ("(415) 555 0142", ["+14155550142"]),
        ("four one five, uh, five five five, oh one four two", ["+14155550142"]),
        ("my number is 415 555 01 42", ["+14155550142"]),  # with a cue, the groups of one number
    ],
)
def test_a_phone_number_without_a_cue_is_written_or_said_as_one(text: str, phones: list[str]) -> None:
    assert [i.value for i in extract_identifiers(text) if i.kind == "phone"] == phones

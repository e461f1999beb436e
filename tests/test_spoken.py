"""Tests of memory.spoken: digit runs and identifiers as a speech recogniser writes them."""

from __future__ import annotations

import logging
import random
import time

import pytest

from memory.errors import InvalidInputError
from memory.text.identifiers import Identifier
from memory.text.spoken import MAX_SCAN_CHARS, asked_for, digit_runs, extract_identifiers, normalize_spoken_digits

# --------------------------------------------------------------------------- normalize_spoken_digits

NORMALIZED = [
    ("my account number is eight eight one two three", "my account number is 88123"),
    ("four one five, uh, five five five, oh one four two", "4155550142"),
    ("four one five um five five five er oh one four two", "4155550142"),
    ("four one five dash five five five dash oh one four two", "4155550142"),
    ("four-one-five five-five-five oh-one-four-two", "4155550142"),
    ("Four one five. Five five five. Oh one four two.", "4155550142."),
    ("call me on four one five, like, five five five, oh one four two", "call me on 4155550142"),
    ("double five", "55"),
    ("triple seven", "777"),
    ("treble seven", "777"),
    ("double-five", "55"),
    ("double oh seven", "007"),
    ("five double oh one", "5001"),
    ("forty two", "42"),
    ("forty-two", "42"),
    ("nineteen", "19"),
    ("I'm forty", "I'm 40"),
    ("nineteen eighty four", "1984"),
    ("twenty twenty four", "2024"),
    ("room one oh one", "room 101"),
    ("oh one four two", "0142"),
    ("zero zero seven", "007"),
    ("nought nought seven", "007"),
    ("zero zero", "00"),
    ("niner niner", "99"),
    ("one eight hundred five five five one two one two", "18005551212"),
    ("two hundred fifty", "250"),
    ("two hundred and five", "205"),
    ("three hundred and twelve", "312"),
    ("8 8 1 2 3", "88123"),
    ("88 123", "88123"),
    ("88 one two three", "88123"),
    ("(415) 555-0142", "4155550142"),
    ("+1 (415) 555-0142", "+14155550142"),
    ("415.555.0142", "4155550142"),
    ("plus four four two zero seven nine four six oh nine five eight", "+442079460958"),
    ("plus one four one five five five five oh one four two", "+14155550142"),
    ("+44 20 7946 0958", "+442079460958"),
    ("It's EIGHT eight One two three, Thanks", "It's 88123, Thanks"),
    (
        "my account number is 88123 and my number is 415 555 0142",
        "my account number is 88123 and my number is 4155550142",
    ),
    ("account, uh, eight eight one two three", "account, uh, 88123"),
    ("one two and three four", "12 and 34"),
    ("1,000 dollars", "1000 dollars"),
    ("٤١٥ ٥٥٥ ٠١٤٢", "4155550142"),
]

UNCHANGED = [
    "oh I see",
    "Oh, I see what you mean",
    "oh, one more thing",
    "oh one more thing",
    "two, oh well",
    "I have one question",
    "I have two kids and one dog",
    "zero",
    "it is one of those days",
    "someone tone often",
    "that's what I'd like to know",
    "double trouble",
    "a hundred times",
    "o'clock",
    "d a n a",
    "I paid 12.50 for it",
    "88123. 4155550142",
    "88123, 4155550142",
    "call at 10:30 please",
    "to for too won ate",
    "",
    "   ",
    "😀 🎉 ☎️",
    "no digits here at all",
]


@pytest.mark.parametrize(("text", "expected"), NORMALIZED)
def test_normalize_spoken_digits(text: str, expected: str) -> None:
    assert normalize_spoken_digits(text) == expected


@pytest.mark.parametrize(("text", "expected"), NORMALIZED)
def test_normalize_spoken_digits_is_idempotent(text: str, expected: str) -> None:
    assert normalize_spoken_digits(expected) == expected


@pytest.mark.parametrize("text", UNCHANGED)
def test_normalize_spoken_digits_keeps_other_words(text: str) -> None:
    assert normalize_spoken_digits(text) == text


def test_words_around_runs_keep_their_case_and_spacing() -> None:
    text = "Hello  THERE, my Account is eight eight one two three;  Thanks!\n"
    assert normalize_spoken_digits(text) == "Hello  THERE, my Account is 88123;  Thanks!\n"


def test_two_runs_in_one_turn() -> None:
    text = "account eight eight one two three and phone four one five five five five oh one four two"
    assert normalize_spoken_digits(text) == "account 88123 and phone 4155550142"


@pytest.mark.parametrize("bad", [None, b"eight eight", 88123, ["eight"]])
def test_normalize_spoken_digits_needs_a_string(bad: object) -> None:
    with pytest.raises(InvalidInputError):
        normalize_spoken_digits(bad)  # type: ignore[arg-type]


def test_normalize_spoken_digits_adversarial() -> None:
    assert normalize_spoken_digits("\x00eight eight\x00") == "\x0088\x00"
    assert normalize_spoken_digits("eight\x00eight") == "eight\x00eight"  # NUL is no separator
    assert normalize_spoken_digits("eight 😀 eight") == "eight 😀 eight"
    assert normalize_spoken_digits("İstanbul eight eight") == "İstanbul 88"  # lower() changes the length
    huge = "eight " * 200_000  # 1.2 MB of one run
    assert normalize_spoken_digits(huge) == "8" * 200_000 + " "
    words = "hello world at dot " * 55_000
    assert normalize_spoken_digits(words) == words


# --------------------------------------------------------------------------- digit_runs


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("eight eight one two three", ["88123"]),
        ("88123", ["88123"]),
        ("88 123", ["88123"]),
        ("8 8 1 2 3", ["88123"]),
        ("my account number is 88123 and my number is 415 555 0142", ["88123", "4155550142"]),
        ("ticket 42 and room one oh one", ["101"]),  # runs under 3 digits are left out
        ("88123 again: eight eight one two three", ["88123"]),  # deduplicated
        ("oh I see", []),
        ("", []),
        ("forty two", []),
    ],
)
def test_digit_runs(text: str, expected: list[str]) -> None:
    assert digit_runs(text) == expected


def test_digit_runs_needs_a_string() -> None:
    with pytest.raises(InvalidInputError):
        digit_runs(None)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- extract_identifiers

ACCOUNT, PHONE, EMAIL = "account", "phone", "email"

EXTRACTED = [
    # accounts
    ("my account number is 8 8 1 2 3", [(ACCOUNT, "88123")]),
    ("my account number is eight eight one two three", [(ACCOUNT, "88123")]),
    ("account, uh, eight eight one two three", [(ACCOUNT, "88123")]),
    ("my account number is AC-88123", [(ACCOUNT, "AC88123")]),
    ("the account is ac88123", [(ACCOUNT, "AC88123")]),
    ("account number A C 8 8 1 2 3", [(ACCOUNT, "AC88123")]),
    ("my customer number is double four one two", [(ACCOUNT, "4412")]),
    ("my member ID is 55 66 77", [(ACCOUNT, "556677")]),
    ("my account number is 4155550142", [(ACCOUNT, "4155550142")]),  # an account, not a phone
    ("my customer number is 123", []),  # too short
    ("my account is 1234567890123456789012", []),  # too long
    ("I want to close my account", []),
    # phones
    ("you can reach me at four one five five five five oh one four two", [(PHONE, "+14155550142")]),
    ("my cell is (415) 555-0142", [(PHONE, "+14155550142")]),
    ("text me at 415.555.0142 please", [(PHONE, "+14155550142")]),
    ("4155550142", [(PHONE, "+14155550142")]),  # a full national number needs no cue
    ("it's one four one five five five five oh one four two", [(PHONE, "+14155550142")]),
    ("call me on plus four four two zero seven nine four six oh nine five eight", [(PHONE, "+442079460958")]),
    ("my number is +44 20 7946 0958", [(PHONE, "+442079460958")]),
    ("my number is 415 555 0142 or 415 555 0199", [(PHONE, "+14155550142"), (PHONE, "+14155550199")]),
    ("my number is 555 0142", []),  # no area code
    ("my order number is 4155550142", []),
    ("my credit card number is 4111 1111 1111 1111", []),
    ("the zip code is 94107", []),
    ("I called 3 times", []),
    # emails
    ("dana@example.net", [(EMAIL, "dana@example.net")]),
    ("Sure, it's Dana.Smith@Example.com.", [(EMAIL, "dana.smith@example.com")]),
    ("my email is dana at example dot net", [(EMAIL, "dana@example.net")]),
    ("dana at example dot net", [(EMAIL, "dana@example.net")]),
    ("d a n a at example dot net", [(EMAIL, "dana@example.net")]),
    ("it's dana dot smith at gmail dot com", [(EMAIL, "dana.smith@gmail.com")]),
    (
        "my e-mail is dana underscore smith at mail dot example dot co dot uk",
        [(EMAIL, "dana_smith@mail.example.co.uk")],
    ),
    ("my email address is dana five at example dot net", [(EMAIL, "dana5@example.net")]),
    ("email me at dana at example dot net", [(EMAIL, "dana@example.net")]),
    ("You can reach me at dana at example dot net about the router.", [(EMAIL, "dana@example.net")]),
    ("I was looking at amazon dot com and at ebay dot com", []),
    ("my email is dana at example dot net dot", [(EMAIL, "dana@example.net")]),
    ("I was looking at amazon dot com", []),  # no e-mail cue: not an address
    ("my email is dana smith at gmail dot com", []),  # two words before "at": ambiguous
    ("I'm at home", []),
    ("meet me at five dot", []),
    # mixed turns
    (
        "my account number is 88123 and my number is 415 555 0142",
        [(ACCOUNT, "88123"), (PHONE, "+14155550142")],
    ),
    (
        "my cell is 415 555 0142, and my account number, uh, A C eight eight one two three",
        [(PHONE, "+14155550142"), (ACCOUNT, "AC88123")],
    ),
    (
        "my email is dana at example dot net and my number is four one five five five five oh one four two",
        [(EMAIL, "dana@example.net"), (PHONE, "+14155550142")],
    ),
    ("the zip code is 94107 and my phone is 4155550142", [(PHONE, "+14155550142")]),
    ("my account number is 88123, again 88123", [(ACCOUNT, "88123")]),  # deduplicated
    # nothing to find
    ("oh I see", []),
    ("", []),
    ("   ", []),
]


@pytest.mark.parametrize(("text", "expected"), EXTRACTED)
def test_extract_identifiers(text: str, expected: list[tuple[str, str]]) -> None:
    assert [(i.kind, i.value) for i in extract_identifiers(text)] == expected


def test_extract_identifiers_region() -> None:
    assert extract_identifiers("my number is 020 7946 0958", region="GB") == [Identifier("phone", "+442079460958")]
    assert extract_identifiers("02079460958", region="GB") == [Identifier("phone", "+442079460958")]


def test_extract_identifiers_bad_region_gives_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert extract_identifiers("my number is 4155550142", region="XX") == []
    assert "4155550142" not in caplog.text


@pytest.mark.parametrize(
    "text",
    [
        None,
        b"my number is 4155550142",
        4155550142,
        ["my number is 4155550142"],
        "\x00" * 1000,
        "my number is \x00 4155550142\x00",
        "😀" * 10_000,
        "eight " * 200_000,  # 1.2 MB
        "my number is 4155550142 " + "x" * MAX_SCAN_CHARS,
        "@" * 5000,
        "at dot " * 2000,
        "a b c d e f g h at " * 500,
        "dot at dot at dot",
        "+" * 3000,
        "(" * 3000 + "4155550142" + ")" * 3000,
        "\ud800\udfff broken surrogates 4155550142",
    ],
)
def test_extract_identifiers_never_raises(text: object) -> None:
    result = extract_identifiers(text)  # type: ignore[arg-type]
    assert isinstance(result, list)
    assert all(isinstance(i, Identifier) for i in result)


def test_extract_identifiers_nul_and_emoji_around_a_number() -> None:
    assert extract_identifiers("😀 my number is 415 555 0142 😀") == [Identifier("phone", "+14155550142")]


def test_extract_identifiers_random_turns() -> None:
    words = (
        "my account number is phone email at dot oh o one two three four five six seven eight nine zero "
        "double triple forty hundred plus uh um , . - ( ) @ + 415 555 0142 88123 dana example net com "
        "😀 \x00 a c d AC İ ٤"
    )
    vocabulary = words.split(" ")
    rng = random.Random(20240601)
    for _ in range(3000):
        size = rng.randint(0, 40)
        text = "".join(rng.choice(vocabulary) + rng.choice((" ", " ", " ", "", ", ")) for _ in range(size))
        found = extract_identifiers(text)
        assert len(found) == len(set(found))
        assert all(i.kind in (ACCOUNT, PHONE, EMAIL) for i in found)
        normalized = normalize_spoken_digits(text)
        assert normalize_spoken_digits(normalized) == normalized, text
        assert all(run.isdigit() and len(run) >= 3 for run in digit_runs(text))


# --------------------------------------------------------------------------- speed (printed, never asserted)


def test_print_micro_benchmark() -> None:
    turns = [
        "yes hi I am calling about my bill and my account number is eight eight one two three thanks",
        "four one five, uh, five five five, oh one four two is the best number to reach me on",
        "I was wondering whether somebody could help me with the delivery that never arrived yesterday",
    ]
    rounds = 2000
    for turn in turns:
        started = time.perf_counter()
        for _ in range(rounds):
            normalize_spoken_digits(turn)
        normalize_us = (time.perf_counter() - started) / rounds * 1e6
        started = time.perf_counter()
        for _ in range(rounds // 4):
            extract_identifiers(turn)
        extract_us = (time.perf_counter() - started) / (rounds // 4) * 1e6
        print(f"{len(turn.split())} words: normalize {normalize_us:.1f} µs, extract {extract_us:.1f} µs")


# --------------------------------------------------------------------------- disfluencies and answers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("for your records my account uh, number is 21774", ("account", "21774")),  # a filler inside the cue
        ("my account is four four, sorry, four five one two two", ("account", "45122")),  # corrected at once
        ("my my account number is eight eight, one two three", ("account", "88123")),  # a stutter, digits in groups
        ("sure my e-mail is freya like dot carter at example dot dot com", ("email", "freya.carter@example.com")),
        ("my um e-mail is you know dana at example dot com", ("email", "dana@example.com")),
        ("my account number is 88 12 you know 3", ("account", "88123")),  # "you know" between the groups
        ("my e-mail is dana dot reyes like, at example uh, dot com", ("email", "dana.reyes@example.com")),
    ],
)
def test_identifiers_survive_what_a_recogniser_writes(text, expected):
    found = [(i.kind, i.value) for i in extract_identifiers(text)]
    assert found == [expected]


@pytest.mark.parametrize(
    ("question", "answer", "expected"),
    [
        ("Can I get your account number, please?", "Sure, it's 4095674.", ("account", "4095674")),
        ("could you confirm your account number for me", "yes 80 76 01 8", ("account", "8076018")),
        (
            "Could I have the e-mail on file?",
            "You can find me under dana at example dot com.",
            ("email", "dana@example.com"),
        ),
        (  # asked for the account number, the caller gives the e-mail on it
            "Could you give me your account number?",
            "you can find me under dana dot reyes at example dot com",
            ("email", "dana.reyes@example.com"),
        ),
    ],
)
def test_a_bare_answer_to_the_agents_question_is_what_it_asked_for(question, answer, expected):
    assert [(i.kind, i.value) for i in extract_identifiers(answer, asked=asked_for(question))] == [expected]
    assert expected[0] != "account" or extract_identifiers(answer) == []  # no cue of its own: nothing without it


def test_a_number_with_its_own_cue_is_not_taken_for_the_one_asked_for():
    asked = asked_for("Can I get your account number?")
    assert extract_identifiers("my order number is 55102", asked=asked) == []
    assert asked_for("I will update your account now.") == frozenset()


@pytest.mark.parametrize(
    "said",
    [
        "sure, my account number number is four four one two three nine",
        "the account account number is 441239",
        "yes account number number four four one two uh three nine",
    ],
)
def test_a_cue_word_said_twice_still_announces_the_account(said):
    assert extract_identifiers(said) == [Identifier("account", "441239")]


def test_you_know_between_the_words_of_a_cue_still_announces_the_account():
    said = "my account you know number is four four one um two three nine"
    assert extract_identifiers(said) == [Identifier("account", "441239")]


@pytest.mark.parametrize(
    "question",
    [
        "before we start could i i have your account number or the e-mail on file",
        "could you uh you know give me your account number",
        "can can i get your account number please",
    ],
)
def test_the_agents_question_is_heard_through_a_stutter_or_a_filler(question):
    """Unheard, the caller's bare digits ("five two one five six four seven") are no account number,
    and a call from another phone is not linked."""
    assert "account" in asked_for(question)
    said = "it's five two one five six uh four seven"
    assert [(i.kind, i.value) for i in extract_identifiers(said, asked=asked_for(question))] == [("account", "5215647")]


@pytest.mark.parametrize(
    "said",
    [
        "the transfer is you know from my savings account transfer 1 490 to abhinav",
        "my account balance is 1490",
        "from my checking account, a payment of 2 300 please",
    ],
)
def test_an_amount_after_the_account_is_named_is_not_the_account_number(said):
    """A money word between "account" and the digits announces an amount, not the account's number."""
    assert [i for i in extract_identifiers(said) if i.kind == "account"] == []


def test_an_account_number_said_beside_an_amount_is_still_read():
    found = extract_identifiers("please make a payment of 300 from account 55123")
    assert [i.value for i in found if i.kind == "account"] == ["55123"]

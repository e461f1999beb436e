"""Compaction keeps the values people book for services other than tables, tickets and media: cars, terminals,
fares, accounts (synthetic turns, wordings of our own), and never says a number that was not said."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from memory.compaction import Turn, classify
from memory.text.facts import facts as durable_facts
from memory.text.spoken import join_spoken_digits
from memory.text.values import values_in

T0 = datetime(2026, 11, 19, 15, 0, tzinfo=UTC)


def _said(role: str, text: str) -> set[tuple[str, str]]:
    digest = classify(Turn("x", role, text, T0))
    assert digest.kind == "key", digest
    return {(v.kind, v.text) for v in digest.said}


@pytest.mark.parametrize(
    ("role", "text", "kind", "value"),
    [
        ("assistant", "i found a compact toyota corolla you can collect on monday", "car_type", "toyota corolla"),
        ("assistant", "there is an intermediate car, a nissan sentra, ready at noon", "car_type", "nissan sentra"),
        ("assistant", "I have a Ford Focus available from Tuesday.", "car_type", "Ford Focus"),
        ("user", "a mazda would be fine", "car_type", "mazda"),
        (
            "assistant",
            "your train departs from sacramento valley station at nine",
            "place",
            "sacramento valley station",
        ),
        (
            "assistant",
            "You land at Newark Liberty International Airport.",
            "place",
            "Newark Liberty International Airport",
        ),
        ("assistant", "the coach leaves the oakland um bus terminal at noon", "place", "oakland bus terminal"),
        ("assistant", "the full trip is priced at 212 for both of you", "amount", "212"),
        ("assistant", "okay the fare is 14 35 and the car is on its way", "amount", "14 35"),
        ("assistant", "the total comes to 1,250 for three nights", "amount", "1,250"),
        ("user", "take it out of my savings account please", "account", "savings"),
        ("user", "i'd rather pay with my debit card", "account", "debit card"),
        ("user", "could you wire the rent to okonkwo", "payee", "okonkwo"),
        ("assistant", "Please confirm: $75 sent to Lucia from your savings.", "payee", "Lucia"),
        ("user", "i'd like a business class seat on that one", "class", "business class"),
        ("assistant", "so that's a shared ride for two is that right", "class", "shared ride"),
        ("assistant", "the suite goes for 340 per night with breakfast", "amount", "340"),
        ("assistant", "so that's a bus from boise to salt lake city on friday is that right", "name", "boise"),
        ("assistant", "so that's a bus from boise to salt lake city on friday is that right", "name", "salt lake city"),
        ("assistant", "please confirm a checkup with dr amara osei on the 9th", "name", "amara osei"),
    ],
)
def test_the_values_of_other_services_are_kept(role: str, text: str, kind: str, value: str) -> None:
    assert (kind, value) in _said(role, text)


@pytest.mark.parametrize(
    "text",
    [
        "i need a focus on the budget",  # a model that is an English word, without its make
        "take me to the bus station",  # a terminal no word names
        "the price is 7 pm or later",  # a time, not a fare
        "it costs 3 tickets per family",  # what is counted, not a fare
        "the tickets are 4 for the whole group",  # a count as likely as a price
        "transfer it to my checking account",  # an account, not who gets the money
    ],
)
def test_no_value_where_none_was_said(text: str) -> None:
    kinds = {(v.kind, v.text) for v in values_in(text)}
    assert not {k for k in kinds if k[0] in ("car_type", "place", "amount", "payee")}, kinds


def test_a_part_of_a_longer_number_said_in_words_is_no_number_of_its_own() -> None:
    said = "i want to send one thousand one hundred and, like, sixty dollars"
    assert "160" not in join_spoken_digits(said) and "60" not in join_spoken_digits(said)
    assert not [v for v in values_in(said) if v.kind == "amount" and v.normalised.startswith("60")]
    assert join_spoken_digits("it was forty two dollars") == "it was 42 dollars"  # a lone number still joins


def test_an_amount_keeps_its_digits_as_written_and_a_sum_in_words_stays_as_said() -> None:
    digest = classify(Turn("x", "assistant", "Your checking balance is $4,209.18 after the transfer.", T0))
    assert "$4,209.18" in digest.tags and "$4209.18" not in digest.tags
    spoken = classify(Turn("y", "user", "please send two thousand four hundred bucks to my landlord", T0))
    numbers = {n for tag in spoken.tags for n in re.findall(r"\d+", tag)}
    assert not numbers, spoken.tags  # "2400" is right, but nothing wrote it: the words stay as said


def test_a_house_number_after_at_is_no_time_of_an_appointment() -> None:
    facts = durable_facts("your appointment is booked for friday at 1450 mission street", "assistant", T0, certain=True)
    appointment = [f.value for f in facts if f.attribute == "appointment"]
    assert appointment and all(" at 14" not in v for v in appointment), appointment

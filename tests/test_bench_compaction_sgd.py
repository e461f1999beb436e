"""The compaction benchmark's long calls of the full release's other services (``--split more-tune`` /
``more-heldout``), on synthetic episodes: no data set needed."""

from __future__ import annotations

import re
from dataclasses import replace

from bench import bench_compaction_sgd as bench
from bench.sgd import data, vocab


def _episode(n: int, kind: str, service: str, said: dict[str, str]) -> data.Episode:
    turns = (
        data.TurnTruth("user", "I need to book something for next week, please."),
        data.TurnTruth(
            "assistant",
            "Please confirm: " + ", ".join(said.values()) + ".",
            frozenset((group, data.canon(value)) for group, value in said.items()),
        ),
        data.TurnTruth("user", "Yes, that's right, thank you very much for your help today."),
    )
    values = {group: data.canon(value) for group, value in said.items()}
    surfaces = {group: (value,) for group, value in said.items()}
    return data.Episode(f"d{n}", 1, service, kind, "", turns, values, surfaces)


def _episodes() -> list[data.Episode]:
    out = []
    for n in range(60):
        if n % 3 == 0:
            out.append(_episode(n, "car", "RentalCars_1", {"car": "Honda Accord", "pickup": "Fresno Station"}))
        elif n % 3 == 1:
            out.append(_episode(n, "transfer", "Banks_1", {"amount": "$1,630", "recipient": "Maria"}))
        else:  # a check-out said relative to the dialogue's own day is not asked, as a relative date is not
            out.append(_episode(n, "hotel", "Hotels_2", {"checkout": "next Friday", "price": "$912"}))
    return out


def test_the_full_releases_halves_build_calls_of_their_own_kinds_with_their_wordings() -> None:
    calls = bench.build_calls(_episodes(), half="more-tune", seed=0, count=2)
    asked = [ask for call in calls for ask in call.asks.values()]
    assert asked and {a.fact.kind for a in asked} <= {"car", "transfer", "hotel"}
    assert "checkout" not in {a.fact.group for a in asked}
    questions = [t.text.lower() for call in calls for t in call.turns if t.id in call.asks]
    # the booking as a caller names it, and what is asked about in words, never a slot's name
    assert any("car i rented" in q or "money transfer" in q or "place i booked to stay" in q for q in questions)
    assert not any(word in q for q in questions for word in ("car_type", "pickup location", "price range"))
    starts = {
        re.sub(r"[^\w ]", "", w.split("{")[0].lower()).strip() for w in vocab.for_half(bench.QUESTIONS, "more-tune")
    }
    assert all(any(re.sub(r"[^\w ]", "", q).startswith(start) for start in starts) for q in questions)


def test_the_held_out_half_is_asked_with_the_other_wordings() -> None:
    assert set(vocab.for_half(bench.QUESTIONS, "more-heldout")).isdisjoint(vocab.for_half(bench.QUESTIONS, "more-tune"))
    assert bench.bookings_of("more-heldout") == bench.bookings_of("more-tune") == bench.MORE_BOOKINGS


def test_the_subsets_halves_build_calls_of_the_subsets_kinds_only() -> None:
    for half in ("tune", "heldout", "tune2", "tune3", "tune4", "tune5", "tune6", "tune7", "tune8", "tune9"):
        assert set(bench.bookings_of(half)) == {"restaurant", "event", "song", "movie"}
    assert not set(bench.MORE_BOOKINGS) & set(bench.BOOKINGS)
    assert set(bench.MORE_BOOKINGS) <= set(vocab.KINDS)


def test_every_value_group_of_the_other_services_has_a_wording() -> None:
    groups = {group for service, (kind, _, slots) in vocab.SERVICES.items() if kind in bench.MORE_BOOKINGS
              for group in slots.values()}  # fmt: skip
    assert groups and groups <= set(bench.NOUNS)
    assert all("_" not in bench.NOUNS[g] for g in groups)


def test_the_check_reads_a_clock_said_with_a_part_of_the_day_and_nothing_else() -> None:
    assert "2:30" in bench.said_numbers("pick the car up at 2 30 in the afternoon")
    assert "7:15" in bench.said_numbers("at 7 15 pm")
    assert "2:30" not in bench.said_numbers("2 30 people in the afternoon")
    assert "2:30" in bench.said_numbers("i plan to pick it up at afternoon 2 30")
    assert "2:30" not in bench.said_numbers("afternoon 2 people 30 minutes")
    assert "1:30" in bench.said_numbers("i want it at half past past 1 in the afternoon")  # a stutter


def test_kinds_narrow_a_halfs_mix_and_refuse_a_kind_it_does_not_book() -> None:
    assert set(bench.call_kinds("tune")) == set(bench.BOOKINGS)
    assert bench.call_kinds("tune", ("song", "event")) == tuple(k for k in bench.BOOKINGS if k in ("song", "event"))
    try:
        bench.call_kinds("tune", ("car",))
    except SystemExit as error:
        assert "car" in str(error)
    else:
        raise AssertionError("an unknown kind was accepted")


def test_a_booking_made_in_another_episodes_call_counts_in_the_ordinal() -> None:
    # tune5 / tune6: a call about a song where a table was booked too; the next table is "the second"
    episodes = []
    for n in range(40):  # dialogues of a minute or two, a dozen to a call
        if n % 2:
            table = _episode(n, "restaurant", "Restaurants_1", {"restaurant": "Avalon", "party": "4"})
            episodes.append(replace(table, turns=table.turns * 6))
        else:
            song = _episode(n, "song", "Music_2", {"song": "Shallow", "artist": "Lady Gaga"})
            episodes.append(replace(song, turns=song.turns * 6, other_bookings=("restaurant",)))
    checked = 0
    for call in bench.build_calls(episodes, half="tune6", seed=0, count=2):
        order = list(dict.fromkeys(f.id.split("/")[1] for f in call.facts))
        for qid, ask in call.asks.items():
            nth = order.index(ask.fact.id.split("/")[1])  # every earlier episode booked a table
            if ask.fact.kind != "restaurant" or nth >= len(bench.ORDINALS):
                continue
            question = next(t.text for t in call.turns if t.id == qid)
            assert f"the {bench.ORDINALS[nth]}table" in question.lower(), question
            checked += nth > 0
    assert checked


def test_a_value_is_found_whether_its_spoken_digits_were_joined_or_not() -> None:
    price = _episode(0, "ride", "RideSharing_2", {"price": "$25.88"})
    price = replace(price, surfaces={"price": ("$25.88", "25.88")})  # as the data set gives it, said with and without
    clock = _episode(1, "event", "Events_2", {"time": "7:30 pm"})
    carried = bench.norm("- 11:51 values: 124; 25 88; 26 minutes\n- 12:02 agent: [7:30pm]")
    assert carried.count("2588") == 1  # the digits were joined by their context, as said
    assert any(form in carried for form in bench._forms(price, "price"))
    assert any(form in carried for form in bench._forms(clock, "time"))
    for other in ("it costs 25 89", "order 12588", "7 30 people at 9 pm"):
        text = bench.norm(other)
        assert not any(form in text for form in bench._forms(price, "price") + bench._forms(clock, "time")), other

"""Tiered durable notes at the end of a long call: the booking under way and the values lines."""

from __future__ import annotations

from memory.compaction import CompactionPolicy, Compactor
from tests.test_compaction_budget import lower_case_event_bookings, turns_of

ORDINALS = ["first", "second", "third", "fourth", "fifth"]


def last_booking_with_a_long_search() -> list[tuple[str, str]]:
    """Eight event bookings, then one whose search goes through several venues before the one taken, then the
    caller's questions back about the bookings (which keep the last booking the one under way to the end)."""
    pairs = lower_case_event_bookings(8)
    pairs += [
        ("user", "i would like to know when events are taking place"),
        ("assistant", "for which city are you interested in"),
        ("user", "i want to know if the drums are having any event in sfo"),
        ("assistant", "there are 5 days of events for the drums at the warfield theater there is one today"),
        ("user", "where is the venue and what is the start time"),
        ("assistant", "the show is at 5 pm at 982 market street"),
        ("user", "are there any other dates available"),
        ("assistant", "there is another the drums event at the warfield theater next wednesday"),
        ("user", "what else is available on other dates i want to see low roar in ny"),
        ("assistant", "low roar is performing next friday at the appel room"),
        ("user", "that is awesome"),
        ("assistant", "would you like tickets for this event"),
        ("user", "yes i want three tickets"),
        ("assistant", "please confirm 3 tickets to the event in new york next friday"),
        ("user", "yes please, what time does it start"),
        ("assistant", "i have made your reservation, it starts at five thirty pm at ten columbus circle"),
        ("user", "i appreciate your assistance"),
        ("assistant", "is there anything else i can assist you with"),
    ]
    for k in range(10):
        pairs += [
            ("user", f"sorry what was the number of people for the {ORDINALS[k % 5]} event tickets again"),
            ("assistant", f"that was {k % 3 + 2} tickets for that one, is there anything else you would like to check"),
        ]
    return pairs


def test_the_booking_under_way_keeps_its_values_when_lines_must_leave_the_notes() -> None:
    """At the end of a call the last booking is still the one under way (the caller's questions back belong to no
    booking), so its lines were never merged and were the first to leave when the notes passed the budget: the
    venue taken ("the appel room") was lost while the older bookings kept their values lines. Its lines now go to
    its values line before any leaves."""
    turns = turns_of(last_booking_with_a_long_search(), step_s=9)
    compactor = Compactor(CompactionPolicy(token_budget=800))
    said = " ".join(t.text for t in turns)
    for turn in turns:
        compactor.add(turn)
        plan = compactor.plan(turn.text if turn.role == "user" else None)
        assert plan.tokens <= 800 and not plan.over_budget
        compactor.warm()
    notes = compactor.plan(None).notes.splitlines()
    last = [line for line in notes if "appel room" in line]
    assert last and " values: " in last[0]  # the booking under way, as one values line
    assert "low roar" in last[0].lower() and "next friday" in last[0]
    for line in notes:
        if " values: " in line:
            assert all(word in said.lower() for word in line.split(" values: ", 1)[1].lower().replace(";", " ").split())
    assert sum(" values: " in line for line in notes) >= 4  # the older bookings keep theirs


def test_a_venue_whose_name_starts_with_digits_is_read_and_reaches_the_values_line() -> None:
    """A venue "at 5a5 steak lounge" is one in lower case like "at red tavern lounge": a word of its name may start with
    digits when letters follow; a number alone or an ordinal before the venue word is still no name."""
    from memory.text.values import values_in

    def names(said: str) -> list[str]:
        return [v.text for v in values_in(said) if v.kind == "name"]

    assert names("a table for two at 5a5 steak lounge located in san francisco is that correct") == ["5a5 steak lounge"]
    assert names("the show is at 8 lounge") == [] and names("it is on the 3rd stage") == []
    assert names("meet me at 4th street place") == []
    pairs: list[tuple[str, str]] = []
    for k in range(8):
        venue = "5a5 steak lounge" if k == 1 else ["red tavern lounge", "blue note club", "the fox theater"][k % 3]
        pairs += [
            ("user", "i would like to book a table for dinner please"),
            ("assistant", f"how about {venue} in san francisco, it is a nice place"),
            ("user", f"sounds good, a table for {k % 3 + 2} at seven pm please"),
            ("assistant", f"please confirm a table for {k % 3 + 2} today at seven pm at {venue} in san francisco"),
            ("user", "yes that's right"),
            ("assistant", f"your table is booked, the phone number is 415-555-01{10 + k}. anything else?"),
            ("user", "no that's all thanks"),
        ]
    compactor = Compactor(CompactionPolicy(token_budget=800))
    for turn in turns_of(pairs, step_s=9):
        compactor.add(turn)
        compactor.plan(turn.text if turn.role == "user" else None)
        compactor.warm()
    second = [line for line in compactor.plan(None).notes.splitlines() if "415-555-0111" in line]
    assert second and " values: " in second[0] and "5a5 steak lounge" in second[0]

"""What an older booking's values line holds once the durable notes are tiered."""

from __future__ import annotations

from memory.compaction import CompactionPolicy, Compactor
from tests.test_compaction_budget import turns_of


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
    second = _notes_lines_with(pairs, "415-555-0111")
    assert second and " values: " in second[0] and "5a5 steak lounge" in second[0]


def test_where_a_stay_was_reaches_its_values_line() -> None:
    """A city said in lower case only in the frames of a trip ("we're visiting kuala lumpur", "a house in ny") is no
    capitalised name; an older booking's values line holds it all the same."""
    cities = ["kuala lumpur", "new york", "paris", "london uk", "san diego", "phoenix", "seattle", "denver"]
    pairs: list[tuple[str, str]] = []
    for k, city in enumerate(cities):
        pairs += [
            ("user", f"i need a house, there are {k % 3 + 2} of us and we're visiting {city}"),
            ("assistant", f"i found a house at {100 + k} main street, it is rated 4 stars and costs {200 + k} dollars"),
            ("user", "sounds good, please book it for next monday"),
            ("assistant", f"please confirm a house for {k % 3 + 2} people in {city} checking in next monday"),
            ("user", "yes that's right"),
            ("assistant", f"your house is booked, the phone number is 415-555-01{10 + k}. anything else?"),
            ("user", "no that's all thanks"),
        ]
    second = _notes_lines_with(pairs, "415-555-0111")
    assert second and " values: " in second[0] and "new york" in second[0], second


def _notes_lines_with(pairs: list[tuple[str, str]], said: str) -> list[str]:
    """The notes lines holding ``said`` once the call of ``pairs`` (a request planned after each caller's turn, as
    the worker does) was compacted at budget 800."""
    compactor = Compactor(CompactionPolicy(token_budget=800))
    for turn in turns_of(pairs, step_s=9):
        compactor.add(turn)
        compactor.plan(turn.text if turn.role == "user" else None)
        compactor.warm()
    return [line for line in compactor.plan(None).notes.splitlines() if said in line]

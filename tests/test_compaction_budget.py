"""Compaction within the budget by an exact token count, a stable notes prefix, recall by booking."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta

from memory.compaction import CompactionPolicy, Compactor, Turn, message_tokens
from memory.compaction.compactor import TAIL_FLOOR
from memory.compaction.policy import DEFAULT_ENCODING, MESSAGE_OVERHEAD_TOKENS, count_tokens, encoding_for

T0 = datetime(2026, 11, 19, 15, 0, tzinfo=UTC)


def turns_of(pairs: list[tuple[str, str]], *, step_s: float = 6.0, prefix: str = "t") -> list[Turn]:
    return [
        Turn(f"{prefix}{i:04d}", role, text, T0 + timedelta(seconds=step_s * i)) for i, (role, text) in enumerate(pairs)
    ]


def plan_tokens(compactor: Compactor, plan) -> int:
    """What the request carries, counted exactly: the blocks and every verbatim turn."""
    tail = sum(message_tokens(t.text) for t in compactor.turns[compactor.boundary :])
    return tail + sum(message_tokens(block) for block in (plan.notes, plan.recall) if block)


def spans_read(said: str, kind: str = "name") -> list[str]:
    """The spans of ``kind`` the values line's reader finds in ``said`` (a sentence of a turn, no names before)."""
    from memory.compaction.compactor import _named_spans

    return [span for k, span in _named_spans(said, []) if k == kind]


def many_references(n: int) -> list[tuple[str, str]]:
    """A call in which the agent files ``n`` tickets, each with its own reference and amount."""
    pairs: list[tuple[str, str]] = []
    for k in range(n):
        pairs.append(
            ("user", f"There is another charge I don't recognise, the one from the {k + 1}th, can you check it?")
        )
        pairs.append(
            (
                "assistant",
                f"I've opened ticket {7100 + k} for the charge of ${10 + k}.{k % 10}5, you'll hear from us within five days.",
            )
        )
        pairs.append(("user", "uh-huh"))
    return pairs


def test_counts_are_exact_in_the_models_encoding() -> None:
    assert encoding_for("gpt-4.1-mini") == "o200k_base" and encoding_for("gpt-4o") == "o200k_base"
    assert encoding_for("gpt-4") == "cl100k_base"
    assert encoding_for("some-other-model") == "o200k_base"  # a close proxy, not exact
    assert count_tokens("") == 0
    assert count_tokens("hello world") == 2 and count_tokens("hello world", "cl100k_base") == 2
    assert message_tokens("hello world") == 2 + MESSAGE_OVERHEAD_TOKENS
    # characters / 4 undercounts digits and quoted data: the exact count is what the budget holds to
    quoted = '- 03:12 agent: "ticket 7104 for the charge of $14.45" [ticket 7104; $14.45]'
    assert count_tokens(quoted) != len(quoted) // 4


def test_every_request_fits_the_budget_even_when_durable_lines_alone_would_not() -> None:
    policy = CompactionPolicy(token_budget=700)
    compactor = Compactor(policy)
    turns = turns_of(many_references(40))
    durable = 0
    values_only = set()  # older durable lines shown as their values alone, at some point of the call
    for turn in turns:
        compactor.add(turn)
        plan = compactor.plan(turn.text if turn.role == "user" else None)
        values_only.update(
            line for line in plan.notes.splitlines() if re.match(r"- \S+ (?:agent \(promise\): \[|values: )", line)
        )  # a line's values alone, or the values of several lines of one booking in one line
        assert plan_tokens(compactor, plan) == plan.tokens
        assert plan.tokens <= policy.token_budget and not plan.over_budget
        if plan.compacted:
            assert len(compactor.turns) - compactor.boundary >= TAIL_FLOOR  # the newest turns stay verbatim
        compactor.warm()
    durable = sum(message_tokens(line.full) for line in compactor._lines if line.key)
    assert durable > policy.token_budget  # the durable lines alone would not fit: they were tiered
    lines = [line for line in compactor.plan(None).notes.splitlines() if line.startswith("- ")]
    agent = [line for line in lines if "agent" in line]
    assert "\"I've opened ticket" in agent[-1]  # the most recent keep their full line
    older = [line for line in agent if "\"I've opened ticket" not in line]
    assert all("ticket 71" in line and "$" in line for line in older)  # older ones: their values, or gone
    assert values_only and all(
        ("ticket 71" in line and "$" in line) or (" values: " in line and re.search(r"\d", line))
        for line in values_only
    )
    assert "ticket 7100" not in "\n".join(lines)  # the oldest left the notes (an in-call recall finds them)
    assert [t.id for t in compactor.turns].index(compactor.plan("ticket 7100?").recalled_ids[0]) == 1


def test_a_value_asked_about_keeps_its_full_line() -> None:
    policy = CompactionPolicy(token_budget=600)
    compactor = Compactor(policy)
    turns = turns_of(many_references(40))
    for turn in turns[:45]:
        compactor.add(turn)
        compactor.warm()
    plan = compactor.plan("What was the ticket for the charge from the 2th again? ticket 7101")
    assert any(
        compactor.turns[compactor._index[i]].text.startswith("I've opened ticket 7101") for i in plan.recalled_ids
    )
    for turn in turns[45:]:
        compactor.add(turn)
        compactor.warm()
    lines = compactor.plan(None).notes.splitlines()
    asked = next(line for line in lines if "7101" in line)
    assert "\"I've opened ticket 7101" in asked  # asked about: its full line, while older neighbours are tiered
    assert not any("7102" in line or "7103" in line for line in lines if "\"I've opened" in line)


def test_the_notes_grow_by_appending_so_requests_share_their_prefix() -> None:
    policy = CompactionPolicy(token_budget=800)
    compactor = Compactor(policy)
    turns = turns_of(many_references(60))
    notes: list[str] = []
    for turn in turns:
        compactor.add(turn)
        plan = compactor.plan(None)
        if plan.compacted:
            notes.append(plan.notes)
        compactor.warm()
    assert notes[0].splitlines()[:2] == notes[-1].splitlines()[:2]  # the header does not move
    kept = [b.startswith("\n".join(a.splitlines()[:-2]) + "\n") for a, b in itertools.pairwise(notes)]
    assert sum(kept) / len(kept) >= 0.8


BOOKINGS = [
    ("user", "Hi, I'd like to book a table at an Italian restaurant in San Jose."),
    ("assistant", "How about Trattoria Roma in San Jose? They have a table at 6:30 pm."),
    ("user", "Sounds good, for two people please."),
    ("assistant", "Please confirm: a table for 2 at Trattoria Roma in San Jose at 6:30 pm tomorrow."),
    ("user", "Yes."),
    ("assistant", "Your reservation is confirmed. Enjoy your meal."),
    ("user", "Can you also find me tickets for a concert in Oakland?"),
    ("assistant", "There is Bryan Adams at the Fox Theater in Oakland on Friday at 8 pm."),
    ("user", "Great, three tickets please."),
    ("assistant", "Please confirm: 3 tickets for Bryan Adams at the Fox Theater on Friday at 8 pm."),
    ("user", "That's right."),
    ("assistant", "Your tickets have been purchased. Enjoy the show."),
    ("user", "And I need another table, a sushi place in Palo Alto this time."),
    ("assistant", "How about Sushi Tomo in Palo Alto? They have a table at 7:45 pm."),
    ("user", "Okay, for four people."),
    ("assistant", "Please confirm: a table for 4 at Sushi Tomo in Palo Alto at 7:45 pm on Saturday."),
    ("user", "Yes please."),
    ("assistant", "Your reservation is confirmed. Enjoy your meal."),
]
SMALL_TALK = [
    ("user", "By the way, the weather has been lovely this week, hasn't it?"),
    ("assistant", "It really has, a good week to be out and about in the sunshine."),
]


def test_recall_finds_the_turn_of_the_booking_asked_about() -> None:
    compactor = Compactor(CompactionPolicy(token_budget=400))
    for turn in turns_of(BOOKINGS + SMALL_TALK * 12):
        compactor.add(turn)
        compactor.warm()
    assert compactor.boundary > len(BOOKINGS)  # every booking is condensed
    texts = {t.id: t.text for t in compactor.turns}

    def recalled(question: str) -> list[str]:
        return [texts[i] for i in compactor.plan(question).recalled_ids]

    second = recalled("Sorry, what time was the second table I booked?")
    assert any("7:45 pm" in text for text in second) and not any("6:30 pm" in text for text in second)
    first = recalled("And the first table, what time was that again?")
    assert any("6:30 pm" in text for text in first) and not any("7:45 pm" in text for text in first)
    tickets = recalled("How many tickets did I get for the concert again?")
    assert any("3 tickets" in text for text in tickets)


def test_an_older_bookings_lines_become_one_values_line_with_the_corrections() -> None:
    names = ["Bistro Liaison", "Coupa Cafe", "Limon Rotisserie", "Akira Japanese", "Olive Garden", "Tabla Indian"]
    pairs: list[tuple[str, str]] = []
    for k in range(12):
        name, hour, party = names[k % len(names)], k % 5 + 5, k % 3 + 3
        pairs += [
            ("user", f"I'd like to book a table for 2 at {name} at {hour} pm."),
            ("assistant", f"Please confirm: a table for 2 at {name} at {hour} pm today."),
            ("user", f"Actually, make it for {party} people."),
            (
                "assistant",
                f"Done: a table for {party} at {name} at {hour} pm today, the address is {100 + k} Main Street. "
                "Anything else I can help with?",
            ),
            ("user", "No, that's all, bye."),
        ]
    turns = turns_of(pairs)
    compactor = Compactor(CompactionPolicy(token_budget=800))
    said = " ".join(t.text for t in turns)
    for turn in turns:
        compactor.add(turn)
        plan = compactor.plan(None)
        assert plan.tokens <= 800
        for line in plan.notes.splitlines():
            if " values: " in line:
                assert all(number in said for number in re.findall(r"\d+", line.split(" values: ", 1)[1]))
        compactor.warm()
    merged = [line for line in compactor.plan(None).notes.splitlines() if " values: " in line]
    assert merged  # older bookings: one line of values each
    first = next(line for line in merged if "Main Street" in line)
    k = int(re.search(r"(\d+) Main Street", first).group(1)) - 100
    party = k % 3 + 3
    assert names[k % len(names)] in first and f"for {party}" in first and f"{k % 5 + 5} pm" in first  # as said
    assert "for 2" not in first  # the correction replaced the count said first


def lower_case_event_bookings(n: int) -> list[tuple[str, str]]:
    """``n`` event bookings said in lower case (as a recogniser writes them), each closed by the caller."""
    venues = ["citi field", "union stage", "the fox theater", "chase center", "oracle park", "sony hall"]
    bands = ["carbon leaf", "amber run", "low roar", "the drums", "tash sultana", "bill callahan"]
    genres = ["rock", "jazz", "pop", "country", "folk", "blues"]
    pairs: list[tuple[str, str]] = []
    for k in range(n):
        band, venue, genre = bands[k % 6], venues[k % 6], genres[k % 6]
        pairs += [
            ("user", "hi i'd like tickets for a concert please"),
            (
                "assistant",
                f"i found 10 events, there's {band} playing at {venue} on march {k + 3}th at seven thirty pm",
            ),
            ("user", f"sounds good, {k % 3 + 2} tickets please"),
            ("assistant", f"please confirm {k % 3 + 2} tickets for {band} on march {k + 3}th"),
            ("user", "yes that's right"),
            ("assistant", f"your tickets are booked, it is a {genre} event at {100 + k} main street. anything else?"),
            ("user", "no that's all thanks"),
        ]
    return pairs


def test_a_values_line_lists_its_values_without_brackets_and_costs_less_than_the_old_form() -> None:
    """An older booking's values line is "- mm:ss values: a; b": four tokens a line fewer than "values said: [a; b]",
    so that more of the older bookings keep their values within the same budget."""
    turns = turns_of(lower_case_event_bookings(10), step_s=9)
    compactor = Compactor(CompactionPolicy(token_budget=800))
    for turn in turns:
        compactor.add(turn)
        compactor.plan(turn.text if turn.role == "user" else None)
        compactor.warm()
    lines = [line for line in compactor.plan(None).notes.splitlines() if " values: " in line]
    assert lines
    for line in lines:
        assert re.fullmatch(r"- \d\d:\d\d values: [^\[\]]+", line)
        old = line.replace(" values: ", " values said: [") + "]"
        assert count_tokens(line, DEFAULT_ENCODING) < count_tokens(old, DEFAULT_ENCODING)


def test_older_bookings_keep_one_values_line_each_with_their_values_as_said() -> None:
    turns = turns_of(lower_case_event_bookings(10), step_s=9)
    compactor = Compactor(CompactionPolicy(token_budget=800))
    said = " ".join(t.text for t in turns)
    for turn in turns:
        compactor.add(turn)
        plan = compactor.plan(turn.text if turn.role == "user" else None)
        assert plan.tokens <= 800
        compactor.warm()
    lines = [line for line in compactor.plan(None).notes.splitlines() if " values: " in line]
    assert len(lines) >= 5  # the older bookings are still there, one values line each, not left out
    for k, line in enumerate(lines):
        values = line.split(" values: ", 1)[1]
        assert re.match(r"- \d\d:\d\d values: ", line)  # dated by the booking's first line
        assert all(number in said for number in re.findall(r"\d+", values))
        assert "seven thirty pm" in values and "7:30pm" not in values  # a time as it was said
        assert "10;" not in values and not values.startswith("10")  # "i found 10 events" says nothing alone
        assert f"march {k + 3}th" in values
        assert sum(f"march {k + 3}th" in other for other in lines) == 1  # one values line a booking
        if k < 5:  # merged whole (the latest ones may still have lines of their own after it)
            assert f"{100 + k} main street" in values
    venues_and_genres = " ".join(lines)
    assert "citi field" in venues_and_genres and "union stage" in venues_and_genres  # venues in lower case
    assert "rock" in venues_and_genres and "jazz" in venues_and_genres  # "a rock event": the genre


def test_a_question_about_an_older_booking_keeps_its_values_line() -> None:
    """A recalled turn counts as asked about; once its booking is one values line, asking does not bring its
    full words back (the recall brings them), so the other bookings' values are not pushed out."""
    turns = turns_of(lower_case_event_bookings(10), step_s=9)
    compactor = Compactor(CompactionPolicy(token_budget=800))
    for turn in turns[:49]:
        compactor.add(turn)
        compactor.warm()
    before = [line for line in compactor.plan(None).notes.splitlines() if " values: " in line]
    assert any("100 main street" in line for line in before)
    plan = compactor.plan("sorry what was the address for the first event tickets again")
    assert plan.recalled_ids  # the exact turns come back in the recall
    for turn in turns[49:]:
        compactor.add(turn)
        compactor.plan(turn.text if turn.role == "user" else None)
        compactor.warm()
    notes = compactor.plan(None).notes.splitlines()
    first = [line for line in notes if "100 main street" in line]
    assert first and all(" values: " in line for line in first)


def test_named_spans_read_venues_and_genres_in_lower_case() -> None:
    from memory.compaction.compactor import _named_spans

    said = "there's a mets vs braves game today in citi field at seven pm"
    assert _named_spans(said, []) == [("name", "mets vs braves"), ("name", "citi field")]  # in the order said
    assert _named_spans("one event will take place on union stage", []) == [("name", "union stage")]
    assert _named_spans("it is pop music from 2015", []) == [("genre", "pop")]
    assert _named_spans("i'd like to sit in the park", []) == []  # a place, no venue named
    assert _named_spans("at the Fox Theater in Oakland", ["Fox Theater"]) == []  # read already
    assert _named_spans("do you like dance macabre by ghost from the album prequelle", []) == [
        ("name", "dance macabre"),
        ("name", "ghost"),
        ("name", "prequelle"),
    ]
    assert _named_spans("how about baby sexy, it's from the try again album", []) == [("name", "try again")]
    assert ("name", "falcons vs jaguars") in _named_spans("one is called falcons vs jaguars which starts at 8 pm", [])
    # an event has no head word: what the tickets are for names it, words like "in" and "to" inside
    said = "so that is two tickets for rivers to the sea on april 3rd in denver"
    assert _named_spans(said, []) == [("name", "rivers to the sea"), ("name", "denver")]
    assert _named_spans("i booked one ticket for you to songs of the sea which starts at 8", []) == [
        ("name", "songs of the sea")
    ]
    assert _named_spans("can i get tickets for 3 people", []) == []  # who goes, not what
    assert _named_spans("two tickets for the concert tonight", []) == []
    assert _named_spans("the venue is cobalt and the show starts at 9", []) == [("name", "cobalt")]
    assert _named_spans("the venue is 12 elm road", ["12 elm road"]) == []  # an address read already
    assert _named_spans("it is from the album the long road home", []) == [("name", "the long road home")]


def test_named_spans_read_event_venues_performers_cities_and_games() -> None:
    from memory.compaction.compactor import _named_spans

    # a venue after "at", with its "the"; who performs, word by word up to the frame
    said = "okay the psychedelic furs will be at the observatory north park on march 3rd"
    assert _named_spans(said, ["observatory north park", "march 3rd"]) == [
        ("name", "psychedelic furs"),
        ("name", "the observatory north park"),
    ]
    assert ("name", "kenny's alley") in _named_spans("there's an event called taking back sunday at kenny's alley", [])
    assert ("name", "taking back sunday") in _named_spans(
        "there's an event called taking back sunday at kenny's alley", []
    )
    assert _named_spans("the event is at eight pm on march 3rd", []) == []  # a time, no venue
    assert _named_spans("the game is at 8 on march 3rd", []) == []  # digits alone, no venue
    assert _named_spans("a table at red tavern for 2 at 7 pm", []) == []  # no event talked of: no place read
    # a city after "in" near ticket words, of one or two words; never a day or a time
    said = "please confirm 2 tickets for harlem gospel choir on march 6th in new york"
    assert _named_spans(said, ["2 tickets", "march 6th"]) == [("name", "harlem gospel choir"), ("name", "new york")]
    assert _named_spans("any events in seattle wa", []) == [("name", "seattle wa")]
    assert _named_spans("two tickets for the concert in march", []) == []
    assert _named_spans("i'd like to sit in the park", []) == []
    # a performer in an event's frame, "by" inside its name
    said = "confirm 2 tickets for the event guided by voices that is in los angeles on march 8th"
    assert ("name", "guided by voices") in _named_spans(said, [])
    assert _named_spans("There is a Murder City Devils events on March 4th", ["Murder City Devils"]) == []
    # a game's teams of two words and more; a word of the frame is no team's
    said = "there is an event called blue jays vs orioles at rogers centre on march 5th"
    assert _named_spans(said, ["rogers centre"]) == [("name", "blue jays vs orioles")]
    assert _named_spans("tickets for the angels vs white sox game", []) == [("name", "angels vs white sox")]


def test_named_spans_prefer_the_longer_reading() -> None:
    """Capitalised names across "to" and "in", a venue with its "the": the longer reading is kept, the shorter ones
    (read by the value readers) are left out of the values line as inside it."""
    from memory.compaction.compactor import _named_spans

    assert _named_spans(
        "I want 2 tickets for Alice in Glitterland on March 3rd", ["2 tickets", "Alice", "Glitterland"]
    ) == [("name", "Alice in Glitterland")]
    said = "Okay, there is the Pup event at The Irenic on March 8th."
    assert ("name", "The Irenic") in _named_spans(said, ["Pup", "Irenic", "March 8th"])
    assert _named_spans("the concert at the Fox Theater", ["the Fox Theater"]) == []  # no longer than read


def test_a_genre_said_in_a_turn_of_its_own_joins_its_bookings_values_line() -> None:
    """A genre said alone ("it's a soul song", no other value in the turn) gets no durable line of its own; it
    joins its booking's values line, so an older booking still says it once its lines are merged."""
    genres = ["soul", "jazz", "funk", "blues", "folk", "reggae"]
    pairs: list[tuple[str, str]] = []
    for k in range(10):
        pairs += [
            ("user", "hey could you put on some music for me"),
            ("assistant", f"how about track {k + 3}, we could hear it at {k + 4} pm on march {k + 3}th"),
            ("user", "what kind of music is that"),
            ("assistant", f"oh it's a {genres[k % 6]} song, a good one"),
            ("user", f"great, play it at {k + 4} pm please"),
            ("assistant", f"done, it will play on march {k + 3}th at {k + 4} pm in the kitchen. anything else?"),
            ("user", "no that's all thanks"),
        ]
    turns = turns_of(pairs, step_s=9)
    compactor = Compactor(CompactionPolicy(token_budget=800))
    for turn in turns:
        compactor.add(turn)
        assert compactor.plan(None).tokens <= 800
        compactor.warm()
    lines = [line for line in compactor.plan(None).notes.splitlines() if " values: " in line]
    assert len(lines) >= 3
    for line in lines:
        k = int(re.search(r"march (\d+)th", line).group(1)) - 3
        assert genres[k % 6] in line.split(" values: ", 1)[1]  # the genre said in a turn of its own


def test_a_genre_said_before_its_bookings_first_value_joins_its_values_line() -> None:
    """A genre said in a turn of its own before any value of its booking ("i am in the mood for some funk music")
    has no durable line to join yet: the booking's next durable line holds it."""
    genres = ["soul", "jazz", "funk", "blues", "folk", "reggae"]
    pairs: list[tuple[str, str]] = []
    for k in range(10):
        pairs += [
            ("user", f"hey i am in the mood for some {genres[k % 6]} music"),
            ("assistant", "sure, let me have a look for you"),
            ("assistant", f"how about track {k + 3}, we could hear it at {k + 4} pm on march {k + 3}th"),
            ("user", f"great, play it at {k + 4} pm please"),
            ("assistant", f"done, it will play on march {k + 3}th at {k + 4} pm in the kitchen. anything else?"),
            ("user", "no that's all thanks"),
        ]
    compactor = Compactor(CompactionPolicy(token_budget=800))
    for turn in turns_of(pairs, step_s=9):
        compactor.add(turn)
        compactor.warm()
    lines = [line for line in compactor.plan(None).notes.splitlines() if " values: " in line]
    assert len(lines) >= 3
    for line in lines:
        k = int(re.search(r"march (\d+)th", line).group(1)) - 3
        assert genres[k % 6] in line.split(" values: ", 1)[1]


def test_named_spans_read_songs_artists_and_genres_said_in_lower_case() -> None:
    from memory.compaction.compactor import _named_spans

    offer = "how about lucky stars by the night owls from the album paper moon"
    assert ("name", "lucky stars") in _named_spans(offer, [])
    assert ("name", "the night owls") in _named_spans(offer, [])
    assert ("name", "paper moon") in _named_spans(offer, [])
    assert ("genre", "house") in _named_spans("relax the music is a house song", [])
    assert ("genre", "latin") in _named_spans("find me some songs preferably latin", [])
    assert _named_spans("we stayed at a house near the river", []) == []  # "house" alone names no genre
    assert _named_spans("it was sent by mail yesterday", []) == []  # "by" outside an offer names no artist


def test_named_spans_read_songs_offered_asked_for_and_confirmed_in_many_wordings() -> None:
    from memory.compaction.compactor import _named_spans

    def names(said: str, taken: list[str] | None = None) -> list[str]:
        return [span for kind, span in _named_spans(said, taken or []) if kind == "name"]

    # a title of any words, bounded by the offer and "by": "for", "that", "you" inside do not cut it short
    # ... and the record it is on, said last ("in crooked teeth")
    assert names("i have 10 songs for you how about born for greatness by papa roach in crooked teeth") == [
        "born for greatness",
        "papa roach",
        "crooked teeth",
    ]
    assert names("what is your opinion on all that matters by justin bieber in the album journals") == [
        "all that matters",
        "justin bieber",
        "journals",
    ]  # in the order said
    assert "cage the elephant" in names("would you like to hear shake me down by cage the elephant in the album x")
    assert names("slow burn is by kacey musgraves from golden hour") == ["slow burn", "kacey musgraves", "golden hour"]
    assert names("How about Sex Metal Barbie by In This Moment?") == ["Sex Metal Barbie", "In This Moment"]
    # from its album, without its artist
    assert names("i found 4 songs by lorde how about buzzcut season from her album pure heroine")[-2:] == [
        "buzzcut season",
        "pure heroine",
    ]
    assert "I Want You" in names("The track I Want You from the album We Need To Talk is popular.")
    # asked for or confirmed by where it plays
    assert names("please confirm that you want to play born for greatness on the tv") == ["born for greatness"]
    assert names("please confirm superficial love is now playing on the bedroom speaker") == ["superficial love"]
    assert names("okay please confirm that you'd like laila main laila played on your tv") == ["laila main laila"]
    assert names("play on tv the song high on life i'm right") == ["high on life"]
    assert names("will you play nota de plata by the motans on my bedroom speaker") == ["nota de plata", "the motans"]
    assert names("play fresh eyes for me") == ["fresh eyes"]
    # a capitalised title read whole, though a shorter name of it was read already
    assert names("Please confirm: you'd like to play Try to Fight It on the TV.", ["Try", "Fight It", "TV"]) == [
        "Try to Fight It"
    ]
    # words that name no song are no title
    for said in (
        "play it on the tv please",
        "please play the song on my kitchen device",
        "can you play some pop music on the tv",
        "how about a movie by steven spielberg",
        "the event is by the river in the park",
        "do you want me to play it",
        "listen to pop",
    ):
        assert names(said) == [], said


def test_a_durable_turns_names_are_read_from_all_its_sentences() -> None:
    """The agent's "I found 10. How about Back It Up by Prince Royce ...?": the count makes the first sentence
    durable, the song is named in the second; the booking's values line reads both."""
    from memory.compaction.classifier import classify
    from memory.compaction.compactor import _kinded_spans

    said = "I found 10. How about Back It Up by Prince Royce from the Double Vision?"
    digest = classify(Turn("t1", "assistant", said, T0))
    assert digest.kind == "key" and not any("Back It Up" in s for s in digest.key)
    spans = [span for _, span in _kinded_spans(digest)]
    assert "Back It Up" in spans and "Prince Royce" in spans


def test_a_song_offered_and_confirmed_in_lower_case_joins_its_bookings_values_line() -> None:
    """A song named only in the offer and the confirmation ("how about born for greatness by papa roach", "please
    confirm you want to play born for greatness on the tv"): an older booking's values line still says it."""
    songs = [
        ("born for greatness", "papa roach"),
        ("now that i found you", "carly rae jepsen"),
        ("all about that bass", "meghan trainor"),
        ("gotta be a reason", "alec benjamin"),
        ("let me down easy", "billy currington"),
        ("another day of sun", "the la la land cast"),
    ]
    pairs: list[tuple[str, str]] = []
    for k in range(10):
        title, artist = songs[k % 6]
        pairs += [
            ("user", "hey could you find me some songs"),
            ("assistant", f"i found {k + 3} songs for you. how about {title} by {artist} from the album number {k}"),
            ("user", "yes play that one"),
            ("assistant", f"please confirm that you want to play {title} on the kitchen speaker at {k + 4} pm"),
            ("user", "yes"),
            ("assistant", "it is playing now. anything else?"),
            ("user", "no that's all thanks"),
        ]
    compactor = Compactor(CompactionPolicy(token_budget=800))
    for turn in turns_of(pairs, step_s=9):
        compactor.add(turn)
        compactor.warm()
    lines = [line for line in compactor.plan(None).notes.splitlines() if " values: " in line]
    assert len(lines) >= 3
    timed = [line for line in lines if re.search(r"\b\d+ pm\b", line)]
    assert len(timed) >= 3
    for line in timed:
        k = int(re.search(r"\b(\d+) pm\b", line).group(1)) - 4
        title, artist = songs[k % 6]
        assert title in line.split(" values: ", 1)[1] and artist.split()[-1] in line, line


def test_named_spans_read_an_event_named_with_what_it_is() -> None:
    from memory.compaction.compactor import _named_spans

    assert ("name", "paper kites") in _named_spans("would you like the paper kites event on friday", [])
    assert ("name", "marlon reyes") in _named_spans("two seats for the marlon reyes concert", [])
    assert _named_spans("can i get more seats for the same event", []) == []  # no name said


def _planned_each_turn(pairs: list[tuple[str, str]], *, budget: int) -> Compactor:
    """A compactor fed ``pairs`` 9 s apart, planning after each turn as the worker does before each reply."""
    compactor = Compactor(CompactionPolicy(token_budget=budget))
    for turn in turns_of(pairs, step_s=9):
        compactor.add(turn)
        compactor.plan(None)
    return compactor


def test_a_value_noted_in_an_earlier_booking_is_noted_again_in_its_own() -> None:
    """ "2 tickets" and "march 3rd" said for a second booking, as for the first: noted in the second booking too
    (the "already noted" check is within a booking), so that its values line holds them."""
    pairs = [
        ("user", "i need 2 tickets for the mets vs braves game on march 3rd"),
        ("assistant", "please confirm 2 tickets for mets vs braves on march 3rd in new york"),
        ("user", "yes that's right"),
        ("assistant", "your tickets are booked. anything else?"),
        ("user", "no that's all thanks"),
        ("assistant", "you're welcome, goodbye"),
        ("user", "actually can you find me a concert too"),
        ("assistant", "how about the carbon leaf event at the irenic"),
        ("user", "sounds good, 2 tickets on march 3rd please"),
        ("assistant", "please confirm 2 tickets for carbon leaf on march 3rd in san diego"),
        ("user", "yes"),
        ("assistant", "your tickets are booked. enjoy the show"),
    ] + [("user", "okay"), ("assistant", "mm-hmm")] * 12
    compactor = _planned_each_turn(pairs, budget=400)
    booking_of = compactor._booking_of
    second = [line for line in compactor._lines if line.key and booking_of.get(line.index) == 1]
    assert any("2 tickets" in line.full and "march 3rd" in line.full for line in second)
    assert any(("name", "carbon leaf") in line.spans for line in second)  # its values line names what they are for


def test_days_a_search_found_are_no_value_of_the_booking() -> None:
    """ "I found the event on 7 days" says how many dates a search found: its values line leaves it out; a stay of
    4 days is a value."""
    from memory.compaction.classifier import classify
    from memory.compaction.compactor import _kinded_spans

    found = classify(Turn("a", "assistant", "I found the event on 7 days, it is at the Fox Theater on March 3rd.", T0))
    assert ("duration", "7 days") not in _kinded_spans(found)
    assert ("name", "the Fox Theater") in _kinded_spans(found)  # the venue after "at", with its "the"
    stay = classify(Turn("b", "user", "i need a hotel room for 4 days starting march 3rd", T0))
    assert ("duration", "4 days") in _kinded_spans(stay)
    just = classify(Turn("c", "user", "i want the car for just 3 days from march 3rd", T0))
    assert ("duration", "3 days") in _kinded_spans(just)  # how long, however said


def test_named_spans_read_where_a_song_plays_as_its_confirmation_says_it() -> None:
    from memory.compaction.compactor import _named_spans

    assert _named_spans("you want to hear tempo on the kitchen speaker", []) == [
        ("name", "tempo"),
        ("device", "kitchen speaker"),
    ]
    assert ("device", "tv") in _named_spans("please confirm you want me to play girl like you on tv", [])
    assert _named_spans("please play the song on my kitchen device", []) == [("device", "kitchen speaker")]
    assert _named_spans("the tv is too loud in here", []) == []  # a device in other talk
    assert _named_spans("i watched a movie on tv last night", []) == []


def test_where_a_song_plays_joins_its_values_line_across_a_question_back() -> None:
    """The agent's confirmation names the device; a question back about an earlier song, and its answer, said
    between the offer and the confirmation, belong to no booking: the device still joins the song's line."""
    pairs = [
        ("user", "can you find me some music i like old dominion"),
        ("assistant", "What about Hotel Key from the album Happy Endings by Old Dominion?"),
        ("user", "wait what was the artist of the first song you played"),
        ("assistant", "The artist was Jake Owen."),
        ("user", "great can you play it"),
        ("assistant", "you want to play hotel key on the tv"),
        ("user", "yes"),
        ("assistant", "ok it is now playing"),
    ] + [("user", "okay"), ("assistant", "mm-hmm")] * 40
    compactor = _planned_each_turn(pairs, budget=300)
    offer = [line for line in compactor._lines if line.key and ("name", "hotel key") in line.spans]
    assert offer and ("device", "tv") in offer[0].spans


def test_an_answer_or_a_filler_is_never_a_name() -> None:
    """A caller saying "nope, on the bedroom speaker" corrects where a song plays: the answer word before it is no title, nor is a
    filler ("uh on the tv"); a title said there is still read ("play wildflower on the tv")."""
    from memory.compaction.compactor import _named_spans

    for said in (
        "no on the bedroom speaker",
        "nope, on the bedroom speaker please",
        "yeah on the living room tv",
        "uh on the tv",
        "okay um on my kitchen speaker",
        "no thanks on the bedroom speaker",
    ):
        assert spans_read(said) == [], said
    assert ("name", "wildflower") in _named_spans("no play wildflower on the tv", [])
    assert ("name", "wildflower") in _named_spans("wildflower on the kitchen speaker", [])


def test_a_games_teams_are_read_without_a_count_or_a_comma_around_vs() -> None:
    """A game is its two teams: a count before them ("4 rams vs bears tickets") and the tickets after are not a
    team's words, and a pause before "vs" (a comma where a filler was) is not part of its name; a team with digits
    in its name keeps them."""
    from memory.compaction.compactor import _named_spans

    names = [span for _, span in _named_spans("i need 4 rams vs bears tickets", [])]
    assert "rams vs bears" in names and not any("4" in n or "tickets" in n for n in names)
    names = [span for _, span in _named_spans("get me two seahawks vs packers seats", [])]
    assert "seahawks vs packers" in names and not any("two" in n or "seats" in n for n in names)
    assert ("name", "Lakers Vs Celtics") in _named_spans("do you want the Lakers, Vs Celtics instead", [])
    assert ("name", "Dodgers Vs Giants") in _named_spans("two tickets for the Dodgers like, Vs Giants game", [])
    assert ("name", "paper lanterns") in _named_spans("two tickets for paper you know, lanterns on friday", [])
    assert ("name", "49ers vs rams") in _named_spans("there is a 49ers vs rams game on sunday", [])


def test_a_date_or_an_ordinal_is_no_name_of_what_tickets_are_for() -> None:
    """Asking for "tickets for the april 2nd show" says which day, not what: no name; "tickets for the 3rd concert" neither."""
    from memory.compaction.compactor import _named_spans

    for said in (
        "i want two tickets for the april 2nd show",
        "book tickets for the 3rd concert please",
        "can i have tickets for the friday show",
        "tickets for the 9th of june show",
    ):
        assert _named_spans(said, []) == [], said
    assert ("name", "paper lanterns") in _named_spans("two tickets for paper lanterns on april 2nd", [])


def test_a_genre_said_as_the_answer_to_what_kind_it_is_is_read() -> None:
    """Asked what genre a song is, the agent answers in few words: a known genre alone ("it's jazz", "It is Funk.",
    "it is 2019 blues", "Soul from 2012."), or any words framed as a kind of song ("it is a west coast song",
    "it's from 2018 and a chillwave track") or named as the genre ("it's in the afrobeat category", "the genre is
    trip hop", "synthwave is the genre"). An opinion of a song ("it's a great song") is no genre."""

    assert spans_read("oh it's jazz", "genre") == ["jazz"]
    assert spans_read("It is Funk.", "genre") == ["Funk"]
    assert spans_read("it is 2019 blues", "genre") == ["blues"]
    assert spans_read("Soul from um, 2012.", "genre") == ["Soul"]
    assert spans_read("it is a west coast song", "genre") == ["west coast"]
    assert spans_read("it's from 2018 and a chillwave track", "genre") == ["chillwave"]
    assert spans_read("it's in the afrobeat category and it starts in a minute", "genre") == ["afrobeat"]
    assert spans_read("the genre is trip hop", "genre") == ["trip hop"]
    assert spans_read("synthwave is the genre", "genre") == ["synthwave"]
    assert spans_read("i would like some movies of drama", "genre") == ["drama"]
    for said in (
        "it's a great song",
        "that is a really nice track",
        "it is a 2016 song",
        "what genre is it",
        "is it the same genre",
        "it's in the kitchen",
        "i love country roads",
    ):
        assert spans_read(said, "genre") == [], said


def test_a_film_named_in_lower_case_is_read_by_how_it_is_offered_and_played() -> None:
    """A film's title has no head word either: it is read by its frame, "titled ...", "play ... without subtitles",
    "the film ... will start", a bare "how about ..." after what was found, and who directed it by "directed by"."""

    assert spans_read("i see two films now including one titled quiet harbor do you want it") == ["quiet harbor"]
    assert spans_read("okay please confirm playing winter garden without subtitles") == ["winter garden"]
    assert spans_read("please play silver lining with english subtitles") == ["silver lining"]
    assert spans_read("good the movie winter garden will start now") == ["winter garden"]
    assert spans_read("i found 3 of them how about quiet harbor") == ["quiet harbor"]
    assert spans_read("something with a story directed by maria lopez would be nice") == ["maria lopez"]
    for said in ("how about tomorrow", "how about 7 pm", "how about the 12th", "how about it", "how about you"):
        assert spans_read(said) == [], said


def test_an_album_is_read_as_it_is_introduced() -> None:
    """An album introduced by name ("an album called ...", "the album titled ..."), by its year ("from the 2019
    album ..."), or with its capitalised "The" before "album" ("on The Quiet Hours album")."""

    assert "paper boats" in spans_read("she put out an album called paper boats three years ago")
    assert "this is home" in spans_read("it is from the album titled this is home")
    assert "harbor lights" in spans_read("enjoy it, it's from the 2019 album harbor lights")
    assert "The Quiet Hours" in spans_read("Shall I play Tidal by Mira Stone on The Quiet Hours album?")
    assert "try again" in spans_read("how about baby sexy, it's from the try again album")


def test_names_are_read_whole_across_small_words_and_up_to_a_new_clause() -> None:
    """A name keeps its small words ("from the album sing the blues"), an album after "her album" or before "album
    has" is read, a venue of five words is read whole, and a city ends where a new clause starts ("in reno i need
    ...", "in san jose do i have that right")."""

    assert "sing the blues" in spans_read("how about old town by the reeds from the album sing the blues")
    assert "night songs" in spans_read("would you like the lana rey song river from her album night songs")
    assert "blue hour" in spans_read("the blue hour album has night drive by the sundays")
    assert "lake county performing arts center" in spans_read(
        "there is 1 event, paper kites at lake county performing arts center"
    )
    assert "reno" in spans_read("i'd like tickets to the aces vs sparks game in reno i need two")
    assert "san jose" in spans_read(
        "please confirm 2 tickets for the expo on march 3rd in san jose do i have that right"
    )


def test_asking_when_the_song_under_way_came_out_asks_nothing_back() -> None:
    """ "what year did it come out, what kind of song is it" asks about the song just offered, not about something
    said earlier in the call: the agent's answer (its genre) belongs to the booking under way."""
    from memory.compaction.compactor import _ASKS_BACK

    for said in (
        "what year did this track come out and what kind of song is it",
        "what year did the song get released",
        "when did it come out",
    ):
        assert _ASKS_BACK.search(said) is None, said
    for said in ("what time did we book the table for", "what was the venue for the first tickets"):
        assert _ASKS_BACK.search(said) is not None, said


def test_a_genre_asked_for_before_the_first_value_is_said_on_the_bookings_first_line() -> None:
    """ "find me some funk songs" holds no value; the agent's offer after it is the booking's first durable line, and
    says the genre asked for from the start (not only once the booking's lines are merged into its values line)."""
    compactor = Compactor(CompactionPolicy(token_budget=800))
    pairs = [
        ("user", "hey can you find me some funk songs"),
        ("assistant", "i found 4 songs, how about night moves by the delta from the album city lights"),
        ("user", "yes play that on the tv"),
    ]
    pairs += [("user", f"and a table for {k + 2} at {k + 5} pm on march {k + 3}th please") for k in range(40)]
    for turn in turns_of(pairs, step_s=9):
        compactor.add(turn)
    compactor.plan(None)
    line = next(line for line in compactor._lines if line.key and "night moves" in line.full)
    assert "funk" in line.full


def test_a_hesitation_before_or_after_a_name_is_no_word_of_it() -> None:
    """The recogniser's "um" and "uh" sit anywhere in a sentence; read as words they began or ended the venue
    ("um masonic lodge at hollywood forever", "the regent theater dtla um"), a name nobody said."""
    said = "theres an event on march 5th called jordan rakei at um masonic lodge at hollywood forever"
    assert ("name", "masonic lodge at hollywood forever") in _named(said)
    said = "there is the acid event which will be held at the regent theater dtla um next friday at 8 30 pm"
    assert ("name", "the regent theater dtla") in _named(said)
    assert not any(" um" in span or "um " in span for _, span in _named(said))


def _named(said: str) -> list[tuple[str, str]]:
    from memory.compaction.compactor import _named_spans

    return _named_spans(said, [])


def test_when_lines_must_leave_the_notes_no_more_leave_than_several_appends_need() -> None:
    """Past the budget, older values lines leave down to three quarters of the notes' room (seven tenths left a
    booking or two fewer in the notes than fit, and a question about them then rests on the recall alone)."""
    turns = turns_of(many_references(40))
    compactor = Compactor(CompactionPolicy(token_budget=800))
    kept: list[int] = []
    for turn in turns:
        compactor.add(turn)
        plan = compactor.plan(None)
        assert plan.tokens <= 800
        if plan.compacted:
            kept.append(len(set(re.findall(r"\b7\d\d\d\b", plan.notes))))
        compactor.warm()
    late = kept[len(kept) // 2 :]
    assert sum(late) / len(late) > 4.5  # tickets noted, on average, over the second half of the call


def test_when_values_lines_must_leave_the_oldest_go_first_though_asked_about() -> None:
    """Asked about, a booking's exact turns came back by recall; kept in the notes in place of newer ones, the newer
    ones were left to a recall that counts the bookings before them ("the seventh") with more room for error."""
    n = 16
    turns = turns_of(lower_case_event_bookings(n), step_s=9)
    per = len(turns) // n
    asks = {per * 6: "first", per * 7: "second", per * 8: "third"}
    compactor = Compactor(CompactionPolicy(token_budget=800))
    for i, turn in enumerate(turns):
        compactor.add(turn)
        assert compactor.plan(turn.text if turn.role == "user" else None).tokens <= 800
        compactor.warm()
        if i in asks:
            assert compactor.plan(f"sorry what was the address for the {asks[i]} event tickets again").recalled_ids
    notes = compactor.plan(None).notes
    kept = [k for k in range(n) if f"march {k + 3}th" in notes]
    assert 6 in kept and 7 in kept  # the newer bookings stay
    assert 0 not in kept  # the oldest left, though asked about (the recall brings it)

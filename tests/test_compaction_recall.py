"""In-call recall within the booking a question points at: which turn says the kind of value asked for."""

from __future__ import annotations

from memory.compaction import CompactionPolicy, Compactor
from tests.test_compaction import CHATTER, condensed, fed, turns_of

FILLER_MOVIE = [
    ("user", "can you put a film on for me"),
    ("assistant", "what sort of film are you after"),
    ("user", "something with pirates"),
    ("assistant", "how about salt and thunder"),
    ("user", "salt and thunder is fine"),
    ("assistant", "please confirm start salt and thunder without subtitles"),
    ("user", "yes"),
    ("assistant", "salt and thunder has started"),
    ("user", "thanks that is all"),
    ("assistant", "enjoy the film"),
]
"""Another movie put on, so that what a title shares with every booking ("start", "subtitles") is told apart."""


def _call(first: list[tuple[str, str]]) -> Compactor:
    compactor = fed(turns_of([*first, *FILLER_MOVIE, *CHATTER * 4]), CompactionPolicy(token_budget=500))
    assert compactor.boundary > len(first) + len(FILLER_MOVIE)  # both movies are condensed
    return compactor


def test_the_agents_answer_to_the_callers_own_question_about_the_director_is_recalled() -> None:
    compactor = _call(
        [
            ("user", "i feel like watching a film tonight"),
            ("assistant", "how about quiet harbour"),
            ("user", "quiet harbour please with subtitles"),
            ("assistant", "quiet harbour with subtitles is that right"),
            ("user", "yep and who directed it"),  # asked without a question mark, as a recogniser writes it
            ("assistant", "odile marchand the film is now playing"),
            ("user", "thanks bye"),
        ]
    )
    plan = compactor.plan("sorry what was the director for the first movie you put on again")
    assert "odile marchand" in plan.recall


def test_a_question_for_the_title_recalls_a_turn_that_says_it_not_only_yes_and_play_it() -> None:
    compactor = _call(
        [
            ("user", "find me a film to stream"),
            ("assistant", "what genre do you like"),
            ("user", "i like funny ones"),
            ("assistant", "i have paper moons lantern bay or the long goodbye"),
            ("user", "i'll take lantern bay"),
            ("assistant", "would you like to start the film"),
            ("user", "yes please start it"),
            ("assistant", "shall i play lantern bay with subtitles"),
            ("user", "yes who directed it"),
            ("assistant", "i have started the film it is directed by teodor vance"),
            ("user", "thanks that is it"),
        ]
    )
    plan = compactor.plan("wait what movie did we settle on for the first movie you put on")
    assert "lantern bay" in plan.recall


def test_a_genre_word_inside_the_title_taken_is_not_the_genre_the_caller_asked_for() -> None:
    compactor = _call(
        [
            ("user", "i want to watch something online"),
            ("assistant", "what kind of films do you enjoy"),
            ("user", "i'm in the mood for thriller films tonight"),
            ("assistant", "i found night shift or the glass room"),
            ("user", "seen those, got any horror films instead"),
            ("assistant", "how about country road"),
            ("user", "country road sounds fine"),
            ("assistant", "okay country road is that right"),
            ("user", "yes with subtitles"),
            ("assistant", "should i play country road with subtitles"),
            ("user", "yes go on"),
            ("assistant", "country road has started"),
            ("user", "thank you bye"),
        ]
    )
    plan = compactor.plan("just to double check the genre for the first movie you put on was what")
    assert "horror" in plan.recall  # the genre the caller settled on, not a word of the title


def test_a_callers_turn_read_as_asking_for_more_options_is_recalled_for_what_it_also_says() -> None:
    compactor = _call(
        [
            ("user", "help me find a movie online"),
            ("assistant", "i found dark tide or four winds"),
            ("user", "is there anything else i also like horror films directed by mirela kost"),
            ("assistant", "there is one called hollow creek"),
            ("user", "hollow creek is good play it"),
            ("assistant", "please confirm play hollow creek without subtitles"),
            ("user", "yes"),
            ("assistant", "hollow creek has started"),
            ("user", "thanks that is all"),
        ]
    )
    plan = compactor.plan("sorry what was the director for the first movie you put on again")
    assert "mirela kost" in plan.recall


def test_whose_films_the_caller_asked_for_is_recalled_however_it_is_put() -> None:
    for said in (
        "anything else i enjoy the films of benna holt",
        "what else is there i like films which are directed by benna holt",
    ):
        compactor = _call(
            [
                ("user", "i would like to stream a movie"),
                ("assistant", "i found dark tide or four winds"),
                ("user", said),
                ("assistant", "there is one called hollow creek"),
                ("user", "hollow creek is good play it"),
                ("assistant", "please confirm play hollow creek without subtitles"),
                ("user", "yes"),
                ("assistant", "hollow creek has started"),
                ("user", "thanks that is all"),
            ]
        )
        plan = compactor.plan("sorry what was the director for the first movie you put on again")
        assert "benna holt" in plan.recall, said


# --------------------------------------------------------------------------- counting the bookings of one kind

TICKETS_WITH_MORE_PEOPLE = [
    ("user", "are there any concerts in denver this weekend"),
    ("assistant", "the copper owls play the bluebird theater on saturday"),
    ("user", "nice can i get two tickets"),
    ("assistant", "please confirm two tickets for the copper owls on saturday in denver"),
    ("user", "yep"),
    ("user", "oh i need four tickets now"),
    ("assistant", "please confirm four tickets for saturday"),
    ("user", "yes that works"),
    ("assistant", "your tickets are booked"),
    ("user", "thanks that's everything"),
    ("assistant", "enjoy the show"),
]


def test_a_new_count_after_saying_yes_to_the_details_changes_the_booking_under_way() -> None:
    compactor = fed(turns_of([*TICKETS_WITH_MORE_PEOPLE, *CHATTER * 4]), CompactionPolicy(token_budget=500))
    assert compactor.boundary > len(TICKETS_WITH_MORE_PEOPLE)
    events = [b for b in compactor._bookings if b.kind == "event"]
    assert len(events) == 1 and events[0].booked  # one booking of four tickets, not an unbooked one and another


UNREPORTED_TICKETS_THEN_A_SONG_THEN_TICKETS = [
    ("user", "find me some events in tucson please"),
    ("assistant", "the desert kings play the rialto on friday"),
    ("user", "sounds fun one ticket please"),
    ("assistant", "one ticket for the desert kings on friday in tucson"),
    ("user", "good stuff when does it start"),
    ("assistant", "it starts at 8 pm, have fun at the show"),
    ("user", "can you play some songs by the lanterns"),
    ("assistant", "how about northern lights by the lanterns"),
    ("user", "yes play it on the kitchen speaker"),
    ("assistant", "playing northern lights on the kitchen speaker"),
    ("user", "thanks that's all"),
    ("user", "i also want to find events in phoenix"),
    ("assistant", "the salt flats are at the van buren on sunday"),
    ("user", "two tickets please"),
    ("assistant", "please confirm two tickets for the salt flats on sunday in phoenix"),
    ("user", "yes"),
    ("assistant", "your tickets are booked"),
    ("user", "thank you bye"),
]


def test_tickets_left_for_a_song_count_on_their_own_when_more_tickets_come_after() -> None:
    from memory.compaction.bookings import counted_attempts

    turns = UNREPORTED_TICKETS_THEN_A_SONG_THEN_TICKETS
    compactor = fed(turns_of([*turns, *CHATTER * 4]), CompactionPolicy(token_budget=500))
    assert compactor.boundary > len(turns)
    assert [b.kind for b in compactor._bookings][:3] == ["event", "music", "event"]  # then the chatter's fault
    pool = [b for b in compactor._bookings if b.kind == "event"]
    assert not pool[0].booked  # no report of the first tickets was read
    assert len(counted_attempts(pool)) == 1  # counted by tickets alone, the first would be an attempt at the second
    assert len(counted_attempts(pool, compactor._bookings)) == 2  # the caller moved on to a song in between
    recall = compactor.plan("sorry which city were the second event tickets in").recall
    assert "phoenix" in recall and "tucson" not in recall


def test_the_agents_answer_to_where_is_the_venue_located_is_recalled_for_the_address() -> None:
    compactor = fed(
        turns_of(
            [
                ("user", "when is the harvest folk fair in millbrook"),
                ("assistant", "the harvest folk fair at millbrook commons is on friday"),
                ("user", "i'd like to buy one ticket for it"),
                ("assistant", "please confirm one ticket for the harvest folk fair in millbrook on friday"),
                ("user", "yes that's right"),
                ("assistant", "your ticket has been purchased"),
                ("user", "what time does it begin and where is the venue located"),
                ("assistant", "the fair is in millbrook oregon 97301 and begins at noon"),
                ("user", "great thanks that's all"),
                *FILLER_MOVIE,
                *CHATTER * 4,
            ]
        ),
        CompactionPolicy(token_budget=500),
    )
    assert compactor.boundary > 9 + len(FILLER_MOVIE)
    assert "97301" in compactor.plan("sorry what was the address for the first event tickets again").recall


def test_a_genre_said_only_in_the_callers_request_is_recalled_over_device_confirmations() -> None:
    compactor = _call(
        [
            ("user", "could you look up a few bluegrass tunes for me"),
            ("assistant", "i found eight, what about river stones by ada quill from the album low water"),
            ("user", "sounds nice put it on the patio speaker"),
            ("assistant", "to confirm you want river stones on the patio speaker"),
            ("user", "actually move the music to the den speaker instead"),
            ("assistant", "so i will play river stones on the den speaker is that right"),
            ("user", "yes start the music"),
            ("assistant", "river stones is playing now"),
            ("user", "thanks that is all"),
        ]
    )
    plan = compactor.plan("sorry what was the genre for the first song you played again")
    assert "bluegrass" in plan.recall  # the caller's own request says it, no confirmation does


def test_the_venue_of_the_event_taken_beats_a_named_venue_of_another_event_listed() -> None:
    compactor = _call(
        [
            ("user", "any concerts around this week"),
            ("assistant", "there is owls vs hawks at the Riverside Arena today"),
            ("user", "not sports, what about mira sol"),
            ("assistant", "mira sol plays tomorrow in the old mill"),
            ("user", "mira sol sounds great two tickets"),
            ("assistant", "please confirm two tickets for mira sol tomorrow"),
            ("user", "yes"),
            ("assistant", "your tickets are booked"),
            ("user", "thanks bye"),
        ]
    )
    plan = compactor.plan("sorry what was the venue for the first event tickets again")
    assert "old mill" in plan.recall  # the event taken says it in lower case; the other listed event is a name


def test_a_question_about_the_tickets_just_booked_is_not_counted_as_another_booking() -> None:
    turns = [
        ("user", "find me a show in vancouver"),
        ("assistant", "i hear paper lanterns is popular it is on march 13th at 4 pm"),
        ("user", "sounds great three tickets please"),
        ("assistant", "please confirm three tickets for paper lanterns on march 13th in vancouver"),
        ("user", "yes that works"),
        ("assistant", "your reservation is confirmed anything else"),
        ("user", "can you give me the address for the place also how much do the tickets cost"),
        ("assistant", "the venue is 1882 adanac street and the tickets are 20"),
        ("user", "okay great that's all i need thanks"),
        ("assistant", "my pleasure have a great day"),
        ("user", "i need help finding interesting things to do in los angeles"),
        ("assistant", "i found ain gordon at the ralph freud playhouse today at 7 30 pm"),
        ("user", "sounds awesome book me one ticket please"),
        ("assistant", "confirming one ticket to see ain gordon today in los angeles"),
        ("user", "yes"),
        ("assistant", "it's been booked enjoy the show"),
        ("user", "thanks bye"),
    ]
    compactor = fed(turns_of([*turns, *CHATTER * 4]), CompactionPolicy(token_budget=500))
    assert compactor.boundary > len(turns)
    recall = compactor.plan("sorry what was the event for the second event tickets again").recall
    assert "ain gordon" in recall  # the question about the first tickets' address is no second booking


def test_the_venue_of_the_proposal_taken_beats_those_of_events_listed_before_it() -> None:
    turns = [
        ("user", "are there any concerts around nyc on march 9th"),
        ("assistant", "yes 2 events, one is at seven thirty pm at forest hills stadium on march 9th, the jethro tull"),
        ("user", "where is the venue located"),
        ("assistant", "it is at 1 tennis place forest hills"),
        ("user", "that's fine any other events"),
        ("assistant", "at murmrr low will be presenting march 9th at six pm"),  # no "how about", "i found"
        ("user", "that will do please reserve tickets"),
        ("assistant", "please confirm 2 tickets for low on march 9th in new york"),
        ("user", "yes"),
        ("assistant", "your seats are confirmed, enjoy it at 17 eastern parkway brooklyn"),
        ("user", "thanks that's all"),
        *FILLER_MOVIE,
    ]
    compactor = fed(turns_of([*turns, *CHATTER * 4]), CompactionPolicy(token_budget=500))
    assert compactor.boundary > len(turns)
    recall = compactor.plan("wait what venue did we settle on for the first event tickets").recall
    assert "murmrr" in recall  # the proposal the caller took, not the stadium of the event passed over


def test_a_proposal_put_as_a_question_is_the_one_taken_after_options_turned_down() -> None:
    turns = [
        ("user", "I'm looking to find some events."),
        ("assistant", "What kind of events are you looking for and where should I search?"),
        ("user", "I'm looking for music events near SFO."),
        ("assistant", "There is an event on March 9th at 6 pm called Allan Rayman at August Hall."),
        ("user", "This is great but can you search for something else?"),
        ("assistant", "I have found Carmina Burana on March 12th at 8:30 pm at San Francisco Symphony."),
        ("user", "Please can you search for something else."),
        ("assistant", "How about Celine Dion at Chase Center Experience? It is at eight thirty pm on March 13th."),
        ("user", "Perfect"),
        ("assistant", "Would you like tickets?"),
        ("user", "Yes please, three tickets."),
        ("assistant", "Okay so to confirm: you would like 3 tickets to Celine Dion in San Francisco on March 13th."),
        ("user", "Yes."),
        ("assistant", "Your ticket booking has been confirmed."),
        ("user", "Thanks, that's all."),
        *FILLER_MOVIE,
    ]
    compactor = fed(turns_of([*turns, *CHATTER * 4]), CompactionPolicy(token_budget=500))
    assert compactor.boundary > len(turns)
    recall = compactor.plan("Sorry, what was the venue for the first event tickets again?").recall
    assert "Chase Center Experience" in recall  # the one taken, not the hall or the symphony turned down


TICKETS_LEFT_FOR_A_TABLE_THEN_TAKEN_UP_AGAIN = [
    ("user", "find me some concerts in portland"),
    ("assistant", "the night owls play the crystal ballroom on friday"),
    ("user", "that sounds good"),
    ("assistant", "would you like to buy tickets"),
    ("user", "not yet"),
    ("assistant", "is there anything else i can help with"),
    ("user", "i want to reserve a table at a restaurant near there"),
    ("assistant", "how about blue fig on burnside"),
    ("user", "book a table for two at 6 pm"),
    ("assistant", "your table for two at blue fig at 6 pm is booked"),
    ("user", "thanks can we go back to booking the tickets"),
    ("assistant", "please confirm two tickets for the night owls at the crystal ballroom on friday"),
    ("user", "yes"),
    ("assistant", "your tickets are booked"),
    ("user", "thank you that's all"),
    ("assistant", "have a great night"),
    ("user", "i also want to find events in salem"),
    ("assistant", "the river band plays the elsinore theatre on saturday"),
    ("user", "one ticket please"),
    ("assistant", "please confirm one ticket for the river band at the elsinore theatre on saturday"),
    ("user", "yes"),
    ("assistant", "your ticket is booked"),
    ("user", "thanks bye"),
]
"""Tickets left for a table and taken up again ("can we go back to booking the tickets"), then other tickets."""


def test_tickets_taken_up_again_after_a_detour_count_with_the_tickets_they_resume() -> None:
    from memory.compaction.bookings import counted_attempts

    compactor = condensed(TICKETS_LEFT_FOR_A_TABLE_THEN_TAKEN_UP_AGAIN)
    assert [b.kind for b in compactor._bookings][:4] == ["event", "restaurant", "event", "event"]
    pool = [b for b in compactor._bookings if b.kind == "event"][:3]
    assert (
        len(counted_attempts(pool, compactor._bookings)) == 3
    )  # counted apart, the resumed tickets would be the second
    counted = compactor._turn_recall._counted(pool)
    assert [len(group) for group in counted] == [2, 1]
    assert counted[0][0] is pool[1]  # the part that was booked comes first
    recall = compactor.plan("sorry what was the venue for the second event tickets again").recall
    assert "elsinore" in recall and "crystal ballroom" not in recall
    first = compactor.plan("just to double check the venue for the first event tickets was what").recall
    assert "crystal ballroom" in first


def test_a_new_search_after_a_detour_takes_no_tickets_up_again() -> None:
    turns = [
        *TICKETS_LEFT_FOR_A_TABLE_THEN_TAKEN_UP_AGAIN[:10],
        ("user", "thanks now find me some events in eugene"),
        ("assistant", "the sun kings play the mcdonald theatre on sunday"),
        ("user", "two tickets please"),
        ("assistant", "please confirm two tickets for the sun kings at the mcdonald theatre on sunday"),
        ("user", "yes"),
        ("assistant", "your tickets are booked"),
        ("user", "thank you bye"),
    ]
    compactor = condensed(turns)
    pool = [b for b in compactor._bookings if b.kind == "event"][:2]
    assert [b.kind for b in compactor._bookings][:3] == ["event", "restaurant", "event"]
    assert not compactor._turn_recall._resumed(pool)  # "find me some events": a new request
    assert len(compactor._turn_recall._counted(pool)) == 2
    recall = compactor.plan("sorry what was the venue for the second event tickets again").recall
    assert "mcdonald theatre" in recall


def test_a_resumption_is_read_only_for_a_question_by_order() -> None:
    compactor = condensed(TICKETS_LEFT_FOR_A_TABLE_THEN_TAKEN_UP_AGAIN)
    calls: list[int] = []
    recall = compactor._turn_recall
    original = recall._resumed

    def counting(pool: list) -> dict:  # type: ignore[type-arg]
        calls.append(len(pool))
        return original(pool)

    recall._resumed = counting  # type: ignore[method-assign]
    compactor.plan("what was the venue for the event tickets i booked")
    assert not calls  # no order asked for: the bookings are not counted
    compactor.plan("what was the venue for the second event tickets")
    assert calls


def test_tickets_taken_up_after_a_search_that_spoke_of_tickets_resume_nothing() -> None:
    """A stretch in between that started with a search speaking of this kind ("a restaurant and some concerts near
    there"): the tickets taken up may be that search's, so they count on their own."""
    turns = [
        *TICKETS_LEFT_FOR_A_TABLE_THEN_TAKEN_UP_AGAIN[:6],
        ("user", "i want to find a restaurant and some concerts near there"),
        *TICKETS_LEFT_FOR_A_TABLE_THEN_TAKEN_UP_AGAIN[7:],
    ]
    compactor = condensed(turns)
    assert [b.kind for b in compactor._bookings][:4] == ["event", "restaurant", "event", "event"]
    pool = [b for b in compactor._bookings if b.kind == "event"][:3]
    assert compactor._bookings[1].named.get("event")  # the search in between spoke of concerts
    assert not compactor._turn_recall._resumed(pool)
    assert len(compactor._turn_recall._counted(pool)) == 3


_SONG = [
    ("user", "can you play a song for me"),
    ("assistant", "how about golden hour by kacey musgraves"),
    ("user", "yes play it on the tv"),
    ("assistant", "playing golden hour on the tv"),
    ("user", "thanks that is all"),
    ("assistant", "enjoy"),
]
SONG_THEN_A_TRANSFER_IN_ONE_STRETCH = [
    *_SONG,
    ("user", "i want to play some music"),
    ("assistant", "how about the song alone with you by the kooks"),
    ("user", "play alone with you please and i need to send 540 dollars to anna from my checking account"),
    ("assistant", "you want to send 540 dollars from your checking account to anna is that right"),
    ("user", "yes"),
    ("assistant", "the transfer was made and alone with you is playing"),
    ("user", "thanks that is all"),
    ("assistant", "bye"),
    _SONG[0],
    ("assistant", "how about sunflower by post malone"),
    ("user", "yes play it in the kitchen"),
    ("assistant", "playing sunflower in the kitchen"),
    ("user", "thanks bye"),
    ("assistant", "bye"),
]
"""A song asked for and played in a stretch that became a transfer (read as a payment), between two songs."""


def test_a_song_asked_for_in_a_stretch_read_as_another_kind_is_counted_among_the_songs() -> None:
    compactor = condensed(SONG_THEN_A_TRANSFER_IN_ONE_STRETCH)
    kinds = [b.kind for b in compactor._bookings][:3]
    assert kinds == ["music", "payment", "music"]
    recall = compactor._turn_recall
    assert recall._asked_for(compactor._bookings[1]) == "music"  # "i want to play some music": a song only
    assert recall._asked_for(compactor._bookings[0]) is None  # of its own kind already
    second = compactor.plan("wait what song did we settle on for the second song you played").recall
    assert "alone with you" in second and "sunflower" not in second
    third = compactor.plan("wait what song did we settle on for the third song you played").recall
    assert "sunflower" in third and "alone with you" not in third


_TICKETS = [
    ("user", "i'd like to buy one ticket for the dodgers game"),
    ("assistant", "please confirm one ticket for the dodgers game at dodger stadium tomorrow"),
    ("user", "yes"),
    ("assistant", "your ticket is booked, enjoy the game"),
    ("user", "thanks that is all"),
    ("assistant", "bye"),
]
TICKETS_WITH_A_BALANCE_IN_ONE_STRETCH = [
    *_TICKETS,
    ("user", "i'm bored, can you find me something fun to do"),
    ("assistant", "sure, in what city"),
    ("user", "in san diego, a concert would be great"),
    ("assistant", "alejandro sanz is playing at the cal coast amphitheater next wednesday at 6 30 pm"),
    ("user", "i wonder if i can afford it, can you tell me how much money i have in my account"),
    ("assistant", "which account do you want the balance of, checking or savings"),
    ("user", "both, but tell me about my checking account first"),
    ("assistant", "your checking account has $4,642 in it"),
    ("user", "i see, what about my savings account"),
    ("assistant", "your savings account has $13,713 in it"),
    ("user", "not bad"),
    ("assistant", "do you want to transfer some money"),
    ("user", "no, no transfer, can you buy me two tickets for the concert"),
    ("assistant", "you want 2 tickets for the alejandro sanz concert next wednesday in san diego, right"),
    ("user", "right"),
    ("assistant", "i bought your tickets, the address is 5500 campanile drive"),
    ("user", "thank you very much, i don't need anything else"),
    ("assistant", "enjoy your day"),
]
"""Tickets bought in a stretch that opened with no kind named and became a balance (read as a payment), after tickets."""


def test_tickets_bought_in_a_stretch_read_as_another_kind_whose_request_names_none_are_counted_among_tickets() -> None:
    compactor = condensed(TICKETS_WITH_A_BALANCE_IN_ONE_STRETCH)
    assert [b.kind for b in compactor._bookings][:2] == ["event", "payment"]
    # "find me something fun to do" names no kind: the agent's report of what was done does ("i bought your tickets")
    assert compactor._turn_recall._asked_for(compactor._bookings[1]) == "event"
    second = compactor.plan("just to double check the address for the second event tickets was what").recall
    assert "5500 campanile" in second


def test_a_kind_named_in_the_request_alone_is_a_word_in_passing() -> None:
    compactor = condensed(SONG_THEN_A_TRANSFER_IN_ONE_STRETCH)
    stretch = compactor._bookings[1]
    assert stretch.named["music"] > 1.0  # the agent offered a song and reported it playing
    assert compactor._turn_recall._new_asked_for(stretch) == "music"
    stretch.named["music"] = 1.0  # as though nothing but the caller's request had spoken of music
    assert compactor._turn_recall._new_asked_for(stretch) is None


def test_a_stretch_whose_request_names_two_kinds_counts_among_neither_other() -> None:
    turns = [
        *_SONG,
        ("user", "we want to go to the long beach jazz festival on friday"),
        ("assistant", "please confirm two tickets for the long beach jazz festival on friday"),
        ("user", "yes"),
        ("assistant", "your tickets are booked"),
        ("user", "thanks bye"),
        ("assistant", "bye"),
    ]
    compactor = condensed(turns)
    festival = next(b for b in compactor._bookings if b.kind == "event")
    assert compactor._turn_recall._asked_for(festival) is None  # "jazz" names music, "festival" an event


def test_a_request_taken_up_right_after_in_its_own_stretch_is_counted_there() -> None:
    turns = [
        ("user", "i want to go to an event of some sort this weekend in denver"),
        ("assistant", "the lumineers play red rocks on saturday"),
        ("user", "great but first i need a bus to denver on friday"),
        ("assistant", "please confirm one bus ticket to denver on friday at 9 am"),
        ("user", "yes"),
        ("assistant", "your bus ticket is booked"),
        ("user", "so let's go back to book the event tickets"),
        ("assistant", "please confirm one ticket for the lumineers at red rocks on saturday"),
        ("user", "yes"),
        ("assistant", "your ticket is booked"),
        ("user", "thanks bye"),
        ("assistant", "bye"),
    ]
    compactor = condensed(turns)
    bookings = compactor._bookings
    taken_up = [n for n, b in enumerate(bookings[:-1]) if b.kind != "event" and bookings[n + 1].kind == "event"]
    assert taken_up == [0]  # the bus, asked for after the event, then the caller back to the tickets
    for n in taken_up:  # the tickets are counted where they were booked, not also in the stretch before
        assert compactor._turn_recall._asked_for(bookings[n]) is None


_SECOND_EVENT = [
    ("user", "i also want to find events in salem"),
    ("assistant", "the river band plays the elsinore theatre on saturday"),
    ("user", "one ticket please"),
    ("assistant", "please confirm one ticket for the river band at the elsinore theatre on saturday"),
    ("user", "yes"),
    ("assistant", "your ticket is booked"),
    ("user", "thanks bye"),
]


def _taken_up_with(detour_and_back: list[tuple[str, str]]) -> tuple[Compactor, list]:  # type: ignore[type-arg]
    turns = [
        ("user", "find me some games in portland"),
        ("assistant", "the timbers play at providence park on friday"),
        ("user", "that sounds good"),
        ("assistant", "would you like to buy tickets"),
        ("user", "not yet"),
        ("assistant", "is there anything else i can help with"),
        *detour_and_back,
        ("assistant", "please confirm two tickets for the timbers at providence park on friday"),
        ("user", "yes"),
        ("assistant", "your tickets are booked"),
        ("user", "thank you that's all"),
        ("assistant", "have a great night"),
        *_SECOND_EVENT,
    ]
    compactor = condensed(turns)
    pool = [b for b in compactor._bookings if b.kind == "event"]
    return compactor, pool


def test_tickets_taken_up_in_the_words_that_take_leave_of_the_detour_count_with_the_tickets_they_resume() -> None:
    """The caller's "thanks for the help, now i want to book the tickets for the match": the leave taken is of the
    bus, in the very words that go back to the tickets, so the tickets put off are taken up, not bought anew."""
    compactor, pool = _taken_up_with(
        [
            ("user", "i need a bus there from seattle"),
            ("assistant", "a bus leaves seattle at 9 am for 30 dollars"),
            ("user", "book it for two"),
            ("assistant", "your bus tickets are booked"),
            ("user", "thanks for the help. now i want to book the tickets for the match"),
        ]
    )
    assert [b.kind for b in compactor._bookings][:3] == ["event", "bus", "event"]
    assert compactor._bookings[1].left  # the bus's leave was taken as the caller went back
    counted = compactor._turn_recall._counted(pool)
    assert [len(group) for group in counted] == [2, 1]
    recall = compactor.plan("sorry what was the venue for the second event tickets again").recall
    assert "elsinore" in recall and "providence park" not in recall


def test_the_agent_naming_the_kind_in_a_search_between_does_not_stop_a_take_up() -> None:
    """A hotel searched for in between, the agent saying it is near the event: the caller asked for no event there,
    so "i want to actually finish booking tickets" takes up the tickets put off."""
    compactor, pool = _taken_up_with(
        [
            ("user", "i need to find a hotel there"),
            ("assistant", "the river inn is a three star hotel near the concert"),
            ("user", "no, not now. i want to actually finish booking tickets"),
        ]
    )
    assert [b.kind for b in compactor._bookings][:3] == ["event", "hotel", "event"]
    assert "event" not in compactor._bookings[1].own
    counted = compactor._turn_recall._counted(pool)
    assert [len(group) for group in counted] == [2, 1]


def test_looking_good_is_no_search() -> None:
    """The caller's "alright looking good, i'd like to purchase two tickets to that event you found" after a detour
    asks for nothing new: "looking" there judges what was found, it searches for nothing."""
    compactor, pool = _taken_up_with(
        [
            ("user", "maybe later, can you check my checking account balance right now"),
            ("assistant", "your checking account balance is 2,310 dollars"),
            ("user", "alright looking good, i'd like to purchase two tickets to that event you found"),
        ]
    )
    assert [b.kind for b in compactor._bookings][:3] == ["event", "payment", "event"]
    counted = compactor._turn_recall._counted(pool)
    assert [len(group) for group in counted] == [2, 1]


def test_tickets_booked_right_after_a_stretch_that_booked_a_bus_too_are_that_stretchs() -> None:
    """Tickets searched for, a bus asked for and booked in the same stretch, then "thanks, can you book two tickets
    to the game": what was reported done was the bus; the tickets booked now are the game's of that stretch."""
    turns = [
        ("user", "find me some games in portland"),
        ("assistant", "the timbers play at providence park on friday"),
        ("user", "that game sounds fun, what time does the event start"),
        ("assistant", "the game starts at 7 pm"),
        ("user", "how do i get there from seattle by bus"),
        ("assistant", "a bus leaves seattle at 9 am for 30 dollars"),
        ("user", "book it for two"),
        ("assistant", "your bus tickets are booked"),
        ("user", "thanks, can you book two tickets to the game"),
        ("assistant", "please confirm two tickets for the timbers at providence park on friday"),
        ("user", "yes"),
        ("assistant", "your tickets are booked"),
        ("user", "thank you that's all"),
        ("assistant", "have a great night"),
        *_SECOND_EVENT,
    ]
    compactor = condensed(turns)
    pool = [b for b in compactor._bookings if b.kind == "event"]
    counted = compactor._turn_recall._counted(pool)
    assert len(pool) == 3 and [len(group) for group in counted] == [2, 1]
    recall = compactor.plan("sorry what was the venue for the second event tickets again").recall
    assert "elsinore" in recall and "providence park" not in recall


# --------------------------------------------------------------------------- the proposal taken, unheard


def test_the_song_the_agent_names_again_when_playing_it_is_the_proposal_taken_with_its_artist() -> None:
    compactor = _call(
        [
            ("user", "i love country songs there are many good ones on long roads home"),
            ("assistant", "tell me your thoughts on paper lanterns by wren ashby in long roads home"),
            ("user", "when did it come out"),
            ("assistant", "it came out in 2018"),
            ("user", "yes that is correct correct"),  # a take read as a filler: no proposal heard taken
            ("assistant", "wanna play the song"),
            ("user", "put it on my kitchen speaker"),
            ("assistant", "play paper lanterns on the kitchen speaker"),
            ("user", "yes that is right"),
            ("assistant", "enjoy the good music"),
            ("user", "thanks that is all"),
        ]
    )
    plan = compactor.plan("wait what artist did we settle on for the first song you played")
    assert "wren ashby" in plan.recall


def test_another_services_turns_inside_an_event_booking_are_no_proposal_the_event_confirmed_names_it() -> None:
    compactor = _call(
        [
            ("user", "can you help me find some interesting things in la"),
            ("assistant", "the event is moth parade taking place at lodge room scheduled for tomorrow at 8 pm"),
            ("user", "this is good but can you find other events too"),
            ("assistant", "the event is iron gulls taking place at 1720 tm scheduled for march 14th at 8 pm"),
            ("user", "that sounds great can you please check my balance"),
            ("assistant", "which account should i use to check the balance"),
            ("user", "please use my savings account"),
            ("assistant", "your savings account balance is 8649 40"),
            ("user", "okay thanks for the info"),  # a take after a balance read out: no proposal of the tickets
            ("assistant", "would you like to make a transfer"),
            ("user", "no i would like you to book the tickets for the event you found"),
            ("assistant", "how many tickets would you like"),
            ("user", "three tickets"),
            ("assistant", "please confirm the event is iron gulls on march 14th for three people"),
            ("user", "yes that's perfect"),
            ("assistant", "your reservation has been confirmed"),
            ("user", "thanks that is all"),
        ]
    )
    plan = compactor.plan("just to double check the venue for the first event tickets was what")
    assert "1720 tm" in plan.recall
    assert "8649" not in plan.recall  # the balance read out between is no turn about the venue


def test_a_question_by_order_names_the_kind_its_own_words_say() -> None:
    from memory.text.kinds import booked_kinds_in

    assert set(booked_kinds_in("what was the price for the first bus tickets")) == {"bus"}  # a bus's tickets
    assert set(booked_kinds_in("the departure station for the second train tickets")) == {"train"}
    assert set(booked_kinds_in("the nights for the first place i booked to stay")) == {"hotel"}  # no table
    assert set(booked_kinds_in("the venue for the third concert tickets")) == {"event"}
    assert set(booked_kinds_in("the time for the place i booked")) == {"hotel", "restaurant"}  # either, as said


def test_a_kind_word_before_a_noun_of_another_kind_is_that_nouns_kind() -> None:
    from memory.text.kinds import booked_kinds_in, episode_kinds_in

    assert set(episode_kinds_in("can you find me some jazz events in denver")) == {"event"}  # no song asked for
    assert set(episode_kinds_in("a hip hop concert would be fun")) == {"event"}
    assert set(episode_kinds_in("how about the portland airport hotel")) == {"hotel"}  # no flight
    assert set(episode_kinds_in("it is under the musical genre")) == set()  # a film's genre, no show
    assert set(episode_kinds_in("i would like to watch hotel mumbai")) == {"movie", "hotel"}  # a verb qualifies nothing
    assert set(booked_kinds_in("the price of the first bus tickets")) == {"bus"}  # tickets take the bus's kind
    assert set(booked_kinds_in("the venue for the second jazz event")) == {"event"}


def test_an_event_search_in_music_words_is_no_song_the_next_song_is_a_booking_of_its_own() -> None:
    compactor = _call(
        [
            ("user", "can you play a song for me"),
            ("assistant", "how about river glass by the lantern hours"),
            ("user", "yes play it on the kitchen speaker"),
            ("assistant", "playing river glass on the kitchen speaker enjoy"),
            ("user", "thanks can you find me some pop music events in denver"),  # events: no song asked for
            ("assistant", "there is the mile high quartet at the bluebird theater on march 3rd"),
            ("user", "sounds good"),
            ("assistant", "would you like to buy tickets"),
            ("user", "no thanks"),
            ("user", "can you find me another song"),  # no more of the event search: a song of its own
            ("assistant", "how about copper lane by wren ashby"),
            ("user", "yes play it in the bedroom"),
            ("assistant", "playing copper lane in the bedroom enjoy"),
            ("user", "thanks bye"),
        ]
    )
    kinds = [b.kind for b in compactor._bookings]
    assert kinds[:3] == ["music", "event", "music"], kinds
    plan = compactor.plan("wait what artist did we settle on for the second song you played")
    assert "wren ashby" in plan.recall


TRANSFER_BALANCE_TRANSFER_BUS = [
    ("user", "i'd like to transfer 200 dollars to maria's savings account"),
    ("assistant", "please confirm a transfer of $200 from your checking account to maria's savings account"),
    ("user", "yes that's right"),
    ("assistant", "your transfer has been made"),
    ("user", "i'd like to know my checking balance"),
    ("assistant", "your checking balance is $4,310"),
    ("user", "thanks that's all"),
    ("assistant", "have a great day"),
    ("user", "i need to make a transfer to jonas"),
    ("assistant", "how much should i send and from which account"),
    ("user", "send 75 dollars from my savings"),
    ("assistant", "please confirm a transfer of $75 from your savings account to jonas"),
    ("user", "yes"),
    ("assistant", "the transfer went through"),
    ("user", "thank you bye"),
    ("user", "can you find me a bus to fresno for tomorrow"),
    ("assistant", "there is a bus leaving at 9 am for $31"),
    ("user", "book one ticket please"),
    ("assistant", "your bus ticket to fresno is booked"),
    ("user", "thanks that is all"),
]


def test_a_balance_asked_for_after_a_transfer_is_no_transfer_of_its_own() -> None:
    turns = TRANSFER_BALANCE_TRANSFER_BUS
    compactor = fed(turns_of([*turns, *CHATTER * 4]), CompactionPolicy(token_budget=500))
    assert compactor.boundary > len(turns)
    recall = compactor.plan("sorry what was the recipient for the second money transfer again").recall
    assert "jonas" in recall and "maria" not in recall


HOUSE_AFTER_A_DENTIST = [
    ("user", "please help me find a dentist in san jose"),
    ("assistant", "dr alma reyes is a dentist in san jose"),
    ("user", "book her for tuesday at 10 am"),
    ("assistant", "please confirm an appointment with dr alma reyes on tuesday at 10 am"),
    ("user", "yes"),
    ("assistant", "your appointment is booked"),
    ("user", "thank you that's all"),
    ("user", "i am looking to book a house for my vacation in denver"),
    ("assistant", "there is a house at 88 pine street rated 4.6"),
    ("user", "sounds good book it for two people from march 3rd to march 6th"),
    ("assistant", "please confirm a house in denver for 2 people from march 3rd to march 6th"),
    ("user", "yes"),
    ("assistant", "your reservation has been made"),
    ("user", "thanks bye"),
]


def test_a_house_booked_to_stay_in_is_a_place_to_stay_not_more_of_the_booking_before() -> None:
    turns = HOUSE_AFTER_A_DENTIST
    compactor = fed(turns_of([*turns, *CHATTER * 4]), CompactionPolicy(token_budget=500))
    assert compactor.boundary > len(turns)
    assert [b.kind for b in compactor._bookings][:2] == ["appointment", "hotel"]
    recall = compactor.plan("sorry what was the address for the first place i booked to stay again").recall
    assert "88 pine street" in recall


def test_a_thing_the_caller_never_got_is_not_counted_among_what_they_booked() -> None:
    from memory.compaction.bookings import Booking, counted_attempts

    never = Booking(
        "restaurant", [0, 1, 2], [1], failed=True, refused=True, left=True
    )  # "sorry, the table could not be booked"
    song = Booking("music", [3, 4], [4], booked=True, own={"music"})
    table = Booking("restaurant", [5, 6], [6], booked=True, own={"restaurant"})
    never.own = {"restaurant"}
    assert counted_attempts([never, table], [never, song, table]) == [[table]]
    retried = Booking(
        "restaurant", [0, 1, 2], [1], failed=True, refused=True, affirmed=True, left=True, own={"restaurant"}
    )
    assert counted_attempts([retried, table], [retried, song, table]) == [[retried], [table]]  # yes said after


GAMES_SEARCHED_THEN_A_SONG_THEN_TICKETS = [
    ("user", "i want to do something on saturday find me some games in seattle"),
    ("assistant", "there are six games one of them is the mariners vs blue jays at t-mobile park"),
    ("user", "okay good to know that is all for now"),
    ("assistant", "have a nice day"),
    ("user", "can you play some pop music on the kitchen speaker"),
    ("assistant", "please confirm umbrella by rihanna on the kitchen speaker"),
    ("user", "yes"),
    ("assistant", "umbrella is now playing"),
    ("user", "thanks bye"),
    ("user", "i want three tickets to an event in phoenix on the tenth"),
    ("assistant", "please confirm three tickets for the drums on march 10th in phoenix"),
    ("user", "yes"),
    ("assistant", "your tickets are booked"),
    ("user", "thanks that's all"),
]


def test_a_search_that_booked_nothing_is_not_the_first_of_the_callers_tickets() -> None:
    turns = GAMES_SEARCHED_THEN_A_SONG_THEN_TICKETS
    compactor = fed(turns_of([*turns, *CHATTER * 4]), CompactionPolicy(token_budget=500))
    assert compactor.boundary > len(turns)
    pool = [b for b in compactor._bookings if b.kind == "event"]
    assert len(pool) == 2 and pool[0].left and not pool[0].booked and not pool[0].confirms
    [tickets] = compactor._turn_recall._counted(pool)  # one booking, the search said with it
    assert tickets[0] is pool[1]
    recall = compactor.plan("sorry what was the city for the first event tickets again").recall
    assert "phoenix" in recall and "seattle" not in recall


def test_a_search_the_agent_read_details_back_in_still_counts_on_its_own() -> None:
    turns = [
        ("user", "find me a concert in denver on friday"),
        ("assistant", "please confirm two tickets for the lumineers on friday in denver"),
        ("user", "hmm no thanks that's all"),
        ("assistant", "have a nice day"),
        *GAMES_SEARCHED_THEN_A_SONG_THEN_TICKETS[9:],
    ]
    compactor = fed(turns_of([*turns, *CHATTER * 4]), CompactionPolicy(token_budget=500))
    pool = [b for b in compactor._bookings if b.kind == "event"]
    assert len(pool) == 2 and pool[0].confirms and not pool[0].booked
    assert len(compactor._turn_recall._counted(pool)) == 2


def test_a_play_the_caller_asked_for_counts_though_no_report_of_it_was_read() -> None:
    turns = [
        ("user", "find me a song by adele"),
        ("assistant", "how about hello by adele"),
        ("user", "play that on the kitchen speaker"),
        ("assistant", "enjoy"),
        ("user", "thanks that's all"),
        ("assistant", "have a nice day"),
        ("user", "can you play some pop music on the tv"),
        ("assistant", "please confirm umbrella by rihanna on the tv"),
        ("user", "yes"),
        ("assistant", "umbrella is now playing"),
        ("user", "thanks bye"),
    ]
    compactor = fed(turns_of([*turns, *CHATTER * 4]), CompactionPolicy(token_budget=500))
    pool = [b for b in compactor._bookings if b.kind == "music"]
    assert len(pool) == 2 and not pool[0].booked and pool[0].left and not pool[0].confirms
    assert len(compactor._turn_recall._counted(pool)) == 2


def test_a_search_whose_agent_turns_asked_or_put_results_forward_is_not_the_first_of_the_callers_tickets() -> None:
    """The agent's "okay, what city should i look in" and "great, i found 9 events" count as its confirmations, and
    the caller asked "what time will it start", turning to it from a song with no leave taken: still a search that
    booked nothing, not the first tickets."""
    turns = [
        ("user", "i'd like to listen to some music on the kitchen speaker can you play umbrella"),
        ("assistant", "of course please confirm playing umbrella on the kitchen speaker"),
        ("user", "yep that's right"),
        ("assistant", "enjoy the song it's from 2007 off the album good girl gone bad"),
        ("user", "thanks so much i want to find some things to do"),
        ("assistant", "okay what city would you like me to look in"),
        ("user", "i'd like to do something in seattle please"),
        ("assistant", "great great i found 9 events you would enjoy one is mariners vs blue jays at t-mobile park"),
        ("user", "that could be good what time will it start"),
        ("assistant", "the game begins promptly at five thirty pm"),
        ("user", "that's perfect i don't need any more help right now"),
        ("assistant", "have a nice day"),
        *GAMES_SEARCHED_THEN_A_SONG_THEN_TICKETS[4:],
    ]
    compactor = fed(turns_of([*turns, *CHATTER * 4]), CompactionPolicy(token_budget=500))
    assert compactor.boundary > len(turns)
    pool = [b for b in compactor._bookings if b.kind == "event"]
    assert len(pool) == 2 and pool[0].left and not pool[0].booked and pool[0].confirms
    [tickets] = compactor._turn_recall._counted(pool)
    assert tickets[0] is pool[1]
    recall = compactor.plan("sorry what was the city for the first event tickets again").recall
    assert "phoenix" in recall and "seattle" not in recall

"""The values line's readers of names said in lower case: albums, venues, events, artists, directors and addresses
in the ways people say them on a call, and the words that must not be read as one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from memory.compaction.classifier import classify
from memory.compaction.compactor import _genre_answer, _kinded_spans, _named_spans
from memory.compaction.policy import Turn
from memory.text.values import values_in

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def names(said: str) -> list[str]:
    return [span for kind, span in _named_spans(said, []) if kind == "name"]


@pytest.mark.parametrize(
    ("said", "album"),
    [
        # named last after "album", any words to the end of the sentence
        ("one would be diesel gang by katie noel off the album just gonna send it", "just gonna send it"),
        ("are you familiar with gotta be a reason by alec benjamin it came out on the album narrated for you",
         "narrated for you"),
        ("what about jesus and jack daniels by justin moore from the album late nights and longnecks",
         "late nights and longnecks"),
        ("i started playing the song from the album sing to me instead which is a pop song", "sing to me instead"),
        # the record last, after who made it: "title by artist from/in record"
        ("all that matters by justin bieber from journals", "journals"),
        ("adorn by miguel in kaleidoscope dream", "kaleidoscope dream"),
        ("do you like final masquerade by linkin park from the hunting party", "the hunting party"),
        ("how about listening to i apologize by five finger death punch from their got your six album", "got your six"),
        # the album, then who made it
        ("i recommend the album ana keteer by sherine there is a great track called ya layali", "ana keteer"),
    ],
)  # fmt: skip
def test_an_album_is_read_by_the_frame_around_it(said: str, album: str) -> None:
    assert album in names(said), names(said)


@pytest.mark.parametrize(
    "said",
    [
        "play thunder by imagine dragons on the kitchen speaker",
        "songs by adele in the bedroom",
        "a song by adele on repeat",
        "how about hello by adele from 2015",
        "the event is by the river in the park",
        "i want songs from the album",
    ],
)
def test_where_a_song_plays_or_when_it_came_out_is_no_album(said: str) -> None:
    """After "by someone", "on the kitchen speaker", "in the bedroom", "on repeat", a year, or talk of an event is
    no record."""
    assert not any(n in names(said) for n in ("the kitchen speaker", "kitchen speaker", "the bedroom", "repeat")), said
    assert "2015" not in names(said) and "the park" not in names(said) and "the river in the park" not in names(said)


def test_a_room_of_a_larger_venue_is_one_venue_but_a_time_after_a_venue_is_not_part_of_it() -> None:
    assert "masonic lodge at hollywood forever" in names(
        "theres an event on march 5th called jordan rakei at masonic lodge at hollywood forever"
    )
    assert names("the concert is at the fillmore at 8 pm") == ["the fillmore"]
    assert names("the game is at oracle park at 7 on march 3rd") == ["oracle park"]
    assert names("the event is at the greek theatre at the same time") == ["the greek theatre"]


def test_a_venue_is_read_up_to_the_words_that_follow_it() -> None:
    assert "san francisco symphony" in names(
        "i found one relevant event does carmina burana at san francisco symphony sound like good"
    )
    assert "pier 17" in names("i have five events the first one is ben harper at pier 17 how about that")
    assert "boston music room" in names("i found 5 dates crystal lake will be at boston music room on march 1st")
    assert "crystal lake" in names("i found 5 dates crystal lake will be at boston music room on march 1st")
    assert "theater of the clouds" in names("the event bastille is taking place at theater of the clouds on march 11th")
    assert "the angel stadium of anaheim" in names("there's angels vs astros at the angel stadium of anaheim")
    assert "angels vs astros" in names("there's angels vs astros at the angel stadium of anaheim")
    assert names("i am looking for music events") == []


def test_a_city_is_read_before_more_of_the_sentence() -> None:
    assert "phoenix" in names(
        "you would like three tickets for the anberlin concert in phoenix the event is on march 3rd"
    )
    assert "philadelphia" in names("one ticket for owls vs bison on march 4th in philadelphia are these details right")
    assert "portland" in names("2 tickets to the timbers vs rsl in portland or on march 14th")


def test_an_event_named_as_the_event() -> None:
    assert "americo" in names("there is a event americo at la boom")
    assert "americo" in names("please confirm the event is americo to take place tomorrow")
    assert "the buttertones" in names("i found 1 event for you the event is the buttertones located at chop shop")
    for said in (
        "the event is free on march 3rd",
        "the event is sold out",
        "the event is being held on march 3rd",
        "the event is great",
        "the event is scheduled for march 3rd",
        "the event was cancelled",
    ):
        assert names(said) == [], said


def test_who_made_a_song_said_before_it_or_as_whose_songs() -> None:
    assert names("i would like that jennifer lopez song dance again") == ["jennifer lopez", "dance again"]
    assert "morgan wallen" in names("would the morgan wallen song whiskey glasses from his album if i know me be good")
    assert "camila cabello" in names("i found one song it's camila cabello 's real friends on the album camila")
    assert names("i like shailesh premi 's songs") == ["shailesh premi"]
    assert names("i love adele's songs") == ["adele"]
    assert names("the song you requested is by jason aldean") == ["jason aldean"]
    for said in (
        "play the next song please",
        "the same song again",
        "can you play that song again",
        "play a different song",
        "what is the last song you played",
        "let's play some songs",
        "today's songs",
        "it's my favorite",
    ):
        assert names(said) == [], said


def test_a_title_may_open_with_it_when_more_words_follow() -> None:
    assert "it has begun" in names("there's it has begun by starset from the album transmissions")
    assert "it has begun" in names("i'll start playing it has begun on the tv")
    for said in ("play it on the tv", "play it again on the tv", "you want to play it right now on the tv"):
        assert names(said) == [], said


def test_a_director_named_as_the_director() -> None:
    assert names("i'm thinking a movie by film director neil burger would be a hit") == ["neil burger"]
    assert "tina gordon" in names("funny movies would be great a director i like is tina gordon")
    assert names("the director is great") == []


def test_lower_case_venues_streets_and_capitalised_the() -> None:
    said = "a table for 2 today at 5 30 pm at 5a5 steak lounge located in san francisco is that correct"
    assert ("name", "5a5 steak lounge") in [(v.kind, v.text) for v in values_in(said)]
    assert [v.text for v in values_in("meet at 7pm lounge") if v.kind == "name"] == []
    for said, address in (
        ("It is located at 1517 21st Street.", "1517 21st Street"),
        ("your 5 pm reservation at 800 occidental avenue south is all set", "800 occidental avenue south"),
        ("location is on the 1422 southwest 11th avenue", "1422 southwest 11th avenue"),
    ):
        assert address in [v.text for v in values_in(said) if v.kind == "address"], said
    assert "The Drums" in [v.text for v in values_in("Please confirm 1 ticket for The Drums on March 10th.")]
    assert "Drums" in [v.text for v in values_in("The Drums are playing.")]  # a sentence's first word: not kept


def test_a_genre_said_as_a_type_of_song_or_after_its_a() -> None:
    def genres(said: str) -> list[str]:
        return [span for kind, span in _named_spans(said, []) if kind == "genre"]

    assert genres("this is pop type song and the same was released on 2016") == ["pop"]
    assert genres("it s a pop") == ["pop"]
    assert genres("it's a great song") == []
    assert genres("i like this kind of music") == []


def test_who_made_a_song_is_any_words_between_by_and_the_albums_frame() -> None:
    assert "all that remains" in names("how about the thunder rolls by all that remains from the album madness")
    assert names("by the way from the album") == []


@pytest.mark.parametrize(
    ("said", "place"),
    [
        # where a trip goes, after the verbs of travel, in lower case and capitalised
        ("monday next week i'd be leaving from las vegas and going to sd", "sd"),
        ("i want to go to paris with american airlines at premium economy", "paris"),
        ("there are three of us we're visiting kuala lumpur", "kuala lumpur"),
        ("i've a trip to london uk for a couple of days", "london uk"),
        ("this year i am traveling to sd for vacation", "sd"),
        ("I want to go to Seattle, WA on the 8th, and be back by the 11th of March.", "Seattle"),
        # the place after where a trip leaves from
        ("you would be leaving from las vegas to san diego next monday at 3 10 pm", "san diego"),
        ("it goes from anaheim intermodal center to union plaza", "union plaza"),
        # where a stay or a table is
        ("you're looking to book a house for three people in kuala lumpur checking in next monday", "kuala lumpur"),
        ("the house would be in ny", "ny"),
        ("i want to book a table at xiao loong in san fran at evening 5 30", "san fran"),
        ("okay i have 3 people in your group checking in at san diego the day after tomorrow", "san diego"),
    ],
)
def test_where_a_trip_goes_or_a_stay_is_is_read(said: str, place: str) -> None:
    assert place in names(said), names(said)


@pytest.mark.parametrize(
    "said",
    [
        "i am going to need a table for two",
        "i'm going to book it",
        "i want a flight in the morning",
        "the flight is in economy",
        "i need a table from 6 to 8 pm",
        "i want to transfer money from my checking to savings",
        "is the restaurant in walking distance",
    ],
)
def test_a_verb_a_time_or_a_class_after_the_words_of_a_trip_is_no_place(said: str) -> None:
    assert names(said) == []


@pytest.mark.parametrize(
    ("said", "who"),
    [
        ("please confirm dentist appointment tomorrow at three pm with drysdale christine", "drysdale christine"),
        ("just to confirm you want an appointment at alejandra de alba m d next thursday and one pm",
         "alejandra de alba m d"),
        ("an appointment for the day after tomorrow at six thirty pm at los gatos beauty bar", "los gatos beauty bar"),
        ("your appointment will be for two thirty pm on march 9th at salon valenti hair nails skin",
         "salon valenti hair nails skin"),
    ],
)  # fmt: skip
def test_who_an_appointment_is_with_is_read_past_its_time(said: str, who: str) -> None:
    assert who in names(said), names(said)
    assert names("your appointment is at 3 pm") == []
    assert names("the appointment is with the doctor on monday") == []


def test_a_place_offered_or_said_as_where_it_is_is_read() -> None:
    assert "Blue Note Napa" in names("You can try Mandy Harvey at Blue Note Napa.")
    assert "Chase Center Experience" in names("How about Celine Dion at Chase Center Experience?")
    assert "Petco Park" in names("It is at Petco Park.")
    assert names("how about a table at 6 pm") == [] and names("the table is at the window") == []


def test_a_fare_class_said_alone_is_read() -> None:
    def classes(said: str) -> list[str]:
        return [v.text for v in values_in(said) if v.kind == "class"]

    assert classes("all seats are economy would you like me to go ahead") == ["economy"]
    assert classes("for 4 passengers traveling economy") == ["economy"]
    assert classes("Your three tickets are on economy.") == ["economy"]
    assert classes("an economy car please") == [] and classes("premium economy") == ["premium economy"]


def test_a_venue_said_right_after_a_game_is_no_team() -> None:
    assert names("cubs vs brewers wrigley field") == ["cubs vs brewers", "wrigley field"]
    assert "red sox vs yankees" in names("two tickets for red sox vs yankees fenway park on march 3rd")
    assert names("the falcons vs jaguars") == ["falcons vs jaguars"]


@pytest.mark.parametrize(
    ("said", "genre"),
    [
        ("Is there any more? I also like adventure.", "adventure"),  # a known genre as what the caller likes
        ("i love soundtracks from 2010", "soundtracks"),
        ("Can you find me a Romantic movie directed by Cameron Crowe?", "Romantic"),  # a mood that names a genre
        ("i like movies that are funny", "funny"),
        ("can you find anything funny", "funny"),
    ],
)
def test_a_genre_said_as_what_the_caller_likes_or_as_a_mood(said: str, genre: str) -> None:
    assert ("genre", genre) in _named_spans(said, [])


@pytest.mark.parametrize("said", ["i like it", "i like that one", "thats funny", "i want to find some movies"])
def test_liking_a_thing_that_is_no_genre_names_none(said: str) -> None:
    assert not [span for kind, span in _named_spans(said, []) if kind == "genre"]


def test_the_agents_answer_to_what_kind_it_is_is_the_genre_in_any_words() -> None:
    assert _genre_answer("its south asia") == [("genre", "south asia")]
    assert _genre_answer("country") == [("genre", "country")]
    assert _genre_answer("it is um house music") == [("genre", "house")]
    for stall in ("let me check", "one moment", "its great", "dont know", "sure thing"):
        assert _genre_answer(stall) == [], stall


def test_who_made_it_named_as_the_artist() -> None:
    assert "janob rasul" in names("janob rasul is the artist")
    assert "adele" in names("the singer is adele")
    assert "ariana grande" in names("ok ariana grande has an album titled dangerous woman i can play her hit")
    assert names("who is the artist") == [] and names("that is the artist") == []


def test_a_venue_that_puts_the_show_on_or_where_it_is_on_a_day() -> None:
    said = "on march 2nd at seven pm the lower ossington theatre will present anne of green gables"
    assert "lower ossington theatre" in names(said)
    assert "the san francisco symphony" in names("carmina burana is at the san francisco symphony on march 2nd")
    assert names("the table is at 7 pm on march 2nd") == [] and names("my mom is at home on the 3rd") == []


def test_a_city_after_at_ends_where_the_next_sentence_starts() -> None:
    said = (
        "the ticket is booked for bill callahan which will take place on march 8th at los angeles the ticket is booked"
    )
    assert "los angeles" in names(said)


def test_an_event_named_before_the_word_event_or_as_what_takes_place() -> None:
    assert "fidlar" in names("i found fidlar event on march 2nd at the observatory north park")
    assert "fidlar" in names("okay you want two tickets for fidlar event on march 7th at san diego please confirm")
    said = "the event you are looking to buy a ticket for is the russian circles taking place on march 12th"
    assert "the russian circles" in names(said)
    for said in (
        "i found 3 events on march 2nd",
        "i found sports events on the 3rd",
        "is the event taking place on march 3",
    ):
        assert names(said) == [], said


def test_an_album_whose_name_holds_the() -> None:
    assert "all the little lights" in names("do you like let her go by passenger on the all the little lights album")


def test_a_car_model_no_list_holds_is_read_by_its_size_class() -> None:
    def cars(said: str) -> list[str]:
        return [v.text for v in values_in(said) if v.kind == "car_type"]

    assert cars("there is a a compact bolt available on march 10th at seattle-tacoma international airport") == [
        "compact bolt"
    ]
    assert cars("a compact cooper car available at jomo kenyatta international airport") == ["compact cooper"]
    assert cars("there's a compact car cooper at sfo international airport") == ["compact car cooper"]
    assert cars("a compact car available") == ["compact car"]
    assert cars("a compact car today at sfo") == ["compact car"]


def test_an_address_with_no_street_word_where_something_is_located() -> None:
    def addresses(said: str) -> list[str]:
        return [v.text for v in values_in(said) if v.kind == "address"]

    assert addresses("at 1510 marina vista you can find edgewater isle senior apartments") == ["1510 marina vista"]
    said = "arbor terrace apartments located at 555 east el camino real with three bedrooms and 1 bath"
    assert addresses(said) == ["555 east el camino real"]
    for said in (
        "at 7 pm it is",
        "located at 5 minutes from here",
        "at 3 in the afternoon",
        "it rents at 3750 dollars",
    ):
        assert addresses(said) == [], said


@pytest.mark.parametrize(
    ("asked", "answer", "amount"),
    [("total cost", "56", "56"), ("how much would it cost", "it is approx 8 64", "8 64"),
     ("how much is it", "it is 1,200", "1,200")],
)  # fmt: skip
def test_a_number_said_alone_in_answer_to_how_much_is_the_amount_as_said(asked: str, answer: str, amount: str) -> None:
    digest = classify(Turn("a", "assistant", answer, T0), previous=Turn("q", "user", asked, T0))
    assert ("amount", amount) in _kinded_spans(digest)
    other = classify(Turn("a", "assistant", answer, T0), previous=Turn("q", "user", "what time is it", T0))
    assert not any(kind == "amount" for kind, _ in _kinded_spans(other))

"""In-call recall counting a caller's bookings ("the second event tickets"): a search that booked nothing, a balance
checked in between and a take of what was just put forward are no bookings of their own."""

from __future__ import annotations

from tests.test_compaction import condensed

TICKETS_IN_PHOENIX = [
    ("user", "i want three tickets to an event in phoenix on the tenth"),
    ("assistant", "please confirm three tickets for the drums on march 10th in phoenix"),
    ("user", "yes"),
    ("assistant", "your tickets are booked"),
    ("user", "thanks that's all"),
    ("assistant", "have a nice day"),
]


def test_a_concert_searched_and_put_off_is_not_the_first_of_the_callers_tickets() -> None:
    """The caller asked when it starts ("when is the start time") and put the tickets off ("no hold off on
    tickets"), and the agent put the concert forward as "i have x at y": a search, no tickets asked for."""
    turns = [
        ("user", "can you play umbrella on the kitchen speaker"),
        ("assistant", "please confirm playing umbrella on the kitchen speaker"),
        ("user", "yes"),
        ("assistant", "enjoy the song"),
        ("user", "thanks i also want to go to a concert in seattle"),
        ("assistant", "i have the lumineers at the paramount theatre"),
        ("user", "when is the start time"),
        ("assistant", "it starts at seven thirty pm"),
        ("user", "no hold off on tickets"),
        ("assistant", "is there anything else"),
        ("user", "no that is all today"),
        ("assistant", "have a good day"),
        *TICKETS_IN_PHOENIX,
    ]
    compactor = condensed(turns)
    pool = [b for b in compactor._bookings if b.kind == "event"]
    assert len(pool) == 2 and pool[0].left and not pool[0].booked
    [tickets] = compactor._turn_recall._counted(pool)  # one booking, the search said with it
    assert tickets[0] is pool[1]
    recall = compactor.plan("sorry what was the city for the first event tickets again").recall
    assert "phoenix" in recall and "seattle" not in recall


def test_a_balance_checked_between_a_search_and_the_tickets_leaves_one_booking() -> None:
    """Events searched, a balance checked, then the tickets bought: the caller booked nothing else in between, so
    the search and the tickets are one booking (the caller tries again after a look at their money)."""
    turns = [
        ("user", "i need help finding something interesting to do"),
        ("assistant", "in which city should i search and what kind of event music or sports"),
        ("user", "i'd like to find a games event in phoenix"),
        ("assistant", "i found 10 events there is suns vs jazz on march 10th at 8 pm"),
        ("user", "that sounds interesting"),
        ("assistant", "would you like me to buy tickets to the game for you"),
        ("user", "not now but i appreciate it"),
        ("assistant", "is there anything else you'd like me to help you with"),
        ("user", "what's my balance"),
        ("assistant", "did you mean the balance of your checking or savings account"),
        ("user", "my checking account please"),
        ("assistant", "the balance of your checking account is 2,183 dollars"),
        ("user", "thank you"),
        ("assistant", "is there anything else you'd like me to help you with"),
        ("user", "second thought i'd like to buy three tickets to the game you were able to find"),
        *TICKETS_IN_PHOENIX[1:],
        ("user", "find me an event in denver"),
        ("assistant", "please confirm two tickets for the lumineers on march 12th in denver"),
        ("user", "yes"),
        ("assistant", "your tickets are booked"),
        ("user", "thanks bye"),
    ]
    compactor = condensed(turns)
    pool = [b for b in compactor._bookings if b.kind == "event"]
    assert len(pool) == 3
    counted = compactor._turn_recall._counted(pool)
    assert len(counted) == 2 and counted[1] == [pool[2]]
    recall = compactor.plan("sorry what was the city for the second event tickets again").recall
    assert "denver" in recall and "phoenix" not in recall


def test_tickets_the_caller_asked_for_by_a_genre_of_music_count_among_their_event_tickets() -> None:
    """ "I like the blues", "i like music": the caller's words name music, but the agent read back one ticket for a
    singer's show: what was booked is event tickets, the first of them."""
    turns = [
        ("user", "i want to do something i like the blues on the 12th of this month"),
        ("assistant", "do you have a preference for the event what city should i look in"),
        ("user", "i like music check around napa"),
        ("assistant", "jon b is popular he will be singing at blue note napa on march 12th at six pm"),
        ("user", "sounds great"),
        ("assistant", "do you want tickets"),
        ("user", "yes just one please"),
        ("assistant", "please confirm the following booking 1 ticket for jon b in napa on march 12th"),
        ("user", "yes that works"),
        ("assistant", "your reservation has been confirmed"),
        ("user", "thanks that's all"),
        ("assistant", "have a nice day"),
        *TICKETS_IN_PHOENIX,
    ]
    compactor = condensed(turns)
    assert compactor._bookings[0].kind != "event"  # the caller's words named music
    recall = compactor.plan("sorry what was the city for the first event tickets again").recall
    assert "napa" in recall and "phoenix" not in recall

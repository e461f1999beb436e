"""A second, independent set of probe wordings for the SGD evaluation (``--wordings blind``).

The wordings of :mod:`bench.sgd.vocab` were written by the people who wrote the recall rules, so
they may match what the rules expect. This set was written afterwards, without reading the recall
code or the memory layer's vocabulary, as callers on the phone would ask: indirect questions,
fillers and self-repairs, British and American phrasing, other words for the same things
("reservation", "gig", "match", "track", "film"), relative references ("the one before that",
"my previous call") and questions with no time anchor at all. It is kept unchanged since it was
written; a recall rule must never copy one of these strings.

Same structure as :mod:`bench.sgd.vocab` (the callers, calls and ground truth are the same; only the
questions change):

- ``QUESTIONS[kind][group]``: templates with ``{when}`` (the selector phrase, possibly empty) and,
  for events, ``{event}`` (concert / game).
- ``SELECTORS[selector]``: (family, phrases). ``{month}`` is a month name, ``{ago}`` a phrase of
  ``AGO``, ``{did}`` a phrase of ``KIND_DID`` for the kind asked about.
- ``AGO``: how long ago, in days (inclusive ranges), and the phrases for it.
- ``ABOUT``: the extra ``about`` selector (family ``topic``): the call is named by another value of
  it ("the one in San Jose", "the one by Adele") that no other call of the kind shares.
- Even-numbered wordings of each list go to the tuning half, odd-numbered to the held-out half
  (``vocab.for_half``).
"""

from __future__ import annotations

# kind -> how a caller says what they did (for "the first time I ...")
KIND_DID: dict[str, tuple[str, ...]] = {
    "restaurant": ("booked dinner with you", "made a restaurant reservation", "got a table through you", "booked a restaurant"),
    "event": ("got tickets from you", "booked a show", "ordered tickets", "bought tickets through you"),
    "song": ("asked you for some music", "had you put a song on", "got you to play something", "asked for a track"),
    "movie": ("had you put a film on", "asked you for a movie", "got you to start a film", "watched something with you"),
}  # fmt: skip

QUESTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "restaurant": {
        "restaurant": (
            "Sorry, what was the name of that restaurant {when}?",
            "Where was it I had dinner booked {when}? The place, I mean.",
            "Um, the place we booked for dinner {when}, what was it called again?",
            "I can't for the life of me remember the restaurant {when}, which one was it?",
            "Can you tell me which place you reserved for us {when}?",
            "Which eatery was the reservation at {when}?",
            "My wife's asking where we ate {when}, uh, which restaurant did you book?",
            "What's the name of the spot I got a table at {when}?",
        ),
        "time": (
            "Remind me what time our table was {when}?",
            "What time did we have the reservation for {when}? Was it seven or eight?",
            "When was the dinner booking for {when}, like what time?",
            "The table {when}, uh, what time were we supposed to get there?",
            "I need the time of the restaurant booking {when}.",
            "What time was I eating out {when}, do you have that?",
            "How late was the reservation {when}, what time?",
            "Could you check the time on my dinner reservation {when}?",
        ),
        "date": (
            "What day was the dinner reservation {when} for?",
            "The restaurant booking {when}, which day did we go for?",
            "Which date did you put the table down for {when}?",
            "When was the meal I booked {when}, what date?",
            "Do you have the date of my restaurant reservation {when}?",
            "The table you got me {when}, was that for the 10th or, um, what date was it?",
        ),
        "party": (
            "How many of us was the table for {when}?",
            "The dinner reservation {when}, how many people did I say?",
            "Was the table {when} for two or more? How many?",
            "How many covers did I book {when}?",
            "What was the head count on the restaurant booking {when}?",
            "How many seats did you reserve at the restaurant {when}?",
        ),
        "address": (
            "Where's the restaurant I booked {when}? I need the address for the cab.",
            "Can I get the address of the place we had the table {when}?",
            "What street is that restaurant on, the one {when}?",
            "I'm putting it in the satnav, what's the address of the restaurant {when}?",
            "Whereabouts is the restaurant you booked {when}, the exact address?",
            "How do I find the restaurant I booked {when}, what's the address?",
        ),
        "phone": (
            "Have you got a number for the restaurant {when}? I might be running late.",
            "What's the phone number for the place I booked {when}?",
            "I need to ring the restaurant I had {when}, what's their number?",
            "Could you give me the restaurant's number, the one I booked {when}?",
            "Is there a contact number for the restaurant you reserved {when}?",
            "What number do I call for the dinner place {when}?",
        ),
        "price": (
            "Was the restaurant {when} a pricey one or cheap?",
            "How much is the place I booked {when}, roughly, like price-wise?",
            "Is the restaurant you found me {when} expensive? I'm on a budget this month.",
            "The place we booked for dinner {when}, what sort of price range is it?",
            "How dear was that restaurant {when}?",
            "Was the restaurant {when} one of the moderately priced ones?",
        ),
        "city": (
            "What city was the restaurant in {when}?",
            "The table I booked {when}, which town was that, um, in?",
            "Where was the dinner {when}, which city?",
            "Was the restaurant {when} in town or somewhere else? Which city?",
            "Remind me which city I booked dinner in {when}.",
            "Which city did we have the reservation in {when}?",
        ),
    },
    "event": {
        "event": (
            "What was the {event} I got tickets to {when}?",
            "Which show did you book for me {when}?",
            "Um, the tickets {when}, what were they for again?",
            "Who was playing at the thing I got tickets for {when}?",
            "Remind me what I'm going to see, the tickets I ordered {when}.",
            "What was the name of the {event} I booked {when}?",
            "The tickets I got, uh, sorry, the ones {when}, what was the {event}?",
            "Which gig or match did I buy tickets for {when}?",
        ),
        "time": (
            "What time does the {event} start, the one I got tickets for {when}?",
            "When's kick-off or curtain-up, uh, for the tickets I bought {when}?",
            "What time do I need to be there for the {event} I booked {when}?",
            "The tickets I got {when}, what time is the {event}?",
            "Do you know when the {event} I booked {when} begins?",
            "Remind me of the start time for the {event} tickets {when}.",
            "What time are the doors, I mean what time is the {event} I booked {when}?",
            "How early does the {event} start, the one I booked {when}?",
        ),
        "date": (
            "What date are the {event} tickets I got {when} for?",
            "When is the {event} I booked {when}, which day?",
            "The tickets I ordered {when}, what day are they for?",
            "Which day was the {event} you booked for me {when}?",
            "Can you check the date on the tickets {when}?",
            "What's the date of the {event}, the tickets I got {when}?",
        ),
        "party": (
            "How many tickets did I get {when}?",
            "The {event} tickets {when}, was it two or three of them?",
            "How many of us are going to the {event} I booked {when}?",
            "How many seats was the order {when}?",
            "Remind me how many tickets you booked {when}.",
            "For how many people did I order the {event} tickets {when}?",
        ),
        "venue": (
            "Where's the {event} being held, the one I booked {when}?",
            "Which venue is the {event} at, the tickets I got {when}?",
            "Where do I go for the tickets I bought {when}? What's the place called?",
            "What's the name of the stadium or the hall for the {event} {when}?",
            "The {event} I booked {when}, where is it on?",
            "Which arena or theatre was it, for the tickets {when}?",
        ),
        "address": (
            "What's the address for the {event} I booked {when}?",
            "I need directions, where exactly is the venue for the tickets {when}?",
            "Can you give me the street address of the {event} {when}?",
            "What's the address of the place the {event} is at, the one I booked {when}?",
            "Whereabouts is the venue I got tickets for {when}, the address please.",
            "What's the street for the {event} I ordered tickets to {when}?",
        ),
        "city": (
            "Which city is the {event} in, the one I booked {when}?",
            "The tickets I bought {when}, where was that, what city?",
            "What town is the {event} in, the one I got tickets for {when}?",
            "Do I have to travel for the {event} {when}? Which city is it in?",
            "Remind me which city the tickets {when} were for.",
            "Where was the {event} I booked {when}, which city?",
        ),
    },
    "song": {
        "song": (
            "What was that song you put on for me {when}?",
            "The track you played {when}, what's it called?",
            "Uh, there was a song {when}, what was it, the name of it?",
            "Which tune did I ask for {when}?",
            "Can you tell me the name of the song I played {when}?",
            "I've had a song stuck in my head, which one did you play {when}?",
            "What song did I have you play {when}?",
            "Remind me the title of the track {when}.",
        ),
        "artist": (
            "Who was that song by, the one you played {when}?",
            "Who's the artist on the track {when}?",
            "The song {when}, which band or singer was it?",
            "Who sings the song you put on {when}?",
            "Which artist did I listen to {when}?",
            "Remind me who performed the song you played {when}.",
        ),
        "album": (
            "Which album's the song from, the one {when}?",
            "What record was the track you played {when} on?",
            "The song you put on {when}, what album is it off?",
            "Do you know the album of the song I played {when}?",
            "What was the album, for the song I listened to {when}?",
            "Which LP was that track on, {when}?",
        ),
        "device": (
            "Where did you play the music {when}, which speaker?",
            "What did the song play on {when}, the telly or the speaker?",
            "Which device was the song on {when}?",
            "The track {when}, what did you play it through?",
            "Which room speaker did the song go to {when}?",
            "What was the song playing on {when}?",
        ),
    },
    "movie": {
        "movie": (
            "What was that film I watched {when}?",
            "Which movie did you put on {when}?",
            "The film {when}, uh, what was the title?",
            "Remind me what we watched {when}.",
            "I can't remember the name of the film I watched {when}, what was it?",
            "What movie did I stream {when}?",
        ),
        "director": (
            "Who directed the film I watched {when}?",
            "Who was the director of the movie {when}?",
            "The film you played {when}, who's it by, the director?",
            "Who made the movie I saw {when}?",
            "Do you know the director of the film you put on {when}?",
            "Whose film was it {when}, the director I mean?",
        ),
    },
}

# selector -> (family, phrases)
SELECTORS: dict[str, tuple[str, tuple[str, ...]]] = {
    "last": (
        "recent",
        (
            "on my previous call",
            "the last time I rang",
            "when we last spoke",
            "on my most recent call",
            "when I called before",
            "the last time we talked",
            "the other day",
            "when I phoned last",
            "on my earlier call",
            "the most recent time",
            "last time round",
            "just lately",
        ),
    ),
    "first_call": (
        "ordinal",
        (
            "the very first time I rang you",
            "on my first ever call",
            "when I first got in touch",
            "the first time I phoned",
            "way back on my first call",
            "on the first call I made to you",
            "when I called you the first time",
            "in my very first call",
        ),
    ),
    "second_call": (
        "ordinal",
        (
            "the second time I rang",
            "on the second call I made",
            "the second time I got in touch",
            "when I phoned for the second time",
            "on call number two",
            "on my second time calling",
        ),
    ),
    "first_of_kind": (
        "ordinal",
        (
            "the first time I {did}",
            "the very first one",
            "the earliest time I {did}",
            "the first time round",
            "back when I first {did}",
            "the earliest one",
            "originally, the first one",
            "the first of them",
        ),
    ),
    "before_last": (
        "ordinal",
        (
            "the one before that",
            "the previous one, not the latest",
            "the time before",
            "not the most recent one, the one before",
            "the second to last time",
            "the penultimate time",
            "the one before the last one",
            "the time before the most recent",
        ),
    ),
    "month": (
        "time",
        (
            "back in {month}",
            "sometime in {month}",
            "when I rang in {month}",
            "around {month} time",
            "during {month}",
            "in the month of {month}",
            "when I phoned you in {month}",
            "earlier, in {month}",
        ),
    ),
    "ago": (
        "time",
        ("{ago}", "when I rang {ago}", "{ago} or so", "when we spoke {ago}", "{ago}", "when I called you {ago}"),
    ),
    "kind_only": ("kind", ("", "", "with you", "through you")),
    "about": ("topic", ("{about}", "{about}", "{about}", "{about}")),
}

# How long ago, in days (inclusive ranges), and the phrases for it
AGO: tuple[tuple[int, int, tuple[str, ...]], ...] = (
    (5, 9, ("a week or so ago", "about a week back", "last week", "a week back")),
    (12, 17, ("a fortnight ago", "about two weeks back", "a couple weeks ago", "two weeks or so ago")),
    (19, 24, ("three weeks back", "three weeks or so ago", "roughly three weeks ago", "three-ish weeks ago")),
    (27, 36, ("a month or so ago", "about a month back", "four weeks ago", "roughly a month ago")),
    (55, 68, ("a couple of months ago", "two months back", "around two months ago", "a couple months back")),
)

# ABOUT[group]: a phrase naming the target call by another of its values ({value} as the call said it)
ABOUT: dict[str, tuple[str, ...]] = {
    "city": (", the one in {value},", ", the {value} one,", ", the booking in {value},", ", over in {value},"),
    "artist": (", the one by {value},", ", the {value} one,", ", that {value} song,", ", by {value} I think,"),
    "cuisine": (
        ", the {value} place,",
        ", the {value} one,",
        ", at the {value} restaurant,",
        ", the {value} food one,",
    ),
}

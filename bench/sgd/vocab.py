"""Every wording of the SGD evaluation in one place: kinds, value groups, question templates, selectors, fillers.

This module is data. The rest of ``bench.sgd`` reads it and never spells a caller's words itself.

- ``SERVICES``: which SGD services the evaluation understands, and for each the kind of thing it
  books or plays (``KINDS``) and which of its slots carry a value of which *value group* (a
  restaurant name, a time, a party size, an address...). A dialogue of another service is skipped
  and counted; adding a service is adding its entry here.
- ``QUESTIONS[kind][group]``: question templates with a ``{when}`` placeholder for the selector
  phrase and, for events, ``{event}`` (concert / game).
- ``SELECTORS[selector]``: the phrases that point at an earlier call (recency, ordinal, time, kind).
- Templates are split between the two halves of the data: the tuning half is asked with the even-numbered
  wordings of each list, the held-out half with the odd-numbered ones (``for_half``), so tuning on
  the tuning half's wordings does not tune on the held-out half's.
- ``FILLER_WORDS``: a turn made only of these words (after normalisation) is a filler/backchannel.
- Identity lines (account number or e-mail said aloud) and the voice variant's fillers and backchannels.
"""

from __future__ import annotations

from collections.abc import Sequence

# --------------------------------------------------------------------------- services and kinds

# kind -> how the caller names it (for reports) and the verb phrase used by "the first time I ..."
KINDS: dict[str, dict[str, str]] = {
    "restaurant": {"label": "restaurant table", "did": "booked a table"},
    "event": {"label": "event tickets", "did": "bought tickets"},
    "song": {"label": "song played", "did": "had you play a song"},
    "movie": {"label": "movie played", "did": "watched a movie"},
}

# service -> (kind, transactional intents whose success makes the episode, slot -> value group)
SERVICES: dict[str, tuple[str, frozenset[str], dict[str, str]]] = {
    "Restaurants_1": (
        "restaurant",
        frozenset({"ReserveRestaurant"}),
        {
            "restaurant_name": "restaurant",
            "date": "date",
            "time": "time",
            "party_size": "party",
            "street_address": "address",
            "phone_number": "phone",
            "price_range": "price",
            "city": "city",
            "cuisine": "cuisine",
        },
    ),
    "Events_1": (
        "event",
        frozenset({"BuyEventTickets"}),
        {
            "event_name": "event",
            "date": "date",
            "time": "time",
            "number_of_seats": "party",
            "city_of_event": "city",
            "event_location": "venue",
            "address_of_location": "address",
            "subcategory": "category",
        },
    ),
    "Events_2": (
        "event",
        frozenset({"BuyEventTickets"}),
        {
            "event_name": "event",
            "date": "date",
            "time": "time",
            "number_of_tickets": "party",
            "city": "city",
            "venue": "venue",
            "venue_address": "address",
            "category": "category",
        },
    ),
    "Music_1": (
        "song",
        frozenset({"PlaySong"}),
        {"song_name": "song", "artist": "artist", "album": "album", "genre": "genre", "playback_device": "device"},
    ),
    "Music_2": (
        "song",
        frozenset({"PlayMedia"}),
        {"song_name": "song", "artist": "artist", "album": "album", "genre": "genre", "playback_device": "device"},
    ),
    "Media_1": (
        "movie",
        frozenset({"PlayMovie"}),
        {"title": "movie", "directed_by": "director", "genre": "genre"},
    ),
}

# value groups that a caller may change during a booking (a system confirmation, then "no, make it ...")
UPDATABLE = frozenset({"date", "time", "party", "device", "city", "restaurant", "event", "song", "movie"})

# An event's noun, from the booked event's type (service_results "event_type" / "category").
EVENT_NOUNS = {"music": "concert", "sports": "game"}

# --------------------------------------------------------------------------- questions

# QUESTIONS[kind][group]: {when} is a selector phrase (may be empty); {event} an event noun.
QUESTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "restaurant": {
        "restaurant": (
            "Which restaurant did I book {when}?",
            "What was the name of the restaurant I reserved {when}?",
            "Remind me where I had a table {when}.",
            "The restaurant you booked for me {when}, what was it called?",
            "I forgot the name of the place we booked {when}, can you tell me?",
            "Where did you get me a table {when}?",
        ),
        "time": (
            "What time was the table I booked {when}?",
            "What time was the restaurant reservation I made {when}?",
            "The dinner booking I made {when}, what time was that at?",
            "Can you remind me what time I reserved the table for, {when}?",
            "At what time was the restaurant booking I made {when}?",
            "The table you booked for me {when}, what time was it?",
        ),
        "date": (
            "What day was the restaurant reservation I made {when}?",
            "Which date did I book the table for, {when}?",
            "The restaurant booking I made {when}, what date was it?",
            "For which day did you reserve the table {when}?",
        ),
        "party": (
            "For how many people was the table I booked {when}?",
            "For how many did I book the restaurant {when}?",
            "The table I reserved {when}, how many seats was that?",
            "What party size did we put on the restaurant booking {when}?",
        ),
        "address": (
            "What's the address of the restaurant I booked {when}?",
            "Where is the restaurant I reserved {when} located?",
            "Can you give me the street address of the restaurant I booked {when}?",
            "On which street was the restaurant I reserved {when}?",
        ),
        "phone": (
            "What was the phone number of the restaurant I booked {when}?",
            "Can you give me the number of the restaurant I reserved {when}?",
            "I need to call the restaurant I reserved {when}, what's their number?",
            "Do you have the contact number of the restaurant you booked {when}?",
        ),
        "price": (
            "How expensive was the restaurant I booked {when}?",
            "What price range was the restaurant I reserved {when}?",
            "Was the restaurant I reserved {when} pricey?",
            "The restaurant you booked for me {when}, was it cheap or expensive?",
        ),
        "city": (
            "In which city was the restaurant I booked {when}?",
            "In what city did I reserve the table {when}?",
            "The table you booked {when}, which town was that in?",
            "In what city was the dinner reservation I made {when}?",
        ),
    },
    "event": {
        "event": (
            "Which {event} did I buy tickets for {when}?",
            "What was the {event} I got tickets for {when}?",
            "Remind me what the tickets I bought {when} were for.",
            "The tickets I bought {when}, which {event} was that?",
            "What event did you book for me {when}?",
            "I forgot which {event} I booked {when}, can you tell me?",
        ),
        "time": (
            "What time does the {event} I booked {when} start?",
            "What time was the {event} I bought tickets for {when}?",
            "The {event} I booked {when}, what time is it?",
            "When does the {event} I bought tickets for {when} begin?",
            "What's the start time of the {event} I booked {when}?",
            "The tickets you got me {when}, what time was the {event}?",
        ),
        "date": (
            "What date is the {event} I bought tickets for {when}?",
            "For which day were the tickets I bought {when}?",
            "The {event} I booked {when}, which date was that?",
            "On what day is the {event} I got tickets for {when}?",
        ),
        "party": (
            "How many tickets did I buy {when}?",
            "For how many people were the {event} tickets I bought {when}?",
            "How many seats did I get for the {event} {when}?",
            "The tickets you booked for me {when}, how many were there?",
        ),
        "venue": (
            "Where is the {event} I booked {when}, which venue?",
            "What was the venue of the {event} I bought tickets for {when}?",
            "At which stadium or hall is the {event} I booked {when}?",
            "At which venue are the tickets I bought {when}?",
        ),
        "address": (
            "What's the address of the venue for the {event} I booked {when}?",
            "Where exactly is the {event} I got tickets for {when}, the street address?",
            "Can you give me the address of the {event} I booked {when}?",
            "Which street is the venue on, for the {event} I booked {when}?",
        ),
        "city": (
            "In which city is the {event} I booked {when}?",
            "In what city were the tickets I bought {when}?",
            "The {event} I booked {when}, what town was that in?",
            "In which city is the {event} I got tickets for {when}?",
        ),
    },
    "song": {
        "song": (
            "Which song did you play for me {when}?",
            "What was the song I asked you to play {when}?",
            "Remind me of the track you put on {when}.",
            "The song you played {when}, what was it called?",
            "What was that song I listened to {when}?",
            "I liked the song you played {when}, what was its name?",
        ),
        "artist": (
            "Who was the artist of the song you played {when}?",
            "Who sang the song I listened to {when}?",
            "The track you put on {when}, who was it by?",
            "Which singer or band did I listen to {when}?",
        ),
        "album": (
            "From which album was the song you played {when}?",
            "What album did the track you played {when} come from?",
            "The song I listened to {when}, what album is that on?",
            "Remind me of the album of the song you played {when}.",
        ),
        "device": (
            "Which speaker did you play the song on {when}?",
            "Where did the music play {when}, on which device?",
            "What device did I have the song on {when}?",
            "The song you played {when}, was it on the TV or a speaker?",
        ),
    },
    "movie": {
        "movie": (
            "Which movie did I watch {when}?",
            "What was the film you started for me {when}?",
            "Remind me of the movie I played {when}.",
            "The movie I watched {when}, what was it called?",
        ),
        "director": (
            "Who directed the movie I watched {when}?",
            "Who was the director of the film I saw {when}?",
            "The movie you played {when}, who made it?",
            "Remind me who directed the film I watched {when}.",
        ),
    },
}

# --------------------------------------------------------------------------- selectors

# selector -> (family, phrases). {month} is a month name; {kind_did} is KINDS[kind]["did"].
SELECTORS: dict[str, tuple[str, tuple[str, ...]]] = {
    "last": (
        "recent",
        ("last time", "the last time I called", "on my last call", "the last time", "most recently", "recently"),
    ),
    "first_call": (
        "ordinal",
        ("on my first call", "the first time I called", "when I first called you", "the very first time I called"),
    ),
    "second_call": ("ordinal", ("on my second call", "the second time I called", "when I called the second time")),
    "first_of_kind": ("ordinal", ("the first time I {kind_did}", "the first time", "the very first time")),
    "before_last": (
        "ordinal",
        (
            "the time before last",
            "the time before the last one",
            "the time before last time",
            "not last time, the time before",
        ),
    ),
    "month": ("time", ("when I called in {month}", "back in {month}", "in {month}", "when we spoke in {month}")),
    "ago": ("time", ("{ago}", "{ago}", "when I called {ago}", "when we talked {ago}")),
    "kind_only": ("kind", ("", "")),
}
SELECTOR_FAMILIES = ("recent", "ordinal", "time", "kind")

# How long ago, in days (inclusive ranges), and the phrases for it
AGO: tuple[tuple[int, int, tuple[str, ...]], ...] = (
    (5, 9, ("last week", "about a week ago")),
    (12, 17, ("two weeks ago", "a couple of weeks ago")),
    (19, 24, ("three weeks ago", "about three weeks ago")),
    (27, 36, ("about a month ago", "a month ago")),
    (55, 68, ("two months ago", "about two months ago")),
)
AGO_MARGIN_DAYS = 5  # no other call of the kind this close to the anchored one

# How often a value group is picked for a probe, relative to the others (names and references of
# what was booked are what callers ask for most; a party size or a city less often).
GROUP_WEIGHTS: dict[str, float] = {
    "restaurant": 3, "event": 3, "song": 3, "movie": 3, "time": 2, "date": 2, "address": 2, "phone": 2,
    "venue": 2, "artist": 1.5, "party": 1, "city": 1, "price": 1, "device": 1, "album": 1, "director": 1,
}  # fmt: skip

# --------------------------------------------------------------------------- fillers

# A turn whose normalised words are all in this set (and at most FILLER_MAX_WORDS) is a filler or
# backchannel: it carries nothing a recall should return.
FILLER_WORDS = frozenset(
    [
        "mm",
        "hmm",
        "mhm",
        "mmhmm",
        "uh",
        "huh",
        "um",
        "uhm",
        "er",
        "okay",
        "ok",
        "k",
        "yes",
        "yeah",
        "yep",
        "yup",
        "sure",
        "right",
        "alright",
        "all",
        "got",
        "it",
        "go",
        "on",
        "thanks",
        "thank",
        "you",
        "very",
        "much",
        "so",
        "no",
        "nope",
        "bye",
        "goodbye",
        "great",
        "good",
        "cool",
        "perfect",
        "fine",
        "nice",
        "wonderful",
        "awesome",
        "that",
        "s",
        "is",
        "it",
        "will",
        "be",
        "have",
        "a",
        "day",
        "lovely",
        "excellent",
        "appreciate",
        "i",
        "see",
        "oh",
        "ah",
        "wow",
        "hi",
        "hello",
    ]
)
FILLER_MAX_WORDS = 8

# --------------------------------------------------------------------------- identity lines

ACCOUNT_ASKS = (
    "Before we start, could I have your account number or the e-mail on file?",
    "Can I get your account number, please?",
    "To pull up your account, what's the account number or e-mail address?",
    "Could you confirm your account number for me?",
)
ACCOUNT_ANSWERS = (
    "Sure, it's {account}.",
    "My account number is {account}.",
    "Yes, account number {account}.",
    "It's {account}, under {name}.",
)
EMAIL_ANSWERS = (
    "Sure, my e-mail is {email}.",
    "It's {email}.",
    "The e-mail on the account is {email}.",
    "You can find me under {email}.",
)
ACCOUNT_VOLUNTEERED = (
    "Hi, I'm calling from my {other} phone today, my account number is {account}.",
    "Hello, this is {name}, account {account}, I'm on a different phone.",
    "Hi, it's {name}. I'm not on my usual phone, the account number is {account}.",
)
EMAIL_VOLUNTEERED = (
    "Hi, I'm calling from my {other} phone today, my e-mail is {email}.",
    "Hello, this is {name}, I'm on another phone, my e-mail address is {email}.",
)
ACCOUNT_AT_END = (
    "Oh, and for your records, my account number is {account}.",
    "One more thing, my account number is {account}, in case you need it.",
)
EMAIL_AT_END = ("Oh, and for your records, my e-mail is {email}.",)
IDENTITY_ACKS = ("Thank you, I've got that.", "Thanks, noted.", "Thank you.", "Got it, thank you.")
OTHER_PHONES = ("work", "wife's", "husband's", "new", "office", "son's", "daughter's", "friend's")
SPOKEN_ACCOUNT_CUES = ("my account number is", "my account uh, number is", "account number", "the account is")

FIRST_NAMES = tuple(
    [
        "Maria",
        "James",
        "Aisha",
        "Tom",
        "Grace",
        "Omar",
        "Lena",
        "Ravi",
        "Sofia",
        "Daniel",
        "Hannah",
        "Marco",
        "Yuki",
        "Nora",
        "Peter",
        "Chloe",
        "Samuel",
        "Ines",
        "Felix",
        "Zara",
        "Ben",
        "Julia",
        "Kofi",
        "Elena",
        "Liam",
        "Mei",
        "Diego",
        "Freya",
        "Arjun",
        "Tessa",
    ]
)
LAST_NAMES = tuple(
    [
        "Lopez",
        "Chen",
        "Patel",
        "Becker",
        "Kim",
        "Haddad",
        "Novak",
        "Iyer",
        "Rossi",
        "Okafor",
        "Weiss",
        "Silva",
        "Tanaka",
        "Quinn",
        "Lindqvist",
        "Martin",
        "Adeyemi",
        "Duarte",
        "Wagner",
        "Ahmed",
        "Carter",
        "Moreau",
        "Mensah",
        "Petrova",
        "Walsh",
        "Wong",
        "Ramos",
        "Hansen",
        "Rao",
        "Brooks",
    ]
)
EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example")
AREA_CODES = ("212", "312", "415", "617", "206", "512", "303", "404", "702", "818", "646", "213")

# --------------------------------------------------------------------------- voice variant

VOICE_FILLERS = ("uh", "um", "uh", "um", "you know", "like")
CALLER_BACKCHANNELS = ("Mm-hmm.", "Okay.", "Uh-huh.", "Yeah.", "Right.", "Mm-hmm, okay.")
AGENT_BACKCHANNELS = ("Mm-hmm, go on.", "Okay.", "Sure.", "Got it.", "Mm-hmm.", "Right, go on.")


def for_half(options: Sequence[str], half: str) -> tuple[str, ...]:
    """The wordings a half is asked with: the odd-numbered ones for "heldout", the even ones for the others.

    A list of one wording (or of wordings that are all needed) is shared.
    """
    if len(options) < 2:
        return tuple(options)
    start = 1 if half == "heldout" else 0  # any other (tuning) half is asked as "tune" is
    return tuple(options[start::2])

"""The words and patterns that classify what a turn of a call holds (see :func:`classify`)."""

from __future__ import annotations

import re
from functools import cache, lru_cache

from ..text.kinds import without_fillers
from ..text.terms import index_terms
from ..text.vocab import DIGIT_WORDS, MONTHS, NUMBER_WORDS, TEENS, TENS, WEEKDAYS

SENTENCE = re.compile(r"(?<=[.!?])\s+(?=\S)")
FILLER = re.compile(
    r"(?:^|(?<=[\s,.;!?]))(?:u+h+|u+m+|u+h+m+|e+r+m*|a+h+|h+m+|m+h*m+|mhm|uh-huh|mm-hmm|uh-uh)(?=[\s,.;!?]|$)[,.]?\s*",
    re.IGNORECASE,
)
PHRASE_FILLER = re.compile(r",?\s*\b(?:you know|i mean)\b\s*,", re.IGNORECASE)
REPEATED_WORD = re.compile(r"\b([a-z']+)(?:\s+\1\b)+", re.IGNORECASE)  # ASR stutter: "I I", "the the"
SPACES = re.compile(r"\s+")
DANGLING = re.compile(r"^[\s,.;:-]+|[\s,;:-]+$")
WORD = re.compile(r"[a-z0-9']+(?:-[a-z0-9']+)*")
RETURNS_TO = re.compile(
    r"\b(?:the|those|these|that) (?:event|match|game|show|concert|tickets?|table|reservation|song|track|movie|film)\b"
)
"""A caller's words for the thing already talked about ("book the tickets for the match"), not a new one."""
BOOKING_VERBS = "book|buy|reserve|purchase"
"""The verbs of taking a thing (an alternation to put in a group): what every "the caller books it" pattern says,
each with words of its own."""
PUTTING_FORWARD = r"how about|what about|there (?:is|are)|i (?:have )?found"
"""The agent's words putting an option forward ("how about ...", "there is ...", "i found 9 events") (an
alternation to put in a group), shared by the patterns of an offer and of search results."""

NUMBER_TOKENS = frozenset([*DIGIT_WORDS, *TEENS, *TENS, "oh", "hundred", "thousand", "million", "double", "triple"])
"""Words of a number said aloud: the shared number words, and how digits are said ("oh", "double")."""
BACKCHANNEL = frozenset(
    [
        "okay",
        "ok",
        "yeah",
        "yep",
        "yup",
        "yes",
        "no",
        "nope",
        "right",
        "sure",
        "alright",
        "fine",
        "good",
        "great",
        "perfect",
        "cool",
        "awesome",
        "wonderful",
        "lovely",
        "thanks",
        "thank",
        "you",
        "cheers",
        "oh",
        "so",
        "well",
        "hmm",
        "mhm",
        "uh",
        "um",
        "er",
        "ah",
        "huh",
        "got",
        "it",
        "i",
        "see",
        "understood",
        "gotcha",
        "wow",
        "really",
        "absolutely",
        "definitely",
        "exactly",
        "correct",
        "true",
        "totally",
        "indeed",
        "certainly",
        "of",
        "course",
        "sounds",
        "the",
        "that's",
        "that",
        "is",
        "makes",
        "sense",
        "no",
        "problem",
        "not",
        "a",
        "problem",
        "hello",
        "hi",
        "hey",
        "please",
        "go",
        "ahead",
        "and",
        "all",
        "then",
    ]
)
ANSWER = frozenset(
    ["yes", "no", "yeah", "yep", "nope", "correct", "right", "that's", "that", "is", "exactly", "sure", "it", "is"]
)
META = re.compile(
    r"\b(?:(?:can|could|would) you (?:please )?(?:repeat|say) (?:that|it|this)(?: again)?|say (?:that|it) again|"
    r"(?:sorry|pardon)(?:,)? (?:what(?: was that| did you say)?(?=\W*$)|come again|i didn't catch)|i didn't (?:catch|hear|get) (?:that|you|it)|"
    r"what was that|come again|let me (?:think|see|check|have a look|take a look|look|pull (?:that|it|this|up)|find)|"
    r"give me (?:a|one) (?:sec|second|moment|minute)|one (?:sec|second|moment|minute)|just a (?:sec|second|moment|minute)|"
    r"(?:hold|hang) on|take your time|no rush|bear with me|bear with us|thanks for (?:waiting|holding|your patience)|"
    r"thank you for (?:waiting|holding|your patience)|(?:are you|you) still there|can you hear me|"
    r"i'm (?:still )?here|still with me|you're breaking up|bad line|the line is bad|(?:line|you|it) (?:cut|went|dropped) out|"
    r"i'll (?:just )?(?:check|look|pull|put you on|be right|have a look|take a look|see what)|"
    r"(?:i'll|i will) (?:wait|hold|hang on)|(?:is|was) there anything else)\b",
    re.IGNORECASE,
)
SMALL_TALK = re.compile(
    r"\b(?:how are you|how's it going|how is it going|how's your day|how was your (?:day|weekend)|i'm (?:good|fine|well|great|doing well|ok|okay)|"
    r"(?:doing )?(?:good|fine|well|great), thanks|weather|raining|sunny|(?:so )?hot (?:today|out)|cold (?:today|out)|"
    r"have a (?:nice|good|great|lovely|wonderful) (?:day|one|weekend|evening|afternoon)|you too|nice to (?:meet|talk|speak)|"
    r"good(?:bye| bye)|bye|take care|thanks for calling|thank you for calling|my pleasure|happy to help|"
    r"(?:good )?(?:morning|afternoon|evening) to you|thanks? (?:you )?for asking|weekend plans|the (?:game|match) last night)\b",
    re.IGNORECASE,
)
ORDINAL_UNITS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9,
}  # fmt: skip
ORDINAL_TEENS = {
    "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14, "fifteenth": 15,
    "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19, "twentieth": 20, "thirtieth": 30,
}  # fmt: skip
_MONTH_NAME = r"(?:january|february|march|april|may|june|july|august|september|october|november|december)"
ORDINAL_WORD = re.compile(
    rf"\b({_MONTH_NAME}\s+(?:the\s+)?)?(?:(twenty|thirty)[ -])?({'|'.join([*ORDINAL_UNITS, *ORDINAL_TEENS])})\b"
    rf"(?=(\s+of\s+{_MONTH_NAME}\b)?)",
    re.IGNORECASE,
)
CLOCK_WORDS = {
    w: str(i + 1)
    for i, w in enumerate(
        ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"]
    )
}
DIGITS = re.compile(r"(?<![\w.])\d[\d,.\-/]*\d(?![\w])|(?<![\w.])\d(?![\w.,])")
ACCOUNT_STATE = re.compile(
    r"\b(?:(?:your|the|my) (?:account|service|line|card|subscription|contract|payment|direct debit|autopay|plan) "
    r"(?:is|was|has been|will be|is now|was just|got|has|expires|ends|renews)\b"
    r"|balance\b|past due|overdue|outstanding|in arrears|late fee|suspended|disconnected|reconnected|reactivated|"
    r"locked|unlocked|frozen|waived|credited|refunded|(?:has|have) been (?:charged|cancelled|canceled|closed|paid|processed)|"
    r"autopay (?:is )?(?:on|off|enabled|disabled)|in good standing)",
    re.IGNORECASE,
)
IDENTITY_CHECK = re.compile(
    r"\b(date of birth|birthday|d\.?o\.?b\.?|post ?code|zip(?: code)?|security (?:question|answer|word)|"
    r"last (?:four|4) (?:digits)?|pin(?: number)?|passcode|password|mother's maiden name|verification code|"
    r"one-time code|memorable word|you're verified|you are verified|(?:i've|i have|we've) verified|"
    r"verified your (?:identity|account)|identity (?:is )?(?:confirmed|verified)|thanks for verifying|thank you for verifying)\b",
    re.IGNORECASE,
)
OWN_CHECK = re.compile(
    r"\bmy\s+(date of birth|birthday|d\.?o\.?b\.?|post ?code|zip(?: code)?|security (?:answer|word)|"
    r"memorable word|mother's maiden name|pin(?: number)?|passcode)\b",
    re.IGNORECASE,
)  # a detail of the caller's own, in the caller's words: "my postcode is ..."
FOR_THE_CALLER = re.compile(r"\b(?:your|security|verif\w*)\b", re.IGNORECASE)  # asks the caller for their own
DAY_OF_MONTH = re.compile(r"(?:(?:on|by|for|from|until|till)\s+)?(?:the\s+)?\d{1,2}(?:st|nd|rd|th)", re.IGNORECASE)
OWN_ACTION = re.compile(
    r"\b(?:i'll|i will|i'm going to|let me)\s+(?:just\s+)?(?:wait|hold|hang on|be here|see|think|explain|walk you through|"
    r"go over|be honest|need to ask|have to ask|try my best|do my best)\b",
    re.IGNORECASE,
)
VERIFIED = re.compile(
    r"\b(?:you're verified|you are verified|(?:i've|i have|we've) verified|verified your|identity (?:is )?(?:confirmed|verified)|"
    r"thanks for verifying|thank you for verifying|that matches|that's matching)\b",
    re.IGNORECASE,
)
PREFERENCE = re.compile(
    r"\b(?:i(?:'d| would)? (?:prefer|rather)|(?:is|are|works?) (?:better|best|easier) (?:than|for me)|better for me|"
    r"instead of (?:calling|a call|texting|e-?mail|phoning)|(?:please )?(?:don't|do not|never) (?:call|text|e-?mail|ring|phone)|"
    r"only (?:call|text|e-?mail|ring|contact)|(?:call|text|e-?mail|ring|contact|reach) me (?:on|at|by|via|in the|after|before|instead)|"
    r"i (?:like|want|need) (?:it|them|you) to|i'm (?:allergic|vegetarian|vegan|deaf|hard of hearing)|"
    r"(?:in|use) (?:spanish|french|german|large print|braille)|paperless|no paper bills?)\b",
    re.IGNORECASE,
)
LEAD_IN = re.compile(
    r"^(?:(?:okay|ok|so|yeah|yes|oh|well|right|and|also|alright|sure|um|uh|perfect|great|thanks|thank you)\b[,.!]?\s+)+",
    re.IGNORECASE,
)
MONTH_IN = re.compile(r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b", re.IGNORECASE)
WEAK_DATES = frozenset({"today", "tonight"})  # "how can I help you today?" says nothing durable
ASKS_NAME = re.compile(
    r"\b(?:your (?:full |first |last )?name|who (?:am i|i'm) speaking (?:with|to)|(?:may|can|could) i (?:have|get|take) your name|"
    r"name on the account)\b",
    re.IGNORECASE,
)
INTRODUCES = re.compile(r"\b(?:this is|my name's|i'm|i am)\s+([A-Z][a-z'-]+\s+[A-Z][a-z'-]+)\b")
CAPITALISED = re.compile(r"\b[A-Z][a-z'-]+(?:\s+[A-Z][a-z'-]+)*")
NOT_NAME = frozenset(
    ["Sure", "It's", "Its", "It", "Yeah", "Yes", "Hi", "Hello", "Okay", "Ok", "My", "This", "I", "I'm", "Um", "Uh",
     "So", "Well", "Oh", "That's", "The", "And", "Name", "Of", "Course", "Right", "Mhm", "Hey", "Thanks"]
)  # fmt: skip
ASK_KINDS: list[tuple[str, re.Pattern[str]]] = [
    (
        "amount",
        re.compile(
            r"\b(how much|amount|cost|price|charge[sd]?|fee|refund|paid|pay|balance|dollars?|pounds?|euros?)\b", re.I
        ),
    ),
    ("date", re.compile(r"\b(when|what day|which day|date|by when|how long|birth|born|birthday|year)\b", re.I)),
    ("identity", re.compile(r"\b(security|verif(?:y|ied|ication)|birth|born|birthday)\b", re.I)),
    ("time", re.compile(r"\b(what time|which time|when)\b", re.I)),
    ("phone", re.compile(r"\b(phone|mobile|cell|callback number|reach me)\b", re.I)),
    ("email", re.compile(r"\b(e-?mail)\b", re.I)),
    (
        "address",
        re.compile(r"\b(address|street|where (?:do|did) (?:i|we) (?:say (?:i|we) )?live|live now|moved)\b", re.I),
    ),
    ("account", re.compile(r"\b(account)\b", re.I)),
    (
        "preference",
        re.compile(r"\b(contact|reach me|in touch|get hold of|prefer|preference|call me|text me|e-?mail me)\b", re.I),
    ),
    ("name", re.compile(r"\b(name|who am i)\b", re.I)),
    (
        "number",
        re.compile(r"\b(number|code|serial|reference|ticket|case|order|claim|confirmation|tracking|invoice)\b", re.I),
    ),
]
SPECIFIC_KINDS = frozenset({"email", "phone", "address", "name", "identity", "preference"})
BACKREF = re.compile(
    r"\b(?:earlier|before|previous(?:ly)?|remind me|you said|you told me|i said|i told you|i gave you|you gave me|"
    r"i mentioned|you mentioned|i read (?:you|out)|what was|the one (?:i|you)|repeat (?:the|my|that number))\b",
    re.IGNORECASE,
)
ASKS = re.compile(
    r"(?:^|[.!?,;]\s+|^(?:\W*(?:so|and|but|okay|ok|um|uh|sorry|oh|well|yeah|alright|great|sure|perfect|wait|"
    r"hang on|hold on|actually|just|then|also|now)\W+)+)"
    r"(?:what|when|where|which|who|whose|why|how|is|are|was|were|do|does|did|can|could|will|would|should|shall|"
    r"have|has|may)\b"
    r"|\b(?:would|do|did|will|could|can) you (?:like|want|prefer|need|have|mind)\b"
    r"|\b(?:shall|should|may|can) i\b|\bplease (?:tell|let) me\b|\bplease confirm\b|\bis (?:that|this) (?:right|correct|ok)\b"
    r"|\b(?:what|which|how many|how much)(?: \w+){1,3} (?:would|do|should|are|is|was|were|did|will|can)\b"
    r"|\b(?:is|was|were|are) (?:what|which|when|where)\W*$",
    re.IGNORECASE,
)
"""Words that ask something, with or without a question mark (a recogniser's transcript has none):
a clause opening with a question word or an auxiliary, "would you like", "shall I", "please tell me",
"is that right", "what time would ..."."""


@lru_cache(maxsize=8192)
def asks(text: str) -> bool:
    """Whether ``text`` asks something: it ends with '?', or (no punctuation to go by) its words ask."""
    stripped = text.rstrip()
    if stripped.endswith("?"):
        return True
    # read through the recogniser's hesitations and the comma they bring, which would open a clause:
    # "the reservations um, has been made" asks nothing
    return bool(ASKS.search(without_fillers(stripped)))


QUESTION = re.compile(
    r"\?$|^(?:\W*(?:so|and|but|okay|ok|um|uh|sorry|oh|well|yeah)\W+)*(?:what|when|where|which|who|whose|why|how|"
    r"is|are|was|were|do|does|did|can|could|will|would|should|have|has)\b",
    re.IGNORECASE,
)

CUISINES = (
    "american", "italian", "mexican", "chinese", "japanese", "thai", "indian", "french", "greek", "spanish",
    "korean", "vietnamese", "mediterranean", "middle eastern", "persian", "afghan", "ethiopian", "turkish",
    "lebanese", "moroccan", "brazilian", "peruvian", "cuban", "caribbean", "german", "irish", "filipino",
    "indonesian", "malaysian", "pakistani", "nepalese", "russian", "polish", "cajun", "tex-mex", "asian",
    "european", "latin american", "hawaiian", "szechuan", "cantonese", "taiwanese", "seafood", "vegetarian",
    "vegan", "barbecue", "bbq", "steakhouse", "sushi", "ramen", "noodles", "pizza", "pasta", "burgers", "tacos",
    "curry", "dim sum", "dumplings", "kebabs", "kabobs", "tapas", "pho", "shabu-shabu", "hot pot", "gastropub",
    "burger", "lobster", "izakaya", "steak", "take-out", "takeout", "take out", "breakfast", "brunch", "fast food",
)  # fmt: skip
"""Cuisines, and the dishes people name one by ("some noodles", "pizza and pasta"), in lower case: what
a caller says when asked what they would like to eat."""

GENRES = (
    "pop", "rock", "country", "reggae", "jazz", "hip hop", "hip-hop", "rap", "r&b", "rnb", "blues", "metal", "electronic",
    "electronica", "dance", "classical", "folk", "indie", "soul", "funk", "punk", "alternative", "gospel", "k-pop",
    "edm", "house music", "techno", "reggaeton", "ska", "grunge", "disco", "trap", "bluegrass", "salsa", "bollywood",
    "drama", "comedy", "action", "thriller", "horror", "fantasy", "sci-fi", "science fiction", "documentary",
    "animation", "animated", "romance", "romantic comedy", "mystery", "crime", "western", "musical", "adventure",
    "family", "war", "biography", "biopic",
)  # fmt: skip
"""Genres of music and film, in lower case: what the agent says when asked what kind of song or film it
is ("oh that is reggae", "it's classified as a drama")."""


MONTH_WORDS = frozenset(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november",
     "december", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "today", "tomorrow"]
)  # fmt: skip


@cache
def booking_talk() -> frozenset[str]:
    """The words of taking and confirming anything (as terms): never what names the thing taken."""
    return frozenset(
        index_terms(
            "want wanted like love would please watch see hear listen play played playing start started direct "
            "directed director confirm confirmed confirming yes yeah right okay sure great good fine sounds perfect "
            "go ahead now subtitles without movie movies film song songs track music ticket tickets table book "
            "booked reserve reservation event events need looking find found check correct let"
        )
    ) | frozenset(t for w in [*NUMBER_WORDS, *MONTHS, *WEEKDAYS, *MONTH_WORDS] for t in index_terms(w))


CHANGE_OF_MIND = re.compile(
    r"\b(?:change[ds]? (?:my|our) minds?|on second thought|instead|rather (?:hear|have|watch|play|go))\b"
)
"""A caller changing their mind: the words after it say what holds now."""


ITEM_NOUNS = {
    "restaurant": re.compile(r"\b(?:restaurant|place)\b"),
    "event": re.compile(r"\b(?:event|show|concert|game|match|gig)\b"),
    "music": re.compile(r"\b(?:song|track|tune)\b"),
    "movie": re.compile(r"\b(?:movie|film)\b"),
}
"""The words that ask for the thing a booking of a kind was about ("which song did we settle on"): the
proposal taken and the fullest confirmation say it, in lower case where no reader sees a name."""


HOUSE_WORDS: str = "|".join(NUMBER_WORDS)  # a number said in words (a house number, a count)


def similar_terms(a: frozenset[str], b: frozenset[str]) -> bool:
    if not a or not b:
        return False
    overlap = len(a & b)
    return overlap / len(a | b) >= 0.6 or (overlap == len(a) and len(a) >= 2)

"""What values one utterance carries: a pure, deterministic reader of English call text.

    values_in("Booking a table for 2 at P.f. Chang's at 6:30 pm on March 11th, ref 1O9E32IJ.")
    -> count "2", name "P.f. Chang's", time "6:30 pm", date "March 11th", reference "1O9E32IJ"

Each :class:`Value` is a span of the text (``text == utterance[start:end]``) with its ``kind`` and a
``normalised`` form. Normalisation is done only where it is certain and never invents a digit:

- spoken digits are joined only inside one number said digit by digit ("six five oh, three three
  oh, one seven eight two" is one phone number; "two four-star" is not 24); written numbers are never
  joined across a space, a colon, a dot, a slash or a dash, except the groups of one phone number
  ("650-330-1782", "(650) 330 1782");
- a reference keeps its letters and digits as said (``1O9E32IJ`` keeps its letter O);
- times keep what was said ("6:30 pm" -> "6:30 pm", "half past 6 in the evening" -> "6:30 pm",
  "17:15" -> "17:15"), lower-cased, never converted between 12 and 24 hours;
- ranges ("53 - 57", "4/5/2018 - 4/10/2018") are two values, never one.

Kinds: ``reference`` (booking and ticket references, with or without digits), ``phone``, ``email``,
``time``, ``date`` (a calendar day, "today", "tomorrow", "the 11th"), ``day`` (a weekday),
``duration`` ("3 nights", "two hours"), ``amount`` ("$42.10", "9.80 pounds", "forty two dollars"),
``count`` (people, tickets, seats... "for 2", "one" to "twelve" with what is counted), ``address``
("420 Ramona Street"), ``name`` (capitalised names of venues, products, people, events, places),
``car_type`` ("SUV", "compact", a make or model: "honda accord", "a camry"), ``place`` (where a trip starts or
ends: "jfk international airport", "fresno station", "salesforce transit center"), ``account`` (what money
comes from: "checking", "savings", "credit card"), ``payee`` (who money is sent to: "send it to maria"),
``class`` (a fare or a seat class, a kind of ride: "premium economy", "business class", "a pool ride"), ``colour``, ``price`` (a price level: "moderate", "affordable", "pricey", "not too
expensive"; normalised to the level of the usual scale it names: "inexpensive", "moderate", "expensive"),
``device`` (where something plays: "the kitchen speaker", "the TV", "the speaker in the bedroom", "play it
in the living room"; normalised to its room and what it is, "kitchen speaker", "tv", "living room"),
``number`` (any other number). One span has one kind:
the more specific reading wins (a phone number is not also a number).

No I/O, no model; English only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .spoken import spoken_digit_runs
from .vocab import SPOKEN_FILLERS

__all__ = [
    "DEVICES",
    "KINDS",
    "LOWER_VENUE",
    "ROOMS",
    "VENUE_HEAD",
    "Value",
    "clear_cache",
    "price_level",
    "spoken_number",
    "values_in",
]

KINDS = (
    "reference",
    "phone",
    "email",
    "time",
    "date",
    "day",
    "duration",
    "amount",
    "count",
    "address",
    "name",
    "car_type",
    "place",
    "account",
    "payee",
    "class",
    "colour",
    "price",
    "number",
    "device",
)


@dataclass(frozen=True, slots=True)
class Value:
    """A value said in an utterance: ``text`` is ``utterance[start:end]``; ``normalised`` its certain
    normal form (lower case; digits only where said as one number)."""

    kind: str
    text: str
    start: int
    end: int
    normalised: str


# ----------------------------------------------------------------------------------------------- words

_UNITS = {
    "zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9,
}  # fmt: skip
_TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_COUNT_WORDS = {w: n for w, n in {**_UNITS, **_TEENS}.items() if 1 <= n <= 12 and w != "oh"}
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14, "fifteenth": 15,
    "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19, "twentieth": 20, "thirtieth": 30,
}  # fmt: skip
_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_NUMBER_WORD = "|".join(sorted([*_UNITS, *_TEENS, *_TENS, "hundred", "thousand"], key=len, reverse=True))
_SPOKEN_NUMBER = rf"(?:(?:{_NUMBER_WORD})(?:[ -](?:and[ -])?(?:{_NUMBER_WORD}))*)"
_NUM = rf"(?:\d+(?:\.\d+)?|{_SPOKEN_NUMBER})"

_COUNTED = (
    r"people|persons?|guests?|adults?|children|kids|tickets?|seats?|passengers?|rooms?|beds?|bedrooms?|bags?|"
    r"travell?ers|diners|of us|attendees|players|nights?|cars?|items?|pieces?|units?"
)
_DURATION_UNITS = r"minutes?|mins?|hours?|hrs?|days?|nights?|weeks?|months?|years?"
_CURRENCY_WORDS = r"dollars?|bucks|pounds?|quid|euros?|cents?|pence|usd|gbp|eur"
_CAR_TYPES = (
    r"suv|sedan|hatchback|compact(?: car)?|intermediate|standard(?: car)?|full[- ]size(?: car)?|mid[- ]size(?: car)?|"
    r"minivan|van(?!\s+(?!(?:for|with|please|and|or|is|was|that|which|would|will|instead|rental|then|to|from|at|on|"
    r"in|i|we|it|as|if|so|because|but|too|now|today|please|one|they|you|he|she)\b)[a-z])|pickup(?: truck)?|convertible|coupe|luxury car|economy car|estate car|station wagon|"
    r"electric car|hybrid|two[- ]door|four[- ]door"
)
# makes and models of cars people rent; a model that is also an English word counts only after its make
_CAR_MAKES = (
    r"honda|toyota|chevrolet|chevy|ford|nissan|hyundai|kia|mazda|subaru|volkswagen|vw|bmw|audi|mercedes(?:-benz)?|"
    r"lexus|jeep|dodge|tesla|volvo|buick|chrysler|cadillac|acura|infiniti|mitsubishi"
)
_CAR_MODELS = (
    r"camry|corolla|prius|rav ?4|highlander|accord|civic|cr-?v|altima|sentra|maxima|versa|cruze|malibu|impala|"
    r"equinox|tahoe|suburban|mustang|elantra|sonata|tucson|optima|sorento|sportage|jetta|passat|tiguan|outback|"
    r"forester|impreza|wrangler|durango|mazda ?[36]|cx-?5"
)
_CAR_WORD_MODELS = r"focus|fusion|escape|explorer|golf|pilot|odyssey|rogue|legacy|charger|spark|soul|model [3sxy]"
_CAR_MODEL = re.compile(
    rf"\b(?:{_CAR_MAKES})\s+(?:{_CAR_MODELS}|{_CAR_WORD_MODELS})\b|\b(?:{_CAR_MODELS})\b|\b(?:{_CAR_MAKES})\b",
    re.IGNORECASE,
)
# where a trip starts or ends: up to three words before what names a terminal ("sky harbor international airport")
_PLACE_HEAD = re.compile(
    r"\b(?:international\s+)?airport|\b(?:(?:bus|train|railway|rail)\s+)?station|\b(?:bus\s+)?terminal|\bdepot"
    r"|\b(?:transit|intermodal|transportation)\s+cent(?:er|re)",
    re.IGNORECASE,
)
_ACCOUNT = re.compile(
    r"\b(?:checking|savings|current)(?=\s+(?:account|balance))|\b(?:credit|debit)\s+card\b|\bapp\s+balance\b",
    re.IGNORECASE,
)
# a price said as a bare number after what names one ("it costs 301", "the ticket price is 132", "the ride cost
# 8 20"): an amount, kept as said (no currency was said)
_COST = re.compile(
    r"\b(?:costs?|costing|cost\s+you|priced\s+at|price\s+is|fare\s+is|total\s+(?:is|of|comes\s+to)|rent\s+is"
    r"|tickets?\s+(?:is|are|for)|(?=for\s+\d[\d,]*(?:\.\d{1,2})?\s+(?:per|a|each)\s+(?:month|night|day|week|ticket|person)\b)for)"
    r"\s+(?:(?:only|just|about|around|is|of|a\s+total\s+of)\s+)*(\d[\d,]*(?:\.\d{1,2}|\s\d{2}(?![\d:]))?)\b"
    r"(?!\s*(?:am|pm|a\.m|p\.m|o'clock|:|minutes?|hours?|days?|nights?|people|persons?|tickets?|seats?))",
    re.IGNORECASE,
)
# who money goes to: "send the money to maria", "transfer 950 to the checking account of pranav"
_PAYEE = re.compile(
    r"\b(?:send|sent|sending|transfer|transferred|transferring|pay|paid|paying|wire|wired)\b[^.?!,]{0,40}?\bto\s+"
    r"(?:((?:my|the|their|his|her)\s+)?(?:(?:checking|savings)\s+(?:account\s+)?(?:of\s+)?)?)([A-Za-z][\w'-]*)",
    re.IGNORECASE,
)
_NOT_PAYEE = frozenset(["account", "bank", "checking", "savings", "him", "them", "someone", "somebody", "whom", "card"])
# after "my" / "the", who money goes to is a person named by who they are to the caller ("send it to my
# mom"); "send it to my headphones" sends something else
_PAYEE_RELATIONS = frozenset(
    [
        "mom",
        "mum",
        "mother",
        "dad",
        "father",
        "parents",
        "sister",
        "brother",
        "son",
        "daughter",
        "wife",
        "husband",
        "partner",
        "friend",
        "roommate",
        "landlord",
        "landlady",
        "boss",
        "cousin",
        "aunt",
        "uncle",
        "grandma",
        "grandmother",
        "grandpa",
        "grandfather",
        "niece",
        "nephew",
        "girlfriend",
        "boyfriend",
        "fiance",
        "fiancee",
        "colleague",
        "neighbor",
        "neighbour",
        "sitter",
        "babysitter",
        "tutor",
        "kid",
        "kids",
    ]
)
_CLASS = re.compile(
    r"\b(?:premium\s+economy|basic\s+economy|business\s+class|first\s+class|economy\s+class|economy(?!\s+(?:cars?|size|rental|plus|car\s+rental)\b)(?![\w-])|(?:luxury|pool|shared|regular)\s+(?:ride|cab|taxi))\b",
    re.IGNORECASE,
)
_COLOURS = r"red|blue|black|white|silver|grey|gray|green|yellow|orange|brown|beige|gold|purple|pink|maroon|navy"
_STREET = (
    r"street|st|road|rd|avenue|ave|lane|ln|drive|dr|boulevard|blvd|way|court|ct|place|pl|close|terrace|"
    r"crescent|square|parkway|pkwy|highway|hwy|row|gardens|plaza|circle|alley|center|centre|mall"
)
_REFERENCE_CUE = re.compile(
    r"\b(?:reference|ref|confirmation|booking|reservation|ticket|order|case|claim|tracking|invoice|"
    r"record|locator|pnr|code|number|id)\b[^.?!]{0,24}$",
    re.IGNORECASE,
)

_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+?1[ .-]?)?(?:\(\d{3}\)\s?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\w-])"
    r"|(?<![\w+])\+\d{1,3}(?:[ .-]?\d{2,4}){2,5}(?![\w-])"
)
_MINUTE_WORDS = (  # minutes said in words: "oh five", "fifteen", "forty five", "forty-five"
    r"(?:o(?:h)?[ -](?:one|two|three|four|five|six|seven|eight|nine)"
    r"|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen"
    r"|(?:twenty|thirty|forty|fifty)(?:[ -](?:one|two|three|four|five|six|seven|eight|nine))?)"
)
_NOT_UNITS_OF_TENS = "".join(rf"(?<!{tens}[ -])" for tens in _TENS)  # "forty five pm" is no hour: 5pm was never said
_HOUR_SAID = rf"{_NOT_UNITS_OF_TENS}(?:1[0-2]|0?[1-9]|{'|'.join(sorted(_COUNT_WORDS, key=len, reverse=True))})"
_CLOCK_SAID = rf"{_HOUR_SAID}(?:[ -](?:[0-5]\d|{_MINUTE_WORDS}))?"
_TIME = re.compile(
    r"\b(?:[01]?\d|2[0-3]):[0-5]\d(?:\s*(?:am|pm|a\.m\.|p\.m\.)|\s+in the (?:morning|afternoon|evening))?(?![\w:])"
    r"|\b(?:1[0-2]|0?[1-9])\s*(?:am|pm|a\.m\.|p\.m\.|o'clock)(?!\w)"
    r"|\b(?:1[0-2]|0?[1-9])\s+[0-5]\d\s*(?:am|pm|a\.m\.|p\.m\.)(?!\w)"  # "11 15 am": a clock said, colon lost
    r"|\b(?:noon|midday|midnight)\b"
    rf"|\b(?:half past|quarter past|quarter to)\s+(?:\d{{1,2}}|{'|'.join(_COUNT_WORDS)})"
    r"(?:\s+in the (?:morning|afternoon|evening)|\s+at night|\s*(?:am|pm))?\b"
    rf"|\b{_NOT_UNITS_OF_TENS}(?:{'|'.join(_COUNT_WORDS)})(?:[ -]{_MINUTE_WORDS})?\s*(?:am|pm|a\.m\.|p\.m\.|o'clock|o clock)"
    r"|\b(?:[1-9]|1[0-2])\s+in the (?:morning|afternoon|evening)\b"
    # a clock with the part of the day said instead of am/pm: "six fifteen in the evening", "5 30 in the
    # evening", "eleven at night"; or before it: "afternoon 1 30", "evening 5", "morning eleven thirty"
    rf"|\b{_CLOCK_SAID}\s+(?:in the (?:morning|afternoon|evening)|at night)\b"
    rf"|(?:^|(?<=\bat )|(?<=\bfor )|(?<=\bby )|(?<=\baround )|(?<=\babout )|(?<=, ))"
    rf"(?:morning|afternoon|evening)\s+{_CLOCK_SAID}(?![\w:])",
    re.IGNORECASE,
)
_DAYPART_CLOCK = re.compile(
    rf"(?:(morning|afternoon|evening) )?({_HOUR_SAID})(?:[ -]([0-5]\d|{_MINUTE_WORDS}))?"
    r"(?: in the (morning|afternoon|evening)| at (night))?"
)
_DATE = re.compile(
    rf"\b(?:{_MONTHS})\.?\s+(?:the\s+)?\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?\b"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTHS})\b(?:,?\s+\d{{4}})?"
    rf"|\b(?:{_MONTHS})\.?\s+(?:the\s+)?(?:(?:twenty|thirty)[ -])?(?:{'|'.join(_ORDINALS)})\b"
    rf"|\b(?:the\s+)?(?:(?:twenty|thirty)[ -])?(?:{'|'.join(_ORDINALS)})\s+of\s+(?:{_MONTHS})\b"
    r"|\bthe\s+\d{1,2}(?:st|nd|rd|th)\b"
    r"|\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b|\b\d{4}-\d\d-\d\d\b"
    r"|\b(?:today|tonight|tomorrow|the day after tomorrow|yesterday)\b"
    rf"|\b(?:next|this|last|coming)\s+(?:{_WEEKDAYS}|week|weekend|month)\b",
    re.IGNORECASE,
)
_DAY = re.compile(rf"\b(?:{_WEEKDAYS})s?\b", re.IGNORECASE)
_DURATION = re.compile(
    rf"\b{_NUM}\s+(?:{_DURATION_UNITS})\b|\b(?:an?|half an?)\s+(?:hour|day|week|month)\b", re.IGNORECASE
)
_AMOUNT = re.compile(
    r"[$£€]\s?\d[\d,]*(?:\.\d{1,2})?(?:\s?(?:million|thousand|k|m))?"
    rf"|\b\d[\d,]*(?:\.\d{{1,2}})?\s*(?:{_CURRENCY_WORDS})\b"
    rf"|\b{_SPOKEN_NUMBER}\s+(?:{_CURRENCY_WORDS})(?:\s+(?:and\s+)?{_SPOKEN_NUMBER}(?:\s+(?:cents?|pence))?)?\b",
    re.IGNORECASE,
)
_COUNT = re.compile(
    rf"\b(?:\d{{1,3}}|{'|'.join(_COUNT_WORDS)})\s+(?:{_COUNTED})\b"
    rf"|\b(?:for|party of|table for|group of)\s+(?:\d{{1,2}}|{'|'.join(_COUNT_WORDS)})\b(?!\s*(?:am|pm|:|\.\d|o'clock|{_DURATION_UNITS}))",
    re.IGNORECASE,
)
_COUNT_AFTER = re.compile(  # the number after what is counted: "number of tickets: three", "seats, 2"
    rf"\b(?:number of|how many)\s+(?:{_COUNTED})\s*(?:is|are|will be|would be|to|:|,|-)?\s*"
    rf"(?:\d{{1,2}}|{'|'.join(_COUNT_WORDS)})\b(?!\s*(?:am|pm|:|\.\d|o'clock|{_DURATION_UNITS}))",
    re.IGNORECASE,
)
_ADDRESS = re.compile(
    rf"\b\d{{1,6}}[a-z]?(?:\s*-\s*\d{{1,6}})?(?!\s*(?:[ap]\.?m\b|o'?\s?clock\b))\s+(?:(?:[A-Z][\w'.-]*|\d{{1,3}}(?:st|nd|rd|th))\s+){{0,4}}"
    rf"(?:{_STREET})\b\.?(?:\s+(?:north|south|east|west|northeast|northwest|southeast|southwest|ne|nw|se|sw)\b)?"
    r"(?:\s+(?:#|suite|ste|unit|apt)\s*\w+)?",
    re.IGNORECASE,
)
# a street address with no street word, named as where something is ("located at 555 east el camino real with three
# bedrooms", "at 1510 marina vista you can find ..."): the number and the words after it up to the sentence's frame
_ADDRESS_AT = re.compile(
    r"(?:\b(?:located|situated|found|based)\s+at|\baddress\s+(?:is|was)|^\W*at)\s+"
    r"(\d{1,6}\s+(?:[a-z][\w'.-]*\s+){0,4}?[a-z][\w'.-]*)"
    r"(?=\s+(?:with|which|that|and|it|for|on|in|you|has|have|is|are|near|where|costing|renting)\b|\s*[,.?!]|\s*$)",
    re.IGNORECASE,
)
_NOT_STREET_WORDS = frozenset(
    ["am", "pm", "a.m.", "p.m.", "o'clock", "people", "persons", "guests", "tickets", "seats", "bedrooms", "bedroom",
     "baths", "bathrooms", "bath", "rooms", "dollars", "bucks", "pounds", "euros", "per", "minutes", "hours", "days",
     "nights", "weeks", "months", "years", "percent", "the", "a", "an", "of", "to"]
)  # fmt: skip
_CAR = re.compile(rf"\b(?:{_CAR_TYPES})\b", re.IGNORECASE)
# a model no list holds, named by its size class and what is said of a car ("a compact bolt available on march 10th",
# "a compact cooper car"): the class and the word after it
_CLASS_MODEL = re.compile(
    r"\b(?:compact|standard|intermediate|full[- ]size|mid[- ]size|economy|luxury|premium)\s+(car\s+)?"
    r"(?!(?:cars?|vehicles?|ones?|size|sized|class|options?|models?|rentals?|available|suv|sedan|hatchback|van|"
    r"minivan|for|from|at|on|in|with|and|or|is|was|the|a|an|that|which|it|to|car's|today|tomorrow|tonight|now|here|"
    rf"there|please|too|also|i|you|we)\b)(?!(?:{_CAR_MAKES}|{_CAR_MODELS})\b)[a-z][a-z0-9-]*"
    r"(?=\s+(?:cars?|available|vehicle)\b|(?(1)\s+at\s|(?!)))",
    re.IGNORECASE,
)
_COLOUR = re.compile(rf"\b(?:{_COLOURS})\b(?=\s+(?:car|one|suv|sedan|van|model|colou?r|\w+\s+car))", re.IGNORECASE)
_CODE = re.compile(
    r"(?<![\w-])(?=[A-Za-z0-9-]*\d)(?=[A-Za-z0-9-]*[A-Za-z])(?=[A-Za-z0-9-]{4})[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*(?![\w-])"
)
_CAPS_CODE = re.compile(r"(?<![\w-])[A-Z]{6,12}(?![\w-])")
_NOT_CODE = re.compile(r"\d+(?:st|nd|rd|th|am|pm|s|k|m|ft|kg|km|mb|gb)|[a-z]+-[a-z]+|mp\d|\d+x", re.IGNORECASE)
_DIGITS = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)?(?![\w])")
_SINGLE_DIGITS = re.compile(r"(?<![\w.:/-])\d(?:[ ]\d){2,}(?![\w.:/-])")
_SPOKEN_COMPOUND = re.compile(
    rf"\b(?:{'|'.join(_TENS)})[ -](?:{'|'.join(k for k in _UNITS if k not in ('zero', 'oh'))})\b", re.IGNORECASE
)

_NAME_TOKEN = r"(?:[A-Z][\w'’&.-]*|[A-Z]\.)"
_NAME = re.compile(rf"{_NAME_TOKEN}(?:(?:\s+(?:of|the|de|la|le|du|del|&|da|van|von|vs\.?|n')\s+|\s+|-){_NAME_TOKEN})*")
# A venue named in lower case (a recogniser's transcript): up to four words before a word that
# names a kind of venue, after "at", "in" or "on" ("at oracle park", "in the mercedes-benz stadium", "on union
# stage"). The one reader of such names: the compaction's notes use it too (a genre, an album, a game are theirs).
_VENUE_HEADS = (
    "park|stadium|arena|hall|center|centre|theatre|theater|field|place|lot|amphitheat(?:re|er)|gardens?|bowl|"
    "pavilion|ballroom|ballpark|auditorium|dome|coliseum|colosseum|square|fairgrounds?|speedway|grounds|plaza|club|"
    "lounge|playhouse|forum|stage"
)
_VENUE_WORD = r"(?!(?:the|a|an|this|that|my|your|our|their|its|some|any|one|nice|good|great|same|other|parking|car|"
_VENUE_WORD += r"ball|trailer|theme|water|amusement|skate|dog|public|city|town|market|work|first|second|third|last|"
_VENUE_WORD += r"next|right|wrong|best|only|another|which|what|is|was|be|it|at|in|on|and|or|for|will|take|taking|"
_VENUE_WORD += (
    r"takes|place|playing|held|today|tomorrow|tonight|pm|am)\b)(?:[a-z]|\d+(?!(?:am|pm|st|nd|rd|th|s)\b)[a-z])[\w'&.-]*"
)
# a word of a venue's name may open with digits when letters follow ("at 5a5 steak lounge"), not a time or a day
VENUE_HEAD = re.compile(rf"(?:{_VENUE_HEADS})", re.IGNORECASE)
"""A word that names a kind of venue ("field", "stadium", "theatre"), matched whole (``fullmatch``)."""
LOWER_VENUE = re.compile(
    rf"\b(?:at|in|on)\s+(?:the\s+)?((?:{_VENUE_WORD}\s+){{1,4}}(?:{_VENUE_HEADS}))\b"
    # or as what puts the show on: "the lower ossington theatre will present anne of green gables"
    rf"|\bthe\s+((?:{_VENUE_WORD}\s+){{1,4}}(?:{_VENUE_HEADS}))\s+(?:will\s+(?:present|host|feature|stage)|presents|"
    r"hosts|features|is\s+(?:presenting|hosting|featuring|staging))\b"
)
"""A venue named by what it is in lower case (group 1 or 2 is its name; a capitalised one is a name already)."""
# Names said in lower case in the frames people book with (a recogniser's transcript has no capitals):
# "a table at red tavern in san francisco" (a venue and its place), "a song by alec benjamin" (who made
# it), "some afghan food" / "thai cuisine" (a cuisine). A name's words stop at a word that is not part of
# one (a time, a day, a preposition, a verb of the frame).
_STOP_WORDS = (
    r"the|a|an|at|in|on|for|to|from|of|by|with|and|or|but|is|are|was|were|be|it|its|it's|this|that|these|those|"
    r"i|you|we|they|he|she|me|my|your|our|their|his|her|there|here|what|which|who|when|where|how|do|does|did|"
    r"can|could|would|will|should|shall|may|please|today|tonight|tomorrow|yesterday|next|last|this|morning|"
    r"afternoon|evening|night|am|pm|o'clock|so|also|too|then|now|yes|no|not|okay|ok|um|uh|like|some|any|good|"
    r"great|nice|other|another|one|people|person|tickets?|table|seats?|also|about|around|again|as|if|than|"
    r"just|only|very|really|all|more|less|which|whose|play|playing|book|booked|reserve|reservation|correct|right|"
    rf"{'|'.join(_UNITS)}|{'|'.join(_TEENS)}|{'|'.join(_TENS)}|{_WEEKDAYS}|{_MONTHS}"
)
_STOP = frozenset(_STOP_WORDS.split("|"))
_W = r"[a-z][a-z'&.-]*"
_LOWER_AT_IN = re.compile(rf"\bat\s+(?:the\s+)?((?:{_W}\s+){{0,4}}?{_W})\s+in\s+({_W}(?:\s+{_W}){{0,2}})")
_LOWER_BY = re.compile(
    rf"\b(?:song|songs|track|tracks|album|albums|music|something|anything|one|record|movie|film)\s+by\s+"
    rf"((?:the\s+)?{_W}(?:\s+{_W}){{0,2}})"
    rf"|\bby\s+({_W}(?:\s+{_W}){{0,2}}?)\s+(?:on|from|in|off)\s+(?:of\s+)?(?:the\s+|an?\s+|their\s+|his\s+|her\s+)?"
    rf"(?:(?!(?:by|on|from|in|off)\b){_W}\s+){{0,4}}album\b"  # "by sherine on the ana keteer album"
    # an offer of a title by someone from a record: "how about sucker by the lakes on summer songs"
    rf"|\b(?:how about|what about|there's|there is|found|recommend|suggest|try)\s+(?:[^.?!]{{1,60}}?)\bby\s+"
    rf"((?:the\s+)?{_W}(?:\s+{_W}){{0,2}}?)\s+(?:on|from|off)\s"
    # a record, then who made it: "from the album harvest moon by neil young"
    rf"|\balbum\s+[^.?!]{{1,50}}?\bby\s+((?:the\s+)?{_W}(?:\s+{_W}){{0,2}})"
)
# a trip from one place to another ("from las vegas to san diego"), a doctor by name ("dr michael bahlinger")
_LOWER_FROM_TO = re.compile(rf"\bfrom\s+({_W}(?:\s+{_W}){{0,2}})\s+to\s+({_W}(?:\s+{_W}){{0,2}})")
_LOWER_DOCTOR = re.compile(rf"\b(?:dr|doctor)\.?\s+({_W}(?:\s+{_W}){{0,3}})")
_LOWER_CUISINE = re.compile(rf"\b({_W})\s+(?:food|cuisine|restaurant|place)\b")
_MAY_CUISINE = re.compile(r"\b(?:food|cuisine|restaurant|place)\b")
_NOT_CUISINE = frozenset(
    [
        *("kind", "type", "sort", "fast", "street", "junk", "pet", "baby", "seafood", "cheap"),
        # "will take place", "the same place", "a nice place": a phrase, not a cuisine
        *(
            "take",
            "takes",
            "took",
            "taking",
            "taken",
            "same",
            "nice",
            "good",
            "great",
            "other",
            "new",
            "right",
            "first",
        ),
    ]
)


def _name_words(text: str, start: int, end: int, *, lead: str = "") -> tuple[int, int] | None:
    """The span of the words of a lower-case name from ``start``: up to the first word that is not
    part of one (``lead``: a word allowed first, "the" of "the rolling stones"). None if no word is left."""
    out_end = start
    for k, m in enumerate(re.finditer(r"\S+", text[start:end])):
        if m.group(0) in _STOP and not (k == 0 and m.group(0) == lead):
            break
        out_end = start + m.end()
    return (start, out_end) if out_end > start and text[start:out_end] != lead else None


_PRICE_LEVEL = re.compile(
    r"\bnot\s+(?:very\s+|too\s+|that\s+|so\s+|overly\s+)?(?:expensive|pricey|pricy|costly)\b"
    r"|\b(?:(?:moderately|reasonably|fairly|very|quite|pretty|extremely|really)\s+)?(?:moderate|inexpensive|cheap|cheaper|"
    r"affordable|expensive|pricey|pricy|costly|economical|upscale|lavish|high[- ]end|low[- ]cost|budget[- ]friendly|budget|mid[- ]range|"
    r"mid[- ]priced|(?:reasonably|moderately|average|averagely|intermediate|intermediately|fairly|low|lower|high|"
    r"higher)[- ]priced|reasonable in price|economical in price)\b"
    r"|\bfancy(?=\s+(?:priced|place|restaurant|spot|dinner|meal))"
    r"|\b(?:priced|prices? (?:are|is))\s+(?:above|below)\s+average\b",
    re.IGNORECASE,
)
# The level a price word names on the usual four-step scale of venues (inexpensive, moderate, expensive,
# very expensive): the words people say for each. "Cheap" is the low end, "affordable" or "reasonably
# priced" the middle, "pricey" or "upscale" the high end; "not too expensive" is the middle.
_PRICE_LEVELS = {
    "inexpensive": ("inexpensive", "cheap", "cheaper", "low-cost", "low cost", "low-priced", "low priced",
                    "lower-priced", "lower priced", "budget-friendly", "budget friendly", "below average"),
    "moderate": ("moderate", "moderately", "reasonably priced", "affordable", "economical", "mid-range", "mid range",
                 "mid-priced", "mid priced", "average", "averagely", "intermediate", "intermediately",
                 "reasonable in price", "fairly priced"),
    "expensive": ("expensive", "pricey", "pricy", "costly", "upscale", "lavish", "high-end", "high end", "high-priced",
                  "high priced", "higher-priced", "higher priced", "fancy", "above average"),
}  # fmt: skip


def price_level(said: str) -> str | None:
    """The level ``said`` (a price word read by :func:`values_in`) names: "inexpensive", "moderate",
    "expensive" or "very expensive"; None if it names none."""
    lowered = " ".join(said.lower().split())
    words = lowered.split()
    if words and words[0] == "not":
        return "moderate"
    very = words[0] in ("very", "extremely", "really") if words else False
    for said_as, level in (("above average", "expensive"), ("below average", "inexpensive")):
        if said_as in lowered:
            return level
    for level, spoken in _PRICE_LEVELS.items():
        if any(re.search(rf"\b{re.escape(w)}\b", lowered) for w in spoken):
            return f"very {level}" if very and level == "expensive" else level
    return None


# Where something plays: a device by the room it is in ("the kitchen speaker", "the speaker in the
# bedroom", "the living room TV"), a device something plays on, to or through ("on the TV", "through my
# headphones", "to the speaker"), or a room something is played in ("play it in the bedroom"); not a
# device merely talked about ("I watched TV"). Normalised to "<room> <what>" with what a speaker, a device or "the kitchen one" is said
# as "speaker", a television as "tv", earphones as "headphones".
ROOMS = (
    r"kitchen|bedroom|master bedroom|living room|living-room|lounge|bathroom|office|study|den|garage|patio|"
    r"basement|dining room|family room|guest room|kids'? room|nursery|hallway|garden|backyard|porch|upstairs|"
    r"downstairs|front room|back room|attic|gym|sitting room|playroom|laundry room"
)
"""The rooms a device is named by, as a regular-expression alternation ("kitchen|bedroom|living room|...")."""
_DEVICE_HEADS = {
    "speaker": "speaker", "speakers": "speaker", "device": "speaker", "one": "speaker", "smart speaker": "speaker",
    "sound system": "speaker", "stereo": "stereo", "soundbar": "soundbar", "sound bar": "soundbar", "tv": "tv",
    "tvs": "tv", "television": "tv", "telly": "tv", "headphones": "headphones", "earphones": "headphones",
    "earbuds": "headphones", "radio": "radio", "display": "display", "smart display": "display",
}  # fmt: skip
DEVICES = frozenset(_DEVICE_HEADS.values())
"""What a device is, as its normal form ends ("kitchen speaker", "tv")."""
_HEAD = "|".join(sorted(_DEVICE_HEADS, key=len, reverse=True))
_DEVICE = re.compile(
    rf"\b(?P<room>{ROOMS})(?:'s)?\s+(?P<head>{_HEAD})\b"
    rf"|\b(?P<head2>{_HEAD.replace('|one', '').replace('|device', '')})\s+in\s+(?:the\s+|my\s+|your\s+)?(?P<room2>{ROOMS})\b"
    r"|\b(?:on|onto|to|through|via|from|over|with)\s+(?:the\s+|my\s+|your\s+|our\s+)?(?P<alone>(?:smart\s+|bluetooth\s+|"
    r"portable\s+|wireless\s+)?(?:speakers?|tvs?|television|telly|soundbar|sound bar|stereo|headphones|earphones|earbuds))\b"
    rf"|\b(?:play|playing|played|put|cast|stream|streaming|start|hear|listen to)\b(?:\s+[\w']+){{0,5}}?\s+in\s+"
    rf"(?:the\s+|my\s+|your\s+)?(?P<room3>{ROOMS})\b(?!\s+(?:{_HEAD})\b)",
    re.IGNORECASE,
)
_MAY_DEVICE = re.compile(
    rf"\b(?:speakers?|tvs?|television|telly|sound ?bar|sound system|stereo|headphones|earphones|earbuds|radio|display|"
    rf"{ROOMS})\b",
    re.IGNORECASE,
)


def _device(m: re.Match[str]) -> tuple[int, int, str]:
    """The span and normal form of a device read by ``_DEVICE``."""
    for room, head in (("room", "head"), ("room2", "head2")):
        if m.group(room):
            start, end = min(m.start(room), m.start(head)), max(m.end(room), m.end(head))
            what = _DEVICE_HEADS[" ".join(m.group(head).lower().split())]
            return start, end, f"{_plain(m.group(room)).replace('-', ' ')} {what}"
    if m.group("alone"):
        said = re.sub(r"^(?:smart|bluetooth|portable|wireless)\s+", "", " ".join(m.group("alone").lower().split()))
        return m.start("alone"), m.end("alone"), _DEVICE_HEADS.get(said, said)
    return m.start("room3"), m.end("room3"), _plain(m.group("room3")).replace("-", " ")


_NOT_NAMES = frozenset(
    [
        "i",
        "i'm",
        "i've",
        "i'll",
        "i'd",
        "a",
        "an",
        "the",
        "this",
        "that",
        "these",
        "those",
        "it",
        "it's",
        "its",
        "my",
        "your",
        "our",
        "their",
        "his",
        "her",
        "we",
        "you",
        "they",
        "he",
        "she",
        "yes",
        "yeah",
        "yep",
        "no",
        "nope",
        "okay",
        "ok",
        "sure",
        "please",
        "thanks",
        "thank",
        "hi",
        "hello",
        "hey",
        "well",
        "so",
        "oh",
        "um",
        "uh",
        "and",
        "but",
        "or",
        "also",
        "alright",
        "great",
        "perfect",
        "cool",
        "good",
        "fine",
        "awesome",
        "wonderful",
        "lovely",
        "right",
        "sorry",
        "excuse",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "how",
        "is",
        "are",
        "was",
        "were",
        "do",
        "does",
        "did",
        "can",
        "could",
        "would",
        "should",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "let",
        "lets",
        "let's",
        "there",
        "here",
        "then",
        "now",
        "just",
        "any",
        "anything",
        "something",
        "nothing",
        "everything",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "today",
        "tomorrow",
        "tonight",
        "yesterday",
        "am",
        "pm",
        "mr",
        "mrs",
        "ms",
        "dr",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ]
)


def _words_of(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def spoken_number(text: str) -> int | None:
    """The value of one number said in words ("forty two", "one hundred and fifty", "twelve"), or
    None when the words are not one number ("two four" is two numbers)."""
    total, current, last = 0, 0, ""
    words = [w for w in _words_of(text) if w != "and"]
    if not words:
        return None
    for word in words:
        if word in _UNITS and word != "oh":
            if last in _UNITS or last in _TEENS or (last in _TENS and current % 10):
                return None
            current += _UNITS[word]
        elif word in _TEENS:
            if last and last not in ("hundred", "thousand"):
                return None
            current += _TEENS[word]
        elif word in _TENS:
            if last and last not in ("hundred", "thousand"):
                return None
            current += _TENS[word]
        elif word == "hundred":
            if not current or current >= 100:
                return None
            current *= 100
        elif word == "thousand":
            total += max(current, 1) * 1000
            current = 0
        else:
            return None
        last = word
    return total + current


# ----------------------------------------------------------------------------------------------- reading


def values_in(text: str) -> list[Value]:
    """The values said in ``text``, in order of where they start (see the module docstring)."""
    if not isinstance(text, str) or not text:
        return []
    return list(_read(text))


_MAY_TIME = re.compile(
    r"\d|noon|midday|midnight|past|quarter|o'clock|o clock|\b[ap]\.?m\b|morning|afternoon|evening|night", re.I
)
_MAY_DATE = re.compile(rf"\d|today|tonight|tomorrow|yesterday|next|this|last|coming|{_MONTHS}", re.I)
_MAY_DURATION = re.compile(r"min|hour|hr|day|night|week|month|year", re.I)
_MAY_AMOUNT = re.compile(r"[$£€]|dollar|buck|pound|quid|euro|cent|pence|usd|gbp|eur", re.I)
_MAY_COUNT = re.compile(rf"\d|\b(?:{'|'.join(_COUNT_WORDS)})\b", re.I)
_MAY_COMPOUND = re.compile(r"(?:twen|thir|for|fif|six|seven|eigh|nine)ty", re.I)
_MAY_CAR = re.compile(
    r"suv|sedan|hatch|compact|intermediate|standard|size|van|pickup|convertible|coupe|car|wagon|hybrid|door", re.I
)


_MAY_COST = re.compile(r"cost|price|fare|total|rent|ticket|per|each", re.I)
_WORD_RE = re.compile(r"[a-z][a-z0-9]*")
# the first word of each make and model ("cr-v" starts with "cr", "rav 4" with "rav"): a cheap test before the reader
_MODEL_WORDS = frozenset(
    _WORD_RE.findall(re.sub(r"\(\?:|\)\?|\?|\[\w+\]|\s\?", " ", f"{_CAR_MAKES}|{_CAR_MODELS}|{_CAR_WORD_MODELS}"))
)
_MAY_PLACE = re.compile(r"airport|station|terminal|depot|cent(?:er|re)", re.I)
_MAY_CLASS = re.compile(r"economy|class|ride|cab|taxi", re.I)
_MAY_PAYEE = re.compile(r"send|sent|transfer|pa[yi]|wire", re.I)
_MAY_ACCOUNT = re.compile(r"checking|savings|current|card|balance", re.I)


def _place(text: str, start: int, end: int) -> tuple[int, int]:
    """The span of a terminal's name: up to three words before its head ("fresno station"), none of them a
    word of a sentence's frame ("leaving from the" stop it); the head alone when no word names it (then it
    is taken only when it names one itself, "union station" is read by the head's own words)."""
    begin, words = start, 0
    for m in reversed(list(re.finditer(r"[\w'.&-]+", text[max(0, start - 80) : start]))):
        word = m.group(0).lower()
        if word in SPOKEN_FILLERS:
            continue
        if word in _STOP or words == 3 or not word[0].isalpha():
            break
        begin, words = max(0, start - 80) + m.start(), words + 1
    return (begin, end) if words else (end, end)


def clear_cache() -> None:
    """Drop the cached readings (they hold callers' words): after a caller is deleted."""
    _read.cache_clear()


@lru_cache(maxsize=4096)
def _read(text: str) -> tuple[Value, ...]:
    taken: list[tuple[int, int]] = []
    out: list[Value] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    def add(kind: str, start: int, end: int, normalised: str | None = None) -> bool:
        span = text[start:end]
        stripped = span.rstrip(" ,.;:")
        end -= len(span) - len(stripped)
        lead = len(stripped) - len(stripped.lstrip(" ,"))
        start += lead
        if end <= start or not free(start, end):
            return False
        taken.append((start, end))
        said = text[start:end]
        out.append(Value(kind, said, start, end, normalised if normalised is not None else _plain(said)))
        return True

    for m in _EMAIL.finditer(text):
        add("email", m.start(), m.end())
    for m in _PHONE.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        if 10 <= len(digits) <= 15:
            add("phone", m.start(), m.end(), ("+" if m.group(0).startswith("+") else "") + digits)
    for m in _COUNT_AFTER.finditer(text) if _MAY_COUNT.search(text) else ():
        number = re.search(rf"\d+|\b(?:{'|'.join(_COUNT_WORDS)})\b", m.group(0), re.IGNORECASE)
        if number:
            value = number.group(0).lower()
            add("count", m.start(), m.end(), str(_COUNT_WORDS.get(value, value)))
    for start, end, run in spoken_digit_runs(text):  # the one reader of digits said in words
        add("phone" if 10 <= len(run) <= 11 else "number", start, end, run)
    for m in _SINGLE_DIGITS.finditer(text):
        add("number", m.start(), m.end(), re.sub(r"\D", "", m.group(0)))
    for m in _ADDRESS.finditer(text):
        add("address", m.start(), m.end())
    for m in _ADDRESS_AT.finditer(text) if " at " in f" {text.lower()}" or "address" in text.lower() else ():
        words = m.group(1).lower().split()[1:]
        if _NOT_STREET_WORDS.isdisjoint(words) and all(w not in _STOP for w in words):
            add("address", m.start(1), m.end(1))
    for m in _AMOUNT.finditer(text) if _MAY_AMOUNT.search(text) else ():
        if not _part_of_a_number(text[: m.start()]):  # "one thousand and, like, sixty bucks" is no $60
            add("amount", m.start(), m.end(), _amount(m.group(0)))
    for m in _COST.finditer(text) if _MAY_COST.search(text) else ():
        if re.match(r"ticket|for", m.group(0), re.I) and len(re.sub(r"\D", "", m.group(1))) < 2:
            continue  # "tickets are 3", "for 2 per person": as likely a count as a price
        add("amount", m.start(1), m.end(1), m.group(1).replace(",", ""))
    for m in _TIME.finditer(text) if _MAY_TIME.search(text) else ():
        add("time", m.start(), m.end(), _time(m.group(0)))
    for m in _DATE.finditer(text) if _MAY_DATE.search(text) else ():
        add("date", m.start(), m.end())
    for m in _DURATION.finditer(text) if _MAY_DURATION.search(text) else ():
        add("duration", m.start(), m.end(), _with_number(m.group(0)))
    for m in _COUNT.finditer(text) if _MAY_COUNT.search(text) else ():
        number = re.search(rf"\d+|{'|'.join(_COUNT_WORDS)}", m.group(0), re.IGNORECASE)
        if number:
            value = number.group(0).lower()
            add("count", m.start(), m.end(), str(_COUNT_WORDS.get(value, value)))
    for m in _DAY.finditer(text):
        add("day", m.start(), m.end())
    for m in _CODE.finditer(text):
        if not _NOT_CODE.fullmatch(m.group(0)):
            add("reference", m.start(), m.end(), m.group(0).upper())
    for m in _CAPS_CODE.finditer(text):
        if _REFERENCE_CUE.search(text[: m.start()]) or not m.group(0).isalpha() or _looks_coded(m.group(0)):
            add("reference", m.start(), m.end(), m.group(0))
    for m in _PRICE_LEVEL.finditer(text):  # before car types: "intermediate priced" is a price
        add("price", m.start(), m.end(), price_level(m.group(0)) or _plain(m.group(0)))
    for m in _CLASS_MODEL.finditer(text) if _MAY_CAR.search(text) else ():
        add("car_type", m.start(), m.end())
    for m in _CAR.finditer(text) if _MAY_CAR.search(text) else ():
        add("car_type", m.start(), m.end())
    for m in _CAR_MODEL.finditer(text) if not _MODEL_WORDS.isdisjoint(_WORD_RE.findall(text.lower())) else ():
        add("car_type", m.start(), m.end())
    for m in _PLACE_HEAD.finditer(text) if _MAY_PLACE.search(text) else ():
        add("place", *_place(text, m.start(), m.end()))
    for m in _CLASS.finditer(text) if _MAY_CLASS.search(text) else ():
        add("class", m.start(), m.end())
    for m in _PAYEE.finditer(text) if _MAY_PAYEE.search(text) else ():
        who = m.group(2).lower()
        if who not in _STOP and who not in _NOT_PAYEE and (m.end(1) != m.start(2) or who in _PAYEE_RELATIONS):
            add("payee", m.start(2), m.end(2))
    for m in _ACCOUNT.finditer(text) if _MAY_ACCOUNT.search(text) else ():
        add("account", m.start(), m.end())
    for m in _COLOUR.finditer(text):
        add("colour", m.start(), m.end())
    for m in _DEVICE.finditer(text) if _MAY_DEVICE.search(text) else ():
        add("device", *_device(m))
    for m in _SPOKEN_COMPOUND.finditer(text) if _MAY_COMPOUND.search(text) else ():
        spoken = spoken_number(m.group(0))
        if spoken is not None:
            add("number", m.start(), m.end(), str(spoken))
    for m in _DIGITS.finditer(text):
        add("number", m.start(), m.end(), m.group(0).replace(",", ""))
    for start, end in _names(text):
        add("name", start, end)
    for m in LOWER_VENUE.finditer(text):
        group = 1 if m.group(1) else 2
        add("name", m.start(group), m.end(group))
    if not any(c.isupper() for c in text):  # lower-case frames: a transcript without capitals
        for m in _LOWER_AT_IN.finditer(text) if " at " in text and " in " in text else ():
            if all(w not in _STOP for w in m.group(1).split()):
                place = _name_words(text, m.start(2), m.end(2))
                if place is not None:
                    add("name", m.start(1), m.end(1))
                    add("name", *place)
        for m in _LOWER_BY.finditer(text) if " by " in text else ():
            group = next(g for g in range(1, 5) if m.group(g))
            span = _name_words(text, m.start(group), m.end(group), lead="the")
            if span is not None:
                add("name", *span)
        for m in _LOWER_FROM_TO.finditer(text) if "from " in text else ():
            spans = [_name_words(text, m.start(g), m.end(g)) for g in (1, 2)]
            if spans[0] is not None and text[spans[0][1] : m.start(2)].strip() == "to":  # both whole names
                for span in spans:
                    if span is not None:
                        add("name", *span)
        for m in _LOWER_DOCTOR.finditer(text) if "d" in text else ():
            span = _name_words(text, m.start(1), m.end(1))
            if span is not None:
                add("name", *span)
        for m in _LOWER_CUISINE.finditer(text) if _MAY_CUISINE.search(text) else ():
            if m.group(1) not in _NOT_CUISINE and m.group(1) not in _STOP:
                add("name", m.start(1), m.end(1))
    out.sort(key=lambda v: v.start)
    return tuple(out)


_NUMBER_WORDS = frozenset([*_UNITS, *_TEENS, *_TENS, "hundred", "thousand", "million"])
_SKIPPED = SPOKEN_FILLERS | {"and", "you", "know"}  # "one thousand and, like, you know, sixty"


def _part_of_a_number(before: str) -> bool:
    """Whether the words before a value said in words end with a number word (across fillers and "and")."""
    words = re.findall(r"[a-z]+|\d+", before.lower()[-60:])
    while words and words[-1] in _SKIPPED:
        words.pop()
    return bool(words) and (words[-1] in _NUMBER_WORDS and words[-1] != "oh")


def _plain(said: str) -> str:
    return " ".join(said.lower().split())


def _looks_coded(word: str) -> bool:
    """An all-capitals word that is a code rather than a shouted word: no vowel run a word would have."""
    vowels = sum(c in "AEIOUY" for c in word)
    return vowels <= len(word) // 4 or bool(re.search(r"[^AEIOUY]{4,}", word))


def _amount(said: str) -> str:
    symbol = {"$": "usd", "£": "gbp", "€": "eur"}.get(said.strip()[:1], "")
    lowered = said.lower()
    for words, code in (("dollar", "usd"), ("buck", "usd"), ("pound", "gbp"), ("quid", "gbp"), ("euro", "eur")):
        if words in lowered:
            symbol = symbol or code
    for code in ("usd", "gbp", "eur"):
        if re.search(rf"\b{code}\b", lowered):
            symbol = symbol or code
    digits = re.search(r"\d[\d,]*(?:\.\d+)?", said)
    if digits:
        return f"{digits.group(0).replace(',', '')} {symbol}".strip()
    parts = re.split(rf"\s+(?:{_CURRENCY_WORDS})\s*(?:and\s+)?", lowered)
    whole = spoken_number(parts[0]) if parts else None
    if whole is None:
        return _plain(said)
    cents = spoken_number(parts[1]) if len(parts) > 1 and parts[1].strip() else None
    return f"{whole}.{cents:02d} {symbol}".strip() if cents is not None and cents < 100 else f"{whole} {symbol}".strip()


def _time(said: str) -> str:
    lowered = " ".join(said.lower().replace(".", "").split())
    m = re.fullmatch(
        r"(half past|quarter past|quarter to) (\w+)(?: in the (morning|afternoon|evening)| at night| ?(am|pm))?",
        lowered,
    )
    if m:
        hour = int(m.group(2)) if m.group(2).isdigit() else _COUNT_WORDS.get(m.group(2))
        if hour is None:
            return lowered
        minutes = {"half past": 30, "quarter past": 15, "quarter to": 45}[m.group(1)]
        hour = (hour - 2) % 12 + 1 if m.group(1) == "quarter to" else hour  # quarter to 1 is 12:45
        suffix = m.group(4) or {"morning": "am", "afternoon": "pm", "evening": "pm"}.get(m.group(3) or "", "")
        suffix = suffix or ("pm" if "night" in lowered else "")
        return f"{hour}:{minutes:02d} {suffix}".strip()
    said_clock = _DAYPART_CLOCK.fullmatch(lowered)
    if said_clock and (said_clock.group(1) or said_clock.group(4) or said_clock.group(5)):
        clock = _daypart_clock(said_clock)
        if clock is not None:
            return clock
    part_of_day = re.fullmatch(r"(\d{1,2}(?::[0-5]\d)?) in the (morning|afternoon|evening)", lowered)
    if part_of_day:  # "12:30 in the afternoon" is 12:30 pm, "6 in the evening" 6 pm
        return f"{part_of_day.group(1)} {'am' if part_of_day.group(2) == 'morning' else 'pm'}"
    worded = re.fullmatch(r"([a-z]+)(?:[ -](.+?))? ?(am|pm|o'clock|o clock)", lowered)
    if worded and worded.group(1) in _COUNT_WORDS:  # "six forty five pm" is 6:45 pm, "five o clock" 5:00
        said = (worded.group(2) or "").replace("-", " ")
        suffix = worded.group(3) if worded.group(3) in ("am", "pm") else "o'clock"
        if not said:
            return f"{_COUNT_WORDS[worded.group(1)]} {suffix}"
        oh = re.fullmatch(r"oh? (\w+)", said)
        past = _UNITS.get(oh.group(1)) if oh else spoken_number(said)
        if past is not None and 0 <= past < 60:
            return f"{_COUNT_WORDS[worded.group(1)]}:{past:02d} {suffix}".removesuffix(" o'clock")
        return lowered
    spaced = re.fullmatch(r"(\d{1,2}) ([0-5]\d) ?(am|pm)", lowered)
    if spaced:  # "11 15 am" is 11:15 am (a recogniser wrote the clock without its colon)
        return f"{spaced.group(1)}:{spaced.group(2)} {spaced.group(3)}"
    return lowered


def _daypart_clock(said: re.Match[str]) -> str | None:
    """ "six fifteen in the evening", "afternoon 1 30": the clock with am/pm (None if no clock)."""
    hour_said, minutes_said = said.group(2), said.group(3)
    hour = int(hour_said) if hour_said.isdigit() else _COUNT_WORDS.get(hour_said)
    past: int | None = 0
    if minutes_said is not None:
        words = minutes_said.replace("-", " ")
        oh = re.fullmatch(r"oh? (\w+)", words)
        past = int(words) if words.isdigit() else _UNITS.get(oh.group(1)) if oh else spoken_number(words)
    if hour is None or past is None or not 0 <= past < 60:
        return None
    suffix = "am" if (said.group(1) or said.group(4)) == "morning" else "pm"
    return f"{hour} {suffix}" if minutes_said is None else f"{hour}:{past:02d} {suffix}"


def _with_number(said: str) -> str:
    lowered = _plain(said)
    spoken = re.match(_SPOKEN_NUMBER, lowered)
    if spoken:
        number = spoken_number(spoken.group(0))
        if number is not None:
            return f"{number}{lowered[spoken.end() :]}"
    return lowered


def _names(text: str) -> list[tuple[int, int]]:
    """Capitalised spans that name something (a venue, a product, a person, a place), not a sentence's
    first word alone."""
    out = []
    for m in _NAME.finditer(text):
        tokens = list(re.finditer(r"\S+", m.group(0)))
        start_index = 0
        while start_index < len(tokens) and tokens[start_index].group(0).lower().strip(".,'’") in _NOT_NAMES:
            if (
                tokens[start_index].group(0) == "The"
                and start_index + 1 < len(tokens)
                and not re.search(r"(?:^|[.!?:]\s*)$", text[: m.start() + tokens[start_index].start()].rstrip(" "))
            ):
                break  # "The" written with a capital inside a sentence is the name's ("tickets for The Drums")
            start_index += 1
        end_index = len(tokens)
        while end_index > start_index and tokens[end_index - 1].group(0).lower().strip(".,") in (
            "of", "the", "de", "la", "&", "vs", "vs.",
        ):  # fmt: skip
            end_index -= 1
        if start_index >= end_index:
            continue
        first, last = tokens[start_index], tokens[end_index - 1]
        start, end = m.start() + first.start(), m.start() + last.end()
        span = text[start:end]
        if re.fullmatch(r"[\d\s]+", span):
            continue
        # a word after a title the run began with ("Dr. Strangelove") opens no sentence
        sentence_start = start_index == 0 and (start == 0 or bool(re.search(r"[.!?:]\s*$|^\s*$", text[:start])))
        if sentence_start and end_index - start_index == 1 and not re.search(r"[A-Z].*[A-Z]|\d|'s$|\.", span[1:]):
            continue  # one capitalised word opening a sentence: an ordinary word more often than a name
        out.append((start, end))
    return out

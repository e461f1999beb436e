"""The one copy of the words every reader of an utterance shares.

Number words, month and weekday names, and the fillers a speech recogniser writes. Modules build
their own patterns and tables from these; none keeps its own list.
"""

from __future__ import annotations

__all__ = [
    "DIGIT_WORDS",
    "FILLER_PATTERN",
    "FILLER_WORDS",
    "MONTHS",
    "NUMBER_WORDS",
    "SPOKEN_FILLERS",
    "TEENS",
    "TENS",
    "WEEKDAYS",
]

DIGIT_WORDS: dict[str, int] = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
}  # fmt: skip
TEENS: dict[str, int] = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
TENS: dict[str, int] = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
NUMBER_WORDS: dict[str, int] = {word: value for word, value in {**DIGIT_WORDS, **TEENS}.items() if 1 <= value <= 12}
"""Counts people say as words: "one" to "twelve" (house numbers, party sizes, hours)."""

MONTHS: tuple[str, ...] = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
WEEKDAYS: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

FILLER_WORDS = frozenset({"uh", "um", "umm", "uhm", "uhh", "er", "erm", "ah", "ahh", "hmm", "mm"})
"""Hesitations as a recogniser writes them, one token each."""
FILLER_PATTERN = r"uh+|um+|er+|ah+|hmm+|mm+|uh-huh"
"""The same hesitations as a regular-expression alternation (repeated letters allowed)."""
SPOKEN_FILLERS = FILLER_WORDS | {"like"}
"""Words said between the words of one value that are not part of it ("four uh five", "at like fresno station")."""

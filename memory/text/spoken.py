"""Numbers and identifiers as a speech recogniser writes them.

Callers read out account numbers, phone numbers and e-mail addresses; the transcript holds
"eight eight one two three", "four one five, uh, five five five, oh one four two" or
"dana dot smith at gmail dot com". This module turns those spoken forms into the values
:mod:`memory.text.identifiers` normalises.

``normalize_spoken_digits`` rewrites every *digit run* of a text as plain digits, leaving every
other character as it was. A digit run is a sequence of digit items:

* digit words ``zero``/``nought``/``one``...``nine`` (and ``niner``), teens ``ten``...``nineteen``,
  tens ``twenty``...``ninety`` with an optional unit (``forty two``, ``forty-two`` -> ``42``),
  ``<unit> hundred [and] <tens/teens>`` (``eight hundred`` -> ``800``, ``two hundred fifty`` -> ``250``),
  ``double``/``triple``/``treble`` + a digit (``double five`` -> ``55``);
* digits already written (``8 8 1 2 3``, ``88 123``, ``(415) 555-0142``);
* ``oh``/``o`` as ``0``, but only inside a run that has at least two other digits, and at the
  edge of a run only when no punctuation or filler separates it from the next digit (so
  "oh I see", "oh, one more thing" and "two, oh well" keep their words);

separated by nothing but whitespace, commas, full stops, hyphens, brackets, slashes, the words
``dash``/``hyphen`` and fillers (``uh``, ``um``, ``er``, ``ah``, ``hmm``, ``like``...). A comma or
full stop followed by a space between two *written* numbers ends the run: the recogniser has
already decided they are separate numbers ("88123. 4155550142"); so does a dash with a space beside
it (a range: "53 - 57"). A run must give at least two digits ("one question" stays as it is;
"nineteen" becomes ``19``). ``plus`` or ``+`` before a run of 8+ digits becomes ``+``. Homophones
(``to``, ``for``, ``won``) are never digits.

Numbers written as one thing are never part of a run, and stay exactly as written: a clock time
(``09:11``), a decimal (``9.80``, ``13.2``), a date with slashes (``4/5/2018``), a digit glued to
the letters after it (``3rd``, ``11am``), and every character of a code that mixes letters and
digits (``1O9E32IJ``: its letter O is no zero, ``B0OK1NG``).

``join_spoken_digits`` is the certain normalisation, the one quoted back as what was said: it
rewrites only what was said digit by digit in words (``four five one``, ``six five oh, three three
oh``, ``double five two``: 3 digits or more) and one number said in words with no other number
beside it (``forty two``, ``twelve``, ``two hundred``); never written numbers, never two digit words
alone ("two four-star" is not 24) and never number words that may be separate numbers ("nineteen
eighty", "fifty three fifty seven", "eleven thirty").

``extract_identifiers`` finds the identifiers a caller says in one turn:

* account: a run (4 to 20 characters, optionally prefixed by letters such as ``AC-`` or spelled
  ``A C``) whose nearest preceding cue within 8 words is ``account`` / ``account number`` /
  ``customer number|id`` / ``member number|id`` / ``membership number`` / ``client number``;
* phone: a ``+``/``plus`` number; or a run of 10+ digits whose nearest cue is a phone cue
  (``phone``, ``cell``, ``mobile``, ``number``, ``reach me``, ``call me``...), or that has no cue and
  is exactly a full national number of the region (``4155550142``, ``14155550142`` in the US);
  a run whose nearest cue is an account cue, or another kind of number (``order``, ``card``,
  ``ticket``, ``confirmation``, ``zip``...) is never a phone;
* email: ``dana@example.net`` as written, or spoken ``dana at example dot net``,
  ``d a n a at example dot net``, ``dana dot smith at gmail dot com``; a spoken address needs an
  e-mail cue (``email``, ``mail``, ``address``) in the 12 words before it, ``at`` just before it
  ("reach me at dana at example dot net"), or nothing before it but lead-in words ("sure, it's
  ..."), so "I was looking at amazon dot com" is not an address. The local part is one word,
  spelled letters, or words joined by ``dot``/``underscore``/``dash`` and digits: in "my email is
  dana smith at gmail dot com" it is ambiguous and nothing is returned.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from itertools import pairwise

import phonenumbers

from ..errors import IdentifierError, InvalidInputError
from ..values import Identifier
from .identifiers import normalize_identifier
from .vocab import DIGIT_WORDS, FILLER_WORDS, SPOKEN_FILLERS, TEENS, TENS

__all__ = [
    "MAX_SCAN_CHARS",
    "digit_runs",
    "extract_identifiers",
    "join_spoken_digits",
    "normalize_spoken_digits",
    "spoken_digit_runs",
]

logger = logging.getLogger(__name__)

MAX_SCAN_CHARS = 20_000
"""``extract_identifiers`` returns nothing for longer texts: no caller says that much in one
turn, and cutting the text could cut a number in two."""

_MIN_PHONE_DIGITS = 10
_MIN_PLUS_DIGITS = 8
_ACCOUNT_LEN = (4, 20)
_CUE_WINDOW = 8
_EMAIL_CUE_WINDOW = 12
_MAX_JOINERS = 6

# --------------------------------------------------------------------------- vocabulary


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_UNITS = {word: str(value) for word, value in DIGIT_WORDS.items()}
_UNITS |= {"nought": "0", "naught": "0", "niner": "9"}
_WEAK = {"oh": "0", "o": "0"}
_TEENS = {word: str(value) for word, value in TEENS.items()}
_TENS = {word: str(value // 10) for word, value in TENS.items()}
_TENS["fourty"] = "4"  # a frequent misspelling
_REPEAT = {"double": 2, "triple": 3, "treble": 3}
_STARTERS = frozenset(_UNITS) | frozenset(_WEAK) | frozenset(_TEENS) | frozenset(_TENS) | frozenset(_REPEAT)
_DASH_WORDS = frozenset({"dash", "hyphen"})
# A caller correcting a number at once: "four four, sorry, four five one", "no wait", "I mean".
_REPAIR_WORDS = frozenset({"sorry", "mean", "wait", "actually", "correction", "rather", "scratch", "no", "oops"})
_REPAIR_GAP = _REPAIR_WORDS | frozenset({"i", "sorry", "that", "it's", "its", "is", "make", "it", "oh"}) | FILLER_WORDS
_ASKING = re.compile(
    r"\b(?:could|can|may|would)\s+(?:i|you|we)\s+(?:have|get|take|confirm|give|tell|provide|read|verify)\b"
    r"|\bplease\s+(?:give|tell|read|confirm|provide|verify)\b|\bwhat(?:'s| is| was)\b|\bi(?:'ll| will)\s+need\b",
    re.I,
)
_HYPHENS = frozenset("-‐‑–—")
_JOIN_PUNCT = frozenset(",.()/") | _HYPHENS
_LOOSE_PUNCT = frozenset(",.")

# Cues before a run of digits.
_ACCOUNT, _PHONE, _OTHER = "account", "phone", "other"
_ACCOUNT_WORDS = frozenset({"account", "acct"})
_ACCOUNT_QUALIFIERS = frozenset({"customer", "member", "membership", "client"})
_NUMBER_WORDS = frozenset({"number", "no", "num", "id", "#"})
_PHONE_WORDS = frozenset({"phone", "telephone", "cell", "cellphone", "mobile", "landline", "callback"})
_PHONE_VERBS = frozenset({"reach", "call", "text", "ring"})
_PHONE_VERB_OBJECTS = frozenset({"me", "us", "back"})
_OTHER_NUMBERS = frozenset(
    _words(
        """
    order reference ref case ticket confirmation tracking policy serial card credit debit routing
    pin social ssn claim invoice booking reservation flight room house street apartment suite unit
    model part zip postal postcode license licence passport transaction check cheque iban tax vin
    employee student patient code transfer payment amount balance deposit withdrawal refund
    """
    )
)

# Spoken e-mail addresses.
_EMAIL_CUES = frozenset({"email", "mail", "address", "emails"})
_LEAD_INS = frozenset(
    _words(
        """
    it's it’s its it is sure yes yeah yep yup ok okay so that's that’s thats that well oh right
    alright hi hello and
    """
    )
)
_EMAIL_BOUNDARY = (
    _LEAD_INS
    | _EMAIL_CUES
    | SPOKEN_FILLERS
    | frozenset({"at", "to", "me", "be", "was", "use", "try", "under", "as", "e", "by", "from", "my", "your"})
)
_LOCAL_CONNECTORS = {"dot": ".", "underscore": "_", "dash": "-", "hyphen": "-"}
_LOCAL_PUNCT = {".": ".", "_": "_", "-": "-", "+": "+"}
_NOT_A_PART = frozenset({"at", "dot", "dash", "hyphen", "underscore"})
_MAX_EMAIL_CHARS = 254

_TOKEN_RE = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*|\d+|\S")
# Matches the lower-cased text of any turn that may hold a digit run (a fast way out for the others).
_TRIGGER_RE = re.compile(
    r"\d|\b(?:" + "|".join(sorted((*_UNITS, *_TEENS, *_TENS, *_REPEAT), key=len, reverse=True)) + r")\b"
)

_Token = tuple[int, int, str]  # start, end, lower-cased text
# A phone number written as one: "4155550142", "415-555-0142", "(415) 555 0142", "1 415 555 0142", not
# numbers side by side ("57 10-12 10-12").
_DIGIT_BY_DIGIT = re.compile(
    r"(?:(?:"
    + "|".join(sorted({*_UNITS, *_WEAK, *_REPEAT, *SPOKEN_FILLERS, *_DASH_WORDS}, key=len, reverse=True))
    + r")\b[\s,.()/‐‑–—-]*)+"
)
_PHONE_SHAPE = re.compile(r"(?:\+?\d{1,3}[ .-]?)?(?:\(\d{3}\)|\d{3})[ .-]?\d{3}[ .-]?\d{4}|\d{10,15}")


@dataclass(slots=True)
class _Run:
    """A digit run: tokens ``[first, last)``, characters ``[start, end)`` of the text."""

    first: int
    last: int
    start: int
    end: int
    digits: str
    plus: bool


@dataclass(slots=True)
class _Piece:
    """One element of a digit run before it is settled."""

    digits: str
    strong: bool
    first: int
    last: int
    tight: bool  # only whitespace between this piece and the previous one
    written: bool
    single: bool = False  # one digit (or a double/triple one) said in words


@dataclass(slots=True)
class _Item:
    """A word, punctuation mark or whole digit run, as the identifier finder sees the text."""

    kind: str  # "word", "punct" or "num"
    low: str
    start: int
    end: int
    run: _Run | None = None


# --------------------------------------------------------------------------- public API


def normalize_spoken_digits(text: str) -> str:
    """Rewrite every digit run of ``text`` as digits; every other character is kept as is.

    ``"my account number is eight eight one two three"`` -> ``"my account number is 88123"``.
    Raises :class:`InvalidInputError` if ``text`` is not a string.
    """
    _require_str(text)
    if not _may_hold_digits(text):
        return text
    runs = _find_runs(_tokenize(text))
    if not runs:
        return text
    out: list[str] = []
    pos = 0
    for run in runs:
        out += (text[pos : run.start], "+" if run.plus else "", run.digits)
        pos = run.end
    out.append(text[pos:])
    return "".join(out)


def join_spoken_digits(text: str) -> str:
    """Rewrite only what was said digit by digit in words, or one number said in words alone (see the
    module): the certain normalisation.

    ``"ref four five one, then 09:11 and two four-star"`` -> ``"ref 451, then 09:11 and two four-star"``;
    ``"forty two dollars"`` -> ``"42 dollars"``; ``"nineteen eighty five"`` stays as said.
    Raises :class:`InvalidInputError` if ``text`` is not a string.
    """
    _require_str(text)
    if not _may_hold_digits(text):
        return text
    runs = _find_runs(_tokenize(text), strict=True, lone=True)
    if not runs:
        return text
    out: list[str] = []
    pos = 0
    for run in runs:
        out += (text[pos : run.start], run.digits)
        pos = run.end
    out.append(text[pos:])
    return "".join(out)


def spoken_digit_runs(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, digits)`` of each number said digit by digit in words (3 digits or more), in
    order: the runs :func:`join_spoken_digits` rewrites. Raises :class:`InvalidInputError` for a
    non-string."""
    _require_str(text)
    if not _may_hold_digits(text):
        return []
    return [(run.start, run.end, run.digits) for run in _find_runs(_tokenize(text), strict=True)]


def digit_runs(text: str) -> list[str]:
    """The digit runs of ``text`` with 3 or more digits, as digits, deduplicated, in order.

    ``"eight eight one two three"`` and ``"88 123"`` both give ``["88123"]``, so a retrieval
    index matches the spoken and written forms. Raises :class:`InvalidInputError` for a
    non-string.
    """
    _require_str(text)
    if not _may_hold_digits(text):
        return []
    return list(dict.fromkeys(run.digits for run in _find_runs(_tokenize(text)) if len(run.digits) >= 3))


def extract_identifiers(text: str, *, region: str = "US", asked: frozenset[str] = frozenset()) -> list[Identifier]:
    """Identifiers a caller says aloud in one turn: accounts, phone numbers, e-mail addresses.

    ``asked``: the kinds the agent's question just before asked for (:func:`asked_for`): a number
    the caller gives with no cue of their own ("Sure, it's 4095674.") is read as the one asked for.
    Values come normalised by :func:`memory.text.identifiers.normalize_identifier`, deduplicated, in
    order of appearance. Never raises: a non-string, an empty or over-long
    (> ``MAX_SCAN_CHARS``) text, or an invalid region gives ``[]``.
    """
    if not isinstance(text, str) or not text or len(text) > MAX_SCAN_CHARS:
        return []
    try:
        return _extract(text, region, asked)
    except Exception as exc:  # a caller's words must never break the call
        logger.warning("extract_identifiers: skipped a turn after %s", type(exc).__name__)
        return []


# --------------------------------------------------------------------------- tokens and runs


def _may_hold_digits(text: str) -> bool:
    return _TRIGGER_RE.search(text.lower()) is not None


def _require_str(text: object) -> None:
    if not isinstance(text, str):
        raise InvalidInputError(f"text must be a string, not {type(text).__name__}")


def _tokenize(text: str) -> list[_Token]:
    """Words, digit groups and single punctuation marks, lower-cased, with their spans."""
    low = text.lower()
    if len(low) == len(text):
        return [(m.start(), m.end(), m.group()) for m in _TOKEN_RE.finditer(low)]
    return [(m.start(), m.end(), m.group().lower()) for m in _TOKEN_RE.finditer(text)]


def _ascii_digits(token: str) -> str:
    return token if token.isascii() else "".join(str(unicodedata.decimal(c)) for c in token)


def _find_runs(tokens: list[_Token], *, strict: bool = False, lone: bool = False) -> list[_Run]:
    """The digit runs of the tokens; ``strict``: only numbers said digit by digit in words (``lone``: and
    one number said in words with no other number beside it, "forty two", "twelve", "two hundred")."""
    runs: list[_Run] = []
    count = len(tokens)
    locked = _locked(tokens)
    i = 0
    while i < count:
        word = tokens[i][2]
        starts = i not in locked and (word[0].isdigit() or word in _STARTERS)
        piece = _piece(tokens, i, True) if starts else None
        if piece is None:
            i += 1
            continue
        pieces = _collect(tokens, piece, locked, strict=strict)
        if strict and lone and len(pieces) == 1 and not pieces[0].single and not pieces[0].written:
            # a part of a longer number said in words ("one thousand one hundred and sixty") is no lone number
            run = None if _beside_a_number(tokens, pieces[0].first, pieces[0].last) else _settle(tokens, pieces)
            if run is not None and not run.plus:
                runs.append(run)
        elif strict:
            runs.extend(_spoken_groups(tokens, pieces))
        else:
            run = _settle(tokens, pieces)
            if run is not None:
                runs.append(run)
        i = pieces[-1].last
    return runs


_BIG = frozenset({"hundred", "thousand", "million", "billion"})


def _beside_a_number(tokens: list[_Token], first: int, last: int) -> bool:
    """Whether a number word or digits stand next to tokens ``[first, last)``, across fillers and "and"."""
    skip = SPOKEN_FILLERS | {"and", ","}
    before = first - 1
    while before >= 0 and tokens[before][2] in skip:
        before -= 1
    after = last
    while after < len(tokens) and tokens[after][2] in skip:
        after += 1
    near = [k for k in (before, after) if 0 <= k < len(tokens)]
    near = [k for k in near if k == after or tokens[k][2] not in _WEAK]  # "oh, twelve people": "oh" is a word
    return any(tokens[k][2] in _STARTERS or tokens[k][2] in _BIG or tokens[k][2][0].isdigit() for k in near)


def _spoken_groups(tokens: list[_Token], pieces: list[_Piece]) -> list[_Run]:
    """The parts of a run said digit by digit in words, each of 3 digits or more."""
    runs: list[_Run] = []
    group: list[_Piece] = []
    for piece in [*pieces, None]:
        if piece is not None and piece.single:
            group.append(piece)
            continue
        run = _settle(tokens, group) if group else None
        if run is not None and len(run.digits) >= 3 and not run.plus:
            runs.append(run)
        group = []
    return runs


def _locked(tokens: list[_Token]) -> set[int]:
    """Tokens of numbers written as one thing, never part of a run: a clock time ("09:11"), a
    decimal ("9.80"), a date with slashes ("4/5/2018"), digits glued to the letters after them
    ("3rd", "11am"), and every token of a code that mixes letters and digits ("1O9E32IJ")."""
    locked: set[int] = set()
    count = len(tokens)
    kinds = [_kind(token[2]) for token in tokens]
    glued = [tokens[k][1] == tokens[k + 1][0] for k in range(count - 1)]  # token k touches token k + 1
    n = 0
    while n < count:  # a chain of letters and digits glued together, with both: a code
        m = n
        while m + 1 < count and glued[m] and kinds[m] != "punct" and kinds[m + 1] != "punct":
            m += 1
        if m > n and set(kinds[n : m + 1]) == {"digit", "alpha"}:
            interleaved = m - n > 1 or kinds[n] == "digit"  # "1O9", "3rd", "0O0"; not "AC88123"
            if interleaved:
                locked.update(range(n, m + 1))
        n = m + 1
    for n in range(1, count - 1):
        if not (glued[n - 1] and glued[n] and kinds[n - 1] == kinds[n + 1] == "digit"):
            continue
        mark, left, right = tokens[n][2], tokens[n - 1][2], tokens[n + 1][2]
        if mark == ":" or (mark == "." and len(right) <= 2):  # "09:11", "9.80"
            locked.update((n - 1, n + 1))
        elif mark == "/" and len(left) <= 2 and len(right) <= 2:  # "4/5", "4/10/2018"
            locked.update((n - 1, n + 1))
            if n + 3 < count and tokens[n + 2][2] == "/" and glued[n + 1] and glued[n + 2]:
                locked.add(n + 3)
    return locked


def _kind(word: str) -> str:
    return "digit" if word[0].isdigit() else "alpha" if word[0].isalpha() else "punct"


def _collect(tokens: list[_Token], piece: _Piece, locked: set[int], *, strict: bool = False) -> list[_Piece]:
    """The pieces of the run that starts with ``piece``, joined across joiners."""
    pieces = [piece]
    count = len(tokens)
    while True:
        j = k = pieces[-1].last
        while k < count and k - j < _MAX_JOINERS and _is_joiner(tokens, k):
            k += 1
        if k >= count or k in locked:
            return pieces
        if strict and any(tokens[n][2] == "." and tokens[n + 1][0] > tokens[n][1] for n in range(j, k)):
            return pieces  # a sentence ends between them
        word = tokens[k][2]
        following = _piece(tokens, k, k == j) if word[0].isdigit() or word in _STARTERS else None
        if following is None or (pieces[-1].written and following.written and _separates(tokens, j, k)):
            return pieces
        pieces.append(following)


def _separates(tokens: list[_Token], j: int, k: int) -> bool:
    """Whether the joiners ``[j, k)`` between two written numbers keep them apart.

    A comma or full stop followed by a space ("88123. 4155550142"), or a decimal point
    ("12.50", "3.5": a full stop glued to 1 or 2 digits).
    """
    for n in range(j, k):
        if tokens[n][2] in _LOOSE_PUNCT and tokens[n + 1][0] > tokens[n][1]:
            return True
        if tokens[n][2] in _HYPHENS and (tokens[n + 1][0] > tokens[n][1] or tokens[n][0] > tokens[n - 1][1]):
            return True  # a range: "53 - 57"
    return (
        k == j + 1
        and tokens[j][2] == "."
        and tokens[j][0] == tokens[j - 1][1]
        and tokens[k][0] == tokens[j][1]
        and len(tokens[k][2]) < 3
    )


def _is_joiner(tokens: list[_Token], k: int) -> bool:
    word = tokens[k][2]
    if word in _JOIN_PUNCT or word in SPOKEN_FILLERS or word in _DASH_WORDS:
        return True
    # "you know" between the groups of a number: "95 01 you know 73 8"
    if word == "you":
        return _word_at(tokens, k + 1) == "know"
    return word == "know" and k > 0 and tokens[k - 1][2] == "you"


def _piece(tokens: list[_Token], i: int, tight: bool) -> _Piece | None:
    """The digit item starting at token ``i``, if any."""
    word = tokens[i][2]
    if word[0].isdigit():
        return _Piece(_ascii_digits(word), True, i, i + 1, tight, True)
    if word in _UNITS:
        if word not in ("zero", "nought", "naught") and _word_at(tokens, i + 1) == "hundred":
            digits, last = _hundreds(tokens, _UNITS[word], i + 2)
            return _Piece(digits, True, i, last, tight, False)
        return _Piece(_UNITS[word], True, i, i + 1, tight, False, single=True)
    if word in _WEAK:
        return _Piece("0", False, i, i + 1, tight, False, single=True)
    if word in _TEENS:
        return _Piece(_TEENS[word], True, i, i + 1, tight, False)
    if word in _TENS:
        digits, last = _tens(tokens, i)
        return _Piece(digits, True, i, last, tight, False)
    if word in _REPEAT:
        j = _skip_tight_hyphen(tokens, i + 1)
        digit = _UNITS.get(_word_at(tokens, j)) or _WEAK.get(_word_at(tokens, j))
        if digit is not None:
            return _Piece(digit * _REPEAT[word], True, i, j + 1, tight, False, single=True)
    return None


def _word_at(tokens: list[_Token], i: int) -> str:
    return tokens[i][2] if i < len(tokens) else ""


def _skip_tight_hyphen(tokens: list[_Token], j: int) -> int:
    """``j + 1`` if token ``j`` is a hyphen glued to the previous token ("forty-two")."""
    if j < len(tokens) and tokens[j][2] in _HYPHENS and tokens[j][0] == tokens[j - 1][1]:
        return j + 1
    return j


def _tens(tokens: list[_Token], i: int) -> tuple[str, int]:
    """``forty`` -> 40, ``forty two`` / ``forty-two`` -> 42; returns digits and next token."""
    j = _skip_tight_hyphen(tokens, i + 1)
    unit = _UNITS.get(_word_at(tokens, j), "0")
    if unit != "0":
        return _TENS[tokens[i][2]] + unit, j + 1
    return _TENS[tokens[i][2]] + "0", i + 1


def _hundreds(tokens: list[_Token], unit: str, j: int) -> tuple[str, int]:
    """``eight hundred`` -> 800, ``two hundred fifty`` -> 250, ``two hundred and five`` -> 205."""
    k = j + 1 if _word_at(tokens, j) == "and" else j
    word = _word_at(tokens, k)
    if word in _TEENS:
        return unit + _TEENS[word], k + 1
    if word in _TENS:
        digits, last = _tens(tokens, k)
        return unit + digits, last
    if k > j and _UNITS.get(word, "0") != "0":
        return unit + "0" + _UNITS[word], k + 1
    return unit + "00", j


def _settle(tokens: list[_Token], pieces: list[_Piece]) -> _Run | None:
    """Trim ambiguous ``oh`` pieces at the edges; a run that keeps 2+ digits becomes a ``_Run``."""
    strong = [n for n, piece in enumerate(pieces) if piece.strong]
    if not strong:
        return None
    several = len(strong) >= 2
    head, tail = strong[0], strong[-1]
    keep_head = several and all(piece.tight for piece in pieces[1 : head + 1])
    keep_tail = several and all(piece.tight for piece in pieces[tail + 1 :])
    kept = pieces[0 if keep_head else head : len(pieces) if keep_tail else tail + 1]
    digits = "".join(piece.digits for piece in kept)
    if len(digits) < 2:
        return None
    first, last = kept[0].first, kept[-1].last
    if first > 0 and tokens[first - 1][2] == "(" and any(tokens[t][2] == ")" for t in range(first, last)):
        first -= 1
    plus = first > 0 and tokens[first - 1][2] in ("+", "plus") and len(digits) >= _MIN_PLUS_DIGITS
    if plus:
        first -= 1
    return _Run(first, last, tokens[first][0], tokens[last - 1][1], digits, plus)


# --------------------------------------------------------------------------- identifiers


_HESITATION = re.compile(r"\b(?:" + "|".join(sorted(FILLER_WORDS, key=len, reverse=True)) + r"|you know)\b,?", re.I)
_SAID_TWICE = re.compile(r"\b([a-z']+)(?:\s+\1\b)+", re.I)


def _fluent(text: str) -> str:
    """The words as meant: hesitations dropped, a word said twice in a row said once (a recogniser keeps
    both: "could i i have your account number", "can you uh give me")."""
    return _SAID_TWICE.sub(r"\1", " ".join(_HESITATION.sub(" ", text).split()))


def asked_for(agent_text: str) -> frozenset[str]:
    """The identifier kinds an agent's turn asks the caller for ("Can I get your account number?" ->
    account; "what's the best number to reach you?" -> phone; "...or the e-mail on file?" -> email)."""
    if not isinstance(agent_text, str) or ("?" not in agent_text and not _ASKING.search(_fluent(agent_text))):
        return frozenset()
    words = set(_TOKEN_RE.findall(agent_text.lower()))
    kinds = set()
    if words & _ACCOUNT_WORDS or (words & _ACCOUNT_QUALIFIERS and words & _NUMBER_WORDS):
        kinds.add(_ACCOUNT)
    if words & _PHONE_WORDS or {"reach", "number"} <= words or {"call", "number"} <= words:
        kinds.add(_PHONE)
    if words & _EMAIL_CUES and ("e-mail" in agent_text.lower() or "email" in words or "mail" in words):
        kinds.add("email")
    return frozenset(kinds)


def _extract(text: str, region: str, asked: frozenset[str] = frozenset()) -> list[Identifier]:
    tokens = _tokenize(text)
    items = _items(tokens, _find_runs(tokens) if _may_hold_digits(text) else [])
    found: list[tuple[int, Identifier]] = []
    used: set[int] = set()
    heard, positions = _without_disfluencies(items)
    for start, identifier, span in _emails(heard, region, answering=bool(asked)):  # an e-mail for "your account?"
        found.append((start, identifier))
        used.update(positions[k] for k in span)
    cues = _cues(items)
    default = _ACCOUNT if _ACCOUNT in asked else _PHONE if _PHONE in asked else None
    repaired = _repaired_runs(items)
    for index, item in enumerate(items):
        if item.run is not None and index not in used and index not in repaired:
            number = _number_identifier(items, index, cues, region, default, text)
            if number is not None:
                found.append((item.start, number))
    found.sort(key=lambda pair: pair[0])
    return list(dict.fromkeys(identifier for _, identifier in found))


def _items(tokens: list[_Token], runs: list[_Run]) -> list[_Item]:
    """The token stream with each digit run folded into one ``num`` item."""
    items: list[_Item] = []
    next_run = iter(runs)
    run = next(next_run, None)
    i = 0
    while i < len(tokens):
        if run is not None and i == run.first:
            items.append(_Item("num", run.digits, run.start, run.end, run))
            i = run.last
            run = next(next_run, None)
            continue
        start, end, word = tokens[i]
        if word[0].isdigit():
            items.append(_Item("num", _ascii_digits(word), start, end))
        else:
            items.append(_Item("word" if word[0].isalpha() else "punct", word, start, end))
        i += 1
    return items


def _cues(items: list[_Item]) -> dict[int, str]:
    """Item index -> the kind of number the words there announce (fillers between the words of a
    cue, or a word of it said twice, do not break it: "my account uh, number is ...", "account number
    number ...", "my account you know number is ...")."""
    cues: dict[int, str] = {}
    previous = ""
    for index, item in enumerate(items):
        if (item.kind == "punct" and item.low != "#") or item.low in SPOKEN_FILLERS or item.low == previous:
            continue
        if _in_you_know(items, index):
            continue
        following = items[index + 1].low if index + 1 < len(items) else ""
        cue = _cue(previous, item.low, following)
        if cue is not None:
            cues[index] = cue
        previous = item.low
    return cues


def _in_you_know(items: list[_Item], index: int) -> bool:
    """Is the item a word of the filler "you know"?"""
    low = items[index].low
    if low == "you":
        return index + 1 < len(items) and items[index + 1].low == "know"
    return low == "know" and index > 0 and items[index - 1].low == "you"


def _cue(previous: str, word: str, following: str) -> str | None:
    if word in _ACCOUNT_WORDS:
        return _ACCOUNT
    if word in _NUMBER_WORDS and (previous in _ACCOUNT_QUALIFIERS or previous in _ACCOUNT_WORDS):
        return _ACCOUNT
    if word in _OTHER_NUMBERS or (word in _NUMBER_WORDS and previous in _OTHER_NUMBERS):
        return _OTHER
    if word in _PHONE_WORDS or word == "number":
        return _PHONE
    if word in _PHONE_VERBS and following in _PHONE_VERB_OBJECTS:
        return _PHONE
    return None


def _repaired_runs(items: list[_Item]) -> set[int]:
    """Runs the caller corrects at once ("four four, sorry, four five one two two"): the run before
    a repair word and another run is dropped; the corrected run takes its cue."""
    runs = [i for i, item in enumerate(items) if item.run is not None]
    return {first for first, second in pairwise(runs) if _corrects(items, first, second)}


def _nearest_cue(items: list[_Item], index: int, cues: dict[int, str]) -> str | None:
    words = 0
    for back in range(index - 1, -1, -1):
        if back in cues:
            return cues[back]
        if items[back].run is not None:
            if _corrects(items, back, index):
                continue  # "account four four, sorry, four five ...": the cue of the corrected run
            return None  # a cue announces the first run after it, not the ones that follow
        if items[back].kind != "punct":
            words += 1
            if words >= _CUE_WINDOW:
                return None
    return None


def _without_disfluencies(items: list[_Item]) -> tuple[list[_Item], list[int]]:
    """The items with fillers ("uh", "like", "you know") and stuttered words ("dot dot") left out,
    and where each kept item was: what an address said aloud is read from."""
    kept: list[_Item] = []
    positions: list[int] = []
    after_filler = False  # the comma a recogniser writes after a filler goes with it ("example uh, dot com")
    for index, item in enumerate(items):
        if item.kind == "punct" and item.low == "," and after_filler:
            continue
        after_filler = False
        if item.kind == "word":
            if item.low in SPOKEN_FILLERS:
                after_filler = True
                continue
            if item.low == "you" and index + 1 < len(items) and items[index + 1].low == "know":
                continue
            if item.low == "know" and index > 0 and items[index - 1].low == "you":
                after_filler = True
                continue
            if kept and len(item.low) > 1 and kept[-1].low == item.low:
                continue
        kept.append(item)
        positions.append(index)
    return kept, positions


def _has_cue_words(items: list[_Item]) -> bool:
    """Does the turn announce a number of its own kind ("my order number is ...")?"""
    return any(item.low in _OTHER_NUMBERS or item.low in _PHONE_WORDS for item in items if item.kind == "word")


def _corrects(items: list[_Item], earlier: int, later: int) -> bool:
    between = [items[k].low for k in range(earlier + 1, later) if items[k].kind == "word"]
    return bool(between) and len(between) <= 4 and bool(set(between) & _REPAIR_WORDS) and set(between) <= _REPAIR_GAP


def _number_identifier(
    items: list[_Item], index: int, cues: dict[int, str], region: str, default: str | None = None, text: str = ""
) -> Identifier | None:
    run = items[index].run
    assert run is not None
    glued = index > 0 and items[index - 1].kind == "word" and items[index - 1].end == run.start
    cue = _nearest_cue(items, index, cues)
    if cue is None and default is not None and not _has_cue_words(items):
        cue = default  # the caller answers the agent's question with the number alone
    if run.plus:
        return _try("phone", "+" + run.digits, region)
    if cue == _ACCOUNT:
        value = _account_prefix(items, index) + run.digits
        low, high = _ACCOUNT_LEN
        return _try("account", value, region) if low <= len(value) <= high else None
    if cue == _OTHER or glued or len(run.digits) < _MIN_PHONE_DIGITS:
        return None
    phone = _try("phone", run.digits, region)
    if phone is None or cue == _PHONE:
        return phone
    said = text[run.start : run.end]
    if _is_full_national(run.digits, phone.value, region) and (
        _PHONE_SHAPE.fullmatch(said) or _DIGIT_BY_DIGIT.fullmatch(said.lower())
    ):
        return phone  # no cue: written as one phone number ("415-555-0142"), or said digit by digit
    return None


def _try(kind: str, value: str, region: str) -> Identifier | None:
    try:
        return normalize_identifier(kind, value, region=region)
    except IdentifierError:
        return None


def _is_full_national(digits: str, e164: str, region: str) -> bool:
    """Whether ``digits`` is exactly how a national number of ``region`` is dialled."""
    code = str(phonenumbers.country_code_for_region(region.upper()))
    if not e164.startswith("+" + code):
        return False
    national = e164[1 + len(code) :]
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region.upper())
    prefix = (metadata.national_prefix if metadata is not None else None) or ""
    return digits in (national, prefix + national)


def _account_prefix(items: list[_Item], index: int) -> str:
    """Letters said or written just before an account number: ``AC-88123``, ``A C 8 8 1 2 3``."""
    start = items[index].start
    before = index - 1
    if before >= 1 and items[before].low in _HYPHENS and items[before].start == items[before - 1].end:
        start, before = items[before].start, before - 1
    if before >= 0 and items[before].kind == "word" and items[before].end == start:
        word = items[before].low
        return word.upper() if word.isascii() and len(word) <= 4 else ""
    letters: list[str] = []
    while before >= 0 and len(letters) < 4 and _is_letter(items[before]):
        letters.append(items[before].low)
        before -= 1
    return "".join(reversed(letters)).upper() if len(letters) >= 2 else ""


def _is_letter(item: _Item) -> bool:
    return item.kind == "word" and len(item.low) == 1 and item.low.isascii()


# --------------------------------------------------------------------------- e-mail addresses


def _emails(items: list[_Item], region: str, *, answering: bool = False) -> list[tuple[int, Identifier, range]]:
    found: list[tuple[int, Identifier, range]] = []
    for at, item in enumerate(items):
        written = item.low == "@"
        if not written and not (item.kind == "word" and item.low == "at"):
            continue
        domain = _parse_domain(items, at + 1, written)
        local = _parse_local(items, at - 1, written)
        if domain is None or local is None:
            continue
        (local_text, first), (domain_text, last) = local, domain
        if not written and not answering and not _spoken_email_context(items, first):
            continue
        identifier = _try("email", f"{local_text}@{domain_text}", region)
        if identifier is not None:
            found.append((items[first].start, identifier, range(first, last)))
    return found


def _part(item: _Item) -> str | None:
    """The text an item adds to an address (a word or a number), if it can be part of one."""
    if item.kind == "num":
        return item.low
    if item.low in _UNITS:
        return _UNITS[item.low]  # a lone digit word: "dana five at ..." is dana5
    if item.kind == "word" and item.low not in _NOT_A_PART and item.low.isascii() and item.low.isalpha():
        return item.low
    return None


def _joins(left: _Item, right: _Item, written: bool) -> bool:
    """Two parts with no connector between them belong to the same word of an address.

    Written (``@``) addresses have no spaces; spoken ones join digits to their neighbours and
    spelled letters to each other.
    """
    if left.end == right.start:
        return True
    if written:
        return False
    if left.kind == "num" or right.kind == "num" or left.low in _UNITS or right.low in _UNITS:
        return True  # digits are never a word of their own in an address: "dana five" is dana5
    return len(left.low) == 1 and len(right.low) == 1  # spelled letters: "d a n a"


def _connector(items: list[_Item], index: int, words: dict[str, str], marks: dict[str, str]) -> str | None:
    """The address character a connector item stands for ("dot" -> "."), if it is one."""
    item = items[index]
    if item.kind == "word":
        return words.get(item.low)
    if item.kind == "punct" and item.low in marks:
        before = index > 0 and items[index - 1].end == item.start
        after = index + 1 < len(items) and items[index + 1].start == item.end
        return marks[item.low] if before and after else None
    return None


def _parse_domain(items: list[_Item], start: int, written: bool) -> tuple[str, int] | None:
    """``example dot net`` / ``example.net`` from ``start``: (domain, index after it)."""
    labels: list[str] = []
    current: list[str] = []
    end = index = start
    previous: _Item | None = None
    while index < len(items) and sum(map(len, labels)) < _MAX_EMAIL_CHARS:
        item = items[index]
        text = _part(item)
        if text is not None and (previous is None or _joins(previous, item, written)):
            current.append(text)
            previous, index = item, index + 1
            end = index
            continue
        if previous is None or not current:
            break
        symbol = _connector(items, index, {"dot": ".", "dash": "-", "hyphen": "-"}, {".": ".", "-": "-"})
        if symbol is None:
            break
        if symbol == ".":
            labels.append("".join(current))
            current = []
        else:
            current.append(symbol)
        previous, index = None, index + 1
    while current and current[-1] == "-":
        current.pop()  # a dangling "dash" after the address
    if current:
        labels.append("".join(current))
    if len(labels) < 2 or not labels[-1].isalpha():
        return None
    return ".".join(labels), end


def _parse_local(items: list[_Item], last: int, written: bool) -> tuple[str, int] | None:
    """``dana dot smith`` / ``d a n a`` ending at ``last``: (local part, index of its first item)."""
    parts: list[str] = []
    first = index = last
    following: _Item | None = None
    while index >= 0 and sum(map(len, parts)) < 64:
        item = items[index]
        text = _part(item)
        if text is not None and (following is None or _joins(item, following, written)):
            parts.append(text)
            following, first, index = item, index, index - 1
            continue
        if following is None:
            break
        symbol = _connector(items, index, _LOCAL_CONNECTORS, _LOCAL_PUNCT)
        if symbol is None:
            break
        parts.append(symbol)
        following, index = None, index - 1
    while parts and not _part_text_ok(parts[-1]):
        parts.pop()  # a connector with no word before it
    if not parts:
        return None
    return "".join(reversed(parts)), first


def _part_text_ok(text: str) -> bool:
    return text not in (".", "_", "-", "+")


def _spoken_email_context(items: list[_Item], first: int) -> bool:
    """A spoken address needs an e-mail cue before it, ``at`` just before it ("reach me at dana
    at example dot net"), or nothing but lead-in words before it."""
    if first > 0 and items[first - 1].kind == "word":
        if items[first - 1].low not in _EMAIL_BOUNDARY:
            return False
        if items[first - 1].low == "at":
            return True
    before = [item.low for item in items[max(0, first - _EMAIL_CUE_WINDOW) : first] if item.kind == "word"]
    if any(word in _EMAIL_CUES for word in before):
        return True
    return all(item.low in _LEAD_INS or item.low in SPOKEN_FILLERS for item in items[:first] if item.kind == "word")

"""In-call recall: the condensed turns a caller's latest words ask about, quoted verbatim beside the notes.

When the notes no longer hold what a caller asks back about ("what time was the second table I booked?",
"sorry, what was the reference again?"), :meth:`TurnRecall.recall` finds the condensed turns that say it:

- a value the caller says again (a reference, a number, an amount) brings the turns that said it;
- a question pointing at a booking of the call (by kind, by order: "the second table", "the first event")
  scores that booking's turns by the kind of value asked for (a time, a count, a name, a cuisine or a genre
  no reader recognises), the agent's fullest confirmation, the proposal taken, the caller's change of mind,
  and the answer to a question about it; a question singling out none of several bookings of its kind brings
  the best turn of each;
- otherwise words shared with the question (BM25 [+ vectors]) and the kind of value asked for.

The turns chosen fit in the recall reserve of the budget (:meth:`TurnRecall.render` quotes them, dated).
It reads the call's state (turns, digests, bookings) from its :class:`~memory.compaction.compactor.Compactor`
and keeps only its own caches (each turn's recall line and its cost); fillers, stalls and small talk are
never recalled, nor recalled for.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from functools import cache
from itertools import pairwise
from typing import Protocol, TypeVar, cast

import numpy as np

from ..recall.presets import FAST
from ..recall.query import understand
from ..recall.ranking import rank
from ..recall.working_set import WorkingSet
from ..text.facts import amounts_in, references
from ..text.kinds import booked_kinds_in, episode_kinds_in, plain, vocabulary
from ..text.quote import quote
from ..text.reading import read_turn
from ..text.spoken import normalize_spoken_digits
from ..text.terms import index_terms
from ..text.values import values_in
from ..text.vocab import MONTHS, WEEKDAYS
from .bookings import Booking, between, counted_attempts, idle, takes_up
from .classifier import Digest, classify
from .patterns import (
    ASK_KINDS,
    BACKREF,
    BOOKING_VERBS,
    CHANGE_OF_MIND,
    CUISINES,
    DIGITS,
    GENRES,
    HOUSE_WORDS,
    ITEM_NOUNS,
    META,
    PUTTING_FORWARD,
    RETURNS_TO,
    SPECIFIC_KINDS,
    asks,
    booking_talk,
    similar_terms,
)
from .policy import RECALL_CLOSE, RECALL_OPEN, RECALL_PREAMBLE, LevelSettings, Turn, speaker_name

T = TypeVar("T")

_MORE_TERMS = 4  # the content words a caller's repair or stall must say besides to be recalled for a question
_LATEST_BONUS = (2.0, 1.0)  # the last and the last but one turn of a booking saying the kind of value asked for
_PASSED_OVER = 0.3  # what an option the agent listed and the caller did not take says of the attribute asked for
_NAMED_SCORE = 8.0  # a turn of the booking asked about that holds the kind of value the question names


class CallState(Protocol):
    """What recall reads of the call's compaction state (a :class:`~memory.compaction.compactor.Compactor`):
    its turns and their digests, its bookings and indexes, and how it counts and dates a line. Read only, but for
    :meth:`note_recalled`, by which recall counts what it brought back (for the notes' tiering)."""

    level: LevelSettings | None
    plans: tuple[str, ...]
    region: str
    _turns: list[Turn]
    _digests: list[Digest | None]
    _boundary: int
    _bookings: list[Booking]
    _asked_back: set[int]
    _by_kind: dict[str, list[int]]
    _by_value: dict[str, list[int]]
    _value_kinds: dict[int, frozenset[str]]
    _said: dict[int, str]
    _rows: WorkingSet
    _row_turn: list[int]

    def _digest(self, i: int) -> Digest: ...
    def index_recall(self) -> None: ...
    def note_recalled(self, i: int) -> None: ...
    def _recallable(self, i: int) -> bool: ...
    def _recall_reserve(self) -> int: ...
    def _recall_header_tokens(self) -> int: ...
    def _count(self, text: str) -> int: ...
    def _clock(self, at: datetime) -> str: ...


class TurnRecall:
    """The in-call recall of one :class:`Compactor` (see the module's docstring)."""

    def __init__(self, compactor: CallState) -> None:
        self.compactor = compactor  # the call's turns, digests and bookings: read, and told what recall brought back
        self._recall_costs: dict[int, int] = {}  # condensed turn -> its tokens as a recalled line
        self._recall_lines: dict[int, str] = {}  # condensed turn -> its line in the recall block
        self._more: dict[int, bool] = {}  # condensed turn -> a caller's repair or stall that says more (_says_more)
        self._restates: dict[int, bool] = {}  # condensed turn -> it restates details rather than asks (_checks)
        self._kinds: dict[int, frozenset[str]] = {}  # condensed turn -> the kinds of thing it speaks of
        # what is worked out of the bookings (a booking's proposal taken, its title words; the turns of a pool of
        # them): (what it was worked out of, its value) by (what, the ids of what it was worked out of), kept while no turn is condensed (``_kept``)
        self._of_bookings: dict[tuple[str, object], tuple[object, object]] = {}
        self._bookings_seen: tuple[list[Booking], int] | None = None  # the bookings and boundary they were of

    def forget(self, i: int) -> None:
        """Turn ``i`` was edited (an interrupted reply cut to what was said): what was worked out of it goes."""
        self._recall_costs.pop(i, None)
        self._recall_lines.pop(i, None)
        self._more.pop(i, None)
        self._restates.pop(i, None)
        self._kinds.pop(i, None)

    def recall(self, query: str, query_vector: np.ndarray | None) -> list[int]:
        """Condensed turns the caller's latest words touch, best first.

        Turns holding an exact value the caller says again come first. For a question, or words
        that refer back ("again", "you said"), the condensed turns are ranked (BM25 [+ vectors],
        :class:`~memory.recall.working_set.WorkingSet`) and scored by the words they share with the query,
        whether they hold the kind of value asked for ("how much" -> an amount), and whether they
        answer a question that matches; turns of a specific kind asked for (an e-mail address, a
        phone number, an address, a name) are candidates even without shared words. Fillers,
        stalls and small talk are never recalled, nor recalled for.
        """
        level = self.compactor.level
        if level is None or not self.compactor._row_turn:
            return []
        said = self._query_digest(query)
        normalized = normalize_spoken_digits(query).lower()
        if said.kind not in ("key", "content") and not (said.kind == "meta" and _ASKING.search(normalized)):
            return []  # a filler or small talk; a repair ("sorry, what was the time again?") may still ask
        scores: dict[int, float] = {}
        for value in _query_values(query, normalized):
            for i in self.compactor._by_value.get(value, ()):
                if self.compactor._recallable(i):
                    scores[i] = max(scores.get(i, 0.0), 10.0)
        backref = bool(BACKREF.search(query)) or (asks(query) and " again" in normalized)
        # a question about what is under way ("what time does it start?") is answered by the verbatim
        # turns; one that asks back ("what was...", "did we...", "the first table") may need condensed ones
        question = asks(query)
        booked: dict[int, float] = {}
        picked: set[int] = set()
        spread: list[list[int]] = []  # bookings a question may mean, none singled out: the best turn of each
        if question or backref or _ASKING.search(normalized):
            picked = self._by_booking(query, set(index_terms(query)), booked, spread)
        settled = bool(picked) and max(booked.values(), default=0.0) >= _NAMED_SCORE
        if (backref or question) and not settled:  # words alone, unless the booking holds the kind asked for
            asked = {kind for kind, pattern in ASK_KINDS if pattern.search(query)}
            terms = set(index_terms(query))
            self.compactor.index_recall()
            hits = rank(
                self.compactor._rows, query, query_vector, preset=FAST, limit=12, now=self.compactor._turns[-1].at
            )

            def consider(i: int, shared: int, bonus: float) -> None:
                if not self.compactor._recallable(i) or (
                    self.compactor._turns[i].role == "user"
                    and similar_terms(said.terms, self.compactor._digest(i).terms)
                ):
                    return  # a filler, or the caller's own words said again
                kind = 2.0 if self.compactor._digest(i).kinds & asked else 0.0
                if backref or (kind and shared) or shared >= 2 or (kind and bonus >= 0.5):
                    scores[i] = max(scores.get(i, 0.0), shared + kind + bonus)

            for position, hit in enumerate(hits):
                i = hit.seq - 1  # a row's seq is its turn's position + 1
                shared = len(terms & self.compactor._digest(i).terms)
                if not shared:
                    continue
                order = (len(hits) - position) / 100
                consider(i, shared, order)
                answer = self._answer_to(i)
                if answer is not None and self.compactor._turns[i].role == "assistant":
                    consider(answer, shared, 0.5 + order)  # the caller's answer to a matching question
                for j in (i + 1, i + 2, i + 3):  # a value asked for, said just after what matched
                    if j < self.compactor._boundary and self.compactor._digest(j).kinds & asked:
                        consider(j, 0, 0.5 + order / 2)
            for kind in asked & SPECIFIC_KINDS:
                for i in self.compactor._by_kind.get(kind, ())[-3:]:
                    consider(i, 1, 0.5 + i / 10_000)
        if picked:
            for i in list(scores):
                if i not in picked and scores[i] < 10.0:
                    scores[i] *= 0.3  # words shared with another booking's turns
            for i, score in booked.items():
                scores[i] = max(scores.get(i, 0.0), score)
        budget = self.compactor._recall_reserve() - self.compactor._recall_header_tokens()
        chosen: list[int] = []
        used = 0
        ranked = sorted(_first_said(scores, self.compactor._turns), key=lambda i: (-scores[i], -i))
        for turns in spread:  # "the table i booked" after several: what each of them says of it, the latest first
            best = next((i for i in ranked if i in turns), None)
            if best is None or len(chosen) >= level.max_recall - 1:
                continue
            cost = self.cost(best)
            if used + cost <= budget:
                chosen.append(best)
                used += cost
        for i in ranked:
            if i in chosen:
                continue
            cost = self.cost(i)
            if used + cost > budget:
                continue
            chosen.append(i)
            used += cost
            if len(chosen) >= level.max_recall:
                break
        for i in chosen:
            self.compactor.note_recalled(i)
        return sorted(chosen)

    def _by_booking(
        self, query: str, terms: set[str], scores: dict[int, float], spread: list[list[int]] | None = None
    ) -> set[int]:
        """Score condensed turns by the booking a question points at and the kind of value it asks
        for ("what time was the second table I booked?" -> the second restaurant booking, its
        times): the query understanding of caller recall, applied to the bookings of this call.

        A question that singles out none of several bookings of its kind ("what time was the table i
        booked?" after three) fills ``spread`` with the turns of each, the latest first: the recall
        then brings what each of them says, rather than only the latest's turns."""
        if not self.compactor._bookings:
            return set()
        question = understand(query, self.compactor._turns[-1].at)
        said = query.lower()
        asked = _BOOKING_PHRASE.sub(" ", said)  # "the time for the second event tickets": time, not a count
        named = {kind for pattern, value_kinds in _VALUE_NOUNS if pattern.search(asked) for kind in value_kinds}
        terms = set(index_terms(asked)) or terms  # the words of what is asked, not of the booking pointed at
        wanted = set(question.value_kinds) - named  # the kinds the words of the question name come first
        # "the first bus tickets" points at a bus, "the place i booked to stay" at a room: not at an event or a table
        kinds = set(booked_kinds_in(query)) or set(question.kinds)
        # a stretch of another kind counts too when the caller asked in it for this kind alone (:meth:`_asked_for`)
        # and one the agent read back as this kind alone ("1 ticket for jon b in napa" after "i like the blues")
        pool = (
            [
                b
                for b in self.compactor._bookings
                if b.kind in kinds or self._asked_for(b) in kinds or self._read_back_as(b) in kinds
            ]
            if kinds
            else []
        )
        turns_of = self._with_follow_ups(pool)
        pool = [b for b in pool if id(b) in turns_of]
        if not pool:
            return set()  # the question points at no booking of this call: words and value kinds alone
        nth = _ordinal(said)
        attempts = (
            self._counted(pool)
            if nth is not None and len(pool) >= 2
            else counted_attempts(pool, self.compactor._bookings)
        )
        if nth is not None and nth <= len(attempts):
            chosen = attempts[nth - 1]
        elif question.anchor == "first":
            chosen = pool[:1]
        elif question.anchor in ("last", "before_last") or kinds:
            chosen = pool[-2:] if question.anchor == "before_last" else pool[-1:]
            if question.anchor is None:  # no anchor: every booking of the kind, the latest first
                chosen = pool[::-1][:3]
                if spread is not None and len(chosen) > 1:
                    spread.extend([i for i in turns_of[id(b)] if self.compactor._recallable(i)] for b in chosen)
        else:
            chosen = pool[::-1][:3]
        if not chosen:
            return set()
        picked = {i for b in chosen for i in turns_of[id(b)]}
        asked_for = [(names, words, bonus) for names, words, bonus in _ATTRIBUTES if names.search(asked)]
        attributes = [(words, bonus) for _, words, bonus in asked_for]
        about = [names for names, _, _ in asked_for]  # the caller asking about it
        category = bool(_CATEGORY.search(asked))
        answers: set[int] = set()  # answers to the agent's question about what is asked ("what cuisine?")
        told_by: dict[int, int] = {}  # the agent's answer to the caller's question about what is asked -> the question
        for rank_of, booking in enumerate(chosen):
            weight = 1.0 - 0.2 * rank_of
            carriers: list[int] = []  # the turns saying the kind of value asked for, in the order said
            title = self._taken_terms(booking) - terms  # the words naming what was taken ("dogman", "pillow talk")
            offer = self._proposal(booking)
            confirms = [i for i in booking.confirms if i != offer]
            last_confirm = self._fullest([i for i in confirms if self.compactor._digest(i).terms & title] or confirms)
            named_by = title if category else frozenset()  # a genre word in the title taken is no genre said
            latest = max((i for i in booking.confirms if i != offer), default=None)  # after a change of mind
            item = ITEM_NOUNS.get(booking.kind or "")
            taken = _NAMED_SCORE if item is not None and item.search(asked) else 0.0  # "which song was it"
            # the proposal taken says what it is ("at murmrr low plays march 9th at six pm"), not only "would you
            # like to buy the tickets": the options the agent put forward before it were passed over
            proposes = offer is not None and self.compactor._digest(offer).kind == "key"
            told = _OFFER_TELLS.get(booking.kind or "")  # "which album was it": what the proposal taken says
            if booking.kind == "event" and not proposes:
                told = None  # where the event is: said where it was proposed, not when the tickets were offered
            offered = _NAMED_SCORE if taken or (told is not None and told.search(asked)) else 0.0
            for position, i in enumerate(turns_of[id(booking)]):
                if not self.compactor._recallable(i) and not self._says_more(i):
                    continue
                score = 0.0
                holds = self.compactor._value_kinds.get(i, frozenset())
                names_it = bool(taken and self.compactor._digest(i).terms & title)
                if names_it:  # "which movie was it": the turns that say the title taken (the pick, its confirmation)
                    score += 3.0
                agents = self.compactor._turns[i].role == "assistant"
                lists = agents and booking.kind == "event" and bool(title)  # the agent lists events, each at its venue
                other = lists and i != last_confirm and not self.compactor._digest(i).terms & title
                passed_over = proposes and agents and i < (offer or 0) and i not in booking.confirms and bool(holds)
                other = other or (passed_over and booking.kind == "event")
                if named & holds and other and "name" in named:  # a name of another option the agent listed
                    score += 2.5
                elif named & holds:
                    score += _NAMED_SCORE + (0.5 if agents else 0.0)
                elif lists and "name" in named and self.compactor._digest(i).terms & title:
                    score += 2.5  # what was taken, its venue in lower case ("x tomorrow in warsaw")
                elif wanted & holds:
                    score += 2.0 + (0.5 if self.compactor._turns[i].role == "assistant" else 0.0)
                restated = 1.0 if category and not named else 3.0  # a confirmation seldom says the genre
                if i == last_confirm:
                    score += restated + taken  # the agent's fullest confirmation restates what was booked
                elif i == latest:
                    score += restated  # and the latest, when the caller changed something since
                if i == booking.request:
                    score += 2.5  # the caller's request says what they wanted (a cuisine, a genre, a city)
                if (
                    self.compactor._turns[i].role == "user"
                    and (taken or (named | wanted) & holds)  # of what is asked: the movie itself, its device
                    and CHANGE_OF_MIND.search(self.compactor._turns[i].text.lower())
                ):
                    # "i changed my mind, i'd like to watch ... instead": what holds now
                    score += 2.0 + taken / 2 + position / 1000
                if i == offer:
                    score += (
                        2.6 + offered
                    )  # what the agent proposed and the caller took (a venue, a song and its album)
                shared = len(terms & self.compactor._digest(i).terms)
                score += min(shared, 3)
                # read through the recogniser's fillers and stutters: "a place place to eat" names no cuisine
                text = self.compactor._said.get(i) or self.compactor._turns[i].text.lower()
                bonus = max((b for words, b in attributes if _says_attribute(words, text, named_by)), default=0.0)
                if other and "name" in named:
                    bonus *= _PASSED_OVER  # where another listed event is, not the one taken
                mine = self.compactor._turns[i].role == "user"
                if bonus and mine and any(_asks_about(names, text) for names in about):
                    # the caller asking about it ("who directed it?"): the agent's answer says it, the question not
                    answer = self._answer_to(i, asked=True)
                    if answer is not None and answer in picked:
                        told_by[answer] = i
                        scores[answer] = max(scores.get(answer, 0.0), (bonus + 2.0 + position / 1000) * weight)
                    bonus = 0.0
                if bonus:
                    score += bonus + (3.0 if i in answers else 0.0)  # said in answer to a question about it
                    answer = self._answer_to(i) if self.compactor._turns[i].role == "assistant" else None
                    if answer is not None and answer in picked:
                        scores[answer] = max(scores.get(answer, 0.0), 4.5 * weight)  # the caller's answer
                        answers.add(answer)
                answer = self._answer_to(i) if shared else None
                if answer is not None and answer in picked:
                    scores[answer] = max(scores.get(answer, 0.0), (2.5 + 1.5 * shared) * weight)  # its answer
                if (named & holds) or bonus or i in told_by:
                    carriers.append(i)
                if score:
                    scores[i] = max(scores.get(i, 0.0), (score + position / 1000) * weight)
            latest_carriers = carriers[-2:] if len(carriers) > 1 and not offered else []  # the proposal taken rules
            for back, i in enumerate(reversed(latest_carriers)):
                # the latest said of it: a change of mind, the retry after a failed attempt, the event taken
                # after others were listed
                scores[i] = scores.get(i, 0.0) + _LATEST_BONUS[back] * weight
        return picked

    def _read_back_as(self, booking: Booking) -> str | None:
        """The one kind of thing the agent's confirmations in ``booking`` name, when it was booked and is of another
        kind: what the agent read back or reported ("please confirm 1 ticket for jon b in napa") says what was
        booked, though the caller's words named another kind ("i like the blues", a song's genre)."""
        if not booking.booked or not booking.confirms:
            return None
        named = self._kept(
            "read back", booking, lambda: {k for i in booking.confirms for k in episode_kinds_in(self._text(i))}
        )
        return next(iter(named)) if len(named) == 1 and booking.kind not in named else None

    def _asked_for(self, booking: Booking) -> str | None:
        """See :meth:`_new_asked_for` (kept per booking)."""
        return self._kept("asked for", booking, lambda: self._new_asked_for(booking))

    def _new_asked_for(self, booking: Booking) -> str | None:
        """The one kind of thing the caller's request in ``booking`` names, in their own words, when the booking was
        done and came to be of another kind ("i want to play some music", then a transfer in the same stretch): the
        caller counts the song played there among the songs, as well as the transfer among the transfers. None when
        it names none or several, or the booking's kind, or nothing in the stretch but the request speaks of it ("find
        me something to do, i really like music", then tickets: a word in passing), or when the next stretch takes it
        up again ("so let's go back to book the event tickets"): it is counted there."""
        request = booking.request
        if request is None or not booking.booked:
            return None
        named = list(episode_kinds_in(self._text(request)))
        if not named and booking.confirms:  # "find me something fun to do", a balance asked in between, then "i bought
            named = list(episode_kinds_in(self._text(booking.confirms[-1])))  # your tickets": as the agent said
        if len(named) != 1 or named[0] == booking.kind or named[0] not in booking.own:
            return None  # none, or several ("the long beach jazz festival": an event, not a song)
        if booking.named.get(named[0], 0.0) <= 1.0:
            return None  # named in the request alone, nothing more said of it: a word in passing
        bookings = self.compactor._bookings
        at = next((n for n, b in enumerate(bookings) if b is booking), len(bookings))
        after = bookings[at + 1] if at + 1 < len(bookings) else None
        if (
            after is not None
            and after.kind == named[0]
            and after.request is not None
            and _RESUMING.search(self._text(after.request))
        ):
            return None  # taken up right after ("so let's go back to book the event tickets"): counted there
        return named[0]

    def _counted(self, pool: list[Booking]) -> list[list[Booking]]:
        """The bookings of ``pool`` (one kind, in order) as the caller counts them ("the second concert"): the
        attempts of :func:`counted_attempts`, a booking taken up again later (:meth:`_resumed`) one with the one it
        resumes (booked if either was, as left or confirmed as its latest part), first in it when it was booked
        and nothing of it before was."""
        resumed = self._resumed(pool)
        if not resumed:
            return counted_attempts(pool, self.compactor._bookings, self._asides(pool), self._searched)
        parts: dict[int, list[Booking]] = {}  # the first of each chain -> its parts, in order
        for booking in pool:
            parts.setdefault(id(resumed.get(id(booking), booking)), []).append(booking)
        whole: dict[int, Booking] = {}  # a chain as one booking -> its first part
        joined: list[Booking] = []
        for booking in pool:
            if id(booking) in resumed:
                continue
            chain = parts[id(booking)]
            if len(chain) > 1:
                latest = chain[-1]
                booking = replace(
                    booking,
                    booked=any(b.booked for b in chain),
                    left=latest.left,
                    affirmed=latest.affirmed,
                    settled=latest.settled,
                    failed=latest.failed,
                    refused=latest.refused,
                    own=set().union(*(b.own for b in chain)),
                    confirms=[i for b in chain for i in b.confirms],
                )
            whole[id(booking)] = chain[0]
            joined.append(booking)
        everything = [next((b for b in joined if whole[id(b)] is o), o) for o in self.compactor._bookings]
        out: list[list[Booking]] = []
        for group in counted_attempts(joined, everything, self._asides(joined), self._searched):
            counted: list[Booking] = []
            for booking in group:
                for part in parts[id(whole[id(booking)])]:
                    first = part.booked and not any(b.booked for b in counted)
                    counted.insert(0 if first else len(counted), part)
            out.append(counted)
        return out

    def _asides(self, pool: list[Booking]) -> frozenset[int]:
        """The bookings of ``pool`` (by ``id``) closed with nothing confirmed, affirmed or done in them, in which the
        caller asked for nothing new ("i'd like to know my checking balance" after a transfer): no search of theirs
        starts one, and none is still under way."""
        return frozenset(
            id(b)
            for b in pool
            if idle(b) and b.closed and b.request is not None and not _NEW_REQUEST.search(self._text(b.request))
        )

    def _searched(self, booking: Booking) -> bool:
        """The caller only searched in ``booking`` (for :func:`~memory.compaction.bookings.counted_attempts`, which
        asks this of a :func:`~memory.compaction.bookings.searched_only` one): they never asked in it to book, buy,
        play, watch or listen to anything, nor spoke of tickets ("find me some games in seattle" - "that's all for
        now"; asking when it starts is no start asked for), and what the agent said in it that counted as a
        confirmation only asked or put results forward."""
        user = [i for i in booking.turns if self.compactor._turns[i].role == "user"]
        if any(_DOES_IT.search(_PUTS_OFF.sub(" ", _WHEN_IT_STARTS.sub(" ", self._text(i)))) for i in user):
            return False
        # what the agent said in it that counted as a confirmation asked or put something forward ("what city should
        # i look in", "i found 9 events, one is mets vs pirates"): searching, nothing read back or reported done
        # when the caller turned to it from another thing without taking leave of that ("enjoy the song" - "thanks
        # so much, i want to find some things to do"): a look around beside that thing; after a leave taken, a search
        # the agent asked or offered in may be a booking of its own
        bookings = self.compactor._bookings
        at = next((n for n, b in enumerate(bookings) if b is booking), 0)
        beside = at > 0 and not bookings[at - 1].left
        return not booking.confirms or (beside and all(_searching(self._text(i)) for i in booking.confirms))

    def _resumed(self, pool: list[Booking]) -> dict[int, Booking]:
        """The bookings of ``pool`` (one kind, in order) that take up the one before them again, by ``id``, and the
        booking each resumes (the first of its chain): the caller coming back to it after a detour ("can we go
        back to booking the tickets", "i want to book the event tickets now") or re-opening it, with no new
        request of their own (:meth:`_resumes`)."""
        out: dict[int, Booking] = {}
        at = {id(b): n for n, b in enumerate(self.compactor._bookings)}
        for before, after in pairwise(pool):
            if self._resumes(before, after, at):
                out[id(after)] = out.get(id(before), before)
        return out

    def _resumes(self, before: Booking, after: Booking, at: dict[int, int]) -> bool:
        """``after`` (of ``before``'s kind, the next of it) takes ``before`` up again: the caller's first words in it
        ask for nothing new (no search: "find me something to do", "i am looking for a concert in la"), no booking
        between them started with a search and spoke of this kind of thing (what is taken up may be that one's), and
        the caller says they come back to it ("go back to booking tickets", "book the tickets now", "the event we
        searched for"). Strict: the agent saying again what ``before`` took is not enough (a venue, a city and a
        kind of food recur between bookings). ``at``: the call's bookings' positions by ``id``."""
        request = after.request
        if before.kind != after.kind or request is None:
            return False
        bookings = self.compactor._bookings
        stretch = between(before, after, bookings, at)
        if stretch is None:
            return False
        # or takes up what they put off for another thing, with nothing taken leave of since ("not right now, i need
        # a bus there" ... "that is great, i want to book the tickets"), whoever spoke first in it
        taken_up = takes_up(before, after, bookings, at)
        said = self._text(request)
        if not stretch and not (before.closed or before.left) and request == after.turns[0] and _TAKES.search(said):
            return True  # "that would be fun, please get me tickets" to what was just put forward: the same booking
        if (request != after.turns[0] and not taken_up) or _NEW_REQUEST.search(said):
            return False
        if not (_RESUMING.search(said) or taken_up or self._interrupted(before, after, stretch)):
            return False
        # a search in between that spoke of this kind of thing: what is taken up may be that one's; but for one the
        # caller put off (:func:`takes_up`), where it takes the caller naming it there (or the stretch coming to be
        # of it): the agent naming it ("a hotel near the concert") speaks of the one put off
        kind = after.kind or ""
        return not any(
            b.request is not None
            and b.named.get(kind)
            and (not taken_up or b.kind == kind or kind in b.own)
            and _NEW_REQUEST.search(self._text(b.request))
            for b in stretch
        )

    def _interrupted(self, before: Booking, after: Booking, stretch: list[Booking]) -> bool:
        """``after`` follows ``before`` at once and the caller's first words in it ask to book the thing already
        talked about ("thanks, can you book two tickets to the game", "now i would like to book tickets for the
        event"), while in ``before`` they asked for another kind of thing too (a bus there): what was reported done in
        ``before`` may be that other thing's, and the one they come back to is ``before``'s."""
        if stretch or after.request != after.turns[0] or not before.own - {before.kind}:
            return False
        said = plain(self._text(after.request))
        return _BOOKS_IT.search(said) is not None and RETURNS_TO.search(said) is not None

    def _text(self, i: int) -> str:
        """Turn ``i`` in lower case, read through the recogniser's fillers and stutters when it was."""
        return self.compactor._said.get(i) or self.compactor._turns[i].text.lower()

    def _kept(self, what: str, of: Booking | tuple[Booking, ...], compute: Callable[[], T]) -> T:
        """``compute()``, ``what`` is worked out of ``of`` (a booking, or a pool of them): kept until a turn is
        condensed or the bookings are rebuilt, so that each question reads the bookings of the call once, not
        again from the start. Kept by the ids of ``of``, which the entry holds alive, so no id is reused while kept."""
        seen = (self.compactor._bookings, self.compactor._boundary)
        if self._bookings_seen is None or self._bookings_seen[0] is not seen[0] or self._bookings_seen[1] != seen[1]:
            self._of_bookings, self._bookings_seen = {}, seen
        key = (what, tuple(map(id, of)) if isinstance(of, tuple) else id(of))
        found = self._of_bookings.get(key)
        if found is not None:
            return cast(T, found[1])
        value = compute()
        self._of_bookings[key] = (of, value)
        return value

    def _with_follow_ups(self, pool: list[Booking]) -> dict[int, list[int]]:
        """See :meth:`_follow_ups` (kept: read only, never changed by its callers)."""
        return self._kept("follow-ups", tuple(pool), lambda: self._follow_ups(pool))

    def _follow_ups(self, pool: list[Booking]) -> dict[int, list[int]]:
        """The turns of each booking of ``pool`` (by ``id``) that the caller would count, with those of the
        stretches that only ask about it: a stretch right after a booking of its kind that starts with the
        caller's question ("can you give me the address for the place, also how much do the tickets cost",
        after the tickets were booked) and in which the agent proposed and confirmed nothing is no booking of
        its own, but what was said of the one before (its address, its price)."""
        bookings = self.compactor._bookings
        at = {id(b): n for n, b in enumerate(bookings)}
        out: dict[int, list[int]] = {}
        before: Booking | None = None
        for booking in pool:
            request = booking.request
            asks_about_it = (
                before is not None
                and at[id(booking)] == at[id(before)] + 1
                and booking.offer is None
                and not booking.confirms
                and not booking.booked
                and request is not None
                and request == booking.turns[0]
                and asks(self.compactor._turns[request].text)
            )
            if asks_about_it and before is not None:
                out[id(before)].extend(booking.turns)
                continue
            proposal = self._proposal(booking)
            lead_in = [proposal] if proposal is not None and proposal < booking.turns[0] else []
            out[id(booking)] = [*lead_in, *booking.turns]
            before = booking
        return out

    def _proposal(self, booking: Booking) -> int | None:
        """See :meth:`_new_proposal` (kept per booking)."""
        return self._kept("proposal", booking, lambda: self._new_proposal(booking))

    def _new_proposal(self, booking: Booking) -> int | None:
        """The agent's proposal the caller took: the booking's offer, else the agent's turn with values just
        before the caller's first words taking something ("at murmrr low will be presents march 9th at six pm" -
        "that will do, please reserve tickets"), even when it closed the booking before ("i found 10 plays, about
        time is at ... at four pm" - "perfect, i'd like to book some tickets")."""
        if booking.offer is not None:
            return booking.offer
        compactor = self.compactor
        turns = compactor._turns
        for i in booking.turns:
            if turns[i].role != "user" or not _TAKES.search(compactor._said.get(i) or turns[i].text.lower()):
                continue
            j = next((j for j in range(i - 1, max(-1, i - 4), -1) if compactor._recallable(j)), None)
            if j is not None and self._of_another_kind(booking, j):
                continue  # "okay thanks" after a balance read out between: no proposal of this booking taken
            if (
                j is not None
                and turns[j].role == "assistant"
                and compactor._digest(j).kind == "key"
                and j not in booking.confirms  # "how about x at y?": a proposal may ask
            ):
                return j
            break
        return self._named_again(booking)

    def _of_another_kind(self, booking: Booking, i: int) -> bool:
        """Turn ``i`` speaks of another kind of thing than ``booking``'s, and not of its own ("your savings account
        balance is ..." in a stretch about event tickets): another service's turn interleaved."""
        if booking.kind is None:
            return False
        kinds = self._kinds.get(i)
        if kinds is None:
            kinds = self._kinds[i] = frozenset(episode_kinds_in(self._text(i)))
        return bool(kinds) and booking.kind not in kinds

    def _named_again(self, booking: Booking) -> int | None:
        """The agent's turn that put forward what the agent names again later in ``booking`` ("tell me your thoughts
        on drunk me by mitchell tenpenny ..." - "play drunk me on the kitchen speaker"; "the event is gloryhammer
        taking place at 1720 tm ..." - "please confirm ... the event is gloryhammer for three people"): the proposal
        taken when no take of it was heard. The latest turn naming an earlier one again counts (the confirmation,
        the report: not a listing naming the one before it); of the turns it names again, the one sharing the most words
        naming the thing (not of booking talk, no number, not the caller's own answer in between: "put it on my
        kitchen speaker"), then the latest."""
        compactor = self.compactor
        turns = compactor._turns
        agents = [
            j
            for j in booking.turns
            if turns[j].role == "assistant" and compactor._recallable(j) and not self._of_another_kind(booking, j)
        ]
        talk = booking_talk()
        proposers = set(agents)
        for r in reversed(agents):  # the latest naming again: the confirmation, the report
            later = {t for t in compactor._digest(r).terms if t not in talk and not any(c.isdigit() for c in t)}
            best: tuple[int, int] | None = None
            callers: set[str] = set()  # what the caller said between the turn looked at and ``r``
            for j in range(r - 1, agents[0] - 1, -1):
                if turns[j].role == "user":
                    callers |= compactor._digest(j).terms
                    continue
                if j not in proposers:
                    continue
                shared = len((compactor._digest(j).terms & later) - callers)
                if shared and (best is None or (shared, j) > best):
                    best = (shared, j)
            if best is not None:
                return best[1]
        return None

    def _taken_terms(self, booking: Booking) -> frozenset[str]:
        """See :meth:`_new_taken_terms` (kept per booking)."""
        return self._kept("taken", booking, lambda: self._new_taken_terms(booking))

    def _new_taken_terms(self, booking: Booking) -> frozenset[str]:
        """The words that name what ``booking`` took (a title, a venue, a song): said by the caller and in the
        agent's proposal or confirmations, and in no other booking's confirmations (not "play", "subtitles")."""
        agent: set[str] = set()
        caller: set[str] = set()
        for i in booking.turns:
            if not self.compactor._recallable(i):
                continue
            if self.compactor._turns[i].role == "user":
                caller |= self.compactor._digest(i).terms
            elif i == booking.offer or self._checks(booking, i):
                agent |= self.compactor._digest(i).terms
        common = agent & caller
        if booking.request is not None:  # what the caller asked for at first (a city, a day) is no title taken
            common -= self.compactor._digest(booking.request).terms
        if not common:
            return frozenset()
        seen: dict[str, int] = {}  # term -> the other bookings whose confirmations say it
        others = 0
        for other in self.compactor._bookings:
            checks = [i for i in other.turns if self._checks(other, i)] if other.kind == booking.kind else []
            if other is not booking and checks:
                others += 1
                for term in common.intersection(set().union(*(self.compactor._digest(i).terms for i in checks))):
                    seen[term] = seen.get(term, 0) + 1
        return frozenset(  # a title recurs, not in most
            t
            for t in common
            if seen.get(t, 0) < max(2, others / 2) and t not in booking_talk() and not any(c.isdigit() for c in t)
        )

    def _checks(self, booking: Booking, i: int) -> bool:
        """Turn ``i`` of ``booking`` is the agent's confirmation, its check of the details or its report."""
        if self.compactor._turns[i].role != "assistant":
            return False
        if i not in booking.confirms and "confirm" not in self.compactor._value_kinds.get(i, frozenset()):
            return False
        restates = self._restates.get(i)
        if (
            restates is None
        ):  # "should i play family with subtitles", "started playing the movie"; not "what kind of food?"
            text = self.compactor._turns[i].text
            restates = self._restates[i] = bool(_RESTATES.search(text.lower())) or not asks(text)
        return restates

    def _answer_to(self, i: int, *, asked: bool = False) -> int | None:
        """The other side's next turn with content after condensed turn ``i``, when ``i`` asks
        something (with or without a question mark; ``asked``: known to ask): its answer. None when
        ``i`` asks nothing."""
        if not asked and not asks(self.compactor._turns[i].text):
            return None
        role = self.compactor._turns[i].role
        for j in range(i + 1, min(i + 4, self.compactor._boundary)):
            if self.compactor._turns[j].role == role:
                if self.compactor._recallable(j):
                    return None  # the same side goes on: no answer yet
                continue
            if self.compactor._recallable(j):
                return j
        return None

    def _fullest(self, confirms: list[int]) -> int | None:
        """The confirmation that says the most (most values, then the latest): it restates what was booked."""
        if not confirms:
            return None
        return max(
            confirms,
            key=lambda i: (len(read_turn(self.compactor._turns[i].text, region=self.compactor.region).values), i),
        )

    def _query_digest(self, query: str) -> Digest:
        """What the caller's latest words hold: the digest of their turn if it was read already, else
        their kind and terms only (:func:`classify` with ``kind_only``; read in full between turns)."""
        for i in range(len(self.compactor._turns) - 1, max(-1, len(self.compactor._turns) - 4), -1):
            if self.compactor._turns[i].role == "user" and self.compactor._turns[i].text == query:
                digest = self.compactor._digests[i]
                if digest is not None:
                    return digest
                previous = self.compactor._turns[i - 1] if i > 0 else None
                return classify(
                    self.compactor._turns[i],
                    previous=previous,
                    plans=self.compactor.plans,
                    region=self.compactor.region,
                    kind_only=True,
                )
        turn = Turn("query", "user", query, self.compactor._turns[-1].at)
        return classify(turn, plans=self.compactor.plans, region=self.compactor.region, kind_only=True)

    def _says_more(self, i: int) -> bool:
        """Caller's turn ``i``, read as a repair or a stall, says more than that: "is there anything else, i also
        love drama movies by x" (a recogniser's transcript is one sentence): recallable for a question about it."""
        more = self._more.get(i)
        if more is None:
            turn = self.compactor._turns[i]
            more = (
                turn.role == "user"
                and self.compactor._digest(i).kind == "meta"
                and i not in self.compactor._asked_back
                and len(index_terms(META.sub(" ", turn.text))) >= _MORE_TERMS
            )
            self._more[i] = more
        return more

    def render(self, indices: list[int]) -> str:
        return "\n".join([RECALL_OPEN, RECALL_PREAMBLE, *(self._recall_line(i) for i in indices), RECALL_CLOSE])

    def _recall_line(self, i: int) -> str:
        line = self._recall_lines.get(i)
        if line is None:
            line = self._recall_lines[i] = self._new_recall_line(i)
        return line

    def _new_recall_line(self, i: int) -> str:
        turn = self.compactor._turns[i]
        who = speaker_name(turn)
        levels = [
            f"{v.text}: {v.normalised}"
            for v in values_in(turn.text)
            if v.kind == "price" and v.normalised not in v.text.lower()
        ]
        tags = f" [{'; '.join(dict.fromkeys(levels))}]" if levels else ""  # the price level a word names
        return f"- {self.compactor._clock(turn.at)} {who}: {quote(turn.text)}{tags}"

    def cost(self, i: int) -> int:
        """Tokens turn ``i`` takes as a line of the recall block (quoted, dated: more than the turn said)."""
        cost = self._recall_costs.get(i)
        if cost is None:
            cost = self._recall_costs[i] = self.compactor._count(self._recall_line(i)) + 1
        return cost


_VALUE_NOUNS: list[tuple[re.Pattern[str], tuple[str, ...]]] = [
    (re.compile(r"\btimes?\b|\bwhat hour\b"), ("time",)),
    (re.compile(r"\b(?:date|day)\b"), ("date", "day")),
    (re.compile(r"\b(?:how many|number of|party|seats|tickets|people|guests)\b"), ("count", "number")),
    (re.compile(r"\b(?:address|street|located|location)\b"), ("address",)),
    (re.compile(r"\bphone\b"), ("phone",)),
    (re.compile(r"\b(?:price|cost|how much|fare)\b"), ("amount", "price")),
    (re.compile(r"\b(?:reference|confirmation (?:number|code))\b"), ("reference",)),
    (re.compile(r"\b(?:name|called|venue|restaurant|artist|singer|band|song|album|movie|film|event|team|who|which)\b"),
     ("name",)),
]  # fmt: skip
"""Nouns of a question and the kinds of value that answer it (beside the vocabulary's ``asks``)."""


_PHRASE_WORD = r"(?!(?:was|is|were|are|again|what|which|that|this|one|it|for|on|of|to|and|or)\b)[a-z'-]+"
_BOOKING_PHRASE = re.compile(
    rf"\b(?:the|my|that|our|your)\s+(?:{_PHRASE_WORD}\s+){{0,3}}(?:i|we|you)\s+(?:\w+\s+)?"
    r"(?:booked|bought|played|put on|ordered|reserved|got|made|picked|chose|asked for)\b"
    r"|\b(?:the|my|that|our)\s+(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last|latest|"
    rf"previous|other|earlier|\d+(?:st|nd|rd|th))\s+(?:{_PHRASE_WORD}\s*){{1,3}}"
    rf"|\b(?:the|my|our|those|these)\s+(?:{_PHRASE_WORD}\s+){{0,2}}tickets?\b"  # "the concert tickets": bought
)
"""The words of a question that point at a booking ("the second event tickets", "the table I booked", "the
concert tickets"): left out when reading which kind of value is asked for."""
_CATEGORY = re.compile(r"\b(?:genre|cuisine|food|kind|type|sort)\b")
"""A question for the kind of thing the caller searched for (a genre, a cuisine): words a title may hold too."""
_RESTATES = re.compile(
    r"\b(?:(?:shall|should) i|confirm\w*|correct|right|(?:does|do|would|will) (?:that|this|it) work)\b"
)
"""An agent's question that checks details it restates ("should i play x with subtitles", "x at 7 pm, correct?")."""


_WH = re.compile(r"\b(?:who|what)(?:'s)?\s+(?:(?:is|was|are|were|the|kind|type|of)\s+){0,3}")
"""A caller asking, with or without a question mark ("you got it who directed it", "what is the genre"; "which" is
left out: "movies which are directed by x" says who directed them)."""


_WHERE = re.compile(
    r"\bwhere(?:'s)?\s+(?:(?:is|are|was|will|be|the|this|that|it|its|their|venue|event|show|concert|game|place|"
    r"restaurant|exactly)\s+){1,4}"
)
"""A caller asking where something is ("where is the venue located", "where's the event exactly"): what follows
says what they ask for."""


def _searching(text: str) -> bool:
    """The agent's turn asks the caller something or puts search results forward, and reads nothing back for the
    caller to confirm ("please confirm two tickets for the lumineers on friday")."""
    said = text.lower()
    return not _READS_BACK_FOR_CALLER.search(said) and bool(asks(text) or _PUTS_FORWARD.search(said))


def _asks_about(names: re.Pattern[str], text: str) -> bool:
    """``text`` asks what the attribute ``names`` reads is ("who directed it", "who's the director", "what genre
    is it"), not only names it ("what else is there, i like war movies")."""
    return any(names.match(text, m.end()) or names.match(text, m.start()) for m in _WH.finditer(text)) or any(
        names.match(text, m.end()) for m in _WHERE.finditer(text)
    )


def _says_attribute(words: re.Pattern[str], text: str, title: frozenset[str]) -> bool:
    """``text`` says the attribute ``words`` read, outside the title taken ("how is family": a title, no genre)."""
    if not title:
        return words.search(text) is not None
    for m in words.finditer(text):
        said = set(index_terms(m.group(0)))
        if not said or not said <= title:
            return True
    return False


def _first_said(scores: dict[int, float], turns: list[Turn]) -> dict[int, float]:
    """``scores`` with the same words said again (the agent repeating itself when asked to) scored on
    the turn that said them first: it is the one recalled."""
    first: dict[str, int] = {}
    for i in sorted(scores):
        first.setdefault(" ".join(turns[i].text.lower().split()), i)
    for i in list(scores):
        j = first[" ".join(turns[i].text.lower().split())]
        if j != i:
            scores[j] = max(scores[j], scores.pop(i))
    return scores


_NOT_A_KIND = (
    r"(?:a|an|the|some|any|other|more|these|those|this|that|of|to|for|and|or|good|great|nice|new|best|same|similar|"
    r"favorite|favourite|few|local|fast|junk|kind|type|sort|what|which|your|my|their|our|his|her|its|play|playing|"
    r"hear|find|like|love|enjoy|listen|want|get|grab|eat|serve|serves|cook|cooks|is|are|was|were|it|they|you|i|we|"
    r"different|many|much|several|also|just|really|um|uh)"
)
"""Words that say no kind in "<word> food", "<word> songs" ("some food", "the music", "play songs")."""
"""A house number said in words ("at one citizens bank way")."""
_NOT_AN_EVENT = (
    r"(?:a|an|the|some|any|other|more|it|them|this|that|these|those|what|which|if|whether|when|where|how|you|me|us|my|"
    r"your|their|event|events|show|shows|concert|concerts|game|games|match|matches|tickets?|date|dates|time|venue|"
    r"location|address|is|was|will|would|on|at|in|for|starts?|starting|takes?|taking|held|scheduled|happens?|and|or|"
    r"today|tomorrow|tonight|next|this|one|two|three|four|five|six|seven|eight|nine|ten|\d|good|great|really|lot|"
    rf"{'|'.join(MONTHS)}|{'|'.join(WEEKDAYS)}|um|uh|like|you know)"
)
"""Words that name no event after "to see", "tickets for", "the event" ("tickets for next monday")."""
_GENRE_WORDS = re.compile(
    r"\b(?:comedy|comedies|comic|funny|drama|dramas|horror|scary|ghost|supernatural|thriller|suspense|action|adventure|"
    r"romance|romantic|rom-com|documentary|documentaries|non-fiction|biographical|biography|life history|fantasy|"
    r"animated|animation|cartoon|sci-fi|science fiction|mystery|detective|crime|war|western|musical|family|kids|"
    r"pop|rock|jazz|country|hip hop|rap|metal|blues|classical|electronic|reggae|folk|soul|funk|indie|punk|"
    r"sports?|games?|concerts?|theat(?:er|re)|plays?)\b"
)
"""Words that name a genre of film, music or event, as people ask for one ("some scary movies", "a comedy")."""
_ATTRIBUTES: list[tuple[re.Pattern[str], re.Pattern[str], float]] = [
    (re.compile(r"\b(?:cuisine|food)\b"), re.compile(r"\b(?:cuisine|food|kind of (?:food|restaurant))\b"), 2.0),
    (re.compile(r"\bprice|cost|expensive|cheap\b"), re.compile(r"\b(?:price|prices|priced|expensive|cheap|budget)\b"), 2.0),
    (re.compile(r"\bgenre|kind of (?:music|event)\b"), re.compile(r"\b(?:genre|kind of|type of|music|songs)\b"), 2.0),
    (re.compile(r"\bgenre|kind of (?:movie|film|music)\b"), _GENRE_WORDS, 2.0),  # "i like suspense movies", "a drama by"
    # who made it: "movies directed by jane campion", "anything by her", "she directs the ones i like"
    (re.compile(r"\bdirector|directed|who (?:made|directed)\b"), re.compile(r"\bdirect(?:ed|or|ors|s|ing)\b|\bby\b"), 2.0),
    (re.compile(r"\bcity|town|where\b"), re.compile(r"\b(?:city|town|where|area|located|in which)\b"), 2.0),
    (re.compile(r"\bdevice|speaker|played on\b"), re.compile(r"\b(?:device|speaker|tv|play it on|played on)\b"), 2.0),
    (re.compile(r"\baddress|located|location\b"), re.compile(r"\b(?:address|located|location)\b"), 2.0),
    (
        re.compile(r"\baddress|located|location\b"),
        re.compile(
            rf"\b(?:\d+|{HOUSE_WORDS})\s+(?:[a-z0-9']+\s+){{0,3}}(?:street|st|avenue|ave|road|rd|boulevard|blvd|drive|"
            r"dr|way|lane|ln|"
            r"place|circle|court|parkway|square|plaza|highway|alley|terrace)\b"
        ),
        5.0,  # a street address said, even in lower case: what the question asks for
    ),
    (
        re.compile(r"\b(?:city|town)\b"),
        re.compile(
            r"\b(?:in|at|near|around)\s+(?!(?:the|a|an|my|your|mind|mood|person|total|all|advance|case|time|there|here|"
            r"it|that|this|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|half|about|which|what|order)\b)"
            r"[a-z][\w'.-]*"
        ),
        4.0,  # a place said in lower case: "in san francisco", "events in portland", "at nyc"
    ),
    (
        re.compile(r"\bvenue\b"),
        re.compile(
            r"\b(?:venue|playing at|held at|takes place|performing at|stadium|theater|theatre|center|centre|arena|"
            r"hall|amphitheater|amphitheatre|field|ballpark|club|room|garden|pavilion|auditorium|vineyards?|ballroom|"
            r"playhouse|opera house|coliseum|colosseum|forum|dome|bowl|lounge|music hall|"
            r"(?:will|is|are) (?:be )?host(?:ing|s)?)\b"  # "the teragram ballroom will be hosting the event"
            # a place named after "at the" in an event's turn: "there's one today tash sultana at the van buren"
            r"|\bat the (?!(?:same|moment|time|end|start|beginning|event|show|concert|game|match|venue|door|box|"
            r"kitchen|bedroom|tv|speaker|restaurant|place|city|price|latest|earliest|most|least)\b)[a-z]{3,}"
        ),
        3.0,
    ),
    (
        re.compile(r"\b(?:cuisine|food)\b"),
        re.compile(
            rf"\b(?:serves?|serving|cooks?|cooking)\s+(?:(?!{_NOT_A_KIND}\b)[a-z-]+\s+)?(?!{_NOT_A_KIND}\b)[a-z-]+\b"
            rf"|\b(?!{_NOT_A_KIND}\b)[a-z-]+\s+(?:food|cuisine|kind of food|type of food)\b"
            rf"|\b(?:an?|the)\s+(?!{_NOT_A_KIND}\b)[a-z-]+\s+(?:restaurant|place)\b"
        ),
        5.0,  # a cuisine said with what it describes ("some persian food", "they serve japanese food")
    ),
    (
        re.compile(r"\b(?:cuisine|food)\b"),
        re.compile(r"\b(?:" + "|".join(re.escape(c) for c in CUISINES) + r")\b"),
        5.0,  # a cuisine or a dish said alone ("mediterranean in redwood city", "i would love some noodles")
    ),
    (
        re.compile(r"\bgenre|kind of (?:music|song|movie|film)\b"),
        re.compile(
            rf"\b(?!{_NOT_A_KIND}\b)[a-z-]+\s+(?:songs|music|genre|tunes|movies|films)\b"
            rf"|\b(?:an?)\s+(?!{_NOT_A_KIND}\b)[a-z-]+\s+(?:song|track|movie|film)\b"
        ),
        5.0,  # a genre said with what it describes ("pop songs", "it's a reggae song")
    ),
    (
        re.compile(r"\bgenre|kind of (?:music|song|movie|film)\b"),
        re.compile(r"(?<![\w-])(?:" + "|".join(re.escape(g) for g in GENRES) + r")(?![\w-])"),
        5.0,  # a genre said alone ("oh that is reggae", "it's classified as country")
    ),
    (
        re.compile(r"\bvenue\b"),
        re.compile(
            r"\b(?:playing|performing|held|hosted|hosting|happening|appearing|takes place|taking place|plays|is)\b"
            r"(?:\s+[\w']+){0,4}?\s+at\s+(?:the\s+)?(?!(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|"
            r"twelve|noon|midnight|night|home|least|half|quarter)\b)[a-z][\w'&-]*"
        ),
        5.0,  # where an event is: "performing next friday at the appel room", "it is at murmrr"
    ),
    (
        re.compile(r"\b(?:address|located|location)\b"),
        re.compile(r"\b(?:address(?: is)?|located (?:at|on)|held at|situated at|is at)\s+\d{1,5}[a-z]?\s+[a-z]"),
        5.0,  # a street number after what introduces an address, whatever the street is called ("is at 141 prospect park west")
    ),
    (
        re.compile(r"(?<!kind of )(?<!type of )\b(?:event|show|concert|game|match|gig)\b"),
        re.compile(
            r"\b[a-z][\w'.-]*\s+(?:vs\.?|versus)\s+[a-z]"  # a game: "the cardinal vs ducks"
            rf"|\b(?:see|watch|attend|catch)(?:ing)?\s+(?:the\s+)?(?!{_NOT_AN_EVENT}\b)[a-z]"  # "to see the drums"
            rf"|\bheard\s+(?:[\w']+\s+){{0,3}}?(?:about|of|on|that)\s+(?!{_NOT_AN_EVENT}\b)[a-z]"  # "heard that basta is good"
            rf"|\bthe (?:event|show|concert|game|match|gig)(?: is| name is| titled| called)?\s+(?!{_NOT_AN_EVENT}\b)[a-z]"
            rf"|\btickets?\s+(?:for|to)\s+(?:see\s+)?(?:the\s+)?(?!{_NOT_AN_EVENT}\b)[a-z]"  # "tickets for starset"
            r"|\b[a-z][\w'-]*\s+(?:is|are)\s+(?:(?:also|currently|now)\s+)?(?:playing|performing)\b"  # "laura osnes is performing"
        ),
        5.0,  # what the event is called, said in lower case: how people name a show or a game
    ),
    (
        re.compile(r"\b(?:director|directed|directs)\b"),
        re.compile(
            r"\bdirected\s+(?:[\w']+\s+){0,2}?by\s+[a-z]|\bdirector\s+(?:is|was|being)\s+[a-z]"
            r"|\b(?!(?:who|which|what|has|had|was|is)\b)[a-z][\w'-]*\s+directed\s+(?:it|this|that|the (?:movie|film))\b"
            # whose films they are: "the films of orson welles", "tom mccarthy's movies"
            r"|\b(?:films|movies|works) of\s+(?!(?:the|a|an|this|that|these|those|my|your|his|her|their|any|some|all)\b)"
            r"(?!" + _GENRE_WORDS.pattern + r")[a-z]"
            r"|\b(?!(?:it|that|there|what|let|he|she|who|today|tonight|everyone|everybody)'s\b)[a-z]+'s (?:movies|films)\b"
        ),
        5.0,  # who directed a film, however it is put: "directed by ...", "the director is ...", "... directed it"
    ),
]  # fmt: skip
"""An attribute a question asks for, the words of the turns that settle it (the agent's question
about it, the caller's answer) and how much they count, for values no reader recognises (a cuisine,
a genre, a city, a street address or a venue said in lower case)."""
_OFFER_TELLS = {
    "music": re.compile(r"\b(?:artist|singer|band|album|who)\b"),
    "movie": re.compile(r"\b(?:director|directed|who)\b"),
    "event": re.compile(r"\b(?:venue|where)\b"),  # "how about x at the y on friday": where it is
}
"""What an agent's proposal says beside the thing itself ("X by courier from the present tense album")."""
_TAKES = re.compile(
    r"^\W*(?:(?:ok|okay|great|perfect|awesome|cool|fine|nice|good|sounds \w+|that (?:will|would) do|that works|"
    r"i like (?:that|it|the sound of that)|let's do (?:that|it)|i(?:'ll| will) take (?:it|that|this))\b"
    r"|.*\b(?:book|reserve|buy|purchase|get)\b(?: (?:me|us))? (?:some |a |the |\d+ |one |two |three |four )?"
    r"(?:tickets?|seats?|it|that|them|a table|one)\b)"
)
"""A caller taking what the agent just proposed ("that will do, please reserve tickets", "sounds awesome, book
me 1 ticket"), or asking to book it."""
_RESUMING = re.compile(
    r"\b(?:(?:go|get|come|going|getting|went) (?:uh |um )?back to|return(?:ing)? to|continue|resume|carry on|"
    r"(?:we|you) (?:searched|found|looked|talked|picked|chose|discussed|mentioned)|(?:from )?(?:before|earlier)\b"
    r"|(?:book|buy|get|reserve|purchase)\b[^.?!]{0,40}\bnow\b"
    r"|(?:book|buy|get|reserve|purchase) (?:me )?(?:the|those|these) (?:\w+ )?tickets?\W*(?:$|now|please|for (?:the|that) "
    r"(?:event|show|concert|game)\b))"
)
"""A caller coming back to a booking left for something else ("can we go back to booking tickets", "i want to book
the event tickets now", "the event we searched for earlier")."""
_NEW_REQUEST = re.compile(
    r"\b(?:find|search|searching|look(?:ing)? (?:for|to|at|up|into|around)|pull up|show me|something|anything|any (?:events?|concerts?|songs?)|"
    r"what (?:events?|is there|else)|some (?:events?|dates|options)|dates? for|other|another|different|new|"
    r"interesting|fun|happening|going on|excit\w*|suggest\w*|recommend\w*|options|some (?!tickets?\b)\w+)\b"
)
"""A caller asking for something new (a search, other options): no booking taken up again."""
_DOES_IT = re.compile(rf"\b(?:{BOOKING_VERBS}|play|cast|put (?:\w+ )?on|start|watch|listen|hear|tickets?|seats?)\b")
"""A caller asking for the thing itself (to book it, to play it, to watch or listen to it), not only to find one."""
_WHEN_IT_STARTS = re.compile(
    r"\b(?:what time|when) (?:will|does|do|is|would) (?:it|they|the \w+) (?:start|begin)\w*|\b(?:start|begin\w*) time\b"
)
"""The caller asking when the thing starts ("what time will it start"): a search's question, not a start asked for."""
_PUTS_OFF = re.compile(
    r"\b(?:hold off|not (?:right now|now|yet|today|at the moment)|maybe later|(?:don'?t|do not|no) (?:need|want))\b"
    r"[^.?!,]*"
)
"""The caller putting the thing off ("no hold off on tickets", "i don't need tickets yet"): no ask for it."""
_PUTS_FORWARD = re.compile(
    rf"\b(?:{PUTTING_FORWARD}|there's|i've found)\b"
    r"|^(?:\w+ )?i (?:have|'ve)(?! (?:been|booked|bought|reserved|purchased|made|placed|added|confirmed|got|successfully))\b"
)
"""The agent putting search results forward ("i found 9 events", "how about mets vs rockies")."""
_READS_BACK_FOR_CALLER = re.compile(
    r"\bconfirm\w*\b|\b(?:is|does) (?:that|this|it) (?:right|correct)\b|\bcorrect\W*$|\bright\W*$"
)
"""The agent reading details back for the caller to confirm ("please confirm ...", "... is that right")."""
_BOOKS_IT = re.compile(rf"\b(?:{BOOKING_VERBS}|get)\b")
"""A caller asking to book (the words, not what)."""
_ASKING = re.compile(r"\b(?:what|which|when|where|who|how|remind|double check|again|was it)\b")


@cache
def _ordinals() -> tuple[re.Pattern[str], dict[str, int]]:
    words = vocabulary().ordinals
    return re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b"), dict(words)


def _ordinal(said: str) -> int | None:
    """ "the second table", "the 3rd song": the n of the booking a question points at."""
    pattern, values = _ordinals()
    match = pattern.search(said)
    return int(values[match.group(1)]) if match else None


def _query_values(query: str, normalized: str) -> list[str]:
    values = [r.value.lower() for r in references(query)]
    for run in DIGITS.findall(normalized):
        digits = run.strip(".,-/").lower()
        if len(re.sub(r"\D", "", digits)) >= 2:
            values.append(digits)
            values.append(re.sub(r"\D", "", digits))
    values.extend(amount[1:] for amount in amounts_in(normalized))
    return list(dict.fromkeys(values))

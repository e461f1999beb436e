"""A call's bookings: the stretches of condensed turns about one thing (a table booked, tickets bought, a song
played), as :class:`~memory.compaction.compactor.Compactor` segments them and in-call recall counts them
("the second table I booked")."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(slots=True)
class Booking:
    """One stretch of the condensed turns about one thing (a table booked, tickets bought, a song
    played): it starts where the talk turns to another kind of thing, or after the agent reported
    the last one done."""

    kind: str | None
    turns: list[int]
    confirms: list[int]  # the agent's confirmations and reports in it
    done: bool = False
    booked: bool = False  # the agent reported it done (not only closed): a booking, not an attempt
    left: bool = False  # the caller took leave of it ("that's all, thanks"): over, booked or not
    affirmed: bool = False  # the caller said yes to the agent's check of its details, and no failure was reported
    # the caller's turn that took leave of it and asked for another thing in the same words ("thanks for the help, now
    # i want to book the tickets for the match"), when that was the first leave taken of it
    left_by: int | None = None
    closed: bool = False  # a closing was said (goodbyes, "anything else?"): whatever is asked next is new
    settled: bool = False  # the caller said yes to the agent reading its details back ("please confirm: ...")
    failed: bool = False  # the agent reported it could not do it ("sorry, i was unable to book that"), none done since
    # the agent reported it could not book it ("sorry, i was unable to book that"; not a search that found nothing), none
    # done since
    refused: bool = False
    request: int | None = None  # the caller's first words with content: what they asked for
    offer: int | None = None  # the agent's latest proposal before the first confirmation
    named: dict[str, float] = field(default_factory=dict)  # kind -> its turns' votes (the caller's weigh most)
    own: set[str] = field(default_factory=set)  # kinds the caller named in their own words (not the agent's echoed)
    # kinds named other than by the agent beside one the caller named ("would you like to play the movie" names music
    # beside the movie asked for: no music talked of)
    apart: set[str] = field(default_factory=set)
    agents: frozenset[str] = frozenset()  # the kinds the agent's latest turn in it named, when it offered something

    def names_only_new(self, kinds: list[str]) -> bool:
        """``kinds`` (a turn's) name something, and nothing this booking talked of: none of the kinds the caller
        named in it, nor of those named apart."""
        return bool(kinds) and not set(kinds) & (self.own | self.apart)


def counted_attempts(
    pool: list[Booking],
    bookings: list[Booking] | None = None,
    asides: frozenset[int] = frozenset(),
    searched: Callable[[Booking], bool] | None = None,
) -> list[list[Booking]]:
    """The bookings of one kind as the caller counts them ("the second table I booked"): an attempt
    that was never reported done (the agent could not book it, and the caller asked again) goes with the
    next one of the kind, the one that was booked first; one the caller took leave of, or whose details
    the caller confirmed with no failure reported after ("one ticket to x, right?" - "yes"; "please confirm: play
    the innocent with subtitles" - "yes please"), or confirmed again after the failure ("sorry, that time is
    taken" ... "please confirm 1 pm" - "yes"), counts on its own;
    one the caller left after a failure was reported is an attempt still. A stretch in which the caller named no
    kind of their own and nothing was reported done ("thank you for your help, that'll be all" after the
    tickets), unless the caller booked another kind of thing in between (a cab, then the agent's "10 songs, night
    shift by jon pardi": another song), or one of ``asides`` (by ``id``: the caller searched for nothing new in it) in which nothing was
    confirmed, affirmed or reported done, right after one of its kind ("what is my balance" after a transfer), is what
    was said after the one before it, not another booking; so is a stretch the caller said nothing in (the agent's
    "enjoy the show" after a movie started). A
    thing the caller never got (a refusal reported and nothing done or affirmed after, in every part of it: "sorry,
    the table could not be booked", then a song) is no booking of theirs. With ``bookings`` (all of the call's,
    in order), an attempt the caller left for another kind of thing (tickets, then a song, then tickets) counts on
    its own: a caller tries again at once, not after something else (one taken up again after it is joined by
    :meth:`~memory.compaction.turn_recall.TurnRecall._counted`). With ``searched`` (what the caller asked for in a
    booking), a search that booked nothing (:func:`searched_only`) is no booking of the caller's count when others of
    the kind were booked: it goes with the one before it (or the first one)."""
    at = {id(b): n for n, b in enumerate(bookings or ())}
    searches = (
        {id(b) for b in pool if searched_only(b) and searched(b)}
        if searched is not None and any(b.booked for b in pool)
        else set()
    )
    out: list[list[Booking]] = []
    for booking in pool:
        if id(booking) in searches:
            continue
        aside = (
            id(booking) in asides and idle(booking) and between(out[-1][-1], booking, bookings, at) == []
            if out
            else False
        )
        if out and (
            (not booking.booked and not booking.own and not _moved_on(out[-1][-1], booking, bookings, at))
            or aside
            or (booking.request is None and not booking.own)
        ):
            out[-1].append(booking)
        elif (
            out
            and not _moved_on(out[-1][-1], booking, bookings, at)
            and not any(
                b.booked or ((b.left or b.affirmed or b.settled) and (not b.failed or b.affirmed)) for b in out[-1]
            )
        ):
            out[-1].insert(0 if booking.booked else len(out[-1]), booking)
        else:
            out.append([booking])
    got = [group for group in out if not all(b.refused and not b.booked and not b.affirmed for b in group)] or out
    if searches and got:
        order = {id(b): n for n, b in enumerate(pool)}
        for booking in (b for b in pool if id(b) in searches):
            before = [g for g in got if min(order[id(b)] for b in g) < order[id(booking)]]
            (before[-1] if before else got[0]).append(booking)
    return got


def idle(booking: Booking) -> bool:
    """Nothing was confirmed, affirmed, settled or reported done in ``booking``: no booking of its own."""
    return not (booking.booked or booking.confirms or booking.affirmed or booking.settled)


def searched_only(booking: Booking) -> bool:
    """The caller took leave of ``booking`` with nothing reported done, no failure and no details confirmed: a search
    ("i'm looking for some games in seattle") that booked nothing, when the agent read back or reported nothing in it
    either (what counted as its confirmations only asked or put results forward: the ``searched`` of
    :func:`counted_attempts` judges their words)."""
    return booking.left and not booking.failed and not (booking.booked or booking.affirmed or booking.settled)


def between(
    before: Booking, after: Booking, bookings: list[Booking] | None, at: dict[int, int]
) -> list[Booking] | None:
    """The bookings of ``bookings`` (the call's, in order; ``at``: their positions by ``id``) after ``before`` and
    before ``after``, or None when either is not among them."""
    if not bookings or id(before) not in at or id(after) not in at:
        return None
    return bookings[at[id(before)] + 1 : at[id(after)]]


def _moved_on(before: Booking, after: Booking, bookings: list[Booking] | None, at: dict[int, int]) -> bool:
    """Between ``before`` and ``after`` (of one kind), the caller booked another kind of thing."""
    stretch = between(before, after, bookings, at)
    return stretch is not None and any(
        b.kind is not None and b.kind != after.kind and b.own and b.booked for b in stretch
    )


def takes_up(before: Booking, after: Booking, bookings: list[Booking] | None, at: dict[int, int]) -> bool:
    """``after`` takes up ``before`` (of one kind) again: the caller turned from it to another kind of thing with it
    under way (nothing reported done, no failure, no leave taken) and took leave of nothing in between but in the
    words that turn back to it ("thanks for the help, now i want to book the tickets for the match": the leave is of
    the detour, taken as the caller goes back)."""
    if before.booked or before.left or before.failed:
        return False
    stretch = between(before, after, bookings, at)
    return stretch is not None and not any(b.left and b.left_by not in after.turns[:1] for b in stretch)

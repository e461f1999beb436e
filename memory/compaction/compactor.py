"""The compaction state of one call: condensing older turns into notes and recalling exact turns."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

import numpy as np

from ..recall.query import warm_up
from ..recall.ranking import refresh as refresh_recall
from ..recall.working_set import WorkingSet
from ..text.kinds import is_not_done, outcome_of, plain, vocabulary, without_fillers
from ..text.quote import quote
from ..text.reading import read_turn
from ..text.spoken import normalize_spoken_digits
from ..text.terms import index_terms
from ..text.values import LOWER_VENUE, ROOMS, VENUE_HEAD, Value, values_in
from ..text.vocab import NUMBER_WORDS
from ..values import MemoryRow
from .bookings import Booking
from .classifier import Digest, classify, value_tag
from .patterns import ASKS as _ASKS_CLAUSE
from .patterns import (
    BOOKING_VERBS,
    GENRES,
    HOUSE_WORDS,
    ITEM_NOUNS,
    MONTH_WORDS,
    NUMBER_TOKENS,
    PUTTING_FORWARD,
    RETURNS_TO,
    asks,
    booking_talk,
    similar_terms,
)
from .policy import (
    DEFAULT_ENCODING,
    MESSAGE_OVERHEAD_TOKENS,
    NOTES_CLOSE,
    NOTES_OPEN,
    NOTES_PREAMBLE,
    RECALL_CLOSE,
    RECALL_OPEN,
    RECALL_PREAMBLE,
    CompactionPolicy,
    Plan,
    Turn,
    count_tokens,
    message_tokens,
    speaker_name,
)
from .turn_recall import TurnRecall


@dataclass(slots=True)
class _Line:
    index: int  # the turn
    key: bool  # durable: never dropped, shortened to its values only to stay within the budget
    full: str  # the line as rendered normally
    short: str  # the fallback when the budget is tight ("" = drop)
    full_tokens: int
    short_tokens: int
    tiny: str = ""  # the values alone: the last resort of a durable line
    tiny_tokens: int = 0
    in_header: bool = False  # every value is in the "Caller:" line already: the first to be shortened
    topic: bool = False  # the caller's first substantive words: the last extractive summary line to go
    model: bool = False  # a model's summary of the condensed turns: dropped only to stay within the budget
    values: tuple[Value, ...] = ()  # the values of a durable line, as spans said in turn ``index``
    tags: tuple[
        tuple[str, str], ...
    ] = ()  # (kind, tag): the values as tagged (spans said, or their certain normal form)
    spans: tuple[tuple[str, str], ...] = ()  # (kind, span): the values as said, for its booking's values line


_AGENT_VOTE = 0.4  # an agent's turn naming a kind of thing, against 1 for the caller's
_INHERITED_VOTE = 0.5  # a booking whose request names no kind starts as more of the one before
TAIL_FLOOR = 4  # the newest turns stay verbatim, whatever the budget
REWRITE_TO = 0.7  # a rewrite brings the notes down to this share of their room, so appends fit again
KEEP_FULL = 2  # durable lines that keep their full words while older ones are tiered
MERGE_LINES = 12  # the most durable lines one values line stands for
DROP_TO = 0.75  # when lines must leave the notes, enough go for several steps to append again
TIER_AT = 0.85  # durable lines past this share of the budget are tiered (values lines keep what is dropped)
TIER_TO = 0.6  # and then down to this share of it, so that appends fit again
NEXT_TURN_ALLOWANCE = 40  # between turns, room kept for the caller's next words (compact before the reply)


class Compactor:
    """The compaction state of one call. Feed it turns in order with :meth:`add` (or :meth:`sync`),
    let it :meth:`warm` between turns, and ask for a :meth:`plan` before each reply.

    ``plans`` and ``region`` are the tenant's (plan names are facts; phone numbers said without
    a country code). ``started_at`` anchors the mm:ss times of the notes (default: the first turn).
    Not thread-safe: use it from one thread (the event loop).
    """

    def __init__(
        self,
        policy: CompactionPolicy | None = None,
        *,
        plans: Iterable[str] = (),
        region: str = "US",
        started_at: datetime | None = None,
        classifier: Callable[..., Digest] = classify,
        encoding: str = DEFAULT_ENCODING,
    ) -> None:
        self.policy = policy or CompactionPolicy()
        self.encoding = encoding  # the LLM's tokenizer: every count is exact in it
        self._classify = classifier  # what a turn holds (see ``classify``); a test may count the calls
        self.level = self.policy.settings
        self.plans = tuple(plans)
        self.region = region
        self.started_at = _utc(started_at) if started_at else None
        self.compactions = 0  # how many times the boundary moved
        self.kinds: dict[str, int] = {}  # condensed turns by kind
        self._turns: list[Turn] = []
        self._tokens: list[int] = []
        self._digests: list[Digest | None] = []
        self._index: dict[str, int] = {}
        self._boundary = 0  # turns[:boundary] are condensed
        self._warm_from = 0  # turns before this one are classified (unless edited since)
        self._tail_tokens = 0
        self._raw_tokens = 0
        self._lines: list[_Line] = []
        self._identity: dict[str, str] = {}  # label -> when first said
        self._noted_tags: set[tuple[int, str]] = set()  # (booking, tag): values noted in each booking
        self._noted_quotes: set[tuple[int, str]] = set()
        self._noted_terms: list[frozenset[str]] = []
        self._notes = ""
        self._notes_tokens = 0
        self._shown: list[tuple[_Line, str, int]] = []  # the notes' body as rendered: (line, text, tokens)
        self._shown_upto = 0  # self._lines[:this] have been placed in the notes (shown or left out)
        self._header: list[str] = []
        self._over_budget = False
        self.rewrites = 0  # how many times the notes were rewritten rather than appended to
        self._asked: dict[int, int] = {}  # turn index -> how often the caller's questions recalled it
        self._header_tokens: int | None = None
        self._aside = False  # the caller's latest condensed words asked back about something earlier
        self._asked_back: set[int] = set()  # condensed turns in which the caller asked back
        # booking -> the turn that said the first of its names said before its first durable line, and those names
        self._unlent: dict[int, tuple[int, list[tuple[str, str]]]] = {}
        self._answers_back: set[int] = set()  # the agent's answers to them: values said before, the first to go
        self._booking_of: dict[int, int] = {}  # condensed turn -> its booking's position in ``_bookings``
        self._bookings: list[Booking] = []  # the condensed turns, by what they were about
        self._value_kinds: dict[int, frozenset[str]] = {}  # condensed turn -> the kinds of value it says
        self._said: dict[int, str] = {}  # condensed turn -> its words in lower case, fillers and stutters out
        self._rows = WorkingSet()
        self._unindexed = False  # turns condensed since recall's index last took them in (:meth:`index_recall`)
        self._row_turn: list[int] = []  # row position in the working set -> turn index
        self._by_value: dict[str, list[int]] = {}
        self._by_kind: dict[str, list[int]] = {}
        self._vectors: dict[str, np.ndarray] = {}
        self._summaries: list[tuple[int, int, str]] = []  # (first, last, text): model summaries of condensed spans
        self._condensed_ids: frozenset[str] = frozenset()
        self._plan_cache: Plan | None = None
        self._turn_recall = TurnRecall(self)  # the condensed turns a question asks about, quoted beside the notes
        # durable line (by id) -> the form a rewrite gave it: (text, tokens, the tags of a booking's values line)
        self._sticky: dict[int, tuple[str, int, tuple[tuple[str, str], ...]]] = {}

    # -- feeding ---------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._turns)

    @property
    def boundary(self) -> int:
        """How many of the turns are condensed (the oldest ones)."""
        return self._boundary

    @property
    def turns(self) -> list[Turn]:
        return list(self._turns)

    def add(self, turn: Turn) -> None:
        """Add a turn (or update one added before: an interrupted reply is cut to what was said)."""
        if turn.role not in ("user", "assistant", "tool"):
            raise ValueError(f"role must be user, assistant or tool, not {turn.role!r}")
        turn = Turn(turn.id, turn.role, turn.text or "", _utc(turn.at), turn.name)
        known = self._index.get(turn.id)
        if known is not None and self._turns[known].text == turn.text:
            return  # known as it is
        tokens = message_tokens(turn.text, self.encoding)
        if known is None:
            self._index[turn.id] = len(self._turns)
            self._turns.append(turn)
            self._tokens.append(tokens)
            self._digests.append(None)
            self._tail_tokens += tokens
            self._raw_tokens += tokens
            if self.started_at is None:
                self.started_at = turn.at
        else:
            self._raw_tokens += tokens - self._tokens[known]
            if known >= self._boundary:
                self._tail_tokens += tokens - self._tokens[known]
            self._turns[known] = turn
            self._turn_recall.forget(known)
            self._tokens[known] = tokens
            self._digests[known] = None
            self._warm_from = min(self._warm_from, known)
            if known < self._boundary:
                self._rebuild()
        self._plan_cache = None

    def sync(self, turns: Iterable[Turn]) -> None:
        """Add every turn not yet known (and updates of known ones), in order."""
        for turn in turns:
            self.add(turn)

    def set_vector(self, turn_id: str, vector: np.ndarray) -> None:
        """A turn's embedding (as the memory layer computed it), used by recall with a query vector."""
        self._vectors[turn_id] = vector
        idx = self._index.get(turn_id)
        if idx is not None and idx < self._boundary:
            for pos, turn_idx in enumerate(self._row_turn):
                if turn_idx == idx:
                    self._rows.rows[pos].embedding = vector
            self._rows.mark_vectors_changed()

    def warm(self) -> None:
        """Between turns: classify the turns not classified yet and compact if the budget is passed,
        so that the next :meth:`plan` has nothing heavy left to do."""
        for i in range(self._warm_from, len(self._turns)):
            if self._digests[i] is None:
                self._digest(i)
                self._read_ahead(i)
        self._warm_from = len(self._turns)
        self._maybe_compact(NEXT_TURN_ALLOWANCE)
        self.index_recall()

    def index_recall(self) -> None:
        """Take the turns condensed since into recall's index (the words ranking reads, what the check for later
        statements reads of each turn): between turns, or on a reply only when its question ranks the condensed
        turns, not in a step the caller's words set off that no question needs."""
        if self._unindexed:
            self._unindexed = False
            refresh_recall(self._rows)

    def _read_ahead(self, i: int) -> None:
        """What condensing turn ``i`` reads of it alone (its reading's tags and values, its cost as a recalled
        line), read now, between turns: a reply whose caller's words pass the budget condenses turns at once,
        and finds them read."""
        reading = read_turn(self._turns[i].text, region=self.region)
        _ = reading.tags, reading.values
        self._turn_recall.cost(i)
        digest = self._digest(i)
        if digest.kind in ("key", "content"):  # the names its lines will read, sentence by sentence (kept)
            for sentence in (" ".join(digest.key), *digest.content):
                _spans_read(sentence)

    # -- planning --------------------------------------------------------------------------------

    def plan(self, query: str | None = None, *, query_vector: np.ndarray | None = None) -> Plan:
        """The plan for the next request; ``query`` (the caller's latest words) may recall exact
        condensed turns."""
        self._maybe_compact()
        if self._boundary == 0:
            return Plan(keep_ids=tuple(t.id for t in self._turns), tokens=self._raw_tokens, raw_tokens=self._raw_tokens)
        recalled = self._turn_recall.recall(query, query_vector) if query and query.strip() else []
        base = self._plan_cache
        if base is None:
            base = self._plan_cache = Plan(
                notes=self._notes,
                condensed_ids=self._condensed_ids,
                keep_ids=tuple(t.id for t in self._turns[self._boundary :]),
                tokens=self._notes_tokens + self._tail_tokens,
                raw_tokens=self._raw_tokens,
                over_budget=self._over_budget,
            )
        if not recalled:
            return base
        recall = self._turn_recall.render(recalled)
        tokens = base.tokens + message_tokens(recall, self.encoding)
        return Plan(
            notes=base.notes,
            recall=recall,
            condensed_ids=base.condensed_ids,
            keep_ids=base.keep_ids,
            recalled_ids=tuple(self._turns[i].id for i in recalled),
            tokens=tokens,
            raw_tokens=base.raw_tokens,
            over_budget=base.over_budget or tokens > self.policy.token_budget,
        )

    def replace_summary(self, first_id: str, last_id: str, text: str) -> bool:
        """Put a model-written summary in place of the extractive summary lines of the condensed
        turns ``first_id``..``last_id`` (durable lines stay). False if those turns are not condensed."""
        first, last = self._index.get(first_id), self._index.get(last_id)
        if first is None or last is None or last < first or last >= self._boundary or not text.strip():
            return False
        self._summaries = [s for s in self._summaries if s[1] < first or s[0] > last]
        self._summaries.append((first, last, " ".join(text.split())[:1200]))
        self._summaries.sort()
        self._render(rewrite=True)
        self._plan_cache = None
        return True

    def noted_values(self) -> list[tuple[int, Value]]:
        """Each value the notes keep, with the index of the turn that said it (``turns[index]``)."""
        return [(line.index, value) for line in self._lines if line.key for value in line.values]

    def condensed_turns(self, first: int = 0) -> list[Turn]:
        """The condensed turns from position ``first`` on (e.g. for a model summariser)."""
        return self._turns[first : self._boundary]

    # -- compaction ------------------------------------------------------------------------------

    def _digest(self, i: int) -> Digest:
        digest = self._digests[i]
        if digest is None:
            previous = self._turns[i - 1] if i > 0 else None
            digest = self._digests[i] = self._classify(
                self._turns[i], previous=previous, plans=self.plans, region=self.region
            )
        return digest

    def _recall_header_tokens(self) -> int:
        if self._header_tokens is None:
            block = "\n".join([RECALL_OPEN, RECALL_PREAMBLE, RECALL_CLOSE])
            self._header_tokens = message_tokens(block, self.encoding) + 1
        return self._header_tokens

    def _recall_reserve(self) -> int:
        """Tokens kept free for recalled turns: the level's share of the budget, at least room for
        the block and about two short turns."""
        assert self.level is not None
        return max(int(self.level.recall_share * self.policy.token_budget), self._recall_header_tokens() + 60)

    def _maybe_compact(self, allowance: int = 0) -> None:
        """Compact when notes + verbatim tail + the recall reserve (+ ``allowance``: room for the
        caller's next words, between turns) pass the budget. The boundary moves in steps: the tail
        goes down to the level's share of the budget (at least ``keep_last`` turns), and, if the
        request still does not fit, to the floor of :data:`TAIL_FLOOR` turns."""
        level = self.level
        if level is None:
            return
        budget = self.policy.token_budget
        if self._notes_tokens + self._tail_tokens + self._recall_reserve() + allowance <= budget:
            return
        self._advance(int(level.tail_share * budget), level.keep_last)
        if self._notes_tokens + self._tail_tokens + self._recall_reserve() > budget:
            self._advance(0, TAIL_FLOOR)  # still over: keep only the newest turns verbatim
            if self._notes_tokens + self._tail_tokens + self._recall_reserve() > budget:
                self._render(rewrite=True)
        self._over_budget = self._notes_tokens + self._tail_tokens > budget

    def _advance(self, tail_target: int, keep_last: int) -> None:
        n = len(self._turns)
        tail, start = 0, n
        for i in range(n - 1, self._boundary - 1, -1):
            if n - start >= keep_last and tail + self._tokens[i] > tail_target:
                break
            tail += self._tokens[i]
            start = i
        if start <= self._boundary:
            return
        for i in range(self._boundary, start):
            self._condense(i)
        self._boundary = start
        self._tail_tokens = tail
        self._condensed_ids = frozenset(t.id for t in self._turns[:start])
        self._unindexed = True  # indexed between turns, or by the question that ranks them (``index_recall``)
        self.compactions += 1
        self._render()
        self._plan_cache = None

    def _condense(self, i: int) -> None:
        """Turn ``i`` leaves the verbatim tail: note what it holds, index it for recall."""
        turn, digest = self._turns[i], self._digest(i)
        self.kinds[digest.kind] = self.kinds.get(digest.kind, 0) + 1
        when = self._clock(turn.at)
        for label in digest.identity:
            self._identity.setdefault(label, when)
        self._place(i, turn)
        self._lines.extend(self._orphan_names(self._booking_of.get(i)))
        self._lines.extend(self._lines_of(i, turn, digest, when))
        row = MemoryRow(
            "", "", "call", i + 1, "turn", "user" if turn.role == "user" else "assistant", turn.text, turn.at, ""
        )
        row.embedding = self._vectors.get(turn.id)
        self._rows.extend([row])
        if row.embedding is not None:
            self._rows.mark_vectors_changed()
        self._row_turn.append(i)
        for value in digest.values:
            self._by_value.setdefault(value, []).append(i)
        for kind in digest.kinds:
            self._by_kind.setdefault(kind, []).append(i)
        if self._recallable(i):
            self._turn_recall.cost(i)  # worked out now, between turns, not when a question recalls it

    def _place(self, i: int, turn: Turn) -> None:
        """Put condensed turn ``i`` in its booking (see :class:`Booking`) and note its value kinds.

        A caller asking back about something earlier ("what was the time for the first table?"),
        and the agent's answer, belong to no booking: they would start a new one, or lend their
        values to the booking under way."""
        reading = read_turn(turn.text, region=self.region)
        tags = reading.tags
        self._value_kinds[i] = frozenset(t for t in tags if not t.startswith("kind:"))
        if turn.role == "user":
            said = normalize_spoken_digits(turn.text).lower()
            # "oops did i say march 9th earlier, make it march 8th": a correction of the booking under way
            self._aside = bool(_ASKS_BACK.search(said)) and not _CORRECTS.search(said)
        if self._aside:
            if turn.role == "user":
                self._asked_back.add(i)  # a question back holds no answer: never recalled
            else:
                self._answers_back.add(i)
                self._aside = False
            return
        # the kinds of thing the turn names, things booked first ("the bear republic restaurant in rohnert park")
        kinds = sorted((t[5:] for t in tags if t.startswith("kind:")), key=lambda k: (k not in ITEM_NOUNS, k))
        current = self._bookings[-1] if self._bookings else None
        # "have a great great day", "is playing um at", "that would you know be all", "that like will be all",
        # "Can Can we get 2 tickets": the shared reading of a turn, in lower case so a stutter of any word goes
        lowered = self._said[i] = without_fillers(turn.text.lower())
        # "could you tell me when the event starts" asks about the thing, it requests nothing
        requests = turn.role == "user" and _REQUEST.search(_TELL_ME.sub(" ", lowered)) is not None
        caller_turns_to = current is not None and (  # the caller asks for something once one is done
            (requests and bool(kinds) and current.done)
            # or for more of the kind once they said yes to its details ("please confirm: play the innocent" -
            # "yes please"), even when no report of it was read: "can you find some movies online"
            # or searches anew once one was reported done ("i'm in the mood to see a play, can you find me one")
            or (requests and current.booked and not kinds and _SEARCHES.search(lowered) is not None)
            or (
                requests
                and kinds == [current.kind]
                and current.settled
                and not current.failed
                and not (not current.booked and self._changes_count(i, current))
            )
            # or turns to another kind of thing in their own words ("not right now, i'm looking for a bus ticket",
            # "thanks, can you find me some songs now"): the thing under way waits or is over, whatever was reported
            # or back to the one they put off for it ("no thanks, but we can proceed with getting three tickets")
            or (requests and self._switches(lowered, kinds, current))
            # or, once it was reported done, the caller names only kinds new to it in words with content ("playing,
            # enjoy" - "thanks what is there to do around town" - "i'm thinking concert in santa rosa"): no request
            # needed; or the agent offers a kind of thing new to it ("would you like me to book a table near the
            # venue", "10 songs, night shift by jon pardi"): the talk turned to it
            or (
                turn.role in ("user", "assistant")
                and current.booked
                and current.names_only_new(kinds)
                and self._digest(i).kind in ("key", "content")
            )
            or (self._returns_to(kinds) and self._switches(lowered, kinds, current, returning=True))
            or (
                turn.role == "user"
                and current.closed
                and self._digest(i).kind in ("key", "content")
                and (
                    bool(kinds) or requests or asks(turn.text) or (current.left and _WANTS.search(lowered) is not None)
                )
            )
        )
        same_kind = not kinds or kinds == [current.kind] if current is not None else False
        asks_anew = requests and bool(kinds)  # "can i make a restaurant reservation i want it on the 12th"
        # of the booking under way: "please play the song on my kitchen device" asks for the one offered
        offered_open = current is not None and not current.booked and not current.left and turn.role == "user"
        follows_up = bool(
            _ABOUT_THEM.search(lowered)
            or (same_kind and (offered_open or not asks_anew) and _FOLLOW_UP.search(lowered))
        )
        other_kind = (  # a kind only inherited from the booking before ("reservations for 2 at pescatore"
            # after tickets) is a guess: the first turn naming one ("do they have live music") corrects it
            bool(kinds)
            and current is not None
            and current.kind is not None
            and current.kind not in kinds
            and current.named != {current.kind: _INHERITED_VOTE}
        )
        about_it = asks(turn.text) and _ASKS_ABOUT_IT.match(lowered) is not None  # "does the restaurant play music"
        # "thanks for your help, now i want to find a song": leave taken of the last thing, and a new one asked for
        opens = turn.role == "user" and requests and bool(kinds) and self._opens_after_leave(lowered)
        # "thanks for the help, now i want to book the tickets for the match": back to the one under way, not another
        returns = opens and RETURNS_TO.search(lowered[_last_closing_end(lowered) :]) is not None
        if (
            current is not None
            and current.left
            and _WANTS.search(lowered)
            and not about_it
            and (asks_anew or not _ABOUT_THEM.search(lowered))
        ):  # the caller took leave of it: "i'd like it in a place in pleasanton" asks anew, and so does "i'd like
            follows_up = False  # to make a transfer to their savings" (someone else's: a request naming its kind)
        if (
            caller_turns_to
            and not other_kind
            and (
                follows_up
                or about_it
                or (_CLOSING.search(lowered) and (not kinds or same_kind) and not (opens and not returns))
            )
        ):  # about the thing just done ("do they serve alcohol?"), or taking leave of it ("thanks for finding that
            caller_turns_to = False  # movie for us, that's all i need")
        if (  # "nah play it on the bedroom speaker" to "playing x on the kitchen speaker": corrects, asks nothing new
            caller_turns_to  # ("no i do not, please help me search for songs" to "would you like to play the movie"
            and current is not None  # names a kind new to it: it turns to another thing)
            and not current.closed
            and _CORRECTION.match(lowered)
            and self._agents_last(current) is not None
            and not current.names_only_new(kinds)
        ):
            caller_turns_to = False
        if (  # "never mind, play on the speaker in the kitchen", "the song is right but play it in the bedroom" to
            caller_turns_to  # "playing dusk till dawn on the bedroom speaker": another device for the thing under
            and current is not None  # way, nothing new asked for
            and turn.role == "user"
            and not current.closed
            and kinds == [current.kind]
            and "device" in self._value_kinds[i]
            and (current.booked or current.offer is not None)
            and self._names_only_it(lowered, current.kind)
        ):
            caller_turns_to = False
        before, new = None, False
        if current is None or caller_turns_to:  # the caller asks for another thing, or for more once one is done
            before, new = current, True
            current = Booking(kinds[0] if kinds else None, [], [])
            if not kinds and before is not None and before.kind is not None:  # "make a reservation for 11 15"
                current.kind, current.named = before.kind, {before.kind: _INHERITED_VOTE}  # more of the same
            self._bookings.append(current)
        beside = turn.role == "assistant" and bool(current.own & set(kinds))
        for kind in kinds:  # the agent's "play the upside", then the caller's "who directs this movie": a movie
            # the caller's words weigh most ("hotel mumbai" is a movie they asked for), except where they repeat
            # the agent's: "oh i love how to train your dragon" takes the title offered, it asks for no train
            own = turn.role == "user" and kind not in current.agents
            if not beside or kind in current.own:
                current.apart.add(kind)
            current.named[kind] = current.named.get(kind, 0.0) + (1.0 if own else _AGENT_VOTE)
            if own:
                current.own.add(kind)
            rivals = current.own or current.named  # once the caller named a kind, only theirs can be it
            if kind in rivals and (
                current.kind not in rivals or current.named[kind] > current.named.get(current.kind or "", 0.0)
            ):
                current.kind = kind
        if turn.role == "assistant":  # what the agent offers by its title ("do you want to see how to train...")
            current.agents = (
                frozenset(kinds) if _OFFER.search(lowered) and not _NOT_OFFER.search(lowered) else frozenset()
            )
        if turn.role == "user" and current.request is None and self._digest(i).kind in ("key", "content"):
            current.request = i
        current.turns.append(i)
        self._booking_of[i] = len(self._bookings) - 1
        if (
            turn.role == "assistant"
            and _OFFER.search(lowered)
            and not _NOT_OFFER.search(lowered)
            and all(_OFFER.search(self._turns[c].text.lower()) for c in current.confirms)
        ):
            current.offer = i  # the agent's latest proposal before anything but a proposal was confirmed
        elif (
            turn.role == "assistant"
            and current.offer is not None
            and not current.confirms
            and self._digest(i).kind in ("key", "content")
            and self._recallable(i)
            and self._asked_for_another(current, i)
        ):
            current.offer = i  # "what else?" - "mana zina by mo temsamani from pobrecita": the next one put forward
        checks = turn.role == "assistant" and _CHECKS_WITH_CALLER.search(lowered) is not None
        closing = None if checks else _CLOSING.search(lowered)  # "all set for 11 30, does this work": asks
        if closing is None and turn.role == "assistant":
            closing = _MORE_FOR_YOU.match(lowered)  # the agent's bare "anything else?": what is asked next is new
        if closing and turn.role == "user" and _OTHER_OPTIONS.search(closing.group(0)):
            closing = None  # the caller's "is there anything else": other options, not leave-taking
        if closing and turn.role == "user" and _YES_THATS_IT.match(lowered):
            closing = None  # "yes, that's it" to "please confirm ...": the details are right, nothing taken leave of
        if closing and turn.role == "user" and not current.booked and closing.group(0).endswith("do"):
            closing = None  # "that will do" before anything was reported done: the caller takes what is offered
        if (
            closing
            and turn.role == "user"
            and not current.booked
            and _TAKES_IT.match(lowered)
            and self._proposed_last(current, i)
        ):
            closing = None  # "that is it" to "how about x by y?": the caller takes the one proposed, no leave taken
        if turn.role == "user" and _AFFIRMS.match(lowered):
            last = self._agents_last(current, before=i)
            if (  # the agent's check of the details ("ok, mandy harvey for three, right?")
                last is not None and (last in current.confirms or self._digest(last).kind == "key")
            ):
                current.affirmed = asks(self._turns[last].text) or bool(_CHECKS.search(self._turns[last].text.lower()))
            if last is not None and _READS_BACK.search(self._turns[last].text.lower()):
                current.settled = True
        if turn.role == "assistant" and is_not_done(lowered):
            current.affirmed = False  # "sorry, i was unable to book that"
            current.failed = current.refused = not current.booked
        elif turn.role == "assistant" and _NOT_FOUND.search(lowered) and not current.booked:
            current.failed = True  # "sorry, i couldn't find any other rom-coms": a search that found nothing to take
        if closing and opens and new:  # the leave taken is of the booking before, not of the one it opens
            if before is not None:
                before.left_by = before.left_by if before.left else i  # the leave taken as another thing is asked for
                before.done = before.closed = before.left = True
        elif current.turns and closing:
            current.done = current.closed = True  # goodbyes, "anything else?": the next request is another booking
            # the caller's "that's all", or the agent bidding them goodbye ("have a fantastic day"): it is over
            current.left = current.left or turn.role == "user" or _FAREWELL.search(lowered) is not None
        elif current.closed and turn.role == "user" and _DECLINES.match(lowered):
            current.left = True  # "no thank you" to the agent's "anything else?": leave taken
        if turn.role == "assistant" and ("confirm" in tags or _DONE.search(turn.text.lower())):
            if len(turn.text.split()) >= 8 or self._value_kinds[i] - {"filler", "question", "confirm"}:
                current.confirms.append(i)  # a confirmation that says what (not "Playing now.")
            told = _before_asking(lowered)  # "where should the reservation be made?" reports nothing
            if (
                told
                and not checks
                and (outcome_of([told]) == "booked" or _DONE.search(told))
                and not _LISTING.search(lowered)
                and not is_not_done(lowered)
            ):
                current.done = current.booked = True
        if turn.role == "assistant" and _REPORTED.search(lowered) and not asks(turn.text) and not is_not_done(lowered):
            current.done = current.booked = True
        if turn.role == "assistant" and _PLAYS.search(lowered) and not _CHECKS.search(lowered):
            current.done = current.booked = True
        if turn.role == "assistant" and _OFFERS_TO_BOOK.search(lowered) and not current.closed:
            current.done = current.booked = False  # "should i go ahead and buy tickets?": not done yet

    def _switches(self, said: str, kinds: list[str], current: Booking, *, returning: bool = False) -> bool:
        """The caller's request ``said`` (lower case, naming ``kinds``) turns to another kind of thing than the one
        under way: every kind it names is new to the booking (whoever named the ones before, but for the agent naming one
        beside a kind the caller asked for: "would you like to play the movie" talks of no music; the caller named one), it says
        nothing of the thing under way ("play it on the kitchen speaker"), and either the caller has said yes to
        something of it already, or the words mark the turn as another matter: putting the offer off ("no, not right
        now"), thanks, "also", "now", "meanwhile", or a search ("can you find me some songs"). A kind named in passing
        while booking ("i'd like to stay around milpitas", "i want to watch the yankees game") does neither. Going back
        to a thing put off (``returning``), asking to book it marks it too ("that is great, i want to book tickets");
        otherwise that takes what was just offered ("sounds great, i'd like to reserve three tickets")."""
        if not current.names_only_new(kinds) or not current.own or current.kind in kinds:
            return False
        # what comes before the new thing is named speaks of the one under way ("play it on the tv, and find
        # me..."); after it, of the new one ("find me some music from the album dangerous woman")
        plain_said = plain(said)
        named = [m.start() for k in kinds if (m := vocabulary().episode_kinds[k].search(plain_said))]
        before = plain_said[: min(named)] if named else plain_said
        if _FOLLOW_UP.search(before) or _ABOUT_THEM.search(before):
            return False
        if current.affirmed or current.settled or current.booked:
            return True
        return _SWITCH.search(said) is not None or (returning and _BOOKS.search(said) is not None)

    def _names_only_it(self, said: str, kind: str | None) -> bool:
        """The caller's ``said`` (lower case) names ``kind`` only by the device it is played on ("on the kitchen
        speaker") or as the thing already talked about ("the song", "play it"): no new one of it ("some pop songs",
        "another song")."""
        if kind is None:
            return False
        plain_said = plain(said)
        for m in vocabulary().episode_kinds[kind].finditer(plain_said):
            words = m.group(0).split()
            if _DEVICE_NOUN.fullmatch(words[-1]) or words[-1] == "it":
                continue
            if not _THE_ONE.search(plain_said[: m.start()]):
                return False
        return True

    def _returns_to(self, kinds: list[str]) -> bool:
        """The caller names the kind of the booking before the one under way, which they put off for it (nothing
        reported done, no failure, no leave taken): going back to it needs no request of its own."""
        if len(self._bookings) < 2:
            return False
        before = self._bookings[-2]
        return before.kind in kinds and not (before.booked or before.left or before.failed)

    def _opens_after_leave(self, said: str) -> bool:
        """The caller's ``said`` (lower case) takes leave of what was under way and then asks for a new thing by its
        kind: after its last closing words ("thank you for your help", "that's all") come a request in the caller's own
        words and a kind ("now i want to find a song"). "that's it, please play it" accepts what was offered; "that's
        all the transfers i need to do, see you" asks for nothing after its goodbye; "thanks for your help to find this
        event" thanks for what was found."""
        closings = list(_CLOSING.finditer(said))
        last = closings[-1] if closings else None
        if last is None or _ACCEPTS.search(last.group(0)):
            return False
        rest = said[last.end() :]
        if _ASKS_ANEW.search(_TELL_ME.sub(" ", rest)) is None:  # "thanks for your help to find this event": thanks
            return False
        return any(t.startswith("kind:") for t in read_turn(rest, region=self.region).tags)

    def _lines_of(self, i: int, turn: Turn, digest: Digest, when: str) -> list[_Line]:
        """The note lines of condensed turn ``i``: a durable line (kept exactly), and a summary line
        for what else it says (by level; repetitions of what is already noted are left out)."""
        level = self.level
        assert level is not None
        who = speaker_name(turn)
        out: list[_Line] = []
        if i in self._asked_back:
            return out  # a question back about something noted: it holds no value
        if digest.kind == "answer":
            previous = self._lines[-1] if self._lines else None
            if previous is not None and previous.index == i - 1 and previous.key:
                previous.full += f" caller: {quote(digest.content[0])}"
                previous.full_tokens = self._count(previous.full) + 1
            return out
        if digest.kind == "key":
            line = self._key_line(i, turn, digest, who, when)
            if line is not None:
                _, unlent = self._unlent.pop(self._booking_of.get(i, -1), (i, []))
                line.spans = (*(n for n in unlent if n not in line.spans), *line.spans)  # said before it: first
                # a genre asked for before ("some rock songs"): the line says it from the start, not only once merged
                said_before = [t for k, t in unlent if k == "genre" and t.lower() not in line.full.lower()]
                if said_before:
                    line.full += f" [{'; '.join(said_before)}]"
                    line.full_tokens = self._count(line.full) + 1
                out.append(line)
        if not out and digest.kind in ("content", "filler") and i and turn.role == "assistant":
            # the agent's answer to what kind it is: "which genre is it" - "its south asia", "country"
            asked = self._turns[i - 1]
            if asked.role == "user" and _ASKS_GENRE.search(asked.text.lower()):
                self._lend_spans(i, _genre_answer(turn.text))
        if not out and digest.kind == "content":  # a genre or venue said in a turn holding no other value
            self._lend_spans(i, _names_of(digest.content, []))
        elif not out and digest.kind == "key":  # a read-back of values noted: a name it says joins them all the same
            # and so does where a song plays ("you want to play hotel key on the tv"), read again though tagged
            taken = [v.text for v in digest.said if v.kind != "device"]
            self._lend_spans(i, _names_of((" ".join(digest.key), *digest.content), taken))
        if not digest.content or (level.summary == "topic" and turn.role != "user"):
            return out
        terms = frozenset(index_terms(" ".join(digest.content)))
        if len(terms) < 2 or any(similar_terms(terms, seen) for seen in self._noted_terms[-30:]):
            return out  # said before
        if level.summary == "full":
            text = " ".join(digest.content)
        else:
            text = max(digest.content, key=lambda s: (len(set(index_terms(s))), s.endswith("?")))
        self._noted_terms.append(terms)
        full = f"- {when} {who}: {quote(_cut(text, level.summary_chars))}"
        topic = turn.role == "user" and not any(line.topic for line in self._lines)
        out.append(_Line(i, False, full, "", self._count(full) + 1, 0, topic=topic))
        return out

    def _key_line(self, i: int, turn: Turn, digest: Digest, who: str, when: str) -> _Line | None:
        # noted in this booking: a value of an earlier booking said again ("2 tickets") is this one's too, and its
        # values line must hold it
        booking = self._booking_of.get(i, -1)
        new_tags = [t for t in digest.tags if (booking, t) not in self._noted_tags]
        repeat = (
            not new_tags
            and digest.tags
            and not digest.promise
            and not digest.identity
            and not (digest.kinds & {"state", "preference", "address", "time", "promise"})
        )
        said = " ".join(digest.key)
        if (repeat or (not new_tags and (booking, said.lower()) in self._noted_quotes)) and turn.role != "tool":
            return None  # a read-back of values already noted, or the same words again
        self._noted_tags.update((booking, t) for t in digest.tags)
        self._noted_quotes.add((booking, said.lower()))
        if turn.role == "tool":
            full = f"- {when} {who}: [{'; '.join(digest.tags)}]" if digest.tags else f"- {when} {who} (ran)"
            tokens = self._count(full) + 1
            return _Line(
                i, True, full, full, tokens, tokens, values=tuple(digest.said), tags=_kinded_tags(digest),
                spans=_kinded_spans(digest),
            )  # fmt: skip
        lowered = said.lower()
        extra = [t for t in digest.tags if _tag_value(t) not in lowered]
        label = f"{who} (promise)" if digest.promise else who
        tags = f" [{'; '.join(extra)}]" if extra else ""
        full = f"- {when} {label}: {quote(_cut(said, 400))}{tags}"
        snippet = _around_values(said, values=digest.said)
        short_tags = f" [{'; '.join(extra)}]" if extra else ""
        short = (
            f"- {when} {label}: {quote(snippet)}{short_tags}"
            if snippet
            else f"- {when} {label}: {quote(_cut(said, 80))}"
        )
        line = _Line(
            i, True, full, short, self._count(full) + 1, self._count(short) + 1, values=tuple(digest.said),
            tags=_kinded_tags(digest), spans=_kinded_spans(digest),
        )  # fmt: skip
        tight = _around_values(said, width=2, values=digest.said)
        if tight and tight != snippet:  # the last resort: the values with a word or two around them
            line.tiny = f"- {when} {label}: {quote(tight)}{short_tags}"
            line.tiny_tokens = self._count(line.tiny) + 1
        if digest.tags:  # or the values alone, as tagged, when that is shorter
            values = f"- {when} {label}: [{'; '.join(digest.tags)}]"
            tokens = self._count(values) + 1
            if tokens < (line.tiny_tokens or line.short_tokens):
                line.tiny, line.tiny_tokens = values, tokens
        identifiers = {label.split(" (")[0] for label in digest.identity}
        line.in_header = bool(digest.tags) and all(tag in identifiers for tag in digest.tags)
        return line

    def _lend_spans(self, i: int, named: list[tuple[str, str]]) -> None:
        """Names said in lower case in turn ``i``, a turn with no durable line ("it is a house song"), join the
        spans of its booking's latest durable line (or of its next one, when none came yet), so that the booking's
        values line holds them at no cost while the line keeps its words (the turn's own words stay a summary
        line, the first to go)."""
        booking = self._booking_of.get(i)
        if not named or booking is None:
            return
        for line in reversed(self._lines):
            of = self._booking_of.get(line.index)
            if of is None:  # a question back and its answer, asides within the booking: of none
                continue
            if of != booking:
                break
            if line.key and line.spans:
                line.spans = (*line.spans, *(n for n in named if n not in line.spans))
                return
        _, unlent = self._unlent.setdefault(booking, (i, []))  # no durable line yet: the booking's next one holds them
        unlent.extend(n for n in named if n not in unlent)

    def _orphan_names(self, booking: int | None) -> list[_Line]:
        """A values line for each booking before ``booking`` (the one turn ``i`` is of, None for an aside) that
        named things in lower case but never got a durable line ("i'd like to hear shiroyama" - "it's a metal song" -
        "it is by sabaton"): without it, what was played, and by whom, would leave the notes with the booking's
        summary lines. Dated by the turn that named the first of them."""
        if booking is None:
            return []
        out: list[_Line] = []
        for b in sorted(k for k in self._unlent if k < booking):
            at, names = self._unlent.pop(b)
            if not names:
                continue
            text = f"- {self._clock(self._turns[at].at)} values: {'; '.join(tag for _, tag in names)}"
            tokens = self._count(text) + 1
            out.append(_Line(at, True, text, text, tokens, tokens, text, tokens, tags=tuple(names), spans=tuple(names)))
        return out

    def _rebuild(self) -> None:
        """Condense the condensed turns again from scratch (a condensed turn was edited)."""
        boundary = self._boundary
        self._lines, self._identity, self._noted_tags, self._noted_terms = [], {}, set(), []
        self._noted_quotes = set()
        self._shown, self._shown_upto, self._header = [], 0, []
        self._rows, self._row_turn, self._by_value, self._by_kind, self.kinds = WorkingSet(), [], {}, {}, {}
        self._unindexed = False
        self._bookings, self._value_kinds, self._aside, self._asked_back = [], {}, False, set()
        self._answers_back, self._booking_of, self._sticky, self._said = set(), {}, {}, {}
        self._unlent = {}
        for i in range(boundary):
            self._condense(i)
        self._render()

    def _render(self, *, rewrite: bool = False) -> None:
        """Render the notes block, appending when it can so that consecutive requests share their prefix.

        The header (tags, preamble, the "Caller:" line) comes first and changes only when a new
        identifier is said; the lines follow in the order said; the span condensed is in the last
        line. Lines of newly condensed turns are appended while the notes stay within their share
        (``compact_to`` of the budget, less the tail and the recall reserve). Past it, the notes are
        rewritten: summary lines go (oldest first, the caller's topic last) down to :data:`REWRITE_TO`
        of that share, so that several steps append again before the next rewrite. Durable lines are
        tiered only when they pass the budget, and then down to :data:`REWRITE_TO` of it: the
        :data:`KEEP_FULL` most asked-about and most recent keep their full line, older ones go to their
        words around the values or their values alone; if that is still too much, values-only lines of
        the least asked-about oldest turns leave the notes, then the older bookings' values lines by age
        alone, down to :data:`DROP_TO` of the room (they stay in the in-call index, and a question about
        them recalls their exact turn)."""
        level = self.level
        assert level is not None
        budget = self.policy.token_budget
        reserve = self._recall_reserve()
        soft = int(level.compact_to * budget) - self._tail_tokens - reserve
        hard = budget - self._tail_tokens - reserve
        header = [NOTES_OPEN, NOTES_PREAMBLE]
        if self._identity:
            header.append("Caller: " + "; ".join(self._identity) + ".")
        footer = self._footer()
        fixed = self._count("\n".join([*header, footer, NOTES_CLOSE])) + MESSAGE_OVERHEAD_TOKENS + 2
        lines = self._summarised_lines()
        if not rewrite and header == self._header and not self._summaries and self._shown_upto <= len(lines):
            added = [(line, line.full, line.full_tokens) for line in lines[self._shown_upto :] if line.full]
            body = [*self._shown, *added]
            if fixed + sum(t for _, _, t in body) <= soft:
                self._set_notes(header, body, footer, len(lines))
                return
        self.rewrites += 1
        target = max(0, int(REWRITE_TO * soft) - fixed)
        limit = max(0, hard - fixed)
        self._set_notes(header, self._tiered(lines, target, limit), footer, len(lines))

    def _tiered(self, lines: list[_Line], target: int, limit: int) -> list[tuple[_Line, str, int]]:
        """The lines to show: summary lines give way down to ``target`` tokens; durable lines are
        tiered only when they pass ``limit`` (the budget), and then down to :data:`REWRITE_TO` of it,
        so that the next steps append again; values-only lines give way only above ``limit``.

        A durable line keeps the form an earlier rewrite gave it (shortened, merged into its booking's
        values line, left out), so that a rewrite changes the lines before it only when the notes pass
        the budget again: the notes keep their prefix between those rewrites."""
        sticky = self._sticky
        chosen = [
            (line, *sticky[id(line)][:2])
            if line.key
            and id(line) in sticky
            and (not self._asked.get(line.index) or _in_values_line(sticky[id(line)]))
            else (line, line.full, line.full_tokens)
            for line in lines
        ]  # a line asked about since starts from its full words again, unless its booking's values line holds it
        merged_tags = {id(line): sticky[id(line)][2] for line in lines if id(line) in sticky and sticky[id(line)][2]}
        merged_away = {id(line) for line in lines if id(line) in sticky and not sticky[id(line)][0]}
        merged_form = {id(line): sticky[id(line)][:2] for line in lines if id(line) in merged_tags}
        total = sum(t for _, _, t in chosen)
        durable = int(TIER_TO * limit) if sum(t for line, _, t in chosen if line.key) > TIER_AT * limit else limit

        def replace(pos: int, text: str, tokens: int) -> None:
            nonlocal total
            total += tokens - chosen[pos][2]
            chosen[pos] = (chosen[pos][0], text, tokens)

        # summary lines, oldest first (the caller's first topic last); a model's summary only past the limit
        for pos in sorted(range(len(chosen)), key=lambda p: (chosen[p][0].topic, p)):
            line = chosen[pos][0]
            if total <= target:
                break
            if not line.key and not line.model:
                replace(pos, "", 0)
        # durable lines by priority: asked about, then recent; the lowest give way first
        order = sorted(
            (p for p in range(len(chosen)) if chosen[p][0].key),
            key=lambda p: (self._asked.get(chosen[p][0].index, 0), chosen[p][0].index),
        )
        for pos in order:  # said in the "Caller:" line already: the values alone
            line, _, tokens = chosen[pos]
            if total > durable and line.in_header and line.tiny and line.tiny_tokens < tokens:
                replace(pos, line.tiny, line.tiny_tokens)

        def shorten(positions: list[int], until: int) -> None:
            for pos in positions:  # the oldest never asked about go to their values only, first
                if total <= until:
                    return
                line, text, tokens = chosen[pos]
                if not text or id(line) in merged_tags:
                    continue  # left out, or a booking's values line already
                forms = [(t, x) for t, x in ((line.short_tokens, line.short), (line.tiny_tokens, line.tiny)) if x]
                if forms and min(forms)[0] < tokens:
                    replace(pos, min(forms)[1], min(forms)[0])

        def drop(positions: list[int], until: int) -> None:
            for pos in positions:  # values-only lines of old turns never asked about: recallable
                if total <= until:
                    return
                if chosen[pos][1]:
                    replace(pos, "", 0)

        kept_full = order[-KEEP_FULL:]  # the most asked-about, then the most recent
        others = order[: len(order) - len(kept_full)]
        for pos in others:  # the agent's answers to a question back: values noted where first said
            if total <= durable:
                break
            if chosen[pos][0].index in self._answers_back:
                replace(pos, "", 0)
        if total > durable:  # older bookings: their values in one line each, oldest first
            for positions in self._by_booking_positions(chosen, others, merged_tags):
                if total <= durable:
                    break
                merged = self._merged_line(chosen, positions, merged_tags)
                if merged is not None and (
                    merged[1] < sum(chosen[p][2] for p in positions)
                    or _shows_more(merged[2], [chosen[p][1] for p in positions])
                ):
                    for p in positions[1:]:
                        replace(p, "", 0)
                        merged_away.add(id(chosen[p][0]))
                        merged_tags.pop(id(chosen[p][0]), None)  # a values line made before, now in this one
                        merged_form.pop(id(chosen[p][0]), None)
                    replace(positions[0], merged[0], merged[1])
                    merged_tags[id(chosen[positions[0]][0])] = merged[2]
                    merged_form[id(chosen[positions[0]][0])] = merged[:2]
        shorten(others, durable)
        for pos in range(len(chosen)):  # a model's summary, before any durable line leaves
            if total <= limit:
                break
            if chosen[pos][0].model and chosen[pos][1]:
                replace(pos, "", 0)
        if total > limit:  # the lines of single turns first, then the older bookings' values lines
            # the older bookings' values lines by age alone: one asked about had its turns recalled, while a newer
            # one left to the recall is found by counting more bookings before it ("the seventh")
            merged_pos = sorted(
                (p for p in others if id(chosen[p][0]) in merged_tags), key=lambda p: chosen[p][0].index
            )
            drop([p for p in others if id(chosen[p][0]) not in merged_tags], int(DROP_TO * limit))
            drop(merged_pos, int(DROP_TO * limit))
        shorten(kept_full, limit)
        drop(kept_full, limit)
        self._sticky = {}
        for line, text, tokens in chosen:  # a line left out comes back at the next rewrite, if there is room
            if id(line) in merged_tags:
                self._sticky[id(line)] = (*merged_form[id(line)], merged_tags[id(line)])
            elif line.key and text != line.full and (text or id(line) in merged_away):
                self._sticky[id(line)] = (text, tokens, ())
        return [entry for entry in chosen if entry[1]]

    def _by_booking_positions(
        self, chosen: list[tuple[_Line, str, int]], positions: list[int], merged: Iterable[int]
    ) -> list[list[int]]:
        """``positions`` (shown lines with values) grouped by the booking of their turn, oldest booking first,
        at most :data:`MERGE_LINES` lines a group (a long booking, or a call with no closing, is several); the
        booking under way (of the newest line) is left out. A booking's values line made at an earlier rewrite
        (one of ``merged``) joins its group, so that the booking keeps one values line."""
        heads = set(merged)
        groups: dict[int, list[int]] = {}
        latest = max((self._booking_of.get(line.index, -1) for line, _, _ in chosen), default=-1)
        for pos in sorted(positions):
            line = chosen[pos][0]
            booking = self._booking_of.get(line.index)
            if booking is not None and booking < latest and (line.spans or id(line) in heads) and chosen[pos][1]:
                groups.setdefault(booking, []).append(pos)
        chunks = [groups[b][k : k + MERGE_LINES] for b in sorted(groups) for k in range(0, len(groups[b]), MERGE_LINES)]
        return [c for c in chunks if len(c) > 1 or id(chosen[c[0]][0]) not in heads]  # a values line alone stays

    def _merged_line(
        self,
        chosen: list[tuple[_Line, str, int]],
        positions: list[int],
        merged_tags: dict[int, tuple[tuple[str, str], ...]],
    ) -> tuple[str, int, tuple[tuple[str, str], ...]] | None:
        """One line for the values of the lines at ``positions`` (one booking), in the order said: a
        value said again, or inside another value of the line ("for 2" in "table for 2"), once; of a
        count, a time, a day or a price level only the last said (the caller's "actually, six people"
        corrects the "2" before it)."""
        last: dict[str, int] = {}
        kinded = [kt for pos in positions for kt in merged_tags.get(id(chosen[pos][0]), chosen[pos][0].spans)]
        for n, (kind, _) in enumerate(kinded):
            if kind in _LATEST_KINDS:
                last[kind] = n
        tags: list[str] = []
        for n, (kind, tag) in enumerate(kinded):
            if kind in _LATEST_KINDS and last[kind] != n:
                continue
            if tag.lower() not in (t.lower() for t in tags):
                tags.append(tag)
        lowered = [t.lower() for t in tags]
        tags = [
            t
            for t, low in zip(tags, lowered, strict=True)
            if not any(o != low and low in o and re.search(rf"(?<![\w-]){re.escape(low)}(?![\w-])", o) for o in lowered)
        ]
        if not tags:
            return None
        # dated by its first line alone: the lines after it are the booking's, the next line dates the next one
        # "values: a; b" costs four tokens less a line than "values said: [a; b]": one more booking in ten fits
        text = f"- {self._clock(self._turns[chosen[positions[0]][0].index].at)} values: {'; '.join(tags)}"
        return text, self._count(text) + 1, tuple(kt for kt in kinded if kt[1] in tags)

    def _footer(self) -> str:
        first, last = self._turns[0], self._turns[self._boundary - 1]
        return f"(condensed: {self._clock(first.at)}-{self._clock(last.at)}, {self._boundary} turns)"

    def _set_notes(self, header: list[str], body: list[tuple[_Line, str, int]], footer: str, upto: int) -> None:
        self._header, self._shown, self._shown_upto = header, body, upto
        self._notes = "\n".join([*header, *(text for _, text, _ in body), footer, NOTES_CLOSE])
        self._notes_tokens = message_tokens(self._notes, self.encoding)

    def _summarised_lines(self) -> list[_Line]:
        """The note lines, with a model's summary of a span in place of its extractive summary lines."""
        if not self._summaries:
            return self._lines
        out: list[_Line] = []
        placed: set[tuple[int, int, str]] = set()
        for line in self._lines:
            span = next((s for s in self._summaries if s[0] <= line.index <= s[1]), None)
            if span is not None and span not in placed:
                placed.add(span)
                first, last, text = span
                said = (
                    f"- {self._clock(self._turns[first].at)}-{self._clock(self._turns[last].at)} summary: {quote(text)}"
                )
                out.append(_Line(first, False, said, "", self._count(said) + 1, 0, model=True))
            if span is None or line.key:
                out.append(line)
        return out

    def note_recalled(self, i: int) -> None:
        """Recall brought turn ``i`` back for a caller's question: the notes' tiering keeps what is asked about."""
        self._asked[i] = self._asked.get(i, 0) + 1

    def _recallable(self, i: int) -> bool:
        return self._digest(i).kind in ("key", "content") and i not in self._asked_back

    def _changes_count(self, i: int, booking: Booking) -> bool:
        """Caller's turn ``i`` says only how many, in the words of ``booking`` ("please confirm 2 tickets" -
        "yeah" - "just found out i need three tickets"): a change to the booking under way, not another one."""
        if self._value_kinds.get(i, frozenset()) - {"filler", "question", "confirm"} != {"count"}:
            return False
        said = set().union(*(self._digest(j).terms for j in booking.turns)) if booking.turns else set()
        new = set(index_terms(self._turns[i].text)) - said - booking_talk()
        return len({t for t in new if not t.isdigit() and t not in NUMBER_WORDS}) <= 1

    def _asked_for_another(self, booking: Booking, i: int) -> bool:
        """The caller's last turn in ``booking`` before turn ``i`` passed over what the agent put forward and asked
        for another ("what else", "something else", "any other songs"), with no proposal of the agent since."""
        for j in reversed(booking.turns):
            if j >= i or not self._recallable(j):
                continue
            return self._turns[j].role == "user" and _ANOTHER.match(self._said[j]) is not None
        return False

    def _proposed_last(self, booking: Booking, i: int) -> bool:
        """The agent's last turn in ``booking`` before turn ``i`` proposes something: its offer, or a turn naming
        values or content ("mana zina by mo temsamani from pobrecita"), not a closing ("anything else?")."""
        last = self._agents_last(booking, before=i)
        if last is None or _CLOSING.search(self._turns[last].text.lower()) or _MORE_FOR_YOU.match(self._said[last]):
            return False
        return last == booking.offer or self._digest(last).kind in ("key", "content")

    def _agents_last(self, booking: Booking, before: int | None = None) -> int | None:
        """The booking's last recallable turn (before turn ``before``: the caller's reply itself, "yes that is what
        i want", is recallable too) when the agent said it (what a caller's reply answers), else None."""
        last = next(
            (j for j in reversed(booking.turns) if (before is None or j < before) and self._recallable(j)), None
        )
        return last if last is not None and self._turns[last].role == "assistant" else None

    # -- helpers ---------------------------------------------------------------------------------

    def _count(self, text: str) -> int:
        return count_tokens(text, self.encoding)

    def _clock(self, at: datetime) -> str:
        start = self.started_at or at
        seconds = max(0, int((at - start).total_seconds()))
        return f"{seconds // 60:02d}:{seconds % 60:02d}"


def warm_readers() -> None:
    """Build what the readers of a turn and of a question build on first use (the query
    understanding's vocabulary, above all: about a tenth of a second), so that the first reply of a
    process does not wait for it: at a worker's preload, before job processes are forked."""
    at = datetime.now(UTC)
    compactor = Compactor(CompactionPolicy(token_budget=200))
    for n, (role, text) in enumerate(
        [
            ("user", "I'd like a table for two at Olive Garden in San Jose at 6:30 pm, somewhere affordable."),
            ("assistant", "Please confirm: a table for 2 at Olive Garden in San Jose today at 6:30 pm. Is that right?"),
            ("user", "Yes, that's right, thanks."),
            ("assistant", "Your reservation is confirmed, the reference is 1O9E32IJ."),
        ]
    ):
        compactor.add(Turn(f"warm-{n}", role, text, at))
    compactor.warm()
    question = "sorry, what was the time for the first table I booked again?"
    compactor.plan(question)
    warm_up()
    classify(Turn("warm-q", "user", question, at), kind_only=True)


_ASKS_BACK = re.compile(
    r"\b(?:remind me|double check|(?<!\btry )(?<!\btrying )(?<!\bbooking )(?<!\bbook )(?<!\breserving )(?<!\bit )(?<!\bthanks )(?<!\bthank you )again|"
    r"(?<!\bthat )was it(?! (?:\w+ ){0,2}(?:released|recorded|made|produced|out)\b)|what was|which was|did we|did you|did i|what did|"
    r"were the)\b"
    r"|\b(?:what|which) (?:\w+ ){0,4}(?:(?:was|were)(?! (?:it |they |that |this )?(?:\w+ ){0,2}(?:released|recorded|made|"
    r"produced|out)\b)|did(?! (?:\w+ ){0,3}(?:come|get|got|release|debut)))\b"
)
"""A caller asking back about something said earlier in the call ("what was the time again", "what was the time for
the first table"; not a retry: "i want to try booking again on the 3rd", "book it again"; nor thanks: "thanks again
for the help"; nor leave taken: "no that was it"; nor a question about the thing under way: "what year did it come
out", "what year was it released", whose answer is a value of the booking, a genre said with it)."""
_DEVICE_NOUN = re.compile(r"speakers?|tv|television|devices?|stereo|radio")
"""The last word of a kind's name that is the device a thing is played on ("the kitchen speaker")."""
_THE_ONE = re.compile(r"\b(?:the|that|this)\s+$")
"""Words before a kind's name that make it the one already talked about ("the song")."""
_CORRECTION = re.compile(r"^\W*(?:no|nah|nope|actually)\b(?!\W+(?:thanks?|thank you)\b)")
"""A caller's reply that begins by saying no to what the agent just said ("nah, play it on the bedroom speaker"):
it corrects the thing under way, whatever the agent reported, it asks for nothing new."""
_CORRECTS = re.compile(r"\b(?:make it|change it to|change that to|i meant|i mean|it should be|instead)\b")
"""A caller correcting what they said ("did i say the 9th? make it the 8th"): not a question back."""
_ANOTHER = re.compile(
    r"^\W*(?:(?:no|nah|nope|hmm|ok(?:ay)?|not that one|i don't like (?:that|it))\W+)*(?:what else|anything else|"
    r"something else|(?:any|some) others?\b|(?:any|some|what|are there) other (?:ones?|options?|songs?|movies?|films?|"
    r"tracks?)|(?:show|give|find|play) me (?:another|something else|a different)|another one|next one|what's next)"
)
"""A caller passing over what was put forward and asking for another ("what else", "any other songs")."""
_MORE_FOR_YOU = re.compile(r"^\W*(?:(?:ok(?:ay)?|sure|alright|great)\W+)?(?:(?:is there|was there) )?anything else\W*$")
"""The agent's "anything else?" and nothing more: its offer of more, which closes what was under way."""
_TAKES_IT = re.compile(r"^\W*(?:(?:yes|yeah|yep|oh|ok|okay)\W+)?(?:that's|that is|thats) (?:it|the one)\W*$")
"""A caller's "that is it" and nothing more: after a proposal, it takes the one proposed."""
_YES_THATS_IT = re.compile(r"^\W*(?:yes|yeah|yep|yup|correct|right)\W+(?:\w+\W+)?(?:that's|that is) it\b")
_AFFIRMS = re.compile(
    r"^\W*(?:yes|yeah|yep|yup|sure|correct|right|exactly|perfect|absolutely|definitely|affirmative|i affirm|"
    r"(?:that's|that is) (?:right|correct|perfect|fine)|sounds (?:good|great|perfect)|that works|go ahead|please do)\b"
)
"""A caller saying yes to what the agent just checked with them."""
_DECLINES = re.compile(
    r"^\W*(?:no|nope|nah|none)\b(?:\W+(?:\w+\W+)?(?:thanks?|thank you)\b"
    r"(?:\W+(?:so much|very much|a lot|for (?:your |all your |the |all the )?(?:help|assistance|everything)))?)?\W*$"
)
"""A caller's bare "no" or "no thank you (for your help)" (to the agent's "anything else?", said before it)."""
_CLOSING = re.compile(
    r"\b(?:that'?s (?:all|it|everything)|that is (?:all|it|everything)|this is all (?:i|we) need|that(?: like,?| you know,?)?(?: will|'ll)(?: like,?| you know,?)? (?:be (?:all|it\b(?! for\b))|do(?! (?:just |very )?(?:fine|great|nicely|well|perfectly)))|"
    r"that(?: like,?| you know,?)? would(?: like,?| you know,?)? be (?:all|it\b(?! for\b))|nothing else|"
    r"(?:don't|do not) need anything else|everything (?:i|we) (?:needed|wanted|need)|all (?:i|we) (?:needed|wanted)\b(?! (?:is|was|were)\b)|thanks?(?: you)?(?: (?:so|very))?(?: much)? for (?:your|you|the|all(?: (?:your|of your|the))?) (?:help|assistance)|thanks?(?: you)?(?: (?:so|very))?(?: much)? for (?:helping|assisting)\b|no,? thanks?(?: you)?,? (?:i'm|i am) (?:good|fine|ok(?:ay)?)|"
    r"good ?bye|bye|take care|see you|(?:i'm|i am|we're|we are) all set|"
    r"(?<!\bto )(?<!\bcan )(?<!\bcould )(?<!\bwe )(?<!\bi )have a (?:nice|good|great|wonderful|lovely|fantastic|pleasant|terrific) (?:rest of (?:your|the) )?(?:day|one|evening|night|time|meal|weekend|afternoon|morning)|"
    r"(?:is there|will there be|was there) anything else|anything else (?:i|we) can|anything else (?:for you|today)|"
    r"(?:like|need|want) any (?:other|more|further) (?:assistance|help)|(?:can|may|could) i (?:do|help(?: you)?|assist(?: you)?)"
    r"(?: (?:with|in))? (?:anything|something) else|(?:help|assist)(?: you)? with (?:anything|something) else|"
    r"(?:you|i) need anything else|(?:you've|you have) been (?:great|very helpful|"
    r"so helpful|a great help)|"
    # the agent's "enjoy the music", not the caller's "i enjoy the music of the eighties"
    r"(?<!\bi )(?<!\bwe )(?<!\byou )(?<!\bthey )(?<!\bmight )(?<!\bwould )(?<!\bmay )(?<!\bwill )(?<!\bto )"
    r"enjoy (?:the rest of )?(?:your|the|this) (?:meal|show|event|game|concert|evening|day|movie|film|song|track|"
    r"music|dinner|lunch|match|tunes?)|"
    r"have (?:fun|a (?:good|great) time) (?:at|with|tonight)|what else can i (?:do|help|assist))\b"
)
"""A closing (either side): goodbyes, "that's all", the agent's "anything else I can help with?"."""
_ACCEPTS = re.compile(r"^(?:that's|that is) it$|\bdo$|^(?:is there|will there be|was there) anything else$")
"""Closing words that take what was offered ("that's it", "that will do") or ask for more of it ("is there anything
else"): no leave taken."""
_ASKS_ANEW = re.compile(
    r"\b(?:i'd (?:also )?like|i would (?:also )?like|i (?:also )?(?:want|wanna|wish to)|i(?: also| will|'ll)? need|"
    r"i'm going to need|(?:i'm|i am) (?:also )?(?:looking for|interested in)|(?:can|could|would|will) you|please|"
    r"let's|let us|help me|find me|get me)\b"
)
"""A request in the caller's own words, as it starts a sentence ("now i want", "can you also"), not a verb the words
before it govern ("thanks for your help to find this event")."""


def _last_closing_end(said: str) -> int:
    """Where the last closing words of ``said`` end (0 with none)."""
    closings = list(_CLOSING.finditer(said))
    return closings[-1].end() if closings else 0


_READS_BACK = re.compile(r"\bconfirm\b|\bis (?:that|this|it) (?:right|correct)\b|\bcorrect\W*$|\bright\W*$")
"""The agent reading the details back for the caller to confirm ("please confirm: play the innocent with subtitles")."""
_NOT_FOUND = re.compile(
    r"\b(?:couldn't|could not|can't|cannot|was unable to|wasn't able to|am unable to|didn't) (?:find|locate|see)\b"
    r"|\b(?:found|there (?:is|are|were|was)) (?:no|nothing)\b"
)
"""The agent reporting a search that found nothing: an attempt, not a booking."""
_FAREWELL = re.compile(
    r"\b(?:good ?bye|bye|take care|see you|"
    r"(?<!\bto )(?<!\bcan )(?<!\bcould )(?<!\bwe )(?<!\bi )have a (?:nice|good|great|wonderful|lovely|fantastic|pleasant|"
    r"terrific) (?:rest of (?:your|the) )?(?:day|one|evening|night|weekend|afternoon|morning|time)|"
    r"enjoy (?:the rest of )?(?:your|the) (?:day|evening|night|weekend))"
    r"(?:\W+(?:too|now|sir|ma'am|then|again|bye))?\W*$"
)
"""The agent bidding the caller goodbye at the end of its turn ("have a fantastic day", "take care"): what was
under way is over, whatever the caller's last words were (a title, "good goodbye by linkin park", is no goodbye)."""
_DONE = re.compile(
    r"\b(?:has|have) started\b|\b(?:song|music|movie|film) (?:is )?playing\b|(?<!\bi )(?<!\bwe )(?<!\byou )(?<!\bmight )(?<!\bwould )(?<!\bmay )\benjoy (?:the|your|yourself|yourselves|listening|watching)\b"
    r"(?! (?:rest of (?:the|your) )?(?:day|evening|night|weekend|afternoon|morning|time)\b)"
)
"""An agent's report that what was asked for is done (beside the vocabulary's outcomes); "enjoy your day" is a
goodbye said whatever came of the call, no report."""
_REPORTED = re.compile(
    r"\b(?:has|have) begun\b|\bnow starting\b|\bstart(?:s|ing) (?:the |to )?(?:song|movie|film|music|play)\b|"
    r"\ball booked\b|\b(?:song|music|movie|film|track) is (?:now )?starting\b|\b(?:managed|(?:was|were) able) to (?:place|make|book|reserve|get|buy|purchase)\b|\byou now have (?:a|your) (?:reservation|booking|tickets?)\b|\b(?:i've|i have|i) (?:just |now |successfully )?(?:made|placed|booked|reserved|bought|purchased|started|put on|confirmed)\b|"
    r"\b(?:has|have|had|was|were|is|are|it's|they're|they've|we've|you've) (?:been |now )?(?:made|placed|booked|"
    r"confirmed|completed?|accepted|secured|finali[sz]ed|"
    r"reserved|purchased|a success)\b|\bsucc?ess?ful(?:ly)?\b|^(?:the |your )?(?:reservation|booking|tickets?) "
    r"(?:made|booked|done)\b|\b(?:reservation|booking|purchase|order) (?:is |was )?(?:complete|completed|confirmed|done)\b|"
    r"\bwent ahead and (?:made|booked|reserved|bought|purchased|confirmed|started|played)\b|\b(?:i'm|i am) (?:now )?playing\b|"
    r"\b(?:movie|film|song|track|music|it) is (?:now on|on now)\b|\b(?:recorded|placed|noted) your (?:reservation|booking|order)\b|\bi did (?:confirm|book|reserve|make)\b|"
    r"\b(?:began|begins|begun|start|started) (?:playing|casting)\b|\bwill (?:now )?begin\b(?! (?:at|on|in|by|around|from)\b)|\babout to play\b|\b(?:it is|it's) done\b|"
    r"\b(?:i'll|i will) start (?:the|it|playing)\b|\b(?:is|are) (?:now )?on (?:its|it's|their|the|his|her) way\b|^(?:all )?done\b|\bgot your (?:table|tickets?|reservation|booking) (?:set|ready)\b|"
    # a title put on: "movie played", "the movie has been started", "started the movie", "beginning movie now",
    # "i have played the movie", "the movie starts" or "will start shortly" said alone (not "starts at 7 pm")
    r"\b(?:movie|film|song|track|music|show) (?:has been |have been |was |is being )?(?:played|started)\b|"
    r"\b(?:started|begin|beginning|starting) (?:the |your |this )?(?:movie|film|song|track|music|show)\b(?! (?:at|on|in)\b)|"
    r"\b(?:i've|i have) (?:just )?played\b|"
    r"\b(?:movie|film|song|track|music|show) (?:starts|will start|is starting)(?: playing)?(?: now| shortly| soon| in a (?:moment|minute|second))?"
    r"(?=\s*(?:[.!,]|$))"
)
"""More ways an agent reports a booking done ("I've made your reservation", "the reservation was a
success"), when the turn asks nothing ("where is the reservation made?" is not one)."""
_TELL_ME = re.compile(
    r"\b(?:can|could|would|will) you (?:please )?(?:tell|let|give) me (?:know )?"
    r"(?=(?:when|where|what|how|if|whether|who|the|their|its)\b)"
)
"""A question put as a request ("can you give me the address for the place"): what follows asks about something, it
asks for nothing new."""
_ABOUT_THEM = re.compile(r"\b(?:they|their|them|theirs)\b")
_WANTS = re.compile(
    r"\b(?:i'd like|i would like|i want|i wanna|i need|i'm looking for|i am looking for|find me|in the mood for|"
    r"(?:i'm|i am) (?:feeling |so |really |very )?(?:hungry|starving|bored)|(?:a )?craving|do you know (?:of )?any)\b"
)
"""A caller saying what they want (once they took leave of the last thing: something new)."""
_SWITCH = re.compile(
    r"^\W*(?:no|nope|nah|not (?:right |just )?(?:now|yet)|not for now|maybe later|thanks?|thank you|cool|"
    r"(?:ok(?:ay)?|great|perfect|alright|all right)\W+(?:thanks?|thank you|now)\b)"
    r"|\b(?:also|now|meanwhile|in the meantime|while i'm waiting|too|as well|one more thing|another thing)\b"
    r"|\b(?:find|search|look(?:ing)? (?:for|up)|look up)\b"
)
"""A caller's words that turn to another matter: putting off what was offered ("no, not now"), thanks, "also",
"now", "in the meantime", or a search of its own ("will you find songs")."""
_BOOKS = re.compile(rf"\b(?:{BOOKING_VERBS}|get me|proceed)\b")
"""A caller asking to book (going back to a thing put off: "we can proceed with getting three tickets")."""
_SEARCHES = re.compile(r"\b(?:find|look(?:ing)? for|search(?:ing)? for|in the mood for)\b")
"""A caller asking for a search: once something was reported done, a new one, even when no kind is named."""
_FOLLOW_UP = re.compile(
    r"\b(?:it|its|(?:the|this|that) (?:restaurant|place|venue|song|track|event|show|concert|"
    r"game|movie|film|album|artist|band))\b"
    r"|\b(?:this|that)\W*$|\b(?:is|was) (?:this|that) (?:from|by|in|on|about)\b"  # "what kind of song is this"
)
"""A caller's words about the thing under way ("do they serve alcohol?"; of its kind: "play it on the kitchen
speaker", "what is the genre of this song"): once it is done, they go on with it rather than start another."""
_OFFERS_TO_BOOK = re.compile(
    r"\b(?:shall|should|can|may) i (?:go ahead and )?(?:book|buy|purchase|reserve|make|get)\b"
    r"|\b(?:would|do|did) you (?:like|want|need) (?:(?:me|us) )?to (?:go ahead and )?(?:book|buy|purchase|reserve|make|get)\b"
)
"""The agent asking whether to book ("should I go ahead and buy tickets for this show?"): what it
proposes is not booked yet, whatever was read as done before."""
_LISTING = re.compile(
    r"\b(?:is|are|will be) (?:also )?playing (?:at|in|on|next|this|today|tomorrow)\b"
    # the day or the place first: "tomorrow at chase center experience is playing celine dion"
    r"|\b(?:today|tonight|tomorrow|at (?:the )?[a-z][\w'&-]*(?: [\w'&-]+){0,4}?) (?:is|are) (?:also )?playing\b"
    r"(?! (?:now|in (?:your|the|my)|on (?:your|the|my)))"
)
"""An event listed ("jethro tull is playing at forest hills next thursday", "tomorrow at the fillmore is playing x"):
not a booking reported done."""
_CHECKS_WITH_CALLER = re.compile(
    r"\b(?:does|do|would|will|did|is|was) (?:this|that|it|everything|all (?:of )?(?:this|that)) (?:\w+ ){0,2}?"
    r"(?:work|sound|look|seem|suit)s?\b"
)
"""An agent checking a detail with the caller ("we are all set for 11 30 for two people, does this work?"): a
confirmation asked for, not a report nor a goodbye, even without a question mark."""
_PLAYS = re.compile(
    r"^(?:ok(?:ay)?,? )?(?:now )?playing\b|\b(?:will|i'll|i will) (?:now )?play [a-z]"
    r"|\b(?:i'll|i will|i'm going to|i am going to) (?:now )?(?:go ahead and )?start (?!(?:at|on|in|by|with|from)\b)[a-z]"
    r"|\b(?:is|are) (?:now )?playing (?:in|on) (?:your|the|my) (?:\w+ )?(?:bedroom|kitchen|living room|tv|speaker|device)\b"
)
"""An agent saying it plays what was picked ("okay will play weekend on tv", "paris is playing in your bedroom"):
done, unless it checks first."""
_CHECKS = re.compile(r"\?|\bis (?:that|this|it) (?:right|correct|ok|okay)\b|\b(?:shall|should) i\b|\bconfirm\b")
_OFFER = re.compile(
    rf"\b(?:{PUTTING_FORWARD}|there's|would you like|would you want|do you like|"
    r"one of them|i(?:'d| would)? recommend|i(?:'d| would)? suggest|may i suggest|you might like|you may like|what do you think "
    r"(?:about|of)|do you want to (?:listen|hear|watch|see)|next (?:one )?is|next up is|the next (?:one|song|track) is|"
    r"another (?:one|option) is|do you think you(?:'d| would)? (?:like|enjoy)|you might (?:find|enjoy)|"
    r"(?:would|will|is) (?:that|this|it) (?:be )?to your liking|i(?:'ve| have)? got (?:one|a|an|another|\d+)|"
    r"(?:song|track|one|movie|film|event|show|place|restaurant) called)\b"
)
"""An agent proposing something (a restaurant, an event, a song) for the caller to take."""


def _before_asking(text: str) -> str:
    """The words of ``text`` before its first asking clause ("your table is booked, can i help with anything
    else": the report; "do you have a preference as to which restaurant the reservation is made": nothing)."""
    m = _ASKS_CLAUSE.search(text)
    return text if m is None else text[: m.start()].strip()


_NOT_OFFER = re.compile(
    r"\b(?:how many|how much|what time|what day|what date|which (?:day|date|time|city|one)|when would|where would|"
    r"(?:which|what) (?:movie|film|song|track|album|restaurant|event|show|kind|type|sort)s? (?:would|do|did) you|"
    r"would you like (?:me|us) to|do you want (?:me|us) to|shall i|should i)\b"
)
"""An agent's question for a detail ("how many tickets would you like?", "which movie would you like to watch?"):
not a proposal."""
_OTHER_OPTIONS = re.compile(r"(?:is there|will there be|was there|(?<!\bneed )anything else)\b")
"""A caller asking for other options ("is there anything else"), not taking leave ("i don't need anything else")."""
_ASKS_ABOUT_IT = re.compile(
    r"^\W*(?:(?:and|so|okay|ok|um|uh|also|great|yes|yeah)\W+)*"
    r"(?:(?:where|when|what time|how much|how far|how late|how|what)\W+)?"  # "where is the restaurant located"
    r"(?:does|do|is|are|did|was|will|can|could) "
    r"(?:it|they|this|that|the (?:restaurant|place|venue|event|show|concert|game|song|track|movie|film))\b"
)
"""A caller's question about the thing under way ("does the restaurant play live music", "where is the restaurant
located"): never a request."""
_REQUEST = re.compile(
    r"\b(?:looking for|look for|find(?:ing)?|search(?:ing)?|book(?:ing)?|reserve|reservation|want|wanna|need|get me|"
    r"buy(?:ing)?|play|"
    r"help me|i'd like|i'd also like|i would like|interested in|look into|can you|could you)\b"
)
"""A caller asking for something (what starts a booking)."""
_VALUE_WORD = re.compile(r"\d|@|[$£€]", re.IGNORECASE)


def _around_values(said: str, width: int = 6, values: Iterable[Value] = ()) -> str:
    """The words around each value in ``said`` ("...we're at 33 Quarry Lane now..."): the short form
    of a durable line when the budget is tight. ``values``: the values read in it (a venue's name has
    no digit, but is one)."""
    spans = [m.span() for v in values for m in re.finditer(re.escape(v.text), said)]
    found = list(re.finditer(r"\S+", said))
    words = [m.group(0) for m in found]
    keep = [False] * len(words)
    for pos, word in enumerate(words):
        bare = word.lower().strip(",.;:!?")
        start, end = found[pos].span()
        inside = any(start < e and s < end for s, e in spans)
        if inside or _VALUE_WORD.search(word) or bare in MONTH_WORDS or bare in NUMBER_TOKENS:
            for k in range(max(0, pos - width), min(len(words), pos + width + 1)):
                keep[k] = True
    if not any(keep):
        return ""
    out: list[str] = []
    for pos, word in enumerate(words):
        if keep[pos]:
            if pos and not keep[pos - 1] and out:
                out.append("…")
            out.append(word)
    text = " ".join(out)
    return ("…" if not keep[0] else "") + text + ("…" if not keep[-1] else "")


_LATEST_KINDS = frozenset({"count", "time", "date", "day", "price"})
"""Kinds of value of which a booking's values line keeps only the last said (a correction replaces)."""
_RESOLVED_DATE = re.compile(r": (?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{4}-\d{2}-\d{2}|[A-Z][a-z]{2} \d{1,2})$")


def _kinded_tags(digest: Digest) -> tuple[tuple[str, str], ...]:
    """The tags of a durable line with the kind of value each is (``other`` when no reader says)."""
    kinds = {value_tag(v): v.kind for v in digest.said}
    return tuple((kinds.get(tag) or ("date" if _RESOLVED_DATE.search(tag) else "other"), tag) for tag in digest.tags)


def _shows_more(kinded: Iterable[tuple[str, str]], shown: Iterable[str]) -> bool:
    """Whether a booking's values line (its ``kinded`` values) says names that its lines as shown do not: a line
    cut to "[10]" ("i found 10 songs") holds the song, the artist and the album offered after it only as the names
    lent to it, which only its booking's values line says."""
    text = " ".join(shown).lower()
    return any(kind in _LENT_KINDS and tag.lower() not in text for kind, tag in kinded)


_LENT_KINDS = frozenset({"name", "genre"})
"""Kinds of the names read in lower case and lent to a booking's lines (see :meth:`Compactor._lend_spans`)."""


def _in_values_line(form: tuple[str, int, tuple[tuple[str, str], ...]]) -> bool:
    """Whether a durable line's sticky form is (or is merged into) its booking's values line."""
    return bool(form[2]) or not form[0]


_GENRE_NAMES = "|".join(re.escape(g) for g in (*GENRES, "latin"))
_MOODS = ("funny", "scary", "romantic")
"""Words of a mood that name the genre of a film ("something funny", "a romantic movie")."""
_NOT_A_GENRE = (
    r"(?!(?:good|great|nice|popular|new|old|famous|beautiful|lovely|cool|fun|fantastic|wonderful|hit|really|very|"
    r"top|best|awesome|catchy|favou?rite|amazing|short|long|slow|fast|recent|single|different|other|similar|same|"
    r"perfect|sad|happy|lot|bit|little|live|original|cover|another|first|second|last|one|song|songs|track|music|"
    r"whole|real|big|special|certain|particular|the|a|an|this|that|my|your|his|her|their|its|what|which|any|some|"
    r"much|more|most|so|too|such|also|i|you|it|we|they|is|was|and|or|of|in|on|to|from|by|for|with)\b)"
)
_KIND_WORDS = rf"{_NOT_A_GENRE}[a-z][a-z&'-]*(?:\s+{_NOT_A_GENRE}[a-z][a-z&'-]*)?"
"""One or two words of a kind of song, any words but those of an opinion or of the frame ("west coast")."""
_GENRE_SPAN = re.compile(
    r"(?<![\w-])("
    + "|".join(re.escape(g) for g in (*GENRES, "house", "latin", *_MOODS))
    + r")(?=\s+(?:music|songs?|genre|"
    r"tracks?|tunes?|events?|concerts?|shows?|movies?|films?|type|kind|style)\b)"
    r"|\b(?:songs?|music|tracks?|tunes?)\s+(?:preferably|mostly|mainly|like)\s+(" + _GENRE_NAMES + r")(?![\w-])"
    # a known genre as the answer to what kind it is: "it's jazz", "it is 2019 blues", "Soul from 2012."
    r"|(?:\b(?:it's|it s|it is|it was|this is|that's|that is)\s+(?:an?\s+)?(?:\d{4}\s+)?|^\W*)(" + _GENRE_NAMES + r")"
    r"(?=\s*[.,!?]|\s*$|\s+(?:from|and|released)\b)"
    r"|\b(?:movies?|films?|songs?|music)\s+(?:of|about)\s+(" + _GENRE_NAMES + r")(?![\w-])"
    # a known genre as what the caller likes: "i also like adventure", "i love soundtracks from 2010"
    r"|\bi\s+(?:also\s+|really\s+|do\s+|just\s+)?(?:like|love|enjoy|prefer|want)\s+(" + _GENRE_NAMES + r"|soundtracks?)"
    r"(?=\s*[.,!?]|\s*$|\s+(?:from|and|too|as well|ones?|please|music|songs?|movies?|films?|tracks?)\b)"
    # a mood a comedy, a horror film or a romance is asked by: "anything funny", "movies that are funny"
    r"|\b(?:anything|something|movies?|films?|ones?)\s+(?:(?:that|which)\s+(?:is|are)\s+|that's\s+)?(?:really\s+|very\s+)?("
    + "|".join(_MOODS)
    + r")(?![\w-])",
    re.IGNORECASE,
)
"""A genre said with what it describes ("it is pop music", "a rock event", "some jazz songs"), or as the answer to
what kind of song it is ("it's jazz", "it is a west coast song", "the genre is new wave")."""
_GENRE_FRAMED = re.compile(
    # any words framed as a kind of song: "it is a west coast song", "and a chillwave track"
    rf"(?:\b(?:is|was|and)|'s)\s+(?:also\s+)?an?\s+({_KIND_WORDS})\s+(?:song|track|tune|number)\b"
    # or named as the genre: "in the afrobeat category", "the genre is new wave", "synthwave is the genre"
    rf"|\bthe\s+({_KIND_WORDS})\s+(?:genre|category)\b"
    rf"|\b(?:genre|category)\s+(?:is|was)\s+({_KIND_WORDS})(?=\s*[.,!?]|\s*$|\s+(?:and|from|music)\b)"
    rf"|(?:^|[.,!?]\s*|\bit's\s+|\bit is\s+)({_KIND_WORDS})\s+is\s+the\s+genre\b",
    re.IGNORECASE,
)
_ASKS_GENRE = re.compile(r"\bgenre\b|\b(?:what|which) (?:kind|type|sort|style) of (?:music|song|track|movie|film)\b")
"""A caller asking what kind of song or film it is."""
_GENRE_ANSWER = re.compile(
    rf"^\W*(?:(?:it's|its|it s|it is|it was|that's|that is|this is|the genre is)\s+(?:an?\s+)?)?({_KIND_WORDS})"
    r"(?:\s+(?:music|songs?|genre|movies?|films?))?\W*$",
    re.IGNORECASE,
)
_NOT_AN_ANSWER = frozenset(
    ["let", "me", "check", "see", "sec", "second", "moment", "hold", "hang", "wait", "sorry", "not", "sure", "unknown",
     "yes", "no", "dont", "don't", "know", "idea"]
)  # fmt: skip


def _genre_answer(said: str) -> list[tuple[str, str]]:
    """The genre said as the whole answer to what kind of song or film it is ("its south asia", "country", "it's
    house music"): any one or two words but those of talk, of an opinion or of a stall."""
    m = _GENRE_ANSWER.match(without_fillers(said).strip())
    if m is None:
        return []
    words = m.group(1).lower().split()
    if _NOT_AN_ANSWER.intersection(words) or _TALK_WORDS.intersection(words):
        return []
    return [("genre", m.group(1))]


_FRAMED_CUE = ("genre", "categor", "song", "track", "tune", "number")
"""Only a sentence with one of these can frame a genre in any words (a cheap test before the pattern)."""
_END = r"(?![\w'&.-])"
_NAME_WORD = (
    r"(?!(?:the|a|an|at|in|on|is|are|and|or|for|to|it|this|that|which|will|by|from|game|event|today|tomorrow|"
    r"tonight|next|would|do|does|shall|should|you|please|there|playing|starts?|takes?|taking|occurring|happening|"
    r"held)\b)[a-z0-9][\w'&.-]*"
)
_ALBUM_WORD = (
    r"(?!(?:by|songs?|tracks?|album|play|playing|one|two|three|four|five|\d+|released|came)\b)[a-z0-9][\w'&.-]*"
)
_BY_WHOM = r"(?!the\s+way\b)(?:the\s+)?[a-z][\w'&.-]*(?:\s+(?!(?:from|in|on|off|it'?s|it|which)\b)[a-z][\w'&.-]*){0,3}?"
"""Who made a song, after "by", any words up to the record's frame ("by all that remains from ...")."""
_ALBUM_SPAN = re.compile(
    # named last, any words to the end of the sentence: "off the album just gonna send it", "it came out on the
    # album narrated for you", "from the album late nights and longnecks"
    rf"\b(?:from|in|on|off)\s+(?:(?:the|his|her|their)\s+)?(?:\d{{4}}\s+)?album\s+(?:(?:called|titled|named)\s+)?"
    rf"((?:{_ALBUM_WORD})(?:\s+{_ALBUM_WORD}){{0,6}}?)(?:\s*(?:[.?!]\s*)?$|,?\s+which\s+(?:is|was)\b)"
    # the album, then who made it: "i recommend the album ana keteer by sherine"
    rf"|\bthe\s+album\s+(?!(?:called|titled|named|is|was|has|by|from)\b)((?:{_ALBUM_WORD})(?:\s+{_ALBUM_WORD}){{0,4}}?)\s+by\s+[a-z]"
    # an album said before "album" without "the": "babe by sugarland in bigger album"
    rf"|\bby\s+[a-z][\w'&.-]*(?:\s+[a-z][\w'&.-]*){{0,3}}?\s+(?:from|in|on|off)\s+(?:(?:his|her|their)\s+)?"
    rf"(?!(?:his|her|their|its|my|your|our)\b)((?:{_NAME_WORD})(?:\s+{_NAME_WORD}){{0,3}})\s+album\b"
    rf"|\b(?:from|in|on|off)\s+(?:(?:the|his|her|their)\s+)?(?:\d{{4}}\s+)?album\s+(?!(?:called|titled|named)\b)"
    rf"((?:the\s+)?(?:{_NAME_WORD})(?:\s+(?:the\s+)?{_NAME_WORD}){{0,3}})"
    rf"|\b(?:from|in|on|off)\s+(?:(?-i:(?=The\s))|the\s+)((?-i:The\s+)?(?:{_NAME_WORD})(?:\s+(?:the\s+)?{_NAME_WORD}){{0,3}})"
    r"\s+album\b"
    # introduced by name, any words up to what follows it: "an album called this is acting two years ago"
    rf"|\balbum\s+(?:called|titled|named)\s+((?:{_ALBUM_WORD})(?:\s+{_ALBUM_WORD}){{0,4}}?)"
    r"(?=\s+(?:by|from|which|that|and|one|two|three|four|five|\d+|i|it|released|came|last|in|on)\b|\s*[,.?!]|\s*$)"
    # an album opening what is said of it: "the safe haven album has ..."
    rf"|(?:^|[.,!?]\s*)(?:okay\s+|so\s+)?the\s+((?:{_NAME_WORD})(?:\s+{_NAME_WORD}){{0,3}})\s+album\s+(?:has|is|by|with)\b",
    re.IGNORECASE,
)
"""An album, also in lower case ("from the album prequelle", "from the album the hunting party", "off the try again
album")."""
_BY_ALBUM_SPAN = re.compile(
    rf"\bby\s+{_BY_WHOM}\s+(?:(?:it'?s|it\s+is|which\s+is)\s+)?(?:from|in|on|off)\s+(?:(?:his|her|their)\s+)?"
    rf"(?!(?:the\s+)?(?:album|record|ep|a|an|my|your|speakers?|tvs?|television|device|headphones|{ROOMS}|spotify|"
    rf"youtube|radio|repeat|shuffle|loop|\d+){_END})((?:the\s+)?(?:{_ALBUM_WORD})(?:\s+{_ALBUM_WORD}){{0,5}})\s*(?:[.?!]\s*)?$",
    re.IGNORECASE,
)
"""A song, who made it and the record it is on, the record last ("all that matters by justin bieber from journals",
"adorn by miguel in kaleidoscope dream", "kindly calm me down by meghan trainor its off thank you"): read outside talk
of an event only ("the event is by the river in the park" names no record)."""


def _words(text: str) -> list[str]:
    return text.split()


_NAME_STOPS = frozenset(
    _words(
        "the a an at in on is are and or for to it this that which will by from game event today tomorrow "
        "tonight next would do does shall should you please there playing start starts take takes taking "
        "occurring happening held"
    )
)
"""The words :data:`_NAME_WORD` never takes, for the readers that go word by word."""
_TEAM_STOPS = _NAME_STOPS | frozenset(
    _words(
        "called named see watch attend about like love as vs versus match between with of ok okay it's also there's "
        "theres here's found "
        "have we one is was tickets ticket seats seat passes pass instead"
    )
)
_TOKEN = re.compile(r"[\w'&.]+(?:-[\w'&.]+)*")
_COUNT = re.compile(r"\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|a|an|some|the", re.I)
_VERSUS = frozenset({"vs", "vs.", "versus"})


def _word_run(said: str, tokens: list[re.Match[str]], first: int, step: int, stops: frozenset[str], most: int) -> int:
    """How many tokens from ``tokens[first]`` on (``step`` 1) or back (-1) are words of a name: not one of
    ``stops``, no punctuation between them, at most ``most``."""
    n, k = 0, first
    while n < most and 0 <= k < len(tokens):
        word = tokens[k].group().lower()
        if word.rstrip(".") in stops or not word[0].isalnum() or (step < 0 and word.endswith(".")):
            break
        if n:
            ahead, behind = (tokens[k - 1], tokens[k]) if step > 0 else (tokens[k], tokens[k + 1])
            if ahead.group().endswith(".") or said[ahead.end() : behind.start()].strip():
                break  # a comma or a full stop between: another phrase
        n, k = n + 1, k + step
    return n


def _game_spans(said: str, tokens: list[re.Match[str]]) -> list[tuple[int, str]]:
    """Games, by the teams on either side of "vs", up to two words each, read word by word ("the falcons vs
    jaguars", "an event called blue jays vs orioles at rogers centre"): a word of the frame ("called", "game",
    "at") is no team's."""
    out: list[tuple[int, str]] = []
    for k, token in enumerate(tokens):
        if token.group().lower() not in _VERSUS:
            continue
        if k == 0 or k + 1 == len(tokens) or said[token.end() : tokens[k + 1].start()].strip():
            continue
        before = _word_run(said, tokens, k - 1, -1, _TEAM_STOPS, 2)
        if before and _COUNT.fullmatch(tokens[k - before].group()):
            before -= 1  # "3 giants vs ...", "two rams vs ...": how many tickets, no team's word
        after = _word_run(said, tokens, k + 1, 1, _TEAM_STOPS, 2)
        head = k + after + 1
        if after == 2 and head < len(tokens) and VENUE_HEAD.fullmatch(tokens[head].group()):
            # the venue said right after the game, no "at" between: "cubs vs brewers wrigley field"
            after = 1
            if not said[tokens[head - 1].end() : tokens[head].start()].strip():
                out.append((tokens[head - 1].start(), said[tokens[head - 1].start() : tokens[head].end()]))
        if before and after:
            start = tokens[k - before].start()
            # "the Angels, vs Mariners": a pause before "vs" (a filler left out) is no part of the game's name
            first, second = said[start : tokens[k - 1].end()], said[token.start() : tokens[k + after].end()]
            out.append((start, f"{first} {second}"))
    return out


_CALLED_WORD = rf"(?!(?:at|on|in|for|which|that|and|is|will|this|today|tomorrow|tonight|next){_END})[a-z0-9][\w'&.-]*"
_NOT_NAMED_EVENT = (
    r"being|going|coming|starting|beginning|ending|set|located|scheduled|available|free|sold|booked|confirmed|"
    r"cancell?ed|postponed|over|done|full|open|closed|outdoors?|indoors?|popular|great|good|nice|amazing|fun|"
    r"expensive|cheap|also|not|only|just|really|very|so|pretty|quite|called|named|titled|about|near|close|far|"
    r"my|your|our|their|his|her|its|one|two|three|four|five|\d+\w*|all|still|already|now|then|going|no|yes"
)
"""What "the event is" is followed by when it says how the event is, not what it is called."""
_EVENT_SPAN = re.compile(
    rf"\b(?:the|an?)\s+((?!(?:same|first|second|third|other|whole|entire|last|only|big|live|music|sports?|one|new|"
    rf"good|great|nice|fun|few|single|interesting|international|baseball|football|basketball|soccer|hockey|"
    rf"american|musical|rock|pop|comedy|theater|theatre|sporting|concert|certain|specific|particular|local|"
    rf"outdoor|indoor){_END})(?:{_NAME_WORD})(?:\s+{_NAME_WORD}){{0,2}})\s+(?:events?|concerts?|show)\b"
    rf"|\bevents?\s+(?:called|named)\s+(?:as\s+)?((?:{_CALLED_WORD})(?:\s+{_CALLED_WORD}){{0,3}}?)"
    rf"(?=\s+(?:on|at|in|which|that|is|will|taking|happening|occurring|scheduled|starting|playing|tonight|today|"
    r"tomorrow|next|this|for|and)\b|\s*[,.?!]|\s*$)"
    rf"|\b(?:the|an?)\s+event\s+(?!(?:on|of|with|near|this|you|i|we|is|was|will|would|venue|date|time|details?|location|"
    rf"address|starts?|begins?|ends?|takes?|taking|happening|occurring|in|at|for|that|which|there|here|has|had|"
    rf"starting|itself|tickets?|reservation|booking|name|called|named|as|type|category|and|or|but|so|it){_END})"
    rf"((?:{_NAME_WORD})(?:\s+(?:by\s+|of\s+|the\s+)?{_NAME_WORD}){{0,3}}?)"
    r"(?=\s+(?:on|at|in|which|that|is|will|taking|happening|occurring|scheduled|starting|playing|tonight|today|"
    r"tomorrow|next|this|for)\b|\s*[,.?!]|\s*$)"
    # named as the event: "the event is starset and it is at ...", "the event is americo to take place tomorrow"
    rf"|\bevent\s+(?:is|was)\s+(?!(?:{_NOT_NAMED_EVENT}){_END})((?:the\s+)?(?!(?:{_NOT_NAMED_EVENT}){_END})"
    rf"(?:{_NAME_WORD})(?:\s+{_NAME_WORD}){{0,3}}?)"
    r"(?=\s+(?:and|to take place|taking place|on|at|in|which|that|located)\b|\s*[,.?!]|\s*$)"
    # named before what it is, with no article, as found or booked: "i found fidlar event on march 2nd", "two tickets
    # for fidlar event on march 7th"; or as what takes place: "is the russian circles taking place on march 12th"
    rf"|\b(?:found|for|to|see|attend)\s+((?!(?:{_NOT_NAMED_EVENT}|the|an?|this|that|these|those|any|some|another|other|"
    rf"each|every|which|what|me|us|you|them|music|sports?|live|new|more){_END})(?:{_NAME_WORD})(?:\s+{_NAME_WORD}){{0,2}})"
    r"\s+(?:events?|concerts?|show)\s+(?:on|at|in)\b"
    rf"|\b(?:is|was)\s+(the\s+(?:{_NAME_WORD})(?:\s+{_NAME_WORD}){{0,2}}?)\s+(?:taking place|happening|occurring)\s+on\b",
    re.IGNORECASE,
)
"""An event named with what it is, also in lower case ("interested in the carbon leaf event", "a murder city devils
events on march 4th", "the event tuxedo will take place", "an event called taking back sunday on ..."); a kind of
event ("an american football event", "the event begins") is no name."""
_NOT_AN_ATTENDEE = rf"(?!(?:\d|{HOUSE_WORDS}|me|us|him|her|them|my|your|our|people|persons?|adults?|kids|children|"
_NOT_AN_ATTENDEE += r"everyone|concert|show|play|match|that|those|these)\b)"
_TICKETS_FOR_SPAN = re.compile(
    rf"\btickets?\s+(?:for\s+(?:you|me|us|them)\s+)?(?:for|to)\s+(?:see\s+|watch\s+|attend\s+)?(?:the\s+)?({_NOT_AN_ATTENDEE}(?:{_NAME_WORD})"
    rf"(?:\s+(?:in|to|of|and|the|{_NAME_WORD})){{0,4}}?)(?=\s+(?:on|at|which|who|that|taking|happening|occurring|is|"
    r"are|for|starting|scheduled|playing|tonight|today|tomorrow|next|this|you|i|we)\b|\s*[,.?!]|\s*$)",
    re.IGNORECASE,
)
"""What tickets are for, also in lower case ("booking three tickets for alice in glitterland on march 13th", "1 ticket
to belarus to brooklyn which is occurring ..."): an event's name has no head word to find it by."""
_VENUE_IS_SPAN = re.compile(
    rf"\bvenue\s+(?:is|was|will be)\s+(?:at\s+)?(?:the\s+)?(?=[a-z])((?:{_NAME_WORD})(?:\s+{_NAME_WORD}){{0,3}}?)"
    r"(?=\s+(?:on|in|at|and|which|with|for|costing|where)\b|\s*[,.?!]|\s*$)",
    re.IGNORECASE,
)
"""A venue named as the venue, whatever its words ("the venue is strand", "the venue is the nest")."""
_NOT_A_PLACE = (
    r"(?!(?:least|all|once|home|first|moment|end|same|time|times|noon|midnight|night|around|about|your|my|our|their|"
    r"his|her|its|this|that|these|those|what|which|who|one|two|three|four|five|six|seven|eight|nine|ten|eleven|"
    r"twelve|any|some|no|mind|advance|total|person|particular|general|addition|fact|case|row|front|back|line|order|"
    r"there|here|town|stock|a|an|the|me|us|them|all|january|february|march|april|may|june|july|august|september|"
    r"october|november|december|monday|tuesday|wednesday|thursday|friday|saturday|sunday|am|pm|o'clock|p\.?m\.?|"
    rf"a\.?m\.?|least|hand|particular|terms|search|case|mind|charge|seats?|tickets?|rows?|sections?){_END})"
)
_PLACE_WORD = rf"{_NOT_A_PLACE}(?:{_NAME_WORD})"
_EVENT_CUE = re.compile(
    r"\b(?:events?|concerts?|games?|shows?|match|tickets?|seats?|venue|playing|performing|featuring|hosting|"
    r"called|will be at|vs|versus|tak(?:e|es|ing) place|held|happening|occurring)\b"
)
"""A sentence about an event: only there are a place after "at", a city after "in" and a performer read."""
_AT_VENUE_SPAN = re.compile(
    rf"\bat\s+((?:the\s+)?{_PLACE_WORD}(?:\s+(?:of\s+(?:the\s+)?)?{_PLACE_WORD}){{0,4}}?"
    rf"(?:\s+at\s+(?:the\s+)?(?!\d){_PLACE_WORD}(?:\s+{_PLACE_WORD}){{0,3}}?)?)"
    r"(?=\s+(?:on|in|at|for|which|that|and|with|where|is|are|was|starting|scheduled|tonight|today|tomorrow|next|this|"
    r"from|starts?|so|right|okay|please|it|sounds?|interests?|works?|would|does|do|how|what|you|located|the)\b"
    r"|\s*[,.?!]|\s*$)",
    re.IGNORECASE,
)
"""A venue after "at" in a sentence about an event, keeping a leading "the" ("at the greek theatre on march 3rd",
"at kenny's alley", "at 1720 tm"), never a time ("at eight pm") or a day; a room of a larger venue with it ("at
masonic lodge at hollywood forever", "at the appel room at jazz at lincoln center"), never a time after it ("at the
fillmore at 8 pm")."""
_OFFER_AT = re.compile(
    r"\b(?:how about|what about|you can try)\b[^.?!]*\bat\s+(?!\d)|^\W*(?:it's|it is|its|that's|that is)\s+at\s+(?!\d)"
    r"|\b(?:is|are|will be)\s+(?:on\s+\S+\s+\S+\s+)?at\s+(?:the\s+)?(?!\d)(?=\S+(?:\s+\S+){0,4}\s+on\s+(?:\w+\s+)?\d)"
)
"""An offer of something at a place, or where it is ("you can try mandy harvey at blue note napa", "it is at petco
park"): a place after "at" is read there as in talk of an event."""
_CITY_SPAN = re.compile(
    rf"\b(?:in|around)\s+({_PLACE_WORD}(?:\s+{_PLACE_WORD})?)"
    r"(?=\s+(?:on|for|at|this|next|right|please|okay|is|are|was|which|that|and|or|the|today|tomorrow|tonight|when|"
    r"where|so|area|city|i|we|you|do|does|did|would)\b|\s*[,.?!]|\s*$)",
    re.IGNORECASE,
)
"""A city after "in" or "around" in a sentence about tickets or events, of one or two words ("3 tickets on march
10th in anaheim", "events in seattle wa", "around new york")."""
_TRIP_CUE = re.compile(
    r"\b(?:flights?|fly(?:ing)?|trip|travel(?:l?ing|l?ed)?|vacation|visit(?:ing)?|hotels?|house|rooms?|stay(?:ing)?|"
    r"check(?:ing)?\s+(?:in|out)|checked\s+(?:in|out)|go(?:ing|es)?\s+to|head(?:ing|ed)?\s+to|leaving|depart(?:ing|s)?|"
    r"return(?:ing)?|destination|airlines?|restaurant|table|reservation)\b|\bfrom\b[^.?!]{1,40}\bto\b"
)
"""A sentence about a trip, a stay or a table: only there is a place after "going to", "visiting", "in" read as a
city."""
_NOT_A_CITY = (
    r"(?!(?:be|book|buy|need|have|get|make|take|go|stay|leave|see|watch|want|check|use|pay|rent|fly|visit|travel|"
    r"return|come|do|look|find|try|call|eat|meet|play|listen|hear|start|work|attend|arrive|depart|drive|spend|change|"
    r"cancel|ask|tell|give|let|keep|put|send|transfer|reserve|hire|pick|drop|wait|say|sleep|hotel|house|airport|"
    r"station|city|town|place|restaurant|dinner|lunch|breakfast|school|bed|church|vacation|trip|visit|class|"
    r"economy|business|first|premium|walking|driving|person|advance|style|"
    rf"cash|total|\d\w*){_END})"
)
_TRIP_WORDS = rf"{_NOT_A_CITY}{_PLACE_WORD}(?:\s+{_NOT_A_CITY}{_PLACE_WORD}){{0,2}}?"
_TRIP_END = (
    r"(?=\s+(?:on|for|at|this|next|right|please|okay|is|are|was|which|that|and|or|the|today|tomorrow|tonight|when|"
    r"where|so|i|we|you|to|from|with|by|leaving|departing|returning|in|area|city|around|after|before|during|"
    r"checking|check|tickets?|flights?|also|too|as|it|its|it's|can|could|would|will|do|does|did)\b|\s*[,.?!]|\s*$)"
)
_TRIP_CITY_SPAN = re.compile(
    rf"\b(?:(?:going|go|goes|traveling|travelling|travel|heading|headed|flying|fly|trip|flight|flights|moving|off)\s+"
    rf"(?:back\s+)?to|visiting|from|check(?:ing|ed)?\s+in\s+(?:at|to))\s+(?:the\s+city\s+of\s+)?({_TRIP_WORDS}){_TRIP_END}"
    # where a stay or a table is: "a house in kuala lumpur", "the house would be in ny"
    rf"|\b(?:in|around)\s+({_NOT_A_CITY}{_PLACE_WORD}(?:\s+{_NOT_A_CITY}{_PLACE_WORD})?){_TRIP_END}",
    re.IGNORECASE,
)
"""Where a trip goes or comes from, also in lower case ("going to sd", "visiting kuala lumpur", "a trip to london
uk", "checking in at san diego"), or where a stay or a table is ("a house in kuala lumpur"), of one to three words up
to a word of the frame."""
_TRIP_TO_SPAN = re.compile(
    rf"\bfrom\s+(?:the\s+)?{_TRIP_WORDS}\s+to\s+(?:the\s+)?({_TRIP_WORDS}){_TRIP_END}", re.IGNORECASE
)
"""The place a trip goes to, after where it leaves from: "from las vegas to san diego"."""
_APPOINTMENT_SPAN = re.compile(
    rf"\bappointment\b[^.?!]{{0,80}}?\b(?:at|with)\s+(?:the\s+)?"
    r"(?!(?:doctor|dentist|physician|clinic|office|stylist|him|her|them|someone|somebody)\b)"
    rf"((?:{_PLACE_WORD})(?:\s+{_PLACE_WORD}){{0,5}}?)"
    r"(?=\s+(?:on|at|for|next|this|tomorrow|today|and|is|in|please|would|does|do|correct|right)\b|\s*[,.?!]|\s*$)",
    re.IGNORECASE,
)
"""Who or where an appointment is with, also in lower case ("an appointment tomorrow at three pm with drysdale
christine", "your appointment will be at two thirty pm at salon valenti hair nails skin"): a time after "at" is
none."""
_PERFORMER_STOPS = _NAME_STOPS | frozenset(
    _words(
        "okay ok so well sure yes no great alright then now also oh but like actually i we they he she there "
        "here found got see have has your my our their his her its table reservation booking ticket tickets "
        "seat seats venue concert show match who what these those one events also just with of"
    )
)
_PERFORMS = re.compile(r"\s(?:will be (?:playing |performing )?at|(?:is|are) (?:playing|performing|having an event))\b")
"""Who performs is said before these ("the psychedelic furs will be at ...", "murder city devils is having an
event"): a cheap test, then word by word back from it."""


def _performer_spans(said: str, lowered: str, tokens: list[re.Match[str]]) -> list[tuple[int, str]]:
    """Who performs, word by word back from the frame (up to four words) or on from "featuring": a word of talk
    ("okay", "found", "the") is no one's ("okay so jason isbell will be at ...", "featuring alejandro sanz on ...")."""
    out: list[tuple[int, str]] = []
    frames = [m.start() for m in _PERFORMS.finditer(lowered)]
    for k, token in enumerate(tokens):
        if frames and token.end() in frames:
            n = _word_run(said, tokens, k, -1, _PERFORMER_STOPS | _SEARCH_WORDS, 4)
            if n:
                out.append((tokens[k - n + 1].start(), said[tokens[k - n + 1].start() : token.end()]))
        if token.group().lower() == "featuring" and k + 1 < len(tokens):
            n = _word_run(said, tokens, k + 1, 1, _PERFORMER_STOPS, 4)
            if n:
                out.append((tokens[k + 1].start(), said[tokens[k + 1].start() : tokens[k + n].end()]))
    return out


_TITLE_WORD = (
    r"(?!(?:by|songs?|tracks?|album|play|playing|cast|casting|confirm|subtitles|movie|film)\b)[a-z0-9][\w'&.-]*"
)
"""A word of a song's title, which may be any word ("born for greatness", "now that i found you"): the frame around
the title bounds it."""
_TITLE = (
    r"(?!(?:to|listen|listening|hear|hearing|play|playing|about|with|of|on|is|it(?!'?s?\s+(?!(?:on|in|onto|for|by|to|"
    r"from|off|with|at|is|was|will|would|sounds?|again|now|right|too|as|here|there|please|also|instead|then|and|"
    r"or|so|loud|louder|for)\b)[a-z][\w']*\s+[a-z])|this|that|some|any|music|you|a|an|"
    r"me|my|your|something|anything|somebody|someone|movie|film|event|concert|show|game|ride|table|tickets?|we|"
    r"we're|i'm|i'll|you're|would|do|how|what|can|could|shall|should|may|following|then|like|for|at|has|have|"
    r"had|was|were|will|playback|and|named|called|titled|the\s+(?:music|details|following|same|song|track|next)|"
    r"i\s+(?:put|will|should|would|can|could|am|have)|\d+\s+(?:songs?|tracks?|options?|how|what))\b)"
    rf"(?:{_TITLE_WORD})(?:\s+{_TITLE_WORD}){{0,6}}?"
)
"""A song's title in a frame that bounds it: one to seven words, not opening with a word of the frame ("to listen
to ...", "it", "some music")."""
_SONG_OFFER = (
    r"(?:(?:how|what) about(?: (?:listening to|hearing))?|how do you (?:think|feel|consider)(?: (?:of|about))?(?: listening to)?|"
    r"what do you think (?:of|about)|do you like|"
    r"would you like(?: to)?(?: (?:hear|listen to|play))?|would you like (?:listening|to listen) to|shall i play|"
    r"should i play|there is|there's|are you familiar with|(?:what is|what's|what are) your (?:opinion|thoughts|"
    r"view|take|concern)s? (?:on|of|about|with)|tell (?:me )?your (?:thoughts|views?|opinion) (?:on|of|about)|"
    r"(?:may|can|could) i suggest|i (?:would )?(?:suggest|recommend)|you (?:might|may) like|try|"
    r"(?:has|have|found|is) (?:a|the|one|1) song|(?:song|one|option|track)s? (?:which |that )?is|"
    r"songs? (?:called|named|titled|name)|i found (?:\d+|one|two|three|four|five|six|seven|eight|nine|ten)"
    r"(?:\s+(?:songs?|tracks?|options?))?)"
)
_ARTIST = (
    rf"(?-i:[A-Z][\w'&.-]*(?:\s+[A-Z][\w'&.-]*){{0,3}}?)"  # a capitalised name, whatever its words ("In This Moment")
    rf"|(?:the\s+)?(?:{_NAME_WORD})(?:\s+(?:the\s+)?{_NAME_WORD}){{0,3}}?"  # "cage the elephant"
)
_ARTIST_END = r"(?=\s+(?:from|in|off|on|it'?s|it|which|that|and|is|came|called)\b|\s*$|\s*[,.?!])"
_FRAME_WORDS = (
    r"i|we|you|there|it|this|that|here|found|have|got|song|songs|a|an|play|playing|confirm|please|want|like|would|"
    r"how|what|about|is|are|listen|hear|options?|the|event|concert|show|game|movie|film|ride|table|restaurant|venue|"
    r"anything|something|else|directed|movies|films|one"
)
_SONG_BY_SPAN = re.compile(
    rf"\b{_SONG_OFFER}\s+(?:(?:is|this|the|a|one|1|another)\s+){{0,2}}(?:(?:highly rated|popular|great|good|nice)\s+)?"
    rf"(?:(?:song|track|single|tune)\s+)?(?:(?:called|named|titled|name)\s+)?({_TITLE})\s+(?:song\s+)?(?:is\s+)?by\s+"
    rf"({_ARTIST}){_ARTIST_END}"
    rf"|^(?:(?:okay|ok|sure|so|well|yes|yeah|alright)\W+)?((?!(?:{_FRAME_WORDS})\b)(?!\S*\d)(?:{_TITLE_WORD})"
    rf"(?:\s+(?!(?:{_FRAME_WORDS})\b)(?!\S*\d){_TITLE_WORD}){{0,4}}?)\s+(?:is\s+)?by\s+({_ARTIST})"
    r"(?=\s+(?:from|in|off|on)\s|\s*[.?!]?$)"
    rf"|\b(?:songs?|tracks?|music|something|anything|album|(?:it|that) (?:is|was)|it's|that's)\s+by\s+(?!far\b)"
    rf"({_ARTIST})"
    rf"{_ARTIST_END}",
    re.IGNORECASE,
)
"""A song offered with its artist, also in lower case ("how about best shot by jimmie allen from the album ...",
"what is your opinion on all that matters by justin bieber", "slow burn is by kacey musgraves from golden hour"), or
who made the songs asked for ("some songs by lorde")."""
_SONG_ALBUM_SPAN = re.compile(
    rf"\b(?:{_SONG_OFFER}|(?:the|with|a) (?:song|track|single))\s+(?:(?:is|this|the|a|one|1|another)\s+){{0,2}}"
    rf"(?:(?:song|track|single|tune)\s+)?(?:(?:called|named|titled)\s+)?({_TITLE})\s+(?:from|off|on|in)\s+(?:(?:the|his|her|their)\s+)?"
    r"(?:(?!(?:from|off|on|in)\b)\w+\s+){0,3}?album\b"
    # the artist before the title: "how about the ben rector song love like this from the magic album"
    rf"|\b(?:{_SONG_OFFER})\s+(?:the\s+)?((?:{_NAME_WORD})(?:\s+(?!with\b){_NAME_WORD}){{0,2}}?)\s*(?:'s|song)\s+"
    rf"(?:song\s+)?({_TITLE})\s+(?:from|off|on|in)\s+(?:(?:the|his|her|their)\s+)?(?:(?!(?:from|off|on|in)\b)\w+\s+)"
    r"{0,3}?album\b",
    re.IGNORECASE,
)
"""A song offered from its album, without its artist ("how about buzzcut season from her album pure heroine",
"the track I Want You from the album We Need To Talk")."""
_DEVICE_SAID = (
    r"(?:the\s+|your\s+|my\s+|any\s+)?(?:(?!(?:on|in|the|to)\b)[a-z]+\s+){0,3}?"
    r"(?:speakers?|tvs?|television|device|display|telly)\b"
)
_TALK_WORDS = frozenset(
    _words(
        "yes yeah yep yup no nope nah okay ok sure alright right well so now then oh um uh er ah hmm mhm actually "
        "thanks thank you please correct fine great cool perfect sorry"
    )
)
"""Words of an answer, a filler or a thanks: a span of them alone names nothing ("no, on the kitchen speaker")."""
_ANSWER_OPENER = "|".join(sorted(_TALK_WORDS - {"thank", "you", "please"}))
"""What a turn may open with before a title said with where it plays ("nah, cups on the kitchen speaker")."""
_SONG_PLAY_SPAN = re.compile(
    rf"\b(?:play|playing|hear|listen to|listening to|cast|stream|put on)\s+(?:the\s+(?:song|track|music)\s+)?({_TITLE})"
    rf"(?:\s+(?:by|from)\s+({_ARTIST}))?"
    rf"\s+(?:(?:is\s+)?(?:now\s+)?(?:playing|played|cast|streaming)\s+)?(?:on|onto|via)\s+{_DEVICE_SAID}"
    rf"|\b(?:confirm(?:ing)?|you want|you'd like|you would like|would be)\s+(?:that\s+)?(?:playback\s+of\s+)?"
    r"(?:the\s+(?:details|following)\s+)?(?:the\s+(?:song|track)\s+)?"
    rf"({_TITLE})\s+(?:(?:is\s+)?(?:now\s+)?(?:playing|played|cast|streaming)\s+(?:on\s+|onto\s+|via\s+)?|"
    r"(?:that\s+is\s+)?(?:on|onto|via)\s+)"
    rf"{_DEVICE_SAID}"
    rf"|\b(?:play|hear|listen to|cast|stream)\s+(?:the\s+(?:song|track)\s+)?({_TITLE})\s+by\s+({_ARTIST})"
    rf"(?=\s+for me\b|{_ARTIST_END[3:]}"
    # a title, then where: "cups on the kitchen speaker", "best shot that is on the bedroom speaker"
    rf"|^(?:(?:{_ANSWER_OPENER})\W+)*((?!(?:{_FRAME_WORDS})\b)(?!\S*\d)(?:{_TITLE_WORD})"
    rf"(?:\s+(?!(?:{_FRAME_WORDS})\b)(?!\S*\d){_TITLE_WORD}){{0,4}}?)\s+(?:(?:that\s+)?is\s+)?(?:(?:now\s+)?playing\s+)?"
    rf"(?:on|onto|via)\s+{_DEVICE_SAID}"
    rf"|\bplay\s+(?:it\s+)?on\s+{_DEVICE_SAID}\s+(?:the\s+(?:song|track)\s+)?((?!in\b){_TITLE})\s*(?:[.?!]|$|(?=\s+i'm right\b))",
    re.IGNORECASE,
)
"""A song asked for or confirmed by where it plays, also in lower case ("you want to play born for greatness on the
tv", "please confirm superficial love is now playing on the bedroom speaker")."""
_SONG_PLAY_ALONE = re.compile(
    rf"^(?:(?:please|so|okay|ok|now|no|yes|yeah)\W+)*(?:(?:can|could|will|would) you\s+|i (?:want|would like|'d like) to\s+)?"
    rf"(?:play|listen to|hear)\s+(?:the\s+(?:song|track)\s+)?"
    rf"((?!.*\b(?:on|in)\s+(?:the|my|your)\b){_TITLE})(?:\s+for me)?(?:\s+(?:please|instead))?\W*$",
    re.IGNORECASE,
)
"""A song asked for with nothing else said ("play fresh eyes for me", "Can you play Try To Fight It?")."""
_FILM_SPAN = re.compile(
    rf"\b(?:titled|entitled)\s+({_TITLE})(?=\s+(?:do|would|is|which|that|and|it|with|by|from|directed|starring|"
    r"for)\b|\s*[,.?!]|\s*$)"
    rf"|\bplay(?:ing)?\s+(?:the\s+(?:movie|film)\s+)?({_TITLE})\s+(?:with|without)\s+(?:[a-z]+\s+)?subtitles\b"
    rf"|\bthe\s+(?:movie|film)\s+({_TITLE})\s+(?:will|is going to)\s+(?:start|begin|play)"
    rf"|\b(?:found|have|there (?:is|are)|there's)\b[^.?!]{{0,40}}?\bhow about\s+({_TITLE})\s*[.?!]?\s*$"
    rf"|\b(?:directed by|by (?:the )?(?:film |movie )?director|director (?:(?:i|we) (?:like|love|prefer|want) )?is)\s+"
    rf"(?!(?:a|an|the|my|your|not|also|very|really|great|good)\b)((?:{_NAME_WORD})(?:\s+{_NAME_WORD}){{0,2}}?)"
    r"(?=\s+(?:would|is|and|which|that|i|it|from|in|with|please|for)\b|\s*[,.?!]|\s*$)",
    re.IGNORECASE,
)
"""A film named in lower case by its frame ("one titled the upside", "play hotel mumbai without subtitles", "the
film ... will start", "i found 1, how about ..."), and who directed it ("directed by james kent")."""
_FILM_CUE = ("titled", "subtitles", "movie", "film", "how about", "directed by", "director")
_NOT_A_TITLE = frozenset(
    {"the", "a", "an", "song", "songs", "track", "tracks", "music", "it", "this", "that", "them", "one", "something",
     "anything", "some", "same", "another", "any", "my", "your", "me", "again", "now", "please", "also", "too", "for",
     "available", "all", "of", "you", "somebody", "someone", "instead"}
)  # fmt: skip
_GENRE_WORDS = frozenset({*GENRES, "song", "songs", "music", "track", "tracks", "some", "the", "a", "any", "like"})
"""A genre said with what it describes ("some pop music") is no title either."""


_LIKING = frozenset(_words("love loves loved enjoy enjoys prefer adore play hear listen some any more what"))
_ARTIST_WORD = (
    rf"(?!(?:{'|'.join(sorted(_PERFORMER_STOPS | _GENRE_WORDS | _LIKING, key=len, reverse=True))})(?![\w&.-]))"
    rf"{_NOT_A_GENRE}[a-z0-9][\w'&.-]*"
)
"""A word of who made a song, said before it (a word of talk before "'s" too: "there's", "let's"): no word of talk, of an opinion or of a genre ("the new song", "that pop
song")."""
_ARTIST_SONG_SPAN = re.compile(
    # who made it, then the song: "that jennifer lopez song dance again", "the morgan wallen song whiskey glasses from
    # his album ...", "camila cabello's real friends on the album camila"
    rf"\b(?:the|that|this|a)\s+((?:{_ARTIST_WORD})(?:\s+{_ARTIST_WORD}){{0,2}}?)\s+(?:song|track|single)\s+"
    rf"(?:called\s+|named\s+|titled\s+)?({_TITLE})(?=\s+(?:from|off|on|in|by|be|is|please|for)\b|\s*[,.?!]|\s*$)"
    rf"|(?<![\w'])((?:{_ARTIST_WORD})(?:\s+{_ARTIST_WORD}){{0,2}}?)\s*'s\s+(?:(?:song|track|single)\s+)?({_TITLE})"
    r"(?=\s+(?:from|off|on|in)\s+(?:(?:the|his|her|their)\s+)?album\b)"
    # who made it, any words between "by" and the album's frame: "the thunder rolls by all that remains from the album"
    rf"|\bby\s+({_BY_WHOM})\s+(?:from|off|on|in)\s+(?:the|his|her|their)\s+album\b"
    # who made the songs asked for: "i like shailesh premi's songs"
    rf"|(?<![\w'])((?:{_ARTIST_WORD})(?:\s+{_ARTIST_WORD}){{0,2}}?)\s*'s\s+(?:songs|tracks|music|hits|albums)\b"
    # the song, then "is by" who made it: "the song you requested is by jason aldean"
    rf"|\b(?:song|track|single|tune)\b[^.?!]{{0,40}}?\b(?:is|was)\s+by\s+({_ARTIST}){_ARTIST_END}",
    re.IGNORECASE,
)
"""Who made a song said with it before the title or as whose songs they are, also in lower case."""
_ARTIST_IS_SPAN = re.compile(
    # named as who made it: "janob rasul is the artist", "the singer is adele", "ariana grande has an album titled ..."
    rf"(?:^|[.,!?]\s*)(?:(?:okay|ok|so|well|yes|yeah|and)\W+)*((?:{_ARTIST_WORD})(?:\s+{_ARTIST_WORD}){{0,3}}?)\s+"
    r"(?:(?:is|was)\s+the\s+(?:artist|singer|band|performer|composer)\b|(?:has|had|released)\s+an?\s+(?:new\s+)?album\b)"
    rf"|\bthe\s+(?:artist|singer|band|performer)\s+(?:is|was)\s+({_ARTIST}){_ARTIST_END}",
    re.IGNORECASE,
)
_ARTIST_CUE = ("artist", "singer", "band", "performer", "composer", "album")


def _song_spans(said: str) -> list[str]:
    """Songs and their artists named in ``said`` in the frames a song is offered, asked for or confirmed in (see
    above), also in lower case; a "title" of words that name no song ("the song", "it") is no title."""
    out: list[str] = []
    for pattern in (_SONG_BY_SPAN, _SONG_ALBUM_SPAN, _ARTIST_SONG_SPAN, _SONG_PLAY_SPAN, _SONG_PLAY_ALONE):
        if pattern is _SONG_PLAY_ALONE and out:
            break
        for m in pattern.finditer(said):
            for text in m.groups():
                text = (text or "").rstrip(".,!?")
                words = set(text.lower().split())
                if text and not words <= _NOT_A_TITLE and not words <= _GENRE_WORDS and text not in out:
                    out.append(text)
    return out


def _device_spans(said: str) -> list[tuple[int, str, str]]:
    """Where a song plays, as a song's request or confirmation says it ("please confirm: play cups on the kitchen
    speaker", "you want to hear tempo on the tv"), in normal form ("kitchen speaker", "tv"); not a device said
    in other talk ("the tv is too loud")."""
    spans = [m.span() for pattern in (_SONG_PLAY_SPAN, _PLAY_IT_ON) for m in pattern.finditer(said)]
    if not spans:
        return []
    return [
        (value.start, "device", value.normalised)
        for value in values_in(said)
        if value.kind == "device" and any(start <= value.start < end for start, end in spans)
    ]


_PLAY_IT_ON = re.compile(
    rf"\b(?:play|playing|cast|stream|put)\s+(?:it|this|that|them|the\s+(?:song|track|music))\s+"
    rf"(?:(?:on|onto|via|through|in)\s+){_DEVICE_SAID}",
    re.IGNORECASE,
)
"""The song under way asked for where it plays ("play it on the tv", "please play the song on my kitchen device")."""


def _named_spans(said: str, taken: Iterable[str]) -> list[tuple[str, str]]:
    """Venues, genres, albums, games, events, performers and cities said in ``said`` that no value reader sees (in
    lower case above all), as spans said, in the order said, unless a value already read holds them; of two
    readings of the same words the longer is kept ("blue jays vs orioles" over "jays vs orioles", "alice in
    glitterland" over "alice", "the irenic" over "irenic"): the values line leaves out a value inside another."""
    held = [t.lower() for t in taken]
    kept: list[tuple[int, str, str]] = []
    for start, kind, span, low in _spans_read(said):  # the longer reading first
        if any(low in h for h in held):
            continue
        kept.append((start, kind, span))
        held.append(low)
    return [(kind, span) for _, kind, span in sorted(kept)]


@lru_cache(maxsize=8192)
def _spans_read(said: str) -> tuple[tuple[int, str, str, str], ...]:
    """What :func:`_named_spans` reads of ``said`` alone, before the values already read hold any of it out: (start,
    kind, span, the span in lower case), the longer first. Kept per sentence (a sentence is read again each time a
    line of its turn is built, and read ahead between turns: :meth:`Compactor._read_ahead`)."""
    found: list[tuple[int, str, str]] = []
    patterns: list[tuple[str, re.Pattern[str]]] = [
        ("name", LOWER_VENUE),
        ("genre", _GENRE_SPAN),
        ("name", _ALBUM_SPAN),
        ("event", _EVENT_SPAN),
        ("tickets", _TICKETS_FOR_SPAN),
        ("name", _VENUE_IS_SPAN),
    ]
    # "the Angels like, Vs Mariners", "at um masonic lodge", "the regent theater dtla um next friday": a filler
    # is no word of a name (a hesitation before or after one was read as its first or last word)
    said = without_fillers(said)
    lowered = said.lower()
    tokens = list(_TOKEN.finditer(said)) if "vs" in lowered or "versus" in lowered else []
    found += [(start, "event", text.rstrip(".")) for start, text in _game_spans(said, tokens)]
    if any(cue in lowered for cue in _FRAMED_CUE):
        patterns.append(("genre", _GENRE_FRAMED))
    if " by " in lowered and not _EVENT_CUE.search(lowered):
        patterns.append(("name", _BY_ALBUM_SPAN))
    if "appointment" in lowered:
        patterns.append(("event", _APPOINTMENT_SPAN))
    if any(cue in lowered for cue in _ARTIST_CUE):
        patterns.append(("name", _ARTIST_IS_SPAN))
    if _TRIP_CUE.search(lowered):  # a city a trip goes to or a stay or a table is in
        patterns += [("event", _TRIP_CITY_SPAN), ("event", _TRIP_TO_SPAN)]
    if _EVENT_CUE.search(lowered):  # a place after "at", a city after "in", who performs: in talk of an event only
        patterns += [("venue", _AT_VENUE_SPAN), ("event", _CITY_SPAN)]
        if "featuring" in lowered or _PERFORMS.search(lowered):
            tokens = tokens or list(_TOKEN.finditer(said))
            found += [(start, "event", text.rstrip(".")) for start, text in _performer_spans(said, lowered, tokens)]
    elif _OFFER_AT.search(lowered):  # or an offer of one ("how about celine dion at chase center experience")
        patterns.append(("venue", _AT_VENUE_SPAN))
    for kind, pattern in patterns:
        for m in pattern.finditer(said):
            group = m.lastindex or 1
            text = m.group(1) or m.group(group)
            if text:
                found.append((m.start(group if m.group(1) is None else 1), kind, " ".join(text.split()).rstrip(".,")))
    if any(cue in lowered for cue in _FILM_CUE):
        for m in _FILM_SPAN.finditer(said):
            group = m.lastindex or 1
            found.append((m.start(group), "title", " ".join(m.group(group).split()).rstrip(".,?!")))
    found += [(max(said.find(text), 0), "song", " ".join(text.split())) for text in _song_spans(said)]
    found += _device_spans(said)
    out: list[tuple[int, str, str, str]] = []
    for start, kind, span in sorted(found, key=lambda f: -len(f[2])):  # the longer reading first
        low = span.lower()
        if _NOT_A_NAME.fullmatch(low) or _TALK_WORDS.issuperset(low.replace(",", " ").split()):
            continue
        # the readers of an event's words: a word of the search, or of a date, is no name
        if kind in ("event", "venue"):
            if _searched(low, venue=kind == "venue") or _DATE_WORD.search(low) or _WHEN_ONLY.fullmatch(low):
                continue
            kind = "name"
        elif kind == "tickets":  # "tickets for the march 10th show", "for the friday concert": which day, not what
            if _DATE_WORD.search(low) or _WHEN_ONLY.fullmatch(low):
                continue
            kind = "name"
        elif kind == "title":  # "how about tomorrow", "how about it": a day or a word of talk is no film
            if _DATE_WORD.search(low) or _WHEN_ONLY.fullmatch(low) or set(low.split()) <= _NOT_A_TITLE:
                continue
            kind = "name"
        elif kind == "song":
            kind = "name"
        out.append((start, kind, span, low))
    return tuple(out)


_SEARCH_WORDS = frozenset(
    _words(
        "events event games concerts shows matches match dates date finding looking searching interested type "
        "types kind kinds sort category involves preferred other more interesting music sports attending attend "
        "going visiting"
    )
)
"""Words of a search for events ("interested in finding dates for events", "the dates of other events"): a span
read with one of them in talk of an event is no name."""


def _searched(span: str, *, venue: bool = False) -> bool:
    """Whether a span read in talk of an event holds a word of the search: "music" inside a name is the name's
    ("boston music room", "the music hall"; last in a venue's after "at": "at cornerstone craft beer live music"),
    first it is what is searched for ("music events")."""
    words = span.split()
    found = _SEARCH_WORDS.intersection(words)
    return bool(found) and (found != {"music"} or words[0] == "music" or (words[-1] == "music" and not venue))


_DATE_WORD = re.compile(
    r"\b(?:\d+(?:st|nd|rd|th)|january|february|march|april|june|july|august|september|october|november|december)\b"
)
_WHEN_ONLY = re.compile(
    r"(?:(?:this|next|the|(?:mon|tues|wednes|thurs|fri|satur|sun)day|tonight|tomorrow|today|weekend|night|evening|"
    r"afternoon|morning|late|early|matinee)\s*)+(?:shows?|concerts?|games?|events?|performances?|gigs?|matches)?"
)
"""A day and a kind of event, no name ("the friday show", "tomorrow night's game"): when, not what."""
_NOT_A_NAME = re.compile(r"(?:the\s+)?(?:\d+(?:st|nd|rd|th)?|an?|the)(?:\s+\d+(?:st|nd|rd|th)?)*")
"""Digits alone ("at 8"), or "the" alone: no name."""


def _on_days(said: str, days: str) -> bool:
    """Whether ``days`` is said as how many dates a search found ("the event is on 3 days", "listed for just 1
    day"), not as how long something lasts."""
    return re.search(rf"\b(?:on|listed for(?: just)?)\s+{re.escape(days)}\b", said) is not None


def _kinded_spans(digest: Digest) -> tuple[tuple[str, str], ...]:
    """The values of a durable line as its booking's values line says them: as tagged (a reference with its
    label, "ticket 8842"; an amount; digits said one by one, joined), but a time as said ("seven thirty
    pm"), a day in the words said ("next monday"); a number of one or two digits alone ("i found 10 songs")
    is left out, it says nothing without its words."""
    said = {value_tag(v): v for v in digest.said}
    lowered = " ".join(digest.key).lower()
    out: list[tuple[str, str]] = []
    for kind, tag in _kinded_tags(digest):
        value = said.get(tag)
        if kind == "time" and value is not None:
            tag = " ".join(value.text.split())
        elif kind == "date":
            tag = tag.split(": ")[0]
        elif kind == "number" and len(re.sub(r"\D", "", tag)) < 3:
            continue
        elif kind == "duration" and value is not None and _on_days(lowered, value.text.lower()):
            continue  # "i found the event on 7 days": how many dates a search found, nothing booked
        if (kind, tag) not in out:
            out.append((kind, tag))
    out.extend(_names_of((" ".join(digest.key), *digest.content), [v.text for v in digest.said]))
    return tuple(out)


def _names_of(sentences: Iterable[str], taken: list[str]) -> list[tuple[str, str]]:
    """:func:`_named_spans` of each of ``sentences`` (all those of a turn, not only the ones that made it durable: the
    agent's "I found 10. How about ... by ...?" names the song in its second), each name once. The durable sentences
    are read together, as one text (a game's teams and what the tickets are for: "El Salvador Vs Haiti. Your event"
    gives both "Salvador Vs Haiti. Your" and "El Salvador Vs Haiti"; read alone, the sentence's "Salvador Vs Haiti."
    would hold the whole name out)."""
    out: list[tuple[str, str]] = []
    held = list(taken)
    for sentence in sentences:
        for named in _named_spans(sentence, held):
            out.append(named)
            held.append(named[1])
    return out


def _tag_value(tag: str) -> str:
    """The part of a tag that, found in the quoted sentence, makes the tag redundant."""
    return tag.split()[-1].strip('"').lower()


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _utc(at: datetime | float | int) -> datetime:
    if isinstance(at, int | float):
        return datetime.fromtimestamp(at, UTC)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)

"""The caller's history as one call sees it: the working set, the entity graph, earlier open matters.

Loaded in the background once the caller is known and the call's brief served (and again when a link changes who the caller
is); turns of this call join the working set at once, before and after the load. A failed load
is logged where it is awaited, and the call goes on with what it has.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import NamedTuple

import numpy as np

from ..deadline import retrieve_quietly
from ..errors import describe
from ..policy import MemoryPolicy
from ..recall.episodes import build_episode
from ..recall.graph import CallerGraph
from ..recall.presets import RecallPreset
from ..recall.query import Question, pick_episodes, settled_terms, understand
from ..recall.ranking import EpisodeContext, ExpandHook, WordScores, prepare, rank, refresh, score_words
from ..recall.working_set import WorkingSet
from ..store.base import Backend
from ..values import SINGLE_VALUED, Episode, Hit, Matter, MemoryRow
from .enrich import resolved_matters

__all__ = ["CallHistory", "RecallPlan"]

logger = logging.getLogger(__name__)

BRIEF_FIRST_S = 0.25
"""A load waits this long at most for the call's brief (the preload) to be served: the brief is on the
greeting's path, the history on the first recall's, and on a store of one connection the history's
transaction would hold it while the brief's queries wait."""

REFRESH_AFTER_S = 0.05
"""Until the call's first recall, turns that joined the working set (or got their vectors) are taken into
its indexes this long after the last change, on the event loop, not by that recall: it comes after the
greeting and the caller's question, and what it would otherwise do first (the new turns' words, the
layout, the vector matrix and its norms, what the check for later statements reads of each turn) does
not depend on the question. After it, each recall takes in what joined since, as before: a refresh per
turn for the whole call would cost the call more CPU than its recalls save."""


class RecallPlan(NamedTuple):
    """One recall's work done before its query's vector arrives (``CallHistory.plan``)."""

    working: WorkingSet  # the working set it was made on (a load replaces it)
    current: Episode  # this call so far
    policy: MemoryPolicy
    expand: ExpandHook | None
    episodes: EpisodeContext | None
    words: WordScores


class CallHistory:
    """The working set, graph and earlier open matters of one call's caller."""

    def __init__(self, call_id: str, call_rows: Sequence[MemoryRow]) -> None:
        self.call_id = call_id
        self.working = WorkingSet()
        self.graph = CallerGraph()
        self.earlier_open: list[Matter] = []  # open matters of earlier calls, to close when resolved
        self.episodes: dict[str, Episode] = {}  # earlier calls' episodes, by call id
        self._settled: dict[str, tuple[Episode, frozenset[str]]] = {}  # of those episodes: settled_terms
        self.replaced_values: frozenset[str] = frozenset()  # the caller's replaced fact values, lower case
        self.current_values: frozenset[str] = frozenset()  # the current values of those facts, lower case
        self._call_rows = call_rows  # this call's rows, in order (owned by the call; read here)
        self._task: asyncio.Task[None] | None = None
        self._brief_served = asyncio.Event()
        self._region = "US"  # the caller's default region, as of the last load
        self._refresh: asyncio.TimerHandle | None = None  # a refresh of the indexes due (see ``changed``)
        self._recalled = False  # a recall has been planned: no more refreshes (see REFRESH_AFTER_S)

    def brief_served(self) -> None:
        """The call's brief was served (or given up): a load waiting for it goes on."""
        self._brief_served.set()

    def add(self, row: MemoryRow) -> None:
        """A turn of this call joins the working set at once (its indexes soon: ``changed``)."""
        self.working.extend([row])
        self.changed()

    def changed(self, *, vectors: bool = False) -> None:
        """Rows joined the working set (``vectors``: some got their vectors): until the call's first recall,
        take them into its indexes ``REFRESH_AFTER_S`` after the last change, while no one waits.
        Nothing without a running event loop; one due while a load is under way is left to the load
        (it prepares the set it loads, then calls this)."""
        if vectors:
            self.working.mark_vectors_changed()
        if self._recalled:
            return  # each recall takes in what joined since (see REFRESH_AFTER_S)
        if self._refresh is not None:
            self._refresh.cancel()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._refresh = None
            return
        self._refresh = loop.call_later(REFRESH_AFTER_S, _take_in, weakref.ref(self))  # the call may be dropped

    def take_in(self) -> None:
        """Take the rows that joined the working set into its indexes now (see ``changed``)."""
        if self._refresh is not None:
            self._refresh.cancel()
        self._refresh = None
        if self._task is not None and not self._task.done():
            return  # the load prepares the set it loads
        try:
            refresh(self.working, region=self._region)
        except Exception as exc:  # the next recall takes the rows in as it always could
            logger.warning("the working set's indexes were not refreshed: %s", describe(exc))

    def load(self, backend: Backend, customer_id: str, caller_id: str, policy: MemoryPolicy) -> None:
        """Start loading ``caller_id``'s history in the background (replacing what is loaded)."""
        self._region = policy.default_region
        work = self._load(backend, customer_id, caller_id, policy.working_set_limit, policy.default_region)
        self._task = asyncio.create_task(work, name=f"memory-history-{self.call_id}")
        self._task.add_done_callback(retrieve_quietly)

    async def ready(self) -> None:
        """Wait for a load under way; its failure is logged here, and the call goes on without it."""
        if self._task is None:
            return
        try:
            await asyncio.shield(self._task)
        except Exception as exc:
            logger.error("could not load the caller's memories: %s", describe(exc))
            self._task = None

    def cancel(self) -> None:
        if self._refresh is not None:
            self._refresh.cancel()
            self._refresh = None
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def forget(self) -> None:
        """The caller was deleted: nothing of theirs stays in this call's memory."""
        self.cancel()
        self._task = None
        self.working = WorkingSet()
        self.graph = CallerGraph()
        self.earlier_open = []
        self.episodes = {}
        self._settled = {}
        self.replaced_values = self.current_values = frozenset()

    async def _load(self, backend: Backend, customer_id: str, caller_id: str, limit: int, region: str) -> None:
        if not self._brief_served.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._brief_served.wait(), BRIEF_FIRST_S)
        loaded = await backend.load_history(customer_id, caller_id, limit=limit)  # one transaction on Postgres
        rows, matters, stored, facts = loaded.memories, loaded.open_matters, loaded.episodes, loaded.facts
        graph = CallerGraph()
        graph.add(loaded.edges)
        self.graph = graph
        self.earlier_open = [m for m in matters if m.call_id != self.call_id]
        known = {(r.call_id, r.seq) for r in rows}
        working = WorkingSet([*rows, *(r for r in self._call_rows if (r.call_id, r.seq) not in known)])
        episodes = {e.call_id: e for e in stored if e.call_id != self.call_id}
        settled: dict[str, tuple[Episode, frozenset[str]]] = {}

        def prepare_all() -> None:  # off the event loop, before the first recall
            prepare(working, region=region)
            for call_id, first in _calls_without_episode(rows, episodes, self.call_id).items():
                episodes[call_id] = build_episode(call_id, first, rows, region=region)
            # what a question naming a call by its words reads of each earlier call (a few ms): the words it settled
            # and those of its turns
            for call_id, episode in episodes.items():
                settled[call_id] = (episode, settled_terms(episode))
                _call_terms(working, call_id)

        await asyncio.to_thread(prepare_all)
        present = {(r.call_id, r.seq) for r in working.rows}
        working.extend(r for r in self._call_rows if (r.call_id, r.seq) not in present)  # recorded meanwhile
        single = [f for f in facts if f.attribute in SINGLE_VALUED]
        current = {f.value.lower() for f in single if f.current}
        self.current_values = frozenset(current)
        self.replaced_values = frozenset(f.value.lower() for f in single if not f.current) - current
        self.episodes = episodes
        self._settled = settled
        self.working = working
        self.changed(vectors=True)  # turns recorded, or given their vectors, while it was prepared

    # -- earlier open matters ------------------------------------------------------------------------

    def resolved_by(self, resolutions: Iterable[tuple[MemoryRow, tuple[str, ...]]]) -> list[Matter]:
        """Open matters of earlier calls that turns of this call say are done (see ``resolved_matters``)."""
        return resolved_matters(self.earlier_open, resolutions)

    async def planned(
        self,
        query: str,
        preset: RecallPreset,
        *,
        now: datetime,
        current: Callable[[], Episode],
        policy: MemoryPolicy,
    ) -> RecallPlan:
        """Once a load under way is done (``ready``), the plan of a recall of ``query`` (``plan``;
        ``current()``: this call so far)."""
        self._recalled = True
        await self.ready()
        return self.plan(query, preset, now=now, current=current(), policy=policy)

    def plan(
        self, query: str, preset: RecallPreset, *, now: datetime, current: Episode, policy: MemoryPolicy
    ) -> RecallPlan:
        """What ranking ``query`` needs before its vector: the question read, the calls it points at,
        the words scored; a recall makes it while its query is being embedded."""
        working, graph = self.working, self.graph
        expand = graph.expansion(working.rows, query) if preset.expand_candidates and len(graph) else None
        episodes = self.episode_context(understand(query, now), current, region=policy.default_region)
        words = score_words(working, query, preset=preset, now=now, episodes=episodes)
        return RecallPlan(working, current, policy, expand, episodes, words)

    def rank(
        self,
        query: str,
        vector: np.ndarray | None,
        preset: RecallPreset,
        limit: int,
        *,
        now: datetime,
        current: Episode | None = None,
        policy: MemoryPolicy | None = None,
        plan: RecallPlan | None = None,
    ) -> list[Hit]:
        """The caller's memories that best match ``query`` (and its vector), this call's included;
        with a ``plan`` of this query (or ``current``, this call so far, and ``policy`` to make one),
        episode by episode and the graph too; by words and vectors alone without."""
        working = self.working
        if plan is not None and plan.working is not working:  # a load replaced the working set meanwhile
            current, policy, plan = plan.current, plan.policy, None
        if plan is None:
            if current is None or policy is None:
                return rank(working, query, vector, preset=preset, limit=limit, now=now)
            plan = self.plan(query, preset, now=now, current=current, policy=policy)
        return rank(
            working,
            query,
            vector,
            preset=preset,
            limit=limit,
            now=now,
            expand=plan.expand,
            episodes=plan.episodes,
            words=plan.words,
        )

    def episode_context(self, question: Question, current: Episode, *, region: str) -> EpisodeContext | None:
        """What ranking needs to answer ``question`` episode by episode (``current``: this call so far),
        and the caller's replaced facts; ``None`` when there is neither."""
        if not question.understood and not self.replaced_values:
            return None
        episodes = [*sorted(self.episodes.values(), key=lambda e: e.started_at), current]
        weights = (
            pick_episodes(
                question,
                episodes,
                current_call_id=current.call_id,
                call_terms=self._call_terms,
                episode_terms=self._settled_terms,
            )
            if question.understood
            else {}
        )
        return EpisodeContext(
            question,
            weights,
            {e.call_id: e for e in episodes},
            self.replaced_values,
            self.current_values,
            region,
        )

    def _settled_terms(self, episode: Episode) -> frozenset[str]:
        """``settled_terms`` of an earlier call's episode, as computed while the history loaded."""
        known = self._settled.get(episode.call_id)
        return known[1] if known is not None and known[0] is episode else settled_terms(episode)

    def _call_terms(self, call_id: str) -> frozenset[str]:
        return _call_terms(self.working, call_id)

    def closed(self, matters: Sequence[Matter]) -> None:
        """These matters were closed in storage: they are no longer open."""
        self.earlier_open = [m for m in self.earlier_open if m not in matters]


def _call_terms(working: WorkingSet, call_id: str) -> frozenset[str]:
    """The index terms of one call's rows in ``working`` (kept until the call gets another row)."""
    working.sync()
    return working.per_call(
        call_id, "terms", lambda: frozenset().union(*(working.terms_of(int(i)) for i in working.rows_of(call_id)))
    )


def _take_in(history: weakref.ref[CallHistory]) -> None:
    found = history()
    if found is not None:
        found.take_in()


def _calls_without_episode(
    rows: Sequence[MemoryRow], episodes: dict[str, Episode], current: str
) -> dict[str, datetime]:
    """Earlier calls among ``rows`` that have no stored episode (stored before episodes were kept,
    or whose close did not finish), with their first row's time."""
    firsts: dict[str, datetime] = {}
    for row in rows:
        if row.call_id != current and row.call_id not in episodes:
            firsts[row.call_id] = min(row.at, firsts.get(row.call_id, row.at))
    return firsts

"""Scoring one probe's hits, and the tallies of a whole replay.

Definitions (docs/sgd.md says the same):

- A hit *carries* a value when the turn it returns is annotated with it (the SGD actions of that
  turn, see :mod:`bench.sgd.data`); hits are mapped back to the replayed turns by (call, text).
- ``found@5``: the expected value, normalised (case, punctuation, spoken digits), is written in one of
  the top 5 hits that belong to the caller (another caller's turn saying the same is no answer).
- ``right call``: a top-5 hit from the target call carries the expected value.
- **pass** = found@5 and right call.
- ``first of kind``: the first hit carrying any value of the asked group carries the expected one,
  from the target call (this catches "returns the older train reference").
- ``update ordered`` (probes whose group was changed during the target call): a hit from the target
  call carrying the current value is in the top 5, and no hit carrying only a former value of the
  group ranks above it.
- ``brief answers``: the preload text (the brief the agent starts the call with) contains the value.
- ``filler hit``: a hit whose words are all fillers/backchannels/pleasantries (``vocab.FILLER_WORDS``).
- Failure categories of a probe that did not pass, first that applies: ``other call, same kind`` (a
  hit carrying a value of the group from another of the caller's calls ranks above every hit from
  the target call), ``right call, wrong turn`` (hits from the target call, none carrying the value),
  ``filler`` (a filler among the hits), ``not found``.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench import eval_scenarios as es
from bench.sgd import vocab
from bench.sgd.build import SgdSet, ValueProbe
from bench.sgd.data import TurnTruth

LIMIT = 5
FAILURES = ("other call, same kind", "right call, wrong turn", "filler", "not found")
# Why a knowledge-update probe was not ordered, first that applies (docs/sgd.md).
UPDATE_FAILURES = (
    "former value ranked first",  # a hit carrying only a former value ranks above the current value's
    "current absent, former shown",  # no current value from the asked call in the top 5, a former one is
    "current absent, other call first",  # neither; a hit of another call carrying the group ranks first
    "current absent",  # neither, and no other call's value of the group either
)


def squash(text: str) -> str:
    """eval_scenarios' normalisation (fillers dropped, spoken digits as digits), with a word said twice in a
    row said once ("in the the afternoon"), full hours without minutes ("11:00", "eleven o'clock": "11") and
    digit groups joined ("6 30 pm" and "630 pm" compare equal)."""
    text = re.sub(r"\b(\d{1,2})[: ]00\b", r"\1", text)  # "11:00", "11 00" (unformatted): "11"
    text = re.sub(r"\bo\W{0,2}clock\b", " ", text, flags=re.IGNORECASE)
    words = es.norm(text).split()
    words = [w for i, w in enumerate(words) if (i == 0 or w != words[i - 1]) and w != "clock"]
    return re.sub(r"(?<=\d) (?=\d)", "", " ".join(words))


def says(text: str, surfaces: Sequence[str]) -> bool:
    """Whether ``text`` writes one of ``surfaces`` as whole words, as written or normalised."""
    if any(es.mentions(text, s) for s in surfaces):
        return True
    haystack = f" {squash(text)} "
    return any(f" {squash(s)} " in haystack for s in surfaces if squash(s))


def is_filler(text: str) -> bool:
    words = re.sub(r"[^a-z0-9']+", " ", text.lower().replace("-", " ")).split()
    words = [w.replace("'", " ").split()[0] if "'" in w else w for w in words]
    return 0 < len(words) <= vocab.FILLER_MAX_WORDS and all(w in vocab.FILLER_WORDS for w in words)


class TurnIndex:
    """(call id, text) -> what the replayed turn carries (texts repeated in a call: the union)."""

    def __init__(self, truth: dict[str, tuple[TurnTruth, ...]]) -> None:
        self._by: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
        for call_id, turns in truth.items():
            for turn in turns:
                self._by[(call_id, turn.text.strip())] |= turn.values

    def values(self, call_id: str | None, text: str) -> set[tuple[str, str]]:
        return self._by.get((call_id or "", text.strip()), set())

    def known(self, call_id: str | None, text: str) -> bool:
        return (call_id or "", text.strip()) in self._by


@dataclass
class HitScore:
    call_id: str | None
    text: str
    own: bool
    filler: bool
    carries_expected: bool
    carries_group: bool
    carries_former_only: bool


@dataclass
class Ranking:
    """One recall of one probe, scored."""

    hits: list[HitScore]
    found: bool
    right_call: bool
    first_of_kind: bool
    update_ordered: bool | None  # None: not an update probe
    leaks: int

    @property
    def passed(self) -> bool:
        return self.found and self.right_call

    def update_failure(self, target: str) -> str | None:
        """Why an update probe was not ordered (``UPDATE_FAILURES``); None when it was or is no update probe."""
        if self.update_ordered is None or self.update_ordered:
            return None
        current = any(h.call_id == target and h.carries_expected for h in self.hits)
        former = any(h.carries_former_only for h in self.hits)
        if current:
            return UPDATE_FAILURES[0]
        if former:
            return UPDATE_FAILURES[1]
        if any(h.own and h.carries_group and h.call_id != target for h in self.hits):
            return UPDATE_FAILURES[2]
        return UPDATE_FAILURES[3]

    def failure(self, target: str) -> str | None:
        if self.passed:
            return None
        first_target = next((i for i, h in enumerate(self.hits) if h.call_id == target), len(self.hits))
        if any(h.own and h.carries_group and h.call_id != target for h in self.hits[:first_target]):
            return FAILURES[0]
        if first_target < len(self.hits):
            return FAILURES[1]
        if any(h.filler for h in self.hits):
            return FAILURES[2]
        return FAILURES[3]


def score_hits(vp: ValueProbe, hits: Sequence[Any], index: TurnIndex, is_own, leaks: int = 0) -> Ranking:
    """Score the top hits of one recall (``hits``: eval_scenarios HitViews, best first)."""
    scored = []
    for hit in hits[:LIMIT]:
        values = index.values(hit.call_id, hit.text)
        own = is_own(hit.call_id)
        expected = (vp.group, vp.expected) in values
        former_only = not expected and any((vp.group, f) in values for f in vp.former)
        scored.append(
            HitScore(
                hit.call_id,
                hit.text,
                own,
                is_filler(hit.text),
                own and expected,
                any(g == vp.group for g, _ in values),
                own and former_only and hit.call_id == vp.target_call,
            )
        )
    found = any(h.own and says(h.text, vp.surfaces) for h in scored)
    right = any(h.call_id == vp.target_call and h.carries_expected for h in scored)
    first = next((h for h in scored if h.carries_group), None)
    first_ok = first is not None and first.call_id == vp.target_call and first.carries_expected
    ordered = None
    if vp.is_update:
        current = next((i for i, h in enumerate(scored) if h.call_id == vp.target_call and h.carries_expected), None)
        former = next((i for i, h in enumerate(scored) if h.carries_former_only), None)
        ordered = current is not None and (former is None or current < former)
    return Ranking(scored, found, right, first_ok, ordered, leaks)


# --------------------------------------------------------------------------- outcomes and tallies


@dataclass
class ValueOutcome(es.Outcome):
    """A value probe's result in one replay: a ranking per recall mode, and whether the brief had it."""

    value_probe: ValueProbe | None = None
    rankings: dict[str, Ranking] = field(default_factory=dict)
    brief_answers: bool = False
    brief_leaks: int = 0


def make_handlers(sgd: SgdSet, modes_of) -> dict:
    """The probe kinds of a replay: eval_scenarios' identity probe, and the value probe.

    ``modes_of(view)`` names the recall modes to run for that subject (a baseline ranks one way).
    """
    index = TurnIndex(sgd.truth)

    async def probe_value(probe: es.Probe, view, ctx: es.Context) -> ValueOutcome:
        vp: ValueProbe = probe.spec["probe"]
        brief = await view.preload()
        brief_leaks = es._brief_leaks(view, ctx, probe.id, brief)
        outcome = ValueOutcome(probe, False, value_probe=vp, brief_leaks=len(brief_leaks))
        outcome.brief_answers = bool(brief) and says(es.decode_brief(brief), vp.surfaces)
        for mode in modes_of(view):
            hits = await view.recall(vp.query, mode, LIMIT)
            leaks = es._hit_leaks(ctx, probe.id, hits)
            outcome.rankings[mode] = score_hits(vp, hits, index, lambda c: es._is_own(ctx, c), len(leaks))
        outcome.passed = all(r.passed for r in outcome.rankings.values())
        return outcome

    return {"identity": es.probe_identity, "sgd_value": probe_value}


def _rate(ok: int, n: int) -> dict[str, Any]:
    return {"ok": ok, "n": n, "rate": round(ok / n, 4) if n else None}


def tally(result: es.SubjectResult, mode: str) -> dict[str, Any]:
    """The measures of one system (a subject's replay, one recall mode) over its value probes."""
    values = [o for o in result.outcomes if isinstance(o, ValueOutcome) and mode in o.rankings]
    ranks = [(o.value_probe, o.rankings[mode], o) for o in values]
    out: dict[str, Any] = {"probes": len(ranks)}
    for name, fn in (
        ("pass", lambda r: r.passed),
        ("found@5", lambda r: r.found),
        ("right_call", lambda r: r.right_call),
        ("first_of_kind", lambda r: r.first_of_kind),
    ):
        out[name] = _rate(sum(fn(r) for _, r, _ in ranks), len(ranks))
    out["brief_answers"] = _rate(sum(o.brief_answers for _, _, o in ranks), len(ranks))
    recent = [o for vp, _, o in ranks if vp.family == "recent"]
    out["brief_answers_recent"] = _rate(sum(o.brief_answers for o in recent), len(recent))
    updates = [r for vp, r, _ in ranks if vp.is_update]
    out["update_ordered"] = _rate(sum(bool(r.update_ordered) for r in updates), len(updates))
    out["update_failures"] = update_failures(ranks)
    hits = [h for _, r, _ in ranks for h in r.hits]
    out["filler_hits"] = _rate(sum(h.filler for h in hits), len(hits))
    out["recalls_with_filler"] = _rate(sum(any(h.filler for h in r.hits) for _, r, _ in ranks), len(ranks))
    for key, attr in (("by_family", "family"), ("by_group", "group"), ("by_selector", "selector"), ("by_kind", "kind")):
        groups: dict[str, list[bool]] = defaultdict(list)
        for vp, r, _ in ranks:
            groups[getattr(vp, attr)].append(r.passed)
        out[key] = {k: _rate(sum(v), len(v)) for k, v in sorted(groups.items())}
    skipped = [r.passed for vp, r, _ in ranks if vp.family == "recent" and vp.skips_calls]
    out["recent_past_other_calls"] = _rate(sum(skipped), len(skipped))
    failures = Counter(r.failure(vp.target_call) for vp, r, _ in ranks)
    failures.pop(None, None)
    out["failures"] = {k: failures.get(k, 0) for k in FAILURES}
    ok, total = result.identity()
    out["identity"] = _rate(ok, total)
    out["leaks"] = len(result.leaks)
    out["leaked_reads"] = dict(result.flagged)
    out["pairs"] = result.pairs
    out["errors"] = len(result.errors)
    out["logged"] = sum(result.logged.values())
    return out


def update_failures(ranks: Sequence[tuple[ValueProbe, Ranking, Any]]) -> list[dict[str, str]]:
    """Every knowledge-update probe that was not ordered, by category only (no wordings): the kind of
    booking, the value group asked, the selector family and why it failed (``UPDATE_FAILURES``)."""
    out = []
    for vp, ranking, _ in ranks:
        why = ranking.update_failure(vp.target_call)
        if why is not None:
            out.append({"kind": vp.kind, "group": vp.group, "family": vp.family, "failure": why})
    return out


def failure_examples(result: es.SubjectResult, mode: str, per_category: int = 3) -> dict[str, list[dict]]:
    """A few failed probes per category, with their question, expected value and top hits."""
    out: dict[str, list[dict]] = {k: [] for k in FAILURES}
    for o in result.outcomes:
        if not isinstance(o, ValueOutcome) or mode not in o.rankings:
            continue
        vp, ranking = o.value_probe, o.rankings[mode]
        category = ranking.failure(vp.target_call)
        if category is None or len(out[category]) >= per_category:
            continue
        out[category].append(
            {
                "probe": vp.id,
                "query": vp.query,
                "selector": vp.selector,
                "expected": f"{vp.group} = {vp.expected!r} (said as {list(vp.surfaces)}) in {vp.target_call}",
                "hits": [
                    f"[{h.call_id}{'' if h.own else ', ANOTHER CALLER'}]{' (filler)' if h.filler else ''} {h.text[:110]}"
                    for h in ranking.hits
                ],
            }
        )
    return out

"""SGD dialogues, read in place, and what each one did: the episode ground truth the probes are written from.

The data is the Schema-Guided Dialogue subset in ``../shared/data/sgd/`` (``--data``, else
``$SGD_PATH``, else that directory relative to the project root): ``train_dialogues_001.json.gz`` ...
``_010``, gzip JSON, unchanged from the public release. It is never copied into the project.

Halves: ``tune`` = files 001-005, ``heldout`` = files 006-010; ``tune2`` (of the full release, below) =
train files 011, 012, 014, 015, 020, 021 and 043, a second tuning half of the same services; ``tune3`` =
dev files 006 and 007 (concerts and songs), a third.

Halves of the full public release (``--data`` pointing at a directory of your own holding all of its
files, gzip JSON; see docs/sgd.md), for the services the subset does not have (flights, buses, trains,
hotels, rental cars, rides, appointments, money transfers, home visits): ``more-tune`` = train files of
those services, ``more-heldout`` = files of the release's *test* split, whose services are partly
unseen in train and name their slots differently (Hotels_4, Buses_3, RentalCars_3, Trains_1,
Services_4, Homes_2, Payment_1...). Their probes are worded like the subset's: the even-numbered
wordings for ``more-tune``, the odd ones for ``more-heldout``.

An :class:`Episode` is one dialogue of a service known to :mod:`bench.sgd.vocab` whose transaction
succeeded (a table reserved, tickets bought, a song or movie played: the service call whose frame
has ``NOTIFY_SUCCESS``). Its ground truth:

- ``values``: value group -> the canonical value that was booked or played, from the successful
  call's ``service_results[0]``, kept only when some turn of the dialogue says it (a value that was
  never said cannot be recalled);
- ``surfaces``: the ways the dialogue said that value (the annotated action values: "6:30 pm",
  "half past 6 in the evening" for ``18:30``);
- ``former``: values of an updatable group that the system confirmed and the caller then changed
  ("Please confirm ... next Thursday" -> "No, the 8th"), i.e. superseded within the call;
- per turn (:class:`TurnTruth`): the (group, canonical value) pairs its annotated actions carry
  (every act with values except ``REQUEST``, whose values are options offered).
"""

from __future__ import annotations

import gzip
import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from bench.sgd.vocab import EVENT_NOUNS, SERVICES, UPDATABLE

ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_DATA = Path("..") / "shared" / "data" / "sgd"
ENV_VAR = "SGD_PATH"
TUNE7_FILES = (45, 46, 59, 100, 101, 103, 106, 127)
HALVES: dict[str, tuple[int, ...]] = {"tune": (1, 2, 3, 4, 5), "heldout": (6, 7, 8, 9, 10)}
# the full release's halves: half -> (split whose files it reads, file numbers)
MORE_HALVES: dict[str, tuple[str, tuple[int, ...]]] = {
    "more-tune": (
        "train",
        (15, 16, 17, 18, 19, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 40, 41, 42),
    ),
    "more-heldout": ("test", (1, 3, 4, 5, 6, 7, 8, 9, 10, 11)),
    # a second tuning half of the subset's services (events 011-015, movies 020-021, restaurants and movies
    # 043, and every other mapped service in those files): fresh for anyone who tuned on "tune"
    "tune2": ("train", (11, 12, 14, 15, 20, 21, 43)),
    # a third tuning half, of the release's dev split: concerts and songs (Events_1, Music_1), the kinds the
    # held-out half is made of, in files no other half reads
    "tune3": ("dev", (6, 7)),
    # a fourth tuning half, of the release's test split: concerts and songs of the test split's own services
    # (Events_3, Music_3), in a file no other half reads; the release has no other single-service dialogues
    # of these kinds left
    "tune4": ("test", (2,)),
    # a fifth and a sixth tuning half, of train files no other half reads, whose concerts and songs are booked
    # in calls of several services (tickets, then a hotel, a bus or a money transfer; a song, then a ride or a
    # movie): the release's single-service dialogues of these kinds are all read by the halves above. Their
    # episodes come from such dialogues too (SEVERAL_SERVICES); tune5's are concerts and games, tune6's songs
    # with a few tickets, tables and movies
    "tune5": ("train", (44, 96, 99, 123)),
    "tune6": ("train", (50, 64, 107, 126)),
    # a seventh tuning half of concerts and songs, the held-out half's kinds and services (Events_1/2, Music_1/2),
    # each cut to the turns of that one service (ONE_SERVICE_PART): train files no other half reads, whose
    # dialogues book them in calls of several services, the release's single-service ones being all read above
    "tune7": ("train", TUNE7_FILES),
    # an eighth and a ninth tuning half of concerts and songs, fresh after the rules tuned on the seven above: the
    # held-out half's services (Events_1/2, Music_1/2) in files no other half reads, booked in calls of several
    # services (SEVERAL_SERVICES, as tune5/tune6: a concert or a song cut to its own turns is too rare there, the
    # parts that open such a call being seldom closed before the next request); tune8's are train files, tune9's
    # the dev split's other files (Events_1, Music_1)
    "tune8": ("train", (49, 51, 65, 67, 98)),
    "tune9": ("dev", (8, 9, 10, 11, 16, 19, 20)),
}
# the halves whose episodes may come from dialogues of several services (``episode_of``), with the kinds they
# book, the one to take first; every other half reads single-service dialogues only, as it always has
SEVERAL_SERVICES: dict[str, tuple[str, ...]] = {
    "tune5": ("event", "song", "restaurant", "movie"),
    "tune6": ("song", "event", "restaurant", "movie"),
    "tune8": ("event", "song", "restaurant", "movie"),
    "tune9": ("event", "song", "restaurant", "movie"),
}
# the halves whose episodes are the part of a dialogue of several services about one service of these kinds, cut
# to that service's turns (``part_of``): read as a single-service dialogue of it, as the held-out half's are
ONE_SERVICE_PART: dict[str, tuple[str, ...]] = {"tune7": ("event", "song")}
ALL_HALVES = (*HALVES, *MORE_HALVES)
ROLES = {"USER": "user", "SYSTEM": "assistant"}
_MONTHS = [
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
_ABSOLUTE_DATE = re.compile(r"\d|\b(?:" + "|".join(_MONTHS) + r")\b", re.IGNORECASE)


class DataMissing(FileNotFoundError):
    """The SGD files are not where they were looked for."""


def data_dir(arg: str | Path | None = None) -> Path:
    if arg:
        return Path(arg)
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    return (ROOT / DEFAULT_DATA).resolve()


def file_path(directory: Path, number: int, split: str = "train") -> Path:
    return directory / f"{split}_dialogues_{number:03d}.json.gz"


def files_of(half: str) -> tuple[str, tuple[int, ...]]:
    """(release split, file numbers) of a half."""
    if half in MORE_HALVES:
        return MORE_HALVES[half]
    return "train", HALVES[half]


def available(directory: Path, halves: Iterable[str] = ("tune", "heldout")) -> bool:
    return all(file_path(directory, n, files_of(h)[0]).is_file() for h in halves for n in files_of(h)[1])


def read_dialogues(directory: Path, numbers: Iterable[int], split: str = "train") -> list[tuple[int, dict]]:
    """(file number, dialogue) for every dialogue of the given files, in file order."""
    out = []
    for number in numbers:
        path = file_path(directory, number, split)
        if not path.is_file():
            raise DataMissing(f"SGD file not found: {path} (pass --data or set {ENV_VAR})")
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            out.extend((number, d) for d in json.load(handle))
    return out


def canon(value: object) -> str:
    """A value as compared: lower case, single spaces."""
    return " ".join(str(value).lower().split())


def is_absolute_date(surface: str) -> bool:
    """ "March 8th", "the 8th of this month", "2019-03-08" (not "today" or "next Friday", which the
    dialogues say relative to their own fixed day, not to the replayed call's)."""
    return bool(_ABSOLUTE_DATE.search(surface))


@dataclass(frozen=True)
class TurnTruth:
    role: str  # "user" | "assistant"
    text: str
    values: frozenset[tuple[str, str]] = frozenset()  # (group, canonical value) the turn carries
    inserted: str = ""  # "" for an SGD turn; "identity", "ack", "backchannel" for turns the builder adds

    def groups(self) -> set[str]:
        return {g for g, _ in self.values}

    def carries(self, group: str, value: str | None = None) -> bool:
        return any(g == group and (value is None or v == value) for g, v in self.values)


@dataclass(frozen=True)
class Episode:
    dialogue_id: str
    file: int
    service: str
    kind: str  # a key of vocab.KINDS
    event_noun: str  # "concert" / "game" for events, else ""
    turns: tuple[TurnTruth, ...]
    values: dict[str, str]  # group -> canonical booked/played value, said in the dialogue
    surfaces: dict[str, tuple[str, ...]]  # group -> how the dialogue said values[group]
    former: dict[str, tuple[str, ...]] = field(default_factory=dict)  # group -> superseded canonical values
    former_surfaces: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # kinds of the other mapped services whose transaction also succeeded in the dialogue (a dialogue of several
    # services only): the caller counts them when naming "the second concert tickets"
    other_bookings: tuple[str, ...] = ()


def _frames(turn: dict, service: str) -> list[dict]:
    return [f for f in turn.get("frames", ()) if f.get("service") == service]


def _succeeded(dialogue: dict, service: str) -> int | None:
    """The index of the first turn where ``service``'s transactional intent succeeded, or None."""
    intents = SERVICES[service][1]
    for index, turn in enumerate(dialogue["turns"]):
        for frame in _frames(turn, service):
            call = frame.get("service_call")
            acts = {a["act"] for a in frame.get("actions", ())}
            if call and call.get("method") in intents and "NOTIFY_SUCCESS" in acts and frame.get("service_results"):
                return index
    return None


def episode_of(dialogue: dict, file: int, prefer: Sequence[str] | None = None) -> tuple[Episode | None, str]:
    """The episode of one dialogue, or None and why it was skipped.

    With ``prefer`` None (every half but those of :data:`SEVERAL_SERVICES`), only a dialogue of one service
    gives an episode. With ``prefer`` (a half's kinds, the one it books most first), a dialogue of several
    services does too, as calls are: the episode is of the mapped service whose transactional intent
    succeeded, its values that service's results; the other services' turns (a ride to the venue, the weather
    there) stay in it as what the caller also said, carrying no value of it. When several mapped services
    succeeded, the episode is of the one whose kind comes first in ``prefer`` (kinds not in it after), and of
    two of the same rank, the one that succeeded first in the dialogue. A dialogue of one service gives the
    same episode either way.
    """
    mapped = [s for s in dialogue.get("services", ()) if s in SERVICES]
    if not mapped:
        return None, "service not in the vocabulary"
    if prefer is None:
        if len(mapped) != 1 or len(dialogue.get("services", ())) != 1:
            return None, "several services"
        return _episode_of_service(dialogue, file, mapped[0])
    ranked = []
    for service in mapped:
        first = _succeeded(dialogue, service)
        if first is not None:
            kind = SERVICES[service][0]
            ranked.append((prefer.index(kind) if kind in prefer else len(prefer), first, service))
    if not ranked:
        return None, "no successful transaction"
    ranked.sort()
    episode, why = _episode_of_service(dialogue, file, ranked[0][2])
    if episode is None or len(ranked) == 1:
        return episode, why
    return replace(episode, other_bookings=tuple(SERVICES[s][0] for _, _, s in ranked[1:])), ""


_CLOSING_ACTS = frozenset({"THANK_YOU", "GOODBYE", "REQ_MORE"})


def part_of(dialogue: dict, file: int, kinds: Sequence[str]) -> tuple[Episode | None, str]:
    """The episode of the part of a dialogue about one service of ``kinds``, or None and why it was skipped.

    The service is the mapped one of those kinds whose transactional intent succeeded first. The part is the span
    of turns with a frame of it, less an assistant turn at its start (the offer that turned to it) and the turns
    at its end that already move on to another service ("Thanks, I also need to make a transfer"); a span with a
    turn of another service only inside it is skipped, and so is one that is not closed after the transaction (no
    thanks or goodbye of the caller, nor the agent's "anything else?", in that service's frames), as every
    single-service dialogue is: a part that runs straight into another request is no call about one thing. The part
    is then read as a dialogue of that service alone: a single-service dialogue gives the same episode as
    :func:`episode_of` does.
    """
    found = []
    for service in dialogue.get("services", ()):
        if service in SERVICES and SERVICES[service][0] in kinds:
            first = _succeeded(dialogue, service)
            if first is not None:
                found.append((first, service))
    if not found:
        return None, "no successful transaction of the kinds"
    service = min(found)[1]
    turns = dialogue["turns"]
    inside = [i for i, turn in enumerate(turns) if _frames(turn, service)]
    start, end = inside[0], inside[-1]
    if turns[start]["speaker"] != "USER":
        start += 1
    while end > start and any(f.get("service") != service for f in turns[end].get("frames", ())):
        end -= 1
    if any(not _frames(turn, service) for turn in turns[start : end + 1]):
        return None, "services interleaved"
    success = _succeeded(dialogue, service)
    closing = {
        action["act"] for turn in turns[success : end + 1] for f in _frames(turn, service) for action in f["actions"]
    }
    if not closing & _CLOSING_ACTS:
        return None, "not closed"
    return _episode_of_service(dict(dialogue, services=[service], turns=turns[start : end + 1]), file, service)


def _episode_of_service(dialogue: dict, file: int, service: str) -> tuple[Episode | None, str]:
    """The episode of ``service``'s transaction in a dialogue (its other services' turns carry no value)."""
    kind, intents, slots = SERVICES[service]
    turns, surfaces, confirmed = [], {}, []
    result: dict | None = None
    successes = 0
    for turn in dialogue["turns"]:
        role = ROLES[turn["speaker"]]
        carried = set()
        for frame in _frames(turn, service):
            for action in frame.get("actions", ()):
                group = slots.get(action.get("slot", ""))
                if group is None or action["act"] == "REQUEST" or not action.get("values"):
                    continue
                canonicals = action.get("canonical_values") or action["values"]
                for surface, value in zip(action["values"], canonicals, strict=False):
                    carried.add((group, canon(value)))
                    surfaces.setdefault((group, canon(value)), set()).add(surface)
                    if role == "assistant" and action["act"] == "CONFIRM":
                        confirmed.append((group, canon(value)))
            call = frame.get("service_call")
            acts = {a["act"] for a in frame.get("actions", ())}
            if call and "NOTIFY_SUCCESS" in acts:
                successes += 1
            if call and call.get("method") in intents and "NOTIFY_SUCCESS" in acts and frame.get("service_results"):
                result = frame["service_results"][0]
        turns.append(TurnTruth(role, turn["utterance"].strip(), frozenset(carried)))
    if result is None:
        return None, "no successful transaction"
    if successes > 1:  # several transactions in one call (a payment, then a request): not values changed
        return None, "several transactions"
    said = {pair for t in turns for pair in t.values}
    values = {}
    for slot, raw in result.items():
        group = slots.get(slot)
        if group is not None and (group, canon(raw)) in said:
            values[group] = canon(raw)
    if not values:
        return None, "no booked value said"
    former: dict[str, list[str]] = {}
    for group, value in confirmed:
        if group in UPDATABLE and group in values and value != values[group] and value not in former.get(group, []):
            former.setdefault(group, []).append(value)
    noun = ""
    if kind == "event":
        noun = EVENT_NOUNS.get(canon(result.get("event_type") or result.get("category") or ""), "event")
    return (
        Episode(
            dialogue["dialogue_id"],
            file,
            service,
            kind,
            noun,
            tuple(turns),
            values,
            {g: tuple(sorted(surfaces[(g, v)])) for g, v in values.items()},
            {g: tuple(vs) for g, vs in former.items()},
            {g: tuple(sorted({s for v in vs for s in surfaces[(g, v)]})) for g, vs in former.items()},
        ),
        "",
    )


def load_episodes(directory: Path, half: str) -> tuple[list[Episode], Counter]:
    """The episodes of one half, in file order, and a count of the dialogues skipped, by reason."""
    episodes, skipped = [], Counter()
    split, numbers = files_of(half)
    prefer = SEVERAL_SERVICES.get(half)
    part = ONE_SERVICE_PART.get(half)
    for number, dialogue in read_dialogues(directory, numbers, split):
        ep, why = part_of(dialogue, number, part) if part is not None else episode_of(dialogue, number, prefer)
        if ep is None:
            skipped[why] += 1
        else:
            episodes.append(ep)
    return episodes, skipped

"""The SGD evaluation's halves of the full public release (``more-tune``, ``more-heldout``).

The first tests need no data. The last ones read the full release from ``$SGD_FULL_PATH`` (a directory
of your own holding all of its files, gzip JSON; docs/sgd.md says how to get it) and skip when it is
not there: CI has only the subset.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from bench import eval_sgd
from bench.sgd import build, data, vocab
from bench.suites import SUITE_NAMES

FULL_ENV = "SGD_FULL_PATH"
FULL = Path(os.environ.get(FULL_ENV, "")) if os.environ.get(FULL_ENV) else None
MORE = tuple(data.MORE_HALVES)
needs_full = pytest.mark.skipif(
    FULL is None or not data.available(FULL, MORE),
    reason=f"the full SGD release is not available: set {FULL_ENV} to a directory holding it (see docs/sgd.md)",
)

# the episodes of each half of the full release (docs/sgd.md's table)
EPISODES = {
    "more-tune": 2047,
    "more-heldout": 419,
    "tune2": 392,
    "tune3": 123,
    "tune4": 50,
    "tune5": 435,
    "tune6": 439,
    "tune7": 309,
    "tune8": 468,
    "tune9": 651,
}
NEW_KINDS = {"flight", "bus", "train", "hotel", "car", "ride", "appointment", "transfer", "visit"}


def test_every_service_maps_to_a_known_kind_and_every_asked_group_has_wordings_for_both_halves():
    assert set(vocab.KINDS) >= NEW_KINDS
    for service, (kind, intents, slots) in vocab.SERVICES.items():
        assert kind in vocab.KINDS and intents and slots, service
    for kind, groups in vocab.QUESTIONS.items():
        mapped = {g for k, _, slots in vocab.SERVICES.values() if k == kind for g in slots.values()}
        for group, templates in groups.items():
            assert group in mapped, (kind, group)  # a question about a value no service of the kind carries
            assert len(templates) >= 2 and all("{when}" in t for t in templates), (kind, group)
            tune, held = vocab.for_half(templates, "more-tune"), vocab.for_half(templates, "more-heldout")
            assert tune == vocab.for_half(templates, "tune") and held == vocab.for_half(templates, "heldout")
            assert not set(tune) & set(held)


def test_the_more_halves_read_their_own_split_and_leave_the_subset_halves_alone():
    assert set(data.HALVES) == {"tune", "heldout"}  # the subset's halves and what `python -m bench` runs
    assert data.files_of("tune") == ("train", data.HALVES["tune"])
    assert data.files_of("more-tune")[0] == "train" and data.files_of("more-heldout")[0] == "test"
    assert not set(data.files_of("more-tune")[1]) & set(data.HALVES["tune"] + data.HALVES["heldout"])
    assert data.file_path(Path("d"), 3, "test") == Path("d") / "test_dialogues_003.json.gz"
    assert set(eval_sgd.SPLITS["both"]) == {"tune", "heldout"}
    assert not any("more" in name for name in SUITE_NAMES)
    args = eval_sgd.parse_args(["--split", "more-heldout"])
    assert args.json.name == "sgd_more.json"  # never overwrites the subset's results


def _frame(service: str, acts: list[dict], call: dict | None = None) -> dict:
    frame: dict = {"service": service, "actions": acts, "slots": []}
    if call:
        frame["service_call"] = call
        frame["service_results"] = [call["parameters"]]
    return frame


def test_a_call_with_several_transactions_is_skipped_not_read_as_a_changed_value():
    s = "Banks_1"

    def transfer(amount: str, who: str) -> list[dict]:
        params = {"amount": amount, "recipient_account_name": who, "account_type": "checking"}
        confirm = [
            {"act": "CONFIRM", "slot": "amount", "values": [f"${amount}"], "canonical_values": [amount]},
            {"act": "CONFIRM", "slot": "recipient_account_name", "values": [who], "canonical_values": [who]},
        ]
        return [
            {"speaker": "SYSTEM", "utterance": f"Send ${amount} to {who}?", "frames": [_frame(s, confirm)]},
            {
                "speaker": "SYSTEM",
                "utterance": "Done.",
                "frames": [
                    _frame(
                        s,
                        [{"act": "NOTIFY_SUCCESS", "slot": "", "values": []}],
                        {"method": "TransferMoney", "parameters": params},
                    )
                ],
            },
        ]

    one = {"dialogue_id": "1", "services": [s], "turns": transfer("120", "Maria")}
    episode, _ = data.episode_of(one, 1)
    assert episode is not None and episode.kind == "transfer"
    assert episode.values == {"amount": "120", "recipient": "maria"} and not episode.former
    two = {"dialogue_id": "2", "services": [s], "turns": transfer("120", "Maria") + transfer("40", "Ravi")}
    assert data.episode_of(two, 1) == (None, "several transactions")


@needs_full
def test_the_more_halves_load_map_their_services_and_yield_probes_whose_answers_were_said():
    assert FULL is not None
    kinds_seen = {}
    for half in MORE:
        episodes, skipped = data.load_episodes(FULL, half)
        assert len(episodes) == EPISODES[half], (half, skipped)
        kinds_seen[half] = Counter(e.kind for e in episodes)
        # tune4's 50 episodes make 5 callers a tenant, not the default 10
        callers = min(eval_sgd.CALLERS["default"], len(episodes) // 10)
        sgd = build.build(episodes, half=half, variant="clean", seed=0, callers_per_tenant=callers)
        assert len(sgd.value_probes) > 15 * callers, half
        for probe in sgd.value_probes:
            assert any(t.carries(probe.group, probe.expected) for t in sgd.truth[probe.target_call])
            assert probe.template in vocab.for_half(vocab.QUESTIONS[probe.kind][probe.group], half)
    assert {"flight", "bus", "hotel", "car", "ride", "appointment", "transfer", "visit"} <= set(kinds_seen["more-tune"])
    # the test split's services, several unseen in train (Trains_1, Hotels_4, Buses_3, RentalCars_3, Homes_2)
    assert {"train", "bus", "hotel", "car", "ride", "appointment", "visit"} <= set(kinds_seen["more-heldout"])


@needs_full
def test_only_the_fifth_and_sixth_tuning_halves_take_dialogues_of_several_services():
    assert FULL is not None
    several = {}
    for half in MORE:
        episodes, skipped = data.load_episodes(FULL, half)
        ids = {e.dialogue_id for e in episodes}
        dialogues = data.read_dialogues(FULL, data.files_of(half)[1], data.files_of(half)[0])
        several[half] = sum(len(d["services"]) > 1 for _, d in dialogues if d["dialogue_id"] in ids)
        if half == "tune5":
            assert Counter(e.kind for e in episodes)["event"] > 400, skipped
        if half == "tune6":
            assert Counter(e.kind for e in episodes)["song"] > 350, skipped
        if half in ("tune8", "tune9"):
            kinds = Counter(e.kind for e in episodes)
            assert kinds["event"] > 150 and kinds["song"] > 100, (half, skipped)
    # tune7 reads such dialogues too, each cut to the turns of one service (test below)
    assert {h for h, n in several.items() if n} == {*data.SEVERAL_SERVICES, *data.ONE_SERVICE_PART}
    # the older halves' episodes, as many as before the new halves
    counts = {h: len(data.load_episodes(FULL, h)[0]) for h in ("tune2", "tune3", "tune4", "more-tune", "more-heldout")}
    assert counts == {"tune2": 392, "tune3": 123, "tune4": 50, "more-tune": 2047, "more-heldout": 419}


def _turn(speaker: str, text: str, *frames: dict) -> dict:
    return {"speaker": speaker, "utterance": text, "frames": list(frames)}


def _song_part() -> list[dict]:
    """A song played, as the turns of a Music_2 dialogue say it."""
    m = "Music_2"
    params = {"song_name": "Shallow", "artist": "Lady Gaga", "playback_device": "kitchen speaker"}

    def inform(act: str) -> list[dict]:
        return [{"act": act, "slot": k, "values": [v], "canonical_values": [v]} for k, v in params.items()]

    done = [{"act": "NOTIFY_SUCCESS", "slot": "", "values": []}]
    return [
        _turn("USER", "Play Shallow by Lady Gaga on the kitchen speaker.", _frame(m, inform("INFORM"))),
        _turn("SYSTEM", "Play Shallow by Lady Gaga on the kitchen speaker?", _frame(m, inform("CONFIRM"))),
        _turn("USER", "Yes please.", _frame(m, [{"act": "AFFIRM", "slot": "", "values": []}])),
        _turn("SYSTEM", "It's playing. Anything else?", _frame(m, done, {"method": "PlayMedia", "parameters": params})),
        _turn("USER", "No, thanks.", _frame(m, [{"act": "THANK_YOU", "slot": "", "values": []}])),
    ]


def test_the_seventh_tuning_half_cuts_a_call_of_several_services_to_its_song_turns():
    bank, ride = "Banks_1", "RideSharing_1"
    song = _song_part()
    offer = {"act": "OFFER_INTENT", "slot": "intent", "values": ["PlayMedia"]}
    before = [
        _turn("USER", "Send $120 to Maria.", _frame(bank, [])),
        _turn("SYSTEM", "Done. Shall I play some music?", _frame("Music_2", [offer])),
    ]
    moving_on = [
        _turn("USER", "Thanks. I also need a cab.", _frame("Music_2", []), _frame(ride, [])),
        _turn("SYSTEM", "Where to?", _frame(ride, [])),
    ]
    several = {
        "dialogue_id": "m",
        "services": ["Banks_1", "Music_2", "RideSharing_1"],
        "turns": before + song + moving_on,
    }
    assert data.episode_of(several, 1) == (None, "several services")  # what every other half does with it
    assert data.ONE_SERVICE_PART == {"tune7": ("event", "song")}
    episode, why = data.part_of(several, 1, data.ONE_SERVICE_PART["tune7"])
    assert why == "" and episode is not None and episode.service == "Music_2" and not episode.other_bookings
    # the song's own turns only: not the transfer, the offer of music, nor the turn that moves on to the cab
    assert [t.text for t in episode.turns] == [t["utterance"] for t in song]
    assert episode.values == {"song": "shallow", "artist": "lady gaga", "device": "kitchen speaker"}
    # read as the single-service dialogue of the same turns is, by every half
    alone = {"dialogue_id": "m", "services": ["Music_2"], "turns": song}
    assert data.part_of(alone, 1, ("event", "song")) == data.episode_of(alone, 1)
    # a span with another service's turn inside it is not one service's part
    inside = dict(
        several, turns=before + song[:2] + [_turn("USER", "Wait, send $5 more.", _frame(bank, []))] + song[2:]
    )
    assert data.part_of(inside, 1, ("event", "song")) == (None, "services interleaved")
    assert data.part_of(several, 1, ("event",)) == (None, "no successful transaction of the kinds")
    # a part that runs straight into the next request, with no thanks, goodbye or "anything else?", is no call about
    # one thing: single-service dialogues all close so
    unclosed = dict(several, turns=before + song[:-1] + moving_on)
    assert data.part_of(unclosed, 1, ("event", "song")) == (None, "not closed")


def test_the_seventh_tuning_half_reads_train_files_no_other_half_reads():
    split, numbers = data.files_of("tune7")
    assert split == "train" and numbers == data.TUNE7_FILES
    others = {(data.files_of(h)[0], n) for h in data.ALL_HALVES if h != "tune7" for n in data.files_of(h)[1]}
    assert not {(split, n) for n in numbers} & others
    assert vocab.for_half(["even", "odd"], "tune7") == ("even",)
    assert eval_sgd.parse_args(["--split", "tune7"]).json.name == "sgd_more.json"


@needs_full
def test_the_seventh_tuning_half_is_concerts_and_songs_of_the_held_out_halfs_services_each_cut_to_its_own_turns():
    assert FULL is not None
    episodes, skipped = data.load_episodes(FULL, "tune7")
    kinds = Counter(e.kind for e in episodes)
    assert set(kinds) == {"event", "song"} and kinds["event"] >= 150 and kinds["song"] >= 150, skipped
    assert {e.service for e in episodes} == {"Events_1", "Events_2", "Music_1", "Music_2"}
    dialogues = {d["dialogue_id"]: d for _, d in data.read_dialogues(FULL, data.TUNE7_FILES, "train")}
    for episode in episodes:
        dialogue = dialogues[episode.dialogue_id]
        assert len(dialogue["services"]) > 1  # none single-service: those are all read by the other halves
        texts = [t["utterance"].strip() for t in dialogue["turns"]]
        start = texts.index(episode.turns[0].text)
        part = dialogue["turns"][start : start + len(episode.turns)]
        assert [t["utterance"].strip() for t in part] == [t.text for t in episode.turns]
        assert all(any(f["service"] == episode.service for f in t["frames"]) for t in part)
        assert episode.turns[0].role == "user"
        assert any(
            a["act"] in ("THANK_YOU", "GOODBYE", "REQ_MORE") for t in part for f in t["frames"] for a in f["actions"]
        )


def test_the_eighth_and_ninth_tuning_halves_read_files_no_other_half_reads():
    for half in ("tune8", "tune9"):
        split, numbers = data.files_of(half)
        others = {(data.files_of(h)[0], n) for h in data.ALL_HALVES if h != half for n in data.files_of(h)[1]}
        assert numbers and not {(split, n) for n in numbers} & others, half
        assert data.SEVERAL_SERVICES[half][:2] == ("event", "song") and half not in data.ONE_SERVICE_PART
        assert vocab.for_half(["even", "odd"], half) == ("even",)  # tuning halves: the tuning wordings
        assert eval_sgd.parse_args(["--split", half]).json.name == "sgd_more.json"
    assert data.files_of("tune8")[0] == "train" and data.files_of("tune9")[0] == "dev"


@needs_full
def test_the_eighth_and_ninth_tuning_halves_are_concerts_and_songs_of_the_held_out_halfs_services():
    assert FULL is not None
    for half in ("tune8", "tune9"):
        episodes, _ = data.load_episodes(FULL, half)
        ours = [e for e in episodes if e.kind in ("event", "song")]
        assert {e.service for e in ours} <= {"Events_1", "Events_2", "Music_1", "Music_2"}, half
        split, numbers = data.files_of(half)
        dialogues = {d["dialogue_id"]: d for _, d in data.read_dialogues(FULL, numbers, split)}
        # none single-service: those of these kinds are all read by the other halves
        assert all(len(dialogues[e.dialogue_id]["services"]) > 1 for e in ours), half

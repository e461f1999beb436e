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
        assert len(episodes) > 300, (half, skipped)
        kinds_seen[half] = Counter(e.kind for e in episodes)
        sgd = build.build(episodes, half=half, variant="clean", seed=0, callers_per_tenant=eval_sgd.CALLERS["default"])
        assert len(sgd.value_probes) > 150
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
    assert {h for h, n in several.items() if n} == set(data.SEVERAL_SERVICES)
    # the older halves' episodes, as many as before the new halves
    counts = {h: len(data.load_episodes(FULL, h)[0]) for h in ("tune2", "tune3", "tune4", "more-tune", "more-heldout")}
    assert counts == {"tune2": 392, "tune3": 123, "tune4": 50, "more-tune": 2047, "more-heldout": 419}

"""The SGD evaluation's own logic: ground truth from annotations, callers and probes, voice noise, scoring.

Most tests use small dialogues written here in the SGD format, so they run without the data. The
last ones read the real files from ../shared/data/sgd/ (or $SGD_PATH) and skip when they are absent.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bench import eval_locomo, eval_sgd
from bench import eval_scenarios as es
from bench.sgd import build, data, run, score, vocab
from bench.suites import SUITE_NAMES
from bench.suites import sgd as sgd_suite

# --------------------------------------------------------------------------- SGD-format dialogues


def _act(act: str, slot: str = "", values=(), canonical=None) -> dict:
    return {"act": act, "slot": slot, "values": list(values), "canonical_values": list(canonical or values)}


def _turn(speaker: str, text: str, service: str, *acts: dict, call: dict | None = None, results=None) -> dict:
    frame = {"service": service, "actions": list(acts), "slots": []}
    if call:
        frame["service_call"] = call
        frame["service_results"] = results or []
    return {"speaker": speaker, "utterance": text, "frames": [frame]}


def restaurant_dialogue(dialogue_id: str, name: str, time: str, canonical_time: str, party: str, *, moved_from=None):
    """A reservation; ``moved_from`` = (surface, canonical) of a time the system confirmed, then changed."""
    s = "Restaurants_1"
    turns = [
        _turn("USER", "I'd like to book a table.", s, _act("INFORM_INTENT", "intent", ["ReserveRestaurant"])),
        _turn("SYSTEM", "Which city? Mexican or Italian?", s, _act("REQUEST", "cuisine", ["Mexican", "Italian"])),
        _turn(
            "USER",
            f"At {name} in Palo Alto.",
            s,
            _act("INFORM", "restaurant_name", [name]),
            _act("INFORM", "city", ["Palo Alto"]),
        ),
    ]
    if moved_from:
        turns += [
            _turn(
                "SYSTEM",
                f"Please confirm: a table at {moved_from[0]}.",
                s,
                _act("CONFIRM", "time", [moved_from[0]], [moved_from[1]]),
            ),
            _turn(
                "USER",
                f"No, make it {time} instead.",
                s,
                _act("INFORM", "time", [time], [canonical_time]),
                _act("NEGATE"),
            ),
        ]
    result = {"restaurant_name": name, "time": canonical_time, "party_size": party, "city": "Palo Alto",
              "phone_number": "650-330-1782", "street_address": "1 Main Street"}  # fmt: skip
    turns += [
        _turn(
            "SYSTEM",
            f"Please confirm: a table for {party} at {name} at {time}.",
            s,
            _act("CONFIRM", "restaurant_name", [name]),
            _act("CONFIRM", "time", [time], [canonical_time]),
            _act("CONFIRM", "party_size", [party]),
        ),
        _turn("USER", "Yes. What is their phone number?", s, _act("AFFIRM"), _act("REQUEST", "phone_number")),
        _turn(
            "SYSTEM",
            "Your table is booked. Their number is 650-330-1782.",
            s,
            _act("NOTIFY_SUCCESS"),
            _act("INFORM", "phone_number", ["650-330-1782"]),
            call={"method": "ReserveRestaurant", "parameters": {"restaurant_name": name}},
            results=[result],
        ),
        _turn("USER", "Thank you very much.", s, _act("THANK_YOU")),
        _turn("SYSTEM", "Have a good day.", s, _act("GOODBYE")),
    ]
    return {"dialogue_id": dialogue_id, "services": [s], "turns": turns}


def song_dialogue(dialogue_id: str, song: str, artist: str, device: str) -> dict:
    s = "Music_2"
    result = {"song_name": song, "artist": artist, "album": "Greatest", "genre": "Pop", "playback_device": device}
    return {
        "dialogue_id": dialogue_id,
        "services": [s],
        "turns": [
            _turn("USER", f"Play {song} please.", s, _act("INFORM", "song_name", [song])),
            _turn(
                "SYSTEM",
                f"Play {song} by {artist} on the {device}?",
                s,
                _act("CONFIRM", "song_name", [song]),
                _act("CONFIRM", "playback_device", [device]),
                _act("INFORM", "artist", [artist]),
            ),
            _turn("USER", "Yes.", s, _act("AFFIRM")),
            _turn(
                "SYSTEM",
                "Playing now.",
                s,
                _act("NOTIFY_SUCCESS"),
                call={"method": "PlayMedia", "parameters": {}},
                results=[result],
            ),
            _turn("USER", "Thanks.", s, _act("THANK_YOU")),
        ],
    }


def synthetic_episodes(n: int = 48) -> list[data.Episode]:
    names = ["Avalon", "Burma Love", "Chaat Corner", "Delfina", "Eureka", "Farmhouse"]
    out = []
    for i in range(n):
        if i % 3 == 2:
            raw = song_dialogue(f"s{i}", f"Song {i}", f"Band {i}", "kitchen speaker")
        else:
            moved = ("7 pm", "19:00") if i % 4 == 0 else None
            raw = restaurant_dialogue(
                f"r{i}", names[i % len(names)] + f" {i}", "6:30 pm", "18:30", str(1 + i % 4), moved_from=moved
            )
        episode, why = data.episode_of(raw, 1)
        assert episode is not None, why
        out.append(episode)
    return out


# --------------------------------------------------------------------------- ground truth


def test_episode_values_surfaces_and_former_come_from_the_annotations():
    raw = restaurant_dialogue(
        "1_0", "P.f. Chang's", "half past 6 in the evening", "18:30", "2", moved_from=("7 pm", "19:00")
    )
    episode, why = data.episode_of(raw, 3)
    assert why == "" and episode.kind == "restaurant" and episode.file == 3
    assert episode.values["restaurant"] == "p.f. chang's" and episode.values["time"] == "18:30"
    assert episode.values["phone"] == "650-330-1782"
    assert "address" not in episode.values  # in the results, never said: cannot be recalled
    assert episode.surfaces["time"] == ("half past 6 in the evening",)
    assert episode.former == {"time": ("19:00",)} and episode.former_surfaces == {"time": ("7 pm",)}
    request = episode.turns[1]
    assert request.values == frozenset()  # REQUEST values are options offered, not values of the booking
    confirm = episode.turns[3]
    assert confirm.carries("time", "19:00") and not confirm.carries("time", "18:30")


def test_dialogues_without_a_success_or_of_unknown_services_are_skipped():
    raw = restaurant_dialogue("1_1", "Avalon", "6 pm", "18:00", "2")
    for turn in raw["turns"]:
        for frame in turn["frames"]:
            frame["actions"] = [a for a in frame["actions"] if a["act"] != "NOTIFY_SUCCESS"]
    assert data.episode_of(raw, 1) == (None, "no successful transaction")
    assert (
        data.episode_of({"dialogue_id": "x", "services": ["Trains_9"], "turns": []}, 1)[1]
        == "service not in the vocabulary"
    )


def test_halves_are_disjoint_and_the_data_path_is_overridable(tmp_path, monkeypatch):
    assert set(data.HALVES["tune"]) == {1, 2, 3, 4, 5} and set(data.HALVES["heldout"]) == {6, 7, 8, 9, 10}
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path))
    assert data.data_dir() == tmp_path and data.data_dir("elsewhere") == data.Path("elsewhere")
    assert not data.available(tmp_path)
    with pytest.raises(data.DataMissing):
        data.read_dialogues(tmp_path, [1])


# --------------------------------------------------------------------------- callers and probes


def test_the_build_is_deterministic_from_the_seed_and_the_same_in_both_variants():
    episodes = synthetic_episodes()
    a = build.build(episodes, half="tune", variant="clean", seed=7, callers_per_tenant=3)
    b = build.build(episodes, half="tune", variant="clean", seed=7, callers_per_tenant=3)
    c = build.build(episodes, half="tune", variant="clean", seed=8, callers_per_tenant=3)
    assert [x.turns for x in a.scenario.calls] == [x.turns for x in b.scenario.calls]
    assert [p.query for p in a.value_probes] == [p.query for p in b.value_probes]
    assert [x.turns for x in a.scenario.calls] != [x.turns for x in c.scenario.calls]
    voice = build.build(episodes, half="tune", variant="voice", seed=7, callers_per_tenant=3)
    assert [(x.id, x.at, x.identifiers) for x in voice.scenario.calls] == [
        (x.id, x.at, x.identifiers) for x in a.scenario.calls
    ]
    assert [(p.id, p.target_call, p.expected) for p in voice.value_probes] == [
        (p.id, p.target_call, p.expected) for p in a.value_probes
    ]


def test_callers_of_one_tenant_never_share_a_home_phone_and_households_span_tenants():
    episodes = synthetic_episodes()
    households = 0
    for seed in range(30):
        sgd = build.build(episodes, half="tune", variant="clean", seed=seed, callers_per_tenant=3)
        for tenant in build.TENANTS:
            homes = [p.home_phone for p in sgd.persons.values() if p.tenant == tenant]
            assert len(homes) == len(set(homes)), (seed, tenant)
        first, second = ({p.home_phone for p in sgd.persons.values() if p.tenant == t} for t in build.TENANTS)
        households += len(first & second)
    assert households > 0  # a household calling two businesses is still in the set


def test_probes_ask_about_an_earlier_call_of_the_same_caller_in_time_order():
    sgd = build.build(synthetic_episodes(), half="heldout", variant="clean", seed=1, callers_per_tenant=3)
    assert sgd.value_probes
    calls = {c.id: c for c in sgd.scenario.calls}
    assert [c.at for c in sgd.scenario.calls] == sorted(c.at for c in sgd.scenario.calls)
    for probe in sgd.value_probes:
        asked, target = calls[probe.call_id], calls[probe.target_call]
        assert (asked.tenant, asked.caller) == (target.tenant, target.caller) and target.at < asked.at
        carried = [t for t in sgd.truth[probe.target_call] if t.carries(probe.group, probe.expected)]
        assert carried, probe  # the answer is said in the target call
        assert "{" not in probe.query and probe.query[0].isupper()
    identity = [p for c in sgd.scenario.calls for p in c.probes if p.kind == "identity"]
    assert len(identity) == len(sgd.scenario.calls)
    for probe in identity:
        for other in probe.spec.get("expect_different_caller_from", ()):
            assert calls[other].at < calls[probe.call_id].at and calls[other].tenant == calls[probe.call_id].tenant


def test_selectors_resolve_relative_to_the_callers_calls_of_the_kind():
    eps = synthetic_episodes()
    restaurant, song = eps[0], eps[2]
    person = build.Person("sgd-a", "a00", "Maria Lopez", "+14155550100", "1234567", "m@example.com", "account")
    person.episodes = [restaurant, song, replace(restaurant, dialogue_id="r-2"), song, restaurant]
    days = [0, 14, 30, 44, 60]
    person.dates = [datetime(2025, 5, 1, 10, tzinfo=UTC) + timedelta(days=d) for d in days]
    targets = {(sel, person.episodes[i].kind): i for sel, i, _ in build.selector_targets(person, 4)}
    assert targets[("last", "restaurant")] == 2  # the last restaurant, not the last call (a song)
    assert targets[("last", "song")] == 3
    assert targets[("first_call", "restaurant")] == 0
    assert targets[("before_last", "restaurant")] == 0
    assert targets[("second_call", "song")] == 1
    assert ("kind_only", "song") not in targets  # two songs: the kind alone does not pick one
    assert targets[("ago", "song")] == 3  # 16 days before the 5th call: "two weeks ago"


def test_templates_of_the_two_halves_are_different_wordings():
    for kind, groups in vocab.QUESTIONS.items():
        for group, templates in groups.items():
            tune, held = vocab.for_half(templates, "tune"), vocab.for_half(templates, "heldout")
            assert tune and held and not set(tune) & set(held), (kind, group)
            assert all("{when}" in t for t in templates)
    sgd = build.build(synthetic_episodes(), half="heldout", variant="clean", seed=3, callers_per_tenant=3)
    for probe in sgd.value_probes:
        assert probe.template in vocab.for_half(vocab.QUESTIONS[probe.kind][probe.group], "heldout")


def test_a_call_from_another_phone_says_the_identifier_and_is_probed_after_it():
    episodes = synthetic_episodes(40)
    for seed in range(20):
        sgd = build.build(episodes, half="tune", variant="clean", seed=seed, callers_per_tenant=4)
        others = [p for p in sgd.persons.values() if p.other_phone_call is not None]
        if others:
            break
    person = others[0]
    call_id = f"{person.id}-{person.other_phone_call + 1}"
    call = sgd.scenario.call(call_id)
    assert call.identifiers == {"phone": person.other_phone}
    said = person.account if person.identity_kind == "account" else person.email
    lines = [t for t in sgd.truth[call_id] if t.inserted == "identity"]
    assert len(lines) == 1 and said in lines[0].text
    first = sgd.truth[f"{person.id}-1"]
    assert any(said in t.text for t in first if t.inserted == "identity")  # said on the first call too
    for probe in (p for p in call.probes if p.kind == "sgd_value"):
        assert probe.when == "end" or sgd.truth[call_id][probe.when - 1].inserted in ("identity", "ack")


# --------------------------------------------------------------------------- voice


def test_voice_noise_is_deterministic_and_keeps_values_recognisable():
    text = "Please confirm: a table for 4 at P.f. Chang's at 6:30 pm. Their number is 650-330-1782."
    a = build.asr(text, build.rng_for("x"), side="user", plain=True)
    assert a == build.asr(text, build.rng_for("x"), side="user", plain=True)
    assert a == a.lower() and ":" not in a and "." not in a
    spoken = build.spoken_numbers("at 6:30 pm, call 650-330-1782, for 4", build.rng_for("y"), 1.0)
    assert spoken == "at six thirty pm, call six five zero three three zero one seven eight two, for four"
    assert score.says(spoken, ["6:30 pm"]) and score.says(spoken, ["650-330-1782"]) and score.says(spoken, ["4"])
    assert build.unformatted("It's Mm-hmm, go on. P.f. Chang's!") == "it's mm-hmm go on p f chang's"
    assert build.spoken_email("dana.smith@example.net") == "dana dot smith at example dot net"


# --------------------------------------------------------------------------- scoring


def _probe(**kw) -> build.ValueProbe:
    base = dict(id="p", call_id="c3", query="q", kind="restaurant", group="time", selector="last", family="recent",
                target_call="c2", expected="18:30", surfaces=("6:30 pm",))  # fmt: skip
    return build.ValueProbe(**(base | kw))


TRUTH = {
    "c1": (data.TurnTruth("assistant", "Booked for 7 pm.", frozenset({("time", "19:00")})),),
    "c2": (
        data.TurnTruth("assistant", "Confirm 7 pm?", frozenset({("time", "19:00")})),
        data.TurnTruth("assistant", "Confirm 6:30 pm?", frozenset({("time", "18:30")})),
        data.TurnTruth("user", "Mm-hmm, go on.", inserted="backchannel"),
        data.TurnTruth("user", "I'd like a table.", frozenset()),
    ),
    "x9": (data.TurnTruth("assistant", "Confirm 6:30 pm?", frozenset({("time", "18:30")})),),  # another caller
}


def _score(vp, *hits):
    views = [es.HitView(text, call, 1.0) for call, text in hits]
    return score.score_hits(vp, views, score.TurnIndex(TRUTH), lambda c: c in ("c1", "c2", "c3"))


def test_pass_needs_the_value_from_the_asked_call():
    ok = _score(_probe(), ("c2", "Confirm 6:30 pm?"), ("c1", "Booked for 7 pm."))
    assert ok.passed and ok.found and ok.right_call and ok.first_of_kind and ok.failure("c2") is None
    older = _score(_probe(), ("c1", "Booked for 7 pm."), ("c2", "Confirm 6:30 pm?"))
    assert older.passed and not older.first_of_kind  # the first time-carrying hit is the older booking's
    foreign = _score(_probe(), ("x9", "Confirm 6:30 pm?"))
    assert not foreign.found and not foreign.right_call  # another caller's turn is no answer


def test_failure_categories_and_fillers():
    vp = _probe()
    assert _score(vp, ("c1", "Booked for 7 pm."), ("c2", "I'd like a table.")).failure("c2") == "other call, same kind"
    assert _score(vp, ("c2", "I'd like a table."), ("c1", "Booked for 7 pm.")).failure("c2") == "right call, wrong turn"
    filler = _score(vp, ("c3", "Mm-hmm, go on."))
    assert filler.failure("c2") == "filler" and filler.hits[0].filler
    assert _score(vp).failure("c2") == "not found"
    for text in ("Mm-hmm, go on.", "okay", "Thanks!", "Thank you very much.", "No, that's all.", "uh-huh"):
        assert score.is_filler(text), text
    for text in ("Yes, that works for me.", "I'd recommend the Avalon.", "TR7804 leaves at 17:17", ""):
        assert not score.is_filler(text), text


def test_knowledge_update_ordering():
    vp = _probe(former=("19:00",), former_surfaces=("7 pm",))
    assert _score(vp, ("c2", "Confirm 6:30 pm?"), ("c2", "Confirm 7 pm?")).update_ordered
    assert not _score(vp, ("c2", "Confirm 7 pm?"), ("c2", "Confirm 6:30 pm?")).update_ordered
    assert not _score(vp, ("c2", "Confirm 7 pm?")).update_ordered  # the current value is missing
    assert _score(vp, ("c1", "Booked for 7 pm."), ("c2", "Confirm 6:30 pm?")).update_ordered  # another booking's 7 pm
    assert _score(_probe(), ("c2", "Confirm 6:30 pm?")).update_ordered is None  # not an update probe


def test_locomo_turns_can_be_stored_without_the_speaker():
    turn = {"speaker": "Caroline", "text": " I went to a support group. ", "blip_caption": "a poster"}
    assert eval_locomo.turn_text(turn) == "Caroline: I went to a support group. [shares a photo: a poster]"
    assert eval_locomo.turn_text(turn, speaker=False) == "I went to a support group. [shares a photo: a poster]"


def test_the_suite_is_registered_and_reports_a_missing_data_set(monkeypatch, tmp_path):
    assert "sgd" in SUITE_NAMES
    assert sgd_suite.headline({"skipped": "no data"})[0][3] is None
    args = eval_sgd.parse_args(["--split", "heldout", "--quick", "--variants", "voice"])
    assert args.callers_per_tenant == eval_sgd.CALLERS["quick"] and args.variant_list == ["voice"]
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path))
    assert eval_sgd.main(["--quick", "--json", str(tmp_path / "r.json")]) == 2


# --------------------------------------------------------------------------- an end-to-end replay (SQLite)


async def test_a_small_set_replays_through_the_memory_layer_and_the_baselines(embedder):
    sgd = build.build(synthetic_episodes(24), half="tune", variant="voice", seed=2, callers_per_tenant=2)
    results = await run.evaluate(sgd, embedder=embedder)
    probes = len(sgd.value_probes)
    for name, mode in (("memory", "fast"), ("memory", "accurate"), ("phone_bm25", "rank"), ("tenant_vector", "rank")):
        tally = score.tally(results[name], mode)
        assert tally["probes"] == probes and tally["pass"]["n"] == probes
        assert tally["identity"]["n"] > 0
    assert score.tally(results["memory"], "fast")["leaks"] == 0
    assert score.tally(results["tenant_vector"], "rank")["leaks"] > 0  # one index for the tenant's callers: detected


# --------------------------------------------------------------------------- the real data (skipped when absent)

REAL = data.data_dir()
needs_data = pytest.mark.skipif(not data.available(REAL), reason=f"SGD data not found in {REAL} (set {data.ENV_VAR})")


@needs_data
def test_the_real_halves_load_and_yield_probes_whose_answers_were_said():
    for half in ("tune", "heldout"):  # the halves of the subset (others read the full release)
        episodes, skipped = data.load_episodes(REAL, half)
        assert len(episodes) > 500 and sum(skipped.values()) < 100
        assert {e.file for e in episodes} == set(data.HALVES[half])
        sgd = build.build(episodes, half=half, variant="voice", seed=0, callers_per_tenant=eval_sgd.CALLERS["default"])
        assert len(sgd.value_probes) > 150 and sum(p.is_update for p in sgd.value_probes) > 20
        families = {p.family for p in sgd.value_probes}
        assert families == set(vocab.SELECTOR_FAMILIES)
        for probe in sgd.value_probes:
            assert any(t.carries(probe.group, probe.expected) for t in sgd.truth[probe.target_call])
        used = [e.dialogue_id for e in sgd.episode_of.values()]
        assert len(used) == len(set(used))  # a dialogue is one call of one caller


@needs_data
def test_the_real_time_and_phone_values_survive_the_voice_variant_for_the_scorer():
    episodes, _ = data.load_episodes(REAL, "tune")
    checked = 0
    for episode in episodes[:200]:
        for group in ("time", "phone", "party"):
            if group not in episode.values:
                continue
            surfaces = episode.surfaces[group]
            for turn in episode.turns:
                if not turn.carries(group, episode.values[group]) or not score.says(turn.text, surfaces):
                    continue
                noisy = build.asr(turn.text, build.rng_for(episode.dialogue_id, group), side="user", plain=True)
                checked += 1
                assert score.says(noisy, surfaces), (turn.text, noisy, surfaces)
    assert checked > 100


def test_update_failures_are_reported_by_category_without_wordings():
    vp = _probe(former=("19:00",), former_surfaces=("7 pm",))
    cases = {
        "former value ranked first": (("c2", "Confirm 7 pm?"), ("c2", "Confirm 6:30 pm?")),
        "current absent, former shown": (("c2", "Confirm 7 pm?"),),
        "current absent, other call first": (("c1", "Booked for 7 pm."), ("c2", "I'd like a table.")),
        "current absent": (("c2", "I'd like a table."),),
    }
    for why, hits in cases.items():
        assert _score(vp, *hits).update_failure("c2") == why
    assert _score(vp, ("c2", "Confirm 6:30 pm?"), ("c2", "Confirm 7 pm?")).update_failure("c2") is None
    assert _score(_probe(), ("c2", "I'd like a table.")).update_failure("c2") is None  # not an update probe
    ranks = [(vp, _score(vp, *hits), None) for hits in cases.values()]
    listed = score.update_failures(ranks)
    assert [item["failure"] for item in listed] == list(cases)
    assert all(set(item) == {"kind", "group", "family", "failure"} for item in listed)
    assert listed[0]["group"] == vp.group and listed[0]["kind"] == vp.kind


def test_the_second_tuning_half_is_apart_and_asked_with_the_tuning_wordings():
    assert not set(data.files_of("tune2")[1]) & {*data.HALVES["tune"], *data.HALVES["heldout"]}
    assert vocab.for_half(["even", "odd", "even again"], "tune2") == vocab.for_half(
        ["even", "odd", "even again"], "tune"
    )
    assert vocab.for_half(["even", "odd"], "heldout") == ("odd",)


def test_the_third_tuning_half_reads_the_dev_split_only():
    split, numbers = data.files_of("tune3")
    assert split == "dev" and numbers
    # only tune9 reads the dev split too, its other files
    assert {h for h in data.ALL_HALVES if data.files_of(h)[0] == "dev"} == {"tune3", "tune9"}
    assert not set(numbers) & set(data.files_of("tune9")[1])
    assert vocab.for_half(["even", "odd"], "tune3") == ("even",)


def _several_services(*dialogues: dict) -> dict:
    """One call of the dialogues' services in turn (a table, then a song), as the release's multi-service
    dialogues are."""
    return {
        "dialogue_id": "m",
        "services": [s for d in dialogues for s in d["services"]],
        "turns": [t for d in dialogues for t in d["turns"]],
    }


def test_a_dialogue_of_several_services_gives_an_episode_in_the_new_halves_only():
    table = restaurant_dialogue("r", "Avalon", "6 pm", "18:00", "2")
    song = song_dialogue("s", "Shallow", "Lady Gaga", "kitchen speaker")
    both = _several_services(table, song)
    assert data.episode_of(both, 1) == (None, "several services")  # every half but those of SEVERAL_SERVICES
    assert set(data.SEVERAL_SERVICES) == {"tune5", "tune6", "tune8", "tune9"}
    episode, why = data.episode_of(both, 1, data.SEVERAL_SERVICES["tune6"])  # tune6 takes the song first
    assert why == "" and episode is not None and episode.kind == "song" and episode.service == "Music_2"
    assert episode.values["song"] == "shallow" and "restaurant" not in episode.values and "time" not in episode.values
    assert len(episode.turns) == len(both["turns"])  # the table's turns stay, as what the caller also said
    assert not any(t.values for t in episode.turns[: len(table["turns"])])
    assert episode.other_bookings == ("restaurant",)
    # of two kinds the half ranks alike (neither listed), the transaction that succeeded first
    assert data.episode_of(both, 1, ("event",))[0].kind == "restaurant"
    # a dialogue of one service gives the same episode with or without the flag
    assert data.episode_of(song, 1, data.SEVERAL_SERVICES["tune5"]) == data.episode_of(song, 1)
    assert data.episode_of(table, 1, data.SEVERAL_SERVICES["tune5"]) == data.episode_of(table, 1)


def test_the_halves_of_several_services_read_files_no_other_half_reads():
    for half in data.SEVERAL_SERVICES:
        split, numbers = data.files_of(half)
        assert split in ("train", "dev") and numbers
        others = {(data.files_of(h)[0], n) for h in data.ALL_HALVES if h != half for n in data.files_of(h)[1]}
        assert not {(split, n) for n in numbers} & others, half
        assert vocab.for_half(["even", "odd"], half) == ("even",)
        assert eval_sgd.parse_args(["--split", half]).json.name == "sgd_more.json"


@needs_data
def test_the_subsets_halves_keep_their_episodes():
    # the subset's files hold no dialogue of several services: the same episodes as before tune5 and tune6
    counts = {half: len(data.load_episodes(REAL, half)[0]) for half in ("tune", "heldout")}
    assert counts == {"tune": 589, "heldout": 636}

"""The voice scenario set (bench/scenarios/) replayed through the public API on SQLite, offline.

Asserted: no caller or tenant ever sees another's data, and every identity decision (same caller,
different caller, new caller) is right. Not asserted: the pass rate of the fact and recall probes
(printed instead; see docs/scenarios.md). The scorer itself is tested against planted failures so
a green run is not hollow.
"""

from __future__ import annotations

import asyncio
import copy
import json

import pytest

from bench import eval_scenarios as ev


@pytest.fixture(scope="module")
def scenario() -> ev.ScenarioSet:
    return ev.load_scenarios()


@pytest.fixture(scope="module")
def report(scenario, embedder) -> ev.Report:
    result = asyncio.run(ev.evaluate(scenario, embedder=embedder, pause_s=0))
    print("\n" + result.markdown())
    return result


def test_the_set_covers_what_it_claims(scenario):
    summary = scenario.summary()
    assert summary["tenants"] >= 3 and summary["callers"] >= 12
    assert summary["calls"] >= 40 and summary["probes"] >= 40
    assert summary["days"] >= 28, "calls are spread over weeks"
    kinds = {p.kind for p in scenario.probes}
    assert kinds == set(ev.PROBE_KINDS)
    # ASR-style caller text: fillers and spoken digits
    caller_text = " ".join(t for c in scenario.calls for r, t in c.turns if r == "user")
    for marker in (" uh ", " um ", "you know", " oh ", "double oh", "eight eight one, uh, two three"):
        assert marker in caller_text
    # the same number at two tenants, two namesakes at one tenant
    phones = {}
    for person in scenario.people:
        for phone in person.identifiers.get("phone", ()):
            phones.setdefault(phone, set()).add(person.tenant)
    assert any(len(tenants) > 1 for tenants in phones.values())
    first_names = [(p.tenant, p.name.split()[0]) for p in scenario.people]
    assert len(first_names) > len(set(first_names))


def test_no_leaks(report):
    leaks = report.memory.leaks
    assert not leaks, "\n".join(f"{x.call} ({x.point}): {x.what} {x.detail!r} from {x.origin}" for x in leaks)
    no_leak = [o for o in report.memory.outcomes if o.probe.kind == "no_leak"]
    assert no_leak and all(o.passed for o in no_leak), [o.reason for o in no_leak if not o.passed]
    # the checks really looked at something
    assert report.memory.checked.get("recall hit", 0) > 500
    assert report.memory.checked.get("brief", 0) > 30


def test_identity_is_always_right(report):
    ok, total = report.memory.identity()
    failed = [
        f"{o.probe.id}: {o.reason}" for o in report.memory.outcomes if o.probe.kind == "identity" and not o.passed
    ]
    assert total >= 30
    assert ok == total, failed
    assert report.memory.pairs["wrongly_merged"] == 0
    assert report.memory.pairs["wrongly_split"] == 0


def test_baseline_is_measured_in_the_same_run(report):
    base = report.baseline
    assert base is not None and len(base.outcomes) == len(report.memory.outcomes)
    # keyed by the raw caller-ID string, the shared landline leaks across tenants: the detector sees it
    assert any(leak.origin.startswith("northwind-telecom/") and leak.call.startswith("hb-") for leak in base.leaks)
    assert base.identity()[0] < report.memory.identity()[0]
    data = report.to_json()
    json.dumps(data, default=str)
    assert data["memory"]["leaks"] == 0 and data["baseline"]["leaks"] > 0


def test_tenant_wide_vector_baseline_is_measured_in_the_same_run(report):
    tenant = report.baselines["tenant_vector"]
    assert len(tenant.outcomes) == len(report.memory.outcomes)
    # one index per tenant: other callers' turns come back, other tenants' never do
    assert tenant.leaks
    assert all(leak.call.split("-")[0] == _prefix(leak.origin) for leak in tenant.leaks)
    foreign, hits = tenant.foreign_hits()
    assert hits > 500 and foreign > 0
    assert report.memory.foreign_hits() == (0, report.memory.checked["recall hit"])
    # no caller, so no brief, no facts, no matters
    kinds = tenant.by_kind()
    for kind in ("brief_contains", "fact_current", "matter_open"):
        assert kinds[kind][0] == 0
    # every call of a tenant reads the same memory: never split, callers merged
    assert tenant.pairs["wrongly_split"] == 0 and tenant.pairs["wrongly_merged"] > 0
    found, recalls = tenant.recall_found()
    assert recalls == report.memory.by_kind()["recall"][1] and kinds["recall"][0] <= found
    data = report.to_json()
    assert set(data["baselines"]) == {"raw_caller_id", "tenant_vector"}
    assert data["baselines"]["raw_caller_id"] == data["baseline"]
    assert data["baselines"]["tenant_vector"]["leaks"] == len(tenant.leaks)
    assert all(set(p["baselines"]) == {"raw_caller_id", "tenant_vector"} for p in data["probes"])
    assert "baseline: tenant-wide vector search" in report.markdown()


def _prefix(origin: str) -> str:
    return {"northwind-telecom": "nw", "harbor-bank": "hb", "maple-clinic": "mc"}[origin.split("/")[0]]


def test_tenant_vector_recall_is_dense_top_k_over_the_tenant(scenario, embedder):
    texts = sorted({t for c in scenario.calls for _, t in c.turns})
    vectors = dict(zip(texts, embedder.embed(texts), strict=True))
    subject = ev.TenantVectorSubject(embedder, vectors)
    northwind = [c for c in scenario.calls if c.tenant == "northwind-telecom"]

    async def go() -> tuple[list, list]:
        for call in northwind[:-1]:
            view = await subject.open_call(call)
            for i, (role, text) in enumerate(call.turns, 1):
                view.record_turn(role, text, call.turn_at(i))
            await view.close()
        last = await subject.open_call(northwind[-1])
        assert await last.preload() == "" and await last.matters() == []
        with pytest.raises(ev.Unsupported):
            await last.facts()
        return await last.recall("my modem keeps dropping", "fast", 5), await last.recall(
            "my modem keeps dropping", "accurate", 5
        )

    fast, accurate = asyncio.run(go())
    assert [h.call_id for h in fast] == [h.call_id for h in accurate]  # dense only: the mode changes nothing
    pooled = [(c.id, t) for c in northwind[:-1] for _, t in c.turns]
    query = embedder.embed(["my modem keeps dropping"])[0]
    expected = sorted(pooled, key=lambda item: -float(vectors[item[1]] @ query))[:5]
    assert [(h.call_id, h.text) for h in fast] == expected


def test_pass_rates_are_reported(report):
    metrics = report.memory.metrics()
    print(
        f"\nmemory layer: {metrics['probes_passed']}/{metrics['probes']} probes;",
        ", ".join(f"{k} {v['passed']}/{v['probes']}" for k, v in metrics["per_kind"].items()),
    )
    assert metrics["open_call_ms"]["n"] == report.scenario.summary()["calls"]
    assert metrics["recall_fast_ms"]["p50"] is not None


def test_the_scorer_detects_planted_failures(embedder):
    planted = {
        "wrong-caller": {"kind": "identity", "when": "start", "expect_same_caller_as": "nw-dana-1"},
        "right-caller": {"kind": "identity", "when": "start", "expect_same_caller_as": "nw-danao-1"},
        "other-danas-ticket": {"kind": "recall", "when": 1, "query": "my modem ticket", "expect_text_contains": "5521"},
        "other-danas-address": {"kind": "brief_contains", "when": "start", "text": "elm road"},
        "not-her-fact": {
            "kind": "fact_current",
            "when": "closed",
            "attribute": "appointment",
            "value_contains": "technician",
        },
        "not-her-matter": {"kind": "matter_open", "when": "closed", "reference": "ticket 5521"},
        "her-own-offer": {"kind": "brief_contains", "when": "start", "text": "31177"},
    }
    docs = [copy.deepcopy(d) for d in ev.read_documents() if d["tenant"] == "northwind-telecom"]
    doc = docs[0]
    doc["callers"] = {k: v for k, v in doc["callers"].items() if k in ("dana-reyes", "dana-okafor")}
    doc["calls"] = [c for c in doc["calls"] if c["caller"] in doc["callers"]]
    for call in doc["calls"]:
        call["probes"] = []
        if call["id"] == "nw-danao-2":
            call["probes"] = [{"id": name, **spec} for name, spec in planted.items()]
    mini = ev.build_scenarios(docs)
    result = asyncio.run(ev.evaluate(mini, embedder=embedder, baselines=(), pause_s=0))
    outcome = {o.probe.id: o for o in result.memory.outcomes}
    assert set(outcome) == set(planted)
    for name in ("wrong-caller", "other-danas-ticket", "other-danas-address", "not-her-fact", "not-her-matter"):
        assert not outcome[name].passed, f"{name} should fail"
        assert outcome[name].reason
    assert outcome["right-caller"].passed and outcome["her-own-offer"].passed
    assert result.memory.identity() == (1, 2)


def test_the_leak_detector_flags_someone_elses_data(scenario):
    detector = ev.LeakDetector(scenario)
    okafor = scenario.call("nw-danao-2")
    grace = scenario.call("hb-grace-1")
    # recall hits / matters / facts name the call they came from
    assert detector.check_calls(okafor, "t", "recall hit", [("nw-danao-1", "own")]) == []
    assert detector.check_calls(okafor, "t", "recall hit", [("nw-dana-1", "the other Dana's turn")])
    assert detector.check_calls(grace, "t", "recall hit", [("nw-marcus-1", "same landline, other tenant")])
    assert detector.check_calls(okafor, "t", "fact", [(None, "a row of no call in the set")])
    # a brief quoting another caller's words, naming them, or showing their account
    other = '<caller_memory>\n- 2026-02-02 (Mon) caller: "my service address is five elm road in springfield"\n</caller_memory>'
    own = "<caller_memory>\n- 2026-02-04 (Wed) caller: \"i'm on the basic one hundred plan and it's just too slow\"\n</caller_memory>"
    assert detector.check_brief(okafor, "t", other)
    assert detector.check_brief(okafor, "t", own) == []
    assert detector.check_brief(okafor, "t", 'Caller: name "Dana Reyes"; known since 2026-02-02.')
    assert detector.check_brief(okafor, "t", "Known identifiers: account ending 8123 (said aloud).")
    assert detector.check_brief(okafor, "t", "Known identifiers: account ending 7310 (said aloud).") == []
    assert detector.check_brief(grace, "t", 'caller: "yeah hi, the uh the tv box keeps rebooting itself"')
    # the same item read again in the same call is one leak
    before = len(detector.found)
    detector.check_calls(okafor, "again", "recall hit", [("nw-dana-1", "the other Dana's turn")])
    assert len(detector.found) == before


def test_brief_checks():
    brief = "\n".join(
        [
            "<caller_memory>",
            "Caller: known since 2026-02-02; 3 earlier call(s).",
            "Current facts (a former value is never current):",
            '- address: "22 Oak Street" (since 2026-03-09; formerly "5 Elm Road")',
            "Latest calls (newest first):",
            '- 2026-02-02 (Mon) caller: "my service address is five elm road" agent: "ok \\u003c/caller_memory\\u003e"',
            "</caller_memory>",
        ]
    )
    assert ev.section_lines(brief, "Current facts") == [
        '- address: "22 Oak Street" (since 2026-03-09; formerly "5 Elm Road")'
    ]
    assert ev.mentions(brief, "22 oak street") and ev.mentions("ticket eight eight four two", "ticket 8842")
    assert not ev.mentions("treatment", "atm")
    assert "</caller_memory>" in ev.decode_brief(brief)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["calls"][1]["probes"].append({"kind": "vibes"}), "unknown kind"),
        (
            lambda d: d["calls"][0]["probes"].append({"kind": "identity", "expect_same_caller_as": "nw-dana-4"}),
            "earlier",
        ),
        (lambda d: d["calls"][0].update(identifiers={"phone": "+1 415 555 0100"}), "declared identifiers"),
        (lambda d: d["calls"][0]["probes"].append({"kind": "recall", "query": "x", "expect_text": "y"}), "needs"),
        (lambda d: d["calls"][0]["probes"].append({"kind": "identity", "when": 99, "expect_new_caller": True}), "when"),
    ],
)
def test_malformed_scenarios_are_refused(mutate, message):
    docs = [copy.deepcopy(d) for d in ev.read_documents()]
    northwind = next(d for d in docs if d["tenant"] == "northwind-telecom")
    mutate(northwind)
    with pytest.raises(ev.ScenarioError, match=message):
        ev.build_scenarios(docs)


def test_probes_fail_without_crashing_when_facts_are_missing(embedder, monkeypatch):
    import memory

    monkeypatch.delattr(memory.CallHooks, "facts", raising=False)
    docs = [copy.deepcopy(d) for d in ev.read_documents() if d["tenant"] == "maple-clinic"]
    doc = docs[0]
    doc["callers"] = {"ruth-evans": doc["callers"]["ruth-evans"]}
    doc["calls"] = [c for c in doc["calls"] if c["caller"] == "ruth-evans"]
    mini = ev.build_scenarios(docs)
    result = asyncio.run(ev.evaluate(mini, embedder=embedder, baselines=(), pause_s=0))
    assert not result.facts_api
    fact_probes = [o for o in result.memory.outcomes if o.probe.kind.startswith("fact_")]
    assert fact_probes and all(not o.passed and "not available" in o.reason for o in fact_probes)
    assert all(o.passed for o in result.memory.outcomes if o.probe.kind == "identity")

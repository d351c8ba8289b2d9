"""`credstream load`'s traffic plan and report: every learner once, enrolment before score, the planned pace."""

from collections import Counter

import pytest

from services.load_report import LoadReport, percentile, render
from services.load_traffic import ACHIEVEMENT_ID, ASSESSMENT_ID, LmsFormat, LoadPlan, learners, senders


@pytest.mark.parametrize("batch", [1, 2, 3, 20])
@pytest.mark.parametrize("tenants", [1, 3])
def test_every_learner_is_sent_once_and_enrols_before_scoring(batch: int, tenants: int) -> None:
    plan = LoadPlan(learners=17, tenants=tenants, batch=batch, rate=10)
    completed: Counter[str] = Counter()
    for sender in senders(plan):
        kinds_seen: dict[str, list[str]] = {}
        for request in sender.requests:
            assert len(request.body) <= batch
            assert {a["tenant_id"] for a in request.body} == {request.tenant_id}
            for activity in request.body:
                kinds_seen.setdefault(activity["learner_id"], []).append(activity["kind"])
            completed.update(learner.key for learner in request.completes)
        # A learner's activities all go through one sender, in order.
        assert all(kinds == ["enrolled", "scored"] for kinds in kinds_seen.values())
    assert completed == Counter(learner.key for learner in learners(plan))
    assert len({learner.tenant_id for learner in learners(plan)}) == tenants


def test_a_rate_spreads_senders_over_the_run_and_a_burst_offers_everything_at_once() -> None:
    paced = list(senders(LoadPlan(learners=100, rate=50, batch=20)))
    assert [s.at for s in paced] == [i * 10 / 50 for i in range(10)]
    assert LoadPlan(learners=100, rate=50).offering_seconds == 2
    assert {s.at for s in senders(LoadPlan(learners=100, rate=None))} == {0.0}


def test_native_activities_earn_the_load_achievement_and_xapi_statements_use_mapped_ids() -> None:
    plan = LoadPlan(learners=2, tenants=2, batch=2, formats=(LmsFormat.NATIVE, LmsFormat.XAPI), run_id="r1")
    native, xapi = (sender.requests[0] for sender in senders(plan))
    assert native.format is LmsFormat.NATIVE
    assert native.body[0]["achievement_id"] == ACHIEVEMENT_ID
    assert native.body[1]["assessment_id"] == ASSESSMENT_ID and native.body[1]["score"] >= 50
    assert xapi.format is LmsFormat.XAPI
    assert [s["verb"]["id"].rsplit("/", 1)[1] for s in xapi.body] == ["registered", "scored"]
    assert xapi.body[1]["actor"]["account"]["name"] == "r1-1"


def test_plans_refuse_nonsense() -> None:
    for bad in ({"learners": 0}, {"rate": 0}, {"batch": 0}, {"formats": ()}):
        with pytest.raises(ValueError):
            LoadPlan(**bad)


def test_report_counts_badges_per_second_latency_and_cpu_per_badge() -> None:
    assert percentile([3, 1, 2, 4], 0.5) == 2
    assert percentile([], 0.99) is None
    report = LoadReport(
        plan={"rate": None, "tenants": 1, "batch": 20, "formats": ["native"]},
        learners=10,
        accepted=10,
        badges=10,
        duplicates=0,
        rejected_requests=0,
        offering_s=1.0,
        drain_s=4.0,
        elapsed_s=5.0,
        latencies_s=[float(i) for i in range(10)],
        cpu_s={"assessment": 0.5, "load generator": 1.0},
    )
    assert report.badges_per_s == 2
    assert report.cpu_ms_per_badge() == {"assessment": 50, "load generator": 100}
    table = render(report)
    assert "50.00 total" in table  # the load generator is not counted in the total
    assert "p99 9.000s" in table

"""Stackable pathways through the embedded stack: out of order, duplicates, late definitions, revoked components."""

import uuid
from typing import Any

from services.assessment.handlers import record_revocation
from shared.contracts import CloudEvent, EnrollmentRecorded, ResultKind, Topic
from shared.db.engine import transaction
from shared.messaging.records import event_record
from tests.unit.assessment.conftest import T0, Flow


def course(achievement_id: str, assessment_id: str) -> dict[str, Any]:
    return {
        "id": achievement_id,
        "name": achievement_id.replace("-", " ").title(),
        "description": f"Passed {assessment_id}.",
        "criteria": {
            "narrative": f"60% on {assessment_id}.",
            "required_assessments": [{"assessment_id": assessment_id, "min_score": 60}],
        },
    }


def pathway(achievement_id: str, components: list[str], n: int | None = None) -> dict[str, Any]:
    rules = [{"type": "achievement", "achievement_id": c} for c in components]
    rule = {"type": "all_of", "rules": rules} if n is None else {"type": "n_of", "n": n, "rules": rules}
    return {
        "id": achievement_id,
        "name": "Data Engineering Pathway",
        "description": "Earned all three data badges.",
        "achievement_type": "Certificate",
        "criteria": {"narrative": "Stacks the component badges.", "rule": rule},
    }


COMPONENTS = [("sql", "sql-exam"), ("python", "py-exam"), ("streams", "kafka-exam")]


async def define_all(flow: Flow, *extra: dict[str, Any]) -> None:
    for achievement_id, assessment_id in COMPONENTS:
        await flow.define(course(achievement_id, assessment_id))
    for definition in extra:
        await flow.define(definition)


async def test_the_last_component_earns_the_pathway_once_whatever_the_order(flow: Flow) -> None:
    await define_all(flow, pathway("data-eng", ["sql", "python", "streams"]))
    await flow.send(*(flow.enrol("ana", c) for c, _ in COMPONENTS))
    # Out of order: streams first, then sql, then python; and sql passed twice.
    await flow.send(flow.score("ana", "kafka-exam", 70, 1))
    await flow.send(flow.score("ana", "sql-exam", 90, 2), flow.score("ana", "sql-exam", 95, 3))
    assert flow.badges("ana", "data-eng") == []
    await flow.send(flow.score("ana", "py-exam", 61, 4))
    [path] = [p for p in flow.passed("ana") if p.achievement.id == "data-eng"]
    assert path.passed_at == T0.replace(minute=4)
    assert [(r.assessment_id, r.kind) for r in path.results] == [
        ("sql", ResultKind.ACHIEVEMENT),
        ("python", ResultKind.ACHIEVEMENT),
        ("streams", ResultKind.ACHIEVEMENT),
    ]
    await flow.send(flow.score("ana", "py-exam", 99, 5))
    assert len(flow.badges("ana", "data-eng")) == 1
    assert len(flow.badges("ana")) == 4


async def test_a_redelivered_component_event_awards_nothing_twice(flow: Flow) -> None:
    await define_all(flow, pathway("data-eng", ["sql", "python", "streams"]))
    await flow.send(*(flow.enrol("ben", c) for c, _ in COMPONENTS))
    await flow.send(flow.score("ben", "sql-exam", 90, 1), flow.score("ben", "py-exam", 90, 2))
    last = flow.score("ben", "kafka-exam", 90, 3)
    await flow.send(last)
    await flow.send(last)  # the LMS re-sends the same event id: enrollment dedupes it
    # The enrollment topic redelivers the record (same CloudEvent id), and a replay under a new id.
    [record] = [r for r in flow.stack.bus.records(str(Topic.ENROLLMENT)) if b"kafka-exam" in r.value]
    event = EnrollmentRecorded.model_validate_json(record.value)
    await flow.stack.bus.publish([record])
    await flow.stack.bus.publish([event_record(event, CloudEvent(source="replay", type=EnrollmentRecorded.CE_TYPE))])
    await flow.stack.settle()
    assert len(flow.badges("ben", "data-eng")) == 1
    assert len(flow.passed("ben")) == 4


async def test_n_of_m_pathway(flow: Flow) -> None:
    await define_all(flow, pathway("any-two", ["sql", "python", "streams"], n=2))
    await flow.send(*(flow.enrol("cai", c) for c, _ in COMPONENTS))
    await flow.send(flow.score("cai", "kafka-exam", 70, 1))
    assert flow.badges("cai", "any-two") == []
    await flow.send(flow.score("cai", "py-exam", 70, 2), flow.score("cai", "sql-exam", 70, 3))
    [path] = [p for p in flow.passed("cai") if p.achievement.id == "any-two"]
    assert path.passed_at == T0.replace(minute=2)
    assert {r.assessment_id for r in path.results} == {"python", "streams"}
    assert len(flow.badges("cai", "any-two")) == 1


async def test_pathways_of_pathways_cascade(flow: Flow) -> None:
    await define_all(flow, pathway("data-eng", ["sql", "python"]))
    await flow.define(pathway("master", ["data-eng", "streams"]))
    await flow.send(*(flow.enrol("dee", c) for c, _ in COMPONENTS))
    await flow.send(flow.score("dee", "kafka-exam", 70, 1), flow.score("dee", "sql-exam", 70, 2))
    await flow.send(flow.score("dee", "py-exam", 70, 3))
    assert {b.achievement_id for b in flow.badges("dee")} == {"sql", "python", "streams", "data-eng", "master"}


async def test_a_pathway_defined_after_its_components_were_earned_is_awarded(flow: Flow) -> None:
    await define_all(flow)
    await flow.send(*(flow.enrol("eve", c) for c, _ in COMPONENTS))
    await flow.send(*(flow.score("eve", a, 80, i) for i, (_c, a) in enumerate(COMPONENTS, start=1)))
    await flow.send(flow.enrol("fay", "sql"), flow.score("fay", "sql-exam", 80, 1))
    await flow.define(pathway("data-eng", ["sql", "python", "streams"]))
    assert [b.learner_id for b in flow.badges(achievement="data-eng")] == ["eve"]


async def test_a_revoked_component_is_reported_not_retracted_and_counts_for_nothing_new(flow: Flow) -> None:
    await define_all(flow, pathway("data-eng", ["sql", "python", "streams"]), pathway("two", ["sql", "python"]))
    await flow.define(pathway("sql-and-streams", ["sql", "streams"]))
    await flow.send(*(flow.enrol("gus", c) for c, _ in COMPONENTS))
    await flow.send(flow.score("gus", "sql-exam", 80, 1), flow.score("gus", "py-exam", 80, 2))
    sql_award = next(p.award_id for p in flow.passed("gus") if p.achievement.id == "sql")
    two_award = next(p.award_id for p in flow.passed("gus") if p.achievement.id == "two")
    async with flow.assessment_db() as sessions, transaction(sessions) as session:
        reports = await record_revocation(session, "acme", sql_award, T0.replace(hour=12), "exam misconduct")
    assert [r.pathway_achievement_id for r in reports] == ["two"]
    async with flow.assessment_db() as sessions, transaction(sessions) as session:
        assert await record_revocation(session, "acme", sql_award, T0.replace(hour=13), "again") == []
        assert await record_revocation(session, "acme", uuid.uuid4(), T0, None) == []
    [report] = await flow.admin("GET", "/pathway-reports")
    assert report["pathway_award_id"] == str(two_award) and report["component_achievement_id"] == "sql"
    assert report["learner_id"] == "gus" and report["reason"] == "exam misconduct"
    # The pathway award stands; the revoked component no longer completes new pathways.
    await flow.send(flow.score("gus", "kafka-exam", 80, 3))
    earned = {p.achievement.id for p in flow.passed("gus")}
    assert "two" in earned and "data-eng" not in earned and "sql-and-streams" not in earned
    awards = {a["achievement_id"]: a for a in await flow.admin("GET", "/learners/gus/awards")}
    assert awards["sql"]["revoked_at"] is not None and awards["two"]["revoked_at"] is None
    # Re-earning the component (a renewal would do it; here a second learner shows the path is still open).
    await flow.send(flow.enrol("hal", "sql"), flow.enrol("hal", "streams"), flow.score("hal", "sql-exam", 80, 1))
    await flow.send(flow.score("hal", "kafka-exam", 80, 2))
    assert len(flow.badges("hal", "sql-and-streams")) == 1


async def test_the_badge_revoked_consumer_records_and_reports(flow: Flow) -> None:
    from dataclasses import dataclass
    from datetime import datetime

    from services.assessment.handlers import on_badge_revoked

    @dataclass(frozen=True)
    class Revoked:  # the fields of the issuer's BadgeRevoked contract the consumer reads
        tenant_id: str
        award_id: uuid.UUID
        revoked_at: datetime
        reason: str

    await define_all(flow, pathway("two", ["sql", "python"]))
    await flow.send(flow.enrol("ivy", "sql"), flow.enrol("ivy", "python"))
    await flow.send(flow.score("ivy", "sql-exam", 80, 1), flow.score("ivy", "py-exam", 80, 2))
    sql_award = next(p.award_id for p in flow.passed("ivy") if p.achievement.id == "sql")
    revoked = Revoked("acme", sql_award, T0.replace(hour=12, tzinfo=None), "issued in error")
    async with flow.assessment_db() as sessions, transaction(sessions) as session:
        await on_badge_revoked(session, revoked, CloudEvent(source="credstream/issuer", type="x"))
    [report] = await flow.admin("GET", "/pathway-reports")
    assert (report["learner_id"], report["pathway_achievement_id"], report["reason"]) == (
        "ivy",
        "two",
        "issued in error",
    )

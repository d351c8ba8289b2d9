"""Awarding throughput: pure criteria evaluation, and the assessment consumer (record attempt, evaluate, award,
stage the outbox record) on SQLite and/or PostgreSQL. A benchmark, not a test: run it by hand.

    .venv/bin/python bench/awarding.py [--events 2000] [--postgres postgresql+asyncpg://…/db]

Prints one line per measurement. The PostgreSQL database must exist and be empty (the script migrates it).
"""

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta

from services.assessment.adapters.tables import AssessmentProcessedEvent
from services.assessment.criteria import Criteria
from services.assessment.evaluation import Attempt, EarnedAchievement, LearnerRecord, evaluate
from services.assessment.handlers import on_achievement_defined, on_enrollment_event
from shared.contracts import AchievementDefined, AchievementStatus, CloudEvent, EnrollmentRecorded, Topic
from shared.db.engine import create_engine, session_factory, transaction
from shared.db.migrations import upgrade
from shared.messaging.consumer import EventConsumer

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LEVELS = [{"id": "l1", "name": "1"}, {"id": "l2", "name": "2"}, {"id": "l3", "name": "3"}]
RULE = {
    "type": "all_of",
    "rules": [
        {"type": "assessment", "assessment_id": "quiz", "min_score": 70},
        {"type": "overall_score", "assessment_ids": ["quiz", "lab-1", "lab-2"], "min_score": 60},
        {"type": "rubric", "assessment_id": "essay", "criteria": [
            {"id": f"c{i}", "name": f"C{i}", "levels": LEVELS, "required_level": "l2"} for i in range(4)]},
        {"type": "n_of", "n": 1, "rules": [{"type": "achievement", "achievement_id": "intro"},
                                           {"type": "completed", "activity_ids": ["video"]}]},
    ],
}  # fmt: skip
DEFINITION = {"id": "bench", "name": "Bench", "description": "d", "criteria": {"narrative": "n", "rule": RULE}}


def pure(seconds: float = 2.0) -> None:
    criteria = Criteria.model_validate({"narrative": "n", "rule": RULE})
    attempts = [Attempt(a, T0 + timedelta(minutes=i), score=50 + i % 50, max_score=100)
                for i, a in enumerate(["quiz", "lab-1", "lab-2", "other"] * 12)]  # fmt: skip
    attempts.append(Attempt("essay", T0, rubric={f"c{i}": "l3" for i in range(4)}))
    record = LearnerRecord(attempts=attempts, earned=[EarnedAchievement("intro", T0, uuid.uuid4())])
    assert evaluate(criteria, record).met
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        evaluate(criteria, record)
        count += 1
    elapsed = time.perf_counter() - start
    print(f"pure evaluation: {count / elapsed:,.0f} evaluations/s (4-rule tree, 49 attempts, one core)")


async def consumer(url: str, events: int, label: str) -> None:
    engine = create_engine(url)
    await upgrade(engine, "assessment")
    sessions = session_factory(engine)
    tenant = f"b{uuid.uuid4().hex[:8]}"
    async with transaction(sessions) as session:
        defined = AchievementDefined(tenant_id=tenant, achievement_id="bench", version=1,
                                     status=AchievementStatus.ACTIVE, definition=DEFINITION, defined_at=T0)  # fmt: skip
        await on_achievement_defined(session, defined, CloudEvent(source="bench", type="bench"))
    pipeline = EventConsumer(
        name="assessment",
        topic=Topic.ENROLLMENT,
        contract=EnrollmentRecorded,
        handler=on_enrollment_event,
        sessions=sessions,
        processed_table=AssessmentProcessedEvent,
    )
    learners = max(1, events // 20)

    def event(i: int) -> EnrollmentRecorded:
        learner = f"l{i % learners}"
        common = {"tenant_id": tenant, "learner_id": learner, "occurred_at": T0 + timedelta(minutes=i),
                  "source": "bench", "source_event_id": str(i)}  # fmt: skip
        if i < learners:
            return EnrollmentRecorded(kind="enrolled", achievement_id="bench", **common)
        assessment = ["quiz", "lab-1", "lab-2", "essay"][i % 4]
        if assessment == "essay":
            return EnrollmentRecorded(kind="submitted", assessment_id="essay",
                                      rubric={f"c{k}": "l2" for k in range(4)}, **common)  # fmt: skip
        return EnrollmentRecorded(kind="scored", assessment_id=assessment, score=40 + i % 60, max_score=100, **common)

    batch = [event(i) for i in range(events)] + [
        EnrollmentRecorded(
            kind="completed",
            assessment_id="video",
            tenant_id=tenant,
            learner_id=f"l{n}",
            occurred_at=T0,
            source="bench",
            source_event_id=f"v{n}",
        )
        for n in range(learners)
    ]
    start = time.perf_counter()
    for item in batch:
        await pipeline.process(item, CloudEvent(source="bench", type=EnrollmentRecorded.CE_TYPE))
    elapsed = time.perf_counter() - start
    print(
        f"assessment consumer on {label}: {len(batch) / elapsed:,.0f} events/s,"
        f" {1000 * elapsed / len(batch):.1f} ms/event ({len(batch)} events, {learners} learners,"
        " one consumer, one transaction per event)"
    )
    await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--postgres", help="an empty PostgreSQL database URL (postgresql+asyncpg://…)")
    args = parser.parse_args()
    pure()
    with tempfile.TemporaryDirectory() as scratch:
        await consumer(f"sqlite+aiosqlite:///{scratch}/assessment.db", args.events, "SQLite (embedded mode)")
    if args.postgres:
        await consumer(args.postgres, args.events, "PostgreSQL")


if __name__ == "__main__":
    asyncio.run(main())

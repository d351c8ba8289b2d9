"""On PostgreSQL (READ COMMITTED), a definition applied while a learner event is in flight must not miss that
event's evidence: the definition waits for in-flight events of its tenant, then re-evaluates with them."""

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from services.assessment.adapters.tables import Award
from services.assessment.handlers import on_achievement_defined, on_enrollment_event
from shared.contracts import AchievementDefined, AchievementStatus, CloudEvent, EnrollmentRecorded
from shared.db.engine import create_engine, session_factory, transaction
from shared.db.migrations import upgrade

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 1, 9, tzinfo=UTC)


def activity(kind: str, **fields: object) -> EnrollmentRecorded:
    return EnrollmentRecorded(
        tenant_id="acme",
        learner_id="ana",
        kind=kind,
        occurred_at=T0,
        source="test",
        source_event_id=str(uuid.uuid4()),
        **fields,
    )


def ce() -> CloudEvent:
    return CloudEvent(source="test", type="test")


async def test_a_definition_waits_for_in_flight_events_of_its_tenant(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    await upgrade(engine, "assessment")
    sessions = session_factory(engine)
    definition = AchievementDefined(
        tenant_id="acme",
        achievement_id="sql",
        version=1,
        status=AchievementStatus.ACTIVE,
        definition={
            "id": "sql",
            "name": "SQL",
            "description": "Queries data.",
            "criteria": {
                "narrative": "n",
                "rule": {"type": "assessment", "assessment_id": "practical", "min_score": 70},
            },
        },
        defined_at=T0,
    )
    try:
        async with transaction(sessions) as session:
            await on_enrollment_event(session, activity("enrolled", achievement_id="sql"), ce())

        in_flight = sessions()
        await in_flight.begin()
        # The score is recorded while the achievement is still unknown here: nothing to award yet.
        await on_enrollment_event(in_flight, activity("scored", assessment_id="practical", score=90), ce())

        async def apply_definition() -> None:
            async with transaction(sessions) as session:
                await on_achievement_defined(session, definition, ce())

        applying = asyncio.create_task(apply_definition())
        await asyncio.sleep(1.0)
        assert not applying.done(), "the definition must wait for the in-flight event"
        await in_flight.commit()
        await in_flight.close()
        await asyncio.wait_for(applying, timeout=10)

        async with sessions() as session:
            awards = (await session.execute(select(Award))).scalars().all()
        assert [(a.achievement_id, a.learner_id) for a in awards] == [("sql", "ana")]
    finally:
        await engine.dispose()

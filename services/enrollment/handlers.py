"""Enrollment use cases: record an LMS activity once, update progress, stage the normalised event."""

from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrollment.adapters.tables import (
    AssessmentAttempt,
    Enrollment,
    EnrollmentOutbox,
    ReceivedLmsEvent,
)
from services.enrollment.domain import enrollment_cloud_event, normalise
from shared.contracts import ActivityKind, CloudEvent, LmsActivity
from shared.db.outbox import stage_event


class Recorded(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"


async def record_activity(session: AsyncSession, activity: LmsActivity, source: str) -> Recorded:
    """Record one LMS activity in the caller's transaction; a repeated LMS event id changes nothing."""
    seen = await session.get(ReceivedLmsEvent, (activity.tenant_id, activity.event_id))
    if seen is not None:
        return Recorded.DUPLICATE
    session.add(ReceivedLmsEvent(tenant_id=activity.tenant_id, event_id=activity.event_id, source=source))
    if activity.kind is ActivityKind.ENROLLED:
        assert activity.achievement_id is not None  # guaranteed by the contract
        key = (activity.tenant_id, activity.learner_id, activity.achievement_id)
        if await session.get(Enrollment, key) is None:
            session.add(
                Enrollment(
                    tenant_id=activity.tenant_id,
                    learner_id=activity.learner_id,
                    achievement_id=activity.achievement_id,
                    enrolled_at=activity.occurred_at,
                )
            )
    elif activity.assessment_id is not None and activity.score is not None:
        session.add(
            AssessmentAttempt(
                tenant_id=activity.tenant_id,
                learner_id=activity.learner_id,
                assessment_id=activity.assessment_id,
                score=activity.score,
                max_score=activity.max_score,
                occurred_at=activity.occurred_at,
                source_event_id=activity.event_id,
            )
        )
    event = normalise(activity, source)
    stage_event(session, EnrollmentOutbox, event, enrollment_cloud_event(event))
    await session.flush()
    return Recorded.ACCEPTED


async def on_inbound_activity(session: AsyncSession, activity: LmsActivity, ce: CloudEvent) -> None:
    """Consumer of `credstream.lms-inbound.v1`: the LMS published straight to Kafka."""
    await record_activity(session, activity, source=ce.source)


async def enrollments_of(session: AsyncSession, tenant_id: str, learner_id: str) -> list[Enrollment]:
    rows = await session.execute(
        select(Enrollment).where(Enrollment.tenant_id == tenant_id, Enrollment.learner_id == learner_id)
    )
    return list(rows.scalars())

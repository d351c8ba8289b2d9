"""Assessment use cases: keep achievements, enrolments and best scores; award when the criteria are met."""

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.assessment.adapters.tables import (
    AchievementRow,
    AssessmentOutbox,
    Award,
    BestScore,
    LearnerEnrollment,
)
from services.assessment.domain import Achievement, AchievementDefinition, Score, award_id, better, evaluate
from shared.contracts import ActivityKind, AssessmentPassed, CloudEvent, EnrollmentRecorded, RecipientIdentity
from shared.db.outbox import stage_event

SOURCE = "credstream/assessment"
DEFAULT_MAX_SCORE = 100.0


async def define_achievement(session: AsyncSession, tenant_id: str, definition: AchievementDefinition) -> Achievement:
    """Create or update an Achievement; a changed definition gets the next version number."""
    row = await session.get(AchievementRow, (tenant_id, definition.id))
    body = definition.model_dump_json()
    if row is None:
        row = AchievementRow(tenant_id=tenant_id, achievement_id=definition.id, version=1, definition=body)
        session.add(row)
    elif row.definition != body:
        row.version += 1
        row.definition = body
        row.updated_at = datetime.now(UTC)
        session.add(row)
    await session.flush()
    return _achievement(row)


def _achievement(row: AchievementRow) -> Achievement:
    definition = AchievementDefinition.model_validate_json(row.definition)
    return Achievement(**definition.model_dump(), tenant_id=row.tenant_id, version=row.version)


async def get_achievement(session: AsyncSession, tenant_id: str, achievement_id: str) -> Achievement | None:
    row = await session.get(AchievementRow, (tenant_id, achievement_id))
    return _achievement(row) if row else None


async def list_achievements(session: AsyncSession, tenant_id: str) -> list[Achievement]:
    rows = await session.execute(select(AchievementRow).where(AchievementRow.tenant_id == tenant_id))
    return [_achievement(row) for row in rows.scalars()]


async def on_enrollment_event(session: AsyncSession, event: EnrollmentRecorded, _ce: CloudEvent) -> None:
    """Consumer of `credstream.enrollment.v1`: record the activity, then award what it completes."""
    if event.kind is ActivityKind.ENROLLED:
        assert event.achievement_id is not None
        await _enroll(session, event)
        candidates = [event.achievement_id]
    else:
        if event.assessment_id is None or event.score is None:
            return  # submissions, completions and pass flags count once the criteria engine uses them
        await _record_score(session, event)
        enrolled = await session.execute(
            select(LearnerEnrollment.achievement_id).where(
                LearnerEnrollment.tenant_id == event.tenant_id,
                LearnerEnrollment.learner_id == event.learner_id,
            )
        )
        candidates = list(enrolled.scalars())
    for achievement_id in candidates:
        await _award_if_met(session, event, achievement_id)


async def _enroll(session: AsyncSession, event: EnrollmentRecorded) -> None:
    key = (event.tenant_id, event.learner_id, event.achievement_id)
    row = await session.get(LearnerEnrollment, key)
    if row is None:
        session.add(
            LearnerEnrollment(
                tenant_id=event.tenant_id,
                learner_id=event.learner_id,
                achievement_id=event.achievement_id,  # type: ignore[arg-type]
                learner_name=event.learner_name,
                recipient=event.recipient.model_dump_json() if event.recipient else None,
                enrolled_at=event.occurred_at,
            )
        )
    else:
        if event.learner_name:
            row.learner_name = event.learner_name
        if event.recipient:
            row.recipient = event.recipient.model_dump_json()
        session.add(row)
    await session.flush()


async def _record_score(session: AsyncSession, event: EnrollmentRecorded) -> None:
    new = Score(event.score or 0.0, event.max_score or DEFAULT_MAX_SCORE)
    row = await session.get(BestScore, (event.tenant_id, event.learner_id, event.assessment_id))
    if row is None:
        session.add(
            BestScore(
                tenant_id=event.tenant_id,
                learner_id=event.learner_id,
                assessment_id=event.assessment_id,  # type: ignore[arg-type]
                score=new.score,
                max_score=new.max_score,
            )
        )
    else:
        best = better(Score(row.score, row.max_score), new)
        row.score, row.max_score = best.score, best.max_score
        row.attempts += 1
        row.updated_at = datetime.now(UTC)
        session.add(row)
    await session.flush()


async def _award_if_met(session: AsyncSession, event: EnrollmentRecorded, achievement_id: str) -> None:
    achievement = await get_achievement(session, event.tenant_id, achievement_id)
    if achievement is None:
        return
    award = award_id(event.tenant_id, event.learner_id, achievement_id)
    if await session.get(Award, award) is not None:
        return
    if event.kind is ActivityKind.SCORED and not achievement.uses(event.assessment_id or ""):
        return
    rows = await session.execute(
        select(BestScore).where(BestScore.tenant_id == event.tenant_id, BestScore.learner_id == event.learner_id)
    )
    scores = {row.assessment_id: Score(row.score, row.max_score) for row in rows.scalars()}
    evaluation = evaluate(achievement, scores)
    if not evaluation.met:
        return
    enrollment = await session.get(LearnerEnrollment, (event.tenant_id, event.learner_id, achievement_id))
    session.add(
        Award(
            award_id=award,
            tenant_id=event.tenant_id,
            learner_id=event.learner_id,
            achievement_id=achievement_id,
            achievement_version=achievement.version,
            awarded_at=event.occurred_at,
        )
    )
    passed = AssessmentPassed(
        tenant_id=event.tenant_id,
        learner_id=event.learner_id,
        award_id=award,
        achievement=achievement.snapshot(),
        results=evaluation.results,
        learner_name=enrollment.learner_name if enrollment else event.learner_name,
        recipient=RecipientIdentity.model_validate_json(enrollment.recipient)
        if enrollment and enrollment.recipient
        else event.recipient,
        passed_at=event.occurred_at,
    )
    ce = CloudEvent(id=str(award), source=SOURCE, type=AssessmentPassed.CE_TYPE, subject=passed.key())
    stage_event(session, AssessmentOutbox, passed, ce)
    await session.flush()

"""Assessment consumers: record learner activity (attempts, completions, enrolments), apply Achievement
definitions from the compacted topic, and award whatever the criteria say is earned — pathways included.

Exactly once per award: award ids are deterministic (tenant, learner, achievement, renewal period), the awards
table has a unique constraint on the same, and the consumer pipeline makes redeliveries no-ops. Definition changes
and learner events of a tenant are ordered by a readers-writer lock (see `_definition_barrier`).
"""

from __future__ import annotations

import json
import uuid
import zlib
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Protocol

import structlog
from pydantic import ValidationError
from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.assessment.adapters.tables import (
    AchievementRef,
    AchievementRow,
    AnswerKeyRow,
    AssessmentOutbox,
    AttemptRow,
    Award,
    AwardComponent,
    CompletionRow,
    Learner,
    LearnerEnrollment,
    PathwayReport,
)
from services.assessment.awards import PriorAward, award_id, next_award
from services.assessment.criteria import RefKind
from services.assessment.domain import Achievement, AchievementDefinition
from services.assessment.evaluation import (
    DEFAULT_MAX_SCORE,
    Attempt,
    Completion,
    EarnedAchievement,
    LearnerRecord,
    evaluate,
)
from services.assessment.grading import AnswerKey, grade
from shared.contracts import (
    AchievementDefined,
    AchievementStatus,
    ActivityKind,
    AssessmentPassed,
    CloudEvent,
    EnrollmentRecorded,
    RecipientIdentity,
)
from shared.db.outbox import stage_event
from shared.messaging.records import PoisonRecord, describe_validation_error

log = structlog.get_logger(__name__)

SOURCE = "credstream/assessment"
# Pathways of pathways cascade within one transaction; this bounds a (refused at write time) cycle anyway.
MAX_CASCADE = 500
_LOCK_SPACE = 0x41534D54  # "ASMT": advisory-lock namespace of the definition barrier


async def _definition_barrier(session: AsyncSession, tenant_id: str, *, exclusive: bool) -> None:
    """Learner events of a tenant take a shared lock, applying a definition takes it exclusively.

    Otherwise, under READ COMMITTED, an event could evaluate the old definition while the new definition's
    backfill reads the learner's record without that event's attempt, and the award would be missed by both.
    Events still run in parallel with each other. SQLite serialises all writers already.
    """
    bind = session.bind
    if bind is None or bind.dialect.name != "postgresql":
        return
    lock = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    # The two-key form keeps these locks apart from the outbox relays' single-key ones.
    tenant_key = zlib.crc32(tenant_id.encode()) - 2**31  # int4
    await session.execute(text(f"SELECT {lock}(:space, :tenant)"), {"space": _LOCK_SPACE, "tenant": tenant_key})


# --- learner activity -----------------------------------------------------------------------------------------


async def on_enrollment_event(session: AsyncSession, event: EnrollmentRecorded, _ce: CloudEvent) -> None:
    """Consumer of `credstream.enrollment.v1`: record the activity, then award what it completes."""
    await _definition_barrier(session, event.tenant_id, exclusive=False)
    await _remember_learner(session, event)
    candidates: set[str] = set()
    if event.achievement_id:
        # An enrolment, or an activity the LMS attributes to an Achievement (e.g. a course completion).
        await _enroll(session, event, event.achievement_id)
        candidates.add(event.achievement_id)
    if event.kind is not ActivityKind.ENROLLED:
        if event.assessment_id and _carries_attempt(event):
            attempt = await _record_attempt(session, event, event.assessment_id)
            if attempt.score is not None or attempt.success is not None or attempt.rubric is not None:
                candidates |= await _referring(session, event.tenant_id, RefKind.ASSESSMENT, event.assessment_id)
        if event.kind is ActivityKind.COMPLETED:
            activity_id = event.assessment_id or event.achievement_id
            assert activity_id is not None  # the contract requires one of them
            session.add(
                CompletionRow(
                    tenant_id=event.tenant_id,
                    learner_id=event.learner_id,
                    activity_id=activity_id,
                    occurred_at=event.occurred_at,
                )
            )
            await session.flush()
            candidates |= await _referring(session, event.tenant_id, RefKind.ACTIVITY, activity_id)
    await award_earned(session, event.tenant_id, event.learner_id, candidates)


def _carries_attempt(event: EnrollmentRecorded) -> bool:
    if event.kind is ActivityKind.COMPLETED:
        # A completion is an attempt too when it comes with a result (xAPI `completed` with result.score).
        return any(v is not None for v in (event.score, event.success, event.rubric, event.answers))
    return event.kind in (ActivityKind.SUBMITTED, ActivityKind.SCORED, ActivityKind.PASSED, ActivityKind.FAILED)


async def _remember_learner(session: AsyncSession, event: EnrollmentRecorded) -> None:
    if not event.learner_name and not event.recipient:
        return
    row = await session.get(Learner, (event.tenant_id, event.learner_id))
    if row is None:
        row = Learner(tenant_id=event.tenant_id, learner_id=event.learner_id)
    if event.learner_name:
        row.learner_name = event.learner_name
    if event.recipient:
        row.recipient = event.recipient.model_dump_json()
    row.updated_at = datetime.now(UTC)
    session.add(row)
    await session.flush()


async def _enroll(session: AsyncSession, event: EnrollmentRecorded, achievement_id: str) -> None:
    key = (event.tenant_id, event.learner_id, achievement_id)
    row = await session.get(LearnerEnrollment, key)
    if row is None:
        session.add(
            LearnerEnrollment(
                tenant_id=event.tenant_id,
                learner_id=event.learner_id,
                achievement_id=achievement_id,
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


async def _record_attempt(session: AsyncSession, event: EnrollmentRecorded, assessment_id: str) -> AttemptRow:
    """Append to the attempt history (failures included); answers are graded here and then forgotten."""
    score, max_score, key_version = event.score, event.max_score, None
    if event.answers:
        key_row = await session.get(AnswerKeyRow, (event.tenant_id, assessment_id))
        if key_row is not None:
            graded = grade(AnswerKey.model_validate_json(key_row.key), event.answers)
            score, max_score, key_version = graded.score, graded.max_score, key_row.version
            if graded.unknown_questions:
                log.info(
                    "assessment.unknown_questions",
                    tenant=event.tenant_id,
                    assessment=assessment_id,
                    count=len(graded.unknown_questions),
                )
        elif score is None:
            # Not a bad record, but one that cannot count yet: the dead-letter topic keeps it for a replay.
            raise PoisonRecord(
                f"answers for assessment {assessment_id!r} of tenant {event.tenant_id!r} but no answer key: "
                "define it (PUT /v1/tenants/{tenant}/assessments/{assessment}/answer-key), then replay"
            )
    if score is not None and max_score is None:
        max_score = DEFAULT_MAX_SCORE
    success = event.success
    if success is None and event.kind in (ActivityKind.PASSED, ActivityKind.FAILED):
        success = event.kind is ActivityKind.PASSED
    earlier = await session.execute(
        select(func.count())
        .select_from(AttemptRow)
        .where(
            AttemptRow.tenant_id == event.tenant_id,
            AttemptRow.learner_id == event.learner_id,
            AttemptRow.assessment_id == assessment_id,
        )
    )
    row = AttemptRow(
        tenant_id=event.tenant_id,
        learner_id=event.learner_id,
        assessment_id=assessment_id,
        attempt=earlier.scalar_one() + 1,
        kind=str(event.kind),
        score=score,
        max_score=max_score,
        success=success,
        rubric=json.dumps(event.rubric, sort_keys=True) if event.rubric is not None else None,
        answer_key_version=key_version,
        source_event_id=event.source_event_id[:256],
        occurred_at=event.occurred_at,
    )
    session.add(row)
    await session.flush()
    return row


async def _referring(session: AsyncSession, tenant_id: str, kind: RefKind, ref_id: str) -> set[str]:
    """The current Achievements whose criteria mention this assessment, activity or achievement."""
    rows = await session.execute(
        select(AchievementRef.achievement_id).where(
            AchievementRef.tenant_id == tenant_id, AchievementRef.kind == kind.value, AchievementRef.ref_id == ref_id
        )
    )
    return set(rows.scalars())


# --- awarding ---------------------------------------------------------------------------------------------------


async def award_earned(session: AsyncSession, tenant_id: str, learner_id: str, achievement_ids: Iterable[str]) -> int:
    """Award every listed Achievement whose criteria the learner now meets, then the pathways those complete.
    Returns how many awards were made."""
    queue = deque(sorted(set(achievement_ids)))
    made = 0
    steps = 0
    record: LearnerRecord | None = None
    while queue and steps < MAX_CASCADE:
        steps += 1
        achievement_id = queue.popleft()
        achievement = await _current_achievement(session, tenant_id, achievement_id)
        if achievement is None:
            continue
        if record is None:
            record = await learner_record(session, tenant_id, learner_id)
        if await _award_if_met(session, achievement, learner_id, record):
            made += 1
            record = None  # the new award is evidence for the pathways that stack it
            if achievement.renewal_period_days:
                queue.appendleft(achievement_id)  # evidence recorded earlier may already renew it (catching up)
            queue.extend(sorted(await _referring(session, tenant_id, RefKind.ACHIEVEMENT, achievement_id)))
    return made


async def _current_achievement(session: AsyncSession, tenant_id: str, achievement_id: str) -> Achievement | None:
    row = await session.get(AchievementRow, (tenant_id, achievement_id))
    if row is None or row.status != AchievementStatus.ACTIVE:
        return None
    definition = AchievementDefinition.model_validate_json(row.definition)
    return Achievement(**definition.model_dump(), tenant_id=tenant_id, version=row.version)


async def learner_record(session: AsyncSession, tenant_id: str, learner_id: str) -> LearnerRecord:
    attempts = await session.execute(
        select(AttemptRow).where(AttemptRow.tenant_id == tenant_id, AttemptRow.learner_id == learner_id)
    )
    completions = await session.execute(
        select(CompletionRow).where(CompletionRow.tenant_id == tenant_id, CompletionRow.learner_id == learner_id)
    )
    awards = await session.execute(
        select(Award).where(
            Award.tenant_id == tenant_id,
            Award.learner_id == learner_id,
            Award.revoked_at.is_(None),  # type: ignore[union-attr]
        )
    )
    return LearnerRecord(
        attempts=[
            Attempt(
                assessment_id=a.assessment_id,
                occurred_at=_aware(a.occurred_at),
                score=a.score,
                max_score=a.max_score,
                success=a.success,
                rubric=json.loads(a.rubric) if a.rubric is not None else None,
            )
            for a in attempts.scalars()
        ],
        completions=[Completion(c.activity_id, _aware(c.occurred_at)) for c in completions.scalars()],
        earned=[EarnedAchievement(w.achievement_id, _aware(w.awarded_at), w.award_id) for w in awards.scalars()],
    )


def _aware(moment: datetime) -> datetime:
    # SQLite hands timestamps back without their zone; they were stored in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def _award_if_met(
    session: AsyncSession, achievement: Achievement, learner_id: str, record: LearnerRecord
) -> bool:
    tenant_id, achievement_id = achievement.tenant_id, achievement.id
    enrollment = await session.get(LearnerEnrollment, (tenant_id, learner_id, achievement_id))
    pathway = bool(achievement.criteria.component_achievements())
    # Achievements are earned by enrolled learners; pathways by whoever stacks their components.
    if enrollment is None and not pathway:
        return False
    prior = await session.execute(
        select(Award).where(
            Award.tenant_id == tenant_id, Award.learner_id == learner_id, Award.achievement_id == achievement_id
        )
    )
    nxt = next_award(
        [PriorAward(a.period, _aware(a.awarded_at)) for a in prior.scalars()], achievement.renewal_period_days
    )
    if nxt is None:
        return False
    outcome = evaluate(achievement.criteria, record, since=nxt.since)
    if not outcome.met:
        return False
    assert outcome.met_at is not None
    awarded_at = outcome.met_at
    if enrollment is not None and not pathway:
        awarded_at = max(awarded_at, _aware(enrollment.enrolled_at))  # never awarded before the enrolment
    award = award_id(tenant_id, learner_id, achievement_id, nxt.period)
    session.add(
        Award(
            award_id=award,
            tenant_id=tenant_id,
            learner_id=learner_id,
            achievement_id=achievement_id,
            period=nxt.period,
            achievement_version=achievement.version,
            awarded_at=awarded_at,
        )
    )
    for component in dict.fromkeys(outcome.components):
        session.add(AwardComponent(pathway_award_id=award, component_award_id=component))
    learner = await session.get(Learner, (tenant_id, learner_id))
    name = (learner.learner_name if learner else None) or (enrollment.learner_name if enrollment else None)
    recipient = (learner.recipient if learner else None) or (enrollment.recipient if enrollment else None)
    passed = AssessmentPassed(
        tenant_id=tenant_id,
        learner_id=learner_id,
        award_id=award,
        achievement=achievement.snapshot(),
        results=list(outcome.results),
        learner_name=name,
        recipient=RecipientIdentity.model_validate_json(recipient) if recipient else None,
        passed_at=awarded_at,
        award_period=nxt.period,
    )
    ce = CloudEvent(id=str(award), source=SOURCE, type=AssessmentPassed.CE_TYPE, subject=passed.key())
    stage_event(session, AssessmentOutbox, passed, ce)
    await session.flush()
    log.info("assessment.awarded", tenant=tenant_id, achievement=achievement_id, period=nxt.period, award=str(award))
    return True


# --- achievement definitions (compacted topic) ------------------------------------------------------------------


async def on_achievement_defined(session: AsyncSession, event: AchievementDefined, _ce: CloudEvent) -> None:
    """Consumer of `credstream.achievements.v1`: keep this service's copy of the current definitions, then award
    what the new definition makes earned from evidence already recorded (so definitions and activity may arrive in
    any order)."""
    await _definition_barrier(session, event.tenant_id, exclusive=True)
    # Top-level fields this version does not know (a newer writer during a rolling upgrade) are left out; anything
    # else that does not validate is a bad record.
    known = {k: v for k, v in event.definition.items() if k in AchievementDefinition.model_fields}
    try:
        definition = AchievementDefinition.model_validate(known)
    except ValidationError as error:
        raise PoisonRecord(f"invalid achievement definition: {describe_validation_error(error)}") from error
    if definition.id != event.achievement_id:
        raise PoisonRecord(f"definition id {definition.id!r} does not match achievement_id {event.achievement_id!r}")
    key = (event.tenant_id, event.achievement_id)
    row = await session.get(AchievementRow, key)
    if row is not None and row.version >= event.version:
        return  # a replay of the compacted topic, or an older version
    if row is None:
        row = AchievementRow(tenant_id=event.tenant_id, achievement_id=event.achievement_id, definition="")
    row.version, row.status = event.version, event.status.value
    row.definition = definition.model_dump_json()
    row.updated_at = datetime.now(UTC)
    session.add(row)
    await session.execute(
        delete(AchievementRef).where(
            AchievementRef.tenant_id == event.tenant_id,  # type: ignore[arg-type]
            AchievementRef.achievement_id == event.achievement_id,  # type: ignore[arg-type]
        )
    )
    if event.status is not AchievementStatus.ACTIVE:
        await session.flush()
        return
    references = definition.criteria.references()
    for kind, ref_id in sorted(references):
        session.add(
            AchievementRef(tenant_id=event.tenant_id, achievement_id=event.achievement_id, kind=kind, ref_id=ref_id)
        )
    await session.flush()
    learners = await _learners_to_reevaluate(session, event.tenant_id, event.achievement_id, definition)
    awarded = 0
    for learner_id in sorted(learners):
        awarded += await award_earned(session, event.tenant_id, learner_id, [event.achievement_id])
    log.info(
        "assessment.definition_applied",
        tenant=event.tenant_id,
        achievement=event.achievement_id,
        version=event.version,
        reevaluated=len(learners),
        awarded=awarded,
    )


async def _learners_to_reevaluate(
    session: AsyncSession, tenant_id: str, achievement_id: str, definition: AchievementDefinition
) -> set[str]:
    enrolled = await session.execute(
        select(LearnerEnrollment.learner_id).where(
            LearnerEnrollment.tenant_id == tenant_id, LearnerEnrollment.achievement_id == achievement_id
        )
    )
    learners = set(enrolled.scalars())
    components = definition.criteria.component_achievements()
    if components:
        holders = await session.execute(
            select(Award.learner_id)
            .where(
                Award.tenant_id == tenant_id,
                Award.achievement_id.in_(components),  # type: ignore[attr-defined]
                Award.revoked_at.is_(None),  # type: ignore[union-attr]
            )
            .distinct()
        )
        learners |= set(holders.scalars())
    return learners


# --- revoked components -----------------------------------------------------------------------------------------


class RevokedBadge(Protocol):
    """What the consumer needs of `credstream.badge-revoked.v1` (the issuer's BadgeRevoked contract)."""

    tenant_id: str
    award_id: uuid.UUID
    revoked_at: datetime
    reason: str


async def on_badge_revoked(session: AsyncSession, event: RevokedBadge, _ce: CloudEvent) -> None:
    """Consumer of `credstream.badge-revoked.v1`: see `record_revocation`."""
    reports = await record_revocation(session, event.tenant_id, event.award_id, _aware(event.revoked_at), event.reason)
    if reports:
        log.warning(
            "assessment.pathway_component_revoked",
            tenant=event.tenant_id,
            component_award=str(event.award_id),
            pathway_awards=[str(r.pathway_award_id) for r in reports],
        )


async def record_revocation(
    session: AsyncSession, tenant_id: str, revoked_award_id: uuid.UUID, revoked_at: datetime, reason: str | None
) -> list[PathwayReport]:
    """A badge was revoked: mark its award (it no longer counts for new pathway awards) and report every pathway
    award that was earned with it. Pathway awards are not retracted automatically (see `pathways.py`)."""
    award = await session.get(Award, revoked_award_id)
    if award is None or award.tenant_id != tenant_id:
        return []
    if award.revoked_at is None:
        award.revoked_at = revoked_at
        award.revocation_reason = (reason or "")[:1_000] or None
        session.add(award)
    uses = await session.execute(select(AwardComponent).where(AwardComponent.component_award_id == award.award_id))
    reports = []
    for use in uses.scalars():
        if await session.get(PathwayReport, (use.pathway_award_id, award.award_id)) is not None:
            continue
        pathway = await session.get(Award, use.pathway_award_id)
        if pathway is None:
            continue
        report = PathwayReport(
            pathway_award_id=pathway.award_id,
            component_award_id=award.award_id,
            tenant_id=tenant_id,
            learner_id=award.learner_id,
            pathway_achievement_id=pathway.achievement_id,
            component_achievement_id=award.achievement_id,
            component_revoked_at=revoked_at,
            reason=award.revocation_reason,
        )
        session.add(report)
        reports.append(report)
    await session.flush()
    return reports

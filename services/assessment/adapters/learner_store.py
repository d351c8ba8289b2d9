"""Set-based reads and writes of awarding state: a batch's learners in one read per table, its changes in one
statement per table, and the current definitions kept in memory between batches."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from services.assessment.adapters.tables import (
    AchievementRow,
    AnswerKeyRow,
    AssessmentOutbox,
    AttemptRow,
    Award,
    AwardComponent,
    CompletionRow,
    Learner,
    LearnerEnrollment,
)
from services.assessment.awarding import (
    AnswerKeys,
    AwardHeld,
    Definitions,
    Enrolment,
    LearnerState,
    aware,
)
from services.assessment.domain import Achievement, AchievementDefinition
from services.assessment.evaluation import Attempt, Completion
from services.assessment.grading import AnswerKey
from shared.contracts import AchievementStatus
from shared.db.bulk import upsert_statement
from shared.db.outbox import stage_events

LearnerKey = tuple[str, str]


async def load_learners(session: AsyncSession, keys: Collection[LearnerKey]) -> dict[LearnerKey, LearnerState]:
    """Everything awarding needs of these learners (one read per table, whatever their number)."""
    states = {key: LearnerState(*key) for key in keys}
    if not states:
        return states
    wanted = list(states)
    for row in await session.execute(
        select(Learner.tenant_id, Learner.learner_id, Learner.learner_name, Learner.recipient).where(
            tuple_(Learner.tenant_id, Learner.learner_id).in_(wanted)
        )
    ):
        state = states[(row.tenant_id, row.learner_id)]
        state.learner_name, state.recipient = row.learner_name, row.recipient
    enrolments = LearnerEnrollment
    for row in await session.execute(
        select(
            enrolments.tenant_id,
            enrolments.learner_id,
            enrolments.achievement_id,
            enrolments.enrolled_at,
            enrolments.learner_name,
            enrolments.recipient,
        ).where(tuple_(enrolments.tenant_id, enrolments.learner_id).in_(wanted))
    ):
        states[(row.tenant_id, row.learner_id)].enrolments[row.achievement_id] = Enrolment(
            aware(row.enrolled_at), row.learner_name, row.recipient
        )
    for row in await session.execute(
        select(
            AttemptRow.tenant_id,
            AttemptRow.learner_id,
            AttemptRow.assessment_id,
            AttemptRow.occurred_at,
            AttemptRow.score,
            AttemptRow.max_score,
            AttemptRow.success,
            AttemptRow.rubric,
        ).where(tuple_(AttemptRow.tenant_id, AttemptRow.learner_id).in_(wanted))
    ):
        state = states[(row.tenant_id, row.learner_id)]
        state.attempts.append(
            Attempt(
                assessment_id=row.assessment_id,
                occurred_at=aware(row.occurred_at),
                score=row.score,
                max_score=row.max_score,
                success=row.success,
                rubric=json.loads(row.rubric) if row.rubric is not None else None,
            )
        )
        state.attempt_counts[row.assessment_id] += 1
    for row in await session.execute(
        select(
            CompletionRow.tenant_id, CompletionRow.learner_id, CompletionRow.activity_id, CompletionRow.occurred_at
        ).where(tuple_(CompletionRow.tenant_id, CompletionRow.learner_id).in_(wanted))
    ):
        states[(row.tenant_id, row.learner_id)].completions.append(Completion(row.activity_id, aware(row.occurred_at)))
    for row in await session.execute(
        select(
            Award.tenant_id,
            Award.learner_id,
            Award.award_id,
            Award.achievement_id,
            Award.period,
            Award.awarded_at,
            Award.revoked_at,
        ).where(tuple_(Award.tenant_id, Award.learner_id).in_(wanted))
    ):
        states[(row.tenant_id, row.learner_id)].awards.append(
            AwardHeld(row.award_id, row.achievement_id, row.period, aware(row.awarded_at), row.revoked_at is not None)
        )
    return states


async def load_answer_keys(session: AsyncSession, wanted: Collection[tuple[str, str]]) -> AnswerKeys:
    if not wanted:
        return {}
    rows = await session.execute(
        select(AnswerKeyRow.tenant_id, AnswerKeyRow.assessment_id, AnswerKeyRow.key, AnswerKeyRow.version).where(
            tuple_(AnswerKeyRow.tenant_id, AnswerKeyRow.assessment_id).in_(list(wanted))
        )
    )
    return {(r.tenant_id, r.assessment_id): (AnswerKey.model_validate_json(r.key), r.version) for r in rows}


async def save(session: AsyncSession, states: Iterable[LearnerState]) -> None:
    """Write what the batch changed: one statement per table that changed."""
    learners, enrolments, attempts, completions, awards, components, outbox = [], [], [], [], [], [], []
    now = datetime.now(UTC)
    for s in states:
        key = {"tenant_id": s.tenant_id, "learner_id": s.learner_id}
        if s.learner_changed:
            learners.append({**key, "learner_name": s.learner_name, "recipient": s.recipient, "updated_at": now})
        for achievement_id in sorted(s.enrolments_changed):
            e = s.enrolments[achievement_id]
            enrolments.append(
                {
                    **key,
                    "achievement_id": achievement_id,
                    "learner_name": e.learner_name,
                    "recipient": e.recipient,
                    "enrolled_at": e.enrolled_at,
                }
            )
        attempts += [
            {
                **key,
                "assessment_id": a.assessment_id,
                "attempt": a.number,
                "kind": a.kind,
                "score": a.score,
                "max_score": a.max_score,
                "success": a.success,
                "rubric": a.rubric,
                "answer_key_version": a.answer_key_version,
                "source_event_id": a.source_event_id,
                "occurred_at": a.occurred_at,
                "recorded_at": now,
            }
            for a in s.new_attempts
        ]
        completions += [{**key, "activity_id": c.activity_id, "occurred_at": c.occurred_at} for c in s.new_completions]
        for award in s.new_awards:
            held = award.held
            awards.append(
                {
                    **key,
                    "award_id": held.award_id,
                    "achievement_id": held.achievement_id,
                    "period": held.period,
                    "achievement_version": award.achievement_version,
                    "awarded_at": held.awarded_at,
                }
            )
            components += [{"pathway_award_id": held.award_id, "component_award_id": c} for c in award.components]
            outbox.append(award)
    if learners:
        insert = upsert_statement(session, Learner).values(learners)
        await session.execute(
            insert.on_conflict_do_update(
                index_elements=["tenant_id", "learner_id"],
                set_={c: insert.excluded[c] for c in ("learner_name", "recipient", "updated_at")},
            )
        )
    if enrolments:
        insert = upsert_statement(session, LearnerEnrollment).values(enrolments)
        await session.execute(
            insert.on_conflict_do_update(
                index_elements=["tenant_id", "learner_id", "achievement_id"],
                set_={c: insert.excluded[c] for c in ("learner_name", "recipient")},
            )
        )
    for table, rows in ((AttemptRow, attempts), (CompletionRow, completions), (Award, awards)):
        if rows:
            await session.execute(upsert_statement(session, table), rows)
    if components:
        await session.execute(upsert_statement(session, AwardComponent).values(components).on_conflict_do_nothing())
    if outbox:
        await stage_events(session, AssessmentOutbox, [(a.event, a.ce) for a in outbox])


class DefinitionCache:
    """The current definitions of the tenants seen so far, kept between batches.

    The achievements consumer writes definitions to `assessment_achievements` (any replica may apply one); each
    batch compares a per-tenant fingerprint (count, sum of versions: every change raises it) with the cached one,
    under the definition barrier, and reloads a tenant only when it changed."""

    def __init__(self) -> None:
        self.definitions = Definitions()
        self._fingerprints: dict[str, tuple[int, int]] = {}

    async def refresh(self, session: AsyncSession, tenants: Collection[str]) -> Definitions:
        rows = await session.execute(
            select(AchievementRow.tenant_id, func.count(), func.sum(AchievementRow.version))
            .where(AchievementRow.tenant_id.in_(list(tenants)))  # type: ignore[attr-defined]
            .group_by(AchievementRow.tenant_id)
        )
        current = {tenant: (0, 0) for tenant in tenants}
        current.update({tenant: (int(count), int(total or 0)) for tenant, count, total in rows})
        stale = [t for t, fingerprint in current.items() if self._fingerprints.get(t) != fingerprint]
        if stale:
            loaded = await load_definitions(session, stale)
            for tenant in stale:
                self.definitions.replace_tenant(tenant, [a for a in loaded if a.tenant_id == tenant])
                self._fingerprints[tenant] = current[tenant]
        return self.definitions


async def load_definitions(session: AsyncSession, tenants: Sequence[str]) -> list[Achievement]:
    """The active definitions of these tenants."""
    rows = await session.execute(
        select(AchievementRow.tenant_id, AchievementRow.version, AchievementRow.definition).where(
            AchievementRow.tenant_id.in_(list(tenants)),  # type: ignore[attr-defined]
            AchievementRow.status == AchievementStatus.ACTIVE.value,
        )
    )
    return [
        Achievement(
            **AchievementDefinition.model_validate_json(r.definition).model_dump(),
            tenant_id=r.tenant_id,
            version=r.version,
        )
        for r in rows
    ]

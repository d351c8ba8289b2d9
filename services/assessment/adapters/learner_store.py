"""Set-based reads and writes of awarding state: a batch's learners in one statement, its changes in one
statement per table, and the current definitions kept in memory between batches."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    Integer,
    String,
    Text,
    Uuid,
    and_,
    bindparam,
    cast,
    column,
    func,
    literal_column,
    null,
    select,
    tuple_,
    union_all,
    values,
)
from sqlalchemy.dialects.postgresql import ARRAY
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
    """Everything awarding needs of these learners, in one statement (one round trip, whatever their number)."""
    states = {key: LearnerState(*key) for key in keys}
    if not states:
        return states
    for row in await session.execute(_learner_state_query(session, sorted(states))):
        state = states[(row.tenant_id, row.learner_id)]
        if row.part == _LEARNER:
            state.learner_name, state.recipient = row.name, row.text
        elif row.part == _ENROLMENT:
            state.enrolments[row.ref] = Enrolment(aware(row.at), row.name, row.text)
        elif row.part == _ATTEMPT:
            state.attempts.append(
                Attempt(
                    assessment_id=row.ref,
                    occurred_at=aware(row.at),
                    score=row.score,
                    max_score=row.max_score,
                    success=row.success,
                    rubric=json.loads(row.text) if row.text is not None else None,
                )
            )
            state.attempt_counts[row.ref] += 1
        elif row.part == _COMPLETION:
            state.completions.append(Completion(row.ref, aware(row.at)))
        else:
            state.awards.append(AwardHeld(row.award_id, row.ref, row.period, aware(row.at), row.revoked))
    return states


# Which table a row of `_learner_state_query` comes from.
_LEARNER, _ENROLMENT, _ATTEMPT, _COMPLETION, _AWARD = range(5)
# The columns every part of the UNION ALL has (NULL where a table has no such column), with their types.
_STATE_COLUMNS: dict[str, Any] = {
    "ref": String(),  # achievement, assessment or activity id
    "name": String(),
    "text": Text(),  # recipient identity, rubric
    "at": DateTime(timezone=True),
    "score": Float(),
    "max_score": Float(),
    "success": Boolean(),
    "award_id": Uuid(),
    "period": Integer(),
    "revoked": Boolean(),
}


def _wanted(session: AsyncSession, keys: Sequence[LearnerKey]) -> Any:
    """The batch's learners as a CTE: on PostgreSQL two array parameters (the same statement text whatever the
    batch size, so its prepared statement is reused), elsewhere a VALUES list."""
    bind = session.bind
    if bind is not None and bind.dialect.name == "postgresql":
        tenants = cast(bindparam("tenants", [k[0] for k in keys]), ARRAY(Text))
        learners = cast(bindparam("learners", [k[1] for k in keys]), ARRAY(Text))
        pairs = func.unnest(tenants, learners).table_valued("tenant_id", "learner_id").render_derived(name="k")
        return select(pairs.c.tenant_id, pairs.c.learner_id).cte("wanted")
    return values(column("tenant_id", String), column("learner_id", String), name="wanted").data(keys).cte("wanted")


def _learner_state_query(session: AsyncSession, keys: Sequence[LearnerKey]) -> Any:
    """One SELECT of the learners' rows in every table awarding reads, tagged by table (`part`)."""
    wanted = _wanted(session, keys)

    def part(tag: int, table: Any, **columns: Any) -> Any:
        return select(
            literal_column(str(tag), Integer).label("part"),
            table.tenant_id,
            table.learner_id,
            *(
                (columns[name] if name in columns else cast(null(), kind)).label(name)
                for name, kind in _STATE_COLUMNS.items()
            ),
        ).join(wanted, and_(table.tenant_id == wanted.c.tenant_id, table.learner_id == wanted.c.learner_id))

    enrolments = LearnerEnrollment
    return union_all(
        # First: its column types (casts included) are the ones results are read with.
        part(_LEARNER, Learner, name=Learner.learner_name, text=Learner.recipient),
        part(
            _ENROLMENT,
            enrolments,
            ref=enrolments.achievement_id,
            name=enrolments.learner_name,
            text=enrolments.recipient,
            at=enrolments.enrolled_at,
        ),
        part(
            _ATTEMPT,
            AttemptRow,
            ref=AttemptRow.assessment_id,
            text=AttemptRow.rubric,
            at=AttemptRow.occurred_at,
            score=AttemptRow.score,
            max_score=AttemptRow.max_score,
            success=AttemptRow.success,
        ),
        part(_COMPLETION, CompletionRow, ref=CompletionRow.activity_id, at=CompletionRow.occurred_at),
        part(
            _AWARD,
            Award,
            ref=Award.achievement_id,
            at=Award.awarded_at,
            award_id=Award.award_id,
            period=Award.period,
            revoked=Award.revoked_at.is_not(None),  # type: ignore[union-attr]
        ),
    )


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
    # In key order, so that two transactions upserting the same learners (mid-rebalance) never deadlock.
    for s in sorted(states, key=lambda state: (state.tenant_id, state.learner_id)):
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
    # Statements take their rows as executemany parameters: compiled once and cached, whatever the batch size (the
    # driver sends them as multi-row inserts).
    if learners:
        insert = upsert_statement(session, Learner)
        update = {c: insert.excluded[c] for c in ("learner_name", "recipient", "updated_at")}
        await session.execute(
            insert.on_conflict_do_update(index_elements=["tenant_id", "learner_id"], set_=update), learners
        )
    if enrolments:
        insert = upsert_statement(session, LearnerEnrollment)
        update = {c: insert.excluded[c] for c in ("learner_name", "recipient")}
        keys = ["tenant_id", "learner_id", "achievement_id"]
        await session.execute(insert.on_conflict_do_update(index_elements=keys, set_=update), enrolments)
    for table, rows in ((AttemptRow, attempts), (CompletionRow, completions), (Award, awards)):
        if rows:
            await session.execute(upsert_statement(session, table), rows)
    if components:
        await session.execute(upsert_statement(session, AwardComponent).on_conflict_do_nothing(), components)
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

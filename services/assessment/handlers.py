"""Assessment consumers: record learner activity (attempts, completions, enrolments), apply Achievement
definitions from the compacted topic, and award whatever the criteria say is earned — pathways included.

Exactly once per award: award ids are deterministic (tenant, learner, achievement, renewal period), the awards
table has a unique constraint on the same, and the consumer pipeline makes redeliveries no-ops. Definition changes
and learner events of a tenant are ordered by a readers-writer lock (see `_definition_barrier`).
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

import structlog
from pydantic import ValidationError
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.assessment.adapters.learner_store import (
    DefinitionCache,
    load_answer_keys,
    load_definitions,
    load_learners,
    save,
)
from services.assessment.adapters.tables import (
    AchievementRef,
    AchievementRow,
    Award,
    AwardComponent,
    LearnerEnrollment,
    PathwayReport,
)
from services.assessment.awarding import Definitions, award_earned, aware, record_activity
from services.assessment.criteria import RefKind
from services.assessment.domain import AchievementDefinition
from shared.contracts import AchievementDefined, AchievementStatus, CloudEvent, EnrollmentRecorded
from shared.messaging.records import PoisonRecord, describe_validation_error

log = structlog.get_logger(__name__)

_LOCK_SPACE = 0x41534D54  # "ASMT": advisory-lock namespace of the definition barrier


async def _definition_barrier(session: AsyncSession, tenant_ids: Sequence[str], *, exclusive: bool) -> None:
    """Learner events of a tenant take a shared lock, applying a definition takes it exclusively.

    Otherwise, under READ COMMITTED, an event could evaluate the old definition while the new definition's
    backfill reads the learner's record without that event's attempt, and the award would be missed by both.
    Events still run in parallel with each other. SQLite serialises all writers already.
    """
    bind = session.bind
    if bind is None or bind.dialect.name != "postgresql":
        return
    lock = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    # The two-key form keeps these locks apart from the outbox relays' single-key ones. One statement for all of a
    # batch's tenants, taken in a fixed order.
    tenant_keys = sorted({zlib.crc32(tenant_id.encode()) - 2**31 for tenant_id in tenant_ids})  # int4
    await session.execute(
        text(f"SELECT {lock}(:space, t) FROM unnest(CAST(:tenants AS int4[])) WITH ORDINALITY AS k(t, n) ORDER BY n"),
        {"space": _LOCK_SPACE, "tenants": tenant_keys},
    )


# --- learner activity -----------------------------------------------------------------------------------------


class Awarding:
    """Consumer of `credstream.enrollment.v1` in batches: record each activity, then award what it completes.

    One batch: the definition barrier for its tenants, their definitions (in memory, reloaded only when changed),
    its learners' state in one read per table, every event applied in order in memory, the changes written in one
    statement per table."""

    def __init__(self) -> None:
        self.definitions = DefinitionCache()

    async def on_enrollment_batch(
        self, session: AsyncSession, items: Sequence[tuple[EnrollmentRecorded, CloudEvent]]
    ) -> None:
        tenants = sorted({event.tenant_id for event, _ce in items})
        await _definition_barrier(session, tenants, exclusive=False)
        definitions = await self.definitions.refresh(session, tenants)
        learners = await load_learners(session, {(event.tenant_id, event.learner_id) for event, _ce in items})
        answer_keys = await load_answer_keys(
            session, {(e.tenant_id, e.assessment_id) for e, _ce in items if e.answers and e.assessment_id}
        )
        for event, _ce in items:
            record_activity(learners[(event.tenant_id, event.learner_id)], event, definitions, answer_keys)
        await save(session, learners.values())


async def on_enrollment_event(session: AsyncSession, event: EnrollmentRecorded, ce: CloudEvent) -> None:
    """One activity on its own (the per-record form of `Awarding.on_enrollment_batch`)."""
    await Awarding().on_enrollment_batch(session, [(event, ce)])


async def _referring(session: AsyncSession, tenant_id: str, kind: RefKind, ref_id: str) -> set[str]:
    """The current Achievements whose criteria mention this assessment, activity or achievement."""
    rows = await session.execute(
        select(AchievementRef.achievement_id).where(
            AchievementRef.tenant_id == tenant_id, AchievementRef.kind == kind.value, AchievementRef.ref_id == ref_id
        )
    )
    return set(rows.scalars())


# --- achievement definitions (compacted topic) ------------------------------------------------------------------


async def on_achievement_defined(session: AsyncSession, event: AchievementDefined, _ce: CloudEvent) -> None:
    """Consumer of `credstream.achievements.v1`: keep this service's copy of the current definitions, then award
    what the new definition makes earned from evidence already recorded (so definitions and activity may arrive in
    any order)."""
    await _definition_barrier(session, [event.tenant_id], exclusive=True)
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
    definitions = Definitions(await load_definitions(session, [event.tenant_id]))  # this transaction's view
    states = await load_learners(session, {(event.tenant_id, learner_id) for learner_id in learners})
    awarded = 0
    for key in sorted(states):
        awarded += len(award_earned(states[key], definitions, [event.achievement_id]))
    await save(session, states.values())
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
    reports = await record_revocation(session, event.tenant_id, event.award_id, aware(event.revoked_at), event.reason)
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

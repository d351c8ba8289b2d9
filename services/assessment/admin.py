"""Admin use cases of the assessment service: Achievement definitions (create, version, retire) and answer keys.

Definitions: the admin API writes a new version into `assessment_achievement_versions` and stages an
`AchievementDefined` record for the compacted topic `credstream.achievements.v1` in the same transaction. The
evaluator never reads that table: every assessment replica applies the topic to its copy (`handlers.py`), so the
admin API could move to another service without touching awarding.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.assessment.adapters.tables import (
    AchievementRow,
    AchievementVersionRow,
    AnswerKeyRow,
    AssessmentOutbox,
    AttemptRow,
    Award,
    PathwayReport,
)
from services.assessment.domain import Achievement, AchievementDefinition
from services.assessment.grading import AnswerKey
from services.assessment.pathways import find_cycle
from shared.contracts import AchievementDefined, AchievementStatus, CloudEvent
from shared.db.outbox import stage_event
from shared.ids import name_of

SOURCE = "credstream/assessment"
_TENANT = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_DEFINITION_NAMESPACE = uuid.UUID("5b0e3c1a-9f4d-4d7e-8c2b-6a1f0e9d8c7b")


class InvalidDefinition(ValueError):
    """A definition that is well-formed on its own but not in its tenant (unknown component, cycle, ...)."""


class Conflict(ValueError):
    """The request contradicts the current state (e.g. retiring a component of an active pathway)."""


class NotFound(LookupError):
    pass


def check_tenant(tenant_id: str) -> None:
    if not _TENANT.match(tenant_id):
        raise InvalidDefinition(f"tenant id {tenant_id!r} must match {_TENANT.pattern}")


def _to_achievement(row: AchievementVersionRow) -> Achievement:
    definition = AchievementDefinition.model_validate_json(row.definition)
    return Achievement(
        **definition.model_dump(),
        tenant_id=row.tenant_id,
        version=row.version,
        status=AchievementStatus(row.status),
    )


async def _latest_rows(session: AsyncSession, tenant_id: str) -> dict[str, AchievementVersionRow]:
    table = AchievementVersionRow
    newest = (
        select(table.achievement_id, func.max(table.version).label("version"))
        .where(table.tenant_id == tenant_id)
        .group_by(table.achievement_id)
        .subquery()
    )
    rows = await session.execute(
        select(table)
        .join(
            newest,
            (table.achievement_id == newest.c.achievement_id) & (table.version == newest.c.version),
        )
        # Only this tenant's rows: the subquery is per tenant, the join must be too.
        .where(table.tenant_id == tenant_id)
    )
    return {row.achievement_id: row for row in rows.scalars()}


async def _latest(session: AsyncSession, tenant_id: str, achievement_id: str) -> AchievementVersionRow | None:
    table = AchievementVersionRow
    found = await session.execute(
        select(table)
        .where(table.tenant_id == tenant_id, table.achievement_id == achievement_id)
        .order_by(table.version.desc())  # type: ignore[attr-defined]
        .limit(1)
    )
    return found.scalar()


async def define_achievement(session: AsyncSession, tenant_id: str, definition: AchievementDefinition) -> Achievement:
    """Create an Achievement, or a new version of it when the definition changed (a retired one is reinstated)."""
    check_tenant(tenant_id)
    latest = await _latest(session, tenant_id, definition.id)
    body = definition.model_dump_json()
    if latest is not None and latest.definition == body and latest.status == AchievementStatus.ACTIVE:
        return _to_achievement(latest)
    await _check_components(session, tenant_id, definition)
    return await _write_version(session, tenant_id, definition, AchievementStatus.ACTIVE, latest)


async def retire_achievement(session: AsyncSession, tenant_id: str, achievement_id: str) -> Achievement:
    """Retire an Achievement: it stays visible (and its badges valid) but earns no new awards."""
    check_tenant(tenant_id)
    latest = await _latest(session, tenant_id, achievement_id)
    if latest is None:
        raise NotFound(f"no achievement {achievement_id!r} for tenant {tenant_id!r}")
    if latest.status == AchievementStatus.RETIRED:
        return _to_achievement(latest)
    users = [
        other
        for other, row in (await _latest_rows(session, tenant_id)).items()
        if row.status == AchievementStatus.ACTIVE
        and achievement_id in _definition(row).criteria.component_achievements()
    ]
    if users:
        raise Conflict(
            f"active pathways use {achievement_id!r}: {', '.join(sorted(users))}; change or retire them first"
        )
    definition = AchievementDefinition.model_validate_json(latest.definition)
    return await _write_version(session, tenant_id, definition, AchievementStatus.RETIRED, latest)


def _definition(row: AchievementVersionRow) -> AchievementDefinition:
    return AchievementDefinition.model_validate_json(row.definition)


async def _check_components(session: AsyncSession, tenant_id: str, definition: AchievementDefinition) -> None:
    components = definition.criteria.component_achievements()
    if not components:
        return
    if definition.id in components:
        raise InvalidDefinition(f"achievement {definition.id!r} cannot be a component of itself")
    latest = await _latest_rows(session, tenant_id)
    unknown = sorted(c for c in components if c not in latest)
    if unknown:
        raise InvalidDefinition(f"unknown component achievement(s): {', '.join(unknown)}")
    retired = sorted(c for c in components if latest[c].status == AchievementStatus.RETIRED)
    if retired:
        raise InvalidDefinition(f"retired component achievement(s): {', '.join(retired)}")
    graph = {aid: _definition(row).criteria.component_achievements() for aid, row in latest.items()}
    graph[definition.id] = components
    cycle = find_cycle(graph)
    if cycle:
        raise InvalidDefinition(f"pathway cycle: {' -> '.join(cycle)}")


async def _write_version(
    session: AsyncSession,
    tenant_id: str,
    definition: AchievementDefinition,
    status: AchievementStatus,
    latest: AchievementVersionRow | None,
) -> Achievement:
    now = datetime.now(UTC)
    # Versions never go backwards on the topic, even if this table was restored from an older backup: the copy
    # applied from the topic knows the newest version published.
    applied = await session.get(AchievementRow, (tenant_id, definition.id))
    row = AchievementVersionRow(
        tenant_id=tenant_id,
        achievement_id=definition.id,
        version=1 + max(latest.version if latest else 0, applied.version if applied else 0),
        status=status,
        definition=definition.model_dump_json(),
        created_at=now,
    )
    session.add(row)
    await session.flush()
    event = AchievementDefined(
        tenant_id=tenant_id,
        achievement_id=definition.id,
        version=row.version,
        status=status,
        definition=definition.model_dump(mode="json"),
        defined_at=now,
    )
    ce_id = uuid.uuid5(_DEFINITION_NAMESPACE, name_of(tenant_id, definition.id, str(row.version)))
    ce = CloudEvent(id=str(ce_id), source=SOURCE, type=AchievementDefined.CE_TYPE, subject=event.key())
    stage_event(session, AssessmentOutbox, event, ce)
    await session.flush()
    return _to_achievement(row)


async def get_achievement(session: AsyncSession, tenant_id: str, achievement_id: str) -> Achievement | None:
    latest = await _latest(session, tenant_id, achievement_id)
    return _to_achievement(latest) if latest else None


async def list_achievements(session: AsyncSession, tenant_id: str) -> list[Achievement]:
    rows = await _latest_rows(session, tenant_id)
    return [_to_achievement(rows[aid]) for aid in sorted(rows)]


async def achievement_versions(session: AsyncSession, tenant_id: str, achievement_id: str) -> list[Achievement]:
    table = AchievementVersionRow
    rows = await session.execute(
        select(table)
        .where(table.tenant_id == tenant_id, table.achievement_id == achievement_id)
        .order_by(table.version)  # type: ignore[arg-type]
    )
    return [_to_achievement(row) for row in rows.scalars()]


async def put_answer_key(session: AsyncSession, tenant_id: str, assessment_id: str, key: AnswerKey) -> AnswerKeyRow:
    """Store (or replace, with the next version number) the answer key of an assessment."""
    check_tenant(tenant_id)
    row = await session.get(AnswerKeyRow, (tenant_id, assessment_id))
    body = key.model_dump_json()
    if row is None:
        row = AnswerKeyRow(tenant_id=tenant_id, assessment_id=assessment_id, version=1, key=body)
    elif row.key != body:
        row.version += 1
        row.key = body
        row.updated_at = datetime.now(UTC)
    session.add(row)
    await session.flush()
    return row


async def get_answer_key(session: AsyncSession, tenant_id: str, assessment_id: str) -> AnswerKeyRow | None:
    return await session.get(AnswerKeyRow, (tenant_id, assessment_id))


async def delete_answer_key(session: AsyncSession, tenant_id: str, assessment_id: str) -> bool:
    row = await session.get(AnswerKeyRow, (tenant_id, assessment_id))
    if row is None:
        return False
    await session.delete(row)
    await session.flush()
    return True


async def learner_attempts(session: AsyncSession, tenant_id: str, learner_id: str) -> list[AttemptRow]:
    rows = await session.execute(
        select(AttemptRow)
        .where(AttemptRow.tenant_id == tenant_id, AttemptRow.learner_id == learner_id)
        .order_by(AttemptRow.occurred_at, AttemptRow.id)  # type: ignore[arg-type]
    )
    return list(rows.scalars())


async def learner_awards(session: AsyncSession, tenant_id: str, learner_id: str) -> list[Award]:
    rows = await session.execute(
        select(Award)
        .where(Award.tenant_id == tenant_id, Award.learner_id == learner_id)
        .order_by(Award.awarded_at, Award.period)  # type: ignore[arg-type]
    )
    return list(rows.scalars())


async def pathway_reports(session: AsyncSession, tenant_id: str) -> list[PathwayReport]:
    rows = await session.execute(
        select(PathwayReport).where(PathwayReport.tenant_id == tenant_id).order_by(PathwayReport.reported_at)  # type: ignore[arg-type]
    )
    return list(rows.scalars())

"""Assessment service: evaluates Achievement criteria on each enrollment event; admin API for Achievements
(published on the compacted topic `credstream.achievements.v1`, which every replica applies), answer keys,
attempt history and pathway reports."""

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import yaml
from fastapi import Depends, Response
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.assessment import admin
from services.assessment.adapters.tables import AnswerKeyRow, AssessmentOutbox, AssessmentProcessedEvent
from services.assessment.domain import Achievement, AchievementDefinition
from services.assessment.grading import AnswerKey, QuestionSummary, summarize
from services.assessment.handlers import Awarding, on_achievement_defined, on_badge_revoked
from services.runtime import ServiceParts, Wiring
from shared.contracts import AchievementDefined, BadgeRevoked, EnrollmentRecorded, Topic
from shared.db.engine import SessionFactory, transaction
from shared.db.outbox import OutboxRelay
from shared.http import ProblemError, create_app, require_admin
from shared.messaging.batch import BatchConsumer
from shared.messaging.consumer import EventConsumer

NAME = "assessment"
T = TypeVar("T")


class SeedFile(BaseModel):
    """`CREDSTREAM_ACHIEVEMENTS_FILE`: achievements per tenant, YAML or JSON."""

    tenants: dict[str, list[AchievementDefinition]]


def load_seed(path: str | Path) -> SeedFile:
    text = Path(path).read_text(encoding="utf-8")
    data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    return SeedFile.model_validate(data)


class AnswerKeySummary(BaseModel):
    """An answer key as the API shows it: question ids, types and points, never the correct answers."""

    tenant_id: str
    assessment_id: str
    version: int
    max_score: float
    questions: list[QuestionSummary]
    updated_at: datetime


class AttemptView(BaseModel):
    assessment_id: str
    attempt: int
    kind: str
    score: float | None
    max_score: float | None
    success: bool | None
    rubric: dict[str, str] | None
    graded_with_answer_key_version: int | None
    occurred_at: datetime


class AwardView(BaseModel):
    award_id: uuid.UUID
    achievement_id: str
    period: int
    achievement_version: int
    awarded_at: datetime
    revoked_at: datetime | None
    revocation_reason: str | None


class PathwayReportView(BaseModel):
    pathway_award_id: uuid.UUID
    pathway_achievement_id: str
    component_award_id: uuid.UUID
    component_achievement_id: str
    learner_id: str
    component_revoked_at: datetime
    reason: str | None
    reported_at: datetime


async def _write(sessions: SessionFactory, work: Callable[..., Awaitable[T]], *args: object) -> T:
    """Run an admin write in its own transaction, mapping domain errors to problem details."""
    for _attempt in range(3):
        try:
            async with transaction(sessions) as session:
                return await work(session, *args)
        except admin.InvalidDefinition as error:
            raise ProblemError(422, "Invalid definition", str(error)) from error
        except admin.Conflict as error:
            raise ProblemError(409, "Conflict", str(error)) from error
        except admin.NotFound as error:
            raise ProblemError(404, "Not Found", str(error)) from error
        except IntegrityError:
            continue  # a concurrent write took the same version number: read the new state and retry
    raise ProblemError(409, "Conflict", "The same resource is being changed concurrently; retry.")


async def seed_tenant(session: AsyncSession, tenant_id: str, definitions: list[AchievementDefinition]) -> None:
    """Define a tenant's seed achievements, components before the pathways that stack them (any file order)."""
    pending = list(definitions)
    while pending:
        failed: list[tuple[AchievementDefinition, admin.InvalidDefinition]] = []
        for definition in pending:
            try:
                async with session.begin_nested():
                    await admin.define_achievement(session, tenant_id, definition)
            except admin.InvalidDefinition as error:
                failed.append((definition, error))
        if len(failed) == len(pending):
            raise failed[0][1]
        pending = [definition for definition, _error in failed]


def build(wiring: Wiring) -> ServiceParts:
    settings, sessions = wiring.settings, wiring.sessions
    relay = OutboxRelay(sessions, AssessmentOutbox, wiring.publisher, linger=wiring.settings.outbox_linger_ms / 1000)
    app = create_app("credstream assessment", max_body_bytes=settings.max_body_bytes, readiness=wiring.readiness)
    admin_only = [Depends(require_admin(settings.admin_token.get_secret_value()))]
    tenants = "/v1/tenants/{tenant_id}"

    @app.put(tenants + "/achievements/{achievement_id}", dependencies=admin_only, tags=["admin"])
    async def put_achievement(tenant_id: str, achievement_id: str, definition: AchievementDefinition) -> Achievement:
        """Create an Achievement or a new version of it (admin). Validated on write: schema, component
        achievements exist and are active, no pathway cycles. Reaches awarding through the achievements topic."""
        if definition.id != achievement_id:
            raise ProblemError(422, "Id mismatch", "The body's id must equal the path's achievement id.")
        achievement = await _write(sessions, admin.define_achievement, tenant_id, definition)
        relay.wake()
        return achievement

    @app.post(tenants + "/achievements/{achievement_id}/retire", dependencies=admin_only, tags=["admin"])
    async def retire(tenant_id: str, achievement_id: str) -> Achievement:
        """Retire an Achievement: badges already issued stay valid; no new awards (admin)."""
        achievement = await _write(sessions, admin.retire_achievement, tenant_id, achievement_id)
        relay.wake()
        return achievement

    @app.get(tenants + "/achievements", dependencies=admin_only, tags=["admin"])
    async def get_achievements(tenant_id: str) -> list[Achievement]:
        async with sessions() as session:
            return await admin.list_achievements(session, tenant_id)

    @app.get(tenants + "/achievements/{achievement_id}", dependencies=admin_only, tags=["admin"])
    async def get_one(tenant_id: str, achievement_id: str) -> Achievement:
        async with sessions() as session:
            found = await admin.get_achievement(session, tenant_id, achievement_id)
        if found is None:
            raise ProblemError(404, "Not Found", f"No achievement {achievement_id!r} for tenant {tenant_id!r}.")
        return found

    @app.get(tenants + "/achievements/{achievement_id}/versions", dependencies=admin_only, tags=["admin"])
    async def get_versions(tenant_id: str, achievement_id: str) -> list[Achievement]:
        async with sessions() as session:
            versions = await admin.achievement_versions(session, tenant_id, achievement_id)
        if not versions:
            raise ProblemError(404, "Not Found", f"No achievement {achievement_id!r} for tenant {tenant_id!r}.")
        return versions

    def key_summary(row: AnswerKeyRow) -> AnswerKeySummary:
        key = AnswerKey.model_validate_json(row.key)
        return AnswerKeySummary(
            tenant_id=row.tenant_id,
            assessment_id=row.assessment_id,
            version=row.version,
            max_score=key.max_score,
            questions=summarize(key),
            updated_at=row.updated_at,
        )

    answer_key = tenants + "/assessments/{assessment_id}/answer-key"

    @app.put(answer_key, dependencies=admin_only, tags=["admin"])
    async def put_answer_key(tenant_id: str, assessment_id: str, key: AnswerKey) -> AnswerKeySummary:
        """Set the answer key credstream grades raw `answers` of this assessment with (admin). The response, like
        every other, shows question ids, types and points only: correct answers never leave the service."""
        return key_summary(await _write(sessions, admin.put_answer_key, tenant_id, assessment_id, key))

    @app.get(answer_key, dependencies=admin_only, tags=["admin"])
    async def get_answer_key(tenant_id: str, assessment_id: str) -> AnswerKeySummary:
        async with sessions() as session:
            row = await admin.get_answer_key(session, tenant_id, assessment_id)
        if row is None:
            raise ProblemError(404, "Not Found", f"No answer key for assessment {assessment_id!r}.")
        return key_summary(row)

    @app.delete(answer_key, dependencies=admin_only, tags=["admin"], status_code=204)
    async def delete_answer_key(tenant_id: str, assessment_id: str) -> Response:
        if not await _write(sessions, admin.delete_answer_key, tenant_id, assessment_id):
            raise ProblemError(404, "Not Found", f"No answer key for assessment {assessment_id!r}.")
        return Response(status_code=204)

    @app.get(tenants + "/learners/{learner_id}/attempts", dependencies=admin_only, tags=["admin"])
    async def get_attempts(tenant_id: str, learner_id: str) -> list[AttemptView]:
        """A learner's attempt history, failures included (admin)."""
        async with sessions() as session:
            rows = await admin.learner_attempts(session, tenant_id, learner_id)
        return [
            AttemptView(
                assessment_id=r.assessment_id,
                attempt=r.attempt,
                kind=r.kind,
                score=r.score,
                max_score=r.max_score,
                success=r.success,
                rubric=json.loads(r.rubric) if r.rubric else None,
                graded_with_answer_key_version=r.answer_key_version,
                occurred_at=r.occurred_at,
            )
            for r in rows
        ]

    @app.get(tenants + "/learners/{learner_id}/awards", dependencies=admin_only, tags=["admin"])
    async def get_awards(tenant_id: str, learner_id: str) -> list[AwardView]:
        async with sessions() as session:
            rows = await admin.learner_awards(session, tenant_id, learner_id)
        return [AwardView.model_validate(r, from_attributes=True) for r in rows]

    @app.get(tenants + "/pathway-reports", dependencies=admin_only, tags=["admin"])
    async def get_pathway_reports(tenant_id: str) -> list[PathwayReportView]:
        """Pathway awards earned with a component badge that was later revoked: for an administrator to review
        (pathway badges are not retracted automatically)."""
        async with sessions() as session:
            rows = await admin.pathway_reports(session, tenant_id)
        return [PathwayReportView.model_validate(r, from_attributes=True) for r in rows]

    async def seed() -> None:
        if not settings.achievements_file:
            return
        seed_file = load_seed(settings.achievements_file)
        async with transaction(sessions) as session:
            for tenant_id, definitions in seed_file.tenants.items():
                await seed_tenant(session, tenant_id, definitions)
        relay.wake()

    activities = BatchConsumer(
        name=NAME,
        topic=Topic.ENROLLMENT,
        contract=EnrollmentRecorded,
        handler=Awarding().on_enrollment_batch,
        sessions=sessions,
        processed_table=AssessmentProcessedEvent,
        after_commit=relay.wake,
    )
    definitions = EventConsumer(
        name=f"{NAME}-achievements",
        topic=Topic.ACHIEVEMENTS,
        contract=AchievementDefined,
        handler=on_achievement_defined,
        sessions=sessions,
        processed_table=AssessmentProcessedEvent,
        after_commit=relay.wake,
    )
    revocations = EventConsumer(
        name=f"{NAME}-revocations",
        topic=Topic.BADGE_REVOKED,
        contract=BadgeRevoked,
        handler=on_badge_revoked,
        sessions=sessions,
        processed_table=AssessmentProcessedEvent,
        after_commit=relay.wake,
    )
    return ServiceParts(
        name=NAME, http=app, consumers=[activities, definitions, revocations], relay=relay, on_start=[seed]
    )

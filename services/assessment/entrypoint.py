"""Assessment service: evaluates Achievement criteria on each enrollment event; admin API for Achievements."""

import json
from pathlib import Path

import yaml
from fastapi import Depends
from pydantic import BaseModel

from services.assessment.adapters.tables import AssessmentOutbox, AssessmentProcessedEvent
from services.assessment.domain import Achievement, AchievementDefinition
from services.assessment.handlers import (
    define_achievement,
    get_achievement,
    list_achievements,
    on_enrollment_event,
)
from services.runtime import ServiceParts, Wiring
from shared.contracts import EnrollmentRecorded, Topic
from shared.db.engine import transaction
from shared.db.outbox import OutboxRelay
from shared.http import ProblemError, create_app, require_admin
from shared.messaging.consumer import EventConsumer

NAME = "assessment"


class SeedFile(BaseModel):
    """`CREDSTREAM_ACHIEVEMENTS_FILE`: achievements per tenant, YAML or JSON."""

    tenants: dict[str, list[AchievementDefinition]]


def load_seed(path: str | Path) -> SeedFile:
    text = Path(path).read_text(encoding="utf-8")
    data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    return SeedFile.model_validate(data)


def build(wiring: Wiring) -> ServiceParts:
    settings, sessions = wiring.settings, wiring.sessions
    relay = OutboxRelay(sessions, AssessmentOutbox, wiring.publisher)
    app = create_app("credstream assessment", max_body_bytes=settings.max_body_bytes, readiness=wiring.readiness)
    admin = [Depends(require_admin(settings.admin_token.get_secret_value()))]

    @app.put("/v1/tenants/{tenant_id}/achievements/{achievement_id}", dependencies=admin, tags=["admin"])
    async def put_achievement(tenant_id: str, achievement_id: str, definition: AchievementDefinition) -> Achievement:
        """Create or update an Achievement and its criteria (admin)."""
        if definition.id != achievement_id:
            raise ProblemError(422, "Id mismatch", "The body's id must equal the path's achievement id.")
        async with transaction(sessions) as session:
            return await define_achievement(session, tenant_id, definition)

    @app.get("/v1/tenants/{tenant_id}/achievements", dependencies=admin, tags=["admin"])
    async def get_achievements(tenant_id: str) -> list[Achievement]:
        async with sessions() as session:
            return await list_achievements(session, tenant_id)

    @app.get("/v1/tenants/{tenant_id}/achievements/{achievement_id}", dependencies=admin, tags=["admin"])
    async def get_one(tenant_id: str, achievement_id: str) -> Achievement:
        async with sessions() as session:
            found = await get_achievement(session, tenant_id, achievement_id)
        if found is None:
            raise ProblemError(404, "Not Found", f"No achievement {achievement_id!r} for tenant {tenant_id!r}.")
        return found

    async def seed() -> None:
        if not settings.achievements_file:
            return
        seed_file = load_seed(settings.achievements_file)
        async with transaction(sessions) as session:
            for tenant_id, definitions in seed_file.tenants.items():
                for definition in definitions:
                    await define_achievement(session, tenant_id, definition)

    consumer = EventConsumer(
        name=NAME,
        topic=Topic.ENROLLMENT,
        contract=EnrollmentRecorded,
        handler=on_enrollment_event,
        sessions=sessions,
        processed_table=AssessmentProcessedEvent,
        after_commit=relay.wake,
    )
    return ServiceParts(name=NAME, http=app, consumers=[consumer], relay=relay, on_start=[seed])

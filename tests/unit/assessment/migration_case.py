"""The assessment migration that introduced the criteria engine keeps the walking skeleton's data (shared by the
SQLite unit test and the PostgreSQL integration test)."""

import json
import uuid
from datetime import UTC, datetime

from alembic import command
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db.migrations import alembic_config, upgrade

BEFORE = "0111c556cd25"  # recipient identity on enrolments: the last revision of the walking skeleton
AWARD = uuid.uuid4()
LEGACY = {
    "id": "sql",
    "name": "SQL",
    "description": "Queries data.",
    "criteria": {"narrative": "n", "required_assessments": [{"assessment_id": "practical", "min_score": 75}]},
}


def _upgrade_to(connection: Connection, revision: str) -> None:
    command.upgrade(alembic_config("assessment", connection), revision)


async def check_migration_keeps_skeleton_data(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade_to, BEFORE)
        now = datetime(2026, 11, 1, tzinfo=UTC)
        await connection.execute(
            text(
                "INSERT INTO assessment_achievements (tenant_id, achievement_id, version, definition, updated_at)"
                " VALUES ('acme', 'sql', 3, :d, :t)"
            ),
            {"d": json.dumps(LEGACY), "t": now},
        )
        await connection.execute(
            text(
                "INSERT INTO assessment_best_scores (tenant_id, learner_id, assessment_id, score, max_score, attempts,"
                " updated_at) VALUES ('acme', 'ana', 'practical', 80, 100, 2, :t)"
            ),
            {"t": now},
        )
        await connection.execute(
            text(
                "INSERT INTO assessment_awards (award_id, tenant_id, learner_id, achievement_id, achievement_version,"
                " awarded_at) VALUES (:id, 'acme', 'ana', 'sql', 3, :t)"
            ),
            {"id": AWARD.hex if connection.dialect.name == "sqlite" else AWARD, "t": now},
        )
    await upgrade(engine, "assessment")

    from services.assessment.adapters.tables import AttemptRow, Award
    from services.assessment.admin import get_achievement
    from services.assessment.criteria import RefKind
    from services.assessment.handlers import _referring
    from shared.db.engine import session_factory, transaction

    async with transaction(session_factory(engine)) as session:
        achievement = await get_achievement(session, "acme", "sql")
        assert achievement is not None and (achievement.version, achievement.status) == (3, "active")
        assert await _referring(session, "acme", RefKind.ASSESSMENT, "practical") == {"sql"}
        [attempt] = (
            await session.execute(text("SELECT assessment_id, attempt, score, max_score FROM assessment_attempts"))
        ).all()
        assert tuple(attempt) == ("practical", 2, 80, 100)
        award = await session.get(Award, AWARD)
        assert award is not None and award.period == 0 and award.revoked_at is None
        # The new unique constraint: one award per period.
        session.add(
            Award(award_id=uuid.uuid4(), tenant_id="acme", learner_id="ana", achievement_id="sql", period=1,
                  achievement_version=3, awarded_at=now)
        )  # fmt: skip
        await session.flush()
        assert AttemptRow.__tablename__ == "assessment_attempts"

"""The criteria-engine migration on SQLite (embedded mode); the PostgreSQL run is in tests/integration."""

from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from shared.db.engine import create_engine
from tests.unit.assessment.migration_case import check_migration_keeps_skeleton_data


async def test_the_walking_skeletons_data_survives_the_migration(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'assessment.db'}")
    try:
        await check_migration_keeps_skeleton_data(engine)
    finally:
        await engine.dispose()


async def test_one_award_per_period(tmp_path: Path) -> None:
    import uuid
    from datetime import UTC, datetime

    from services.assessment.adapters.tables import Award
    from shared.db.engine import session_factory, transaction
    from shared.db.migrations import upgrade

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
    await upgrade(engine, "assessment")
    now = datetime.now(UTC)
    try:
        with pytest.raises(IntegrityError):
            async with transaction(session_factory(engine)) as session:
                for _ in range(2):
                    session.add(Award(award_id=uuid.uuid4(), tenant_id="t", learner_id="l", achievement_id="a",
                                      period=0, achievement_version=1, awarded_at=now))  # fmt: skip
                    await session.flush()
    finally:
        await engine.dispose()

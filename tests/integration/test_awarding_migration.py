"""The criteria-engine migration on PostgreSQL keeps the walking skeleton's data and swaps the award constraint."""

import pytest

from shared.db.engine import create_engine
from tests.unit.assessment.migration_case import check_migration_keeps_skeleton_data

pytestmark = pytest.mark.integration


async def test_the_walking_skeletons_data_survives_the_migration_on_postgresql(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    try:
        await check_migration_keeps_skeleton_data(engine)
    finally:
        await engine.dispose()

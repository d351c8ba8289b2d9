"""The start-up schema check: heads read from the migration scripts without running them, one query when the
database is at head, a real upgrade when it is not."""

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import event, text

from services.runtime import SERVICES
from shared.db.engine import create_engine
from shared.db.migrations import alembic_config, database_revisions, ensure_current, head_revisions


@pytest.mark.parametrize("service", SERVICES)
def test_heads_read_from_the_scripts_are_alembics(service: str) -> None:
    assert head_revisions(service) == set(ScriptDirectory.from_config(alembic_config(service)).get_heads())


@pytest.mark.parametrize("service", SERVICES)
async def test_a_fresh_database_is_migrated_and_then_only_checked(service: str, tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    try:
        assert await database_revisions(engine, service) is None
        await ensure_current(engine, service)
        assert await database_revisions(engine, service) == head_revisions(service)

        statements: list[str] = []
        event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        await ensure_current(engine, service)
        assert [s for s in statements if s != "BEGIN IMMEDIATE"] == [
            f"SELECT version_num FROM alembic_version_{service}"
        ]
    finally:
        await engine.dispose()


async def test_a_database_behind_head_is_upgraded(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    try:
        await ensure_current(engine, "verifier")
        async with engine.begin() as connection:  # as if written by the first revision only
            await connection.execute(text("UPDATE alembic_version_verifier SET version_num = 'a0cf22c2e3af'"))
            await connection.execute(text("DROP TABLE verifier_revocations"))
            await connection.execute(text("DROP INDEX ix_verifier_credentials_award_credential_uuid"))
            for column in ("award_credential_uuid", "holder"):
                await connection.execute(text(f"ALTER TABLE verifier_credentials DROP COLUMN {column}"))
        await ensure_current(engine, "verifier")
        assert await database_revisions(engine, "verifier") == head_revisions("verifier")
        async with engine.connect() as connection:
            await connection.execute(text("SELECT count(*) FROM verifier_revocations"))
            await connection.execute(text("SELECT count(award_credential_uuid) FROM verifier_credentials"))
    finally:
        await engine.dispose()

"""The ingest properties of tests/ingest_fuzz.py on PostgreSQL, where the hostile-client campaign found its 500s
(PostgreSQL refuses NUL characters, over-long varchar values and timestamps outside its range; SQLite does not)."""

import asyncio
import uuid
from collections.abc import Iterator

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from tests.infra import Infrastructure
from tests.ingest_fuzz import (
    SENT,
    IngestTarget,
    test_admin_endpoints_never_answer_5xx,
    test_credentials_are_checked_before_the_body,
    test_kafka_inbound_records_are_processed_or_dead_lettered,
    test_lms_endpoints_never_answer_5xx,
    test_lti_ags_scores_never_answer_5xx,
    test_xapi_put_never_answers_5xx,
)

pytestmark = pytest.mark.integration

__all__ = [
    "test_admin_endpoints_never_answer_5xx",
    "test_credentials_are_checked_before_the_body",
    "test_kafka_inbound_records_are_processed_or_dead_lettered",
    "test_lms_endpoints_never_answer_5xx",
    "test_lti_ags_scores_never_answer_5xx",
    "test_xapi_put_never_answers_5xx",
]


async def _admin(dsn: str, statement: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="module")
def fuzz_target(infra: Infrastructure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngestTarget]:
    base = make_url(infra.database_url)
    name = f"fuzz_{uuid.uuid4().hex[:12]}"
    admin_dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)
    asyncio.run(_admin(admin_dsn, f'CREATE DATABASE "{name}"'))
    target = IngestTarget(base.set(database=name).render_as_string(hide_password=False), tmp_path_factory.mktemp("pg"))
    target.start()
    yield target
    target.stop()
    print(f"\ningest fuzz on PostgreSQL: {sum(SENT.values())} cases")
    asyncio.run(_admin(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

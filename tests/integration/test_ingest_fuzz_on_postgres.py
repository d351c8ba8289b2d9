"""The ingest properties of tests/ingest_fuzz.py on PostgreSQL, where the hostile-client campaign found its 500s
(PostgreSQL refuses NUL characters, over-long varchar values and timestamps outside its range; SQLite does not)."""

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url

from shared.db.scratch import create_database, drop_database
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


@pytest.fixture(scope="module")
def fuzz_target(infra: Infrastructure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngestTarget]:
    url = asyncio.run(create_database(infra.database_url, prefix="fuzz"))
    target = IngestTarget(url, tmp_path_factory.mktemp("pg"))
    target.start()
    yield target
    target.stop()
    print(f"\ningest fuzz on PostgreSQL: {sum(SENT.values())} cases")
    asyncio.run(drop_database(infra.database_url, make_url(url).database or ""))

"""Property tests: no request to an ingest or admin endpoint gets a 5xx, and no inbound Kafka record escapes the
consumer other than as a dead letter — on SQLite (tests/integration runs the same properties on PostgreSQL)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

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

__all__ = [
    "test_admin_endpoints_never_answer_5xx",
    "test_credentials_are_checked_before_the_body",
    "test_kafka_inbound_records_are_processed_or_dead_lettered",
    "test_lms_endpoints_never_answer_5xx",
    "test_lti_ags_scores_never_answer_5xx",
    "test_xapi_put_never_answers_5xx",
]


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngestTarget]:
    data_dir: Path = tmp_path_factory.mktemp("fuzz")
    target = IngestTarget(f"sqlite+aiosqlite:///{data_dir}/{{service}}.db", data_dir)
    target.start()
    yield target
    target.stop()
    print(f"\ningest fuzz on SQLite: {sum(SENT.values())} cases {dict(SENT)}")

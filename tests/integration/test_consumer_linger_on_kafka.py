"""On real Kafka, a batch consumer that got a small poll lingers and takes the records that arrived meanwhile into
the same batch (one transaction, one offset commit), and still handles every record once."""

import asyncio
import uuid
from datetime import UTC, datetime

import pytest

from services.runtime import KafkaService
from shared import metrics
from shared.contracts import CloudEvent, EnrollmentRecorded, Topic
from shared.messaging.records import event_record
from shared.settings import Settings
from tests.helpers import eventually, produce_all, skip_topic_history
from tests.infra import Infrastructure
from tests.kafka_stack import kafka_settings

pytestmark = pytest.mark.integration


def enrollment_batches() -> tuple[float, float]:
    """How many batches of the enrollment topic were handled in this process so far, and their records."""
    batches = records = 0.0
    for family in metrics.BATCH_RECORDS.collect():
        for sample in family.samples:
            if sample.labels.get("topic") == str(Topic.ENROLLMENT):
                if sample.name.endswith("_count"):
                    batches += sample.value
                elif sample.name.endswith("_sum"):
                    records += sample.value
    return batches, records


def enrolled(tenant: str, learner: str) -> EnrollmentRecorded:
    return EnrollmentRecorded(
        tenant_id=tenant,
        learner_id=learner,
        kind="enrolled",
        achievement_id="sql",
        occurred_at=datetime(2026, 11, 1, 9, 0, tzinfo=UTC),
        source="linger",
        source_event_id=f"{learner}-{uuid.uuid4().hex[:6]}",
    )


async def test_records_arriving_during_the_linger_join_the_small_batch(
    settings: Settings, infra: Infrastructure, postgres_url: str
) -> None:
    config = kafka_settings(settings, infra, postgres_url, consumer_linger_ms=500)
    await skip_topic_history(infra.kafka_bootstrap_servers, config.consumer_group_prefix)
    service = KafkaService("assessment", config)
    await service.start()
    tenant = f"t{uuid.uuid4().hex[:10]}"

    def records(learners: range) -> list:  # type: ignore[type-arg]
        return [
            event_record(e, CloudEvent(id=str(uuid.uuid4()), source="linger", type=e.CE_TYPE))
            for e in (enrolled(tenant, f"l{n}") for n in learners)
        ]

    try:
        before = enrollment_batches()
        await produce_all(infra.kafka_bootstrap_servers, records(range(3)))
        await asyncio.sleep(0.1)  # well inside the 500 ms linger
        await produce_all(infra.kafka_bootstrap_servers, records(range(3, 6)))

        async def handled() -> bool:
            return enrollment_batches()[1] - before[1] >= 6

        assert await eventually(handled)
        batches, handled_records = (now - then for now, then in zip(enrollment_batches(), before, strict=True))
        assert (batches, handled_records) == (1, 6)
    finally:
        await service.stop()

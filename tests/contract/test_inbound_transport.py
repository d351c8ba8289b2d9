"""One contract, two adapters: the in-memory transport + SQLite (embedded mode) and Kafka + PostgreSQL
(distributed mode) must behave the same for the consumer pipeline: exactly-once effects, dead letters."""

import hashlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import pytest
from aiokafka import ConsumerRecord
from sqlalchemy import func, select

from services.enrollment.adapters.tables import EnrollmentOutbox, ReceivedLmsEvent
from services.runtime import KafkaService, Wiring, build_service
from shared.contracts import CloudEvent, LmsActivity, Topic, dead_letter_topic
from shared.db.engine import SessionFactory, create_engine, session_factory
from shared.db.migrations import upgrade
from shared.messaging.memory import InMemoryBus
from shared.messaging.records import OutboundRecord
from shared.settings import Settings
from tests.helpers import eventually, header, produce, read_topic, skip_topic_history
from tests.infra import Infrastructure


class Harness(Protocol):
    sessions: SessionFactory

    async def publish(self, record: OutboundRecord) -> None: ...
    async def dead_letters(self, key: str, count: int) -> list[dict[str, str]]: ...


@dataclass
class MemoryHarness:
    bus: InMemoryBus
    sessions: SessionFactory

    async def publish(self, record: OutboundRecord) -> None:
        await self.bus.publish([record])

    async def dead_letters(self, key: str, count: int) -> list[dict[str, str]]:
        return [r.headers for r in self.bus.records(dead_letter_topic(str(Topic.LMS_INBOUND))) if r.key == key]


@dataclass
class KafkaHarness:
    bootstrap: str
    sessions: SessionFactory
    group: str

    async def publish(self, record: OutboundRecord) -> None:
        await produce(self.bootstrap, record.topic, record.value, key=record.key, headers=record.headers)

    async def dead_letters(self, key: str, count: int) -> list[dict[str, str]]:
        # On a shared broker other test sessions' consumers (other groups) may dead-letter the same records too:
        # count each original record (partition, offset) once.
        def distinct(records: list[ConsumerRecord]) -> list[dict[str, str]]:
            by_origin: dict[tuple[str, str], dict[str, str]] = {}
            for record in records:
                headers = {k: v.decode() for k, v in record.headers}
                origin = (headers.get("dlq_original_partition", ""), headers.get("dlq_original_offset", ""))
                by_origin.setdefault(origin, headers)
            return list(by_origin.values())

        records = await read_topic(
            self.bootstrap,
            dead_letter_topic(str(Topic.LMS_INBOUND)),
            # Other consumer groups on the same broker dead-letter the same records: count ours.
            match=lambda r: r.key == key.encode() and ("dlq_consumer_group", self.group.encode()) in r.headers,
            until=lambda found: len(distinct(found)) >= count,
        )
        return distinct(records)


@pytest.fixture(params=["memory", pytest.param("kafka", marks=pytest.mark.integration)])
def harness(request: pytest.FixtureRequest) -> Harness:
    return request.getfixturevalue(f"{request.param}_harness")


@pytest.fixture
async def memory_harness(settings: Settings, tmp_path: Path) -> AsyncIterator[Harness]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'enrollment.db'}")
    await upgrade(engine, "enrollment")
    bus = InMemoryBus()
    sessions = session_factory(engine)
    for consumer in build_service("enrollment", Wiring(settings, sessions, bus)).consumers:
        bus.subscribe(consumer)
    yield MemoryHarness(bus, sessions)
    await engine.dispose()


@pytest.fixture
async def kafka_harness(settings: Settings, infra: Infrastructure, postgres_url: str) -> AsyncIterator[KafkaHarness]:
    kafka_settings = settings.model_copy(
        update={
            "database_url": postgres_url,
            "kafka_bootstrap_servers": infra.kafka_bootstrap_servers,
            "consumer_group_prefix": f"test-{uuid.uuid4().hex[:8]}",
        }
    )
    await skip_topic_history(infra.kafka_bootstrap_servers, kafka_settings.consumer_group_prefix)
    service = KafkaService("enrollment", kafka_settings)
    await service.start()
    try:
        group = f"{kafka_settings.consumer_group_prefix}-enrollment"
        yield KafkaHarness(infra.kafka_bootstrap_servers, session_factory(service.engine), group)
    finally:
        await service.stop()


def activity_record(tenant: str, event_id: str, *, ce_id: str | None = None, learner: str = "l1") -> OutboundRecord:
    activity = LmsActivity(
        tenant_id=tenant,
        learner_id=learner,
        event_id=event_id,
        kind="enrolled",
        achievement_id="python",
        occurred_at=datetime.now(UTC),
    )
    ce = CloudEvent(id=ce_id or str(uuid.uuid4()), source="lms://contract-test", type=LmsActivity.CE_TYPE)
    return OutboundRecord(
        str(Topic.LMS_INBOUND), activity.key(), activity.model_dump_json().encode(), ce.to_header_dict()
    )


async def received(sessions: SessionFactory, tenant: str) -> int:
    async with sessions() as session:
        rows = await session.execute(
            select(func.count()).select_from(ReceivedLmsEvent).where(ReceivedLmsEvent.tenant_id == tenant)
        )
        return rows.scalar_one()


async def staged(sessions: SessionFactory) -> int:
    async with sessions() as session:
        return (await session.execute(select(func.count()).select_from(EnrollmentOutbox))).scalar_one()


async def test_a_record_delivered_twice_takes_effect_once(harness: Harness) -> None:
    tenant = f"t{uuid.uuid4().hex[:10]}"
    record = activity_record(tenant, "e1", ce_id="ce-1")
    await harness.publish(record)
    await harness.publish(record)  # redelivery: same CloudEvents id
    await harness.publish(activity_record(tenant, "e1"))  # the LMS re-sent its event under a new envelope
    await harness.publish(activity_record(tenant, "e2"))
    assert await eventually(lambda: _equals(received(harness.sessions, tenant), 2))


async def test_malformed_records_are_dead_lettered_and_do_not_block(harness: Harness) -> None:
    tenant = f"t{uuid.uuid4().hex[:10]}"
    key = f"{tenant}:l1"
    ce = CloudEvent(source="lms://contract-test", type=LmsActivity.CE_TYPE).to_header_dict()
    await harness.publish(OutboundRecord(str(Topic.LMS_INBOUND), key, b"{not json", ce))
    await harness.publish(OutboundRecord(str(Topic.LMS_INBOUND), key, b'{"tenant_id": "x"}', ce))
    no_headers = activity_record(tenant, "e0")
    await harness.publish(OutboundRecord(no_headers.topic, key, no_headers.value, {}))
    await harness.publish(activity_record(tenant, "e1"))

    assert await eventually(lambda: _equals(received(harness.sessions, tenant), 1))
    dead = await harness.dead_letters(key, 3)
    assert len(dead) == 3
    reasons = [d["dlq_reason"] for d in dead]
    assert any("Invalid JSON" in r or "json" in r.lower() for r in reasons), reasons
    assert any("learner_id" in r for r in reasons), reasons
    assert any("ce_id" in r for r in reasons), reasons
    assert all(d["dlq_original_topic"] == str(Topic.LMS_INBOUND) for d in dead)


# With this test's key and CloudEvents headers, a value of 1,048,279 bytes is the largest the producer sends
# (1,048,576 bytes serialised, the default max.request.size); 279 bytes fewer leave no room for the dlq_* headers.
NEARLY_TOO_LARGE = 1_048_000


async def test_a_poison_record_as_large_as_the_broker_allows_is_dead_lettered_bounded(harness: Harness) -> None:
    """Its dead-letter copy (value + dlq_* headers) would be over the broker's limit: the copy carries a truncated
    value and says so, and the valid record behind it on the same partition is processed."""
    tenant = f"t{uuid.uuid4().hex[:10]}"
    key = f"{tenant}:l1"
    huge = b"<" * NEARLY_TOO_LARGE  # not JSON
    ce = CloudEvent(source="lms://contract-test", type=LmsActivity.CE_TYPE).to_header_dict()
    await harness.publish(OutboundRecord(str(Topic.LMS_INBOUND), key, huge, ce))
    await harness.publish(activity_record(tenant, "e1"))  # same key, so the same partition

    assert await eventually(lambda: _equals(received(harness.sessions, tenant), 1))
    [dead] = await harness.dead_letters(key, 1)
    assert dead["dlq_value_truncated"] == str(len(huge))
    assert dead["dlq_value_sha256"] == hashlib.sha256(huge).hexdigest()
    assert dead["dlq_reason"]


@pytest.mark.integration
async def test_a_record_whose_header_is_not_utf8_is_dead_lettered_with_the_reason(kafka_harness: KafkaHarness) -> None:
    """FastStream decodes headers before any middleware runs; such a record used to be redelivered forever."""
    tenant = f"t{uuid.uuid4().hex[:10]}"
    key = f"{tenant}:l1"
    bad = activity_record(tenant, "e0")
    headers: dict[str, str | bytes] = {**bad.headers, "x-trace": b"\xff\xfe not utf-8"}
    await produce(kafka_harness.bootstrap, bad.topic, bad.value, key=key, headers=headers)
    await kafka_harness.publish(activity_record(tenant, "e1"))

    assert await eventually(lambda: _equals(received(kafka_harness.sessions, tenant), 1))
    [dead] = await kafka_harness.dead_letters(key, 1)
    assert "not UTF-8" in dead["dlq_reason"] and "x-trace" in dead["dlq_reason"]
    assert dead["x-trace"] == "\ufffd\ufffd not utf-8"  # carried along, with the bad bytes replaced
    async with kafka_harness.sessions() as session:
        assert await session.get(ReceivedLmsEvent, (tenant, "e0")) is None  # not processed either


async def _equals(value_coroutine, expected: int) -> bool:  # type: ignore[no-untyped-def]
    return (await value_coroutine) == expected


__all__ = ["header", "staged"]

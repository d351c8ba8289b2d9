"""One contract, two adapters, for batch consumers (the assessment service's enrollment-topic consumer): the
in-memory transport + SQLite and Kafka + PostgreSQL both award every good record of a batch once, and dead-letter
exactly the bad ones, alone, with their reasons."""

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pytest
from sqlalchemy import func, select

from services.assessment.adapters.tables import AchievementRow, AttemptRow, Award
from services.runtime import KafkaService, Wiring, build_service
from shared.contracts import (
    AchievementDefined,
    AchievementStatus,
    CloudEvent,
    EnrollmentRecorded,
    Topic,
    TopicEvent,
    dead_letter_topic,
)
from shared.db.engine import SessionFactory, create_engine, session_factory
from shared.db.migrations import upgrade
from shared.messaging.memory import InMemoryBus
from shared.messaging.records import OutboundRecord, event_record
from shared.settings import Settings
from tests.helpers import eventually, produce_all, read_topic, skip_topic_history
from tests.infra import Infrastructure
from tests.kafka_stack import kafka_settings

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
ENROLLMENT_DLQ = dead_letter_topic(str(Topic.ENROLLMENT))


class Harness(Protocol):
    sessions: SessionFactory

    async def publish(self, records: Sequence[OutboundRecord]) -> None: ...
    async def dead_letters(self, tenant: str, count: int) -> list[dict[str, str]]: ...


@dataclass
class MemoryHarness:
    bus: InMemoryBus
    sessions: SessionFactory

    async def publish(self, records: Sequence[OutboundRecord]) -> None:
        await self.bus.publish(records)

    async def dead_letters(self, tenant: str, count: int) -> list[dict[str, str]]:
        return [r.headers for r in self.bus.records(ENROLLMENT_DLQ) if r.key.startswith(f"{tenant}:")]


@dataclass
class KafkaHarness:
    bootstrap: str
    sessions: SessionFactory
    group: str

    async def publish(self, records: Sequence[OutboundRecord]) -> None:
        await produce_all(self.bootstrap, records)

    async def dead_letters(self, tenant: str, count: int) -> list[dict[str, str]]:
        found = await read_topic(
            self.bootstrap,
            ENROLLMENT_DLQ,
            match=lambda r: (
                (r.key or b"").startswith(f"{tenant}:".encode())
                and ("dlq_consumer_group", self.group.encode()) in r.headers
            ),
            until=lambda found: len(found) >= count,
        )
        return [{k: v.decode() for k, v in r.headers} for r in found]


@pytest.fixture(params=["memory", pytest.param("kafka", marks=pytest.mark.integration)])
def harness(request: pytest.FixtureRequest) -> Harness:
    return request.getfixturevalue(f"{request.param}_batch_harness")


@pytest.fixture
async def memory_batch_harness(settings: Settings, tmp_path: Path) -> AsyncIterator[Harness]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'assessment.db'}")
    await upgrade(engine, "assessment")
    bus = InMemoryBus()
    sessions = session_factory(engine)
    for consumer in build_service("assessment", Wiring(settings, sessions, bus)).consumers:
        bus.subscribe(consumer)
    yield MemoryHarness(bus, sessions)
    await engine.dispose()


@pytest.fixture
async def kafka_batch_harness(settings: Settings, infra: Infrastructure, postgres_url: str) -> AsyncIterator[Harness]:
    config = kafka_settings(settings, infra, postgres_url)
    await skip_topic_history(infra.kafka_bootstrap_servers, config.consumer_group_prefix)
    service = KafkaService("assessment", config)
    await service.start()
    try:
        group = f"{config.consumer_group_prefix}-assessment"
        yield KafkaHarness(infra.kafka_bootstrap_servers, session_factory(service.engine), group)
    finally:
        await service.stop()


def record(event: TopicEvent, source: str = "credstream/enrollment") -> OutboundRecord:
    return event_record(event, CloudEvent(id=str(uuid.uuid4()), source=source, type=event.CE_TYPE))


def activity(tenant: str, learner: str, kind: str, **fields: Any) -> OutboundRecord:
    minutes = 1 if kind != "enrolled" else 0
    return record(
        EnrollmentRecorded(
            tenant_id=tenant,
            learner_id=learner,
            kind=kind,
            occurred_at=T0 + timedelta(minutes=minutes),
            source="contract",
            source_event_id=f"{learner}-{kind}-{uuid.uuid4().hex[:6]}",
            **fields,
        )
    )


async def count(sessions: SessionFactory, table: Any, tenant: str) -> int:
    async with sessions() as session:
        query = select(func.count()).select_from(table).where(table.tenant_id == tenant)
        return (await session.execute(query)).scalar_one()


async def test_a_batch_awards_every_good_record_once_and_dead_letters_the_bad_ones_alone(harness: Harness) -> None:
    tenant = f"t{uuid.uuid4().hex[:10]}"
    definition = {
        "id": "sql",
        "name": "SQL",
        "description": "d",
        "criteria": {"narrative": "n", "required_assessments": [{"assessment_id": "quiz", "min_score": 70}]},
    }
    defined = AchievementDefined(
        tenant_id=tenant,
        achievement_id="sql",
        version=1,
        status=AchievementStatus.ACTIVE,
        definition=definition,
        defined_at=T0,
    )
    await harness.publish([record(defined, "credstream/assessment")])
    assert await eventually(lambda: _equals(count(harness.sessions, AchievementRow, tenant), 1))

    good = [f"l{i}" for i in range(6)]
    batch = [activity(tenant, learner, "enrolled", achievement_id="sql") for learner in good]
    # Answers to an assessment without an answer key: the handler refuses it, failing the whole batch at first.
    batch.insert(
        3, activity(tenant, "l2", "submitted", assessment_id="quiz", answers=[{"question_id": "q", "response": 1}])
    )
    undecodable = activity(tenant, "l4", "scored", assessment_id="quiz", score=90)
    batch.insert(5, OutboundRecord(undecodable.topic, undecodable.key, b"{not json", undecodable.headers))
    batch += [activity(tenant, learner, "scored", assessment_id="quiz", score=90, max_score=100) for learner in good]
    redelivered = batch[-1]
    await harness.publish([*batch, redelivered])

    assert await eventually(lambda: _equals(count(harness.sessions, Award, tenant), len(good)))
    dead = await harness.dead_letters(tenant, 2)
    reasons = sorted(d["dlq_reason"] for d in dead)
    assert len(reasons) == 2, reasons
    assert "no answer key" in reasons[0], reasons
    assert reasons[1].startswith("invalid EnrollmentRecorded"), reasons
    assert await count(harness.sessions, AttemptRow, tenant) == len(good)  # the refused attempt left no trace


async def _equals(value_coroutine, expected: int) -> bool:  # type: ignore[no-untyped-def]
    return (await value_coroutine) == expected

"""The whole pipeline on real Kafka and PostgreSQL, each service with its own consumer group and connections:
an LMS publishing straight to `credstream.lms-inbound.v1`, with a redelivery and a poison record in the stream."""

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from services.assessment.admin import define_achievement
from services.assessment.domain import AchievementDefinition
from services.runtime import KafkaService
from services.verifier.adapters.tables import PublishedCredential
from shared.contracts import BadgeIssued, CloudEvent, LmsActivity, Topic, dead_letter_topic
from shared.db.engine import session_factory, transaction
from tests.helpers import eventually, header, produce, read_to_end, read_topic
from tests.infra import Infrastructure

pytestmark = pytest.mark.integration


async def test_direct_kafka_publishing_with_a_redelivery_and_a_poison_record(
    services: dict[str, KafkaService], infra: Infrastructure
) -> None:
    tenant = f"k{uuid.uuid4().hex[:8]}"
    async with transaction(session_factory(services["assessment"].engine)) as session:
        await define_achievement(
            session,
            tenant,
            AchievementDefinition.model_validate(
                {
                    "id": "streams",
                    "name": "Event Streams",
                    "description": "Designs keyed, ordered event streams.",
                    "criteria": {
                        "narrative": "70% on the exam.",
                        "required_assessments": [{"assessment_id": "exam", "min_score": 70}],
                    },
                }
            ),
        )
    bootstrap = infra.kafka_bootstrap_servers
    t0 = datetime.now(UTC) - timedelta(minutes=5)

    async def publish(activity: LmsActivity | bytes, *, ce_id: str | None = None, key: str = f"{tenant}:ivy") -> None:
        ce = CloudEvent(id=ce_id or str(uuid.uuid4()), source="lms://moodle.test", type=LmsActivity.CE_TYPE)
        value = activity if isinstance(activity, bytes) else activity.model_dump_json().encode()
        await produce(bootstrap, str(Topic.LMS_INBOUND), value, key=key, headers=ce.to_header_dict())

    enrol = LmsActivity(
        tenant_id=tenant, learner_id="ivy", event_id="m-1", kind="enrolled", achievement_id="streams", occurred_at=t0
    )
    exam = LmsActivity(
        tenant_id=tenant,
        learner_id="ivy",
        event_id="m-2",
        kind="scored",
        assessment_id="exam",
        score=81,
        occurred_at=t0 + timedelta(minutes=1),
    )
    await publish(enrol)
    poison = b'{"tenant_id": "' + tenant.encode() + b'", "kind": "enrolled"}'
    await publish(poison)  # must not block
    await publish(exam, ce_id="exam-delivery")
    await publish(exam, ce_id="exam-delivery")  # Kafka-level redelivery
    await publish(exam)  # the LMS re-sent the same event id in a new envelope

    dead = await read_topic(
        bootstrap,
        dead_letter_topic(str(Topic.LMS_INBOUND)),
        # Only the poison record: on a shared broker, a foreign run on another contract version may dead-letter more.
        match=lambda r: r.key == f"{tenant}:ivy".encode() and r.value == poison,
        until=lambda found: len(found) >= 1,
    )
    assert "learner_id" in (header(dead[0], "dlq_reason") or "")
    assert header(dead[0], "dlq_consumer") == "enrollment"

    issued = await read_topic(
        bootstrap,
        str(Topic.BADGE_ISSUED),
        match=lambda r: r.key == f"{tenant}:ivy".encode(),
        until=lambda found: len(found) >= 1,
    )
    badge = BadgeIssued.model_validate_json(issued[0].value)
    assert badge.credential["credentialSubject"]["achievement"]["name"] == "Event Streams"

    verifier_sessions = session_factory(services["verifier"].engine)

    async def published() -> PublishedCredential | None:
        async with verifier_sessions() as session:
            return (
                await session.execute(select(PublishedCredential).where(PublishedCredential.tenant_id == tenant))
            ).scalar()

    row = await eventually(published)
    assert json.loads(row.credential) == badge.credential

    # Once the pipeline is idle, the topic holds exactly one badge for this award. (Counted by credential id: on a
    # shared broker, another run's fresh consumer group replaying the topics may re-announce the same credential id.)
    await asyncio.sleep(2)
    records = await read_to_end(bootstrap, str(Topic.BADGE_ISSUED))
    mine = [BadgeIssued.model_validate_json(r.value) for r in records if r.key == f"{tenant}:ivy".encode()]
    assert {b.credential_id for b in mine} == {badge.credential_id}

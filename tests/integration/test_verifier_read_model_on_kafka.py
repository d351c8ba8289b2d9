"""The verifier's consumers on real Kafka and PostgreSQL: badge-issued and badge-revoked consumed in batches; each
badge reaches the read model once, also when a whole batch is delivered again; a record PostgreSQL refuses is
isolated and dead-lettered alone, the records around it kept."""

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from services.runtime import KafkaService
from services.verifier.adapters.tables import CredentialRevocation, PublishedCredential, VerifierProcessedEvent
from shared.contracts import Topic, dead_letter_topic
from shared.db.engine import SessionFactory, session_factory
from shared.settings import Settings
from tests.helpers import end_offsets, eventually, header, produce_all, read_topic, rewind_group, skip_topic_history
from tests.infra import Infrastructure
from tests.kafka_stack import kafka_settings
from tests.verifier_support import announced, badge_issued, badge_revoked, undecodable

pytestmark = pytest.mark.integration


async def count(sessions: SessionFactory, table: Any, tenant: str | None = None) -> int:
    async with sessions() as session:
        query = select(func.count()).select_from(table)
        if tenant is not None:
            query = query.where(table.tenant_id == tenant)
        return (await session.execute(query)).scalar_one()


async def test_each_badge_once_across_a_redelivered_batch_and_a_poison_record_dead_lettered_alone(
    settings: Settings, infra: Infrastructure, postgres_url: str
) -> None:
    bootstrap = infra.kafka_bootstrap_servers
    config = kafka_settings(settings, infra, postgres_url)
    group = f"{config.consumer_group_prefix}-verifier"
    await skip_topic_history(bootstrap, config.consumer_group_prefix)
    before = await end_offsets(bootstrap, str(Topic.BADGE_ISSUED))

    tenant = f"v{uuid.uuid4().hex[:10]}"
    credentials = [uuid.uuid4() for _ in range(8)]
    good = [announced(badge_issued(tenant, c, learner=f"l{i}")) for i, c in enumerate(credentials)]
    # Within what PostgreSQL is asked to store in a varchar(256): refused there, so the batch fails as a whole first.
    too_long = announced(badge_issued(tenant, uuid.uuid4(), learner="l3", achievement_id="a" * 300))
    batch = [
        *good[:3],
        too_long,
        good[3],
        undecodable(good[4]),
        *good[4:],
        good[5],  # a redelivered copy (same CloudEvents id)
        announced(badge_issued(tenant, credentials[6], learner="l6")),  # re-announced under a new id
    ]
    revoked = [announced(badge_revoked(tenant, c, learner=f"l{i}")) for i, c in enumerate(credentials[:2])]

    service = KafkaService("verifier", config)
    await service.start()
    sessions = session_factory(service.engine)
    try:
        await produce_all(bootstrap, [*batch, *revoked, revoked[0]])
        assert await eventually(lambda: _equals(count(sessions, PublishedCredential, tenant), len(credentials)))
        assert await eventually(lambda: _equals(count(sessions, CredentialRevocation, tenant), 2))
        dead = await dead_letters(bootstrap, tenant, group, 2)
        reasons = sorted(header(d, "dlq_reason") or "" for d in dead)
        assert reasons[0].startswith("handler failed 3 times"), reasons
        assert "too long" in reasons[0], reasons
        assert reasons[1].startswith("invalid BadgeIssued"), reasons
        # The good records, the re-announcement and the revocations are marked processed; the bad ones are not.
        processed = len(credentials) + 1 + 2
        assert await eventually(lambda: _equals(count(sessions, VerifierProcessedEvent), processed))
        async with sessions() as session:
            kept = {
                row.credential_uuid: row.credential
                for row in (await session.execute(select(PublishedCredential))).scalars()
            }
    finally:
        await service.stop()

    # The same batch delivered again, as if the offsets had not been committed: nothing new in the read model.
    await rewind_group(bootstrap, group, before)
    again = KafkaService("verifier", config)
    await again.start()
    try:
        await dead_letters(bootstrap, tenant, group, 4)  # its bad records fail again: the batch was redelivered
        assert await count(sessions, PublishedCredential, tenant) == len(credentials)
        assert await count(sessions, VerifierProcessedEvent) == processed
        async with session_factory(again.engine)() as session:
            rows = (await session.execute(select(PublishedCredential))).scalars()
            assert {row.credential_uuid: row.credential for row in rows} == kept
    finally:
        await again.stop()


async def dead_letters(bootstrap: str, tenant: str, group: str, at_least: int) -> list[Any]:
    return await read_topic(
        bootstrap,
        dead_letter_topic(str(Topic.BADGE_ISSUED)),
        match=lambda r: (
            (r.key or b"").startswith(f"{tenant}:".encode()) and ("dlq_consumer_group", group.encode()) in r.headers
        ),
        until=lambda found: len(found) >= at_least,
    )


async def _equals(value_coroutine, expected: int) -> bool:  # type: ignore[no-untyped-def]
    return (await value_coroutine) == expected

"""The verifier's read model, fed in batches (in-memory bus + SQLite): each credential and revocation is kept once
whatever is redelivered or re-announced, the first announcement wins, and a bad record is dead-lettered alone."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from services.runtime import Wiring, build_service
from services.verifier.adapters.tables import CredentialRevocation, PublishedCredential, VerifierProcessedEvent
from shared.contracts import Topic, dead_letter_topic
from shared.db.engine import SessionFactory, create_engine, session_factory
from shared.db.errors import DatabaseUnavailable
from shared.db.migrations import upgrade
from shared.messaging.batch import BatchConsumer
from shared.messaging.memory import InMemoryBus
from shared.settings import Settings
from tests.verifier_support import announced, badge_issued, badge_revoked, undecodable


@dataclass
class Verifier:
    bus: InMemoryBus
    sessions: SessionFactory

    async def count(self, table: Any) -> int:
        async with self.sessions() as session:
            return (await session.execute(select(func.count()).select_from(table))).scalar_one()

    async def published(self) -> dict[str, dict[str, Any]]:
        async with self.sessions() as session:
            rows = (await session.execute(select(PublishedCredential))).scalars()
            return {row.credential_id: json.loads(row.credential) for row in rows}

    def dead_letters(self, topic: Topic) -> list[dict[str, str]]:
        return [record.headers for record in self.bus.records(dead_letter_topic(str(topic)))]


async def _verifier(settings: Settings, database: str) -> tuple[Verifier, Any]:
    engine = create_engine(database)
    await upgrade(engine, "verifier")
    bus = InMemoryBus()
    sessions = session_factory(engine)
    parts = build_service("verifier", Wiring(settings, sessions, bus))
    for consumer in parts.consumers:
        bus.subscribe(consumer)

    async def stop() -> None:
        for hook in parts.on_stop:
            await hook()
        await engine.dispose()

    return Verifier(bus, sessions), stop


@pytest.fixture
async def verifier(settings: Settings, tmp_path: Path) -> AsyncIterator[Verifier]:
    found, stop = await _verifier(settings, f"sqlite+aiosqlite:///{tmp_path / 'verifier.db'}")
    yield found
    await stop()


def test_both_topics_are_consumed_in_batches(verifier: Verifier) -> None:
    subscribed = {topic: consumers for topic, consumers in verifier.bus._consumers.items()}
    for topic in (Topic.BADGE_ISSUED, Topic.BADGE_REVOKED):
        assert [type(c) for c in subscribed[str(topic)]] == [BatchConsumer]


async def test_a_batch_keeps_each_credential_once_and_dead_letters_only_the_bad_records(verifier: Verifier) -> None:
    credentials = [uuid.uuid4() for _ in range(5)]
    good = [announced(badge_issued("acme", c, learner=f"l{i}")) for i, c in enumerate(credentials)]
    copy = good[1]  # a redelivered copy: same CloudEvents id
    # Re-announced under a new event id (e.g. an issuer replaying its outbox) with other content: the first is kept.
    again = announced(badge_issued("acme", credentials[2], learner="l2", issuer_id="did:key:z6MkOther"))
    not_a_uuid = announced(badge_issued("acme", credentials[0], credential_id="https://example.org/badge/1"))
    batch = [good[0], undecodable(good[0]), good[1], copy, not_a_uuid, good[2], again, good[3], good[4]]
    await verifier.bus.publish(batch)

    published = await verifier.published()
    assert set(published) == {f"urn:uuid:{c}" for c in credentials}
    async with verifier.sessions() as session:
        row = await session.get(PublishedCredential, credentials[2])
    assert row is not None and row.issuer_id == "did:key:z6MkExample"  # the first announcement
    reasons = sorted(d["dlq_reason"] for d in verifier.dead_letters(Topic.BADGE_ISSUED))
    assert len(reasons) == 2, reasons
    assert reasons[0].startswith("credential_id 'https://example.org/badge/1' is not a urn:uuid"), reasons
    assert reasons[1].startswith("invalid BadgeIssued"), reasons
    # Every good record is marked processed, the bad ones are not (a replay after a fix processes them).
    assert await verifier.count(VerifierProcessedEvent) == 6

    # The whole batch redelivered (the offsets were not committed): nothing changes, only the bad records fail again.
    await verifier.bus.publish(batch)
    assert await verifier.published() == published
    assert await verifier.count(PublishedCredential) == 5
    assert await verifier.count(VerifierProcessedEvent) == 6
    assert len(verifier.dead_letters(Topic.BADGE_ISSUED)) == 4


async def test_revocations_are_kept_once_the_first_announcement_wins(verifier: Verifier) -> None:
    revoked = [uuid.uuid4() for _ in range(3)]
    first = [announced(badge_revoked("acme", c, learner=f"l{i}")) for i, c in enumerate(revoked)]
    later = announced(badge_revoked("acme", revoked[0], learner="l0", reason="Changed my mind"))
    await verifier.bus.publish([first[0], first[1], later, first[1], first[2]])
    await verifier.bus.publish([later, first[2]])

    assert await verifier.count(CredentialRevocation) == 3
    async with verifier.sessions() as session:
        row = await session.get(CredentialRevocation, revoked[0])
    assert row is not None and row.reason == "Issued in error"
    assert verifier.dead_letters(Topic.BADGE_REVOKED) == []


# Announcements of a few credentials, each with a delivery id: equal ids are redelivered copies.
announcements = st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3)), min_size=1, max_size=30)


@hypothesis_settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=announcements, cuts=st.lists(st.integers(0, 30), max_size=4))
def test_however_announcements_are_batched_each_credential_is_kept_once_as_first_announced(
    settings: Settings, sequence: list[tuple[int, int]], cuts: list[int]
) -> None:
    credentials = [uuid.uuid4() for _ in range(6)]
    records = [
        announced(
            badge_issued("acme", credentials[c], issuer_id=f"did:key:z6Mk{delivery}"),
            ce_id=f"{credentials[c]}-{delivery}",
        )
        for c, delivery in sequence
    ]
    bounds = sorted({0, len(records), *(cut for cut in cuts if cut < len(records))})

    async def run() -> tuple[dict[str, str], int]:
        found, stop = await _verifier(settings, "sqlite+aiosqlite://")
        try:
            for start, end in pairwise(bounds):
                await found.bus.publish(records[start:end])
            async with found.sessions() as session:
                rows = (await session.execute(select(PublishedCredential))).scalars()
                kept = {row.credential_id: row.issuer_id for row in rows}
            return kept, await found.count(VerifierProcessedEvent)
        finally:
            await stop()

    kept, processed = asyncio.run(run())
    first: dict[str, str] = {}
    for c, delivery in sequence:
        first.setdefault(f"urn:uuid:{credentials[c]}", f"did:key:z6Mk{delivery}")
    assert kept == first
    assert processed == len(set(sequence))


async def test_while_the_database_is_down_nothing_is_dead_lettered_and_the_batch_is_redelivered(
    settings: Settings,
) -> None:
    # Nothing listens on port 1: every connection is refused, as during an outage.
    engine = create_engine("postgresql+asyncpg://credstream:x@127.0.0.1:1/verifier")
    bus = InMemoryBus()
    parts = build_service("verifier", Wiring(settings, session_factory(engine), bus))
    for consumer in parts.consumers:
        bus.subscribe(consumer)
    batch = [announced(badge_issued("acme", uuid.uuid4())), undecodable(announced(badge_issued("acme", uuid.uuid4())))]
    try:
        # The outage reaches the publisher (the relay, or Kafka's redelivery), which keeps the records and retries;
        # not even the undecodable record is dead-lettered before the batch can be processed.
        with pytest.raises(DatabaseUnavailable):
            await bus.publish(batch)
        assert bus.records(dead_letter_topic(str(Topic.BADGE_ISSUED))) == []
    finally:
        for hook in parts.on_stop:
            await hook()
        await engine.dispose()


async def test_a_wallet_copy_is_kept_under_its_award_and_a_bad_award_id_is_dead_lettered(verifier: Verifier) -> None:
    award, copy, stray = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    holder = "did:key:z6MkHolder"
    batch = [
        announced(badge_issued("acme", award)),
        announced(badge_issued("acme", copy, award_credential_id=f"urn:uuid:{award}", holder=holder)),
        announced(badge_issued("acme", stray, award_credential_id="https://example.org/badge/1", holder=holder)),
    ]
    await verifier.bus.publish(batch)

    async with verifier.sessions() as session:
        original = await session.get(PublishedCredential, award)
        kept = await session.get(PublishedCredential, copy)
    assert original is not None and (original.award_credential_uuid, original.holder) == (None, None)
    assert kept is not None and (kept.award_credential_uuid, kept.holder) == (award, holder)
    [reason] = [d["dlq_reason"] for d in verifier.dead_letters(Topic.BADGE_ISSUED)]
    assert reason.startswith("award_credential_id 'https://example.org/badge/1' is not a urn:uuid"), reason
    assert await verifier.count(PublishedCredential) == 2

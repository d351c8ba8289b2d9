"""Real PostgreSQL errors, as SQLAlchemy's asyncpg dialect raises them, are classified as the unit tests assume: an
admin shutdown of the connection (57P01) and too many connections (53300) are outages the consumer redelivers; a
constraint violation is the work's fault."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from services.enrollment.adapters.tables import EnrollmentProcessedEvent
from shared.contracts import CloudEvent, LmsActivity, Topic
from shared.db.engine import create_engine, database_answers, session_factory, transaction
from shared.db.errors import DatabaseUnavailable, is_outage, sqlstate
from shared.db.migrations import upgrade
from shared.messaging.consumer import EventConsumer

pytestmark = pytest.mark.integration


@pytest.fixture
async def engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(postgres_url)
    await upgrade(engine, "enrollment")
    yield engine
    await engine.dispose()


def codes(error: BaseException) -> list[str]:
    found, current = [], error
    while current is not None:
        for candidate in (current, getattr(current, "orig", None)):
            if candidate is not None and (code := sqlstate(candidate)):
                found.append(code)
        current = current.__cause__
    return found


async def test_a_terminated_backend_is_an_outage_the_consumer_redelivers(engine: AsyncEngine) -> None:
    calls = 0

    async def terminated(session, activity, ce) -> None:  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        # What a fast shutdown or a failover does to every connection: FATAL 57P01.
        await session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))

    consumer = EventConsumer(
        name="enrollment",
        topic=Topic.LMS_INBOUND,
        contract=LmsActivity,
        handler=terminated,
        sessions=session_factory(engine),
        processed_table=EnrollmentProcessedEvent,
        retry_delay=0,
    )
    activity = LmsActivity(
        tenant_id="acme",
        learner_id="l1",
        event_id="e1",
        kind="enrolled",
        achievement_id="a",
        occurred_at=datetime.now(UTC),
    )
    with pytest.raises(Exception) as raised:
        await consumer.process(activity, CloudEvent(source="lms://test", type=LmsActivity.CE_TYPE))
    assert is_outage(raised.value), repr(raised.value)
    assert calls == 1  # not retried towards a dead letter
    assert await database_answers(session_factory(engine))  # the pool replaces the dead connection


async def test_too_many_connections_is_an_outage(engine: AsyncEngine, postgres_url: str) -> None:
    name = make_url(postgres_url).database
    async with engine.begin() as connection:
        await connection.execute(text(f'ALTER DATABASE "{name}" CONNECTION LIMIT 0'))
    await engine.dispose()  # drop pooled connections, so the next one must log in again
    try:
        with pytest.raises(DatabaseUnavailable) as raised:
            async with transaction(session_factory(engine)):
                pass
        assert "53300" in codes(raised.value)
        assert is_outage(raised.value)
    finally:
        # The owner may still connect to another database to lift the limit.
        admin = create_engine(make_url(postgres_url).set(database="postgres").render_as_string(hide_password=False))
        async with admin.begin() as connection:
            await connection.execute(text(f'ALTER DATABASE "{name}" CONNECTION LIMIT -1'))
        await admin.dispose()


async def test_a_unique_violation_is_not_an_outage(engine: AsyncEngine) -> None:
    row = {"consumer": "c", "source": "s", "event_id": "e"}
    insert = text(
        "INSERT INTO enrollment_processed_events (consumer, source, event_id, processed_at)"
        " VALUES (:consumer, :source, :event_id, now())"
    )
    async with transaction(session_factory(engine)) as session:
        await session.execute(insert, row)
    with pytest.raises(Exception) as raised:
        async with transaction(session_factory(engine)) as session:
            await session.execute(insert, row)
    assert "23505" in codes(raised.value)
    assert not is_outage(raised.value)

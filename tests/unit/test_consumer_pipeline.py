"""The consumer pipeline: once-only effects, bounded retries to a dead letter, transient errors propagate."""

import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, OperationalError

from services.enrollment.adapters.tables import EnrollmentProcessedEvent, ReceivedLmsEvent
from services.enrollment.handlers import on_inbound_activity
from shared.contracts import CloudEvent, LmsActivity, Topic
from shared.db.engine import create_engine, database_answers, session_factory
from shared.db.errors import DatabaseUnavailable, is_outage
from shared.db.migrations import upgrade
from shared.messaging import consumer as consumer_module
from shared.messaging.consumer import EventConsumer, Outcome
from shared.messaging.records import InboundRecord, PoisonRecord
from tests.unit.test_database_outages import as_sqlalchemy_raises_it


@pytest.fixture
async def sessions(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    await upgrade(engine, "enrollment")
    yield session_factory(engine)
    await engine.dispose()


def consumer(sessions, handler=on_inbound_activity) -> EventConsumer[LmsActivity]:  # type: ignore[no-untyped-def]
    return EventConsumer(
        name="enrollment",
        topic=Topic.LMS_INBOUND,
        contract=LmsActivity,
        handler=handler,
        sessions=sessions,
        processed_table=EnrollmentProcessedEvent,
        retry_delay=0,
    )


def event(event_id: str = "e1") -> tuple[LmsActivity, CloudEvent]:
    activity = LmsActivity(
        tenant_id="acme",
        learner_id="l1",
        event_id=event_id,
        kind="enrolled",
        achievement_id="a",
        occurred_at=datetime.now(UTC),
    )
    return activity, CloudEvent(source="lms://test", type=LmsActivity.CE_TYPE)


async def count(sessions, table) -> int:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        return (await session.execute(select(func.count()).select_from(table))).scalar_one()


async def test_redelivery_is_a_no_op(sessions) -> None:  # type: ignore[no-untyped-def]
    activity, ce = event()
    assert await consumer(sessions).process(activity, ce) is Outcome.PROCESSED
    assert await consumer(sessions).process(activity, ce) is Outcome.DUPLICATE
    assert await count(sessions, ReceivedLmsEvent) == 1


async def test_a_failing_handler_becomes_poison_after_bounded_retries(sessions) -> None:  # type: ignore[no-untyped-def]
    calls = 0

    async def broken(session, activity, ce) -> None:  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        raise ValueError("cannot handle this")

    with pytest.raises(PoisonRecord, match="handler failed 3 times: ValueError"):
        await consumer(sessions, broken).process(*event())
    assert calls == 3
    assert await count(sessions, EnrollmentProcessedEvent) == 0  # rolled back with the failed attempt


async def test_infrastructure_errors_propagate_for_redelivery(sessions) -> None:  # type: ignore[no-untyped-def]
    async def database_down(session, activity, ce) -> None:  # type: ignore[no-untyped-def]
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("db down"))

    with pytest.raises(OperationalError):
        await consumer(sessions, database_down).process(*event())
    assert await count(sessions, EnrollmentProcessedEvent) == 0


async def test_records_without_cloudevents_headers_are_poison(sessions) -> None:  # type: ignore[no-untyped-def]
    activity, _ = event()
    record = InboundRecord(
        str(Topic.LMS_INBOUND), "acme:l1", activity.model_dump_json().encode(), {"ce_id": str(uuid.uuid4())}
    )
    with pytest.raises(PoisonRecord, match="ce_source"):
        await consumer(sessions).handle_record(record)


async def test_an_outage_in_the_handler_propagates_at_once_for_redelivery(sessions) -> None:  # type: ignore[no-untyped-def]
    calls = 0

    async def starting_up(session, activity, ce) -> None:  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        raise as_sqlalchemy_raises_it(asyncpg.CannotConnectNowError("the database system is starting up"))

    with pytest.raises(DBAPIError):
        await consumer(sessions, starting_up).process(*event())
    assert calls == 1


async def test_a_record_is_not_blamed_while_the_database_does_not_answer(
    sessions,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A handler error that is not classified as an outage, while `SELECT 1` fails too: redeliver, don't
    dead-letter."""

    async def confused(session, activity, ce) -> None:  # type: ignore[no-untyped-def]
        raise RuntimeError("unexpected driver state")

    async def database_down(_sessions: object) -> bool:
        return False

    monkeypatch.setattr(consumer_module, "database_answers", database_down)
    with pytest.raises(DatabaseUnavailable) as raised:
        await consumer(sessions, confused).process(*event())
    assert not isinstance(raised.value, PoisonRecord)
    assert is_outage(raised.value)


async def test_a_record_is_blamed_when_it_fails_while_the_database_answers(sessions) -> None:  # type: ignore[no-untyped-def]
    async def broken(session, activity, ce) -> None:  # type: ignore[no-untyped-def]
        raise RuntimeError("cannot handle this")

    assert await database_answers(sessions)
    with pytest.raises(PoisonRecord, match="handler failed 3 times"):
        await consumer(sessions, broken).process(*event())

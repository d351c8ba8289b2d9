"""Batch consumption: one transaction per batch, each event once, a bad record isolated by bisection and
dead-lettered alone, outages propagate with nothing half-done."""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from services.enrollment.adapters.tables import EnrollmentProcessedEvent, ReceivedLmsEvent
from services.enrollment.handlers import on_inbound_activity
from shared.contracts import CloudEvent, LmsActivity, Topic
from shared.db.engine import create_engine, session_factory
from shared.db.migrations import upgrade
from shared.messaging.batch import BatchConsumer, BatchHandler, one_by_one
from shared.messaging.records import InboundRecord, event_record


@pytest.fixture
async def sessions(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    await upgrade(engine, "enrollment")
    yield session_factory(engine)
    await engine.dispose()


def consumer(sessions, handler: BatchHandler[LmsActivity] | None = None) -> BatchConsumer[LmsActivity]:  # type: ignore[no-untyped-def]
    return BatchConsumer(
        name="enrollment",
        topic=Topic.LMS_INBOUND,
        contract=LmsActivity,
        handler=handler or one_by_one(on_inbound_activity),
        sessions=sessions,
        processed_table=EnrollmentProcessedEvent,
        retry_delay=0,
    )


def record(event_id: str, offset: int, *, ce_id: str | None = None) -> InboundRecord:
    activity = LmsActivity(
        tenant_id="acme",
        learner_id="l1",
        event_id=event_id,
        kind="enrolled",
        achievement_id="a",
        occurred_at=datetime.now(UTC),
    )
    ce = CloudEvent(id=ce_id or str(uuid.uuid4()), source="lms://test", type=LmsActivity.CE_TYPE)
    out = event_record(activity, ce)
    return InboundRecord(out.topic, out.key, out.value, dict(out.headers), 0, offset)


async def count(sessions, table) -> int:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        return (await session.execute(select(func.count()).select_from(table))).scalar_one()


async def test_each_event_is_handled_once_within_and_across_batches(sessions) -> None:  # type: ignore[no-untyped-def]
    seen: list[list[str]] = []

    async def handler(session, items: Sequence[tuple[LmsActivity, CloudEvent]]) -> None:  # type: ignore[no-untyped-def]
        seen.append([activity.event_id for activity, _ce in items])
        await one_by_one(on_inbound_activity)(session, items)

    records = [record(f"e{i}", i) for i in range(5)]
    again = record("e0", 5, ce_id=records[0].headers["ce_id"])  # a re-published copy in the same poll
    assert await consumer(sessions, handler).handle_records([*records, again]) == []
    assert seen == [["e0", "e1", "e2", "e3", "e4"]]  # one call, in order, the copy left out
    assert await consumer(sessions, handler).handle_records([*records[2:], record("e5", 6)]) == []
    assert seen[1] == ["e5"]  # redelivered events are not handed to the handler again
    assert await count(sessions, ReceivedLmsEvent) == 6


async def test_a_bad_record_is_isolated_and_dead_lettered_alone(sessions) -> None:  # type: ignore[no-untyped-def]
    calls: list[int] = []

    async def handler(session, items) -> None:  # type: ignore[no-untyped-def]
        calls.append(len(items))
        if any(activity.event_id == "e5" for activity, _ce in items):
            raise ValueError("cannot handle e5")
        await one_by_one(on_inbound_activity)(session, items)

    records = [record(f"e{i}", i) for i in range(8)]
    undecodable = InboundRecord(str(Topic.LMS_INBOUND), "acme:l1", b"{not json", dict(records[0].headers), 0, 8)
    dead = await consumer(sessions, handler).handle_records([*records, undecodable])
    assert sorted((d.record.offset, d.reason.split(":")[0]) for d in dead) == [
        (5, "handler failed 3 times"),
        (8, "invalid LmsActivity"),
    ]
    assert await count(sessions, ReceivedLmsEvent) == 7  # every other record committed
    assert await count(sessions, EnrollmentProcessedEvent) == 7  # the bad one is not marked processed
    assert calls[0] == 8 and calls.count(1) >= 3  # the whole batch first, the bad record alone three times


async def test_an_outage_propagates_and_leaves_nothing_half_done(sessions) -> None:  # type: ignore[no-untyped-def]
    async def database_down(session, items) -> None:  # type: ignore[no-untyped-def]
        await one_by_one(on_inbound_activity)(session, items)
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("db down"))

    with pytest.raises(OperationalError):
        await consumer(sessions, database_down).handle_records([record(f"e{i}", i) for i in range(4)])
    assert await count(sessions, ReceivedLmsEvent) == 0
    assert await count(sessions, EnrollmentProcessedEvent) == 0

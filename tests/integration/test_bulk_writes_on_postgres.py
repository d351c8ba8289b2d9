"""shared.db.bulk on PostgreSQL (rows sent as one array per column) and on SQLite (executemany): same rows, same
order, same refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from services.enrollment.adapters.tables import AssessmentAttempt, EnrollmentOutbox, ReceivedLmsEvent
from shared.db.bulk import insert_new, insert_rows
from shared.db.engine import SessionFactory, create_engine, session_factory, transaction
from shared.db.migrations import upgrade

pytestmark = pytest.mark.integration


@pytest.fixture(params=["postgres", "sqlite"])
async def sessions(request: pytest.FixtureRequest, postgres_url: str, sqlite_url: str) -> AsyncIterator[SessionFactory]:
    url = postgres_url if request.param == "postgres" else sqlite_url
    engine = create_engine(url)
    await upgrade(engine, "enrollment")
    yield session_factory(engine)
    await engine.dispose()


async def test_rows_keep_their_order_and_values(sessions: SessionFactory) -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    rows = [
        {"topic": "t", "key": f"k{n}", "value": f"v{n} \u00e9\U0001f600", "headers": "{}", "created_at": at}
        for n in range(1200)
    ]
    async with transaction(sessions) as session:
        await insert_rows(session, EnrollmentOutbox, rows)
        await insert_rows(session, EnrollmentOutbox, [])
    async with sessions() as session:
        stored = (await session.execute(select(EnrollmentOutbox).order_by(EnrollmentOutbox.id))).scalars().all()  # type: ignore[arg-type]
    assert [(r.key, r.value, r.created_at.astimezone(UTC)) for r in stored] == [
        (row["key"], row["value"], at) for row in rows
    ]


async def test_nulls_and_numbers(sessions: SessionFactory) -> None:
    at = datetime(2026, 1, 2, tzinfo=UTC)
    rows = [
        {"tenant_id": "t", "learner_id": "l", "assessment_id": "a", "score": 1.5, "max_score": None,
         "occurred_at": at, "source_event_id": "e1"},
        {"tenant_id": "t", "learner_id": "l", "assessment_id": "a", "score": 0.0, "max_score": 1e9,
         "occurred_at": at, "source_event_id": "e2"},
    ]  # fmt: skip
    async with transaction(sessions) as session:
        await insert_rows(session, AssessmentAttempt, rows)
    async with sessions() as session:
        stored = (await session.execute(select(AssessmentAttempt).order_by(AssessmentAttempt.id))).scalars().all()  # type: ignore[arg-type]
    assert [(r.score, r.max_score) for r in stored] == [(1.5, None), (0.0, 1e9)]


async def test_insert_new_returns_only_new_rows_and_applies_defaults(sessions: SessionFactory) -> None:
    async with transaction(sessions) as session:
        first = await insert_new(
            session, ReceivedLmsEvent, [{"tenant_id": "t", "event_id": "a", "source": "s"}], ReceivedLmsEvent.event_id
        )
    rows = [{"tenant_id": "t", "event_id": e, "source": "s"} for e in ("a", "b", "b", "c")]
    async with transaction(sessions) as session:
        new = await insert_new(session, ReceivedLmsEvent, rows, ReceivedLmsEvent.event_id)
    assert [r.event_id for r in first] == ["a"]
    assert sorted(r.event_id for r in new) == ["b", "c"]
    async with sessions() as session:
        stored = (await session.execute(select(ReceivedLmsEvent))).scalars().all()
    assert len(stored) == 3 and all(r.received_at is not None for r in stored)


async def test_an_over_long_value_is_refused_not_cut(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    await upgrade(engine, "enrollment")
    sessions = session_factory(engine)
    try:
        with pytest.raises(DBAPIError):
            async with transaction(sessions) as session:
                await insert_new(session, ReceivedLmsEvent, [{"tenant_id": "t", "event_id": "e" * 257, "source": "s"}])
    finally:
        await engine.dispose()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40), max_size=30))
def test_any_text_round_trips(postgres_url: str, values: list[str]) -> None:  # the table is emptied per example
    import asyncio

    async def run() -> list[str]:
        engine = create_engine(postgres_url)
        await upgrade(engine, "enrollment")
        sessions = session_factory(engine)
        try:
            rows = [{"topic": "t", "key": "k", "value": v, "headers": "{}"} for v in values]
            async with transaction(sessions) as session:
                await session.execute(EnrollmentOutbox.__table__.delete())  # type: ignore[attr-defined]
                await insert_rows(session, EnrollmentOutbox, rows)
            async with sessions() as session:
                stored = (await session.execute(select(EnrollmentOutbox).order_by(EnrollmentOutbox.id))).scalars()  # type: ignore[arg-type]
                return [r.value for r in stored]
        finally:
            await engine.dispose()

    assert asyncio.run(run()) == values

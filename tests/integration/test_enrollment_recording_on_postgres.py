"""Recording LMS activities on PostgreSQL (one statement: services/enrollment/adapters/recording.py; as its own
transaction for an HTTP request, or inside a consumer's transaction) does what the statement-per-table path does on
SQLite: same statuses, same rows, outbox records in the same order."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from services.enrollment.adapters.tables import AssessmentAttempt, Enrollment, EnrollmentOutbox, ReceivedLmsEvent
from services.enrollment.handlers import Recorded, record_activities, record_request
from shared.contracts import ActivityKind, LmsActivity
from shared.db.engine import SessionFactory, create_engine, session_factory, transaction
from shared.db.migrations import upgrade

pytestmark = pytest.mark.integration

START = datetime(2026, 12, 1, tzinfo=UTC)


@st.composite
def activities(draw: st.DrawFn) -> LmsActivity:
    """Few tenants, learners and event ids, so requests repeat ids within and across themselves."""
    kind = draw(st.sampled_from([ActivityKind.ENROLLED, ActivityKind.SCORED, ActivityKind.SUBMITTED]))
    score = draw(st.none() | st.floats(0, 100)) if kind is not ActivityKind.SCORED else draw(st.floats(0, 100))
    return LmsActivity(
        event_id=f"e{draw(st.integers(0, 12))}",
        tenant_id=draw(st.sampled_from(["acme", "globex"])),
        learner_id=f"l{draw(st.integers(0, 3))}",
        kind=kind,
        achievement_id=f"a{draw(st.integers(0, 1))}" if kind is ActivityKind.ENROLLED else None,
        assessment_id=None if kind is ActivityKind.ENROLLED else "quiz",
        score=None if kind is ActivityKind.ENROLLED else score,
        max_score=draw(st.none() | st.just(100.0)) if kind is not ActivityKind.ENROLLED else None,
        occurred_at=START + timedelta(seconds=draw(st.integers(0, 1000))),
    )


async def _record(sessions: SessionFactory, requests: list[list[LmsActivity]]) -> tuple[list[Any], dict[str, Any]]:
    statuses = []
    for number, request in enumerate(requests):
        source = f"lms-http:{number % 2}"
        if number % 2:  # as the HTTP endpoint records (PostgreSQL: the statement is its own transaction)
            statuses.append(await record_request(sessions, request, source))
        else:  # as the inbound consumer records, inside its batch's transaction
            async with transaction(sessions) as session:
                statuses.append(await record_activities(session, request, source))
    async with sessions() as session:

        async def rows(query: Any) -> list[tuple[Any, ...]]:
            return [tuple(row) for row in (await session.execute(query)).all()]

        r, e, a, o = ReceivedLmsEvent, Enrollment, AssessmentAttempt, EnrollmentOutbox
        tables = {
            "received": sorted(await rows(select(r.tenant_id, r.event_id, r.source))),
            "enrolments": sorted(await rows(select(e.tenant_id, e.learner_id, e.achievement_id, e.enrolled_at))),
            "attempts": await rows(
                select(
                    a.tenant_id, a.learner_id, a.assessment_id, a.score, a.max_score, a.occurred_at, a.source_event_id
                ).order_by(a.id)
            ),
            "outbox": await rows(select(o.topic, o.key, o.value, o.headers).order_by(o.id)),
        }
    return statuses, tables


async def _on(url: str, requests: list[list[LmsActivity]]) -> tuple[list[Any], dict[str, Any]]:
    engine = create_engine(url)
    try:
        await upgrade(engine, "enrollment")
        sessions = session_factory(engine)
        async with transaction(sessions) as session:
            for table in (ReceivedLmsEvent, Enrollment, AssessmentAttempt, EnrollmentOutbox):
                await session.execute(table.__table__.delete())  # type: ignore[attr-defined]
        return await _record(sessions, requests)
    finally:
        await engine.dispose()


def _utc(tables: dict[str, Any]) -> dict[str, Any]:
    """SQLite gives timestamps back naive (they are stored in UTC)."""

    def fix(value: Any) -> Any:
        return value.replace(tzinfo=UTC) if isinstance(value, datetime) and value.tzinfo is None else value

    return {name: [tuple(fix(v) for v in row) for row in rows] for name, rows in tables.items()}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(activities(), min_size=1, max_size=6), min_size=1, max_size=5))
def test_one_statement_records_what_the_steps_record(
    postgres_url: str, tmp_path: Path, requests: list[list[LmsActivity]]
) -> None:
    sqlite_url = f"sqlite+aiosqlite:///{tmp_path / 'steps.db'}"
    on_postgres = asyncio.run(_on(postgres_url, requests))
    on_sqlite = asyncio.run(_on(sqlite_url, requests))
    assert on_postgres[0] == on_sqlite[0]
    assert _utc(on_postgres[1]) == _utc(on_sqlite[1])
    seen: set[tuple[str, str]] = set()
    for request, statuses in zip(requests, on_postgres[0], strict=True):
        for activity, status in zip(request, statuses, strict=True):
            event = (activity.tenant_id, activity.event_id)
            assert (status is Recorded.ACCEPTED) == (event not in seen)
            seen.add(event)

"""Enrollment use cases: record an LMS activity once, update progress, stage the normalised event; map what
other LMS formats sent onto that path, and keep what no mapping covers."""

import dataclasses
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrollment.adapters.connection_store import Connection, rules_of
from services.enrollment.adapters.recording import record_new
from services.enrollment.adapters.tables import (
    AssessmentAttempt,
    Enrollment,
    EnrollmentOutbox,
    ReceivedLmsEvent,
    UnmappedActivity,
)
from services.enrollment.domain import enrollment_record
from services.enrollment.formats import Format, Ignored, Item, Observation
from services.enrollment.mapping import MappingRule, Unmapped, resolve, to_activity
from shared.contracts import ActivityKind, CloudEvent, LmsActivity
from shared.db.bulk import insert_new, insert_rows, is_postgres
from shared.db.engine import SessionFactory, backend_of, statement_commits, transaction
from shared.db.outbox import stage_records
from shared.db.tables import utcnow
from shared.messaging.records import describe_validation_error


class Recorded(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    UNMAPPED = "unmapped"
    IGNORED = "ignored"


class InvalidActivity(ValueError):
    """A parsed item that still does not make a valid activity (e.g. an id too long once mapped)."""

    def __init__(self, pointer: str, detail: str) -> None:
        super().__init__(f"{pointer or '/'}: {detail}")
        self.pointer = pointer or "/"
        self.detail = detail


@dataclasses.dataclass(frozen=True)
class ItemResult:
    """What became of one item of a request or record."""

    pointer: str
    event_id: str | None
    status: Recorded
    kind: str | None = None
    reason: str | None = None
    notes: tuple[str, ...] = ()


async def record_activities(session: AsyncSession, activities: Sequence[LmsActivity], source: str) -> list[Recorded]:
    """Record activities (one request's, one batch's) in the caller's transaction, set-based: a handful of
    statements whatever their number. An LMS event id seen before, or earlier in `activities`, changes nothing.
    """
    first: dict[tuple[str, str], int] = {}
    for position, activity in enumerate(activities):
        first.setdefault((activity.tenant_id, activity.event_id), position)
    if is_postgres(session):
        candidates = [activities[position] for position in first.values()]
        records = [enrollment_record(activity, source) for activity in candidates]
        new_ids = await record_new(session, candidates, records, source, utcnow())
        accepted = sorted(first[event] for event in new_ids)
    else:
        accepted = await _record_in_steps(session, activities, first, source)
    statuses = [Recorded.DUPLICATE] * len(activities)
    for position in accepted:
        statuses[position] = Recorded.ACCEPTED
    return statuses


async def _record_in_steps(
    session: AsyncSession, activities: Sequence[LmsActivity], first: dict[tuple[str, str], int], source: str
) -> list[int]:
    """`record_activities` on SQLite (embedded mode): one statement per table; the positions accepted."""
    received = [{"tenant_id": tenant, "event_id": event_id, "source": source} for tenant, event_id in first]
    # The events table's key decides what is new, also against a concurrent request carrying the same ids.
    new = await insert_new(session, ReceivedLmsEvent, received, ReceivedLmsEvent.tenant_id, ReceivedLmsEvent.event_id)
    accepted = sorted(first[(row.tenant_id, row.event_id)] for row in new)
    recorded = [activities[position] for position in accepted]
    enrolments = [
        {
            "tenant_id": a.tenant_id,
            "learner_id": a.learner_id,
            "achievement_id": a.achievement_id,
            "enrolled_at": a.occurred_at,
        }
        for a in recorded
        if a.kind is ActivityKind.ENROLLED
    ]
    await insert_new(session, Enrollment, enrolments)  # the first enrolment stands
    attempts = [
        {
            "tenant_id": a.tenant_id,
            "learner_id": a.learner_id,
            "assessment_id": a.assessment_id,
            "score": a.score,
            "max_score": a.max_score,
            "occurred_at": a.occurred_at,
            "source_event_id": a.event_id,
        }
        for a in recorded
        if a.kind is not ActivityKind.ENROLLED and a.assessment_id is not None and a.score is not None
    ]
    await insert_rows(session, AssessmentAttempt, attempts)
    await stage_records(session, EnrollmentOutbox, [enrollment_record(activity, source) for activity in recorded])
    return accepted


async def record_request(sessions: SessionFactory, activities: Sequence[LmsActivity], source: str) -> list[Recorded]:
    """`record_activities` for one HTTP request, durable when this returns. On PostgreSQL that is one statement,
    run as its own transaction: a request of one or two activities (an LMS sending a request per learner) is then
    one round trip to the database instead of three (BEGIN, the statement, COMMIT)."""
    if backend_of(sessions) == "postgresql":
        async with statement_commits(sessions) as session:
            return await record_activities(session, activities, source)
    async with transaction(sessions) as session:
        return await record_activities(session, activities, source)


async def record_activity(session: AsyncSession, activity: LmsActivity, source: str) -> Recorded:
    """Record one LMS activity in the caller's transaction; a repeated LMS event id changes nothing."""
    [status] = await record_activities(session, [activity], source)
    return status


async def on_inbound_activity(session: AsyncSession, activity: LmsActivity, ce: CloudEvent) -> None:
    """Consumer of `credstream.lms-inbound.v1`: the LMS published straight to Kafka."""
    await record_activity(session, activity, source=ce.source)


async def enrollments_of(session: AsyncSession, tenant_id: str, learner_id: str) -> list[Enrollment]:
    rows = await session.execute(
        select(Enrollment).where(Enrollment.tenant_id == tenant_id, Enrollment.learner_id == learner_id)
    )
    return list(rows.scalars())


async def ingest(
    session: AsyncSession,
    connection: Connection,
    items: list[Item],
    *,
    source: str | None = None,
    rules: list[MappingRule] | None = None,
) -> list[ItemResult]:
    """Map and record parsed LMS items in the caller's transaction; unmapped ones are kept, not dropped. `rules`:
    the connection's mapping rules when the caller has them (else they are read)."""
    if rules is None:
        rules = await rules_of(session, connection.id)
    results: list[ItemResult | None] = [None] * len(items)
    mapped: list[tuple[int, Observation, LmsActivity]] = []
    unmapped: list[tuple[int, Observation, str]] = []
    for position, item in enumerate(items):
        if isinstance(item, Ignored):
            results[position] = ItemResult(item.pointer, item.event_id, Recorded.IGNORED, reason=item.reason)
            continue
        rule = resolve(item, rules)
        if isinstance(rule, Unmapped):
            unmapped.append((position, item, rule.reason))
            continue
        try:
            activity = to_activity(item, rule, tenant_id=connection.tenant_id, learner_prefix=connection.learner_prefix)
        except ValidationError as error:
            raise InvalidActivity(item.pointer, describe_validation_error(error)) from None
        mapped.append((position, item, activity))
    statuses = await record_activities(session, [activity for _, _, activity in mapped], source or connection.source)
    for (position, item, _), status in zip(mapped, statuses, strict=True):
        results[position] = ItemResult(item.pointer, item.event_id, status, item.kind.value, notes=item.notes)
    if mapped:  # mapped now (a rule was added since): no longer unmapped
        await session.execute(
            delete(UnmappedActivity).where(
                UnmappedActivity.tenant_id == connection.tenant_id,  # type: ignore[arg-type]
                UnmappedActivity.event_id.in_([item.event_id for _, item, _ in mapped]),  # type: ignore[attr-defined]
            )
        )
    for position, item, reason in unmapped:
        status = await _keep_unmapped(session, connection, item, reason)
        results[position] = ItemResult(item.pointer, item.event_id, status, item.kind.value, reason, item.notes)
    return [result for result in results if result is not None]


async def _keep_unmapped(session: AsyncSession, connection: Connection, item: Observation, reason: str) -> Recorded:
    if await session.get(ReceivedLmsEvent, (connection.tenant_id, item.event_id)) is not None:
        return Recorded.DUPLICATE  # mapped and recorded earlier; a rule removed since does not un-record it
    row = await session.get(UnmappedActivity, (connection.tenant_id, item.event_id))
    if row is None:
        session.add(
            UnmappedActivity(
                tenant_id=connection.tenant_id,
                event_id=item.event_id,
                connection_id=connection.id,
                format=item.format.value,
                kind=item.kind.value,
                lms_activity_id=item.activity_id,
                lms_course_id=item.course_id,
                reason=reason[:1000],
                observation=observation_json(item),
            )
        )
    else:
        row.times_seen += 1
        row.reason = reason[:1000]
        row.last_seen_at = datetime.now(UTC)
        session.add(row)
    await session.flush()
    return Recorded.UNMAPPED


def observation_json(item: Observation) -> str:
    fields = dataclasses.asdict(item)
    fields["occurred_at"] = item.occurred_at.isoformat()
    return json.dumps(fields)


def observation_from_json(text: str) -> Observation:
    fields: dict[str, Any] = json.loads(text)
    fields["format"] = Format(fields["format"])
    fields["kind"] = ActivityKind(fields["kind"])
    fields["occurred_at"] = datetime.fromisoformat(fields["occurred_at"])
    fields["related_ids"] = tuple(fields.get("related_ids") or ())
    fields["notes"] = tuple(fields.get("notes") or ())
    return Observation(**fields)


async def unmapped_of(session: AsyncSession, connection_id: str, limit: int = 500) -> list[UnmappedActivity]:
    rows = await session.execute(
        select(UnmappedActivity)
        .where(UnmappedActivity.connection_id == connection_id)
        .order_by(UnmappedActivity.first_seen_at)
        .limit(limit)
    )
    return list(rows.scalars())


async def replay_unmapped(session: AsyncSession, connection: Connection, limit: int = 500) -> list[ItemResult]:
    """Run the kept unmapped activities through the connection's current rules (after an admin added some)."""
    rows = await unmapped_of(session, connection.id, limit)
    items: list[Item] = [observation_from_json(row.observation) for row in rows]
    return await ingest(session, connection, items)

"""Enrollment use cases: record an LMS activity once, update progress, stage the normalised event; map what
other LMS formats sent onto that path, and keep what no mapping covers."""

import dataclasses
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrollment.adapters.connection_store import Connection, rules_of
from services.enrollment.adapters.tables import (
    AssessmentAttempt,
    Enrollment,
    EnrollmentOutbox,
    ReceivedLmsEvent,
    UnmappedActivity,
)
from services.enrollment.domain import enrollment_cloud_event, normalise
from services.enrollment.formats import Format, Ignored, Item, Observation
from services.enrollment.mapping import MappingRule, Unmapped, resolve, to_activity
from shared.contracts import ActivityKind, CloudEvent, LmsActivity
from shared.db.outbox import stage_event
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


async def record_activity(session: AsyncSession, activity: LmsActivity, source: str) -> Recorded:
    """Record one LMS activity in the caller's transaction; a repeated LMS event id changes nothing."""
    seen = await session.get(ReceivedLmsEvent, (activity.tenant_id, activity.event_id))
    if seen is not None:
        return Recorded.DUPLICATE
    session.add(ReceivedLmsEvent(tenant_id=activity.tenant_id, event_id=activity.event_id, source=source))
    if activity.kind is ActivityKind.ENROLLED:
        assert activity.achievement_id is not None  # guaranteed by the contract
        key = (activity.tenant_id, activity.learner_id, activity.achievement_id)
        if await session.get(Enrollment, key) is None:
            session.add(
                Enrollment(
                    tenant_id=activity.tenant_id,
                    learner_id=activity.learner_id,
                    achievement_id=activity.achievement_id,
                    enrolled_at=activity.occurred_at,
                )
            )
    elif activity.assessment_id is not None and activity.score is not None:
        session.add(
            AssessmentAttempt(
                tenant_id=activity.tenant_id,
                learner_id=activity.learner_id,
                assessment_id=activity.assessment_id,
                score=activity.score,
                max_score=activity.max_score,
                occurred_at=activity.occurred_at,
                source_event_id=activity.event_id,
            )
        )
    event = normalise(activity, source)
    stage_event(session, EnrollmentOutbox, event, enrollment_cloud_event(event))
    await session.flush()
    return Recorded.ACCEPTED


async def on_inbound_activity(session: AsyncSession, activity: LmsActivity, ce: CloudEvent) -> None:
    """Consumer of `credstream.lms-inbound.v1`: the LMS published straight to Kafka."""
    await record_activity(session, activity, source=ce.source)


async def enrollments_of(session: AsyncSession, tenant_id: str, learner_id: str) -> list[Enrollment]:
    rows = await session.execute(
        select(Enrollment).where(Enrollment.tenant_id == tenant_id, Enrollment.learner_id == learner_id)
    )
    return list(rows.scalars())


async def ingest(
    session: AsyncSession, connection: Connection, items: list[Item], *, source: str | None = None
) -> list[ItemResult]:
    """Map and record parsed LMS items in the caller's transaction; unmapped ones are kept, not dropped."""
    rules = await rules_of(session, connection.id)
    return [await _ingest_one(session, connection, rules, item, source or connection.source) for item in items]


async def _ingest_one(
    session: AsyncSession, connection: Connection, rules: list[MappingRule], item: Item, source: str
) -> ItemResult:
    if isinstance(item, Ignored):
        return ItemResult(item.pointer, item.event_id, Recorded.IGNORED, reason=item.reason)
    mapped = resolve(item, rules)
    if isinstance(mapped, Unmapped):
        status = await _keep_unmapped(session, connection, item, mapped.reason)
        return ItemResult(item.pointer, item.event_id, status, item.kind.value, mapped.reason, item.notes)
    try:
        activity = to_activity(item, mapped, tenant_id=connection.tenant_id, learner_prefix=connection.learner_prefix)
    except ValidationError as error:
        raise InvalidActivity(item.pointer, describe_validation_error(error)) from None
    status = await record_activity(session, activity, source)
    unmapped = await session.get(UnmappedActivity, (connection.tenant_id, item.event_id))
    if unmapped is not None:
        await session.delete(unmapped)
    return ItemResult(item.pointer, item.event_id, status, item.kind.value, notes=item.notes)


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

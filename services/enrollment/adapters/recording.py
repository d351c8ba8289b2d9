"""Recording activities on PostgreSQL in one statement: the event ids claimed, then, for the new ones only, the
enrolments, the attempts and the outbox rows — data-modifying CTEs over one set of arrays.

At one or two activities per request (an LMS sending a webhook per learner) the round trips were the cost, not the
rows: four INSERTs awaited in turn, each a send, a wake-up of the server and a reply. One statement does the same
writes in the same transaction with the same conflict rules (`ON CONFLICT DO NOTHING`), in the activities' order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrollment.adapters.tables import AssessmentAttempt, Enrollment, EnrollmentOutbox, ReceivedLmsEvent
from shared.contracts import ActivityKind, LmsActivity
from shared.db.outbox import outbox_row
from shared.messaging.records import OutboundRecord

# Each activity is one row of `batch` (unnest keeps the arrays' order; `position` restores it after the joins).
_RECORD = text(
    f"""
WITH batch AS (
    SELECT * FROM unnest(
        CAST(:tenant_id AS text[]), CAST(:event_id AS text[]), CAST(:learner_id AS text[]),
        CAST(:achievement_id AS text[]), CAST(:assessment_id AS text[]), CAST(:score AS float8[]),
        CAST(:max_score AS float8[]), CAST(:occurred_at AS timestamptz[]), CAST(:enrols AS boolean[]),
        CAST(:attempts AS boolean[]), CAST(:topic AS text[]), CAST(:key AS text[]), CAST(:value AS text[]),
        CAST(:headers AS text[])
    ) WITH ORDINALITY AS b(tenant_id, event_id, learner_id, achievement_id, assessment_id, score, max_score,
                           occurred_at, enrols, attempts, topic, key, value, headers, position)
), received AS (
    INSERT INTO {ReceivedLmsEvent.__tablename__} (tenant_id, event_id, source, received_at)
    SELECT tenant_id, event_id, :source, :now FROM batch ORDER BY position
    ON CONFLICT DO NOTHING
    RETURNING tenant_id, event_id
), new AS (
    SELECT batch.* FROM batch JOIN received USING (tenant_id, event_id)
), enrolled AS (
    INSERT INTO {Enrollment.__tablename__} (tenant_id, learner_id, achievement_id, enrolled_at)
    SELECT tenant_id, learner_id, achievement_id, occurred_at FROM new WHERE enrols ORDER BY position
    ON CONFLICT DO NOTHING
), attempted AS (
    INSERT INTO {AssessmentAttempt.__tablename__}
        (tenant_id, learner_id, assessment_id, score, max_score, occurred_at, source_event_id)
    SELECT tenant_id, learner_id, assessment_id, score, max_score, occurred_at, event_id
    FROM new WHERE attempts ORDER BY position
), staged AS (
    INSERT INTO {EnrollmentOutbox.__tablename__} (topic, key, value, headers, created_at)
    SELECT topic, key, value, headers, :now FROM new ORDER BY position
)
SELECT tenant_id, event_id FROM received
"""
)


async def record_new(
    session: AsyncSession,
    activities: Sequence[LmsActivity],
    records: Sequence[OutboundRecord],
    source: str,
    now: datetime,
) -> set[tuple[str, str]]:
    """Record `activities` (distinct event ids) whose event id is new, each with its outbox record
    (`records[i]` announces `activities[i]`); returns the (tenant, event id) pairs that were new."""
    if not activities:
        return set()
    rows = [outbox_row(record) for record in records]
    parameters = {
        "tenant_id": [a.tenant_id for a in activities],
        "event_id": [a.event_id for a in activities],
        "learner_id": [a.learner_id for a in activities],
        "achievement_id": [a.achievement_id for a in activities],
        "assessment_id": [a.assessment_id for a in activities],
        "score": [a.score for a in activities],
        "max_score": [a.max_score for a in activities],
        "occurred_at": [a.occurred_at for a in activities],
        "enrols": [a.kind is ActivityKind.ENROLLED for a in activities],
        "attempts": [
            a.kind is not ActivityKind.ENROLLED and a.assessment_id is not None and a.score is not None
            for a in activities
        ],
        **{column: [row[column] for row in rows] for column in ("topic", "key", "value", "headers")},
        "source": source,
        "now": now,
    }
    return {(tenant, event_id) for tenant, event_id in await session.execute(_RECORD, parameters)}

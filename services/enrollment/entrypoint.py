"""Enrollment service: LMS activities in over HTTP (per-LMS API key) and Kafka; normalised events out."""

from typing import Annotated

from fastapi import Body, Depends, Request
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError

from services.enrollment.adapters.tables import EnrollmentOutbox, EnrollmentProcessedEvent
from services.enrollment.handlers import Recorded, on_inbound_activity, record_activity
from services.runtime import ServiceParts, Wiring
from shared.contracts import LmsActivity, Topic
from shared.db.engine import transaction
from shared.db.outbox import OutboxRelay
from shared.http import ProblemError, bearer_token, create_app
from shared.messaging.consumer import EventConsumer

NAME = "enrollment"
MAX_BATCH = 500


class ActivityReceipt(BaseModel):
    event_id: str
    status: Recorded


class Receipt(BaseModel):
    accepted: int
    duplicates: int
    results: list[ActivityReceipt]


def build(wiring: Wiring) -> ServiceParts:
    settings, sessions = wiring.settings, wiring.sessions
    relay = OutboxRelay(sessions, EnrollmentOutbox, wiring.publisher)
    app = create_app("credstream enrollment", max_body_bytes=settings.max_body_bytes, readiness=wiring.readiness)
    api_keys = settings.lms_keys()

    async def lms_tenant(request: Request) -> str:
        """The tenant whose LMS connection owns the presented API key."""
        token = bearer_token(request)
        tenant = api_keys.get(token) if token else None
        if tenant is None:
            raise ProblemError(401, "Unauthorized", "Send the LMS connection's API key as a bearer token.")
        return tenant

    @app.post("/v1/activities", status_code=202, response_model=Receipt, tags=["lms"])
    async def post_activities(
        payload: Annotated[LmsActivity | list[LmsActivity], Body()],
        tenant: Annotated[str, Depends(lms_tenant)],
    ) -> Receipt:
        """Accept one LMS activity or a batch. 202 means stored durably; it will reach the pipeline."""
        activities = payload if isinstance(payload, list) else [payload]
        if len(activities) > MAX_BATCH:
            raise ProblemError(413, "Batch too large", f"Send at most {MAX_BATCH} activities per request.")
        foreign = sorted({a.tenant_id for a in activities} - {tenant})
        if foreign:
            raise ProblemError(403, "Wrong tenant", f"This API key may not post for tenant(s) {', '.join(foreign)}.")
        results = await _record_all(activities, source=f"lms-http:{tenant}")
        relay.wake()
        accepted = sum(r.status is Recorded.ACCEPTED for r in results)
        return Receipt(accepted=accepted, duplicates=len(results) - accepted, results=results)

    async def _record_all(activities: list[LmsActivity], source: str) -> list[ActivityReceipt]:
        for _attempt in range(3):
            try:
                async with transaction(sessions) as session:
                    return [
                        ActivityReceipt(event_id=a.event_id, status=await record_activity(session, a, source))
                        for a in activities
                    ]
            except IntegrityError:
                continue  # a concurrent request stored the same event id first: retry sees it as a duplicate
        raise ProblemError(409, "Conflict", "The same events are being stored concurrently; retry.")

    inbound = EventConsumer(
        name=NAME,
        topic=Topic.LMS_INBOUND,
        contract=LmsActivity,
        handler=on_inbound_activity,
        sessions=sessions,
        processed_table=EnrollmentProcessedEvent,
        after_commit=relay.wake,
    )
    return ServiceParts(name=NAME, http=app, consumers=[inbound], relay=relay)

"""Enrollment service: LMS activity in over HTTP (native, xAPI, Caliper, Canvas, LTI AGS; per-connection auth,
mapping and rate limits) and from Kafka (any of those formats); normalised, de-duplicated events out."""

from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.exc import IntegrityError

from services.enrollment.adapters.connection_store import sync_environment_keys
from services.enrollment.adapters.secrets import SecretBox
from services.enrollment.adapters.tables import EnrollmentOutbox, EnrollmentProcessedEvent
from services.enrollment.admin_http import install_admin_routes
from services.enrollment.connections import RateLimiter
from services.enrollment.formats import Format
from services.enrollment.handlers import ItemResult, record_request
from services.enrollment.inbound import decode_inbound, on_inbound_batch
from services.enrollment.lms_http import ActivityReceipt, LmsGate, Receipt, decode_json, install_lms_routes, receipt
from services.runtime import ServiceParts, Wiring
from shared import metrics
from shared.contracts import LmsActivity, Topic
from shared.db.engine import transaction
from shared.db.outbox import OutboxRelay
from shared.http import ProblemError, create_app
from shared.messaging.batch import BatchConsumer

NAME = "enrollment"
MAX_BATCH = 500
_ACTIVITIES: TypeAdapter[LmsActivity | list[LmsActivity]] = TypeAdapter(LmsActivity | list[LmsActivity])
_ACTIVITIES_SCHEMA = _ACTIVITIES.json_schema(ref_template="#/components/schemas/{model}")
_ACTIVITIES_DEFS = _ACTIVITIES_SCHEMA.pop("$defs", {})

__all__ = ["ActivityReceipt", "Receipt", "build"]


def build(wiring: Wiring) -> ServiceParts:
    settings, sessions = wiring.settings, wiring.sessions
    relay = OutboxRelay(sessions, EnrollmentOutbox, wiring.publisher, linger=wiring.settings.outbox_linger_ms / 1000)
    app = create_app("credstream enrollment", max_body_bytes=settings.max_body_bytes, readiness=wiring.readiness)
    box = SecretBox(settings.key_encryption_key.get_secret_value())
    gate = LmsGate(sessions, box, RateLimiter())

    @app.post(
        "/v1/activities",
        status_code=202,
        response_model=Receipt,
        tags=["lms"],
        openapi_extra={
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ACTIVITIES_SCHEMA}}}
        },
    )
    async def post_activities(request: Request) -> Response:
        """Accept one native LMS activity or a batch. 202 means stored durably; it will reach the pipeline."""
        # Credentials first (401 before anything about the body), then strict JSON (400), then the contract (422).
        body = await request.body()
        connection, _ = await gate.admit(request, body, Format.NATIVE)
        try:
            payload = _ACTIVITIES.validate_python(decode_json(body))
        except ValidationError as error:
            metrics.lms_refused(Format.NATIVE, 422)
            raise RequestValidationError(error.errors(include_url=False)) from None
        activities = payload if isinstance(payload, list) else [payload]
        if len(activities) > MAX_BATCH:
            raise ProblemError(413, "Batch too large", f"Send at most {MAX_BATCH} activities per request.")
        foreign = sorted({a.tenant_id for a in activities} - {connection.tenant_id})
        if foreign:
            raise ProblemError(403, "Wrong tenant", f"This API key may not post for tenant(s) {', '.join(foreign)}.")
        results = await _record_all(activities, source=f"lms-http:{connection.tenant_id}")
        relay.wake()
        metrics.lms_items(Format.NATIVE, (result.status for result in results))
        return receipt(results)

    async def _record_all(activities: list[LmsActivity], source: str) -> list[ItemResult]:
        for _attempt in range(3):
            try:
                statuses = await record_request(sessions, activities, source)
                return [
                    ItemResult(f"/{i}", a.event_id, status, a.kind.value)
                    for i, (a, status) in enumerate(zip(activities, statuses, strict=True))
                ]
            except IntegrityError:
                continue  # a concurrent request stored the same event id first: retry sees it as a duplicate
        raise ProblemError(409, "Conflict", "The same events are being stored concurrently; retry.")

    generate_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        """The generated document plus the schemas the native body refers to (it is validated in the route)."""
        if app.openapi_schema is None:
            generate_openapi().setdefault("components", {}).setdefault("schemas", {}).update(_ACTIVITIES_DEFS)
        return app.openapi_schema or generate_openapi()

    app.openapi = openapi  # type: ignore[method-assign]

    install_lms_routes(app, gate, sessions, relay.wake)
    install_admin_routes(app, settings, sessions, box, relay.wake, connections_changed=gate.forget)

    async def sync_keys() -> None:
        """CREDSTREAM_LMS_API_KEYS become connections of kind `any` (bootstrap/dev keys keep working)."""
        for _attempt in range(3):
            try:
                async with transaction(sessions) as session:
                    await sync_environment_keys(
                        session,
                        settings.lms_keys(),
                        rate_per_second=settings.lms_rate_per_second,
                        burst=settings.lms_rate_burst,
                    )
                return
            except IntegrityError:
                continue  # another replica synchronised the same keys at the same moment

    inbound = BatchConsumer(
        name=NAME,
        topic=Topic.LMS_INBOUND,
        contract=LmsActivity,
        handler=on_inbound_batch,  # type: ignore[arg-type]
        sessions=sessions,
        processed_table=EnrollmentProcessedEvent,
        after_commit=relay.wake,
        decoder=decode_inbound,  # type: ignore[arg-type]
    )
    return ServiceParts(name=NAME, http=app, consumers=[inbound], relay=relay, on_start=[sync_keys])

"""Webhooks service: per-tenant subscriptions (admin API), consumers of badge-issued / badge-revoked that stage
deliveries, and the delivery loop that signs (Standard Webhooks) and sends them with retries."""

import asyncio
import re
import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from services.runtime import ServiceParts, Wiring
from services.webhooks import handlers
from services.webhooks.adapters import subscriptions
from services.webhooks.adapters.subscriptions import SecretBox, SubscriptionNotFound
from services.webhooks.adapters.tables import Attempt, Delivery, Subscription, WebhooksProcessedEvent
from services.webhooks.config import WebhookSettings
from services.webhooks.delivery import DeliveryLoop, replay
from services.webhooks.domain import DeliveryStatus, EventType, InvalidSecret, message_id
from shared.contracts import BadgeIssued, BadgeRevoked, Topic
from shared.credentials.fetch import FetchError, HttpDocumentFetcher
from shared.db.engine import transaction
from shared.http import ProblemError, create_app, require_admin
from shared.messaging.batch import BatchConsumer

NAME = "webhooks"
_TENANT = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class NewSubscription(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2048, description="https endpoint (public address) that receives the events")
    events: list[EventType] = Field(min_length=1, description="badge.issued and/or badge.revoked")
    secret: str | None = Field(default=None, description="whsec_<base64>; generated when absent (recommended)")


class Rotation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap_seconds: int | None = Field(default=None, ge=0, le=30 * 86400, description="old secret stays in force")
    secret: str | None = None


def build(wiring: Wiring) -> ServiceParts:
    settings, sessions = wiring.settings, wiring.sessions
    config = WebhookSettings()
    box = SecretBox(settings.key_encryption_key.get_secret_value())
    # The verifier fetcher's policy: https only, public addresses only, except CREDSTREAM_INSECURE_HTTP_HOSTS.
    url_policy = HttpDocumentFetcher(insecure_hosts=settings.insecure_hosts())
    loop = DeliveryLoop(
        sessions,
        box,
        config.retry_policy(),
        url_policy,
        timeout=config.timeout_seconds,
        batch_size=config.batch_size,
        poll_seconds=config.poll_seconds,
    )
    app = create_app("credstream webhooks", max_body_bytes=settings.max_body_bytes, readiness=wiring.readiness)
    admin = Depends(require_admin(settings.admin_token.get_secret_value()))

    def tenant(value: str) -> str:
        if not _TENANT.match(value):
            raise ProblemError(404, "Not Found", f"No tenant {value!r}.")
        return value

    async def endpoint_allowed(url: str) -> None:
        try:
            await url_policy.check_url(url)
        except FetchError as refused:
            raise ProblemError(422, "Endpoint refused", str(refused)) from refused

    async def found(session: Any, tenant_id: str, subscription_id: uuid.UUID) -> Subscription:
        try:
            return await subscriptions.find(session, tenant(tenant_id), subscription_id)
        except SubscriptionNotFound as missing:
            raise ProblemError(404, "Not Found", str(missing)) from missing

    @app.post("/v1/tenants/{tenant_id}/webhooks", tags=["admin"], status_code=201)
    async def subscribe(tenant_id: str, body: NewSubscription, _admin: Annotated[None, admin]) -> dict[str, Any]:
        """Subscribe an endpoint; the answer holds its signing secret, shown this once."""
        await endpoint_allowed(body.url)
        try:
            async with transaction(sessions) as session:
                row, secret = await subscriptions.create(
                    session, box, tenant(tenant_id), body.url, body.events, body.secret
                )
        except InvalidSecret as invalid:
            raise ProblemError(422, "Invalid secret", str(invalid)) from invalid
        return {**_view(row), "secret": secret}

    @app.get("/v1/tenants/{tenant_id}/webhooks", tags=["admin"])
    async def list_subscriptions(tenant_id: str, _admin: Annotated[None, admin]) -> dict[str, Any]:
        async with sessions() as session:
            return {"subscriptions": [_view(row) for row in await subscriptions.listing(session, tenant(tenant_id))]}

    @app.get("/v1/tenants/{tenant_id}/webhooks/{subscription_id}", tags=["admin"])
    async def get_subscription(tenant_id: str, subscription_id: uuid.UUID, _admin: Annotated[None, admin]) -> dict:
        async with sessions() as session:
            return _view(await found(session, tenant_id, subscription_id))

    @app.delete("/v1/tenants/{tenant_id}/webhooks/{subscription_id}", tags=["admin"], status_code=204)
    async def unsubscribe(tenant_id: str, subscription_id: uuid.UUID, _admin: Annotated[None, admin]) -> None:
        """Stop the subscription; its pending deliveries are dead-lettered."""
        async with transaction(sessions) as session:
            await subscriptions.deactivate(session, await found(session, tenant_id, subscription_id))

    @app.post("/v1/tenants/{tenant_id}/webhooks/{subscription_id}/secret/rotate", tags=["admin"])
    async def rotate_secret(
        tenant_id: str, subscription_id: uuid.UUID, body: Rotation, _admin: Annotated[None, admin]
    ) -> dict[str, Any]:
        """A new secret (shown this once); the old one keeps signing alongside it until `previous_secret_until`."""
        overlap = timedelta(
            seconds=config.rotation_overlap_seconds if body.overlap_seconds is None else body.overlap_seconds
        )
        try:
            async with transaction(sessions) as session:
                row = await subscriptions.find(session, tenant(tenant_id), subscription_id, lock=True)
                secret, until = await subscriptions.rotate(session, box, row, overlap, body.secret)
        except SubscriptionNotFound as missing:
            raise ProblemError(404, "Not Found", str(missing)) from missing
        except InvalidSecret as invalid:
            raise ProblemError(422, "Invalid secret", str(invalid)) from invalid
        return {"secret": secret, "previous_secret_until": until.isoformat()}

    @app.get("/v1/tenants/{tenant_id}/webhooks/{subscription_id}/attempts", tags=["admin"])
    async def attempts(
        tenant_id: str,
        subscription_id: uuid.UUID,
        _admin: Annotated[None, admin],
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> dict[str, Any]:
        """The delivery log: the last `limit` attempts, newest first."""
        async with sessions() as session:
            await found(session, tenant_id, subscription_id)
            rows = await session.execute(
                select(Attempt)
                .where(Attempt.subscription_id == subscription_id)  # type: ignore[arg-type]
                .order_by(Attempt.id.desc())  # type: ignore[union-attr]
                .limit(limit)
            )
            return {"attempts": [_attempt(row) for row in rows.scalars()]}

    @app.get("/v1/tenants/{tenant_id}/webhooks/{subscription_id}/deliveries", tags=["admin"])
    async def deliveries(
        tenant_id: str,
        subscription_id: uuid.UUID,
        _admin: Annotated[None, admin],
        status: DeliveryStatus | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> dict[str, Any]:
        """Deliveries, newest first; `?status=dead` lists the dead letters."""
        async with sessions() as session:
            await found(session, tenant_id, subscription_id)
            query = select(Delivery).where(Delivery.subscription_id == subscription_id)  # type: ignore[arg-type]
            if status is not None:
                query = query.where(Delivery.status == status)  # type: ignore[arg-type]
            rows = await session.execute(query.order_by(Delivery.created_at.desc()).limit(limit))  # type: ignore[attr-defined]
            return {"deliveries": [_delivery(row) for row in rows.scalars()]}

    @app.post("/v1/tenants/{tenant_id}/webhooks/{subscription_id}/deliveries/replay", tags=["admin"])
    async def replay_all(tenant_id: str, subscription_id: uuid.UUID, _admin: Annotated[None, admin]) -> dict:
        """Send every dead-lettered delivery of the subscription again (a fresh set of attempts)."""
        async with sessions() as session:
            await found(session, tenant_id, subscription_id)
        return {"replayed": await replay(sessions, subscription_id, None)}

    @app.post("/v1/tenants/{tenant_id}/webhooks/{subscription_id}/deliveries/{delivery_id}/replay", tags=["admin"])
    async def replay_one(
        tenant_id: str, subscription_id: uuid.UUID, delivery_id: uuid.UUID, _admin: Annotated[None, admin]
    ) -> dict[str, Any]:
        async with sessions() as session:
            await found(session, tenant_id, subscription_id)
        replayed = await replay(sessions, subscription_id, delivery_id)
        if not replayed:
            raise ProblemError(
                409, "Not dead-lettered", f"delivery {delivery_id} is not a dead letter of this subscription"
            )
        return {"replayed": replayed}

    consumers = [
        BatchConsumer(
            name=NAME,
            topic=Topic.BADGE_ISSUED,
            contract=BadgeIssued,
            handler=handlers.on_badges_issued,
            sessions=sessions,
            processed_table=WebhooksProcessedEvent,
        ),
        BatchConsumer(
            name=f"{NAME}-revocations",
            topic=Topic.BADGE_REVOKED,
            contract=BadgeRevoked,
            handler=handlers.on_badges_revoked,
            sessions=sessions,
            processed_table=WebhooksProcessedEvent,
        ),
    ]
    stop = asyncio.Event()
    running: list[asyncio.Task[None]] = []

    async def start_delivering() -> None:
        stop.clear()
        running.append(asyncio.create_task(loop.run(stop)))

    async def stop_delivering() -> None:
        stop.set()
        if running:
            await asyncio.wait(running)  # an attempt in flight ends within the endpoint timeout
            running.clear()

    return ServiceParts(
        name=NAME, http=app, consumers=consumers, on_start=[start_delivering], on_stop=[stop_delivering]
    )


def _view(row: Subscription) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "tenant_id": row.tenant_id,
        "url": row.url,
        "events": row.events.split(","),
        "created_at": row.created_at.isoformat(),
        "previous_secret_until": row.previous_secret_until.isoformat() if row.previous_secret_until else None,
    }


def _attempt(row: Attempt) -> dict[str, Any]:
    return {
        "delivery_id": str(row.delivery_id),
        "attempted_at": row.attempted_at.isoformat(),
        "status_code": row.status_code,
        "duration_ms": row.duration_ms,
        "outcome": row.outcome,
        "error": row.error,
    }


def _delivery(row: Delivery) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "webhook_id": message_id(row.id),
        "event_type": row.event_type,
        "event_key": row.event_key,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at.isoformat(),
        "created_at": row.created_at.isoformat(),
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
        "last_error": row.last_error,
    }

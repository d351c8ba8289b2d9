"""The badge topics' consumers: stage one delivery per (event, subscription) in the batch's transaction. They never
send anything (the delivery loop does), so a slow endpoint never holds up a partition."""

import json
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.webhooks.adapters.tables import Delivery, Subscription
from services.webhooks.domain import EventType, payload
from shared.contracts import BadgeIssued, BadgeRevoked, CloudEvent
from shared.db.bulk import insert_new
from shared.db.tables import utcnow


async def on_badges_issued(session: AsyncSession, items: Sequence[tuple[BadgeIssued, CloudEvent]]) -> None:
    await _stage(
        session,
        EventType.BADGE_ISSUED,
        [
            (
                event.tenant_id,
                event.credential_id,
                payload(
                    EventType.BADGE_ISSUED,
                    event.tenant_id,
                    event.issued_at,
                    {
                        "credential_id": event.credential_id,
                        "award_id": str(event.award_id),
                        "achievement_id": event.achievement_id,
                        "issuer_id": event.issuer_id,
                        "issued_at": event.issued_at.isoformat(),
                        "credential": event.credential,
                        # A wallet's holder-bound copy of the award's credential (badge-issued 1.1), not a new award.
                        **(
                            {"award_credential_id": event.award_credential_id, "holder": event.holder}
                            if event.is_wallet_copy
                            else {}
                        ),
                    },
                ),
            )
            for event, _ce in items
        ],
    )


async def on_badges_revoked(session: AsyncSession, items: Sequence[tuple[BadgeRevoked, CloudEvent]]) -> None:
    await _stage(
        session,
        EventType.BADGE_REVOKED,
        [
            (
                event.tenant_id,
                event.credential_id,
                payload(
                    EventType.BADGE_REVOKED,
                    event.tenant_id,
                    event.revoked_at,
                    {
                        "credential_id": event.credential_id,
                        "award_id": str(event.award_id),
                        "achievement_id": event.achievement_id,
                        "issuer_id": event.issuer_id,
                        "revoked_at": event.revoked_at.isoformat(),
                        "reason": event.reason,
                        "status_list_credential": event.status_list_credential,
                        "status_list_index": event.status_list_index,
                    },
                ),
            )
            for event, _ce in items
        ],
    )


async def _stage(
    session: AsyncSession, event_type: EventType, events: Sequence[tuple[str, str, dict[str, Any]]]
) -> None:
    """One multi-row INSERT … ON CONFLICT DO NOTHING: the unique (subscription, event key) makes a redelivered or
    re-announced badge (same type, same credential) a no-op. Subscriptions are those active when the event is
    consumed; one query for the batch's tenants."""
    tenants = {tenant for tenant, _c, _p in events}
    found = await session.execute(
        select(Subscription.id, Subscription.tenant_id, Subscription.events).where(
            Subscription.tenant_id.in_(tenants),  # type: ignore[attr-defined]
            Subscription.active == True,  # noqa: E712 - SQL expression
        )
    )
    subscribers: dict[str, list[Any]] = {}
    for subscription_id, tenant, wanted in found.all():
        if str(event_type) in wanted.split(","):
            subscribers.setdefault(tenant, []).append(subscription_id)
    if not subscribers:
        return
    now = utcnow()
    rows: dict[tuple[Any, str], dict[str, Any]] = {}
    for tenant, credential_id, body in events:
        key = f"{event_type}:{credential_id}"
        for subscription_id in subscribers.get(tenant, ()):
            rows.setdefault(
                (subscription_id, key),
                {
                    "id": uuid.uuid4(),
                    "subscription_id": subscription_id,
                    "tenant_id": tenant,
                    "event_type": str(event_type),
                    "event_key": key,
                    "body": json.dumps(body, separators=(",", ":"), ensure_ascii=False),
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                },
            )
    # In key order: two replicas staging the same events mid-rebalance wait for each other, never deadlock.
    await insert_new(session, Delivery, [rows[key] for key in sorted(rows, key=lambda k: (str(k[0]), k[1]))])

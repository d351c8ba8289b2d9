"""Subscriptions and their secrets at rest: sealed with AES-256-GCM under the configured key-encryption key (the
KeyEncryption (shared.sealing), with its own HKDF purpose), the tenant and subscription bound in as associated data."""

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.webhooks.adapters.tables import Delivery, Subscription
from services.webhooks.domain import DeliveryStatus, EventType, new_secret, parse_secret
from shared.db.tables import utcnow
from shared.sealing import KeyEncryption


class SubscriptionNotFound(LookupError):
    pass


class SecretBox:
    """Seals and opens webhook secrets (the `whsec_…` text)."""

    def __init__(self, key_encryption_secret: str) -> None:
        self._encryption = KeyEncryption(key_encryption_secret, purpose=b"webhooks")

    def seal(self, secret: str, tenant_id: str, subscription_id: uuid.UUID) -> bytes:
        return self._encryption.seal(secret.encode(), tenant_id, f"webhook:{subscription_id}")

    def open(self, sealed: bytes, tenant_id: str, subscription_id: uuid.UUID) -> bytes:
        """The key bytes to sign with."""
        return parse_secret(self._encryption.open(sealed, tenant_id, f"webhook:{subscription_id}").decode())

    def keys_in_force(self, row: Subscription, now: datetime) -> list[bytes]:
        """The current secret's key, then the previous one while its overlap lasts."""
        keys = [self.open(row.sealed_secret, row.tenant_id, row.id)]
        if row.previous_sealed_secret is not None and row.previous_secret_until and row.previous_secret_until > now:
            keys.append(self.open(row.previous_sealed_secret, row.tenant_id, row.id))
        return keys


async def create(
    session: AsyncSession, box: SecretBox, tenant_id: str, url: str, events: list[EventType], secret: str | None
) -> tuple[Subscription, str]:
    """A new subscription and its secret (given, or generated); the secret is returned once, then only sealed."""
    secret = secret or new_secret()
    parse_secret(secret)
    row = Subscription(tenant_id=tenant_id, url=url, events=",".join(sorted(events)), sealed_secret=b"")
    row.sealed_secret = box.seal(secret, tenant_id, row.id)
    session.add(row)
    await session.flush()
    return row, secret


async def find(
    session: AsyncSession, tenant_id: str, subscription_id: uuid.UUID, *, lock: bool = False
) -> Subscription:
    row = await session.get(Subscription, subscription_id, with_for_update=lock)
    if row is None or row.tenant_id != tenant_id or not row.active:
        raise SubscriptionNotFound(f"tenant {tenant_id!r} has no webhook subscription {subscription_id}")
    return row


async def listing(session: AsyncSession, tenant_id: str) -> list[Subscription]:
    rows = await session.execute(
        select(Subscription)
        .where(Subscription.tenant_id == tenant_id, Subscription.active == True)  # noqa: E712 - SQL expression
        .order_by(Subscription.created_at)  # type: ignore[arg-type]
    )
    return list(rows.scalars())


async def rotate(
    session: AsyncSession, box: SecretBox, row: Subscription, overlap: timedelta, secret: str | None
) -> tuple[str, datetime]:
    """A new secret (returned once); the current one stays in force, signing alongside, for `overlap`."""
    secret = secret or new_secret()
    parse_secret(secret)
    until = utcnow() + overlap
    row.previous_sealed_secret, row.previous_secret_until = row.sealed_secret, until
    row.sealed_secret = box.seal(secret, row.tenant_id, row.id)
    session.add(row)
    await session.flush()
    return secret, until


async def deactivate(session: AsyncSession, row: Subscription) -> None:
    """Stop the subscription; what it still had pending is dead-lettered (kept in its log, not sent)."""
    row.active = False
    session.add(row)
    await session.execute(
        update(Delivery)
        .where(Delivery.subscription_id == row.id, Delivery.status == DeliveryStatus.PENDING)  # type: ignore[arg-type]
        .values(status=DeliveryStatus.DEAD, finished_at=utcnow(), last_error="subscription deleted")
    )

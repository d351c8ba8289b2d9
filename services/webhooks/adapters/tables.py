"""The webhooks service's tables: subscriptions (secrets sealed), deliveries (the retry state) and attempts."""

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from shared.db.tables import ProcessedEvent, utcnow


class Subscription(SQLModel, table=True):
    """A tenant's endpoint. The secret is sealed (AES-256-GCM under the key-encryption key); the previous one
    stays in force until `previous_secret_until` after a rotation, so receivers can switch over."""

    __tablename__ = "webhooks_subscriptions"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    tenant_id: str = Field(max_length=63, index=True)
    url: str = Field(max_length=2048)
    events: str = Field(max_length=200, description="comma-separated event types")
    sealed_secret: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    previous_sealed_secret: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    previous_secret_until: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class Delivery(SQLModel, table=True):
    """One event for one subscription, staged by the consumer and sent by the delivery loop. Unique per
    subscription and event (type + credential), so a redelivered or re-announced badge is sent once."""

    __tablename__ = "webhooks_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_key", name="uq_webhooks_deliveries_event"),
        Index("ix_webhooks_deliveries_due", "status", "next_attempt_at"),
    )
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    subscription_id: uuid.UUID = Field(index=True)
    tenant_id: str = Field(max_length=63)
    event_type: str = Field(max_length=40)
    event_key: str = Field(max_length=600)
    body: str = Field(sa_type=Text)
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    finished_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    last_error: str | None = Field(default=None, max_length=1000)


class Attempt(SQLModel, table=True):
    """One HTTP attempt of a delivery: the delivery log an operator reads per subscription."""

    __tablename__ = "webhooks_attempts"
    __table_args__ = (Index("ix_webhooks_attempts_log", "subscription_id", "id"),)
    id: int | None = Field(default=None, sa_type=BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    delivery_id: uuid.UUID
    subscription_id: uuid.UUID
    attempted_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    status_code: int | None = None
    duration_ms: int
    outcome: str = Field(max_length=16, description="delivered | retry | dead")
    error: str | None = Field(default=None, max_length=1000)


class WebhooksProcessedEvent(ProcessedEvent, table=True):
    __tablename__ = "webhooks_processed_events"

"""Table shapes every service owns a copy of (each service names its own, e.g. `issuer_outbox`)."""

from datetime import UTC, datetime

from sqlalchemy import BigInteger, DateTime, Integer, Text
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class OutboxRecord(SQLModel):
    """An event written in the same transaction as the state change it announces; the relay publishes it."""

    # SQLite only auto-increments INTEGER PRIMARY KEY, PostgreSQL wants room to grow.
    id: int | None = Field(default=None, sa_type=BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    topic: str = Field(max_length=255)
    key: str = Field(max_length=600)
    value: str = Field(sa_type=Text)
    headers: str = Field(sa_type=Text, description="JSON object of Kafka header name -> value")
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class ProcessedEvent(SQLModel):
    """Marks an event a consumer has handled, written in the handler's own transaction (idempotency)."""

    consumer: str = Field(primary_key=True, max_length=100)
    source: str = Field(primary_key=True, max_length=255)
    event_id: str = Field(primary_key=True, max_length=255)
    processed_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))

"""The enrollment service's own tables."""

from datetime import datetime

from sqlalchemy import DateTime
from sqlmodel import Field, SQLModel

from shared.db.tables import OutboxRecord, ProcessedEvent, utcnow


class ReceivedLmsEvent(SQLModel, table=True):
    """Each LMS event id seen per tenant: the same event delivered twice is recorded once."""

    __tablename__ = "enrollment_received_events"
    tenant_id: str = Field(primary_key=True, max_length=63)
    event_id: str = Field(primary_key=True, max_length=256)
    source: str = Field(max_length=255)
    received_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class Enrollment(SQLModel, table=True):
    __tablename__ = "enrollment_enrollments"
    tenant_id: str = Field(primary_key=True, max_length=63)
    learner_id: str = Field(primary_key=True, max_length=256)
    achievement_id: str = Field(primary_key=True, max_length=256)
    enrolled_at: datetime = Field(sa_type=DateTime(timezone=True))


class AssessmentAttempt(SQLModel, table=True):
    """Every score an LMS reported (the progress history)."""

    __tablename__ = "enrollment_attempts"
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(max_length=63, index=True)
    learner_id: str = Field(max_length=256)
    assessment_id: str = Field(max_length=256)
    score: float
    max_score: float | None = None
    occurred_at: datetime = Field(sa_type=DateTime(timezone=True))
    source_event_id: str = Field(max_length=256)


class EnrollmentOutbox(OutboxRecord, table=True):
    __tablename__ = "enrollment_outbox"


class EnrollmentProcessedEvent(ProcessedEvent, table=True):
    __tablename__ = "enrollment_processed_events"

"""The enrollment service's own tables."""

from datetime import datetime

from sqlalchemy import DateTime, LargeBinary, Text
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


class LmsConnection(SQLModel, table=True):
    """One LMS (or LMS tool) allowed to send activity for a tenant, and how its requests are authenticated."""

    __tablename__ = "enrollment_connections"
    id: str = Field(primary_key=True, max_length=64)
    tenant_id: str = Field(max_length=63, index=True)
    name: str = Field(max_length=200)
    source_kind: str = Field(max_length=20)
    auth_method: str = Field(max_length=20)
    key_hash: str | None = Field(default=None, max_length=64, unique=True, description="SHA-256 of the API key")
    sealed_secret: bytes | None = Field(default=None, sa_type=LargeBinary, description="AES-GCM: HMAC/JWT secret")
    jwt_public_key: str | None = Field(default=None, sa_type=Text)
    jwt_algorithms: str | None = Field(default=None, max_length=200)
    jwt_issuer: str | None = Field(default=None, max_length=500)
    learner_prefix: str = Field(default="", max_length=64)
    rate_per_second: float = 50.0
    burst: int = 100
    enabled: bool = True
    origin: str = Field(default="api", max_length=20, description="api, or environment (CREDSTREAM_LMS_API_KEYS)")
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    disabled_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class MappingRuleRow(SQLModel, table=True):
    """A connection's rule: LMS course/activity id (exact or prefix) -> Achievement and/or assessment."""

    __tablename__ = "enrollment_mapping_rules"
    id: int | None = Field(default=None, primary_key=True)
    connection_id: str = Field(max_length=64, index=True)
    position: int = 0
    match: str = Field(max_length=10)
    lms_id: str = Field(max_length=2048)
    achievement_id: str | None = Field(default=None, max_length=256)
    assessment_id: str | None = Field(default=None, max_length=256)


class UnmappedActivity(SQLModel, table=True):
    """An activity no mapping rule covered: kept (with the observation) to report and to replay once mapped."""

    __tablename__ = "enrollment_unmapped_activities"
    tenant_id: str = Field(primary_key=True, max_length=63)
    event_id: str = Field(primary_key=True, max_length=256)
    connection_id: str = Field(max_length=64, index=True)
    format: str = Field(max_length=20)
    kind: str = Field(max_length=20)
    lms_activity_id: str | None = Field(default=None, max_length=2048)
    lms_course_id: str | None = Field(default=None, max_length=2048)
    reason: str = Field(max_length=1000)
    observation: str = Field(sa_type=Text, description="JSON of the parsed observation")
    times_seen: int = 1
    first_seen_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))

"""The assessment service's own tables."""

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from shared.db.tables import OutboxRecord, ProcessedEvent, utcnow


class AchievementRow(SQLModel, table=True):
    __tablename__ = "assessment_achievements"
    tenant_id: str = Field(primary_key=True, max_length=63)
    achievement_id: str = Field(primary_key=True, max_length=256)
    version: int = 1
    definition: str = Field(sa_type=Text, description="AchievementDefinition as JSON")
    updated_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class LearnerEnrollment(SQLModel, table=True):
    __tablename__ = "assessment_enrollments"
    tenant_id: str = Field(primary_key=True, max_length=63)
    learner_id: str = Field(primary_key=True, max_length=256)
    achievement_id: str = Field(primary_key=True, max_length=256)
    learner_name: str | None = Field(default=None, max_length=200)
    recipient: str | None = Field(default=None, sa_type=Text, description="RecipientIdentity as JSON")
    enrolled_at: datetime = Field(sa_type=DateTime(timezone=True))


class BestScore(SQLModel, table=True):
    __tablename__ = "assessment_best_scores"
    tenant_id: str = Field(primary_key=True, max_length=63)
    learner_id: str = Field(primary_key=True, max_length=256)
    assessment_id: str = Field(primary_key=True, max_length=256)
    score: float
    max_score: float
    attempts: int = 1
    updated_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class Award(SQLModel, table=True):
    """One row per earned Achievement; the unique constraint makes a second award impossible."""

    __tablename__ = "assessment_awards"
    __table_args__ = (UniqueConstraint("tenant_id", "learner_id", "achievement_id"),)
    award_id: uuid.UUID = Field(primary_key=True)
    tenant_id: str = Field(max_length=63)
    learner_id: str = Field(max_length=256)
    achievement_id: str = Field(max_length=256)
    achievement_version: int
    awarded_at: datetime = Field(sa_type=DateTime(timezone=True))


class AssessmentOutbox(OutboxRecord, table=True):
    __tablename__ = "assessment_outbox"


class AssessmentProcessedEvent(ProcessedEvent, table=True):
    __tablename__ = "assessment_processed_events"

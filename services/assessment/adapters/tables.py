"""The assessment service's own tables."""

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from shared.db.tables import OutboxRecord, ProcessedEvent, utcnow


class AchievementVersionRow(SQLModel, table=True):
    """The admin API's record of every version of every Achievement (the source of the achievements topic)."""

    __tablename__ = "assessment_achievement_versions"
    tenant_id: str = Field(primary_key=True, max_length=63)
    achievement_id: str = Field(primary_key=True, max_length=256)
    version: int = Field(primary_key=True)
    status: str = Field(max_length=16)
    definition: str = Field(sa_type=Text, description="AchievementDefinition as JSON")
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class AchievementRow(SQLModel, table=True):
    """The evaluator's copy of the current definitions, applied from `credstream.achievements.v1`."""

    __tablename__ = "assessment_achievements"
    tenant_id: str = Field(primary_key=True, max_length=63)
    achievement_id: str = Field(primary_key=True, max_length=256)
    version: int = 1
    status: str = Field(default="active", max_length=16)
    definition: str = Field(sa_type=Text, description="AchievementDefinition as JSON")
    updated_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class AchievementRef(SQLModel, table=True):
    """What each current definition depends on (assessment, activity, achievement ids): which achievements
    may an event complete?"""

    __tablename__ = "assessment_achievement_refs"
    __table_args__ = (Index("ix_assessment_achievement_refs_lookup", "tenant_id", "kind", "ref_id"),)
    tenant_id: str = Field(primary_key=True, max_length=63)
    achievement_id: str = Field(primary_key=True, max_length=256)
    kind: str = Field(primary_key=True, max_length=16)
    ref_id: str = Field(primary_key=True, max_length=256)


class Learner(SQLModel, table=True):
    """The latest display name and hashed recipient identity an LMS gave for a learner."""

    __tablename__ = "assessment_learners"
    tenant_id: str = Field(primary_key=True, max_length=63)
    learner_id: str = Field(primary_key=True, max_length=256)
    learner_name: str | None = Field(default=None, max_length=200)
    recipient: str | None = Field(default=None, sa_type=Text, description="RecipientIdentity as JSON")
    updated_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class LearnerEnrollment(SQLModel, table=True):
    __tablename__ = "assessment_enrollments"
    tenant_id: str = Field(primary_key=True, max_length=63)
    learner_id: str = Field(primary_key=True, max_length=256)
    achievement_id: str = Field(primary_key=True, max_length=256)
    learner_name: str | None = Field(default=None, max_length=200)
    recipient: str | None = Field(default=None, sa_type=Text, description="RecipientIdentity as JSON")
    enrolled_at: datetime = Field(sa_type=DateTime(timezone=True))


class AttemptRow(SQLModel, table=True):
    """Every attempt at an assessment, passing or failing (the attempt history the criteria are evaluated on)."""

    __tablename__ = "assessment_attempts"
    __table_args__ = (Index("ix_assessment_attempts_learner", "tenant_id", "learner_id"),)
    id: int | None = Field(default=None, sa_type=BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    tenant_id: str = Field(max_length=63)
    learner_id: str = Field(max_length=256)
    assessment_id: str = Field(max_length=256)
    attempt: int = Field(description="1 for the learner's first attempt at this assessment")
    kind: str = Field(max_length=16, description="The activity kind that reported it")
    score: float | None = None
    max_score: float | None = None
    success: bool | None = None
    rubric: str | None = Field(default=None, sa_type=Text, description="criterion id -> level id, JSON")
    answer_key_version: int | None = Field(default=None, description="Set when credstream graded the answers")
    source_event_id: str | None = Field(default=None, max_length=256)
    occurred_at: datetime = Field(sa_type=DateTime(timezone=True))
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class CompletionRow(SQLModel, table=True):
    __tablename__ = "assessment_completions"
    __table_args__ = (Index("ix_assessment_completions_learner", "tenant_id", "learner_id"),)
    id: int | None = Field(default=None, sa_type=BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    tenant_id: str = Field(max_length=63)
    learner_id: str = Field(max_length=256)
    activity_id: str = Field(max_length=256)
    occurred_at: datetime = Field(sa_type=DateTime(timezone=True))


class Award(SQLModel, table=True):
    """One row per earned Achievement and renewal period; the unique constraint makes a second award impossible."""

    __tablename__ = "assessment_awards"
    __table_args__ = (
        UniqueConstraint("tenant_id", "learner_id", "achievement_id", "period", name="uq_assessment_awards_period"),
    )
    award_id: uuid.UUID = Field(primary_key=True)
    tenant_id: str = Field(max_length=63)
    learner_id: str = Field(max_length=256)
    achievement_id: str = Field(max_length=256)
    period: int = Field(default=0, description="0 for the first award, n for the n-th renewal")
    achievement_version: int
    awarded_at: datetime = Field(sa_type=DateTime(timezone=True))
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    revocation_reason: str | None = Field(default=None, max_length=1_000)


class AwardComponent(SQLModel, table=True):
    """Which component awards a pathway award was earned with."""

    __tablename__ = "assessment_award_components"
    pathway_award_id: uuid.UUID = Field(primary_key=True)
    component_award_id: uuid.UUID = Field(primary_key=True, index=True)


class PathwayReport(SQLModel, table=True):
    """A pathway award one of whose components was revoked: reported to administrators, never auto-retracted."""

    __tablename__ = "assessment_pathway_reports"
    pathway_award_id: uuid.UUID = Field(primary_key=True)
    component_award_id: uuid.UUID = Field(primary_key=True)
    tenant_id: str = Field(max_length=63, index=True)
    learner_id: str = Field(max_length=256)
    pathway_achievement_id: str = Field(max_length=256)
    component_achievement_id: str = Field(max_length=256)
    component_revoked_at: datetime = Field(sa_type=DateTime(timezone=True))
    reason: str | None = Field(default=None, max_length=1_000)
    reported_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class AnswerKeyRow(SQLModel, table=True):
    """An assessment's answer key. Stays in this table: never in an event, a log line or an API response."""

    __tablename__ = "assessment_answer_keys"
    tenant_id: str = Field(primary_key=True, max_length=63)
    assessment_id: str = Field(primary_key=True, max_length=256)
    version: int = 1
    key: str = Field(sa_type=Text, description="AnswerKey as JSON")
    updated_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class AssessmentOutbox(OutboxRecord, table=True):
    __tablename__ = "assessment_outbox"


class AssessmentProcessedEvent(ProcessedEvent, table=True):
    __tablename__ = "assessment_processed_events"

"""Versioned event payloads. One class per topic; the record value is the model as JSON.

Every record is keyed by `tenant:learner` so that one learner's events stay in order through the whole pipeline.
A breaking change gets a new class (schema_version 2) and a new topic; additive optional fields do not.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shared.contracts.text import Identifier, LmsText
from shared.contracts.topics import Topic

TenantId = str
_TENANT_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
_ID_FIELD = Field(min_length=1, max_length=256)
# Points beyond this are no real mark; the cap keeps every percentage computed from them finite (1e308 would
# overflow to "inf" on the badge).
MAX_POINTS = 1e9


def _representable_in_utc(value: datetime) -> datetime:
    """A timestamp whose UTC instant exists in Python (years 1-9999): `0001-01-01T00:00:00+01:00` does not."""
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is outside years 1-9999 once converted to UTC") from None
    return value


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_representable_in_utc)]


class TopicEvent(BaseModel):
    """Fields common to every record on a credstream topic; `key()` says how the topic is keyed."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    TOPIC: ClassVar[Topic]
    CE_TYPE: ClassVar[str]

    schema_version: int
    tenant_id: str = Field(pattern=_TENANT_PATTERN, description="The issuing organisation (tenant).")

    def key(self) -> str:
        raise NotImplementedError


class Event(TopicEvent):
    """Fields common to every credstream learner event."""

    learner_id: Identifier = Field(min_length=1, max_length=256, description="The learner's id within the tenant.")

    def key(self) -> str:
        """The Kafka record key: tenant + learner keeps one learner's events ordered."""
        return f"{self.tenant_id}:{self.learner_id}"


class ActivityKind(StrEnum):
    ENROLLED = "enrolled"
    SUBMITTED = "submitted"
    SCORED = "scored"
    PASSED = "passed"
    FAILED = "failed"
    COMPLETED = "completed"


class Answer(BaseModel):
    """A learner's raw answer to one question, for assessments credstream grades itself."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    question_id: Identifier = Field(min_length=1, max_length=256)
    response: str | list[str] | float


class RecipientIdentity(BaseModel):
    """A salted SHA-256 of the learner's e-mail (OB3 IdentityObject); the address itself stays in enrollment."""

    model_config = ConfigDict(frozen=True)

    identity_hash: str = Field(pattern=r"^sha256\$[0-9a-f]{64}$")
    salt: str = Field(min_length=8, max_length=128)
    identity_type: str = "emailAddress"


class _Activity(Event):
    kind: ActivityKind
    learner_name: LmsText | None = Field(default=None, max_length=200, description="Display name for the badge.")
    achievement_id: Identifier | None = Field(default=None, min_length=1, max_length=256)
    assessment_id: Identifier | None = Field(default=None, min_length=1, max_length=256)
    score: float | None = Field(default=None, ge=0, le=MAX_POINTS, allow_inf_nan=False)
    max_score: float | None = Field(default=None, gt=0, le=MAX_POINTS, allow_inf_nan=False)
    success: bool | None = Field(default=None, description="The LMS's own pass/fail verdict, where it gives one.")
    rubric: dict[str, str] | None = Field(default=None, description="Rubric criterion id -> achieved level id.")
    answers: list[Answer] | None = Field(default=None, max_length=1000, description="Raw answers to grade.")
    source_activity_id: Identifier | None = Field(default=None, max_length=2048, description="The LMS's activity id.")
    occurred_at: UtcDatetime

    @model_validator(mode="after")
    def _fields_for_kind(self) -> _Activity:
        kind = self.kind
        if kind is ActivityKind.ENROLLED and not self.achievement_id:
            raise ValueError("an 'enrolled' activity needs achievement_id")
        needs_assessment = (ActivityKind.SUBMITTED, ActivityKind.SCORED, ActivityKind.PASSED, ActivityKind.FAILED)
        if kind in needs_assessment and not self.assessment_id:
            raise ValueError(f"a '{kind}' activity needs assessment_id")
        if kind is ActivityKind.SCORED and self.score is None:
            raise ValueError("a 'scored' activity needs score")
        if kind is ActivityKind.COMPLETED and not (self.assessment_id or self.achievement_id):
            raise ValueError("a 'completed' activity needs assessment_id or achievement_id")
        if self.score is not None and self.max_score is not None and self.score > self.max_score:
            raise ValueError("score is greater than max_score")
        return self


class LmsActivity(_Activity):
    """What an LMS publishes (HTTP body or `credstream.lms-inbound.v1` record): native credstream format."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    TOPIC = Topic.LMS_INBOUND
    CE_TYPE = "io.credstream.lms.activity.v1"

    schema_version: Literal[1] = 1
    event_id: Identifier = Field(min_length=1, max_length=256, description="The LMS's own id for this event (dedupe).")
    learner_email: Annotated[Identifier, StringConstraints(strip_whitespace=True)] | None = Field(
        default=None,
        max_length=320,
        pattern=r"^[^@\s]+@[^@\s]+$",
        description="Hashed into the badge's recipient identifier by enrollment; never forwarded as is.",
    )


class EnrollmentRecorded(_Activity):
    """A normalised, de-duplicated learner activity: an enrolment or an assessment score."""

    TOPIC = Topic.ENROLLMENT
    CE_TYPE = "io.credstream.enrollment.recorded.v1"

    schema_version: Literal[1] = 1
    source: str = Field(description="Which LMS connection sent it.")
    source_event_id: str = Field(description="The LMS's own event id.")
    recipient: RecipientIdentity | None = None


class ResultKind(StrEnum):
    """What an AssessmentResult measures (which criteria rule produced it)."""

    SCORE = "score"  # an assessment's score against a minimum
    SUCCESS = "success"  # an assessment the LMS flagged as passed
    RUBRIC = "rubric"  # a rubric-graded assessment; see `rubric`
    OVERALL_SCORE = "overall_score"  # the (weighted) mean over several assessments, in percent
    COMPLETION = "completion"  # an activity completed (score 1 of 1)
    ACHIEVEMENT = "achievement"  # a component Achievement of a pathway (score 1 of 1)


class AssessmentResult(BaseModel):
    """One outcome that counted towards an award. For rubric results the score is the sum of level points."""

    model_config = ConfigDict(frozen=True)

    assessment_id: str = Field(description="The assessment (or activity, overall-score id, component achievement).")
    score: float
    max_score: float
    required_score: float
    rubric: dict[str, str] | None = Field(default=None, description="Rubric criterion id -> achieved level id.")
    kind: ResultKind = ResultKind.SCORE
    name: str | None = None
    success: bool | None = None
    achieved_at: AwareDatetime | None = None


class AlignmentSnapshot(BaseModel):
    """Where an Achievement aligns with an external framework: a skill, competency or standard."""

    model_config = ConfigDict(frozen=True)

    target_name: str
    target_url: str
    target_description: str | None = None
    target_framework: str | None = None
    target_code: str | None = None
    target_type: str | None = None


class RubricLevelSnapshot(BaseModel):
    """One level of a rubric criterion, e.g. "Proficient" (3 points)."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    description: str | None = None
    points: float | None = None


class RubricCriterionSnapshot(BaseModel):
    """A rubric criterion, its levels (lowest first) and the level the Achievement requires, if any."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    description: str | None = None
    assessment_id: str | None = None
    levels: list[RubricLevelSnapshot]
    required_level: str | None = None


class AchievementSnapshot(BaseModel):
    """The Achievement as defined when it was awarded, so the issuer needs no other service's tables."""

    model_config = ConfigDict(frozen=True)

    id: str
    version: int = 1
    name: str
    description: str
    criteria_narrative: str
    image_url: str | None = None
    achievement_type: str | None = None
    alignment: list[AlignmentSnapshot] | None = None
    rubric: list[RubricCriterionSnapshot] | None = None
    tags: list[str] | None = None
    credits_available: float | None = None
    human_code: str | None = None
    field_of_study: str | None = None
    valid_for_days: int | None = Field(default=None, description="Credentials expire this many days after issue.")


class AssessmentPassed(Event):
    """A learner met every criterion of an Achievement; exactly one per award."""

    TOPIC = Topic.ASSESSMENT_PASSED
    CE_TYPE = "io.credstream.assessment.passed.v1"

    schema_version: Literal[1] = 1
    award_id: uuid.UUID = Field(description="Deterministic id of (tenant, learner, achievement, renewal period).")
    achievement: AchievementSnapshot
    results: list[AssessmentResult]
    learner_name: str | None = None
    recipient: RecipientIdentity | None = None
    passed_at: AwareDatetime
    award_period: int = Field(default=0, ge=0, description="0 for the first award, n for the n-th renewal.")


class BadgeIssued(Event):
    """A signed Open Badges 3.0 credential was issued; `credential` is the full verifiable credential.

    A holder-bound copy (the award's credential re-issued to the DID of a wallet that claimed it) is announced too,
    with `award_credential_id` and `holder` set: it is the same badge, not a new award. Those two fields were added
    in contract version 1.1 (optional, so schema_version stays 1: records without them are award credentials).
    """

    TOPIC = Topic.BADGE_ISSUED
    CE_TYPE = "io.credstream.badge.issued.v1"

    schema_version: Literal[1] = 1
    award_id: uuid.UUID
    achievement_id: str
    credential_id: str
    issuer_id: str
    issued_at: datetime
    credential: dict[str, Any]
    award_credential_id: str | None = Field(
        default=None,
        max_length=512,
        description="Since 1.1. On a wallet's holder-bound copy: the id of the award's credential it copies "
        "(revoking that credential revokes the copy). Absent on the award's own credential.",
    )
    holder: str | None = Field(
        default=None,
        max_length=512,
        description="Since 1.1. On a wallet's holder-bound copy: the holder's DID (its credentialSubject.id).",
    )

    @property
    def is_wallet_copy(self) -> bool:
        return self.award_credential_id is not None


class BadgeRevoked(Event):
    """An issued credential was revoked: its bit in the issuer's status list is now set, `reason` says why."""

    TOPIC = Topic.BADGE_REVOKED
    CE_TYPE = "io.credstream.badge.revoked.v1"

    schema_version: Literal[1] = 1
    award_id: uuid.UUID
    achievement_id: str
    credential_id: str
    issuer_id: str
    revoked_at: datetime
    reason: str
    status_purpose: str = "revocation"
    status_list_credential: str = Field(description="URL of the BitstringStatusListCredential holding the bit.")
    status_list_index: int


class AchievementStatus(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"  # kept for display and history; earns no new awards


class AchievementDefined(TopicEvent):
    """A version of an Achievement definition (created, changed or retired) on the compacted topic
    `credstream.achievements.v1`, keyed `tenant:achievement`: the latest record per key is the current definition."""

    TOPIC = Topic.ACHIEVEMENTS
    CE_TYPE = "io.credstream.achievement.defined.v1"

    schema_version: Literal[1] = 1
    achievement_id: str = Field(min_length=1, max_length=256)
    version: int = Field(ge=1)
    status: AchievementStatus
    definition: dict[str, Any] = Field(description="The Achievement definition as the admin API accepted it.")
    defined_at: AwareDatetime

    def key(self) -> str:
        return f"{self.tenant_id}:{self.achievement_id}"


CONTRACTS: dict[Topic, type[TopicEvent]] = {
    contract.TOPIC: contract
    for contract in (
        LmsActivity,
        EnrollmentRecorded,
        AssessmentPassed,
        BadgeIssued,
        BadgeRevoked,
        AchievementDefined,
    )
}

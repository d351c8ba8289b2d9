"""credstream's event contracts: topics, versioned pydantic payloads, CloudEvents attributes.

Importable on its own (it needs only pydantic) so that an integrator can subscribe to credstream's topics with
typed events without installing the services.
"""

from shared.contracts.cloudevents import CloudEvent, MissingCloudEventAttribute
from shared.contracts.events import (
    CONTRACTS,
    AchievementDefined,
    AchievementSnapshot,
    AchievementStatus,
    ActivityKind,
    AlignmentSnapshot,
    Answer,
    AssessmentPassed,
    AssessmentResult,
    BadgeIssued,
    BadgeRevoked,
    EnrollmentRecorded,
    Event,
    LmsActivity,
    RecipientIdentity,
    ResultKind,
    RubricCriterionSnapshot,
    RubricLevelSnapshot,
    TopicEvent,
)
from shared.contracts.topics import Topic, dead_letter_topic

__all__ = [
    "CONTRACTS",
    "AchievementDefined",
    "AchievementSnapshot",
    "AchievementStatus",
    "ActivityKind",
    "AlignmentSnapshot",
    "Answer",
    "AssessmentPassed",
    "AssessmentResult",
    "BadgeIssued",
    "BadgeRevoked",
    "CloudEvent",
    "EnrollmentRecorded",
    "Event",
    "LmsActivity",
    "MissingCloudEventAttribute",
    "RecipientIdentity",
    "ResultKind",
    "RubricCriterionSnapshot",
    "RubricLevelSnapshot",
    "Topic",
    "TopicEvent",
    "dead_letter_topic",
]

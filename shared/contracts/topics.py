"""Kafka topic names. The version suffix changes only on a breaking contract change."""

from enum import StrEnum


class Topic(StrEnum):
    LMS_INBOUND = "credstream.lms-inbound.v1"
    ENROLLMENT = "credstream.enrollment.v1"
    ASSESSMENT_PASSED = "credstream.assessment-passed.v1"
    BADGE_ISSUED = "credstream.badge-issued.v1"
    BADGE_REVOKED = "credstream.badge-revoked.v1"
    ACHIEVEMENTS = "credstream.achievements.v1"  # compacted, keyed tenant:achievement


def dead_letter_topic(topic: str) -> str:
    """Where records that cannot be processed go, with the reason in their headers."""
    return f"{topic}.dlq"

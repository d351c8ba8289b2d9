"""Enrollment domain: turn what an LMS sent into credstream's normalised activity event."""

import hashlib
import secrets
import uuid

from shared.contracts import CloudEvent, EnrollmentRecorded, LmsActivity, RecipientIdentity
from shared.ids import name_of

SOURCE = "credstream/enrollment"
_NAMESPACE = uuid.UUID("4d1f4f0e-6c1b-4f7e-9a55-0d6b2f1d6a01")


def hash_email(email: str, salt: str) -> RecipientIdentity:
    """OB3 IdentityObject hash of a normalised (trimmed, lower-cased) e-mail address."""
    digest = hashlib.sha256((email.strip().lower() + salt).encode("utf-8")).hexdigest()
    return RecipientIdentity(identity_hash=f"sha256${digest}", salt=salt, identity_type="emailAddress")


def normalise(activity: LmsActivity, source: str, *, salt: str | None = None) -> EnrollmentRecorded:
    """The native LMS event as the enrollment contract (other formats are mapped onto LmsActivity first).

    The e-mail address, if any, leaves as a salted hash only: the raw address never reaches Kafka.
    """
    recipient = None
    if activity.learner_email:
        recipient = hash_email(activity.learner_email, salt or secrets.token_hex(16))
    return EnrollmentRecorded(
        tenant_id=activity.tenant_id,
        learner_id=activity.learner_id,
        kind=activity.kind,
        learner_name=activity.learner_name,
        achievement_id=activity.achievement_id,
        assessment_id=activity.assessment_id,
        score=activity.score,
        max_score=activity.max_score,
        success=activity.success,
        rubric=activity.rubric,
        answers=activity.answers,
        source_activity_id=activity.source_activity_id,
        occurred_at=activity.occurred_at,
        source=source,
        source_event_id=activity.event_id,
        recipient=recipient,
    )


def enrollment_cloud_event(event: EnrollmentRecorded) -> CloudEvent:
    """Deterministic id: re-emitting the same LMS event can never look like a new one downstream."""
    event_id = uuid.uuid5(_NAMESPACE, name_of(event.tenant_id, event.source_event_id))
    return CloudEvent(
        id=str(event_id),
        source=SOURCE,
        type=EnrollmentRecorded.CE_TYPE,
        subject=event.key(),
        time=event.occurred_at,
    )

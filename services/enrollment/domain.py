"""Enrollment domain: turn what an LMS sent into credstream's normalised activity event."""

import hashlib
import secrets
import uuid
from datetime import datetime
from typing import Any

from pydantic_core import to_json

from shared import tracing
from shared.contracts import CloudEvent, EnrollmentRecorded, LmsActivity, RecipientIdentity
from shared.ids import name_of
from shared.messaging.records import OutboundRecord

SOURCE = "credstream/enrollment"
_NAMESPACE = uuid.UUID("4d1f4f0e-6c1b-4f7e-9a55-0d6b2f1d6a01")
# The activity fields an EnrollmentRecorded carries over as they are (both are `_Activity`s), in the contract's order.
_CARRIED = tuple(name for name in EnrollmentRecorded.model_fields if name in LmsActivity.model_fields)


def hash_email(email: str, salt: str) -> RecipientIdentity:
    """OB3 IdentityObject hash of a normalised (trimmed, lower-cased) e-mail address."""
    digest = hashlib.sha256((email.strip().lower() + salt).encode("utf-8")).hexdigest()
    return RecipientIdentity(identity_hash=f"sha256${digest}", salt=salt, identity_type="emailAddress")


def recorded_fields(activity: LmsActivity, source: str, *, salt: str | None = None) -> dict[str, Any]:
    """The EnrollmentRecorded fields for a native LMS event, in the contract's order (other formats are mapped
    onto LmsActivity first).

    The e-mail address, if any, leaves as a salted hash only: the raw address never reaches Kafka.
    """
    recipient = None
    if activity.learner_email:
        recipient = hash_email(activity.learner_email, salt or secrets.token_hex(16))
    values = activity.__dict__
    fields = {name: values[name] for name in _CARRIED}
    fields.update(source=source, source_event_id=activity.event_id, recipient=recipient)
    return fields


def normalise(activity: LmsActivity, source: str, *, salt: str | None = None) -> EnrollmentRecorded:
    """The native LMS event as the enrollment contract."""
    return EnrollmentRecorded.model_validate(recorded_fields(activity, source, salt=salt))


def enrollment_record(activity: LmsActivity, source: str, *, salt: str | None = None) -> OutboundRecord:
    """What `event_record(normalise(activity), enrollment_cloud_event(…))` gives, without building and validating
    the EnrollmentRecorded again: the activity is a validated LmsActivity whose fields the contract carries with
    the same types and constraints, so its fields are serialised as they are (building and serialising the model
    was a third of the service's CPU per activity)."""
    fields = recorded_fields(activity, source, salt=salt)
    key = f"{activity.tenant_id}:{activity.learner_id}"
    ce = _cloud_event(activity.tenant_id, activity.event_id, key, activity.occurred_at)
    # The trace context of the request (or inbound record) this activity came in, as `event_record` adds it.
    headers = tracing.continued(ce, key).to_header_dict()
    return OutboundRecord(str(EnrollmentRecorded.TOPIC), key, to_json(fields), headers)


def enrollment_cloud_event(event: EnrollmentRecorded) -> CloudEvent:
    """Deterministic id: re-emitting the same LMS event can never look like a new one downstream."""
    return _cloud_event(event.tenant_id, event.source_event_id, event.key(), event.occurred_at)


def _cloud_event(tenant_id: str, source_event_id: str, key: str, occurred_at: datetime) -> CloudEvent:
    event_id = uuid.uuid5(_NAMESPACE, name_of(tenant_id, source_event_id))
    return CloudEvent(id=str(event_id), source=SOURCE, type=EnrollmentRecorded.CE_TYPE, subject=key, time=occurred_at)

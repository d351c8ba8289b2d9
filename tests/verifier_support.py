"""Events the verifier consumes (badge-issued, badge-revoked), as the issuer announces them, for its read model's
tests on the in-memory bus and on Kafka."""

import uuid
from datetime import UTC, datetime
from typing import Any

from shared.contracts import BadgeIssued, BadgeRevoked, CloudEvent, TopicEvent
from shared.messaging.records import OutboundRecord, event_record

ISSUED_AT = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def badge_issued(tenant: str, credential_uuid: uuid.UUID, learner: str = "ada", **changes: Any) -> BadgeIssued:
    credential_id = f"urn:uuid:{credential_uuid}"
    values: dict[str, Any] = {
        "tenant_id": tenant,
        "learner_id": learner,
        "award_id": uuid.uuid4(),
        "achievement_id": "sql",
        "credential_id": credential_id,
        "issuer_id": "did:key:z6MkExample",
        "issued_at": ISSUED_AT,
        "credential": {"id": credential_id, "type": ["VerifiableCredential", "OpenBadgeCredential"]},
        **changes,
    }
    return BadgeIssued(**values)


def badge_revoked(tenant: str, credential_uuid: uuid.UUID, learner: str = "ada", **changes: Any) -> BadgeRevoked:
    values: dict[str, Any] = {
        "tenant_id": tenant,
        "learner_id": learner,
        "award_id": uuid.uuid4(),
        "achievement_id": "sql",
        "credential_id": f"urn:uuid:{credential_uuid}",
        "issuer_id": "did:key:z6MkExample",
        "revoked_at": ISSUED_AT,
        "reason": "Issued in error",
        "status_list_credential": f"https://issuer.example/status-lists/{tenant}/1",
        "status_list_index": 7,
        **changes,
    }
    return BadgeRevoked(**values)


def announced(event: TopicEvent, ce_id: str | None = None) -> OutboundRecord:
    """`event` as the issuer's outbox relay publishes it; the same `ce_id` makes a redelivered copy."""
    ce = CloudEvent(id=ce_id or str(uuid.uuid4()), source="credstream/issuer", type=event.CE_TYPE)
    return event_record(event, ce)


def undecodable(like: OutboundRecord) -> OutboundRecord:
    """A record with `like`'s key and headers whose value is not JSON."""
    return OutboundRecord(like.topic, like.key, b"{not json", like.headers)

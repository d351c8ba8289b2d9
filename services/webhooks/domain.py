"""Webhook rules without I/O: Standard Webhooks secrets and signatures, the retry schedule, payloads.

Standard Webhooks (https://www.standardwebhooks.com): a message id that stays the same across retries
(`webhook-id`), the send time in Unix seconds (`webhook-timestamp`), and `webhook-signature` = space-separated
`v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>`, one per secret in force (two while a rotated
secret overlaps the new one). Secrets are written `whsec_<base64 of 24 to 64 random bytes>`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import random
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24  # the specification's minimum (and Svix's default)
MAX_SECRET_BYTES = 64


class EventType(StrEnum):
    BADGE_ISSUED = "badge.issued"
    BADGE_REVOKED = "badge.revoked"


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # due at next_attempt_at (or being sent under a lease until then)
    DELIVERED = "delivered"
    DEAD = "dead"  # out of attempts; an operator may replay it


class InvalidSecret(ValueError):
    """A webhook secret that is not `whsec_<base64 of 24 to 64 bytes>`."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def parse_secret(text: str) -> bytes:
    """The key bytes of a `whsec_…` secret; InvalidSecret says what is wrong (never echoes the secret)."""
    if not text.startswith(SECRET_PREFIX):
        raise InvalidSecret(f"a webhook secret starts with {SECRET_PREFIX!r}")
    try:
        key = base64.b64decode(text[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidSecret("a webhook secret is standard base64 after its prefix") from error
    if not SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise InvalidSecret(f"a webhook secret holds {SECRET_BYTES} to {MAX_SECRET_BYTES} bytes, not {len(key)}")
    return key


def signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(keys: Iterable[bytes], message_id: str, timestamp: int, body: bytes) -> str:
    """`webhook-signature`: one signature per secret in force, newest first, space-separated."""
    return " ".join(signature(key, message_id, timestamp, body) for key in keys)


def webhook_headers(keys: Iterable[bytes], message_id: str, sent_at: datetime, body: bytes) -> dict[str, str]:
    timestamp = int(sent_at.timestamp())
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(keys, message_id, timestamp, body),
    }


def message_id(delivery_id: Any) -> str:
    """The `webhook-id` of a delivery: the same on every attempt, so receivers can drop duplicates."""
    return f"msg_{delivery_id.hex}"


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential back-off with jitter: attempt n failed → wait between half and all of min(cap, base·2^(n-1)).

    With the defaults (20 attempts, 5 s doubling to a 1 h cap) a delivery is retried for about 6 to 11 hours
    before it is dead-lettered. Jitter spreads the retries of many deliveries that failed together (an endpoint
    outage) instead of sending them back in one burst."""

    max_attempts: int = 20
    base_seconds: float = 5.0
    cap_seconds: float = 3600.0

    def delay(self, failed_attempts: int, draw: Callable[[], float] = random.random) -> timedelta | None:
        """How long to wait after `failed_attempts` failures; None once they are all used (dead letter)."""
        if failed_attempts >= self.max_attempts:
            return None
        ceiling = min(self.cap_seconds, self.base_seconds * 2.0 ** min(failed_attempts - 1, 64))
        return timedelta(seconds=ceiling / 2 + draw() * ceiling / 2)


def succeeded(status_code: int) -> bool:
    """Standard Webhooks: any 2xx acknowledges a message; redirects are not followed (they count as failures)."""
    return 200 <= status_code < 300


def payload(event_type: EventType, tenant_id: str, occurred_at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    """The body, in the specification's recommended shape: `type`, `timestamp`, `data`."""
    return {"type": str(event_type), "timestamp": occurred_at.isoformat(), "data": {"tenant_id": tenant_id, **data}}

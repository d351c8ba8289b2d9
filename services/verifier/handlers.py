"""Verifier use cases: keep the published credentials, verify any credential."""

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.verifier.adapters.tables import PublishedCredential
from shared.contracts import BadgeIssued, CloudEvent
from shared.credentials.resolver import DidKeyResolver
from shared.credentials.verification import VerificationReport, verify_credential
from shared.ids import parse_credential_uuid


async def on_badge_issued(session: AsyncSession, event: BadgeIssued, _ce: CloudEvent) -> None:
    """Consumer of `credstream.badge-issued.v1`: make the credential publicly retrievable."""
    found = parse_credential_uuid(event.credential_id)
    if found is None or await session.get(PublishedCredential, found) is not None:
        return
    session.add(
        PublishedCredential(
            credential_uuid=found,
            credential_id=event.credential_id,
            tenant_id=event.tenant_id,
            achievement_id=event.achievement_id,
            issuer_id=event.issuer_id,
            credential=json.dumps(event.credential),
            issued_at=event.issued_at,
        )
    )
    await session.flush()


def verify(credential: dict[str, Any], now: datetime | None = None) -> VerificationReport:
    """Verify any OB3 / VC credential offline (did:key issuers; other key documents come in a later issue)."""
    return verify_credential(credential, resolver=DidKeyResolver(), now=now or datetime.now(UTC))

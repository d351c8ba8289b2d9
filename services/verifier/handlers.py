"""Verifier use cases: keep the published credentials, verify any credential."""

import json
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.verifier.adapters.tables import CredentialRevocation, PublishedCredential
from shared.contracts import BadgeIssued, BadgeRevoked, CloudEvent
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


async def on_badge_revoked(session: AsyncSession, event: BadgeRevoked, _ce: CloudEvent) -> None:
    """Consumer of `credstream.badge-revoked.v1`: remember that (when and why) a credential was revoked."""
    found = parse_credential_uuid(event.credential_id)
    if found is None or await session.get(CredentialRevocation, found) is not None:
        return
    session.add(
        CredentialRevocation(
            credential_uuid=found,
            credential_id=event.credential_id,
            tenant_id=event.tenant_id,
            revoked_at=event.revoked_at,
            reason=event.reason,
            status_list_credential=event.status_list_credential,
            status_list_index=event.status_list_index,
        )
    )
    await session.flush()


async def revocation_of(session: AsyncSession, credential_uuid: uuid.UUID) -> CredentialRevocation | None:
    """The announced revocation of a credential, if any (the read model; the status list is the authority)."""
    return await session.get(CredentialRevocation, credential_uuid)

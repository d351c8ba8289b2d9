"""Verifier use cases: keep the published credentials, verify any credential."""

import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from services.verifier.adapters.tables import CredentialRevocation, PublishedCredential
from shared.contracts import BadgeIssued, BadgeRevoked, CloudEvent
from shared.db.bulk import insert_new
from shared.ids import parse_credential_uuid
from shared.messaging.records import PoisonRecord

Announcement = TypeVar("Announcement", BadgeIssued, BadgeRevoked)


async def on_badges_issued(session: AsyncSession, items: Sequence[tuple[BadgeIssued, CloudEvent]]) -> None:
    """Consumer of `credstream.badge-issued.v1`, a batch at a time: make the credentials publicly retrievable.

    One multi-row INSERT … ON CONFLICT DO NOTHING: a credential announced again (a redelivery, a replay under a new
    event id) keeps the row it first got."""
    rows = _first_per_credential(
        items,
        lambda event: {
            "achievement_id": event.achievement_id,
            "issuer_id": event.issuer_id,
            "credential": json.dumps(event.credential),
            "issued_at": event.issued_at,
            "award_credential_uuid": _award_of(event),
            "holder": event.holder,
        },
    )
    await insert_new(session, PublishedCredential, rows)


def _award_of(event: BadgeIssued) -> uuid.UUID | None:
    """The award's credential a wallet copy belongs to (None for an award's own credential)."""
    if event.award_credential_id is None:
        return None
    found = parse_credential_uuid(event.award_credential_id)
    if found is None:
        raise PoisonRecord(f"award_credential_id {event.award_credential_id[:200]!r} is not a urn:uuid")
    return found


async def on_badges_revoked(session: AsyncSession, items: Sequence[tuple[BadgeRevoked, CloudEvent]]) -> None:
    """Consumer of `credstream.badge-revoked.v1`, a batch at a time: remember that (when and why) each credential
    was revoked. The first announcement of a revocation is kept, as for issued credentials."""
    rows = _first_per_credential(
        items,
        lambda event: {
            "revoked_at": event.revoked_at,
            "reason": event.reason,
            "status_list_credential": event.status_list_credential,
            "status_list_index": event.status_list_index,
        },
    )
    await insert_new(session, CredentialRevocation, rows)


def _first_per_credential(
    items: Sequence[tuple[Announcement, CloudEvent]], columns: Callable[[Announcement], dict[str, Any]]
) -> list[dict[str, Any]]:
    """One row per credential, from its first announcement in the batch, in credential order (two replicas inserting
    the same credentials mid-rebalance then wait for each other instead of deadlocking)."""
    rows: dict[uuid.UUID, dict[str, Any]] = {}
    for event, _ce in items:
        found = parse_credential_uuid(event.credential_id)
        if found is None:
            # Served at /credentials/{uuid}: an id of another form could never be looked up. The batch is split
            # until this record stands alone, and it alone is dead-lettered.
            raise PoisonRecord(f"credential_id {event.credential_id[:200]!r} is not a urn:uuid")
        if found not in rows:
            rows[found] = {
                "credential_uuid": found,
                "credential_id": event.credential_id,
                "tenant_id": event.tenant_id,
                **columns(event),
            }
    return [rows[key] for key in sorted(rows)]


async def revocation_of(session: AsyncSession, credential_uuid: uuid.UUID) -> CredentialRevocation | None:
    """The announced revocation of a credential, if any (the read model; the status list is the authority)."""
    return await session.get(CredentialRevocation, credential_uuid)

"""Issuer use cases: issue one signed credential per award, revoke credentials, rotate and revoke keys.

Every state change and the event announcing it commit in one transaction (outbox).
"""

import json
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.issuer.adapters.keystore import KeyStore, TenantKey
from services.issuer.adapters.status_lists import StatusLists
from services.issuer.adapters.tables import HolderCopy, IssuedCredential, IssuerOutbox, SigningKey, as_utc
from services.issuer.domain import credential_uuid, issuer_profile
from services.issuer.identity import (
    PublishedKey,
    did_document,
    tenant_did,
    tenant_web_did,
    verification_method_id,
)
from services.issuer.signing import SigningJob, SigningPool, in_signing_thread
from services.issuer.status import REVOCATION, Slot
from shared.contracts import AssessmentPassed, BadgeIssued, BadgeRevoked, CloudEvent
from shared.credentials.keys import DID_KEY_PREFIX, key_to_seed
from shared.credentials.proof import sign_credential
from shared.db.bulk import insert_new
from shared.db.engine import SessionFactory, transaction
from shared.db.outbox import stage_event, stage_events
from shared.messaging.records import PoisonRecord
from shared.settings import DidMethod, Settings

SOURCE = "credstream/issuer"
_REVOKED_NAMESPACE = uuid.UUID("3b9e4f1a-6c2d-4e8b-9f7a-1d2c3b4a5e6f")
log = structlog.get_logger(__name__)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class Signer:
    """A tenant's signing identity at one moment: its DID and the key that signs for it."""

    did: str
    key: TenantKey

    @property
    def verification_method(self) -> str:
        return verification_method_id(self.did, self.key.key_id)

    async def sign(self, unsigned: dict[str, Any], created: datetime, *, badge: bool = True) -> dict[str, Any]:
        return await in_signing_thread(
            sign_credential,
            unsigned,
            self.key.private_key,
            self.verification_method,
            created,
            check_structure=badge,
        )


class Issuers:
    """Who signs for a tenant: did:key (the key is the DID) or did:web (one DID, keys rotate under it)."""

    def __init__(self, settings: Settings, keys: KeyStore) -> None:
        self.settings = settings
        self.keys = keys

    async def current(self, session: AsyncSession, tenant_id: str) -> Signer:
        key = await self.keys.active_key(session, tenant_id)
        return Signer(tenant_did(self.settings, tenant_id, key.key_id), key)

    async def for_did(self, session: AsyncSession, tenant_id: str, did: str) -> Signer:
        """The signer for something `did` issued earlier (a status list): a did:key can only sign as itself."""
        if did.startswith(DID_KEY_PREFIX):
            return Signer(did, await self.keys.key(session, tenant_id, did.removeprefix(DID_KEY_PREFIX)))
        return Signer(did, await self.keys.active_key(session, tenant_id))

    def web_did(self, tenant_id: str) -> str | None:
        """The tenant's did:web DID, or None when issuers use did:key."""
        if self.settings.did_method() != DidMethod.WEB:
            return None
        return tenant_web_did(self.settings, tenant_id)


class IssueCredential:
    """Consumer of `credstream.assessment-passed.v1`: one signed credential per award, a batch at a time.

    1. awards that already have a credential are skipped (one query);
    2. status-list slots are reserved in blocks in a short transaction of their own, so no lock is held while
       signing and one tenant's issuance does not queue on its list's row (with SQLite, which has one writer
       at a time anyway, in the batch's transaction);
    3. the batch is built and signed across cores (`SigningPool`);
    4. credentials (`INSERT … ON CONFLICT DO NOTHING`, award ids are unique) and their badge-issued outbox rows
       are written in the batch's transaction, with the processed-event rows the consumer writes.
    A batch redelivered after a crash issues nothing new; slots it had reserved stay unused (their bits stay 0,
    which no credential points at). A credential is never issued twice: a lost race inserts nothing.
    """

    def __init__(
        self,
        settings: Settings,
        issuers: Issuers,
        status_lists: StatusLists,
        sessions: SessionFactory,
        signing: SigningPool,
    ) -> None:
        self._settings = settings
        self._issuers = issuers
        self._status_lists = status_lists
        self._sessions = sessions
        self._signing = signing

    async def __call__(self, session: AsyncSession, passed: AssessmentPassed, ce: CloudEvent) -> None:
        await self.issue(session, [(passed, ce)])

    async def issue(self, session: AsyncSession, batch: Sequence[tuple[AssessmentPassed, CloudEvent]]) -> None:
        """Issue the batch's credentials in the caller's (the batch's) transaction."""
        awards = await self._not_issued(session, [passed for passed, _ce in batch])
        if not awards:
            return
        issued_at = _now()
        reserved = await self._reserve(session, awards, issued_at)
        # One signer per tenant in a batch: derive its seed and issuer profile once, not once per credential.
        signers = {passed.tenant_id: signer for passed, (signer, _slot) in zip(awards, reserved, strict=True)}
        seeds = {tenant: key_to_seed(signer.key.private_key) for tenant, signer in signers.items()}
        profiles = {
            tenant: issuer_profile(signer.did, tenant, self._settings.issuers.get(tenant))
            for tenant, signer in signers.items()
        }
        jobs = [
            SigningJob(
                passed=passed,
                issuer=profiles[passed.tenant_id],
                public_base_url=self._settings.public_base_url,
                issued_at=issued_at,
                slot=slot,
                seed=seeds[passed.tenant_id],
                verification_method=signer.verification_method,
            )
            for passed, (signer, slot) in zip(awards, reserved, strict=True)
        ]
        outcomes = await self._signing.sign(jobs)
        # A credential that cannot be built or signed never will be: dead-letter it now with the reason instead
        # of retrying (an undefined term, a relative URL in the Achievement, ...).
        for job, outcome in zip(jobs, outcomes, strict=True):
            if outcome.refusal is not None:
                raise PoisonRecord(f"award {job.passed.award_id}: {outcome.refusal}")
        await self._write(session, jobs, [outcome.credential_json for outcome in outcomes])  # type: ignore[misc]

    async def _not_issued(self, session: AsyncSession, passed: list[AssessmentPassed]) -> list[AssessmentPassed]:
        """The batch's awards without a credential yet, each once."""
        wanted = {event.award_id: event for event in passed}
        issued = await session.execute(
            select(IssuedCredential.award_id).where(IssuedCredential.award_id.in_(wanted))  # type: ignore[attr-defined]
        )
        for (award_id,) in issued:
            wanted.pop(award_id, None)
        return list(wanted.values())

    async def _reserve(
        self, session: AsyncSession, awards: list[AssessmentPassed], now: datetime
    ) -> list[tuple[Signer, Slot]]:
        """Each award's signer and status-list slot, committed before signing starts."""
        counts = Counter(passed.tenant_id for passed in awards)
        per_tenant: dict[str, tuple[Signer, Iterator[Slot]]] = {}
        async with self._reservation(session) as reserving:
            for tenant in sorted(counts):  # one lock order for every replica: no deadlocks between them
                # The signer is read here too, so that a tenant's first key commits before a list is signed with it.
                signer = await self._issuers.current(reserving, tenant)
                slots = await self._status_lists.reserve(
                    reserving,
                    tenant,
                    signer.did,
                    counts[tenant],
                    lambda doc, s=signer: s.sign(doc, now, badge=False),
                    now,
                )
                per_tenant[tenant] = (signer, iter(slots))
        return [(per_tenant[p.tenant_id][0], next(per_tenant[p.tenant_id][1])) for p in awards]

    def _reservation(self, session: AsyncSession) -> AbstractAsyncContextManager[AsyncSession]:
        if session.get_bind().dialect.name == "sqlite":
            # SQLite's single writer lock is already held by the batch's transaction.
            return nullcontext(session)
        return transaction(self._sessions)

    async def _write(self, session: AsyncSession, jobs: list[SigningJob], signed: list[str]) -> None:
        ids = [credential_uuid(job.passed.award_id) for job in jobs]
        rows = [
            {
                "credential_id": credential_id,
                "award_id": job.passed.award_id,
                "tenant_id": job.passed.tenant_id,
                "learner_id": job.passed.learner_id,
                "achievement_id": job.passed.achievement.id,
                "issuer_id": job.issuer.id,
                "credential": credential,
                "issued_at": job.issued_at,
                "status_list_id": job.slot.list_id,
                "status_list_index": job.slot.index,
            }
            for job, credential_id, credential in zip(jobs, ids, signed, strict=True)
        ]
        # Another replica may have issued some of these awards meanwhile (a rebalance): theirs stand, ours go.
        inserted = {
            row.award_id for row in await insert_new(session, IssuedCredential, rows, IssuedCredential.award_id)
        }
        events = []
        for job, credential_id, credential_json in zip(jobs, ids, signed, strict=True):
            if job.passed.award_id not in inserted:
                continue
            credential = json.loads(credential_json)
            issued = BadgeIssued(
                tenant_id=job.passed.tenant_id,
                learner_id=job.passed.learner_id,
                award_id=job.passed.award_id,
                achievement_id=job.passed.achievement.id,
                credential_id=credential["id"],
                issuer_id=job.issuer.id,
                issued_at=job.issued_at,
                credential=credential,
            )
            events.append(
                (
                    issued,
                    CloudEvent(id=str(credential_id), source=SOURCE, type=BadgeIssued.CE_TYPE, subject=issued.key()),
                )
            )
        await stage_events(session, IssuerOutbox, events)


@dataclass(frozen=True)
class Revocation:
    credential_id: str
    revoked_at: datetime
    reason: str
    status_list_credential: str
    status_list_index: int
    already_revoked: bool

    def public(self) -> dict[str, Any]:
        return {
            "credential_id": self.credential_id,
            "revoked": True,
            "revoked_at": _iso(self.revoked_at),
            "reason": self.reason,
            "status_purpose": REVOCATION,
            "status_list_credential": self.status_list_credential,
            "status_list_index": self.status_list_index,
            "already_revoked": self.already_revoked,
        }


class CredentialNotFound(LookupError):
    pass


class NoStatusEntry(ValueError):
    """The credential was issued before status lists existed, so it has no bit to flip."""


async def revoke_credential(
    session: AsyncSession,
    issuers: Issuers,
    status_lists: StatusLists,
    credential_id: uuid.UUID,
    reason: str,
) -> Revocation:
    """Set the credential's revocation bit, re-sign its list and announce `badge-revoked`, in one transaction.

    Revoking twice is harmless: the second call reports the first revocation and emits nothing.
    """
    row = await session.get(IssuedCredential, credential_id, with_for_update=True)
    if row is None:
        raise CredentialNotFound(str(credential_id))
    if row.status_list_id is None or row.status_list_index is None:
        raise NoStatusEntry(f"credential {credential_id} has no status list entry")
    url = status_lists.url(row.tenant_id, row.status_list_id)
    if row.revoked_at is not None:
        return Revocation(
            f"urn:uuid:{credential_id}", row.revoked_at, row.revocation_reason or "", url, row.status_list_index, True
        )
    now = _now()
    await _set_revoked(session, issuers, status_lists, row.tenant_id, row.status_list_id, row.status_list_index, now)
    # The holder-bound copies wallets claimed (services.issuer.wallet) are the same badge: revoke them too.
    copies = await session.execute(select(HolderCopy).where(HolderCopy.credential_id == credential_id))
    for copy in copies.scalars():
        await _set_revoked(
            session, issuers, status_lists, copy.tenant_id, copy.status_list_id, copy.status_list_index, now
        )
    row.revoked_at, row.revocation_reason = now, reason
    session.add(row)
    revoked = BadgeRevoked(
        tenant_id=row.tenant_id,
        learner_id=row.learner_id,
        award_id=row.award_id,
        achievement_id=row.achievement_id,
        credential_id=f"urn:uuid:{credential_id}",
        issuer_id=row.issuer_id,
        revoked_at=now,
        reason=reason,
        status_purpose=REVOCATION,
        status_list_credential=url,
        status_list_index=row.status_list_index,
    )
    ce_id = uuid.uuid5(_REVOKED_NAMESPACE, str(credential_id))
    stage_event(
        session,
        IssuerOutbox,
        revoked,
        CloudEvent(id=str(ce_id), source=SOURCE, type=BadgeRevoked.CE_TYPE, subject=revoked.key()),
    )
    await session.flush()
    log.info("credential.revoked", tenant=row.tenant_id, credential_id=str(credential_id))
    return Revocation(revoked.credential_id, now, reason, url, row.status_list_index, False)


async def _set_revoked(
    session: AsyncSession,
    issuers: Issuers,
    status_lists: StatusLists,
    tenant_id: str,
    list_id: int,
    index: int,
    now: datetime,
) -> None:
    """Set one revocation bit and re-sign its list as the list's issuer."""
    status_list = await status_lists.get(session, tenant_id, list_id)
    if status_list is None:
        raise LookupError(f"status list {status_lists.url(tenant_id, list_id)} is missing")
    signer = await issuers.for_did(session, tenant_id, status_list.issuer_id)
    await status_lists.set_status(
        session, tenant_id, list_id, index, lambda doc: signer.sign(doc, now, badge=False), now
    )


def key_info(issuers: Issuers, row: SigningKey) -> dict[str, Any]:
    """Public facts about a key (never the sealed seed)."""
    did = tenant_did(issuers.settings, row.tenant_id, row.key_id)
    return {
        "tenant_id": row.tenant_id,
        "key_id": row.key_id,
        "did": did,
        "verification_method": verification_method_id(did, row.key_id),
        "active": row.active,
        "created_at": _iso(row.created_at),
        "retired_at": _iso(row.retired_at),
        "revoked_at": _iso(row.revoked_at),
    }


async def rotate_key(session: AsyncSession, issuers: Issuers, tenant_id: str) -> dict[str, Any]:
    """Activate a new key for the tenant; earlier keys stay published (did:web) or self-certifying (did:key)."""
    key = await issuers.keys.rotate(session, tenant_id)
    row = await session.get(SigningKey, (tenant_id, key.key_id))
    assert row is not None
    log.info("issuer.key_rotated", tenant=tenant_id, key_id=key.key_id)
    return key_info(issuers, row)


async def revoke_key(
    session: AsyncSession, issuers: Issuers, status_lists: StatusLists, tenant_id: str, key_id: str
) -> dict[str, Any]:
    """Mark a retired did:web key revoked: verifiers then reject everything it signed.

    Status lists whose current signature is by that key are re-signed with the active key, so that the status
    of credentials signed by other keys stays checkable.
    """
    row = await issuers.keys.revoke(session, tenant_id, key_id)
    signer = await issuers.current(session, tenant_id)
    now = _now()
    revoked_method = verification_method_id(signer.did, key_id)
    for status_list in await status_lists.signed_with(session, tenant_id, revoked_method):
        await status_lists.resign(session, status_list, lambda doc: signer.sign(doc, now, badge=False), now)
    log.info("issuer.key_revoked", tenant=tenant_id, key_id=key_id)
    return key_info(issuers, row)


async def tenant_did_document(session: AsyncSession, issuers: Issuers, tenant_id: str) -> dict[str, Any] | None:
    """The did:web DID document of a tenant that has keys; None if it has none or issuers use did:key."""
    did = issuers.web_did(tenant_id)
    if did is None:
        return None
    rows = await issuers.keys.keys(session, tenant_id)
    if not rows:
        return None
    return did_document(
        did, [PublishedKey(row.key_id, as_utc(row.revoked_at) if row.revoked_at else None) for row in rows]
    )


def _iso(value: datetime | None) -> str | None:
    return None if value is None else as_utc(value).isoformat().replace("+00:00", "Z")

"""Claiming a badge into a wallet through a VC-API exchange (as the DCC Learner Credential Wallet speaks it).

1. An admin (or the LMS) creates a claim link for an award: `create_claim` stores an exchange with a random
   secret (only its hash is stored), a challenge and an expiry, and returns the exchange URL and deep links.
2. The wallet POSTs `{}` to the exchange URL and gets a VerifiablePresentationRequest (DIDAuthentication,
   challenge, domain): `presentation_request`.
3. It POSTs `{"verifiablePresentation": …}` signed by its did:key; `claim` checks it (`did_auth`), completes the
   exchange once (which spends the challenge) and answers with a presentation holding the award's credential
   re-issued to the holder's DID: same achievement, results and evidence, its own status bit on the tenant's
   status lists (revoking the award sets it too: `handlers.revoke_credential`). The same holder claiming again
   through another link gets the same copy.
Everything lives in PostgreSQL, so any replica answers any step.
"""

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.issuer.adapters.status_lists import StatusLists
from services.issuer.adapters.tables import HolderCopy, IssuedCredential, IssuerOutbox, WalletExchange, as_utc
from services.issuer.did_auth import authenticated_holder
from services.issuer.handlers import SOURCE, Issuers
from services.issuer.signing import in_signing_thread
from services.issuer.status import status_entry
from shared.contracts import BadgeIssued, CloudEvent
from shared.credentials.dates import format_xsd_datetime
from shared.db.outbox import stage_event

_COPY_NAMESPACE = uuid.UUID("9d2b6c4e-1f3a-4b7d-8e5c-2a6f0b1c3d4e")
PRESENTATION_CONTEXT = "https://www.w3.org/ns/credentials/v2"
DEFAULT_CLAIM_TTL = timedelta(days=7)


class ClaimRefused(ValueError):
    """The exchange cannot hand out a credential; `status`/`title`/`code` become the problem details."""

    def __init__(self, status: int, title: str, detail: str, code: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.code = status, title, code


@dataclass(frozen=True)
class ClaimLink:
    exchange_url: str
    page_url: str
    expires_at: datetime
    issuer: str
    challenge: str

    def public(self) -> dict[str, Any]:
        query = urlencode({"issuer": self.issuer, "vc_request_url": self.exchange_url, "challenge": self.challenge})
        return {
            "exchange_url": self.exchange_url,
            "claim_page_url": self.page_url,
            "expires_at": format_xsd_datetime(self.expires_at),
            "deep_link": f"dccrequest://request?{query}",
            "https_link": f"https://lcw.app/request.html?{query}",
        }


def exchange_key(secret: str) -> str:
    """What the table stores for a claim link's secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def copy_uuid(credential_id: uuid.UUID, holder_did: str) -> uuid.UUID:
    """One copy per award and holder: claiming again finds it."""
    return uuid.uuid5(_COPY_NAMESPACE, f"{credential_id}|{holder_did}")


def exchange_url(issuer_url: str, secret: str) -> str:
    return f"{issuer_url.rstrip('/')}/exchanges/{secret}"


def claim_page_url(issuer_url: str, secret: str) -> str:
    """The page a learner opens (services/issuer/claim_page.py): as personal as the link, same secret."""
    return f"{issuer_url.rstrip('/')}/claims/{secret}"


def presentation_request(challenge: str, domain: str) -> dict[str, Any]:
    """The VC-API answer to an exchange's first POST: authenticate with a DID."""
    return {
        "verifiablePresentationRequest": {
            "query": [{"type": "DIDAuthentication", "acceptedMethods": [{"method": "key"}]}],
            "challenge": challenge,
            "domain": domain,
        }
    }


def holder_copy(credential: dict[str, Any], *, copy_id: uuid.UUID, holder_did: str, issuer_did: str) -> dict[str, Any]:
    """The award's signed credential as an unsigned copy for `holder_did` (status entry still to be set).

    Achievement, results, evidence, identifier and dates stay as awarded; the issuer is whoever signs now (a
    did:key tenant that rotated signs as its new DID, and a status list must share its credential's issuer).
    """
    unsigned = {key: value for key, value in credential.items() if key != "proof"}
    unsigned["id"] = f"urn:uuid:{copy_id}"
    issuer = unsigned.get("issuer")
    unsigned["issuer"] = {**issuer, "id": issuer_did} if isinstance(issuer, dict) else issuer_did
    unsigned["credentialSubject"] = {**unsigned["credentialSubject"], "id": holder_did}
    return unsigned


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


async def create_claim(
    session: AsyncSession, issuers: Issuers, issuer_url: str, award_id: uuid.UUID, ttl: timedelta
) -> ClaimLink:
    """A new claim link for the award's credential. LookupError: no such award; ClaimRefused: revoked."""
    row = await award_credential(session, award_id)
    if row.revoked_at is not None:
        raise ClaimRefused(409, "Revoked", "The award's credential is revoked; it cannot be claimed.", "revoked")
    secret, challenge, now = secrets.token_urlsafe(32), secrets.token_urlsafe(24), _now()
    session.add(
        WalletExchange(
            exchange_key=exchange_key(secret),
            credential_id=row.credential_id,
            tenant_id=row.tenant_id,
            challenge=challenge,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    await session.flush()
    signer = await issuers.current(session, row.tenant_id)
    return ClaimLink(
        exchange_url(issuer_url, secret), claim_page_url(issuer_url, secret), now + ttl, signer.did, challenge
    )


async def claim_offer(
    session: AsyncSession, issuers: Issuers, issuer_url: str, secret: str
) -> tuple[ClaimLink, dict[str, Any]]:
    """The claim link behind `secret` and the award's credential, for the claim page.

    ClaimRefused when the link is unknown, used or expired, or the award was revoked since."""
    exchange = await open_exchange(session, secret)
    award = await session.get(IssuedCredential, exchange.credential_id)
    if award is None or award.revoked_at is not None:
        raise ClaimRefused(409, "Revoked", "The award's credential is revoked; it cannot be claimed.", "revoked")
    signer = await issuers.current(session, exchange.tenant_id)
    link = ClaimLink(
        exchange_url(issuer_url, secret),
        claim_page_url(issuer_url, secret),
        as_utc(exchange.expires_at),
        signer.did,
        exchange.challenge,
    )
    return link, json.loads(award.credential)


async def award_credential(session: AsyncSession, award_id: uuid.UUID) -> IssuedCredential:
    row = (
        await session.execute(select(IssuedCredential).where(IssuedCredential.award_id == award_id))
    ).scalar_one_or_none()
    if row is None:
        raise LookupError(str(award_id))
    return row


async def open_exchange(session: AsyncSession, secret: str) -> WalletExchange:
    """The exchange behind a claim link, if it can still be used."""
    exchange = await session.get(WalletExchange, exchange_key(secret))
    if exchange is None:
        raise ClaimRefused(404, "Not Found", "No such exchange.", "exchange.unknown")
    if exchange.completed_at is not None:
        raise ClaimRefused(409, "Exchange completed", "This claim link was already used.", "exchange.completed")
    if as_utc(exchange.expires_at) <= _now():
        raise ClaimRefused(410, "Exchange expired", "This claim link has expired.", "exchange.expired")
    return exchange


async def claim(
    session: AsyncSession,
    issuers: Issuers,
    status_lists: StatusLists,
    secret: str,
    presentation: Any,
    domain: str,
) -> dict[str, Any]:
    """Verify the holder's DID authentication and return the VC-API answer holding its copy of the credential.

    Raises ClaimRefused (unknown, used or expired exchange; revoked award) or did_auth.PresentationRefused.
    """
    exchange = await open_exchange(session, secret)
    # Off the event loop, and in the one thread that runs JSON-LD (pyld is not thread-safe).
    holder = await in_signing_thread(authenticated_holder, presentation, challenge=exchange.challenge, domain=domain)
    now = _now()
    # Spend the challenge: of two presentations racing on any replicas, one completes the exchange.
    spent = await session.execute(
        update(WalletExchange)
        .where(
            WalletExchange.exchange_key == exchange.exchange_key,  # type: ignore[arg-type]
            WalletExchange.challenge == exchange.challenge,  # type: ignore[arg-type]
            WalletExchange.completed_at.is_(None),  # type: ignore[union-attr]
            WalletExchange.expires_at > now,  # type: ignore[arg-type]
        )
        .values(completed_at=now, holder_did=holder, copy_id=copy_uuid(exchange.credential_id, holder))
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise ClaimRefused(409, "Exchange completed", "This claim link was already used.", "exchange.completed")
    copy = await holder_bound_copy(session, issuers, status_lists, exchange.credential_id, holder, now)
    return {
        "verifiablePresentation": {
            "@context": [PRESENTATION_CONTEXT],
            "type": ["VerifiablePresentation"],
            "verifiableCredential": [copy],
        }
    }


async def holder_bound_copy(
    session: AsyncSession,
    issuers: Issuers,
    status_lists: StatusLists,
    credential_id: uuid.UUID,
    holder: str,
    now: datetime,
) -> dict[str, Any]:
    """The award's copy for `holder` (made on first claim, through any wallet protocol); ClaimRefused if revoked."""
    # Locked as revocation locks it: a copy is written either before a revocation (which then sets its bit)
    # or after it (and refused here).
    award = await session.get(IssuedCredential, credential_id, with_for_update=True)
    if award is None or award.revoked_at is not None:
        raise ClaimRefused(409, "Revoked", "The award's credential is revoked; it cannot be claimed.", "revoked")
    copy = await session.get(HolderCopy, copy_uuid(award.credential_id, holder))
    if copy is None:
        copy = await _issue_copy(session, issuers, status_lists, award, holder, now)
    return json.loads(copy.credential)  # type: ignore[no-any-return]


async def _issue_copy(
    session: AsyncSession,
    issuers: Issuers,
    status_lists: StatusLists,
    award: IssuedCredential,
    holder: str,
    now: datetime,
) -> HolderCopy:
    signer = await issuers.current(session, award.tenant_id)
    # One credential: the list row stays locked while it is signed, unlike the consumer's batches.
    (slot,) = await status_lists.reserve(
        session, award.tenant_id, signer.did, 1, lambda doc: signer.sign(doc, now, badge=False), now
    )
    copy_id = copy_uuid(award.credential_id, holder)
    unsigned = holder_copy(json.loads(award.credential), copy_id=copy_id, holder_did=holder, issuer_did=signer.did)
    unsigned["credentialStatus"] = status_entry(slot).model_dump(mode="json", by_alias=True)
    signed = await signer.sign(unsigned, now)
    copy = HolderCopy(
        copy_id=copy_id,
        credential_id=award.credential_id,
        tenant_id=award.tenant_id,
        holder_did=holder,
        credential=json.dumps(signed),
        issued_at=now,
        status_list_id=slot.list_id,
        status_list_index=slot.index,
    )
    session.add(copy)
    # Announced like any credential, as a copy of the award's: the verifier publishes it under the award and
    # integrators learn of it; the copy's id is the event id, so a replayed outbox row is a duplicate.
    issued = BadgeIssued(
        tenant_id=award.tenant_id,
        learner_id=award.learner_id,
        award_id=award.award_id,
        achievement_id=award.achievement_id,
        credential_id=signed["id"],
        issuer_id=signer.did,
        issued_at=now,
        credential=signed,
        award_credential_id=f"urn:uuid:{award.credential_id}",
        holder=holder,
    )
    stage_event(
        session,
        IssuerOutbox,
        issued,
        CloudEvent(id=str(copy_id), source=SOURCE, type=BadgeIssued.CE_TYPE, subject=issued.key()),
    )
    await session.flush()
    return copy

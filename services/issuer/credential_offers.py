"""Claiming a badge into a wallet through OpenID for Verifiable Credential Issuance 1.0 (pre-authorized code).

1. An admin (or the LMS) makes a credential offer for an award (`create_offer`): a single-use, expiring
   pre-authorized code, optionally with a PIN (tx_code) the learner is given separately.
2. The wallet trades the code (and PIN) for a short-lived access token bound to the offer (`redeem`): of two
   requests racing with one code on any replicas, one gets a token.
3. It fetches a `c_nonce` (`new_nonce`), signs a `jwt` key proof over it, and asks for the credential
   (`issue`): the proof names the holder (its did:key, or a did:jwk), the nonce is spent, and the answer is the
   award's holder-bound copy, made exactly as the VC-API exchange makes it (`wallet.holder_bound_copy`).
Codes, tokens and nonces are stored only as SHA-256 digests, all in PostgreSQL, so any replica answers any step.
Failures the caller must remember (a wrong PIN counts; a spent nonce stays spent) are returned, not raised, so
the transaction that recorded them commits.
"""

import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.issuer.adapters.status_lists import StatusLists
from services.issuer.adapters.tables import CredentialOffer, IssuanceNonce, IssuedCredential, as_utc
from services.issuer.handlers import Issuers
from services.issuer.oid4vci import (
    CredentialRequest,
    OAuthError,
    TokenRequest,
    credential_offer,
    digest,
    new_secret,
    new_tx_code,
    offer_link_by_reference,
    offer_link_by_value,
    offer_uri,
    tx_code_digest,
    verify_key_proof,
)
from services.issuer.wallet import ClaimRefused, award_credential, holder_bound_copy
from shared.credentials.dates import format_xsd_datetime

DEFAULT_OFFER_TTL = timedelta(days=1)
ACCESS_TOKEN_TTL = timedelta(minutes=10)
NONCE_TTL = timedelta(minutes=5)
MISSING_TOKEN = "A Bearer access token from the token endpoint is required."
MAX_TX_CODE_FAILURES = 5  # then the code is dead: a 6-digit PIN cannot be guessed through it


@dataclass(frozen=True)
class CreatedOffer:
    """What the admin API answers once: the code is in the offer, the PIN only here."""

    issuer_url: str
    code: str
    tx_code: str | None
    expires_at: datetime

    def public(self) -> dict[str, Any]:
        offer = credential_offer(self.issuer_url, self.code, len(self.tx_code) if self.tx_code else None)
        uri = offer_uri(self.issuer_url, self.code)
        answer: dict[str, Any] = {
            "credential_offer": offer,
            "credential_offer_uri": uri,
            "offer_link": offer_link_by_value(offer),
            "offer_link_by_reference": offer_link_by_reference(uri),
            "qr_code": {"svg": f"{uri}/qr.svg", "png": f"{uri}/qr.png"},
            "expires_at": format_xsd_datetime(self.expires_at),
        }
        if self.tx_code is not None:
            answer["tx_code"] = self.tx_code
        return answer


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_in: int

    def public(self) -> dict[str, Any]:
        return {"access_token": self.token, "token_type": "Bearer", "expires_in": self.expires_in}


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


async def create_offer(
    session: AsyncSession,
    issuer_url: str,
    award_id: uuid.UUID,
    ttl: timedelta,
    tx_code_length: int | None,
) -> CreatedOffer:
    """A new credential offer for the award. LookupError: no such award; ClaimRefused: revoked."""
    row = await award_credential(session, award_id)
    if row.revoked_at is not None:
        raise ClaimRefused(409, "Revoked", "The award's credential is revoked; it cannot be claimed.", "revoked")
    code, now = new_secret(), _now()
    tx_code = new_tx_code(tx_code_length) if tx_code_length else None
    session.add(
        CredentialOffer(
            code_key=digest(code),
            credential_id=row.credential_id,
            tenant_id=row.tenant_id,
            tx_code_digest=tx_code_digest(code, tx_code) if tx_code else None,
            tx_code_length=tx_code_length if tx_code else None,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    await session.flush()
    return CreatedOffer(issuer_url, code, tx_code, now + ttl)


async def open_offer(session: AsyncSession, code: str) -> CredentialOffer:
    """The offer behind a `credential_offer_uri`, while its code can still be redeemed."""
    offer = await session.get(CredentialOffer, digest(code))
    if offer is None:
        raise ClaimRefused(404, "Not Found", "No such credential offer.", "offer.unknown")
    if offer.redeemed_at is not None:
        raise ClaimRefused(409, "Offer redeemed", "This credential offer was already used.", "offer.redeemed")
    if as_utc(offer.expires_at) <= _now():
        raise ClaimRefused(410, "Offer expired", "This credential offer has expired.", "offer.expired")
    return offer


async def redeem(session: AsyncSession, request: TokenRequest) -> AccessToken | OAuthError:
    """Trade a pre-authorized code (and its PIN) for an access token, once."""
    now = _now()
    code_key = digest(request.pre_authorized_code)
    # Locked: concurrent guesses of one code's PIN are counted one after another, never past the limit.
    offer = await session.get(CredentialOffer, code_key, with_for_update=True)
    if offer is None:
        return OAuthError("invalid_grant", "Unknown pre-authorized code.")
    if offer.redeemed_at is not None:
        return OAuthError("invalid_grant", "The pre-authorized code was already used.")
    if as_utc(offer.expires_at) <= now:
        return OAuthError("invalid_grant", "The pre-authorized code has expired.")
    if offer.tx_code_digest is None:
        if request.tx_code is not None:
            return OAuthError("invalid_request", "This offer has no tx_code; do not send one.")
    elif request.tx_code is None:
        return OAuthError("invalid_request", "This offer needs its tx_code.")
    elif offer.failed_tx_codes >= MAX_TX_CODE_FAILURES:
        return OAuthError("invalid_grant", "Too many wrong tx_codes: the pre-authorized code is no longer valid.")
    elif not hmac.compare_digest(tx_code_digest(request.pre_authorized_code, request.tx_code), offer.tx_code_digest):
        await session.execute(
            update(CredentialOffer)
            .where(CredentialOffer.code_key == code_key)  # type: ignore[arg-type]
            .values(failed_tx_codes=CredentialOffer.failed_tx_codes + 1)
            .execution_options(synchronize_session=False)
        )
        return OAuthError("invalid_grant", "Wrong tx_code.")
    award = await session.get(IssuedCredential, offer.credential_id)
    if award is None or award.revoked_at is not None:
        return OAuthError("invalid_grant", "The award's credential is revoked; it cannot be claimed.")
    token = new_secret()
    # Spend the code: of two requests racing on any replicas, one gets a token.
    spent = await session.execute(
        update(CredentialOffer)
        .where(
            CredentialOffer.code_key == code_key,  # type: ignore[arg-type]
            CredentialOffer.redeemed_at.is_(None),  # type: ignore[union-attr]
            CredentialOffer.expires_at > now,  # type: ignore[arg-type]
            CredentialOffer.failed_tx_codes < MAX_TX_CODE_FAILURES,  # type: ignore[arg-type]
        )
        .values(redeemed_at=now, token_key=digest(token), token_expires_at=now + ACCESS_TOKEN_TTL)
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        return OAuthError("invalid_grant", "The pre-authorized code was already used.")
    return AccessToken(token, int(ACCESS_TOKEN_TTL.total_seconds()))


async def new_nonce(session: AsyncSession) -> str:
    """A fresh single-use c_nonce; expired ones are swept as new ones are made."""
    now = _now()
    nonce = new_secret()
    await session.execute(delete(IssuanceNonce).where(IssuanceNonce.expires_at < now))  # type: ignore[arg-type]
    session.add(IssuanceNonce(nonce_key=digest(nonce), created_at=now, expires_at=now + NONCE_TTL))
    await session.flush()
    return nonce


async def bound_offer(session: AsyncSession, access_token: str | None) -> CredentialOffer:
    """The offer an access token was issued for, while the token lives; else invalid_token (401)."""
    if not access_token:
        raise OAuthError("invalid_token", MISSING_TOKEN, 401)
    offer = (
        await session.execute(select(CredentialOffer).where(CredentialOffer.token_key == digest(access_token)))
    ).scalar_one_or_none()
    if offer is None or offer.token_expires_at is None or as_utc(offer.token_expires_at) <= _now():
        raise OAuthError("invalid_token", "The access token is unknown or has expired.", 401)
    return offer


async def issue(
    session: AsyncSession,
    issuers: Issuers,
    status_lists: StatusLists,
    offer: CredentialOffer,
    request: CredentialRequest,
    credential_issuer: str,
) -> dict[str, Any] | OAuthError:
    """The credential response for a checked key proof: the holder-bound copy, as `ldp_vc`."""
    now = _now()
    try:
        proof = verify_key_proof(request.proof_jwt, credential_issuer=credential_issuer, now=datetime.now(UTC))
    except OAuthError as error:
        return error
    spent = await session.execute(
        update(IssuanceNonce)
        .where(
            IssuanceNonce.nonce_key == digest(proof.nonce),  # type: ignore[arg-type]
            IssuanceNonce.used_at.is_(None),  # type: ignore[union-attr]
            IssuanceNonce.expires_at > now,  # type: ignore[arg-type]
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        return OAuthError("invalid_nonce", "The key proof's nonce is unknown, used or expired: get a new c_nonce.")
    # One offer, one holder: the first key proof binds it, a later one must be the same holder.
    bound = await session.execute(
        update(CredentialOffer)
        .where(
            CredentialOffer.code_key == offer.code_key,  # type: ignore[arg-type]
            (CredentialOffer.holder_did.is_(None)) | (CredentialOffer.holder_did == proof.holder),  # type: ignore[union-attr,arg-type]
        )
        .values(holder_did=proof.holder)
        .execution_options(synchronize_session=False)
    )
    if bound.rowcount != 1:  # type: ignore[attr-defined]
        return OAuthError("credential_request_denied", "This offer was already claimed with another key.")
    try:
        copy = await holder_bound_copy(session, issuers, status_lists, offer.credential_id, proof.holder, now)
    except ClaimRefused as error:
        return OAuthError("credential_request_denied", str(error))
    return {"credentials": [{"credential": copy}]}

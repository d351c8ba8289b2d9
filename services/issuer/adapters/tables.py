"""The issuer service's own tables."""

import uuid
from datetime import UTC, datetime

from sqlalchemy import DateTime, Index, LargeBinary, Text, text
from sqlmodel import Field, SQLModel

from shared.db.tables import OutboxRecord, ProcessedEvent, utcnow


def as_utc(value: datetime) -> datetime:
    """SQLite hands timezone-aware columns back naive (in UTC); PostgreSQL keeps the zone."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class SigningKey(SQLModel, table=True):
    """A tenant's Ed25519 signing key; the private half is stored encrypted under the key-encryption key.

    At most one key per tenant is active (a partial unique index): two replicas creating or rotating a key at
    the same moment cannot both win. Inactive keys are kept so that every earlier badge keeps verifying.
    """

    __tablename__ = "issuer_signing_keys"
    __table_args__ = (
        Index(
            "uq_issuer_signing_keys_one_active",
            "tenant_id",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )
    tenant_id: str = Field(primary_key=True, max_length=63)
    key_id: str = Field(primary_key=True, max_length=128, description="publicKeyMultibase")
    encrypted_private_key: bytes = Field(sa_type=LargeBinary)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    retired_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class IssuedCredential(SQLModel, table=True):
    """Every credential issued; `award_id` is unique, so an award can never be issued twice."""

    __tablename__ = "issuer_credentials"
    credential_id: uuid.UUID = Field(primary_key=True)
    award_id: uuid.UUID = Field(unique=True)
    tenant_id: str = Field(max_length=63, index=True)
    learner_id: str = Field(max_length=256)
    achievement_id: str = Field(max_length=256)
    issuer_id: str = Field(max_length=512)
    credential: str = Field(sa_type=Text)
    issued_at: datetime = Field(sa_type=DateTime(timezone=True))
    # Where its revocation bit lives (null only for credentials issued before status lists existed).
    status_list_id: int | None = None
    status_list_index: int | None = None
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    revocation_reason: str | None = Field(default=None, max_length=1000)


class StatusList(SQLModel, table=True):
    """One Bitstring Status List of a tenant: its bits, the next free slot, and the signed list credential.

    A list belongs to one issuer DID (verifiers require the list's issuer to be the credential's issuer), so a
    did:key rotation, which changes the DID, starts a new list. Slots are handed out in blocks by incrementing
    `allocated` under the row's lock in a short transaction before signing (a slot reserved by a batch that then
    crashed stays unused), on the list of the reservation's lane (StatusLists.reserve);
    `(slot_multiplier * n + slot_offset) mod size` spreads them over the list so that an index does not reveal the
    order of issue.
    """

    __tablename__ = "issuer_status_lists"
    tenant_id: str = Field(primary_key=True, max_length=63)
    purpose: str = Field(primary_key=True, max_length=20)
    list_id: int = Field(primary_key=True)
    issuer_id: str = Field(max_length=512, index=True)
    lane: int = Field(default=0, description="Which of the tenant's reservation lanes fills this list")
    size: int
    allocated: int = 0
    slot_multiplier: int
    slot_offset: int
    bits: bytes = Field(sa_type=LargeBinary)
    credential: str = Field(sa_type=Text, description="The signed BitstringStatusListCredential (JSON)")
    updated_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class IssuerOutbox(OutboxRecord, table=True):
    __tablename__ = "issuer_outbox"


class IssuerProcessedEvent(ProcessedEvent, table=True):
    __tablename__ = "issuer_processed_events"


class WalletExchange(SQLModel, table=True):
    """A claim link: a VC-API exchange through which a wallet collects one award's credential, bound to its DID.

    The link's secret never is stored, only its SHA-256 (`exchange_key`): the table does not hand out claims.
    The exchange completes once (`completed_at`), which also spends its challenge.
    """

    __tablename__ = "issuer_wallet_exchanges"
    exchange_key: str = Field(primary_key=True, max_length=64)
    credential_id: uuid.UUID = Field(index=True, description="The award's credential")
    tenant_id: str = Field(max_length=63)
    challenge: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))
    completed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    holder_did: str | None = Field(default=None, max_length=512)
    copy_id: uuid.UUID | None = None


class HolderCopy(SQLModel, table=True):
    """An award's credential re-issued to a holder's DID. `copy_id` derives from (credential, holder), so a
    holder claiming again gets the same copy; each copy has its own status bit, set when the award is revoked."""

    __tablename__ = "issuer_holder_copies"
    copy_id: uuid.UUID = Field(primary_key=True)
    credential_id: uuid.UUID = Field(index=True, description="The award's credential")
    tenant_id: str = Field(max_length=63)
    holder_did: str = Field(max_length=512)
    credential: str = Field(sa_type=Text)
    issued_at: datetime = Field(sa_type=DateTime(timezone=True))
    status_list_id: int
    status_list_index: int


class CredentialOffer(SQLModel, table=True):
    """An OID4VCI credential offer: a pre-authorized code for one award's credential, redeemed once for an access
    token bound to it (OpenID for Verifiable Credential Issuance 1.0).

    Neither the code nor the token is stored, only their SHA-256 (`code_key`, `token_key`); the optional PIN
    (tx_code) is stored as an HMAC keyed by the code. `holder_did` is set by the first credential request.
    """

    __tablename__ = "issuer_oid4vci_offers"
    code_key: str = Field(primary_key=True, max_length=64)
    credential_id: uuid.UUID = Field(index=True, description="The award's credential")
    tenant_id: str = Field(max_length=63)
    tx_code_digest: str | None = Field(default=None, max_length=64)
    tx_code_length: int | None = None
    failed_tx_codes: int = 0
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))
    redeemed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    token_key: str | None = Field(default=None, max_length=64, unique=True)
    token_expires_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    holder_did: str | None = Field(default=None, max_length=512)


class IssuanceNonce(SQLModel, table=True):
    """A `c_nonce` from the OID4VCI nonce endpoint (its SHA-256): a key proof may carry it once, until it expires."""

    __tablename__ = "issuer_oid4vci_nonces"
    nonce_key: str = Field(primary_key=True, max_length=64)
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    expires_at: datetime = Field(sa_type=DateTime(timezone=True), index=True)
    used_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))

"""The verifier's read model: every credential announced on `credstream.badge-issued.v1`."""

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Text
from sqlmodel import Field, SQLModel

from shared.db.tables import ProcessedEvent, utcnow


class PublishedCredential(SQLModel, table=True):
    __tablename__ = "verifier_credentials"
    credential_uuid: uuid.UUID = Field(primary_key=True)
    credential_id: str = Field(max_length=512, unique=True)
    tenant_id: str = Field(max_length=63, index=True)
    achievement_id: str = Field(max_length=256)
    issuer_id: str = Field(max_length=512)
    credential: str = Field(sa_type=Text)
    issued_at: datetime = Field(sa_type=DateTime(timezone=True))
    received_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    # A wallet's holder-bound copy (badge-issued 1.1): the award's credential it copies, and the holder's DID.
    # Revoking the award revokes its copies (the issuer sets their status bits too).
    award_credential_uuid: uuid.UUID | None = Field(default=None, index=True)
    holder: str | None = Field(default=None, max_length=512)


class CredentialRevocation(SQLModel, table=True):
    """A revocation announced on `credstream.badge-revoked.v1`. Its own table, not a column of
    PublishedCredential: the two topics are consumed independently, so a revocation may arrive first."""

    __tablename__ = "verifier_revocations"
    credential_uuid: uuid.UUID = Field(primary_key=True)
    credential_id: str = Field(max_length=512)
    tenant_id: str = Field(max_length=63, index=True)
    revoked_at: datetime = Field(sa_type=DateTime(timezone=True))
    reason: str = Field(max_length=1000)
    status_list_credential: str = Field(max_length=2048)
    status_list_index: int
    received_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class VerifierProcessedEvent(ProcessedEvent, table=True):
    __tablename__ = "verifier_processed_events"

"""The issuer service's own tables."""

import uuid
from datetime import datetime

from sqlalchemy import DateTime, LargeBinary, Text
from sqlmodel import Field, SQLModel

from shared.db.tables import OutboxRecord, ProcessedEvent, utcnow


class SigningKey(SQLModel, table=True):
    """A tenant's Ed25519 signing key; the private half is stored encrypted under the key-encryption key."""

    __tablename__ = "issuer_signing_keys"
    tenant_id: str = Field(primary_key=True, max_length=63)
    key_id: str = Field(primary_key=True, max_length=128, description="publicKeyMultibase")
    encrypted_private_key: bytes = Field(sa_type=LargeBinary)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


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


class IssuerOutbox(OutboxRecord, table=True):
    __tablename__ = "issuer_outbox"


class IssuerProcessedEvent(ProcessedEvent, table=True):
    __tablename__ = "issuer_processed_events"

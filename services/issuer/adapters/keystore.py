"""Signing keys at rest: AES-256-GCM under a key-encryption key derived from the configured secret.

The database holds only sealed seeds (nonce || ciphertext || tag, with tenant and key id bound in as associated
data, so a sealed key cannot be swapped to another tenant). Decrypted keys live in process memory only.
"""

from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.issuer.adapters.tables import SigningKey
from shared.credentials.keys import generate_key, key_from_seed, key_to_seed, public_key_multibase
from shared.db.tables import utcnow
from shared.sealing import KeyEncryption


@dataclass(frozen=True)
class TenantKey:
    """A usable signing key of a tenant (decrypted, in memory only)."""

    tenant_id: str
    key_id: str  # publicKeyMultibase
    private_key: Ed25519PrivateKey
    created_at: datetime


class KeyNotFound(LookupError):
    """No such key for the tenant."""


class KeyStore:
    """A tenant's keys: the active one (created on first use), earlier ones, rotation and revocation.

    Which key is active is read from the database on every call, so a rotation made by another replica takes
    effect at once; only the decrypted key material is cached.
    """

    def __init__(self, encryption: KeyEncryption) -> None:
        self._encryption = encryption
        self._decrypted: dict[tuple[str, str], Ed25519PrivateKey] = {}

    async def active_key(self, session: AsyncSession, tenant_id: str) -> TenantKey:
        """The key new credentials are signed with; the tenant's first key is created here if it has none."""
        row = await self._active_row(session, tenant_id)
        if row is None:
            try:
                # A savepoint, so that losing the race to another replica leaves the caller's transaction usable.
                async with session.begin_nested():
                    row = self._new_row(tenant_id)
                    session.add(row)
                    await session.flush()
            except IntegrityError:
                row = await self._active_row(session, tenant_id)
                if row is None:
                    raise
        return self._usable(row)

    async def key(self, session: AsyncSession, tenant_id: str, key_id: str) -> TenantKey:
        """A specific key of the tenant, active or not (e.g. to re-sign a did:key status list)."""
        row = await session.get(SigningKey, (tenant_id, key_id))
        if row is None:
            raise KeyNotFound(f"tenant {tenant_id!r} has no key {key_id!r}")
        return self._usable(row)

    async def keys(self, session: AsyncSession, tenant_id: str) -> list[SigningKey]:
        """Every key of the tenant, oldest first (public metadata; the sealed seeds stay sealed)."""
        rows = await session.execute(
            select(SigningKey)
            .where(SigningKey.tenant_id == tenant_id)
            .order_by(SigningKey.created_at, SigningKey.key_id)  # type: ignore[arg-type]
        )
        return list(rows.scalars().all())

    async def rotate(self, session: AsyncSession, tenant_id: str) -> TenantKey:
        """Retire the active key (it stays published and valid for what it signed) and activate a new one.

        Two concurrent rotations of one tenant cannot leave two active keys: the loser's insert violates the
        one-active-key index and raises IntegrityError; the caller retries in a new transaction.
        """
        now = utcnow()
        await session.execute(
            update(SigningKey)
            .where(SigningKey.tenant_id == tenant_id, SigningKey.active == True)  # noqa: E712 - SQL expression
            .values(active=False, retired_at=now)
        )
        row = self._new_row(tenant_id, created_at=now)
        session.add(row)
        await session.flush()
        return self._usable(row)

    async def revoke(self, session: AsyncSession, tenant_id: str, key_id: str) -> SigningKey:
        """Mark a retired key revoked; raises KeyNotFound, or ValueError for the active key (rotate first)."""
        row = await session.get(SigningKey, (tenant_id, key_id), with_for_update=True)
        if row is None:
            raise KeyNotFound(f"tenant {tenant_id!r} has no key {key_id!r}")
        if row.active:
            raise ValueError("the active key cannot be revoked: rotate first, then revoke the retired key")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            session.add(row)
            await session.flush()
        return row

    async def _active_row(self, session: AsyncSession, tenant_id: str) -> SigningKey | None:
        rows = await session.execute(
            select(SigningKey).where(SigningKey.tenant_id == tenant_id, SigningKey.active == True)  # noqa: E712
        )
        return rows.scalars().first()

    def _new_row(self, tenant_id: str, created_at: datetime | None = None) -> SigningKey:
        key = generate_key()
        key_id = public_key_multibase(key)
        self._decrypted[(tenant_id, key_id)] = key
        return SigningKey(
            tenant_id=tenant_id,
            key_id=key_id,
            encrypted_private_key=self._encryption.seal(key_to_seed(key), tenant_id, key_id),
            created_at=created_at or utcnow(),
        )

    def _usable(self, row: SigningKey) -> TenantKey:
        cache_key = (row.tenant_id, row.key_id)
        key = self._decrypted.get(cache_key)
        if key is None:
            key = key_from_seed(self._encryption.open(row.encrypted_private_key, row.tenant_id, row.key_id))
            self._decrypted[cache_key] = key
        return TenantKey(row.tenant_id, row.key_id, key, row.created_at)

"""Signing keys at rest: AES-256-GCM under a key-encryption key derived from the configured secret."""

import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.issuer.adapters.tables import SigningKey
from shared.credentials.keys import generate_key, key_from_seed, key_to_seed, public_key_multibase

_NONCE_BYTES = 12


class KeyEncryption:
    """Encrypts 32-byte Ed25519 seeds; the tenant and key id are bound in as associated data."""

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("a key-encryption secret is required")
        kek = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"credstream-kek-v1", info=b"signing-keys").derive(
            secret.encode()
        )
        self._aead = AESGCM(kek)

    def seal(self, seed: bytes, tenant_id: str, key_id: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, seed, f"{tenant_id}/{key_id}".encode())

    def open(self, sealed: bytes, tenant_id: str, key_id: str) -> bytes:
        nonce, ciphertext = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
        return self._aead.decrypt(nonce, ciphertext, f"{tenant_id}/{key_id}".encode())


class KeyStore:
    """Finds a tenant's active signing key, creating one on first use."""

    def __init__(self, encryption: KeyEncryption) -> None:
        self._encryption = encryption
        self._cache: dict[str, Ed25519PrivateKey] = {}

    async def active_key(self, session: AsyncSession, tenant_id: str) -> Ed25519PrivateKey:
        if tenant_id in self._cache:
            return self._cache[tenant_id]
        rows = await session.execute(
            select(SigningKey)
            .where(SigningKey.tenant_id == tenant_id, SigningKey.active == True)  # noqa: E712 - SQL expression
            .order_by(SigningKey.created_at.desc())  # type: ignore[attr-defined]
        )
        row = rows.scalars().first()
        if row is None:
            key = generate_key()
            key_id = public_key_multibase(key)
            session.add(
                SigningKey(
                    tenant_id=tenant_id,
                    key_id=key_id,
                    encrypted_private_key=self._encryption.seal(key_to_seed(key), tenant_id, key_id),
                )
            )
            await session.flush()
            return key  # cached only once a later call reads it back committed
        key = key_from_seed(self._encryption.open(row.encrypted_private_key, tenant_id, row.key_id))
        self._cache[tenant_id] = key
        return key

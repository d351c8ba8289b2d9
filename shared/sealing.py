"""Secrets at rest: one key-encryption secret (CREDSTREAM_KEY_ENCRYPTION_KEY), a derived key per purpose, so a
sealed signing key cannot be opened as a webhook secret or moved to another tenant or id."""

import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_NONCE_BYTES = 12


class KeyEncryption:
    """Seals secrets at rest (the issuer's Ed25519 seeds, webhook secrets) with AES-256-GCM under a key derived
    from the key-encryption secret; the owner (tenant) and the secret's id are bound in as associated data."""

    def __init__(self, secret: str, *, purpose: bytes = b"signing-keys") -> None:
        """`purpose`: HKDF info, so each kind of sealed secret gets its own key (webhook secrets: b"webhooks")."""
        if not secret:
            raise ValueError("a key-encryption secret is required")
        kek = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"credstream-kek-v1", info=purpose).derive(
            secret.encode()
        )
        self._aead = AESGCM(kek)

    def seal(self, seed: bytes, tenant_id: str, key_id: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, seed, f"{tenant_id}/{key_id}".encode())

    def open(self, sealed: bytes, tenant_id: str, key_id: str) -> bytes:
        nonce, ciphertext = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
        return self._aead.decrypt(nonce, ciphertext, f"{tenant_id}/{key_id}".encode())

"""Connection secrets at rest (HMAC and JWT shared secrets): AES-256-GCM under a key derived from the configured
key-encryption secret, with the connection id bound in as associated data (a sealed secret moved to another
connection's row does not open)."""

import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_NONCE_BYTES = 12


class SecretBox:
    def __init__(self, key_encryption_secret: str) -> None:
        if not key_encryption_secret:
            raise ValueError("a key-encryption secret is required")
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=b"credstream-kek-v1", info=b"enrollment-connection-secrets"
        ).derive(key_encryption_secret.encode())
        self._aead = AESGCM(key)

    def seal(self, secret: str, connection_id: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, secret.encode(), connection_id.encode())

    def open(self, sealed: bytes, connection_id: str) -> str:
        nonce, ciphertext = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
        return self._aead.decrypt(nonce, ciphertext, connection_id.encode()).decode()

"""Any public key a supported proof suite verifies with, decoded from its Multikey ``publicKeyMultibase``.

Ed25519 (``z6Mk…``, :mod:`shared.credentials.keys`) and ECDSA P-256 / P-384 (``zDn…`` / ``z82…``,
:mod:`shared.credentials.ecdsa`); the multicodec header says which.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .ecdsa import ecdsa_public_key_from_multibase, is_ecdsa_multikey
from .keys import public_key_from_multibase

PublicKey = Ed25519PublicKey | EllipticCurvePublicKey
# How the base58btc text of each supported Multikey begins (its multicodec header, encoded).
MULTIKEY_PREFIXES = ("z6Mk", "zDn", "z82")


def multikey_public_key(value: str) -> PublicKey:
    """Parse a Multikey ``publicKeyMultibase`` of any supported type; raise :class:`KeyFormatError` if none."""
    if is_ecdsa_multikey(value):
        return ecdsa_public_key_from_multibase(value)
    return public_key_from_multibase(value)

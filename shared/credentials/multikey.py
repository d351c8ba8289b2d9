"""Any public key a supported proof suite verifies with, decoded from its Multikey ``publicKeyMultibase``.

Ed25519 (``z6Mk…``, :mod:`shared.credentials.keys`) and ECDSA P-256 / P-384 (``zDn…`` / ``z82…``,
:mod:`shared.credentials.ecdsa`); the multicodec header says which.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .ecdsa import ecdsa_public_key_from_multibase
from .keys import public_key_from_multibase

PublicKey = Ed25519PublicKey | EllipticCurvePublicKey
# How the base58btc text of each supported Multikey begins (its multicodec header, encoded): a fixed-size
# value after a fixed header always encodes to the same leading characters.
ECDSA_MULTIKEY_PREFIXES = ("zDn", "z82")
MULTIKEY_PREFIXES = ("z6Mk", *ECDSA_MULTIKEY_PREFIXES)


def multikey_public_key(value: str) -> PublicKey:
    """Parse a Multikey ``publicKeyMultibase`` of any supported type; raise :class:`KeyFormatError` if none."""
    # Dispatch on the text (both parsers check the decoded header): Ed25519 keys are decoded once, as before.
    if isinstance(value, str) and value.startswith(ECDSA_MULTIKEY_PREFIXES):
        return ecdsa_public_key_from_multibase(value)
    return public_key_from_multibase(value)

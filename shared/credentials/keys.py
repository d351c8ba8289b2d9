"""Ed25519 keys as Multikey values and did:key identifiers.

``publicKeyMultibase = "z" + base58btc(0xed 0x01 || pub)`` (always starts with ``z6Mk``);
``did:key:<publicKeyMultibase>`` with the single verification method ``<did>#<publicKeyMultibase>``.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import KeyFormatError
from .multibase import ED25519_PUB_MULTICODEC, decode_base58btc, encode_base58btc

DID_KEY_PREFIX = "did:key:"
DID_V1_CONTEXT = "https://www.w3.org/ns/did/v1"
MULTIKEY_V1_CONTEXT = "https://w3id.org/security/multikey/v1"
ED25519_KEY_SIZE = 32


def generate_key() -> Ed25519PrivateKey:
    """Generate a fresh Ed25519 private key."""
    return Ed25519PrivateKey.generate()


def key_from_seed(seed: bytes) -> Ed25519PrivateKey:
    """Load an Ed25519 private key from its 32-byte seed (RFC 8032 private key)."""
    if len(seed) != ED25519_KEY_SIZE:
        raise KeyFormatError(f"Ed25519 seed must be {ED25519_KEY_SIZE} bytes, got {len(seed)}")
    return Ed25519PrivateKey.from_private_bytes(seed)


def key_to_seed(key: Ed25519PrivateKey) -> bytes:
    """Return the 32-byte seed of an Ed25519 private key."""
    return key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())


def public_key_bytes(public_key: Ed25519PublicKey) -> bytes:
    """Return the raw 32-byte Ed25519 public key."""
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _public(key: Ed25519PrivateKey | Ed25519PublicKey) -> Ed25519PublicKey:
    return key.public_key() if isinstance(key, Ed25519PrivateKey) else key


def public_key_multibase(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """Return the Multikey ``publicKeyMultibase`` (``z6Mk…``); a private key gives its public half's."""
    return encode_base58btc(ED25519_PUB_MULTICODEC + public_key_bytes(_public(key)))


def public_key_from_multibase(value: str) -> Ed25519PublicKey:
    """Parse a Multikey ``publicKeyMultibase`` into an Ed25519 public key.

    Rejects anything but base58btc with the Ed25519 multicodec header and a 32-byte key.
    """
    raw = decode_base58btc(value)
    if raw[:2] != ED25519_PUB_MULTICODEC:
        raise KeyFormatError(f"publicKeyMultibase {value!r} is not an Ed25519 public key (multicodec 0xed01)")
    key = raw[2:]
    if len(key) != ED25519_KEY_SIZE:
        raise KeyFormatError(f"Ed25519 public key in {value!r} has {len(key)} bytes, expected 32")
    return Ed25519PublicKey.from_public_bytes(key)


def did_key(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """Return the ``did:key`` DID of a key."""
    return DID_KEY_PREFIX + public_key_multibase(key)


def did_key_verification_method(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """Return the verification method id ``did:key:<mb>#<mb>`` of a key."""
    mb = public_key_multibase(key)
    return f"{DID_KEY_PREFIX}{mb}#{mb}"


def parse_did_key(did: str) -> tuple[str, Ed25519PublicKey]:
    """Split a ``did:key`` DID (no fragment) into its multibase value and public key."""
    if not did.startswith(DID_KEY_PREFIX) or "#" in did:
        raise KeyFormatError(f"not a did:key DID: {did!r}")
    mb = did[len(DID_KEY_PREFIX) :]
    return mb, public_key_from_multibase(mb)


def did_key_document(key_or_did: Ed25519PrivateKey | Ed25519PublicKey | str) -> dict[str, Any]:
    """Return the DID document a did:key resolves to, with one Multikey verification method.

    The method is referenced from ``authentication``, ``assertionMethod``, ``capabilityInvocation`` and
    ``capabilityDelegation``, as in the did:key method specification (Multikey representation).
    """
    if isinstance(key_or_did, str):
        mb, _ = parse_did_key(key_or_did)
    else:
        mb = public_key_multibase(key_or_did)
    did = DID_KEY_PREFIX + mb
    vm_id = f"{did}#{mb}"
    return {
        "@context": [DID_V1_CONTEXT, MULTIKEY_V1_CONTEXT],
        "id": did,
        "verificationMethod": [
            {"id": vm_id, "type": "Multikey", "controller": did, "publicKeyMultibase": mb},
        ],
        "authentication": [vm_id],
        "assertionMethod": [vm_id],
        "capabilityInvocation": [vm_id],
        "capabilityDelegation": [vm_id],
    }

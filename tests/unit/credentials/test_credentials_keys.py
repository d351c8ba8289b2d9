"""Ed25519 keys, Multikey encoding and did:key."""

from __future__ import annotations

import base58
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.credentials import (
    DidKeyResolver,
    KeyFormatError,
    KeyResolutionError,
    did_key,
    did_key_document,
    did_key_verification_method,
    generate_key,
    key_from_seed,
    key_to_seed,
    public_key_from_multibase,
    public_key_multibase,
)
from shared.credentials.keys import public_key_bytes
from shared.credentials.multibase import decode_base58btc, encode_base58btc

# RFC 8032 section 7.1, test 1.
RFC8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUB = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")


def test_base58btc_known_value() -> None:
    assert encode_base58btc(b"hello world") == "zStV1DL6CwTryKyV"
    assert decode_base58btc("zStV1DL6CwTryKyV") == b"hello world"
    assert encode_base58btc(b"\x00\x00\x01") == "z112"  # leading zero bytes become "1"


def test_seed_round_trip_and_rfc8032_public_key() -> None:
    key = key_from_seed(RFC8032_SEED)
    assert key_to_seed(key) == RFC8032_SEED
    assert public_key_bytes(key.public_key()) == RFC8032_PUB


def test_multikey_encoding() -> None:
    key = key_from_seed(RFC8032_SEED)
    mb = public_key_multibase(key)
    assert mb.startswith("z6Mk")
    assert base58.b58decode(mb[1:]) == b"\xed\x01" + RFC8032_PUB
    assert public_key_multibase(key.public_key()) == mb
    assert public_key_bytes(public_key_from_multibase(mb)) == RFC8032_PUB


def test_vector_key_parses() -> None:
    mb = "z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi"
    assert public_key_multibase(public_key_from_multibase(mb)) == mb


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi",  # no multibase prefix
        "z0OIl",  # not base58
        encode_base58btc(b"\xe7\x01" + b"\x02" * 33),  # secp256k1 multicodec
        encode_base58btc(b"\xed\x01" + b"\x01" * 31),  # too short
        encode_base58btc(b"\xed\x01" + b"\x01" * 33),  # too long
    ],
)
def test_bad_multibase_rejected(bad: str) -> None:
    with pytest.raises(KeyFormatError):
        public_key_from_multibase(bad)


def test_bad_seed_length() -> None:
    with pytest.raises(KeyFormatError):
        key_from_seed(b"\x00" * 31)


def test_did_key_and_document() -> None:
    key = generate_key()
    assert isinstance(key, Ed25519PrivateKey)
    mb = public_key_multibase(key)
    did = did_key(key)
    vm = did_key_verification_method(key)
    assert did == f"did:key:{mb}"
    assert vm == f"{did}#{mb}"
    doc = did_key_document(key)
    assert doc == did_key_document(did)
    assert doc["id"] == did
    assert doc["verificationMethod"] == [{"id": vm, "type": "Multikey", "controller": did, "publicKeyMultibase": mb}]
    assert doc["assertionMethod"] == [vm]


def test_did_key_resolver() -> None:
    key = generate_key()
    method = DidKeyResolver().resolve_verification_method(did_key_verification_method(key))
    assert method.controller == did_key(key)
    assert public_key_bytes(method.public_key) == public_key_bytes(key.public_key())
    assert "assertionMethod" in method.purposes


@pytest.mark.parametrize("suffix", ["#key-1", "", "#z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi"])
def test_did_key_resolver_rejects_other_fragments(suffix: str) -> None:
    did = did_key(generate_key())
    with pytest.raises(KeyResolutionError) as info:
        DidKeyResolver().resolve_verification_method(did + suffix)
    assert info.value.code == "issuer.verification_method_invalid"


def test_did_key_resolver_rejects_non_did_key() -> None:
    with pytest.raises(KeyResolutionError):
        DidKeyResolver().resolve_verification_method("did:web:example.com#key-1")

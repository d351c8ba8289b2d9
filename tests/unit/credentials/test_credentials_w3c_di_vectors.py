"""The W3C test vectors of eddsa-jcs-2022 (vc-di-eddsa), ecdsa-rdfc-2019 and ecdsa-jcs-2019 (vc-di-ecdsa).

fixtures/vectors/w3c-di holds, per suite and curve, the signed credential, the canonical document and proof
configuration, and the combined hash (hex) from the specifications' TestVectors folders (see the README
there). Every intermediate value must match, the signature must verify, and a changed claim must not.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from shared.credentials.jcs import jcs, jcs_documents, jcs_hash_data
from shared.credentials.jsonld import make_document_loader
from shared.credentials.multikey import multikey_public_key
from shared.credentials.proof import proof_hashes
from shared.credentials.rdf import parse_nquads
from shared.credentials.rdfc import canonicalize_dataset
from shared.credentials.suites import verify_embedded_proof

VECTORS = Path(__file__).resolve().parent / "fixtures" / "vectors" / "w3c-di"
# The whole of https://www.w3.org/ns/credentials/examples/v2 (the vectors' second context), not bundled.
EXAMPLES_CONTEXT = {"@context": {"@vocab": "https://www.w3.org/ns/credentials/examples#"}}
LOADER = make_document_loader({"https://www.w3.org/ns/credentials/examples/v2": EXAMPLES_CONTEXT})

# (file prefix, file suffix, hash) per vector.
JCS_VECTORS = [
    ("eddsa-jcs-2022", "JCS", "sha256"),
    ("ecdsa-jcs-2019-p256", "JCSECDSAP256", "sha256"),
    ("ecdsa-jcs-2019-p384", "JCSECDSAP384", "sha384"),
]
RDFC_VECTORS = [
    ("ecdsa-rdfc-2019-p256", "ECDSAP256", "sha256"),
    ("ecdsa-rdfc-2019-p384", "ECDSAP384", "sha384"),
]


def _text(name: str) -> str:
    return (VECTORS / name).read_text(encoding="utf-8")


def _vector(prefix: str, suffix: str) -> tuple[dict[str, Any], str, str, bytes]:
    """(signed credential, canonical document, canonical proof configuration, combined hash)."""
    signed = json.loads(_text(f"{prefix}-signed{suffix}.json"))
    combined = bytes.fromhex(_text(f"{prefix}-combinedHash{suffix}.txt").strip())
    return signed, _text(f"{prefix}-canonDoc{suffix}.txt"), _text(f"{prefix}-proofCanon{suffix}.txt"), combined


def _key(signed: dict[str, Any]) -> Any:
    return multikey_public_key(signed["proof"]["verificationMethod"].partition("#")[2])


def _assert_verifies_and_tampering_fails(signed: dict[str, Any]) -> None:
    result = verify_embedded_proof(signed, signed["proof"], _key(signed), loader=LOADER)
    assert (result.valid, result.code) == (True, "proof.valid"), result
    tampered = copy.deepcopy(signed)
    tampered["credentialSubject"]["alumniOf"] = "Another School"
    result = verify_embedded_proof(tampered, tampered["proof"], _key(tampered), loader=LOADER)
    assert (result.valid, result.code) == (False, "proof.signature_invalid")


@pytest.mark.parametrize(("prefix", "suffix", "hash_name"), JCS_VECTORS)
def test_jcs_vectors(prefix: str, suffix: str, hash_name: str) -> None:
    signed, canon_doc, proof_canon, combined = _vector(prefix, suffix)
    unsecured, config = jcs_documents(signed, signed["proof"])
    assert jcs(unsecured).decode() == canon_doc
    assert jcs(config).decode() == proof_canon
    assert jcs_hash_data(signed, signed["proof"], hash_name) == combined
    _assert_verifies_and_tampering_fails(signed)


@pytest.mark.parametrize(("prefix", "suffix", "hash_name"), RDFC_VECTORS)
def test_ecdsa_rdfc_vectors(prefix: str, suffix: str, hash_name: str) -> None:
    signed, canon_doc, proof_canon, combined = _vector(prefix, suffix)
    hashes = proof_hashes(signed, loader=LOADER, hash_algorithm=hash_name)
    assert hashes.document_nquads == canon_doc
    assert hashes.proof_config_nquads == proof_canon
    assert hashes.hash_data == combined
    _assert_verifies_and_tampering_fails(signed)


@pytest.mark.parametrize(("curve", "hash_name", "other"), [("P256", "sha256", "sha384"), ("P384", "sha384", "sha256")])
def test_rdfc_blank_node_labels_follow_the_curves_hash(curve: str, hash_name: str, other: str) -> None:
    # The "employ" vectors have several blank nodes: their canonical labels depend on RDFC-1.0's hash, which
    # vc-di-ecdsa sets to SHA-384 for P-384 keys.
    canonical = _text(f"ecdsa-rdfc-2019-{curve.lower()}-employ-canonDocECDSA{curve}.txt")
    dataset = parse_nquads(canonical)
    assert canonicalize_dataset(dataset, hash_algorithm=hash_name).nquads == canonical
    assert canonicalize_dataset(dataset, hash_algorithm=other).nquads != canonical


def test_jcs_proof_context_must_prefix_the_documents() -> None:
    signed, *_ = _vector("eddsa-jcs-2022", "JCS")
    signed["proof"]["@context"] = ["https://www.w3.org/ns/credentials/v2", "https://example.org/other"]
    result = verify_embedded_proof(signed, signed["proof"], _key(signed), loader=LOADER)
    assert (result.valid, result.code) == (False, "proof.context_mismatch")


def test_jcs_rejects_what_is_not_i_json() -> None:
    signed, *_ = _vector("ecdsa-jcs-2019-p256", "JCSECDSAP256")
    signed["credentialSubject"]["count"] = 2**60  # beyond I-JSON's exact integers: RFC 8785 cannot serialise it
    result = verify_embedded_proof(signed, signed["proof"], _key(signed), loader=LOADER)
    assert (result.valid, result.code) == (False, "data.jcs_invalid")

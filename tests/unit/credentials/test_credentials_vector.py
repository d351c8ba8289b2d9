"""The 1EdTech OB 3.0 eddsa-rdfc-2022 known-answer vector (copied from shared/standards/vectors)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from shared.credentials import (
    StaticDocumentResolver,
    proof_hashes,
    public_key_from_multibase,
    verify_credential,
    verify_proof,
)
from shared.credentials.jsonld import bundled_context_urls, load_bundled_context

DOCUMENT_HASH = "87f65a76d40146205e3b3e06cb0fbd153f97f9ce70372390f52566bb7f9e0773"
PROOF_CONFIG_HASH = "d34009cea0dbc1ca941e09dc01c8c9d3e3ce3c5b853f67ee44698dcea10f5d19"
VECTOR_KEY = "z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi"
STANDARDS = Path(__file__).resolve().parents[3] / ".." / "shared" / "standards"


@pytest.fixture
def vector(vectors_dir: Path, load_json: Callable[[Path], Any]) -> dict[str, Any]:
    return load_json(vectors_dir / "1edtech-ob3-eddsa-rdfc-2022.json")


@pytest.fixture
def vector_resolver(vectors_dir: Path, load_json: Callable[[Path], Any]) -> StaticDocumentResolver:
    index = load_json(vectors_dir / "docs.json")
    return StaticDocumentResolver({url: load_json(vectors_dir / name) for url, name in index.items()})


def test_document_nquads_byte_for_byte(vector: dict[str, Any], vectors_dir: Path) -> None:
    expected = (vectors_dir / "1edtech-ob3-document-canon.txt").read_bytes()
    assert proof_hashes(vector).document_nquads.encode("utf-8") == expected


def test_proof_config_nquads_byte_for_byte(vector: dict[str, Any], vectors_dir: Path) -> None:
    expected = (vectors_dir / "1edtech-ob3-proof-canon.txt").read_bytes()
    assert proof_hashes(vector).proof_config_nquads.encode("utf-8") == expected


def test_hashes(vector: dict[str, Any]) -> None:
    hashes = proof_hashes(vector)
    assert hashes.document_hash.hex() == DOCUMENT_HASH
    assert hashes.proof_config_hash.hex() == PROOF_CONFIG_HASH
    # Proof config hash first, then document hash: 64 bytes, not one hash over both.
    assert hashes.hash_data == bytes.fromhex(PROOF_CONFIG_HASH + DOCUMENT_HASH)


def test_vector_passes_the_safe_mode_check(vector: dict[str, Any]) -> None:
    proof_hashes(vector, check_terms=True)  # raises UndefinedTermError on any dropped term


def test_signature_verifies_with_issuer_key_document(
    vector: dict[str, Any], vector_resolver: StaticDocumentResolver
) -> None:
    method = vector_resolver.resolve_verification_method(vector["proof"]["verificationMethod"])
    assert method.controller == "https://example.edu/issuers/565049"
    assert "assertionMethod" in method.purposes
    result = verify_proof(vector, method.public_key)
    assert result.valid, result


def test_full_verification_report(
    vector: dict[str, Any], vector_resolver: StaticDocumentResolver, now: datetime
) -> None:
    report = verify_credential(vector, resolver=vector_resolver, now=now)
    assert report.verified, report.failures()
    assert report.issuer_id == "https://example.edu/issuers/565049"


def test_tampered_vector_fails(vector: dict[str, Any]) -> None:
    tampered = copy.deepcopy(vector)
    tampered["credentialSubject"]["achievement"]["name"] = "Teamwork!"
    assert verify_proof(tampered, public_key_from_multibase(VECTOR_KEY)).code == "proof.signature_invalid"


def test_changed_proof_created_fails(vector: dict[str, Any]) -> None:
    tampered = copy.deepcopy(vector)
    tampered["proof"]["created"] = "2010-01-01T19:23:25Z"
    assert verify_proof(tampered, public_key_from_multibase(VECTOR_KEY)).code == "proof.signature_invalid"


@pytest.mark.skipif(not STANDARDS.is_dir(), reason="../shared/standards not present")
def test_fixtures_and_contexts_match_shared_standards(vectors_dir: Path, load_json: Callable[[Path], Any]) -> None:
    # Top-level files mirror ../shared/standards; subfolders (w3c-di) come from the W3C specs instead.
    for path in (p for p in vectors_dir.iterdir() if p.is_file()):
        assert path.read_bytes() == (STANDARDS / "vectors" / path.name).read_bytes(), path.name
    index = load_json(STANDARDS / "contexts" / "index.json")
    assert set(index) <= bundled_context_urls()
    for url, name in index.items():
        assert load_bundled_context(url) == load_json(STANDARDS / "contexts" / name), url

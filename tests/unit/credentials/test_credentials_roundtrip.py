"""Build -> sign with did:key -> verify, and every tampering fails with the right code."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.credentials import (
    CredentialError,
    CredentialStructureError,
    DidKeyResolver,
    UndefinedTermError,
    did_key,
    did_key_verification_method,
    generate_key,
    proof_hashes,
    public_key_multibase,
    sign_credential,
    verify_credential,
    verify_proof,
)


def _report_codes(credential: dict[str, Any], now: datetime) -> set[str]:
    return verify_credential(credential, resolver=DidKeyResolver(), now=now).codes()


def test_round_trip_verifies(signed_credential: dict[str, Any], now: datetime) -> None:
    report = verify_credential(signed_credential, resolver=DidKeyResolver(), now=now)
    assert report.verified, report.failures()
    assert {c.check for c in report.checks} >= {
        "structure",
        "data.terms",
        "proof.suite",
        "issuer.key",
        "proof.signature",
        "validity",
    }
    dumped = report.model_dump()
    assert json.loads(json.dumps(dumped)) == dumped  # JSON-ready
    assert dumped["verified"] is True


def test_proof_shape(signed_credential: dict[str, Any], issuer_key: Ed25519PrivateKey) -> None:
    proof = signed_credential["proof"]
    mb = public_key_multibase(issuer_key)
    assert proof == {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-rdfc-2022",
        "created": "2026-01-01T00:00:00Z",
        "verificationMethod": f"did:key:{mb}#{mb}",
        "proofPurpose": "assertionMethod",
        "proofValue": proof["proofValue"],
    }
    assert proof["proofValue"].startswith("z")
    assert "@context" not in proof


def test_signing_does_not_mutate_input_and_is_deterministic(
    unsigned_credential: dict[str, Any], issuer_key: Ed25519PrivateKey, signed_at: datetime
) -> None:
    before = copy.deepcopy(unsigned_credential)
    vm = did_key_verification_method(issuer_key)
    first = sign_credential(unsigned_credential, issuer_key, vm, signed_at)
    second = sign_credential(unsigned_credential, issuer_key, vm, signed_at)
    assert unsigned_credential == before
    assert first == second  # Ed25519 is deterministic


def test_signed_hash_data_is_proof_hash_then_document_hash(signed_credential: dict[str, Any]) -> None:
    hashes = proof_hashes(signed_credential)
    assert len(hashes.hash_data) == 64
    assert hashes.hash_data[:32] == hashes.proof_config_hash


def test_tampered_subject_fails(signed_credential: dict[str, Any], now: datetime) -> None:
    tampered = copy.deepcopy(signed_credential)
    tampered["credentialSubject"]["id"] = "urn:uuid:00000000-0000-4000-8000-000000000000"
    assert _report_codes(tampered, now) == {"proof.signature_invalid"}


def test_tampered_achievement_name_fails(signed_credential: dict[str, Any], now: datetime) -> None:
    tampered = copy.deepcopy(signed_credential)
    tampered["credentialSubject"]["achievement"]["name"] = "Leadership"
    assert _report_codes(tampered, now) == {"proof.signature_invalid"}


def test_tampered_result_fails(signed_credential: dict[str, Any], now: datetime) -> None:
    tampered = copy.deepcopy(signed_credential)
    tampered["credentialSubject"]["result"][0]["value"] = "100"
    assert _report_codes(tampered, now) == {"proof.signature_invalid"}


def test_swapped_key_fails(signed_credential: dict[str, Any], now: datetime) -> None:
    # Re-point issuer and verification method to another did:key: consistent, but the signature is not theirs.
    other = generate_key()
    tampered = copy.deepcopy(signed_credential)
    tampered["issuer"]["id"] = did_key(other)
    tampered["proof"]["verificationMethod"] = did_key_verification_method(other)
    assert _report_codes(tampered, now) == {"proof.signature_invalid"}


def test_signed_by_another_key_fails(
    unsigned_credential: dict[str, Any], issuer_key: Ed25519PrivateKey, signed_at: datetime, now: datetime
) -> None:
    forged = sign_credential(unsigned_credential, generate_key(), did_key_verification_method(issuer_key), signed_at)
    assert _report_codes(forged, now) == {"proof.signature_invalid"}


def test_key_not_controlled_by_issuer_fails(
    unsigned_credential: dict[str, Any], signed_at: datetime, now: datetime
) -> None:
    other = generate_key()
    signed = sign_credential(unsigned_credential, other, did_key_verification_method(other), signed_at)
    assert _report_codes(signed, now) == {"issuer.key_mismatch"}


def test_wrong_verification_method_fragment_fails(signed_credential: dict[str, Any], now: datetime) -> None:
    tampered = copy.deepcopy(signed_credential)
    tampered["proof"]["verificationMethod"] = tampered["issuer"]["id"] + "#key-1"
    report = verify_credential(tampered, resolver=DidKeyResolver(), now=now)
    # The did:key still names the key, so the signature is checked too: the proof config changed under it.
    assert report.codes() == {"issuer.verification_method_invalid", "proof.signature_invalid"}


def test_undefined_term_added_after_signing_fails(signed_credential: dict[str, Any], now: datetime) -> None:
    tampered = copy.deepcopy(signed_credential)
    tampered["credentialSubject"]["studentNumber"] = "12345"
    report = verify_credential(tampered, resolver=DidKeyResolver(), now=now)
    # pyld drops the term, so the signature still matches: only the safe-mode check catches it.
    assert report.codes() == {"data.undefined_term"}
    assert "$.credentialSubject.studentNumber" in report.failures()[0].message


def test_undefined_term_rejected_before_signing(
    unsigned_credential: dict[str, Any], issuer_key: Ed25519PrivateKey, signed_at: datetime
) -> None:
    doc = copy.deepcopy(unsigned_credential)
    doc["credentialSubject"]["studentNumber"] = "12345"
    with pytest.raises(UndefinedTermError) as info:
        sign_credential(doc, issuer_key, did_key_verification_method(issuer_key), signed_at)
    assert "$.credentialSubject.studentNumber" in str(info.value)


def test_expired_fails(signed_credential: dict[str, Any]) -> None:
    # validUntil is 2027-01-01T00:00:00Z; five minutes of clock skew are tolerated, like Digital Bazaar's vc.
    assert _report_codes(signed_credential, datetime(2027, 1, 1, 0, 4, 59, tzinfo=UTC)) == set()
    assert _report_codes(signed_credential, datetime(2027, 1, 1, 0, 5, 1, tzinfo=UTC)) == {"validity.expired"}


def test_not_yet_valid_fails(signed_credential: dict[str, Any]) -> None:
    # validFrom and the proof's created are 2026-01-01T00:00:00Z.
    assert _report_codes(signed_credential, datetime(2025, 12, 31, 23, 55, 1, tzinfo=UTC)) == set()
    before = datetime(2025, 12, 31, 23, 54, 59, tzinfo=UTC)
    assert _report_codes(signed_credential, before) == {"validity.not_yet_valid", "proof.created_in_future"}


def test_clock_skew_is_configurable(signed_credential: dict[str, Any]) -> None:
    late = datetime(2027, 1, 1, 0, 0, 1, tzinfo=UTC)
    report = verify_credential(signed_credential, resolver=DidKeyResolver(), now=late, clock_skew=timedelta(0))
    assert report.codes() == {"validity.expired"}


def test_vc1_dates(signed_credential: dict[str, Any], now: datetime) -> None:
    doc = {k: v for k, v in signed_credential.items() if k not in ("validFrom", "validUntil")}
    doc["@context"] = ["https://www.w3.org/2018/credentials/v1", *doc["@context"][1:]]
    doc["issuanceDate"] = signed_credential["validFrom"]
    doc["expirationDate"] = (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "validity.expired" in _report_codes(doc, now)
    # expirationDate is not a VC 2.0 term: in a 2.0 credential it is not part of the signed graph at all.
    doc["@context"] = signed_credential["@context"]
    assert {"data.undefined_term", "data.compact_form_mismatch"} <= _report_codes(doc, now)


def test_missing_proof(unsigned_credential: dict[str, Any], now: datetime) -> None:
    codes = _report_codes(unsigned_credential, now)
    assert "proof.missing" in codes
    assert verify_proof(unsigned_credential, generate_key().public_key()).code == "proof.missing"


@pytest.mark.parametrize(
    "proof_patch",
    [
        {"cryptosuite": "mldsa44-rdfc-2024"},  # a draft post-quantum suite
        {"type": "JsonWebSignature2020", "cryptosuite": None},
        {"cryptosuite": "bbs-2023"},
        {"type": "ecdsa-rdfc-2019", "cryptosuite": None},  # a cryptosuite is not a proof type
    ],
)
def test_unsupported_cryptosuite(signed_credential: dict[str, Any], now: datetime, proof_patch: dict) -> None:
    tampered = copy.deepcopy(signed_credential)
    tampered["proof"].update(proof_patch)
    tampered["proof"] = {k: v for k, v in tampered["proof"].items() if v is not None}
    assert "proof.unsupported_cryptosuite" in _report_codes(tampered, now)


@pytest.mark.parametrize(
    ("cryptosuite", "code"),
    [("ecdsa-rdfc-2019", "proof.key_type_mismatch"), ("eddsa-jcs-2022", "proof.signature_invalid")],
)
def test_relabelled_cryptosuite(signed_credential: dict[str, Any], now: datetime, cryptosuite: str, code: str) -> None:
    # An eddsa-rdfc-2022 proof relabelled: its Ed25519 key cannot check ECDSA, and its signature is not over JCS.
    tampered = copy.deepcopy(signed_credential)
    tampered["proof"]["cryptosuite"] = cryptosuite
    assert code in _report_codes(tampered, now)


def test_wrong_proof_purpose(signed_credential: dict[str, Any], now: datetime) -> None:
    tampered = copy.deepcopy(signed_credential)
    tampered["proof"]["proofPurpose"] = "authentication"
    assert "proof.invalid_purpose" in _report_codes(tampered, now)


def test_malformed_proof_value(signed_credential: dict[str, Any], now: datetime) -> None:
    tampered = copy.deepcopy(signed_credential)
    tampered["proof"]["proofValue"] = "z" + "1" * 10
    assert _report_codes(tampered, now) == {"proof.malformed"}


def test_structure_failures(signed_credential: dict[str, Any], now: datetime) -> None:
    tampered = copy.deepcopy(signed_credential)
    tampered["type"] = ["VerifiableCredential"]
    tampered["@context"] = list(reversed(tampered["@context"]))
    del tampered["credentialSubject"]
    codes = _report_codes(tampered, now)
    assert {"data.invalid_type", "data.invalid_context", "data.missing_field"} <= codes


def test_unbundled_context_is_reported_not_fetched(signed_credential: dict[str, Any], now: datetime) -> None:
    tampered = copy.deepcopy(signed_credential)
    tampered["@context"] = [*tampered["@context"], "https://example.org/extra-context.json"]
    assert "data.context_unavailable" in _report_codes(tampered, now)


def test_naive_datetimes_rejected(
    unsigned_credential: dict[str, Any], issuer_key: Ed25519PrivateKey, signed_credential: dict[str, Any]
) -> None:
    with pytest.raises(ValueError):
        sign_credential(unsigned_credential, issuer_key, did_key_verification_method(issuer_key), datetime(2026, 1, 1))
    with pytest.raises(ValueError):
        verify_credential(signed_credential, resolver=DidKeyResolver(), now=datetime(2026, 1, 1))


def test_refuses_to_sign_twice_or_bad_structure(
    signed_credential: dict[str, Any], issuer_key: Ed25519PrivateKey, signed_at: datetime
) -> None:
    vm = did_key_verification_method(issuer_key)
    with pytest.raises(CredentialError):
        sign_credential(signed_credential, issuer_key, vm, signed_at)
    unsigned = {k: v for k, v in signed_credential.items() if k != "proof"}
    unsigned["issuer"] = {**unsigned["issuer"], "id": "not a url"}
    with pytest.raises(CredentialStructureError):
        sign_credential(unsigned, issuer_key, vm, signed_at)


def test_undefined_term_in_proof_fails(signed_credential: dict[str, Any], now: datetime) -> None:
    tampered = copy.deepcopy(signed_credential)
    tampered["proof"]["nonce2"] = "abc"
    report = verify_credential(tampered, resolver=DidKeyResolver(), now=now)
    # A proof whose configuration safe mode refuses is not checked further.
    assert report.codes() == {"data.undefined_term", "issuer.not_checked", "proof.not_checked"}
    assert "$.proof.nonce2" in report.failures()[0].message

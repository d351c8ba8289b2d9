"""Legacy Ed25519 suites (Ed25519Signature2020, eddsa-2022), proof sets, and the key named in a fragment."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.credentials import (
    DidKeyResolver,
    DocumentSet,
    did_key_verification_method,
    generate_key,
    sign_credential,
    verify_credential,
)

CASES = Path(__file__).resolve().parents[2] / "fixtures" / "ob30-validator-cases"


def _case(name: str) -> dict[str, Any]:
    return json.loads((CASES / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("name", "suite"),
    [("simple_v1.json", "Ed25519Signature2020"), ("simple-eddsa-2022.json", "eddsa-2022"), ("simple.json", None)],
)
def test_legacy_suites_verify_and_detect_tampering(name: str, suite: str | None, now: datetime) -> None:
    credential = _case(name)
    report = verify_credential(credential, now=now, trust_named_keys=True)
    assert report.verified, report.failures()
    signature = [c for c in report.checks if c.check == "proof.signature"]
    assert signature and signature[0].code == "proof.valid"
    if suite:
        assert suite in signature[0].message
    tampered = copy.deepcopy(credential)
    tampered["credentialSubject"]["achievement"]["name"] = "Leadership"
    assert verify_credential(tampered, now=now, trust_named_keys=True).codes() == {"proof.signature_invalid"}


def test_ed25519_signature_2020_needs_its_context(now: datetime) -> None:
    credential = _case("simple_v1.json")
    credential["@context"] = credential["@context"][:2]
    codes = verify_credential(credential, now=now, trust_named_keys=True).codes()
    assert "data.undefined_term" in codes  # Ed25519Signature2020 is then an undefined proof type


def test_fragment_key_is_not_the_issuers_without_a_document(now: datetime) -> None:
    report = verify_credential(_case("simple.json"), now=now)
    assert report.codes() == {"issuer.key_unbound"}
    assert [c.outcome for c in report.checks if c.check == "issuer.key"] == ["undetermined"]
    # With the issuer's document saying nothing about that key, it is a failure, not a doubt.
    issuer = "https://example.com/issuers/876543"
    document = {"@context": ["https://www.w3.org/ns/did/v1"], "id": issuer, "verificationMethod": []}
    report = verify_credential(_case("simple.json"), now=now, documents=DocumentSet.of({issuer: document}))
    assert [(c.outcome, c.code) for c in report.checks if c.check == "issuer.key"] == [("failed", "issuer.key_unbound")]


def test_proof_set_verifies_when_a_proof_by_the_issuer_does(
    signed_credential: dict[str, Any], issuer_key: Ed25519PrivateKey, signed_at: datetime, now: datetime
) -> None:
    """VC Data Integrity 1.0 proof sets: each proof is verified on its own; one by the issuer is enough."""
    unsigned = {k: v for k, v in signed_credential.items() if k != "proof"}
    second = sign_credential(unsigned, issuer_key, did_key_verification_method(issuer_key), now)["proof"]
    both = {**unsigned, "proof": [signed_credential["proof"], second]}
    report = verify_credential(both, resolver=DidKeyResolver(), now=now)
    assert report.verified, report.failures()
    assert [c.message.split(":")[0] for c in report.checks if c.check == "proof.signature"] == ["proof[0]", "proof[1]"]
    assert [(p.index, p.verified) for p in report.proofs] == [(0, True), (1, True)]

    other = generate_key()
    foreign = sign_credential(unsigned, other, did_key_verification_method(other), signed_at)["proof"]
    junk = {**second, "proofValue": "z" + "1" * 80}
    unknown = {**second, "cryptosuite": "mldsa44-rdfc-2024"}
    for extra, code in (
        (foreign, "issuer.key_mismatch"),
        (junk, "proof.malformed"),
        (unknown, "proof.unsupported_cryptosuite"),
        ("junk", "proof.malformed"),
    ):
        report = verify_credential(
            {**unsigned, "proof": [extra, signed_credential["proof"]]}, resolver=DidKeyResolver(), now=now
        )
        assert report.verified, (code, report.failures())
        assert [(p.index, p.verified, p.code) for p in report.proofs] == [(0, False, code), (1, True, "proof.valid")]
        [summary] = [c for c in report.checks if c.check == "proof.set"]
        assert summary.code == "proof.set_partly_verified" and f"proof[0] ({code})" in summary.message

    # A proof whose terms are undefined (the 1EdTech case simple-multiple-proofs.json) is an error in the
    # credential, not another party's proof: it fails whichever proof verified.
    ill_formed = {"type": "SomeProofType", "created": "2022-11-16T18:54:22Z", "proofPurpose": "assertionMethod"}
    report = verify_credential(
        {**unsigned, "proof": [ill_formed, signed_credential["proof"]]}, resolver=DidKeyResolver(), now=now
    )
    assert not report.verified
    [summary] = [c for c in report.checks if c.check == "proof.set"]
    assert (summary.outcome, summary.code) == ("failed", "data.undefined_term")

    # Without a proof by the issuer, nothing verifies and every proof's failure is reported.
    report = verify_credential({**unsigned, "proof": [foreign, junk]}, resolver=DidKeyResolver(), now=now)
    assert not report.verified
    assert {"issuer.key_mismatch", "proof.malformed"} <= report.codes()

"""eddsa-jcs-2022, ecdsa-rdfc-2019 and ecdsa-jcs-2019 through the whole verifier (self-signed), and P-256/P-384 keys."""

from __future__ import annotations

import contextlib
import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from shared.credentials import DocumentSet, KeyFormatError, generate_key, verify_credential
from shared.credentials.ecdsa import ecdsa_public_key_from_multibase, ecdsa_public_key_multibase, sign_raw, verify_raw
from shared.credentials.keys import public_key_multibase
from shared.credentials.multibase import decode_base58btc, encode_base58btc
from shared.credentials.multikey import multikey_public_key
from shared.credentials.suites import sign_with_suite, verify_embedded_proof

from .samples import minimal_credential

SIGNED_AT = datetime(2026, 1, 1, tzinfo=UTC)
ISSUER = "did:web:uni.example"
CURVES = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1}
SUITES = [
    ("eddsa-jcs-2022", None),
    ("ecdsa-rdfc-2019", "P-256"),
    ("ecdsa-rdfc-2019", "P-384"),
    ("ecdsa-jcs-2019", "P-256"),
    ("ecdsa-jcs-2019", "P-384"),
]


def _key(curve: str | None) -> Any:
    return generate_key() if curve is None else ec.generate_private_key(CURVES[curve]())


def _multibase(key: Any) -> str:
    return ecdsa_public_key_multibase(key) if isinstance(key, ec.EllipticCurvePrivateKey) else public_key_multibase(key)


def _did_key_signed(suite: str, curve: str | None, **kwargs: Any) -> dict[str, Any]:
    key = _key(curve)
    mb = _multibase(key)
    did = f"did:key:{mb}"
    return sign_with_suite(minimal_credential(did), key, f"{did}#{mb}", kwargs.get("created", SIGNED_AT), suite)


@pytest.mark.parametrize(("suite", "curve"), SUITES)
def test_did_key_credentials_verify(suite: str, curve: str | None, now: datetime) -> None:
    credential = _did_key_signed(suite, curve)
    report = verify_credential(credential, now=now)
    assert report.verified, report.failures()
    [signature] = [c for c in report.checks if c.check == "proof.signature"]
    assert (signature.code, signature.message) == ("proof.valid", f"{suite} signature is valid")


@pytest.mark.parametrize(("suite", "curve"), SUITES)
def test_did_web_controller_document(suite: str, curve: str | None, now: datetime) -> None:
    key = _key(curve)
    vm = f"{ISSUER}#key-1"
    credential = sign_with_suite(minimal_credential(ISSUER), key, vm, SIGNED_AT, suite)
    method = {"id": vm, "type": "Multikey", "controller": ISSUER, "publicKeyMultibase": _multibase(key)}
    document = {"@context": ["https://www.w3.org/ns/did/v1"], "id": ISSUER, "verificationMethod": [method]}
    authorised = {**document, "assertionMethod": [vm]}
    report = verify_credential(credential, now=now, documents=DocumentSet.of({ISSUER: authorised}))
    assert report.verified, report.failures()
    report = verify_credential(credential, now=now, documents=DocumentSet.of({ISSUER: document}))
    assert report.codes() == {"issuer.key_not_authorized"}
    # An Ed25519VerificationKey2020 holds an Ed25519 key, never a P-256/P-384 one.
    if curve is not None:
        legacy = {**authorised, "verificationMethod": [{**method, "type": "Ed25519VerificationKey2020"}]}
        report = verify_credential(credential, now=now, documents=DocumentSet.of({ISSUER: legacy}))
        assert "issuer.key_unresolved" in report.codes()


@pytest.mark.parametrize(("suite", "curve"), SUITES)
def test_proof_created_in_the_future(suite: str, curve: str | None, now: datetime) -> None:
    future = _did_key_signed(suite, curve, created=now + timedelta(days=1))
    assert verify_credential(future, now=now).codes() == {"proof.created_in_future"}


@pytest.mark.parametrize("suite", ["eddsa-jcs-2022", "ecdsa-jcs-2019"])
def test_jcs_context_appended_after_signing_still_verifies(suite: str, now: datetime) -> None:
    # vc-di-eddsa / vc-di-ecdsa Verify Proof: the document's @context must only *start with* the proof's.
    credential = _did_key_signed(suite, None if suite.startswith("eddsa") else "P-256")
    credential["@context"] = [*credential["@context"], "https://w3id.org/security/data-integrity/v2"]
    assert verify_credential(credential, now=now).verified
    credential["@context"] = credential["@context"][1:]
    assert verify_credential(credential, now=now).codes() >= {"proof.context_mismatch"}


def test_jcs_proof_context_is_signed(now: datetime) -> None:
    # Create Proof puts the document's @context in the proof; Proof Configuration hashes the options as they are,
    # so a proof stripped of its @context no longer verifies (as in Digital Bazaar).
    key = generate_key()
    mb = public_key_multibase(key)
    unsigned = minimal_credential(f"did:key:{mb}")
    credential = sign_with_suite(unsigned, key, f"did:key:{mb}#{mb}", SIGNED_AT, "eddsa-jcs-2022")
    del credential["proof"]["@context"]
    assert verify_credential(credential, now=now).codes() == {"proof.signature_invalid"}
    signed = sign_with_suite(unsigned, key, f"did:key:{mb}#{mb}", SIGNED_AT, "eddsa-jcs-2022")
    assert verify_credential(signed, now=now).verified


def test_fragment_named_ecdsa_key(now: datetime) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    issuer = "https://uni.example/issuer"
    vm = f"{issuer}#{ecdsa_public_key_multibase(key)}"
    credential = sign_with_suite(minimal_credential(issuer), key, vm, SIGNED_AT, "ecdsa-rdfc-2019")
    assert verify_credential(credential, now=now).codes() == {"issuer.key_unbound"}
    assert verify_credential(credential, now=now, trust_named_keys=True).verified


def test_sign_with_suite_signs_only_the_new_suites() -> None:
    with pytest.raises(ValueError, match="eddsa-rdfc-2022"):
        sign_with_suite({}, generate_key(), "did:key:z#z", SIGNED_AT, "eddsa-rdfc-2022")


@pytest.mark.parametrize("curve", ["P-256", "P-384"])
def test_multikey_round_trip_and_raw_signatures(curve: str) -> None:
    key = ec.generate_private_key(CURVES[curve]())
    mb = ecdsa_public_key_multibase(key)
    assert mb.startswith("zDn" if curve == "P-256" else "z82")
    assert ecdsa_public_key_from_multibase(mb).public_numbers() == key.public_key().public_numbers()
    assert multikey_public_key(mb).public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]
    signature = sign_raw(key, b"data")
    assert len(signature) == (64 if curve == "P-256" else 96)
    assert verify_raw(key.public_key(), signature, b"data")
    assert not verify_raw(key.public_key(), signature, b"other")
    assert not verify_raw(key.public_key(), signature[:-1], b"data")


def test_malformed_ecdsa_multikeys_are_refused() -> None:
    mb = ecdsa_public_key_multibase(ec.generate_private_key(ec.SECP256R1()))
    raw = decode_base58btc(mb)
    uncompressed = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    for bad in (
        encode_base58btc(raw[:-1]),  # truncated point
        encode_base58btc(raw[:2] + uncompressed),  # uncompressed: Multikey wants the compressed form
        encode_base58btc(raw[:2] + b"\x02" + b"\xff" * 32),  # x beyond the field: not on the curve
        encode_base58btc(b"\x81\x24" + raw[2:]),  # P-384 header, P-256 point
    ):
        with pytest.raises(KeyFormatError):
            ecdsa_public_key_from_multibase(bad)


@given(st.one_of(st.text(max_size=120), st.binary(max_size=80).map(lambda b: encode_base58btc(b"\x80\x24" + b))))
def test_multikey_parsing_never_crashes(value: str) -> None:
    with contextlib.suppress(KeyFormatError):
        multikey_public_key(value)


def test_changed_claim_fails_for_every_suite(now: datetime) -> None:
    for suite, curve in SUITES:
        credential = _did_key_signed(suite, curve)
        tampered = copy.deepcopy(credential)
        tampered["credentialSubject"]["achievement"]["name"] = "Leadership"
        assert verify_credential(tampered, now=now).codes() == {"proof.signature_invalid"}, suite


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@given(subject=_JSON, proof_context=_JSON)
def test_jcs_verification_of_any_json_returns_a_result(subject: Any, proof_context: Any) -> None:
    # Whatever JSON a holder puts in the document or the proof's @context: a result with a code, never a crash.
    key = generate_key()
    mb = public_key_multibase(key)
    credential = sign_with_suite(
        minimal_credential(f"did:key:{mb}"), key, f"did:key:{mb}#{mb}", SIGNED_AT, "eddsa-jcs-2022"
    )
    credential["credentialSubject"] = subject
    credential["proof"]["@context"] = proof_context
    result = verify_embedded_proof(credential, credential["proof"], key.public_key())
    assert not result.valid
    assert result.code in {"proof.signature_invalid", "proof.context_mismatch", "data.jcs_invalid"}

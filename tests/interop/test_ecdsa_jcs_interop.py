"""eddsa-jcs-2022, ecdsa-rdfc-2019 and ecdsa-jcs-2019 (P-256, P-384) against Digital Bazaar's cryptosuites.

Digital Bazaar signs OB 3.0 credentials with each suite (a fresh did:key); ours verify them, and tampered
copies fail in both with the code we document. The other way round, Digital Bazaar verifies what
``sign_with_suite`` makes. Offline, as test_digital_bazaar.py.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from shared.credentials import generate_key, verify_credential
from shared.credentials.ecdsa import ecdsa_public_key_multibase
from shared.credentials.keys import public_key_multibase
from shared.credentials.multibase import decode_base58btc, encode_base58btc
from shared.credentials.suites import sign_with_suite
from tests.interop.test_digital_bazaar import NOW, SIGNED_AT, _dbvc, _write, db_verify, pytestmark  # noqa: F401
from tests.unit.credentials.samples import fully_populated_credential, minimal_credential
from tests.unit.credentials.test_credentials_ecdsa_jcs import SUITES

Tamper = Callable[[dict[str, Any]], None]


def _label(suite: str, curve: str | None) -> str:
    return f"{suite}-{curve}" if curve else suite


@pytest.fixture(scope="module")
def db_signed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """{label: credential} signed by Digital Bazaar, minimal and fully populated credentials."""
    import json

    directory = tmp_path_factory.mktemp("db-suites")
    signed = {}
    for make, kind in ((minimal_credential, "minimal"), (fully_populated_credential, "full")):
        unsigned = _write(directory / f"{kind}.json", make("did:example:replaced-by-the-signer"))
        for suite, curve in SUITES:
            label = f"{_label(suite, curve)}-{kind}"
            out = directory / f"{label}.json"
            args = ["--suite", suite] + (["--curve", curve] if curve else [])
            _dbvc("sign", "--created", SIGNED_AT.strftime("%Y-%m-%dT%H:%M:%SZ"), *args, str(unsigned), str(out))
            signed[label] = json.loads(out.read_text(encoding="utf-8"))
    return signed


def test_we_verify_digital_bazaar_suites(db_signed: dict[str, dict[str, Any]]) -> None:
    assert len(db_signed) == 2 * len(SUITES)
    for label, credential in db_signed.items():
        report = verify_credential(credential, now=NOW)
        assert report.verified, (label, report.failures())
        assert report.proofs[0].suite == credential["proof"]["cryptosuite"]
        if "jcs" in label:  # Digital Bazaar's JCS suites copy the document's @context into the proof
            assert credential["proof"]["@context"] == credential["@context"]


def _change_claim(c: dict[str, Any]) -> None:
    c["credentialSubject"]["achievement"]["name"] = "Leadership"


def _change_proof_value(c: dict[str, Any]) -> None:
    # Same length, one bit flipped: well-formed, but not the signature of this credential.
    raw = bytearray(decode_base58btc(c["proof"]["proofValue"]))
    raw[-1] ^= 1
    c["proof"]["proofValue"] = encode_base58btc(bytes(raw))


def _other_key_of_the_same_type(c: dict[str, Any]) -> str:
    mb = c["proof"]["verificationMethod"].partition("#")[2]
    if mb.startswith("z6Mk"):
        return public_key_multibase(generate_key())
    curve = ec.SECP256R1() if mb.startswith("zDn") else ec.SECP384R1()
    return ecdsa_public_key_multibase(ec.generate_private_key(curve))


def _wrong_key(c: dict[str, Any]) -> None:
    # Issuer and method both name another key of the same type: the issuer check passes, the signature cannot.
    mb = _other_key_of_the_same_type(c)
    did = f"did:key:{mb}"
    c["issuer"]["id"] = did
    c["proof"]["verificationMethod"] = f"{did}#{mb}"


def _foreign_key(c: dict[str, Any]) -> None:
    # The method names another key of the same type; the issuer stays: not the issuer's key.
    mb = _other_key_of_the_same_type(c)
    c["proof"]["verificationMethod"] = f"did:key:{mb}#{mb}"


def _key_of_another_curve(c: dict[str, Any]) -> None:
    mb = c["proof"]["verificationMethod"].partition("#")[2]
    if mb.startswith("z6Mk"):
        other = ecdsa_public_key_multibase(ec.generate_private_key(ec.SECP256R1()))
    elif mb.startswith("zDn"):
        other = ecdsa_public_key_multibase(ec.generate_private_key(ec.SECP384R1()))
    else:
        other = public_key_multibase(generate_key())
    did = f"did:key:{other}"
    c["issuer"]["id"] = did
    c["proof"]["verificationMethod"] = f"{did}#{other}"


@pytest.mark.parametrize(
    ("tamper", "codes"),
    [
        (_change_claim, {"proof.signature_invalid"}),
        (_change_proof_value, {"proof.signature_invalid"}),
        (_wrong_key, {"proof.signature_invalid"}),
        (_foreign_key, {"issuer.key_mismatch", "proof.signature_invalid"}),
    ],
)
def test_tampered_copies_fail_in_both(
    db_signed: dict[str, dict[str, Any]], tamper: Tamper, codes: set[str], tmp_path: Path
) -> None:
    paths = []
    for label, credential in db_signed.items():
        tampered = copy.deepcopy(credential)
        tamper(tampered)
        assert verify_credential(tampered, now=NOW).codes() == codes, label
        paths.append(_write(tmp_path / f"{label}.json", tampered))
    theirs = db_verify(paths)
    assert not any(line["verified"] for line in theirs.values()), theirs


def test_key_of_another_type_fails(db_signed: dict[str, dict[str, Any]]) -> None:
    for label, credential in db_signed.items():
        tampered = copy.deepcopy(credential)
        _key_of_another_curve(tampered)
        codes = verify_credential(tampered, now=NOW).codes()
        # Ed25519 <-> ECDSA: the suite cannot use the key; P-256 -> P-384: the hash and signature size differ.
        expected = "proof.key_type_mismatch" if "eddsa" in label or "P-384" in label else "proof.malformed"
        assert codes == {expected}, (label, codes)


def _proof_context_not_a_prefix(c: dict[str, Any]) -> None:
    c["proof"]["@context"] = list(reversed(c["@context"]))


def _proof_context_removed(c: dict[str, Any]) -> None:
    # The proof's @context is part of the hashed proof configuration (Proof Configuration clones the options).
    del c["proof"]["@context"]


@pytest.mark.parametrize(
    ("tamper", "code"),
    [(_proof_context_not_a_prefix, "proof.context_mismatch"), (_proof_context_removed, "proof.signature_invalid")],
)
def test_jcs_proof_context_tampering_fails_in_both(
    db_signed: dict[str, dict[str, Any]], tamper: Tamper, code: str, tmp_path: Path
) -> None:
    paths = []
    for label, credential in db_signed.items():
        if "jcs" not in label:
            continue
        tampered = copy.deepcopy(credential)
        tamper(tampered)
        assert verify_credential(tampered, now=NOW).codes() == {code}, label
        paths.append(_write(tmp_path / f"{label}.json", tampered))
    assert not any(line["verified"] for line in db_verify(paths).values())


def test_digital_bazaar_verifies_ours(tmp_path: Path) -> None:
    paths = []
    for suite, curve in SUITES:
        if curve is None:
            key: Any = generate_key()
            mb = public_key_multibase(key)
        else:
            key = ec.generate_private_key(ec.SECP256R1() if curve == "P-256" else ec.SECP384R1())
            mb = ecdsa_public_key_multibase(key)
        did = f"did:key:{mb}"
        signed = sign_with_suite(minimal_credential(did), key, f"{did}#{mb}", SIGNED_AT, suite)
        assert verify_credential(signed, now=NOW).verified
        paths.append(_write(tmp_path / f"{_label(suite, curve)}.json", signed))
    theirs = db_verify(paths)
    assert all(line["verified"] for line in theirs.values()), theirs


def test_jcs_signs_json_not_the_graph(db_signed: dict[str, dict[str, Any]]) -> None:
    # JCS sorts members and RDFC-1.0 sees none of their order: reordering changes no signed byte.
    for label, credential in db_signed.items():
        reordered = dict(reversed(list(credential.items())))
        assert verify_credential(reordered, now=datetime(2026, 6, 1, tzinfo=UTC)).verified, label

"""ecdsa-sd-2023 against Digital Bazaar's cryptosuite: its base proof, its own selective disclosure, our verifier.

Digital Bazaar (``dbvc.mjs sign --suite ecdsa-sd-2023 --pointers``) signs a fully populated OB 3.0 credential with
mandatory pointers (issuer, validity dates), then derives (``dbvc.mjs derive --pointers``) a credential revealing
the badge name, the achievement and the first result, hiding the second result, the evidence, the identifiers and
the rest. Ours verifies the derived credential; the base credential is undetermined in ours (a verifier should get a
derived one) and refused by Digital Bazaar; tampered copies fail in both. Offline, as test_digital_bazaar.py.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from shared.credentials import verify_credential
from shared.credentials.ecdsa import ecdsa_public_key_multibase
from shared.credentials.ecdsa_sd import DerivedProofValue, parse_proof_value, serialize_derived_proof_value
from tests.interop.test_digital_bazaar import NOW, SIGNED_AT, _dbvc, _write, db_verify, pytestmark  # noqa: F401
from tests.unit.credentials.samples import fully_populated_credential

MANDATORY = ["/issuer", "/validFrom", "/validUntil"]
SELECTIVE = ["/name", "/credentialSubject/achievement", "/credentialSubject/result/0"]
Tamper = Callable[[dict[str, Any]], dict[str, Any]]


def _unsigned() -> dict[str, Any]:
    credential = fully_populated_credential("did:example:replaced-by-the-signer")
    del credential["credentialStatus"]  # its list is not served here
    # Digital Bazaar's skolemisation (di-sd-primitives) gives an @list value an @id, which its own JSON-LD
    # expansion then refuses ("invalid set or list object"): it cannot sign OB 3.0's allowedValue (@list).
    del credential["credentialSubject"]["achievement"]["resultDescription"][0]["allowedValue"]
    second = {**credential["credentialSubject"]["result"][0], "value": "42", "status": "InProgress"}
    credential["credentialSubject"]["result"].append(second)
    return credential


@pytest.fixture(scope="module")
def db_credentials(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """{"base": Digital Bazaar's base credential, "derived": its selective disclosure}."""
    directory = tmp_path_factory.mktemp("db-sd")
    unsigned = _write(directory / "unsigned.json", _unsigned())
    base, derived = directory / "base.json", directory / "derived.json"
    created = SIGNED_AT.strftime("%Y-%m-%dT%H:%M:%SZ")
    pointers = ",".join(MANDATORY)
    _dbvc("sign", "--created", created, "--suite", "ecdsa-sd-2023", "--pointers", pointers, str(unsigned), str(base))
    _dbvc("derive", "--pointers", ",".join(SELECTIVE), str(base), str(derived))
    return {name: json.loads(path.read_text(encoding="utf-8")) for name, path in (("base", base), ("derived", derived))}


def test_we_verify_digital_bazaar_derived_credential(db_credentials: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    derived = db_credentials["derived"]
    assert isinstance(parse_proof_value(derived["proof"]["proofValue"]), DerivedProofValue)
    # What Digital Bazaar disclosed: the selected claims and the mandatory ones, nothing else.
    subject = derived["credentialSubject"]
    assert derived["name"] == "Data 101 badge" and subject["achievement"]["name"] == "Data 101"
    assert [r["value"] for r in subject["result"]] == ["87"]
    assert "evidence" not in derived and "identifier" not in subject and "description" not in derived
    assert derived["validFrom"] and derived["validUntil"] and derived["issuer"]["name"] == "Example University"

    report = verify_credential(derived, now=NOW)
    assert report.verified, report.failures()
    assert report.proofs[0].suite == "ecdsa-sd-2023"
    [signature] = [c for c in report.checks if c.check == "proof.signature"]
    assert signature.code == "proof.valid"
    assert db_verify([_write(tmp_path / "derived.json", derived)])["derived.json"]["verified"]


def test_base_credential_verifies_as_the_holder_checks_it(
    db_credentials: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    """Ours checks a base proof as the holder does (its mandatory pointers give the groups); Digital Bazaar's
    verifier refuses base proofs. A changed claim fails in ours."""
    report = verify_credential(db_credentials["base"], now=NOW)
    assert report.verified, report.failures()
    [signature] = [c for c in report.checks if c.check == "proof.signature"]
    assert "base proof" in signature.message
    line = db_verify([_write(tmp_path / "base.json", db_credentials["base"])])["base.json"]
    assert not line["verified"]
    for change in (_change_disclosed_claim, _drop_mandatory_statement, _add_undisclosed_claim):
        tampered = change(copy.deepcopy(db_credentials["base"]))
        tampered["description"] = "Changed."
        report = verify_credential(tampered, now=NOW)
        assert not report.verified
        [signature] = [c for c in report.checks if c.check == "proof.signature"]
        # A dropped mandatory value: its pointer no longer selects anything.
        assert signature.code in {"proof.signature_invalid", "proof.sd_pointer_invalid"}, report.failures()


def _change_disclosed_claim(c: dict[str, Any]) -> dict[str, Any]:
    c["credentialSubject"]["achievement"]["name"] = "Data 999"
    return c


def _drop_mandatory_statement(c: dict[str, Any]) -> dict[str, Any]:
    del c["validUntil"]
    return c


def _drop_disclosed_statement(c: dict[str, Any]) -> dict[str, Any]:
    del c["credentialSubject"]["result"][0]["status"]
    return c


def _add_undisclosed_claim(c: dict[str, Any]) -> dict[str, Any]:
    c["description"] = "Awarded for completing Data 101."  # true in the base credential, but not disclosed
    return c


def _swap_signatures(c: dict[str, Any]) -> dict[str, Any]:
    parsed = parse_proof_value(c["proof"]["proofValue"])
    assert isinstance(parsed, DerivedProofValue) and len(parsed.signatures) >= 2
    signatures = [parsed.signatures[1], parsed.signatures[0], *parsed.signatures[2:]]
    c["proof"]["proofValue"] = serialize_derived_proof_value(
        DerivedProofValue(**{**parsed.__dict__, "signatures": signatures})
    )
    return c


def _another_key(c: dict[str, Any]) -> dict[str, Any]:
    # Issuer and method both name another P-256 key: the issuer check passes, the base signature cannot.
    mb = ecdsa_public_key_multibase(ec.generate_private_key(ec.SECP256R1()))
    c["issuer"]["id"] = f"did:key:{mb}"
    c["proof"]["verificationMethod"] = f"did:key:{mb}#{mb}"
    return c


@pytest.mark.parametrize(
    ("tamper", "codes"),
    [
        (_change_disclosed_claim, {"proof.signature_invalid"}),
        (_drop_mandatory_statement, {"proof.signature_invalid", "proof.sd_signature_count"}),
        (_drop_disclosed_statement, {"proof.sd_signature_count"}),
        (_add_undisclosed_claim, {"proof.sd_signature_count", "proof.signature_invalid"}),
        (_swap_signatures, {"proof.signature_invalid"}),
        (_another_key, {"proof.signature_invalid"}),
    ],
)
def test_tampered_derived_credentials_fail_in_both(
    db_credentials: dict[str, dict[str, Any]], tamper: Tamper, codes: set[str], tmp_path: Path
) -> None:
    tampered = tamper(copy.deepcopy(db_credentials["derived"]))
    report = verify_credential(tampered, now=NOW)
    assert not report.verified
    [signature] = [c for c in report.checks if c.check == "proof.signature"]
    assert signature.code in codes, report.failures()
    line = db_verify([_write(tmp_path / "tampered.json", tampered)])["tampered.json"]
    assert not line["verified"], line

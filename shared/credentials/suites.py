"""The proof suites a verifier accepts, and which check each one's signature.

Ed25519, RDFC-1.0 (:mod:`shared.credentials.proof`): all three sign SHA-256(RDFC-1.0(proof config with the
document's ``@context``)) || SHA-256(RDFC-1.0(document without proof)) with pure Ed25519, the signature as
multibase base58btc ``z…``:

- ``DataIntegrityProof`` / ``eddsa-rdfc-2022`` (W3C vc-di-eddsa, what we issue);
- ``DataIntegrityProof`` / ``eddsa-2022`` (the cryptosuite's name in earlier drafts; same algorithm);
- ``Ed25519Signature2020`` (the W3C CCG suite, context ``https://w3id.org/security/suites/ed25519-2020/v1``,
  bundled from the npm package ``ed25519-signature-2020-context``; the document must list that context,
  otherwise its proof type is an undefined term and the safe-mode check reports it).

ECDSA P-256 / P-384 (W3C vc-di-ecdsa, :mod:`shared.credentials.ecdsa`), ``DataIntegrityProof`` only:

- ``ecdsa-rdfc-2019``: the same RDFC-1.0 hashing; with a P-384 key SHA-384 replaces SHA-256 both inside
  RDFC-1.0 (its hash parameter: blank node labels differ) and for the two digests;
- ``ecdsa-jcs-2019``: JCS (RFC 8785) instead of RDFC-1.0 (:mod:`shared.credentials.jcs`).

``DataIntegrityProof`` / ``eddsa-jcs-2022`` (vc-di-eddsa): Ed25519 over the JCS hash data (SHA-256).

``DataIntegrityProof`` / ``ecdsa-sd-2023`` (vc-di-ecdsa, selective disclosure, P-256 only):
:mod:`shared.credentials.ecdsa_sd` verifies derived proofs, and base proofs as the holder does.

The signature is ``r || s`` for ECDSA (64 / 96 bytes), 64 bytes for Ed25519. A key of the wrong type for the
suite (an Ed25519 key on an ECDSA proof, …) is ``proof.key_type_mismatch``. Proofs of other suites
(``bbs-2023``, JWS-based ones) are recognised as unsupported.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey, EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .dates import parse_xsd_datetime
from .ecdsa import curve_of, sign_raw, verify_raw
from .ecdsa_sd import ECDSA_SD_2023, verify_sd_proof
from .errors import CredentialError, KeyFormatError
from .jcs import jcs_hash_data
from .jsonld import DocumentLoader
from .multibase import decode_base58btc, encode_base58btc
from .multikey import PublicKey
from .proof import (
    DATA_INTEGRITY_PROOF,
    ED25519_SIGNATURE_2020,
    ED25519_SIGNATURE_SIZE,
    EDDSA_RDFC_2022,
    Dataset,
    ProofCheckResult,
    _copy_json,
    check_ed25519_signature,
    make_proof_config,
    proof_hashes,
)

EDDSA_2022 = "eddsa-2022"
EDDSA_JCS_2022 = "eddsa-jcs-2022"
ECDSA_RDFC_2019 = "ecdsa-rdfc-2019"
ECDSA_JCS_2019 = "ecdsa-jcs-2019"
ED25519_2020_CONTEXT = "https://w3id.org/security/suites/ed25519-2020/v1"
# Suites whose signature covers the RDFC-1.0 canonical form, with Ed25519.
_ED25519_RDFC_SUITES = (EDDSA_RDFC_2022, EDDSA_2022, ED25519_SIGNATURE_2020)
# Cryptosuites of a DataIntegrityProof (never a proof type of their own).
_DATA_INTEGRITY_SUITES = frozenset(
    {EDDSA_RDFC_2022, EDDSA_2022, EDDSA_JCS_2022, ECDSA_RDFC_2019, ECDSA_JCS_2019, ECDSA_SD_2023}
)
_ECDSA_SUITES = frozenset({ECDSA_RDFC_2019, ECDSA_JCS_2019, ECDSA_SD_2023})
SUPPORTED_SUITES = (*_ED25519_RDFC_SUITES, EDDSA_JCS_2022, ECDSA_RDFC_2019, ECDSA_JCS_2019, ECDSA_SD_2023)


def suite_name(proof: Any) -> str | None:
    """The suite of ``proof``: its ``cryptosuite`` for a DataIntegrityProof, else its ``type``."""
    if not isinstance(proof, dict):
        return None
    suite = proof.get("cryptosuite") if proof.get("type") == DATA_INTEGRITY_PROOF else proof.get("type")
    return suite if isinstance(suite, str) else None


def is_supported(proof: Any) -> bool:
    """True if ``proof`` is of a suite this module verifies."""
    suite = suite_name(proof)
    if suite in _DATA_INTEGRITY_SUITES:
        return proof.get("type") == DATA_INTEGRITY_PROOF
    return suite in SUPPORTED_SUITES


def verify_embedded_proof(
    credential: dict[str, Any],
    proof: dict[str, Any],
    public_key: PublicKey,
    *,
    loader: DocumentLoader | None = None,
    datasets: tuple[Dataset, Dataset] | None = None,
) -> ProofCheckResult:
    """Check one embedded proof of ``credential`` (any supported suite) against ``public_key``.

    Only the cryptography: who may sign, dates and safe-mode terms are checked elsewhere. Canonicalisation is
    lenient so that a signature over a document with undefined terms is still evaluated. ``datasets``: the RDF
    datasets of the document without proof and of this proof's configuration, when already built (RDFC suites).
    """
    suite = suite_name(proof)
    if not is_supported(proof):
        return ProofCheckResult(False, "proof.unsupported_cryptosuite", f"unsupported proof suite {suite!r}")
    wanted = EllipticCurvePublicKey if suite in _ECDSA_SUITES else Ed25519PublicKey
    if not isinstance(public_key, wanted):
        kind = "an ECDSA P-256 or P-384" if suite in _ECDSA_SUITES else "an Ed25519"
        return ProofCheckResult(False, "proof.key_type_mismatch", f"{suite} needs {kind} key")
    if suite == ECDSA_SD_2023:
        return verify_sd_proof(credential, proof, public_key, loader=loader, dataset=datasets[0] if datasets else None)
    if suite in _ED25519_RDFC_SUITES:
        return check_ed25519_signature(credential, proof, public_key, loader=loader, suite=suite, datasets=datasets)
    try:
        if proof.get("created") is not None:  # optional in VC Data Integrity 1.0
            parse_xsd_datetime(proof["created"])
        signature = decode_base58btc(proof.get("proofValue", ""))
    except (ValueError, KeyFormatError) as exc:
        return ProofCheckResult(False, "proof.malformed", f"malformed proof: {exc}")
    try:
        hash_data = _hash_data(credential, proof, suite, public_key, loader, datasets)
    except CredentialError as exc:
        return ProofCheckResult(False, exc.code, f"cannot hash the credential for {suite}: {exc}")
    if isinstance(public_key, EllipticCurvePublicKey):
        size = 2 * curve_of(public_key).scalar_size
        if len(signature) != size:
            return ProofCheckResult(False, "proof.malformed", f"signature has {len(signature)} bytes, expected {size}")
        valid = verify_raw(public_key, signature, hash_data)
    else:
        if len(signature) != ED25519_SIGNATURE_SIZE:
            return ProofCheckResult(False, "proof.malformed", f"signature has {len(signature)} bytes, expected 64")
        try:
            public_key.verify(signature, hash_data)
            valid = True
        except InvalidSignature:
            valid = False
    if not valid:
        return ProofCheckResult(False, "proof.signature_invalid", "signature does not match the credential")
    return ProofCheckResult(True, "proof.valid", f"{suite} signature is valid")


def _hash_name(public_key: PublicKey | Ed25519PrivateKey | EllipticCurvePrivateKey) -> str:
    if isinstance(public_key, EllipticCurvePublicKey | EllipticCurvePrivateKey):
        return curve_of(public_key).hash_name
    return "sha256"


def _hash_data(
    credential: dict[str, Any],
    proof: dict[str, Any],
    suite: str,
    key: PublicKey | Ed25519PrivateKey | EllipticCurvePrivateKey,
    loader: DocumentLoader | None,
    datasets: tuple[Dataset, Dataset] | None,
) -> bytes:
    """What a proof of ``suite`` (other than the Ed25519 RDFC ones) signs with ``key``."""
    hash_name = _hash_name(key)
    if suite == ECDSA_RDFC_2019:
        # As eddsa-rdfc-2022, but RDFC-1.0 and both digests use the curve's hash (vc-di-ecdsa, "canon-and-hash").
        return proof_hashes(
            credential,
            proof_config=proof,
            loader=loader,
            check_terms=False,
            datasets=datasets,
            hash_algorithm=hash_name,
        ).hash_data
    return jcs_hash_data(credential, proof, hash_name)


def sign_with_suite(
    unsigned: dict[str, Any],
    key: Ed25519PrivateKey | EllipticCurvePrivateKey,
    verification_method: str,
    created: datetime,
    cryptosuite: str,
    *,
    loader: DocumentLoader | None = None,
) -> dict[str, Any]:
    """A copy of ``unsigned`` with a ``DataIntegrityProof`` of ``cryptosuite`` (eddsa-jcs-2022,
    ecdsa-rdfc-2019 or ecdsa-jcs-2019). The JCS suites put the document's ``@context`` in the proof, as
    their Add Proof step does. For tests and interop; what we issue is eddsa-rdfc-2022 (proof.sign_credential).
    """
    if cryptosuite not in (EDDSA_JCS_2022, ECDSA_RDFC_2019, ECDSA_JCS_2019):
        raise ValueError(f"sign_with_suite does not sign {cryptosuite!r}")
    config: dict[str, Any] = {**make_proof_config(verification_method, created), "cryptosuite": cryptosuite}
    if cryptosuite != ECDSA_RDFC_2019 and "@context" in unsigned:
        config["@context"] = unsigned["@context"]
    hash_data = _hash_data(unsigned, config, cryptosuite, key, loader, None)
    signature = sign_raw(key, hash_data) if isinstance(key, EllipticCurvePrivateKey) else key.sign(hash_data)
    signed = _copy_json(unsigned)
    signed["proof"] = {**config, "proofValue": encode_base58btc(signature)}
    return signed

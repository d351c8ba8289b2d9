"""``eddsa-rdfc-2022`` Data Integrity proofs (W3C vc-di-eddsa), exactly as in docs SIGNING.md.

hashData = SHA-256(RDFC-1.0(proof config + document @context)) || SHA-256(RDFC-1.0(document without proof));
signature = Ed25519(hashData); ``proofValue = "z" + base58btc(signature)``.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .dates import format_xsd_datetime, parse_xsd_datetime, require_aware
from .errors import CredentialError, KeyFormatError
from .jsonld import DocumentLoader, canonical_nquads
from .multibase import decode_base58btc, encode_base58btc
from .rdf import Quad, TermQuad
from .rdfc import canonicalize_dataset, canonicalize_term_quads
from .structure import CredentialStructureError, structure_problems

DATA_INTEGRITY_PROOF = "DataIntegrityProof"
EDDSA_RDFC_2022 = "eddsa-rdfc-2022"
ASSERTION_METHOD = "assertionMethod"
ED25519_SIGNATURE_SIZE = 64
# Legacy suite; verifying it needs https://w3id.org/security/suites/ed25519-2020/v1, which is not bundled.
ED25519_SIGNATURE_2020 = "Ed25519Signature2020"
# An RDF dataset as quads or as N-Quads term texts (what the one pass writes).
Dataset = list[Quad] | list[TermQuad]


@dataclass(frozen=True)
class ProofHashes:
    """Intermediate values of the eddsa-rdfc-2022 hashing step (exposed for tests and debugging)."""

    document_nquads: str
    proof_config_nquads: str
    document_hash: bytes
    proof_config_hash: bytes

    @property
    def hash_data(self) -> bytes:
        """The 64 bytes that are signed: proof config hash first, then document hash."""
        return self.proof_config_hash + self.document_hash


@dataclass(frozen=True)
class ProofCheckResult:
    """Outcome of checking one proof's signature; ``code`` is ``"proof.valid"`` on success."""

    valid: bool
    code: str
    message: str


def make_proof_config(
    verification_method: str, created: datetime, *, proof_purpose: str = ASSERTION_METHOD
) -> dict[str, Any]:
    """Return the proof configuration (an embedded proof without ``proofValue`` and without ``@context``)."""
    return {
        "type": DATA_INTEGRITY_PROOF,
        "cryptosuite": EDDSA_RDFC_2022,
        "created": format_xsd_datetime(require_aware(created, "created")),
        "verificationMethod": verification_method,
        "proofPurpose": proof_purpose,
    }


def _copy_json(node: Any) -> Any:
    """A deep copy of JSON data (objects and arrays copied, strings and numbers shared): ~5x copy.deepcopy."""
    if isinstance(node, dict):
        return {key: _copy_json(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_copy_json(item) for item in node]
    if isinstance(node, str | int | float | bool | None):
        return node
    return copy.deepcopy(node)


def _unsecured(credential: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in credential.items() if k != "proof"}


def _single_proof(credential: dict[str, Any]) -> dict[str, Any]:
    proof = credential.get("proof")
    if isinstance(proof, list) and len(proof) == 1:
        proof = proof[0]
    if not isinstance(proof, dict):
        raise CredentialError("credential has no single embedded proof object", code="proof.missing")
    return proof


def proof_hashes(
    credential: dict[str, Any],
    *,
    proof_config: dict[str, Any] | None = None,
    loader: DocumentLoader | None = None,
    check_terms: bool = True,
    datasets: tuple[Dataset, Dataset] | None = None,
    hash_algorithm: str = "sha256",
) -> ProofHashes:
    """Canonicalise and hash a credential and its proof config.

    ``proof_config`` defaults to the credential's embedded ``proof`` minus ``proofValue``. Either way the
    config is given the document's ``@context`` verbatim for canonicalisation, as the cryptosuite requires.
    ``datasets``: the RDF datasets of (document without proof, config) when the caller has built them (a
    verifier reads its claims from the same datasets), as quads or as the one pass's N-Quads term texts; the
    terms are then the caller's to check. ``hash_algorithm`` is both RDFC-1.0's and the digests' (ecdsa-rdfc-2019
    uses SHA-384 with a P-384 key).
    """
    if datasets is not None:
        return _hashes(_canonical(datasets[0], hash_algorithm), _canonical(datasets[1], hash_algorithm), hash_algorithm)
    config = dict(proof_config if proof_config is not None else _single_proof(credential))
    config.pop("proofValue", None)
    config["@context"] = credential.get("@context")
    document_nquads = canonical_nquads(
        _unsecured(credential), loader=loader, check_terms=check_terms, hash_algorithm=hash_algorithm
    )
    config_nquads = canonical_nquads(config, loader=loader, check_terms=check_terms, hash_algorithm=hash_algorithm)
    return _hashes(document_nquads, config_nquads, hash_algorithm)


def _canonical(dataset: Dataset, hash_algorithm: str = "sha256") -> str:
    if dataset and isinstance(dataset[0], tuple):  # term texts (rdf.TermQuad), from the one pass
        return canonicalize_term_quads(dataset, hash_algorithm=hash_algorithm).nquads  # type: ignore[arg-type]
    return canonicalize_dataset(dataset, hash_algorithm=hash_algorithm).nquads  # type: ignore[arg-type]


def _hashes(document_nquads: str, config_nquads: str, hash_algorithm: str = "sha256") -> ProofHashes:
    return ProofHashes(
        document_nquads=document_nquads,
        proof_config_nquads=config_nquads,
        document_hash=hashlib.new(hash_algorithm, document_nquads.encode("utf-8")).digest(),
        proof_config_hash=hashlib.new(hash_algorithm, config_nquads.encode("utf-8")).digest(),
    )


def sign_credential(
    unsigned: dict[str, Any],
    key: Ed25519PrivateKey,
    verification_method: str,
    created: datetime,
    *,
    proof_purpose: str = ASSERTION_METHOD,
    loader: DocumentLoader | None = None,
    check_structure: bool = True,
) -> dict[str, Any]:
    """Return a copy of ``unsigned`` with an embedded ``eddsa-rdfc-2022`` ``DataIntegrityProof``.

    Raises :class:`UndefinedTermError` if any term would be dropped by JSON-LD (verifiers run safe mode) and,
    with ``check_structure`` (default), :class:`CredentialStructureError` for non-OB 3.0 structure.
    """
    if "proof" in unsigned:
        raise CredentialError("credential already has a proof; sign the unsecured document", code="proof.exists")
    if check_structure:
        problems = structure_problems(unsigned)
        if problems:
            raise CredentialStructureError(problems)
    config = make_proof_config(verification_method, created, proof_purpose=proof_purpose)
    hashes = proof_hashes(unsigned, proof_config=config, loader=loader, check_terms=True)
    signature = key.sign(hashes.hash_data)
    signed = _copy_json(unsigned)
    signed["proof"] = {**config, "proofValue": encode_base58btc(signature)}
    return signed


def verify_proof(
    credential: dict[str, Any],
    public_key: Ed25519PublicKey,
    *,
    loader: DocumentLoader | None = None,
) -> ProofCheckResult:
    """Check the embedded ``eddsa-rdfc-2022`` proof of ``credential`` against ``public_key``.

    Only the cryptography is checked here (who may sign, validity dates and safe-mode terms are checked by
    :func:`shared.credentials.verification.verify_credential`). Canonicalisation is lenient so that a
    signature over a document with undefined terms is still evaluated.
    """
    try:
        proof = _single_proof(credential)
    except CredentialError as exc:
        return ProofCheckResult(False, exc.code, str(exc))
    if proof.get("type") != DATA_INTEGRITY_PROOF or proof.get("cryptosuite") != EDDSA_RDFC_2022:
        suite = proof.get("cryptosuite") or proof.get("type")
        return ProofCheckResult(False, "proof.unsupported_cryptosuite", f"unsupported proof suite {suite!r}")
    return check_ed25519_signature(credential, proof, public_key, loader=loader)


def check_ed25519_signature(
    credential: dict[str, Any],
    proof: dict[str, Any],
    public_key: Ed25519PublicKey,
    *,
    loader: DocumentLoader | None = None,
    suite: str | None = None,
    datasets: tuple[Dataset, Dataset] | None = None,
) -> ProofCheckResult:
    """The Ed25519 check shared by every supported suite: a well-formed proof whose signature covers
    SHA-256(canonical proof config) || SHA-256(canonical document). ``datasets``: see :func:`proof_hashes`."""
    try:
        parse_xsd_datetime(proof.get("created"))
        signature = decode_base58btc(proof.get("proofValue", ""))
    except (ValueError, KeyFormatError) as exc:
        return ProofCheckResult(False, "proof.malformed", f"malformed proof: {exc}")
    if len(signature) != ED25519_SIGNATURE_SIZE:
        return ProofCheckResult(False, "proof.malformed", f"signature has {len(signature)} bytes, expected 64")
    try:
        hashes = proof_hashes(credential, proof_config=proof, loader=loader, check_terms=False, datasets=datasets)
    except CredentialError as exc:
        return ProofCheckResult(False, exc.code, f"cannot canonicalise credential: {exc}")
    try:
        public_key.verify(signature, hashes.hash_data)
    except InvalidSignature:
        return ProofCheckResult(False, "proof.signature_invalid", "signature does not match the credential")
    return ProofCheckResult(True, "proof.valid", f"{suite} signature is valid" if suite else "signature is valid")

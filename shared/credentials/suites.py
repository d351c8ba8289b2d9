"""The Ed25519 proof suites a verifier accepts: ``eddsa-rdfc-2022`` and the legacy ones OB 3.0 verifiers meet.

All three sign the same 64 bytes — SHA-256(RDFC-1.0(proof config with the document's ``@context``)) ||
SHA-256(RDFC-1.0(document without proof)) — with pure Ed25519 and encode the signature as multibase
base58btc ``z…``:

- ``DataIntegrityProof`` / ``eddsa-rdfc-2022`` (W3C vc-di-eddsa, what we issue);
- ``DataIntegrityProof`` / ``eddsa-2022`` (the cryptosuite's name in earlier drafts; same algorithm);
- ``Ed25519Signature2020`` (the W3C CCG suite, context ``https://w3id.org/security/suites/ed25519-2020/v1``,
  bundled from the npm package ``ed25519-signature-2020-context``; the document must list that context,
  otherwise its proof type is an undefined term and the safe-mode check reports it).

Proofs of other suites (ecdsa-*, eddsa-jcs-2022, JWS-based ones) are recognised as unsupported.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .jsonld import DocumentLoader
from .proof import (
    DATA_INTEGRITY_PROOF,
    ED25519_SIGNATURE_2020,
    EDDSA_RDFC_2022,
    Dataset,
    ProofCheckResult,
    check_ed25519_signature,
)

EDDSA_2022 = "eddsa-2022"
ED25519_2020_CONTEXT = "https://w3id.org/security/suites/ed25519-2020/v1"
SUPPORTED_SUITES = (EDDSA_RDFC_2022, EDDSA_2022, ED25519_SIGNATURE_2020)


def suite_name(proof: Any) -> str | None:
    """The suite of ``proof``: its ``cryptosuite`` for a DataIntegrityProof, else its ``type``."""
    if not isinstance(proof, dict):
        return None
    suite = proof.get("cryptosuite") if proof.get("type") == DATA_INTEGRITY_PROOF else proof.get("type")
    return suite if isinstance(suite, str) else None


def is_supported(proof: Any) -> bool:
    """True if ``proof`` is of a suite this module verifies."""
    return suite_name(proof) in SUPPORTED_SUITES


def verify_embedded_proof(
    credential: dict[str, Any],
    proof: dict[str, Any],
    public_key: Ed25519PublicKey,
    *,
    loader: DocumentLoader | None = None,
    datasets: tuple[Dataset, Dataset] | None = None,
) -> ProofCheckResult:
    """Check one embedded Ed25519 proof of ``credential`` (any supported suite) against ``public_key``.

    Only the cryptography: who may sign, dates and safe-mode terms are checked elsewhere. Canonicalisation is
    lenient so that a signature over a document with undefined terms is still evaluated. ``datasets``: the RDF
    datasets of the document without proof and of this proof's configuration, when already built.
    """
    suite = suite_name(proof)
    if suite not in SUPPORTED_SUITES:
        return ProofCheckResult(False, "proof.unsupported_cryptosuite", f"unsupported proof suite {suite!r}")
    return check_ed25519_signature(credential, proof, public_key, loader=loader, suite=suite, datasets=datasets)

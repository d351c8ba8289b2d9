"""The JCS transformation and hashing of ``eddsa-jcs-2022`` (vc-di-eddsa) and ``ecdsa-jcs-2019`` (vc-di-ecdsa).

Verify Proof, steps 1-7, in both specifications: the unsecured document is the secured one without
``proof``; the proof options are the proof without ``proofValue``. If the options carry an ``@context``, the
document's ``@context`` must start with exactly those values, in that order, and the unsecured document
then takes the options' ``@context``. The proof configuration is the options as they are (Proof
Configuration: a clone of the options; a proof made by Create Proof carries the document's ``@context``, so one
without any is hashed without). hashData = H(JCS(proof configuration)) || H(JCS(unsecured document)), H being SHA-256
for eddsa-jcs-2022 and for P-256 keys, SHA-384 for P-384 keys. JCS is RFC 8785 (the ``rfc8785`` package).
"""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785

from .errors import CredentialError


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def jcs(value: Any) -> bytes:
    """RFC 8785 canonical bytes of ``value``; :class:`CredentialError` if it is not I-JSON (e.g. huge ints)."""
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:
        raise CredentialError(f"cannot canonicalise with JCS: {exc}", code="data.jcs_invalid") from exc


def jcs_documents(credential: dict[str, Any], proof: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(unsecured document, proof configuration) as the JCS suites hash them.

    Raises :class:`CredentialError` ``proof.context_mismatch`` when the proof's ``@context`` is not a prefix
    of the document's.
    """
    unsecured = {k: v for k, v in credential.items() if k != "proof"}
    options = {k: v for k, v in proof.items() if k != "proofValue"}
    if "@context" in options:
        wanted, present = _as_list(options["@context"]), _as_list(unsecured.get("@context"))
        if present[: len(wanted)] != wanted:
            raise CredentialError(
                "the document's @context does not start with the proof's @context", code="proof.context_mismatch"
            )
        unsecured["@context"] = options["@context"]
    return unsecured, options


def jcs_hash_data(credential: dict[str, Any], proof: dict[str, Any], hash_name: str) -> bytes:
    """The bytes a JCS-suite proof signs: H(JCS(proof config)) || H(JCS(unsecured document))."""
    unsecured, config = jcs_documents(credential, proof)
    return hashlib.new(hash_name, jcs(config)).digest() + hashlib.new(hash_name, jcs(unsecured)).digest()

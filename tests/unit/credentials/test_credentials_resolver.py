"""StaticDocumentResolver (offline did:web / https key documents) and ChainResolver."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.credentials import (
    ChainResolver,
    DidKeyResolver,
    KeyResolutionError,
    KeyResolver,
    Profile,
    StaticDocumentResolver,
    did_key_verification_method,
    did_web_document_url,
    public_key_multibase,
    sign_credential,
    verify_credential,
)

DID = "did:web:uni.example"


def _did_web_document(key: Ed25519PrivateKey, *, listed: bool = True, relative: bool = False) -> dict[str, Any]:
    vm_id = "#key-1" if relative else f"{DID}#key-1"
    return {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": DID,
        "verificationMethod": [
            {
                "id": vm_id,
                "type": "Multikey",
                "controller": DID,
                "publicKeyMultibase": public_key_multibase(key),
            }
        ],
        "assertionMethod": [vm_id] if listed else [],
    }


def _did_web_credential(unsigned: dict[str, Any], key: Ed25519PrivateKey, at: datetime) -> dict[str, Any]:
    doc = copy.deepcopy(unsigned)
    doc["issuer"] = Profile(id=DID, name="Example University").model_dump(exclude_none=True)
    return sign_credential(doc, key, f"{DID}#key-1", at)


@pytest.mark.parametrize("relative", [False, True])
def test_did_web_document_supplied_offline(
    unsigned_credential: dict[str, Any],
    issuer_key: Ed25519PrivateKey,
    signed_at: datetime,
    now: datetime,
    relative: bool,
) -> None:
    signed = _did_web_credential(unsigned_credential, issuer_key, signed_at)
    resolver = StaticDocumentResolver({DID: _did_web_document(issuer_key, relative=relative)})
    report = verify_credential(signed, resolver=resolver, now=now)
    assert report.verified, report.failures()


def test_key_not_under_assertion_method(
    unsigned_credential: dict[str, Any], issuer_key: Ed25519PrivateKey, signed_at: datetime, now: datetime
) -> None:
    signed = _did_web_credential(unsigned_credential, issuer_key, signed_at)
    resolver = StaticDocumentResolver({DID: _did_web_document(issuer_key, listed=False)})
    assert verify_credential(signed, resolver=resolver, now=now).codes() == {"issuer.key_not_authorized"}


def test_missing_document_and_revoked_key(
    unsigned_credential: dict[str, Any], issuer_key: Ed25519PrivateKey, signed_at: datetime, now: datetime
) -> None:
    signed = _did_web_credential(unsigned_credential, issuer_key, signed_at)
    codes = verify_credential(signed, resolver=StaticDocumentResolver({}), now=now).codes()
    assert codes == {"issuer.key_unresolved", "proof.not_checked"}
    doc = _did_web_document(issuer_key)
    doc["verificationMethod"][0]["revoked"] = "2026-02-01T00:00:00Z"
    codes = verify_credential(signed, resolver=StaticDocumentResolver({DID: doc}), now=now).codes()
    assert "issuer.key_revoked" in codes


def test_chain_resolver(issuer_key: Ed25519PrivateKey) -> None:
    chain = ChainResolver(DidKeyResolver(), StaticDocumentResolver({DID: _did_web_document(issuer_key)}))
    assert isinstance(chain, KeyResolver)
    assert chain.resolve_verification_method(f"{DID}#key-1").controller == DID
    vm = did_key_verification_method(issuer_key)
    assert chain.resolve_verification_method(vm).id == vm
    with pytest.raises(KeyResolutionError):
        chain.resolve_verification_method("https://elsewhere.example/keys#1")


def test_did_web_document_url() -> None:
    assert did_web_document_url("did:web:uni.example") == "https://uni.example/.well-known/did.json"
    assert did_web_document_url("did:web:uni.example:issuers:42") == "https://uni.example/issuers/42/did.json"
    assert did_web_document_url("did:web:localhost%3A8443") == "https://localhost:8443/.well-known/did.json"

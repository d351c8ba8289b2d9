"""OB 3.0 models: every emitted field is a defined term, validation, identity hashing."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from shared.credentials import (
    BitstringStatusListEntry,
    Criteria,
    DidKeyResolver,
    IdentityObject,
    OpenBadgeCredential,
    Profile,
    did_key,
    did_key_verification_method,
    find_safe_mode_violations,
    hash_identity,
    make_identity_object,
    sign_credential,
    verify_credential,
)

from .samples import fully_populated_credential


def test_fully_populated_credential_signs_with_term_check_and_verifies(
    issuer_key: Ed25519PrivateKey, signed_at: datetime, now: datetime
) -> None:
    unsigned = fully_populated_credential(did_key(issuer_key))
    assert find_safe_mode_violations(unsigned) == []
    signed = sign_credential(unsigned, issuer_key, did_key_verification_method(issuer_key), signed_at)
    report = verify_credential(signed, resolver=DidKeyResolver(), now=now)
    assert report.verified, report.failures()
    # Status is not checked yet and says so.
    assert [c.code for c in report.checks if c.outcome == "skipped"] == ["status.not_checked"]


def test_emitted_json_shape(unsigned_credential: dict[str, Any]) -> None:
    assert unsigned_credential["@context"] == [
        "https://www.w3.org/ns/credentials/v2",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
    ]
    assert unsigned_credential["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert unsigned_credential["validFrom"] == "2026-01-01T00:00:00Z"
    assert unsigned_credential["issuer"]["type"] == ["Profile"]
    subject = unsigned_credential["credentialSubject"]
    assert subject["type"] == ["AchievementSubject"]
    assert subject["identifier"][0] == {
        "type": "IdentityObject",
        "identityHash": hash_identity("learner@uni.example", "c0ffee"),
        "identityType": "emailAddress",
        "hashed": True,
        "salt": "c0ffee",
    }
    assert "description" not in unsigned_credential  # None values are omitted


def test_model_round_trip(unsigned_credential: dict[str, Any]) -> None:
    assert OpenBadgeCredential.model_validate(unsigned_credential).to_json() == unsigned_credential


def test_hash_identity() -> None:
    expected = hashlib.sha256(b"learner@uni.examplec0ffee").hexdigest()
    assert hash_identity("learner@uni.example", "c0ffee") == f"sha256${expected}"
    obj = make_identity_object("x@y.example")
    assert obj.salt and obj.identity_hash == hash_identity("x@y.example", obj.salt)


@pytest.mark.parametrize(
    ("model", "kwargs"),
    [
        (Profile, {"id": "not-a-url", "name": "x"}),
        (Profile, {"id": "https://a.example", "name": "x", "type": ["Organization"]}),
        (Criteria, {}),
        (IdentityObject, {"identity_hash": "md5$abc", "identity_type": "emailAddress"}),
        (IdentityObject, {"identity_hash": "sha256$" + "0" * 64, "identity_type": "shoeSize"}),
        (
            BitstringStatusListEntry,
            {
                "id": "https://s/1#1",
                "status_purpose": "revocation",
                "status_list_index": "-1",
                "status_list_credential": "https://s/1",
            },
        ),
    ],
)
def test_invalid_models(model: type, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        model(**kwargs)


def test_credential_validation(unsigned_credential: dict[str, Any]) -> None:
    data = dict(unsigned_credential)
    with pytest.raises(ValidationError):
        OpenBadgeCredential.model_validate({**data, "id": "http://example.com/credentials/1"})
    with pytest.raises(ValidationError):
        OpenBadgeCredential.model_validate({**data, "validUntil": "2025-01-01T00:00:00Z"})
    with pytest.raises(ValidationError):
        OpenBadgeCredential.model_validate({**data, "studentNumber": "1"})  # extra fields are forbidden
    with pytest.raises(ValidationError):
        OpenBadgeCredential.model_validate({**data, "validFrom": "2026-01-01T00:00:00"})  # naive


def test_subject_needs_id_or_identifier(unsigned_credential: dict[str, Any]) -> None:
    subject = dict(unsigned_credential["credentialSubject"])
    del subject["id"], subject["identifier"]
    with pytest.raises(ValidationError):
        OpenBadgeCredential.model_validate({**unsigned_credential, "credentialSubject": subject})

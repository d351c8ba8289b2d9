"""Issuer identity: did:web / did:key per tenant, the DID document, and the settings behind them."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.issuer.identity import PublishedKey, did_document, did_web, tenant_did, verification_method_id
from shared.credentials.keys import generate_key, public_key_multibase
from shared.credentials.resolver import StaticDocumentResolver, did_web_document_url
from shared.settings import DidMethod, IssuerProfileConfig, Settings

PRODUCTION = {
    "CREDSTREAM_ENV": "production",
    "CREDSTREAM_ADMIN_TOKEN": "a-real-admin-token",
    "CREDSTREAM_LMS_API_KEYS": "acme:a-real-lms-key",
    "CREDSTREAM_PUBLIC_BASE_URL": "https://badges.example.org",
}


@pytest.mark.parametrize(
    ("base_url", "tenant", "did", "document_url"),
    [
        (
            "https://badges.example.org",
            None,
            "did:web:badges.example.org",
            "https://badges.example.org/.well-known/did.json",
        ),
        (
            "https://badges.example.org/",
            "acme",
            "did:web:badges.example.org:tenants:acme",
            "https://badges.example.org/tenants/acme/did.json",
        ),
        (
            "https://localhost:8443",
            "acme",
            "did:web:localhost%3A8443:tenants:acme",
            "https://localhost:8443/tenants/acme/did.json",
        ),
        (
            "https://example.org/credstream",
            "acme",
            "did:web:example.org:credstream:tenants:acme",
            "https://example.org/credstream/tenants/acme/did.json",
        ),
    ],
)
def test_did_web_follows_the_did_web_method(base_url: str, tenant: str | None, did: str, document_url: str) -> None:
    assert did_web(base_url, tenant) == did
    # ...and the resolver's inverse finds the document where the issuer serves it.
    assert did_web_document_url(did) == document_url


def test_tenant_dids_by_method(settings: Settings) -> None:
    key_id = public_key_multibase(generate_key())
    assert settings.did_method() == DidMethod.KEY  # development default
    assert tenant_did(settings, "acme", key_id) == f"did:key:{key_id}"

    web = settings.model_copy(
        update={
            "issuer_did_method": DidMethod.WEB,
            "issuer_base_url": "https://issuer.example.org",
            "issuer_host_tenant": "main",
            "issuers": {"own": IssuerProfileConfig(id="did:web:badges.own.example", name="Own")},
        }
    )
    assert tenant_did(web, "acme", key_id) == "did:web:issuer.example.org:tenants:acme"
    assert tenant_did(web, "main", key_id) == "did:web:issuer.example.org"  # the single-tenant host
    assert tenant_did(web, "own", key_id) == "did:web:badges.own.example"  # its own domain


def test_did_document_keeps_retired_keys_authorised_and_marks_revoked_ones() -> None:
    did = "did:web:issuer.example.org:tenants:acme"
    old, current, leaked = (public_key_multibase(generate_key()) for _ in range(3))
    revoked_at = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    document = did_document(did, [PublishedKey(old), PublishedKey(leaked, revoked_at), PublishedKey(current)])
    assert document["@context"] == ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"]
    assert document["id"] == did
    methods = {m["id"]: m for m in document["verificationMethod"]}
    assert methods[f"{did}#{old}"] == {
        "id": f"{did}#{old}",
        "type": "Multikey",
        "controller": did,
        "publicKeyMultibase": old,
    }
    assert methods[f"{did}#{leaked}"]["revoked"] == "2026-11-29T12:00:00Z"
    assert document["assertionMethod"] == [f"{did}#{old}", f"{did}#{current}"]

    resolver = StaticDocumentResolver({did: document})
    assert "assertionMethod" in resolver.resolve_verification_method(verification_method_id(did, old)).purposes
    with pytest.raises(Exception, match="revoked"):
        resolver.resolve_verification_method(verification_method_id(did, leaked))


def test_production_defaults_to_did_web_and_demands_https() -> None:
    settings = Settings(_env_file=None, **PRODUCTION, CREDSTREAM_KEY_ENCRYPTION_KEY="k" * 32)
    assert settings.did_method() == DidMethod.WEB
    with pytest.raises(ValueError, match="https"):
        Settings(
            _env_file=None,
            **{**PRODUCTION, "CREDSTREAM_PUBLIC_BASE_URL": "http://badges.example.org"},
            CREDSTREAM_KEY_ENCRYPTION_KEY="k" * 32,
        )
    # Choosing did:key explicitly (e.g. a single-host install without TLS) is allowed.
    keyed = Settings(
        _env_file=None,
        **{**PRODUCTION, "CREDSTREAM_PUBLIC_BASE_URL": "http://localhost:8004"},
        CREDSTREAM_KEY_ENCRYPTION_KEY="k" * 32,
        CREDSTREAM_ISSUER_DID_METHOD="key",
    )
    assert keyed.did_method() == DidMethod.KEY


def test_key_encryption_key_from_a_mounted_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "kek"
    secret.write_text("from-the-secret-file\n", encoding="utf-8")
    settings = Settings(_env_file=None, **PRODUCTION, CREDSTREAM_KEY_ENCRYPTION_KEY_FILE=str(secret))
    assert settings.key_encryption_key.get_secret_value() == "from-the-secret-file"

    with pytest.raises(ValueError, match="set these secrets for production: CREDSTREAM_KEY_ENCRYPTION_KEY"):
        Settings(_env_file=None, **PRODUCTION)  # neither variable nor file: refuse to start
    (tmp_path / "empty").write_text("\n", encoding="utf-8")
    with pytest.raises(ValueError, match="empty"):
        Settings(_env_file=None, **PRODUCTION, CREDSTREAM_KEY_ENCRYPTION_KEY_FILE=str(tmp_path / "empty"))
    with pytest.raises(ValueError, match="cannot be read"):
        Settings(_env_file=None, **PRODUCTION, CREDSTREAM_KEY_ENCRYPTION_KEY_FILE=str(tmp_path / "missing"))

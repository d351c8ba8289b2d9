"""Revocation and key rotation through the embedded stack (real handlers, outbox, HTTP apps; SQLite)."""

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.embedded import EmbeddedStack
from services.verifier.handlers import revocation_of
from shared.credentials.bitstring_status_list import status_of
from shared.credentials.keys import public_key_from_multibase
from shared.credentials.proof import verify_proof
from shared.credentials.resolver import DidKeyResolver, StaticDocumentResolver
from shared.credentials.verification import verify_credential
from shared.db.engine import create_engine, session_factory
from shared.settings import IssuerProfileConfig, Settings
from tests.issuer_support import (
    ADMIN,
    ISSUER_URL,
    earn,
    fetch_json,
    issuer_settings,
    revoked,
    start_stack,
    web_settings,
)

LATER = datetime.now(UTC) + timedelta(days=1)


@pytest.fixture
async def stack(settings: Settings, tmp_path: Path) -> AsyncIterator[EmbeddedStack]:
    embedded = await start_stack(settings, tmp_path)
    yield embedded
    await embedded.stop()


@pytest.fixture
async def web_stack(settings: Settings, tmp_path: Path) -> AsyncIterator[EmbeddedStack]:
    embedded = await start_stack(web_settings(settings), tmp_path)
    yield embedded
    await embedded.stop()


def list_path(credential: dict[str, Any]) -> str:
    return "/" + credential["credentialStatus"]["statusListCredential"].split("/", 3)[3]


def index_of(credential: dict[str, Any]) -> int:
    return int(credential["credentialStatus"]["statusListIndex"])


def proof_key(document: dict[str, Any]) -> Any:
    """The public key named by a did:key proof's verification method."""
    return public_key_from_multibase(document["proof"]["verificationMethod"].split("#")[1])


async def test_status_list_is_served_with_caching_headers(stack: EmbeddedStack) -> None:
    badge = await earn(stack, "ada")
    status = badge.credential["credentialStatus"]
    assert status["type"] == "BitstringStatusListEntry" and status["statusPurpose"] == "revocation"
    assert status["statusListCredential"] == "http://127.0.0.1:8004/status-lists/acme/1"

    issuer = stack.http("issuer")
    response = await issuer.get(list_path(badge.credential))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vc+ld+json"
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["access-control-allow-origin"] == "*"
    etag, modified = response.headers["etag"], response.headers["last-modified"]
    assert etag.startswith('"') and modified.endswith("GMT")
    status_list = response.json()
    assert status_list["id"] == status["statusListCredential"]
    assert status_list["issuer"] == badge.credential["issuer"]["id"]  # verifiers insist on the same issuer
    assert verify_proof(status_list, proof_key(status_list)).valid
    assert status_of(status_list, index_of(badge.credential)) is False

    assert (await issuer.get(list_path(badge.credential), headers={"If-None-Match": etag})).status_code == 304
    assert (await issuer.get(list_path(badge.credential), headers={"If-Modified-Since": modified})).status_code == 304
    for missing in ("/status-lists/acme/99", "/status-lists/acme/x", "/status-lists/Not_A_Tenant/1"):
        assert (await issuer.get(missing)).status_code == 404


async def test_revoking_flips_the_bit_resigns_the_list_and_announces_it(stack: EmbeddedStack, tmp_path: Path) -> None:
    badge = await earn(stack, "ada")
    other = await earn(stack, "bo")
    assert (
        (badge.credential["credentialStatus"]["statusListCredential"])
        == (other.credential["credentialStatus"]["statusListCredential"])
    )
    assert index_of(badge.credential) != index_of(other.credential)
    issuer = stack.http("issuer")
    before = await issuer.get(list_path(badge.credential))
    url = f"/v1/credentials/{badge.credential_id}/revoke"

    assert (await issuer.post(url, json={"reason": "Academic misconduct"})).status_code == 401
    invalid = await issuer.post(url, json={"reason": ""}, headers=ADMIN)
    assert invalid.status_code == 422 and invalid.headers["content-type"] == "application/problem+json"
    missing = await issuer.post(f"/v1/credentials/{uuid.uuid4()}/revoke", json={"reason": "x"}, headers=ADMIN)
    assert missing.status_code == 404

    response = await issuer.post(url, json={"reason": "Academic misconduct"}, headers=ADMIN)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["revoked"] is True and body["already_revoked"] is False
    assert body["reason"] == "Academic misconduct"
    assert body["status_list_index"] == index_of(badge.credential)
    await stack.settle()

    [event] = revoked(stack)
    assert event.credential_id == badge.credential_id
    assert event.award_id == badge.award_id and event.learner_id == "ada"
    assert event.reason == "Academic misconduct" and event.status_purpose == "revocation"
    assert event.status_list_credential == badge.credential["credentialStatus"]["statusListCredential"]
    assert event.status_list_index == index_of(badge.credential)

    after = await issuer.get(list_path(badge.credential), headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200  # the list changed: the old ETag no longer matches
    status_list = after.json()
    assert verify_proof(status_list, proof_key(status_list)).valid
    assert status_of(status_list, index_of(badge.credential)) is True
    assert status_of(status_list, index_of(other.credential)) is False

    # The verifier's read model learned it from the event.
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'verifier.db'}")
    async with session_factory(engine)() as session:
        revocation = await revocation_of(session, uuid.UUID(badge.credential_id.removeprefix("urn:uuid:")))
    await engine.dispose()
    assert revocation is not None and revocation.reason == "Academic misconduct"

    # The verifier service, checking the status list it fetches, now reports the badge revoked (the other not).
    verifier = stack.http("verifier")
    report = (await verifier.get(f"/credentials/{badge.credential_id}/verification")).json()
    assert report["verified"] is False
    assert "status.revoked" in {c["code"] for c in report["checks"] if c["outcome"] == "failed"}, report
    assert (await verifier.get(f"/credentials/{other.credential_id}/verification")).json()["verified"] is True

    again = await issuer.post(url, json={"reason": "twice"}, headers=ADMIN)
    assert again.json()["already_revoked"] is True and again.json()["reason"] == "Academic misconduct"
    await stack.settle()
    assert len(revoked(stack)) == 1


async def test_did_web_credentials_verify_against_the_served_did_document(web_stack: EmbeddedStack) -> None:
    badge = await earn(web_stack, "ada")
    did = "did:web:issuer.example.org:tenants:acme"
    assert badge.credential["issuer"]["id"] == did and badge.issuer_id == did
    assert badge.credential["proof"]["verificationMethod"].startswith(did + "#z6Mk")
    assert badge.credential["credentialStatus"]["statusListCredential"] == f"{ISSUER_URL}/status-lists/acme/1"

    response = await web_stack.http("issuer").get("/tenants/acme/did.json")
    assert response.headers["content-type"] == "application/did+ld+json"
    assert response.headers["cache-control"] == "public, max-age=300"
    document = response.json()
    assert document["assertionMethod"] == [badge.credential["proof"]["verificationMethod"]]
    report = verify_credential(badge.credential, resolver=StaticDocumentResolver({did: document}), now=LATER)
    assert report.verified, report.codes()
    # The verifier service resolves the did:web (from the issuer, in-process here) and checks the status list.
    served = (await web_stack.http("verifier").get(f"/credentials/{badge.credential_id}/verification")).json()
    assert served["verified"] is True, served
    assert {c["check"]: c["code"] for c in served["checks"]}["status"] == "status.active"

    status_list = await fetch_json(web_stack, badge.credential["credentialStatus"]["statusListCredential"])
    key = StaticDocumentResolver({did: document}).resolve_verification_method(
        status_list["proof"]["verificationMethod"]
    )
    assert verify_proof(status_list, key.public_key).valid
    assert (await web_stack.http("issuer").get("/tenants/nobody/did.json")).status_code == 404
    assert (await web_stack.http("issuer").get("/.well-known/did.json")).status_code == 404  # no host tenant set


async def test_rotation_keeps_earlier_badges_verifiable_and_key_revocation_rejects_them(
    web_stack: EmbeddedStack,
) -> None:
    issuer = web_stack.http("issuer")
    did = "did:web:issuer.example.org:tenants:acme"
    first = await earn(web_stack, "ada")
    assert (await issuer.post("/v1/tenants/acme/keys/rotate")).status_code == 401
    rotated = await issuer.post("/v1/tenants/acme/keys/rotate", headers=ADMIN)
    assert rotated.status_code == 201, rotated.text
    new_key = rotated.json()
    assert new_key["did"] == did and new_key["active"] is True
    second = await earn(web_stack, "bo")
    assert second.credential["proof"]["verificationMethod"] == new_key["verification_method"]
    old_method = first.credential["proof"]["verificationMethod"]
    assert old_method != new_key["verification_method"]

    keys = (await issuer.get("/v1/tenants/acme/keys", headers=ADMIN)).json()["keys"]
    assert [(k["verification_method"], k["active"]) for k in keys] == [
        (old_method, False),
        (new_key["verification_method"], True),
    ]
    assert all("encrypted_private_key" not in k for k in keys)

    document = await fetch_json(web_stack, f"{ISSUER_URL}/tenants/acme/did.json")
    assert document["assertionMethod"] == [old_method, new_key["verification_method"]]
    resolver = StaticDocumentResolver({did: document})
    for badge in (first, second):
        assert verify_credential(badge.credential, resolver=resolver, now=LATER).verified

    # The list holding both badges was signed with the first key; it still verifies after the rotation.
    list_url = first.credential["credentialStatus"]["statusListCredential"]
    assert (await fetch_json(web_stack, list_url))["proof"]["verificationMethod"] == old_method

    active = new_key["key_id"]
    refused = await issuer.post(f"/v1/tenants/acme/keys/{active}/revoke", headers=ADMIN)
    assert refused.status_code == 409 and "rotate first" in refused.json()["detail"]
    old_key_id = old_method.split("#")[1]
    response = await issuer.post(f"/v1/tenants/acme/keys/{old_key_id}/revoke", headers=ADMIN)
    assert response.status_code == 200 and response.json()["revoked_at"]

    document = await fetch_json(web_stack, f"{ISSUER_URL}/tenants/acme/did.json")
    assert document["assertionMethod"] == [new_key["verification_method"]]
    assert next(m for m in document["verificationMethod"] if m["id"] == old_method)["revoked"]
    resolver = StaticDocumentResolver({did: document})
    assert "issuer.key_revoked" in verify_credential(first.credential, resolver=resolver, now=LATER).codes()
    assert verify_credential(second.credential, resolver=resolver, now=LATER).verified
    # ...and the shared status list was re-signed with the active key, so the second badge's status stays checkable.
    status_list = await fetch_json(web_stack, list_url)
    assert status_list["proof"]["verificationMethod"] == new_key["verification_method"]
    assert verify_proof(status_list, resolver.resolve_verification_method(new_key["verification_method"]).public_key)


async def test_did_key_rotation_starts_a_new_list_per_issuer(stack: EmbeddedStack) -> None:
    issuer = stack.http("issuer")
    first = await earn(stack, "ada")
    rotated = await issuer.post("/v1/tenants/acme/keys/rotate", headers=ADMIN)
    assert rotated.status_code == 201
    second = await earn(stack, "bo")
    assert second.issuer_id == rotated.json()["did"] != first.issuer_id  # a did:key rotation changes the DID
    assert first.credential["credentialStatus"]["statusListCredential"].endswith("/acme/1")
    assert second.credential["credentialStatus"]["statusListCredential"].endswith("/acme/2")
    for badge in (first, second):
        assert verify_credential(badge.credential, resolver=DidKeyResolver(), now=LATER).verified

    # Revoking the older badge re-signs its list as its own (retired) did:key, matching the badge's issuer.
    response = await issuer.post(f"/v1/credentials/{first.credential_id}/revoke", json={"reason": "x"}, headers=ADMIN)
    assert response.status_code == 200
    status_list = json.loads((await issuer.get(list_path(first.credential))).content)
    assert status_list["issuer"] == first.issuer_id
    assert status_list["proof"]["verificationMethod"] == first.credential["proof"]["verificationMethod"]
    assert verify_proof(status_list, proof_key(status_list)).valid
    assert status_of(status_list, index_of(first.credential)) is True
    refused = await issuer.post(f"/v1/tenants/acme/keys/{first.issuer_id[8:]}/revoke", headers=ADMIN)
    assert refused.status_code == 409  # a did:key has no document to mark revoked


async def test_host_tenant_is_served_at_well_known(settings: Settings, tmp_path: Path) -> None:
    host = issuer_settings(web_settings(settings), issuer_host_tenant="acme")
    embedded = await start_stack(host, tmp_path)
    try:
        badge = await earn(embedded, "ada")
        assert badge.issuer_id == "did:web:issuer.example.org"
        document = (await embedded.http("issuer").get("/.well-known/did.json")).json()
        assert document["id"] == "did:web:issuer.example.org"
        resolver = StaticDocumentResolver({document["id"]: document})
        assert verify_credential(badge.credential, resolver=resolver, now=LATER).verified
    finally:
        await embedded.stop()


async def test_configured_issuers_publish_their_did_document_before_the_first_badge(
    settings: Settings, tmp_path: Path
) -> None:
    configured = web_settings(settings).model_copy(
        update={"issuers": {"globex": IssuerProfileConfig(name="Globex Institute")}}
    )
    embedded = EmbeddedStack(configured, tmp_path)
    await embedded.start()
    try:
        document = (await embedded.http("issuer").get("/tenants/globex/did.json")).json()
        assert document["id"] == "did:web:issuer.example.org:tenants:globex"
        assert len(document["assertionMethod"]) == 1
    finally:
        await embedded.stop()

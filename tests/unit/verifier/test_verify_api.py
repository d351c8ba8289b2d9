"""`POST /verify`: anyone's credential in, per-check report out; bad input gets RFC 9457 problem details."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.runtime import Wiring
from services.verifier.entrypoint import build
from services.verifier.verification import CredentialVerifier
from shared.credentials import StaticFetcher, did_key, did_key_verification_method, sign_credential
from shared.credentials.baking import bake_png, bake_svg
from shared.credentials.fetch import CachingFetcher, HttpDocumentFetcher
from shared.credentials.resolver import did_web_document_url
from shared.credentials.vcjwt import decode_vc_jwt
from shared.db.engine import create_engine, session_factory
from shared.messaging.memory import InMemoryBus
from shared.settings import Settings
from tests.unit.credentials.samples import STATUS_LIST_URL, minimal_credential, status_list_credential, with_status
from tests.unit.credentials.test_credentials_baking import SVG, tiny_png
from tests.unit.credentials.test_credentials_vcjwt import jwt_claims, make_case, new_key, public_jwk, pyjwt_sign

PROBLEM = "application/problem+json"


@pytest.fixture
def status_list(issuer_key: Ed25519PrivateKey, signed_at: datetime) -> dict[str, Any]:
    unsigned = status_list_credential(did_key(issuer_key), set_indices=(5,))
    return sign_credential(
        unsigned, issuer_key, did_key_verification_method(issuer_key), signed_at, check_structure=False
    )


@pytest.fixture
async def client(settings: Settings, status_list: dict[str, Any]) -> AsyncIterator[httpx.AsyncClient]:
    engine = create_engine("sqlite+aiosqlite://")
    wiring = Wiring(
        settings.model_copy(update={"max_body_bytes": 50_000}),
        session_factory(engine),
        InMemoryBus(),
        document_fetcher=StaticFetcher({STATUS_LIST_URL: status_list}),  # offline: nothing else can be fetched
    )
    app = build(wiring).http
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://verifier") as http:
        yield http
    await engine.dispose()


async def test_verifies_json_wrapped_and_baked(client: httpx.AsyncClient, signed_credential: dict[str, Any]) -> None:
    text = json.dumps(signed_credential)
    for kwargs in (
        {"json": signed_credential},
        {"json": {"verifiableCredential": signed_credential}},
        {"content": text, "headers": {"content-type": "application/vc+ld+json"}},
        {"content": bake_png(tiny_png(), text), "headers": {"content-type": "image/png"}},
        {"content": bake_svg(SVG, text), "headers": {"content-type": "image/svg+xml"}},
    ):
        response = await client.post("/verify", **kwargs)
        assert response.status_code == 200, response.text
        report = response.json()
        assert report["verified"] is True, report
        assert {c["check"] for c in report["checks"]} >= {
            "structure",
            "schema",
            "data.terms",
            "issuer.key",
            "proof.signature",
            "validity",
        }
        for check in report["checks"]:
            assert set(check) >= {"check", "outcome", "code", "message"}


async def test_verifies_a_vc_jwt_in_every_form(client: httpx.AsyncClient) -> None:
    key, header, claims = make_case("EdDSA")  # a did:key issuer: nothing to fetch
    del claims["exp"], claims["vc"]["validUntil"]  # no end date: the service verifies at the current time
    token = pyjwt_sign(key, header, claims)
    for kwargs in (
        {"content": token, "headers": {"content-type": "application/jwt"}},
        {"content": token, "headers": {"content-type": "text/plain"}},
        {"json": {"verifiableCredential": token}},
        {"content": bake_png(tiny_png(), token), "headers": {"content-type": "image/png"}},
    ):
        response = await client.post("/verify", **kwargs)
        assert response.status_code == 200, response.text
        report = response.json()
        assert report["verified"] is True, report
        assert report["proofs"][0]["suite"] == "VC-JWT EdDSA"


async def test_revoked_and_active_status(
    client: httpx.AsyncClient, unsigned_credential: dict[str, Any], issuer_key: Ed25519PrivateKey, signed_at: datetime
) -> None:
    vm = did_key_verification_method(issuer_key)
    revoked = sign_credential(with_status(unsigned_credential, 5), issuer_key, vm, signed_at)
    report = (await client.post("/verify", json=revoked)).json()
    assert report["verified"] is False and report["status"] == "revoked"
    assert [c["code"] for c in report["checks"] if c["outcome"] == "failed"] == ["status.revoked"]
    active = sign_credential(with_status(unsigned_credential, 6), issuer_key, vm, signed_at)
    report = (await client.post("/verify", json=active)).json()
    assert report["verified"] is True and report["status"] == "active"
    elsewhere = sign_credential(
        with_status(unsigned_credential, 6, url="https://gone.example/list"), issuer_key, vm, signed_at
    )
    report = (await client.post("/verify", json=elsewhere)).json()
    assert report["verified"] is False and report["status"] == "undetermined"


JWT = "eyJhbGciOiJFZERTQSJ9.eyJ2YyI6e319.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"json": JWT},
        {"json": {"verifiableCredential": JWT}},
        {"content": JWT, "headers": {"content-type": "application/vc+jwt"}},
        {"content": JWT, "headers": {"content-type": "application/jwt"}},
        {"content": JWT, "headers": {"content-type": "text/plain"}},
        {"content": JWT, "headers": {"content-type": "application/json"}},
    ],
    ids=["jwt-in-json", "wrapped-jwt", "vc+jwt", "jwt", "text", "jwt-as-json"],
)
async def test_a_vc_jwt_gets_a_report(client: httpx.AsyncClient, kwargs: dict[str, Any]) -> None:
    response = await client.post("/verify", **kwargs)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["verified"] is False
    assert {"check": "issuer.key", "outcome": "failed", "code": "proof.jwt_no_key"}.items() <= next(
        c for c in report["checks"] if c["check"] == "issuer.key"
    ).items()


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "request.not_json"),
        ({"content": b"", "headers": {"content-type": "application/json"}}, 400, "request.empty"),
        ({"json": [1, 2]}, 422, "request.not_an_object"),
        ({"json": "hello"}, 422, "request.not_an_object"),
        ({"json": {"verifiableCredential": [1]}}, 422, "request.not_an_object"),
        ({"content": b"<xml/>", "headers": {"content-type": "application/xml"}}, 415, "request.unsupported_media_type"),
        ({"content": tiny_png(), "headers": {"content-type": "image/png"}}, 422, "request.not_baked"),
        ({"content": "eyJ.eyJ.x", "headers": {"content-type": "application/jwt"}}, 422, "proof.jwt_malformed"),
    ],
    ids=[
        "not-json",
        "empty",
        "array",
        "string",
        "wrapped-array",
        "xml",
        "unbaked-png",
        "unreadable-jwt",
    ],
)
async def test_bad_input_gets_problem_details(
    client: httpx.AsyncClient, kwargs: dict[str, Any], status: int, code: str
) -> None:
    response = await client.post("/verify", **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and body["code"] == code and body["title"] and body["detail"]


async def test_oversized_bodies_are_refused_with_or_without_content_length(client: httpx.AsyncClient) -> None:
    big = b'{"x": "' + b"a" * 60_000 + b'"}'
    response = await client.post("/verify", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.headers["content-type"] == PROBLEM

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"a" * 10_000

    response = await client.post("/verify", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["code"] == "request.too_large"


async def test_garbage_objects_get_a_report_not_a_crash(client: httpx.AsyncClient) -> None:
    for body in ({}, {"@context": 5, "proof": "x", "credentialStatus": [7]}, {"type": {"a": 1}, "issuer": []}):
        response = await client.post("/verify", json=body)
        assert response.status_code == 200, response.text
        assert response.json()["verified"] is False


async def test_a_vc_jwt_kid_fetches_the_issuers_did_document() -> None:
    """The kid's did:web document is gathered (from a static fetcher) like a proof's verificationMethod's."""
    key, _, _ = make_case("RS256")
    did = "did:web:uni.example"
    claims = jwt_claims(minimal_credential(did))
    del claims["exp"], claims["vc"]["validUntil"]
    method = {"id": f"{did}#key-1", "type": "JsonWebKey", "controller": did, "publicKeyJwk": public_jwk(key)}
    document = {"id": did, "verificationMethod": [method], "assertionMethod": [method["id"]]}
    verifier = CredentialVerifier(StaticFetcher({did_web_document_url(did): document}))
    try:
        report = await verifier.verify(decode_vc_jwt(pyjwt_sign(key, {"alg": "RS256", "kid": "#key-1"}, claims)))
    finally:
        verifier.close()
    assert report.verified, report.failures()
    assert report.verification_method == f"{did}#key-1"


async def test_a_plain_vc_verifies_as_not_an_open_badge(client: httpx.AsyncClient, status_list: dict[str, Any]) -> None:
    """A VC 2.0 credential that is not a badge (here a BitstringStatusListCredential) gets every VC check; the OB
    checks are not applicable, and the report says it is not an Open Badge."""
    report = (await client.post("/verify", json=status_list)).json()
    assert report["verified"] is True, report
    assert report["open_badge"] is False
    outcomes = {c["check"]: (c["outcome"], c["code"]) for c in report["checks"]}
    assert outcomes["ob.profile"] == ("not_applicable", "ob.not_an_open_badge")
    assert "schema" not in outcomes
    assert {k: v[0] for k, v in outcomes.items() if k != "ob.profile"} == {
        "structure": "passed",
        "data.terms": "passed",
        "data.signed_claims": "passed",
        "proof.suite": "passed",
        "issuer.key": "passed",
        "proof.signature": "passed",
        "validity": "passed",
    }


async def test_a_badge_that_lost_its_type_is_still_checked_as_a_badge(
    client: httpx.AsyncClient, signed_credential: dict[str, Any]
) -> None:
    """A credential with the OB context but no OB type is a broken badge, not a plain VC."""
    broken = {**signed_credential, "type": ["VerifiableCredential"]}
    report = (await client.post("/verify", json=broken)).json()
    assert report["verified"] is False and report["open_badge"] is True
    assert "data.invalid_type" in {c["code"] for c in report["checks"] if c["outcome"] == "failed"}


async def test_a_vc_jwt_key_from_the_issuers_jwks_over_https() -> None:
    """A bare kid is looked up in the issuer's https /.well-known/jwks.json, fetched through the verifier's fetcher
    (https only, private addresses refused) and cache; a jku on another host is never fetched."""
    key = new_key("ES256")
    issuer = "https://uni.example/issuers/1"
    claims = jwt_claims(minimal_credential(issuer))
    del claims["exp"], claims["vc"]["validUntil"]
    fetched: list[str] = []

    def serve(request: httpx.Request) -> httpx.Response:
        fetched.append(str(request.url))
        if request.url.path == "/.well-known/jwks.json":
            jwks = {"keys": [{**public_jwk(key), "kid": "k1", "use": "sig"}]}
            return httpx.Response(200, json=jwks, headers={"cache-control": "max-age=300"})
        return httpx.Response(404)

    def https_fetcher(check_addresses: bool) -> CachingFetcher:
        client = httpx.AsyncClient(transport=httpx.MockTransport(serve))
        return CachingFetcher(HttpDocumentFetcher(client=client, check_addresses=check_addresses))

    verifier = CredentialVerifier(https_fetcher(check_addresses=False))  # MockTransport: no DNS for uni.example
    try:
        token = pyjwt_sign(key, {"alg": "ES256", "kid": "k1"}, claims)
        for _ in range(2):
            report = await verifier.verify(decode_vc_jwt(token))
            assert report.verified, report.failures()
        assert fetched == ["https://uni.example/.well-known/jwks.json"]  # the second time from the cache
        foreign = pyjwt_sign(key, {"alg": "ES256", "kid": "k1", "jku": "https://keys.example/jwks.json"}, claims)
        report = await verifier.verify(decode_vc_jwt(foreign))
        assert "issuer.key_unbound" in report.codes()
        assert fetched == ["https://uni.example/.well-known/jwks.json"]
    finally:
        verifier.close()
    # An issuer on a private address: its JWK Set is refused by the fetcher policy, so the key is unavailable.
    verifier = CredentialVerifier(https_fetcher(check_addresses=True))
    try:
        private = jwt_claims(minimal_credential("https://127.0.0.1/issuers/1"))
        del private["exp"], private["vc"]["validUntil"]
        report = await verifier.verify(decode_vc_jwt(pyjwt_sign(key, {"alg": "ES256", "kid": "k1"}, private)))
        assert [c.code for c in report.checks if c.check == "issuer.key"] == ["issuer.key_unavailable"]
    finally:
        verifier.close()


FORM = {"content-type": "application/x-www-form-urlencoded"}


async def test_the_verify_page_renders_a_pasted_jwt_as_a_badge_page(
    client: httpx.AsyncClient, status_list: dict[str, Any]
) -> None:
    page = await client.get("/verify")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "form-action 'self'" in page.headers["content-security-policy"]
    assert "script-src" not in page.headers["content-security-policy"]  # default-src 'none': no scripts at all
    assert '<textarea id="credential" name="credential"' in page.text

    key, header, claims = make_case("EdDSA")
    token = pyjwt_sign(key, header, claims)
    shown = await client.post("/verify", content=urlencode({"credential": token}), headers=FORM)
    assert shown.status_code == 200, shown.text
    assert 'data-status="verified"' in shown.text
    assert claims["vc"]["credentialSubject"]["achievement"]["name"] in shown.text
    assert "VC-JWT EdDSA" in shown.text and 'data-check="proof.signature" data-outcome="passed"' in shown.text
    assert shown.headers["cache-control"] == "no-store"

    head, _, signature = token.split(".")
    forged = {**claims, "vc": {**claims["vc"], "name": "Forged"}}
    payload = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    tampered = await client.post(
        "/verify", content=urlencode({"credential": f"{head}.{payload}.{signature}"}), headers=FORM
    )
    assert 'data-status="not-verified"' in tampered.text

    plain = await client.post("/verify", content=urlencode({"credential": json.dumps(status_list)}), headers=FORM)
    assert 'data-status="verified-not-badge"' in plain.text and "About this achievement" not in plain.text

    for body, status in ((urlencode({"credential": "not a credential"}), 400), ("credential=%ff", 400), ("", 400)):
        refused = await client.post("/verify", content=body, headers=FORM)
        assert refused.status_code == status and 'data-testid="form-error"' in refused.text, refused.text
    huge = await client.post("/verify", content=urlencode({"credential": "x" * 60_000}), headers=FORM)
    assert huge.status_code == 413  # the app's body limit holds for the form too (refused before the route)


async def test_the_verify_page_takes_an_uploaded_file(client: httpx.AsyncClient) -> None:
    """The form as browsers send it (multipart/form-data): a baked PNG holding a VC-JWT, or the pasted text."""
    key, header, claims = make_case("ES256")
    token = pyjwt_sign(key, header, claims)
    for files in (
        {"file": ("badge.png", bake_png(tiny_png(), token), "image/png")},
        {"file": ("badge.svg", bake_svg(SVG, token).encode(), "image/svg+xml")},
        {"file": ("badge.jwt", token.encode(), "application/octet-stream")},
    ):
        shown = await client.post("/verify", data={"credential": ""}, files=files)
        assert shown.status_code == 200 and 'data-status="verified"' in shown.text, shown.text
    pasted = await client.post(
        "/verify", data={"credential": token}, files={"file": ("", b"", "application/octet-stream")}
    )
    assert 'data-status="verified"' in pasted.text
    empty = await client.post(
        "/verify", data={"credential": " "}, files={"file": ("", b"", "application/octet-stream")}
    )
    assert empty.status_code == 400 and "Nothing to verify" in empty.text
    not_baked = await client.post("/verify", files={"file": ("x.png", tiny_png(), "image/png")})
    assert not_baked.status_code == 422 and 'data-testid="form-error"' in not_baked.text
    broken = await client.post(
        "/verify", content=b"--x\r\nnonsense", headers={"content-type": "multipart/form-data; boundary=x"}
    )
    assert broken.status_code == 400 and 'data-testid="form-error"' in broken.text

"""Claiming a badge into a wallet through OpenID4VCI 1.0 (pre-authorized code): the embedded stack's issuer (real
handlers and HTTP app, SQLite) and the scripted did:key wallet of services/demo_oid4vci.py, plus hand-made
requests for every refusal."""

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key

from services.demo_oid4vci import claim_with_oid4vci, key_proof
from services.embedded import EmbeddedStack
from services.issuer import credential_offers
from services.issuer.oid4vci import PRE_AUTHORIZED_GRANT, PROOF_TYP
from shared.credentials.bitstring_status_list import status_of
from shared.credentials.documents import DocumentSet
from shared.credentials.ecdsa import ecdsa_public_key_multibase
from shared.credentials.keys import did_key, generate_key
from shared.credentials.verification import verify_credential
from shared.settings import Settings
from tests.issuer_support import ADMIN, earn, start_stack

ISSUER = "http://127.0.0.1:8004"  # the test settings' issuer origin: our credential_issuer identifier
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
async def stack(settings: Settings, tmp_path: Path) -> AsyncIterator[EmbeddedStack]:
    embedded = await start_stack(settings, tmp_path)
    yield embedded
    await embedded.stop()


async def offer(stack: EmbeddedStack, award_id: Any, **body: Any) -> dict[str, Any]:
    response = await stack.http("issuer").post(
        f"/v1/awards/{award_id}/credential-offers", json=body or None, headers=ADMIN
    )
    assert response.status_code == 201, response.text
    return response.json()


async def token(stack: EmbeddedStack, code: str, tx_code: str | None = None) -> Any:
    form = {"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": code}
    if tx_code is not None:
        form["tx_code"] = tx_code
    return await stack.http("issuer").post(f"{ISSUER}/oid4vci/token", data=form)


async def access_token(stack: EmbeddedStack, made: dict[str, Any]) -> str:
    response = await token(stack, code_of(made), made.get("tx_code"))
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def nonce(stack: EmbeddedStack) -> str:
    response = await stack.http("issuer").post(f"{ISSUER}/oid4vci/nonce")
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    return str(response.json()["c_nonce"])


async def credential(stack: EmbeddedStack, bearer: str, proof_jwt: str | None, **body: Any) -> Any:
    request: dict[str, Any] = {"credential_configuration_id": "OpenBadgeCredential", **body}
    if proof_jwt is not None:
        request["proofs"] = {"jwt": [proof_jwt]}
    return await stack.http("issuer").post(
        f"{ISSUER}/oid4vci/credential", json=request, headers={"Authorization": f"Bearer {bearer}"}
    )


def code_of(made: dict[str, Any]) -> str:
    return str(made["credential_offer"]["grants"][PRE_AUTHORIZED_GRANT]["pre-authorized_code"])


def error_of(response: Any, status: int = 400) -> str:
    assert response.status_code == status, response.text
    assert response.headers["cache-control"] == "no-store"
    return str(response.json()["error"])


async def verified(stack: EmbeddedStack, issued: dict[str, Any]) -> bool:
    url = issued["credentialStatus"]["statusListCredential"]
    listing = (await stack.http("issuer").get(url)).json()
    report = verify_credential(issued, now=datetime.now(UTC), documents=DocumentSet(documents={url: listing}))
    return report.verified


async def test_metadata_names_the_endpoints_and_the_open_badge_configuration(stack: EmbeddedStack) -> None:
    issuer = stack.http("issuer")
    metadata = (await issuer.get("/.well-known/openid-credential-issuer")).json()
    assert metadata["credential_issuer"] == ISSUER
    assert metadata["credential_endpoint"] == f"{ISSUER}/oid4vci/credential"
    assert metadata["nonce_endpoint"] == f"{ISSUER}/oid4vci/nonce"
    configuration = metadata["credential_configurations_supported"]["OpenBadgeCredential"]
    assert configuration["format"] == "ldp_vc"
    assert configuration["credential_definition"]["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert configuration["cryptographic_binding_methods_supported"] == ["did:key", "jwk"]
    assert configuration["proof_types_supported"]["jwt"]["proof_signing_alg_values_supported"] == ["EdDSA", "ES256"]
    server = (await issuer.get("/.well-known/oauth-authorization-server")).json()
    assert server["issuer"] == ISSUER and server["token_endpoint"] == f"{ISSUER}/oid4vci/token"
    assert server["grant_types_supported"] == [PRE_AUTHORIZED_GRANT]


async def test_a_scripted_wallet_claims_a_copy_that_revocation_revokes(stack: EmbeddedStack) -> None:
    badge = await earn(stack, "ada")
    holder = generate_key()
    claimed = await claim_with_oid4vci(stack.http("issuer"), badge.award_id, admin=ADMIN, key=holder)
    copy, award = claimed.credential, badge.credential
    assert claimed.holder == did_key(holder) == copy["credentialSubject"]["id"]
    assert copy["id"] != award["id"] and copy["issuer"] == award["issuer"]
    for same in ("achievement", "result", "identifier"):
        assert copy["credentialSubject"].get(same) == award["credentialSubject"].get(same)
    assert copy["evidence"] == award["evidence"]
    assert await verified(stack, copy)

    # The same DID through another offer gets the same credential (the VC-API exchange's copy rule).
    again = await claim_with_oid4vci(stack.http("issuer"), badge.award_id, admin=ADMIN, key=holder)
    assert again.credential == copy

    revoke = await stack.http("issuer").post(
        f"/v1/credentials/{badge.credential_id}/revoke", json={"reason": "Misconduct"}, headers=ADMIN
    )
    assert revoke.status_code == 200, revoke.text
    entry = copy["credentialStatus"]
    listing = (await stack.http("issuer").get(entry["statusListCredential"])).json()
    assert status_of(listing, int(entry["statusListIndex"])) is True
    assert not await verified(stack, copy)
    refused = await stack.http("issuer").post(f"/v1/awards/{badge.award_id}/credential-offers", headers=ADMIN)
    assert refused.status_code == 409 and refused.json()["code"] == "revoked"


async def test_offer_by_value_by_reference_and_as_a_qr_code(stack: EmbeddedStack) -> None:
    badge = await earn(stack, "bo")
    made = await offer(stack, badge.award_id, tx_code=True, tx_code_length=8)
    assert len(made["tx_code"]) == 8 and made["tx_code"].isdigit()
    grant = made["credential_offer"]["grants"][PRE_AUTHORIZED_GRANT]
    assert grant["tx_code"] == {"input_mode": "numeric", "length": 8, "description": grant["tx_code"]["description"]}
    assert made["credential_offer"]["credential_configuration_ids"] == ["OpenBadgeCredential"]
    link = urlsplit(made["offer_link"])
    assert link.scheme == "openid-credential-offer"
    assert json.loads(parse_qs(link.query)["credential_offer"][0]) == made["credential_offer"]
    (uri,) = parse_qs(urlsplit(made["offer_link_by_reference"]).query)["credential_offer_uri"]
    assert uri == made["credential_offer_uri"] and uri.startswith(f"{ISSUER}/oid4vci/offers/")
    by_reference = await stack.http("issuer").get(uri)
    assert by_reference.status_code == 200 and by_reference.json() == made["credential_offer"]
    svg = await stack.http("issuer").get(made["qr_code"]["svg"])
    assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml" and b"<svg" in svg.content
    png = await stack.http("issuer").get(made["qr_code"]["png"])
    assert png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG")

    assert (await access_token(stack, made)) and (await stack.http("issuer").get(uri)).status_code == 409
    unknown = await stack.http("issuer").get(f"{ISSUER}/oid4vci/offers/forged")
    assert unknown.status_code == 404 and unknown.json()["code"] == "offer.unknown"
    assert (await stack.http("issuer").get(f"{ISSUER}/oid4vci/offers/forged/qr.gif")).status_code == 404
    assert (await stack.http("issuer").post(f"/v1/awards/{badge.award_id}/credential-offers")).status_code == 401
    missing = await stack.http("issuer").post("/v1/awards/not-an-award/credential-offers", headers=ADMIN)
    assert missing.status_code == 404


async def test_codes_are_single_use_and_pins_are_checked(stack: EmbeddedStack) -> None:
    badge = await earn(stack, "cy")
    made = await offer(stack, badge.award_id, tx_code=True)
    code, pin = code_of(made), made["tx_code"]
    assert error_of(await token(stack, code)) == "invalid_request"  # the PIN is missing
    wrong = str((int(pin) + 1) % 10**6).zfill(6)
    assert error_of(await token(stack, code, wrong)) == "invalid_grant"
    assert error_of(await token(stack, "forged-code", pin)) == "invalid_grant"
    first = await token(stack, code, pin)
    assert first.status_code == 200 and first.json()["token_type"] == "Bearer"
    assert first.headers["cache-control"] == "no-store" and first.json()["expires_in"] > 0
    assert error_of(await token(stack, code, pin)) == "invalid_grant"  # replayed

    plain = await offer(stack, badge.award_id)
    assert "tx_code" not in plain
    assert error_of(await token(stack, code_of(plain), "123456")) == "invalid_request"  # no PIN was asked for
    issuer = stack.http("issuer")
    form = {"grant_type": "authorization_code", "code": "x"}
    assert error_of(await issuer.post(f"{ISSUER}/oid4vci/token", data=form)) == "unsupported_grant_type"
    json_body = await issuer.post(f"{ISSUER}/oid4vci/token", json={"grant_type": PRE_AUTHORIZED_GRANT})
    assert error_of(json_body) == "invalid_request"
    repeated = b"grant_type=a&grant_type=b"
    response = await issuer.post(f"{ISSUER}/oid4vci/token", content=repeated, headers={"content-type": FORM})
    assert error_of(response) == "invalid_request"


async def test_too_many_wrong_pins_kill_the_code(stack: EmbeddedStack) -> None:
    badge = await earn(stack, "dee")
    made = await offer(stack, badge.award_id, tx_code=True, tx_code_length=4)
    pin = made["tx_code"]
    wrong = [f"{n:04d}" for n in range(10**4) if f"{n:04d}" != pin][: credential_offers.MAX_TX_CODE_FAILURES]
    for guess in wrong:
        assert error_of(await token(stack, code_of(made), guess)) == "invalid_grant"
    assert error_of(await token(stack, code_of(made), pin)) == "invalid_grant"


async def test_expired_codes_and_tokens_are_refused(stack: EmbeddedStack, monkeypatch: pytest.MonkeyPatch) -> None:
    badge = await earn(stack, "eve")
    made = await offer(stack, badge.award_id, expires_in_seconds=60)
    other = await offer(stack, badge.award_id)
    bearer = await access_token(stack, other)
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=30)
    monkeypatch.setattr(credential_offers, "_now", lambda: later)
    assert error_of(await token(stack, code_of(made))) == "invalid_grant"
    assert (await stack.http("issuer").get(made["credential_offer_uri"])).status_code == 410
    expired = await credential(stack, bearer, None)
    assert error_of(expired, 401) == "invalid_token"
    assert expired.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def test_key_proofs_and_nonces(stack: EmbeddedStack) -> None:
    badge = await earn(stack, "fay")
    bearer = await access_token(stack, await offer(stack, badge.award_id))
    holder = generate_key()

    missing = await stack.http("issuer").post(f"{ISSUER}/oid4vci/credential", json={})
    assert error_of(missing, 401) == "invalid_token" and missing.headers["www-authenticate"] == "Bearer"
    assert error_of(await credential(stack, "forged", None), 401) == "invalid_token"
    assert error_of(await credential(stack, bearer, None)) == "invalid_proof"
    unknown = await credential(stack, bearer, None, credential_configuration_id="UniversityDegree")
    assert error_of(unknown) == "unknown_credential_configuration"

    fresh = await nonce(stack)
    thief = generate_key()
    header = {"typ": PROOF_TYP, "kid": f"{did_key(holder)}#{did_key(holder).removeprefix('did:key:')}"}
    forged = jwt.encode({"aud": ISSUER, "iat": _now(), "nonce": fresh}, thief, algorithm="EdDSA", headers=header)
    untyped = jwt.encode({"aud": ISSUER, "iat": _now(), "nonce": fresh}, holder, algorithm="EdDSA")
    cases = {
        "forged signature": forged,
        "wrong typ": untyped,
        "wrong audience": key_proof(holder, audience="https://elsewhere.example", nonce=fresh),
        "stale iat": key_proof(holder, audience=ISSUER, nonce=fresh, issued_at=_now() - 3600),
        "no nonce": key_proof(holder, audience=ISSUER, nonce=None),
    }
    for case, proof in cases.items():
        assert error_of(await credential(stack, bearer, proof)) == "invalid_proof", case
    assert error_of(await credential(stack, bearer, key_proof(holder, audience=ISSUER, nonce="made-up"))) == (
        "invalid_nonce"
    )

    ok = await credential(stack, bearer, key_proof(holder, audience=ISSUER, nonce=fresh))
    assert ok.status_code == 200, ok.text
    (issued,) = ok.json()["credentials"]
    assert issued["credential"]["credentialSubject"]["id"] == did_key(holder)
    # The nonce is spent; a new one gets the same credential for the same holder, another key is refused.
    replayed = await credential(stack, bearer, key_proof(holder, audience=ISSUER, nonce=fresh))
    assert error_of(replayed) == "invalid_nonce"
    again = await credential(stack, bearer, key_proof(holder, audience=ISSUER, nonce=await nonce(stack)))
    assert again.json()["credentials"] == [issued]
    stranger = await credential(stack, bearer, key_proof(generate_key(), audience=ISSUER, nonce=await nonce(stack)))
    assert error_of(stranger) == "credential_request_denied"


async def test_a_p256_jwk_proof_binds_a_did_jwk(stack: EmbeddedStack) -> None:
    badge = await earn(stack, "gus")
    bearer = await access_token(stack, await offer(stack, badge.award_id))
    key = generate_private_key(SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    claims = {"aud": ISSUER, "iat": _now(), "nonce": await nonce(stack)}
    proof = jwt.encode(claims, key, algorithm="ES256", headers={"typ": PROOF_TYP, "jwk": jwk})
    response = await credential(stack, bearer, None, proof={"proof_type": "jwt", "jwt": proof})  # pre-1.0 shape
    assert response.status_code == 200, response.text
    subject = response.json()["credentials"][0]["credential"]["credentialSubject"]["id"]
    assert subject.startswith("did:jwk:")
    decoded = json.loads(base64.urlsafe_b64decode(subject.removeprefix("did:jwk:") + "=="))
    assert decoded == {"crv": "P-256", "kty": "EC", "x": jwk["x"], "y": jwk["y"]}

    # A P-256 did:key signs ES256 too.
    bearer = await access_token(stack, await offer(stack, badge.award_id))
    multibase = ecdsa_public_key_multibase(key)
    headers = {"typ": PROOF_TYP, "kid": f"did:key:{multibase}#{multibase}"}
    claims = {"aud": ISSUER, "iat": _now(), "nonce": await nonce(stack)}
    response = await credential(stack, bearer, jwt.encode(claims, key, algorithm="ES256", headers=headers))
    assert response.status_code == 200, response.text
    assert response.json()["credentials"][0]["credential"]["credentialSubject"]["id"] == f"did:key:{multibase}"


async def test_a_revoked_award_is_not_issued(stack: EmbeddedStack) -> None:
    badge = await earn(stack, "hal")
    made = await offer(stack, badge.award_id)
    bearer = await access_token(stack, await offer(stack, badge.award_id))
    await stack.http("issuer").post(
        f"/v1/credentials/{badge.credential_id}/revoke", json={"reason": "Misconduct"}, headers=ADMIN
    )
    assert error_of(await token(stack, code_of(made))) == "invalid_grant"
    response = await credential(stack, bearer, key_proof(generate_key(), audience=ISSUER, nonce=await nonce(stack)))
    assert error_of(response) == "credential_request_denied"


def _now() -> int:
    return int(datetime.now(UTC).timestamp())


async def test_malformed_requests_get_an_oauth_error_never_a_crash(stack: EmbeddedStack) -> None:
    badge = await earn(stack, "ida")
    bearer = await access_token(stack, await offer(stack, badge.award_id))
    issuer = stack.http("issuer")
    bodies = [b"", b"not json", b"[1]", b'{"a":', b"1e999999", b"NaN", b"[" * 5000 + b"]" * 5000, b"\xff\xfe", b"{}"]
    for body in bodies:
        answered = await issuer.post(
            f"{ISSUER}/oid4vci/credential",
            content=body,
            headers={"Authorization": f"Bearer {bearer}", "content-type": "application/json"},
        )
        assert answered.status_code == 400 and answered.json()["error"], (body[:20], answered.text)
        token_answer = await issuer.post(f"{ISSUER}/oid4vci/token", content=body, headers={"content-type": FORM})
        assert token_answer.status_code == 400 and token_answer.json()["error"], (body[:20], token_answer.text)
    for proofs in ({"jwt": "a.b.c"}, {"di_vp": [{}]}, {"jwt": [7]}, [], {"jwt": ["not-a-jwt"]}):
        answered = await credential(stack, bearer, None, proofs=proofs)
        assert error_of(answered) == "invalid_proof", proofs

"""Claiming a badge into a wallet through the VC-API exchange: the embedded stack's issuer (real handlers and
HTTP app, SQLite) and a scripted did:key wallet (services/demo_wallet.py)."""

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from services.demo_wallet import did_auth
from services.embedded import EmbeddedStack
from services.issuer import wallet
from services.issuer.did_auth import PresentationRefused, authenticated_holder
from shared.credentials.bitstring_status_list import status_of
from shared.credentials.documents import DocumentSet
from shared.credentials.keys import did_key, generate_key
from shared.credentials.verification import verify_credential
from shared.settings import Settings
from tests.issuer_support import ADMIN, earn, start_stack

DOMAIN = "127.0.0.1:8004"  # the test settings' issuer origin
ISSUER_ORIGIN = "http://127.0.0.1:8004"


@pytest.fixture
async def stack(settings: Settings, tmp_path: Path) -> AsyncIterator[EmbeddedStack]:
    embedded = await start_stack(settings, tmp_path)
    yield embedded
    await embedded.stop()


def path_of(url: str) -> str:
    return url.removeprefix(ISSUER_ORIGIN)


async def claim_link(stack: EmbeddedStack, award_id: Any, **body: Any) -> dict[str, Any]:
    response = await stack.http("issuer").post(f"/v1/awards/{award_id}/claims", json=body or None, headers=ADMIN)
    assert response.status_code == 201, response.text
    return response.json()


async def request_of(stack: EmbeddedStack, link: dict[str, Any]) -> dict[str, Any]:
    response = await stack.http("issuer").post(path_of(link["exchange_url"]), json={})
    assert response.status_code == 200, response.text
    return response.json()["verifiablePresentationRequest"]


async def present(stack: EmbeddedStack, link: dict[str, Any], presentation: dict[str, Any]) -> Any:
    return await stack.http("issuer").post(path_of(link["exchange_url"]), json={"verifiablePresentation": presentation})


async def status_bit(stack: EmbeddedStack, credential: dict[str, Any]) -> bool:
    entry = credential["credentialStatus"]
    listing = await stack.http("issuer").get(path_of(entry["statusListCredential"]))
    return status_of(listing.json(), int(entry["statusListIndex"]))


async def verified(stack: EmbeddedStack, credential: dict[str, Any]) -> bool:
    url = credential["credentialStatus"]["statusListCredential"]
    listing = (await stack.http("issuer").get(path_of(url))).json()
    report = verify_credential(credential, now=datetime.now(UTC), documents=DocumentSet(documents={url: listing}))
    return report.verified


async def test_a_wallet_claims_a_copy_bound_to_its_did(stack: EmbeddedStack) -> None:
    badge = await earn(stack, "ada")
    link = await claim_link(stack, badge.award_id)
    assert link["exchange_url"].startswith(f"{ISSUER_ORIGIN}/exchanges/")
    assert link["deep_link"].startswith("dccrequest://request?issuer=did%3Akey%3A")
    assert "vc_request_url=http%3A%2F%2F127.0.0.1%3A8004%2Fexchanges%2F" in link["deep_link"]
    assert link["https_link"].startswith("https://")

    request = await request_of(stack, link)
    assert request["query"][0]["type"] == "DIDAuthentication" and request["domain"] == DOMAIN
    assert request == await request_of(stack, link)  # asking again changes nothing until it is answered

    holder = generate_key()
    response = await present(stack, link, did_auth(holder, request["challenge"], DOMAIN, legacy=True))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    (copy,) = response.json()["verifiablePresentation"]["verifiableCredential"]
    award = badge.credential
    assert copy["credentialSubject"]["id"] == did_key(holder)
    assert copy["id"] != award["id"] and copy["issuer"] == award["issuer"]
    for same in ("achievement", "result", "identifier"):
        assert copy["credentialSubject"].get(same) == award["credentialSubject"].get(same)
    assert copy["evidence"] == award["evidence"] and copy["validFrom"] == award["validFrom"]
    assert copy["credentialStatus"]["id"] != award["credentialStatus"]["id"]
    assert await verified(stack, copy)

    # The same holder, through a new link, gets the same credential; another holder gets its own.
    again = await claim_link(stack, badge.award_id)
    answer = await present(stack, again, did_auth(holder, (await request_of(stack, again))["challenge"], DOMAIN))
    assert answer.status_code == 200, answer.text
    assert answer.json()["verifiablePresentation"]["verifiableCredential"] == [copy]
    other = await claim_link(stack, badge.award_id)
    stranger = generate_key()
    answer = await present(stack, other, did_auth(stranger, (await request_of(stack, other))["challenge"], DOMAIN))
    (second,) = answer.json()["verifiablePresentation"]["verifiableCredential"]
    assert second["credentialSubject"]["id"] == did_key(stranger) and second["id"] != copy["id"]

    # Revoking the award revokes every copy.
    revoke = await stack.http("issuer").post(
        f"/v1/credentials/{badge.credential_id}/revoke", json={"reason": "Misconduct"}, headers=ADMIN
    )
    assert revoke.status_code == 200, revoke.text
    for credential in (award, copy, second):
        assert await status_bit(stack, credential) is True
    assert not await verified(stack, copy)
    refused = await stack.http("issuer").post(f"/v1/awards/{badge.award_id}/claims", headers=ADMIN)
    assert refused.status_code == 409 and refused.json()["code"] == "revoked"


async def test_a_claim_link_and_its_challenge_are_used_once(stack: EmbeddedStack) -> None:
    badge = await earn(stack, "bo")
    link = await claim_link(stack, badge.award_id)
    challenge = (await request_of(stack, link))["challenge"]
    presentation = did_auth(generate_key(), challenge, DOMAIN)
    assert (await present(stack, link, presentation)).status_code == 200

    replayed = await present(stack, link, presentation)
    assert replayed.status_code == 409 and replayed.headers["content-type"] == "application/problem+json"
    assert replayed.json()["code"] == "exchange.completed"
    asked = await stack.http("issuer").post(path_of(link["exchange_url"]), json={})
    assert asked.status_code == 409

    # Replayed into another exchange, the presentation carries the wrong challenge.
    other = await claim_link(stack, badge.award_id)
    await request_of(stack, other)
    refused = await present(stack, other, presentation)
    assert refused.status_code == 400 and refused.json()["code"] == "proof.challenge"


async def test_refused_presentations_leave_the_exchange_open(stack: EmbeddedStack) -> None:
    badge = await earn(stack, "cy")
    link = await claim_link(stack, badge.award_id)
    challenge = (await request_of(stack, link))["challenge"]
    holder, thief = generate_key(), generate_key()
    forged = did_auth(thief, challenge, DOMAIN, holder=did_key(holder))
    forged["proof"]["verificationMethod"] = f"{did_key(holder)}#{did_key(holder).removeprefix('did:key:')}"
    cases = {
        "proof.signature_invalid": forged,
        "proof.domain": did_auth(holder, challenge, "evil.example"),
        "proof.challenge": did_auth(holder, "guessed", DOMAIN),
        "proof.purpose": did_auth(holder, challenge, DOMAIN, purpose="assertionMethod"),
        "presentation.holder": did_auth(holder, challenge, DOMAIN, holder="did:web:evil.example"),
    }
    for code, presentation in cases.items():
        response = await present(stack, link, presentation)
        assert response.status_code == 400, (code, response.text)
        assert response.json()["code"] == code and response.json()["title"] == "Presentation refused"
    assert (await present(stack, link, did_auth(holder, challenge, DOMAIN))).status_code == 200


async def test_expired_and_unknown_exchanges_are_refused(stack: EmbeddedStack, monkeypatch: pytest.MonkeyPatch) -> None:
    badge = await earn(stack, "di")
    link = await claim_link(stack, badge.award_id, expires_in_seconds=60)
    challenge = (await request_of(stack, link))["challenge"]
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=2)
    monkeypatch.setattr(wallet, "_now", lambda: later)
    expired = await present(stack, link, did_auth(generate_key(), challenge, DOMAIN))
    assert expired.status_code == 410 and expired.json()["code"] == "exchange.expired"

    unknown = await stack.http("issuer").post("/exchanges/not-a-claim-link", json={})
    assert unknown.status_code == 404 and unknown.json()["code"] == "exchange.unknown"
    no_admin = await stack.http("issuer").post(f"/v1/awards/{badge.award_id}/claims")
    assert no_admin.status_code == 401
    missing = await stack.http("issuer").post("/v1/awards/not-an-award/claims", headers=ADMIN)
    assert missing.status_code == 404
    malformed = await stack.http("issuer").post(path_of(link["exchange_url"]), content=b"[1]")
    assert malformed.status_code == 400


def test_did_auth_accepts_both_wallet_suites() -> None:
    key = generate_key()
    for legacy in (False, True):
        assert authenticated_holder(did_auth(key, "c", "d", legacy=legacy), challenge="c", domain="d") == did_key(key)


def test_did_auth_refuses_a_selective_disclosure_proof() -> None:
    presentation = did_auth(generate_key(), "c", "d")
    presentation["proof"]["cryptosuite"] = "ecdsa-sd-2023"
    with pytest.raises(PresentationRefused) as refused:
        authenticated_holder(presentation, challenge="c", domain="d")
    assert refused.value.code == "proof.unsupported_cryptosuite"


def test_did_auth_refuses_a_presentation_whose_context_drops_the_challenge() -> None:
    key = generate_key()
    presentation = did_auth(key, "c", "d")
    presentation["@context"] = ["https://www.w3.org/2018/credentials/v1"]  # no DataIntegrityProof terms
    with pytest.raises(PresentationRefused):
        authenticated_holder(presentation, challenge="c", domain="d")


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
_KEY = generate_key()
_VALID = did_auth(_KEY, "c", "d")


@hypothesis_settings(max_examples=150, deadline=None)
@given(
    member=st.sampled_from(["@context", "type", "holder", "proof"]),
    proof_member=st.sampled_from(
        ["type", "cryptosuite", "challenge", "domain", "proofValue", "created", "verificationMethod"]
    ),
    value=_JSON,
)
def test_did_auth_refuses_any_mangled_presentation_with_a_reason(member: str, proof_member: str, value: Any) -> None:
    for presentation in (
        {**_VALID, member: value},
        {**_VALID, "proof": {**_VALID["proof"], proof_member: value}},
        value,
    ):
        if presentation == _VALID:
            continue
        try:
            holder = authenticated_holder(json.loads(json.dumps(presentation)), challenge="c", domain="d")
        except PresentationRefused as refusal:
            assert refusal.code and str(refusal)
        else:
            assert holder == did_key(_KEY)  # only an equivalent presentation passes (e.g. "type" as a string)

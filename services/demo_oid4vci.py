"""Demo: a scripted did:key wallet claims a badge through OpenID for Verifiable Credential Issuance 1.0.

`claim_with_oid4vci` runs the whole pre-authorized code flow against the issuer's HTTP API — over the network
(`httpx.AsyncClient()`) or in-process (`httpx.AsyncClient(transport=httpx.ASGITransport(app=…))`, as the embedded
stack's `stack.http("issuer")`): offer (admin API, with a PIN), offer by reference, both metadata documents,
token, nonce, a `jwt` key proof signed with the holder's Ed25519 key, credential.
"""

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.issuer.oid4vci import CONFIGURATION_ID, PRE_AUTHORIZED_GRANT, PROOF_TYP
from shared.credentials.keys import did_key, did_key_verification_method, generate_key


@dataclass(frozen=True)
class WalletClaim:
    holder: str  # the did:key the credential is bound to
    credential: dict[str, Any]
    offer_link: str  # what the QR code encodes


def key_proof(key: Ed25519PrivateKey, *, audience: str, nonce: str | None, issued_at: float | None = None) -> str:
    """An `openid4vci-proof+jwt` key proof by `key`'s did:key (OID4VCI 1.0 §F.1)."""
    claims: dict[str, Any] = {"aud": audience, "iat": int(time.time() if issued_at is None else issued_at)}
    if nonce is not None:
        claims["nonce"] = nonce
    headers = {"typ": PROOF_TYP, "kid": did_key_verification_method(key)}
    return jwt.encode(claims, key, algorithm="EdDSA", headers=headers)


async def claim_with_oid4vci(
    issuer: httpx.AsyncClient | str,
    award_id: uuid.UUID | str,
    *,
    admin: dict[str, str],
    key: Ed25519PrivateKey | None = None,
) -> WalletClaim:
    """Offer the award (admin), then collect it as a wallet holding `key` (a new one if None) would.

    `issuer`: a client for the issuer's HTTP API (e.g. the embedded stack's `stack.http("issuer")`), or its base URL.
    """
    if isinstance(issuer, str):
        async with httpx.AsyncClient(base_url=issuer, timeout=30) as client:
            return await claim_with_oid4vci(client, award_id, admin=admin, key=key)
    key = key or generate_key()
    response = await issuer.post(f"/v1/awards/{award_id}/credential-offers", json={"tx_code": True}, headers=admin)
    response.raise_for_status()
    made = response.json()

    # The wallet scans the QR code: the link names the offer by reference.
    link = made["offer_link_by_reference"]
    (offer_uri,) = parse_qs(urlsplit(link).query)["credential_offer_uri"]
    offer = await _get_json(issuer, offer_uri)
    credential_issuer = offer["credential_issuer"]
    metadata = await _get_json(issuer, f"{credential_issuer}/.well-known/openid-credential-issuer")
    server = await _get_json(issuer, f"{credential_issuer}/.well-known/oauth-authorization-server")
    if CONFIGURATION_ID not in offer["credential_configuration_ids"]:
        raise ValueError(f"the offer does not name {CONFIGURATION_ID}")

    grant = offer["grants"][PRE_AUTHORIZED_GRANT]
    form = {"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": grant["pre-authorized_code"]}
    if "tx_code" in grant:
        form["tx_code"] = made["tx_code"]  # the learner types the PIN they were given
    response = await issuer.post(server["token_endpoint"], data=form)
    response.raise_for_status()
    access_token = response.json()["access_token"]

    response = await issuer.post(metadata["nonce_endpoint"])
    response.raise_for_status()
    proof = key_proof(key, audience=credential_issuer, nonce=response.json()["c_nonce"])
    response = await issuer.post(
        metadata["credential_endpoint"],
        json={"credential_configuration_id": CONFIGURATION_ID, "proofs": {"jwt": [proof]}},
        headers={"Authorization": f"Bearer {access_token}"},
    )
    response.raise_for_status()
    (issued,) = response.json()["credentials"]
    return WalletClaim(holder=did_key(key), credential=issued["credential"], offer_link=link)


async def _get_json(client: httpx.AsyncClient, url: str) -> Any:
    response = await client.get(url)
    response.raise_for_status()
    return json.loads(response.content)

"""A scripted did:key wallet, for the demo and the VC-API exchange tests: DID authentication presentations signed in
Python (the Node wallet in tests/interop signs with Digital Bazaar's libraries), and a claim through an exchange."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.credentials.keys import did_key, did_key_verification_method
from shared.credentials.multibase import encode_base58btc
from shared.credentials.proof import make_proof_config, proof_hashes
from shared.credentials.suites import ED25519_2020_CONTEXT

VC_V2 = "https://www.w3.org/ns/credentials/v2"
VC_V1 = "https://www.w3.org/2018/credentials/v1"


def did_auth(
    key: Ed25519PrivateKey,
    challenge: str,
    domain: str,
    *,
    legacy: bool = False,
    holder: str | None = None,
    purpose: str = "authentication",
) -> dict[str, Any]:
    """A VerifiablePresentation authenticating `key`'s did:key: eddsa-rdfc-2022 on VC 2.0, or (`legacy`)
    Ed25519Signature2020 on VC 1.1, as the DCC Learner Credential Wallet signs."""
    created = datetime.now(UTC).replace(microsecond=0)
    method = did_key_verification_method(key)
    presentation: dict[str, Any] = {
        "@context": [VC_V1, ED25519_2020_CONTEXT] if legacy else [VC_V2],
        "type": ["VerifiablePresentation"],
        "holder": holder or did_key(key),
    }
    config = make_proof_config(method, created, proof_purpose=purpose)
    if legacy:
        config = {
            "type": "Ed25519Signature2020",
            **{k: v for k, v in config.items() if k not in {"type", "cryptosuite"}},
        }
    config |= {"challenge": challenge, "domain": domain}
    hashes = proof_hashes(presentation, proof_config=config)
    return {**presentation, "proof": {**config, "proofValue": encode_base58btc(key.sign(hashes.hash_data))}}


async def claim_over_vc_api(client: httpx.AsyncClient, exchange_url: str, key: Ed25519PrivateKey) -> dict[str, Any]:
    """Walk a VC-API exchange as a wallet does: ask (`{}`), authenticate with the challenge and domain it is given,
    and return the holder-bound credential the issuer answers with. `client` reaches the exchange URL's host."""
    asked = await client.post(urlsplit(exchange_url).path, json={})
    asked.raise_for_status()
    request = asked.json()["verifiablePresentationRequest"]
    presentation = did_auth(key, request["challenge"], request["domain"])
    answered = await client.post(urlsplit(exchange_url).path, json={"verifiablePresentation": presentation})
    answered.raise_for_status()
    (credential,) = answered.json()["verifiablePresentation"]["verifiableCredential"]
    return credential

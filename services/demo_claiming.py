"""The demo's wallet: a scripted did:key holder claims a badge through each wallet protocol the issuer speaks and
keeps the holder-bound credentials in OUT/wallet/.

CLAIM_PROTOCOLS is the list of protocols: each takes the embedded stack, the admin headers, the award and the
holder's key, and returns the credential the wallet received. The same holder gets the same copy through either.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.demo_oid4vci import claim_with_oid4vci
from services.demo_wallet import claim_over_vc_api
from services.embedded import EmbeddedStack
from shared.contracts import BadgeIssued

ClaimProtocol = Callable[[EmbeddedStack, dict[str, str], uuid.UUID, Ed25519PrivateKey], Awaitable[dict[str, Any]]]


async def claim_with_vc_api(
    stack: EmbeddedStack, admin: dict[str, str], award_id: uuid.UUID, holder: Ed25519PrivateKey
) -> dict[str, Any]:
    """VC-API exchange, as the DCC Learner Credential Wallet speaks it: a claim link, DID authentication."""
    response = await stack.http("issuer").post(f"/v1/awards/{award_id}/claims", headers=admin)
    response.raise_for_status()
    return await claim_over_vc_api(stack.http("issuer"), response.json()["exchange_url"], holder)


async def claim_with_openid4vci(
    stack: EmbeddedStack, admin: dict[str, str], award_id: uuid.UUID, holder: Ed25519PrivateKey
) -> dict[str, Any]:
    """OpenID4VCI 1.0 pre-authorized code flow: an offer by reference with a PIN, a `jwt` key proof."""
    return (await claim_with_oid4vci(stack.http("issuer"), award_id, admin=admin, key=holder)).credential


CLAIM_PROTOCOLS: list[tuple[str, ClaimProtocol]] = [
    ("vc-api", claim_with_vc_api),
    ("oid4vci", claim_with_openid4vci),
]


async def claim_into_wallet(
    stack: EmbeddedStack,
    admin: dict[str, str],
    badge: BadgeIssued,
    holder: Ed25519PrivateKey,
    out: Path | None,
) -> list[tuple[str, dict[str, Any]]]:
    """Claim `badge` through every protocol; write each copy to OUT/wallet/<learner>-<achievement>-<protocol>.json."""
    claimed = []
    for protocol, claim in CLAIM_PROTOCOLS:
        credential = await claim(stack, admin, badge.award_id, holder)
        claimed.append((protocol, credential))
        if out is not None:
            folder = out / "wallet"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{badge.learner_id}-{badge.achievement_id}-{protocol}.json"
            path.write_text(json.dumps(credential, indent=2) + "\n", encoding="utf-8")
    return claimed

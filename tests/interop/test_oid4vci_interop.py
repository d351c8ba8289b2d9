"""A wallet built on the OpenWallet Foundation's OpenID4VCI client library (`oid4vci.mjs claim`:
@openid4vc/openid4vci 0.4.6, not our server code) claims a badge from a real issuer HTTP server, with the services on
real Kafka and PostgreSQL: through an offer by reference with a PIN (did:key holder, EdDSA proof) and an offer by
value (jwk holder, ES256 proof). Its credentials verify in our verifier and in Digital Bazaar's vc, and fail as
revoked once the award is revoked; replayed codes are refused."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from services.issuer.oid4vci import PRE_AUTHORIZED_GRANT
from services.runtime import KafkaService
from tests.infra import Infrastructure
from tests.interop.test_wallet_exchange_interop import (  # noqa: F401 (served is a fixture)
    earn_on_kafka,
    node,
    pytestmark,
    served,
    verify_in_digital_bazaar,
)
from tests.issuer_support import ADMIN

pytestmark = [
    *pytestmark,
    pytest.mark.skipif(
        not (Path(__file__).parent / "node_modules" / "@openid4vc" / "openid4vci").is_dir(),
        reason="tests/interop/node_modules missing @openid4vc/openid4vci: run `npm ci` there (make test does)",
    ),
]


async def claim(*args: str) -> dict[str, str]:
    [line] = await node("claim", *args, script="oid4vci.mjs")
    return line


async def refused_claim(*args: str) -> str:
    """Run a claim the issuer must refuse; the library's error (with the server's answer) is on stderr."""
    process = await asyncio.create_subprocess_exec(
        "node", str(Path(__file__).parent / "oid4vci.mjs"), "claim", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 1, stderr.decode()
    return stderr.decode()


async def our_verifier(running: dict[str, KafkaService], credential: dict[str, object]) -> dict[str, object]:
    transport = httpx.ASGITransport(app=running["verifier"].parts.http)
    async with httpx.AsyncClient(transport=transport, base_url="http://verifier") as client:
        response = await client.post("/verify", json=credential)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]


async def test_an_openid4vci_wallet_claims_a_badge_that_revocation_then_revokes(
    served: tuple[dict[str, KafkaService], str],  # noqa: F811 (the fixture imported above)
    infra: Infrastructure,
    tmp_path: Path,
) -> None:
    running, base = served
    badge = await earn_on_kafka(running, infra.kafka_bootstrap_servers, learner="oid")
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(
            f"{base}/v1/awards/{badge.award_id}/credential-offers", json={"tx_code": True}, headers=ADMIN
        )
        assert response.status_code == 201, response.text
        offer = response.json()
        assert offer["credential_offer_uri"].startswith(f"{base}/oid4vci/offers/")

        # The library's wallet with a wrong PIN is refused (invalid_grant); the code stays usable.
        wrong_pin = str((int(offer["tx_code"]) + 1) % 10**6).zfill(6)
        error = await refused_claim("--tx-code", wrong_pin, offer["offer_link_by_reference"], str(tmp_path / "x"))
        assert "invalid_grant" in error, error

        copy = tmp_path / "oid4vci-copy.json"
        claimed = await claim("--tx-code", offer["tx_code"], offer["offer_link_by_reference"], str(copy))
        credential = json.loads(await asyncio.to_thread(copy.read_text))
        assert claimed["credential_issuer"] == base and claimed["token_type"] == "Bearer"
        assert credential["credentialSubject"]["id"] == claimed["holder"]
        assert claimed["holder"].startswith("did:key:z6Mk")
        assert credential["credentialSubject"]["achievement"] == badge.credential["credentialSubject"]["achievement"]

        # The code is spent: redeeming it again (any client) is refused as the spec names it.
        code = offer["credential_offer"]["grants"][PRE_AUTHORIZED_GRANT]["pre-authorized_code"]
        form = {"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": code, "tx_code": offer["tx_code"]}
        replay = await http.post(f"{base}/oid4vci/token", data=form)
        assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"

        # An offer by value, and a holder that sends its P-256 key as a jwk (bound as did:jwk).
        response = await http.post(f"{base}/v1/awards/{badge.award_id}/credential-offers", headers=ADMIN)
        jwk_copy = tmp_path / "oid4vci-jwk-copy.json"
        by_value = await claim("--jwk", response.json()["offer_link"], str(jwk_copy))
        jwk_credential = json.loads(await asyncio.to_thread(jwk_copy.read_text))
        assert jwk_credential["credentialSubject"]["id"] == by_value["holder"]
        assert by_value["holder"].startswith("did:jwk:")

        for wallet_credential, file in ((credential, copy), (jwk_credential, jwk_copy)):
            report = await our_verifier(running, wallet_credential)
            assert report["verified"] is True, report
            checked = await verify_in_digital_bazaar(http, wallet_credential, file, tmp_path)
            assert checked["verified"] is True and checked["status"] == "active", checked

        response = await http.post(
            f"{base}/v1/credentials/{badge.credential_id}/revoke", json={"reason": "Issued in error"}, headers=ADMIN
        )
        assert response.status_code == 200, response.text
        for wallet_credential, file in ((credential, copy), (jwk_credential, jwk_copy)):
            after = await verify_in_digital_bazaar(http, wallet_credential, file, tmp_path)
            assert after["verified"] is False and after["status"] == "revoked", after

        # A new offer for the revoked award is refused.
        refused = await http.post(f"{base}/v1/awards/{badge.award_id}/credential-offers", headers=ADMIN)
        assert refused.status_code == 409 and refused.json()["code"] == "revoked"

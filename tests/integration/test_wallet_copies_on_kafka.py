"""Wallet copies on real Kafka and PostgreSQL: a wallet claims an award's credential through the issuer's exchange,
the copy's badge-issued (award_credential_id, holder) goes through the issuer's outbox to Kafka, the verifier
serves the copy under its award, and revoking the award shows the copy revoked on its badge page."""

import json
import uuid
from typing import Any

import httpx
import pytest

from services.demo_wallet import claim_over_vc_api
from services.runtime import KafkaService
from shared.contracts import BadgeIssued, CloudEvent, Topic
from shared.credentials.keys import did_key, generate_key
from shared.settings import Settings
from tests.helpers import eventually, produce, read_topic
from tests.infra import Infrastructure
from tests.issuer_support import ADMIN, passed_award

pytestmark = pytest.mark.integration
HTML = {"Accept": "text/html"}


def client(service: KafkaService, base_url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=service.parts.http), base_url=base_url)


async def test_a_claimed_copy_reaches_the_verifier_and_is_revoked_with_its_award(
    services: dict[str, KafkaService], infra: Infrastructure, settings: Settings
) -> None:
    bootstrap = infra.kafka_bootstrap_servers
    tenant = f"w{uuid.uuid4().hex[:8]}"
    award = passed_award(tenant_id=tenant, learner_id="ivy")
    ce = CloudEvent(source="credstream/assessment", type=award.CE_TYPE)
    await produce(
        bootstrap,
        str(Topic.ASSESSMENT_PASSED),
        award.model_dump_json().encode(),
        key=award.key(),
        headers=ce.to_header_dict(),
    )
    issuer = client(services["issuer"], settings.issuer_url())
    verifier = client(services["verifier"], settings.public_base_url)
    async with issuer, verifier:

        async def claim_link() -> dict[str, Any] | None:
            response = await issuer.post(f"/v1/awards/{award.award_id}/claims", headers=ADMIN)
            return response.json() if response.status_code == 201 else None

        link = await eventually(claim_link)  # once the award's credential is issued
        holder = generate_key()
        copy = await claim_over_vc_api(issuer, link["exchange_url"], holder)

        records = await read_topic(
            bootstrap,
            str(Topic.BADGE_ISSUED),
            match=lambda r: r.key == award.key().encode(),
            until=lambda found: len(found) >= 2,
        )
        announced = [BadgeIssued.model_validate_json(r.value) for r in records]
        [original] = [event for event in announced if not event.is_wallet_copy]
        [copied] = [event for event in announced if event.is_wallet_copy]
        assert copied.credential == copy and copied.holder == did_key(holder)
        assert copied.award_credential_id == original.credential_id and copied.award_id == award.award_id

        copy_path = f"/credentials/{copy['id'].removeprefix('urn:uuid:')}"

        async def served() -> httpx.Response | None:
            response = await verifier.get(copy_path)
            return response if response.status_code == 200 else None

        response = await eventually(served)
        assert json.loads(response.content) == copy
        assert response.headers["credstream-award-credential"] == original.credential_id
        page = (await verifier.get(copy_path, headers=HTML)).text
        assert 'data-testid="wallet-copy"' in page and 'data-status="verified"' in page

        revoked = await issuer.post(
            f"/v1/credentials/{original.credential_id}/revoke", json={"reason": "Issued in error"}, headers=ADMIN
        )
        assert revoked.status_code == 200, revoked.text

        async def page_says_revoked() -> bool:
            return 'data-status="revoked"' in (await verifier.get(copy_path, headers=HTML)).text

        assert await eventually(page_says_revoked)

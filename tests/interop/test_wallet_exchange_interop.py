"""A wallet built from Digital Bazaar's libraries (`dbvc.mjs claim`: did-method-key, ed25519-multikey,
data-integrity, vc) claims a badge through the VC-API exchange of a real issuer HTTP server, with the services on
real Kafka and PostgreSQL; the credential it receives verifies in Digital Bazaar's vc, and no longer once the
award is revoked."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from pydantic import SecretStr

from services.runtime import KafkaService
from shared.contracts import BadgeIssued, Topic
from shared.settings import Settings
from tests.e2e.processes import free_port
from tests.helpers import eventually, read_topic
from tests.infra import Infrastructure
from tests.issuer_support import ADMIN, FULL_ACHIEVEMENT
from tests.kafka_stack import kafka_services, kafka_settings

HERE = Path(__file__).resolve().parent
_LOCAL = not os.environ.get("CI")
pytestmark = [
    pytest.mark.interop,
    pytest.mark.integration,
    pytest.mark.skipif(_LOCAL and shutil.which("node") is None, reason="node is not installed"),
    pytest.mark.skipif(
        _LOCAL and not (HERE / "node_modules" / "@digitalbazaar" / "did-method-key").is_dir(),
        reason="tests/interop/node_modules missing: run `npm ci` there (make test does)",
    ),
]
TENANT = f"w{uuid.uuid4().hex[:8]}"  # Kafka topics outlive test runs: keys must be unique to this run
LMS = {"Authorization": "Bearer wallet-lms-key"}


@pytest.fixture
async def served(
    settings: Settings, infra: Infrastructure, postgres_url: str
) -> AsyncIterator[tuple[dict[str, KafkaService], str]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = kafka_settings(
        settings, infra, postgres_url, lms_api_keys=SecretStr(f"{TENANT}:wallet-lms-key"), issuer_base_url=base
    )
    async with kafka_services(config) as running:
        server = uvicorn.Server(
            uvicorn.Config(running["issuer"].parts.http, host="127.0.0.1", port=port, log_config=None, lifespan="off")
        )
        task = asyncio.create_task(server.serve())

        async def started() -> bool:
            return server.started

        await eventually(started, timeout=30, interval=0.05)
        try:
            yield running, base
        finally:
            server.should_exit = True
            await task


async def node(*args: str, script: str = "dbvc.mjs") -> list[dict[str, Any]]:
    """Run a Node tool of this folder without blocking the loop that serves the issuer it talks to."""
    process = await asyncio.create_subprocess_exec(
        "node", str(HERE / script), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, stderr.decode()
    return [json.loads(line) for line in stdout.decode().splitlines() if line.strip()]


async def earn_on_kafka(running: dict[str, KafkaService], bootstrap: str, learner: str = "ada") -> BadgeIssued:
    t0 = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    activities = [
        {"tenant_id": TENANT, "learner_id": learner, "event_id": f"{learner}-w1", "kind": "enrolled",
         "achievement_id": "data-viz", "occurred_at": t0},
        {"tenant_id": TENANT, "learner_id": learner, "event_id": f"{learner}-w2", "kind": "scored",
         "assessment_id": "chart-quiz", "score": 45, "max_score": 50, "occurred_at": t0},
        {"tenant_id": TENANT, "learner_id": learner, "event_id": f"{learner}-w3", "kind": "scored",
         "assessment_id": "portfolio", "score": 9, "max_score": 10, "rubric": {"clarity": "proficient"},
         "occurred_at": t0},
    ]  # fmt: skip
    assessment = httpx.ASGITransport(app=running["assessment"].parts.http)
    enrollment = httpx.ASGITransport(app=running["enrollment"].parts.http)
    async with httpx.AsyncClient(transport=assessment, base_url="http://assessment") as client:
        response = await client.put(f"/v1/tenants/{TENANT}/achievements/data-viz", json=FULL_ACHIEVEMENT, headers=ADMIN)
        assert response.status_code == 200, response.text
    async with httpx.AsyncClient(transport=enrollment, base_url="http://enrollment") as client:
        response = await client.post("/v1/activities", json=activities, headers=LMS)
        assert response.status_code == 202, response.text
    key = f"{TENANT}:{learner}".encode()
    [record] = await read_topic(bootstrap, str(Topic.BADGE_ISSUED), match=lambda r: r.key == key, until=bool)
    return BadgeIssued.model_validate_json(record.value)


async def verify_in_digital_bazaar(
    http: httpx.AsyncClient, credential: dict[str, Any], file: Path, folder: Path
) -> dict[str, Any]:
    """Verify with dbvc.mjs, handing it the status list as fetched now from the issuer over HTTP."""
    url = credential["credentialStatus"]["statusListCredential"]
    listing = await http.get(url)
    assert listing.status_code == 200
    docs = _write_docs(folder, {url: listing.text})
    [line] = await node("verify", "--docs", str(docs), str(file))
    return line


def _write_docs(folder: Path, documents: dict[str, str]) -> Path:
    index = {url: f"doc-{n}.json" for n, url in enumerate(documents)}
    for url, name in index.items():
        (folder / name).write_text(documents[url], encoding="utf-8")
    (folder / "docs.json").write_text(json.dumps(index), encoding="utf-8")
    return folder / "docs.json"


async def test_a_digital_bazaar_wallet_claims_a_badge_that_revocation_then_revokes(
    served: tuple[dict[str, KafkaService], str], infra: Infrastructure, tmp_path: Path
) -> None:
    running, base = served
    badge = await earn_on_kafka(running, infra.kafka_bootstrap_servers)
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(f"{base}/v1/awards/{badge.award_id}/claims", headers=ADMIN)
        assert response.status_code == 201, response.text
        link = response.json()
        assert link["exchange_url"].startswith(f"{base}/exchanges/")

        copy = tmp_path / "wallet-copy.json"
        [claimed] = await node("claim", link["exchange_url"], str(copy))
        credential = json.loads(await asyncio.to_thread(copy.read_text))
        assert credential["credentialSubject"]["id"] == claimed["holder"]
        assert credential["credentialSubject"]["achievement"] == badge.credential["credentialSubject"]["achievement"]
        assert claimed["request"]["domain"] == base.removeprefix("http://")

        before = await verify_in_digital_bazaar(http, credential, copy, tmp_path)
        assert before["verified"] is True and before["status"] == "active", before

        # The link is spent: the same wallet, or anyone holding the link, is refused with problem details.
        replay = await http.post(link["exchange_url"], json={})
        assert replay.status_code == 409 and replay.headers["content-type"] == "application/problem+json"

        # A wallet signing as the DCC Learner Credential Wallet does (Ed25519Signature2020, VC 1.1).
        response = await http.post(f"{base}/v1/awards/{badge.award_id}/claims", headers=ADMIN)
        legacy_copy = tmp_path / "legacy-wallet-copy.json"
        [legacy] = await node("claim", "--legacy", response.json()["exchange_url"], str(legacy_copy))
        legacy_credential = json.loads(await asyncio.to_thread(legacy_copy.read_text))
        assert legacy["proof"] == "Ed25519Signature2020" and claimed["proof"] == "DataIntegrityProof"
        assert legacy_credential["credentialSubject"]["id"] == legacy["holder"] != claimed["holder"]
        checked = await verify_in_digital_bazaar(http, legacy_credential, legacy_copy, tmp_path)
        assert checked["verified"] is True, checked

        response = await http.post(
            f"{base}/v1/credentials/{badge.credential_id}/revoke", json={"reason": "Issued in error"}, headers=ADMIN
        )
        assert response.status_code == 200, response.text
        for wallet_credential, file in ((credential, copy), (legacy_credential, legacy_copy)):
            after = await verify_in_digital_bazaar(http, wallet_credential, file, tmp_path)
            assert after["verified"] is False and after["status"] == "revoked", after

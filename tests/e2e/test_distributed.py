"""End to end: the four services as separate OS processes on real Kafka and PostgreSQL.

An LMS posts over HTTP; the badge-issued record is read from Kafka as an integrator would; its credential is
fetched from and verified by the verifier's public API.
"""

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from shared.contracts import BadgeIssued, Topic
from tests.e2e.processes import ADMIN_TOKEN, LMS_KEY, SERVICES, ServiceProcesses
from tests.helpers import eventually, header, read_to_end, read_topic, skip_topic_history
from tests.infra import Infrastructure

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
LMS = {"Authorization": f"Bearer {LMS_KEY}"}


@pytest.fixture
def stack(infra: Infrastructure, postgres_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Start `credstream serve <service>` four times; yield each service's base URL."""
    processes = ServiceProcesses(infra.kafka_bootstrap_servers, postgres_url, tmp_path, f"e2e-{uuid.uuid4().hex[:8]}")
    # Start from the end of the shared topics: replaying every earlier run's records outlasts the timeouts.
    asyncio.run(skip_topic_history(infra.kafka_bootstrap_servers, processes.group))
    for name in SERVICES:
        processes.start(name)
    try:
        yield {name: processes.url(name) for name in SERVICES}
    finally:
        codes = processes.stop_all()
        for name, code in codes.items():
            assert code == 0, f"{name} exited {code}:\n{processes.log(name)}"


async def wait_ready(client: httpx.AsyncClient, url: str) -> None:
    async def ready() -> bool:
        try:
            return (await client.get(f"{url}/readyz")).status_code == 200
        except httpx.TransportError:
            return False

    await eventually(ready, timeout=90, interval=0.5)


async def test_lms_events_become_a_verified_badge(stack: dict[str, str], infra: Infrastructure) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        for url in stack.values():
            await wait_ready(client, url)

        achievement = {
            "id": "kafka-basics",
            "name": "Kafka Basics",
            "description": "Produces and consumes records with delivery guarantees.",
            "criteria": {
                "narrative": "At least 80% on the Kafka quiz.",
                "required_assessments": [{"assessment_id": "kafka-quiz", "min_score": 80}],
            },
        }
        response = await client.put(
            f"{stack['assessment']}/v1/tenants/e2e-school/achievements/kafka-basics",
            json=achievement,
            headers=ADMIN,
        )
        assert response.status_code == 200, response.text

        learner = f"learner-{uuid.uuid4().hex[:6]}"
        start = datetime.now(UTC) - timedelta(minutes=10)
        enrolled = {
            "tenant_id": "e2e-school",
            "learner_id": learner,
            "learner_name": "Grace",
            "event_id": f"{learner}-enrol",
            "kind": "enrolled",
            "achievement_id": "kafka-basics",
            "occurred_at": start.isoformat(),
        }
        failed = {
            "tenant_id": "e2e-school",
            "learner_id": learner,
            "event_id": f"{learner}-try1",
            "kind": "scored",
            "assessment_id": "kafka-quiz",
            "score": 55,
            "max_score": 100,
            "occurred_at": (start + timedelta(minutes=1)).isoformat(),
        }
        passed = {
            **failed,
            "event_id": f"{learner}-try2",
            "score": 93,
            "occurred_at": (start + timedelta(minutes=2)).isoformat(),
        }

        # Unauthenticated and malformed requests are refused with problem details.
        response = await client.post(f"{stack['enrollment']}/v1/activities", json=enrolled)
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")
        response = await client.post(
            f"{stack['enrollment']}/v1/activities", json={**enrolled, "kind": "graded"}, headers=LMS
        )
        assert response.status_code == 422

        for body in (enrolled, failed, passed, passed):  # the last one is the LMS retrying a delivery
            response = await client.post(f"{stack['enrollment']}/v1/activities", json=body, headers=LMS)
            assert response.status_code == 202, response.text
        assert response.json()["results"][0]["status"] == "duplicate"

        records = await read_topic(
            infra.kafka_bootstrap_servers,
            str(Topic.BADGE_ISSUED),
            # Ours, by our issuer profile: on a shared broker another run's issuer may announce this award too.
            match=lambda r: r.key == f"e2e-school:{learner}".encode() and b'"E2E School"' in r.value,
            until=lambda found: len(found) >= 1,
            timeout=90,
        )
        badge = BadgeIssued.model_validate_json(records[0].value)
        assert header(records[0], "ce_type") == BadgeIssued.CE_TYPE
        assert header(records[0], "ce_specversion") == "1.0"
        assert badge.credential["issuer"]["name"] == "E2E School"
        assert badge.credential["credentialSubject"]["result"][0]["value"] == "93"

        async def published() -> httpx.Response | None:
            response = await client.get(f"{stack['verifier']}/credentials/{badge.credential_id}")
            return response if response.status_code == 200 else None

        response = await eventually(published, timeout=60)
        assert response.headers["content-type"].startswith("application/vc+ld+json")
        assert response.json() == badge.credential

        report = (await client.post(f"{stack['verifier']}/verify", json=response.json())).json()
        assert report["verified"], report
        assert {c["check"] for c in report["checks"]} >= {
            "structure",
            "issuer.key",
            "proof.signature",
            "validity",
            "status",
        }

        # Still exactly one badge for this learner once everything has settled.
        # (Read to the end of the topic, however long it grew; counted by credential id, as on a shared broker
        # another run replaying the topics may re-announce the same credential.)
        records = await read_to_end(infra.kafka_bootstrap_servers, str(Topic.BADGE_ISSUED))
        mine = [BadgeIssued.model_validate_json(r.value) for r in records if r.key == f"e2e-school:{learner}".encode()]
        assert {b.credential_id for b in mine} == {badge.credential_id}

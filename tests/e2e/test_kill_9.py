"""Accepted data survives kill -9: services are killed mid-stream and restarted; every learner still gets exactly
one badge (no loss from un-relayed outbox rows or uncommitted offsets, no duplicates from redelivery).

The second test runs two replicas of assessment and of the issuer (batch consumers, one transaction per poll):
the second replicas join mid-stream (a rebalance), then the first ones are killed mid-batch (another, after the
session timeout) and come back (a third)."""

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import make_url

from shared.contracts import BadgeIssued, Topic
from tests.e2e.processes import ADMIN_TOKEN, LMS_KEY, SERVICES, TENANT, ServiceProcesses
from tests.helpers import read_to_end, read_topic, skip_topic_history
from tests.infra import Infrastructure

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
LEARNERS = 40


async def define_drill_achievement(
    client: httpx.AsyncClient, processes: ServiceProcesses, achievement_id: str, description: str
) -> None:
    """An Achievement earned by any result on the assessment `drill`."""
    achievement = {
        "id": achievement_id,
        "name": achievement_id.title(),
        "description": description,
        "criteria": {"narrative": "Pass the drill.", "required_assessments": [{"assessment_id": "drill"}]},
    }
    response = await client.put(
        f"{processes.url('assessment')}/v1/tenants/{TENANT}/achievements/{achievement_id}",
        json=achievement,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert response.status_code == 200, response.text


def drill_activities(run: str, learners: int, achievement_id: str) -> list[dict[str, object]]:
    """Each learner enrols, then scores 90 on the drill: one badge per learner."""
    t0 = datetime.now(UTC) - timedelta(hours=1)
    activities: list[dict[str, object]] = []
    for i in range(learners):
        learner = f"{run}-{i}"
        activities += [
            {"tenant_id": TENANT, "learner_id": learner, "event_id": f"{learner}-e", "kind": "enrolled",
             "achievement_id": achievement_id, "occurred_at": t0.isoformat()},
            {"tenant_id": TENANT, "learner_id": learner, "event_id": f"{learner}-s", "kind": "scored",
             "assessment_id": "drill", "score": 90, "occurred_at": (t0 + timedelta(minutes=1)).isoformat()},
        ]  # fmt: skip
    return activities


async def post_activities(
    client: httpx.AsyncClient, processes: ServiceProcesses, chunk: list[dict[str, object]]
) -> None:
    response = await client.post(
        f"{processes.url('enrollment')}/v1/activities", json=chunk, headers={"Authorization": f"Bearer {LMS_KEY}"}
    )
    assert response.status_code == 202, response.text


async def test_kill_9_loses_nothing_and_duplicates_nothing(
    infra: Infrastructure, postgres_url: str, tmp_path: Path
) -> None:
    processes = ServiceProcesses(infra.kafka_bootstrap_servers, postgres_url, tmp_path, f"k9-{uuid.uuid4().hex[:8]}")
    # Start from the end of the shared topics: replaying every earlier run's records outlasts the timeouts.
    await skip_topic_history(infra.kafka_bootstrap_servers, processes.group)
    for name in SERVICES:
        processes.start(name)
    run = uuid.uuid4().hex[:6]
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            await processes.wait_ready(client)
            await define_drill_achievement(client, processes, "resilience", "Survives crashes.")
            activities = drill_activities(run, LEARNERS, "resilience")
            for start in range(0, len(activities), 20):
                await post_activities(client, processes, activities[start : start + 20])
            # Accepted (202) means durable: kill enrollment before its relay can have sent everything, and start it
            # again (its outbox holds the rest). Requests are a round trip each, so the relay may not have sent
            # anything yet: waiting for work downstream with enrollment still dead could wait forever.
            processes.kill("enrollment")
            await asyncio.sleep(1)
            processes.start("enrollment")

            # Kill assessment and issuer once work is flowing through them.
            await read_topic(
                infra.kafka_bootstrap_servers,
                str(Topic.ASSESSMENT_PASSED),
                match=lambda r: r.key is not None and r.key.startswith(f"{TENANT}:{run}".encode()),
                until=lambda found: len(found) >= 1,
            )
            processes.kill("assessment")
            processes.kill("issuer")
            before = [
                r
                for r in await read_to_end(infra.kafka_bootstrap_servers, str(Topic.BADGE_ISSUED))
                if r.key is not None and r.key.startswith(f"{TENANT}:{run}".encode())
            ]
            print(f"badges on the topic when assessment and issuer were killed: {len(before)}/{LEARNERS}")
            await asyncio.sleep(1)
            for name in ("assessment", "issuer"):
                processes.start(name)
            await processes.wait_ready(client, "enrollment", "assessment", "issuer")

            issued = await read_topic(
                infra.kafka_bootstrap_servers,
                str(Topic.BADGE_ISSUED),
                match=lambda r: r.key is not None and r.key.startswith(f"{TENANT}:{run}".encode()),
                until=lambda found: len({r.key for r in found}) >= LEARNERS,
                timeout=180,
            )
            await asyncio.sleep(3)  # anything a redelivery would duplicate has arrived by now
            records = [
                r
                for r in await read_to_end(infra.kafka_bootstrap_servers, str(Topic.BADGE_ISSUED))
                if r.key is not None and r.key.startswith(f"{TENANT}:{run}".encode())
            ]
            # A record may be re-published after a crash between publish and outbox delete (at-least-once on the
            # topic); consumers dedupe by CloudEvents id. What must never happen: a learner missing, or two
            # different credentials for one award.
            credentials = {BadgeIssued.model_validate_json(r.value).credential_id for r in records}
            per_learner = Counter(BadgeIssued.model_validate_json(r.value).learner_id for r in records)
            assert len(issued) >= LEARNERS
            assert len(per_learner) == LEARNERS
            assert len(credentials) == LEARNERS
    finally:
        processes.stop_all()


REPLICATED_LEARNERS = 150


async def credential_rows(database_url: str, run: str) -> int:
    """Credentials the issuer stored for this run's learners (all replicas share the database)."""
    import asyncpg

    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        return await connection.fetchval(
            "SELECT count(*) FROM issuer_credentials WHERE tenant_id = $1 AND learner_id LIKE $2", TENANT, f"{run}-%"
        )
    finally:
        await connection.close()


def run_keys(records: list, prefix: str) -> list:  # type: ignore[type-arg]
    return [r for r in records if r.key is not None and r.key.startswith(prefix.encode())]


async def test_kill_9_mid_batch_with_two_replicas_and_rebalances_loses_and_duplicates_nothing(
    infra: Infrastructure, postgres_url: str, tmp_path: Path
) -> None:
    processes = ServiceProcesses(infra.kafka_bootstrap_servers, postgres_url, tmp_path, f"k9r-{uuid.uuid4().hex[:8]}")
    await skip_topic_history(infra.kafka_bootstrap_servers, processes.group)
    for name in ("enrollment", "assessment", "issuer"):
        processes.start(name)
    run = uuid.uuid4().hex[:6]
    prefix = f"{TENANT}:{run}"
    kafka = infra.kafka_bootstrap_servers
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            await processes.wait_ready(client, "enrollment", "assessment", "issuer")
            await define_drill_achievement(client, processes, "replicas", "Survives rebalances.")
            activities = drill_activities(run, REPLICATED_LEARNERS, "replicas")

            async def post(chunk: list[dict[str, object]]) -> None:
                await post_activities(client, processes, chunk)

            chunks = [activities[start : start + 20] for start in range(0, len(activities), 20)]
            third = len(chunks) // 3
            for chunk in chunks[:third]:
                await post(chunk)
            # Work is flowing: the second replicas join (a rebalance while batches are in flight).
            await read_topic(
                kafka, str(Topic.ASSESSMENT_PASSED), match=lambda r: run_keys([r], prefix) != [], until=bool
            )
            for name in ("assessment", "issuer"):
                processes.start(name, replica=2)
            for chunk in chunks[third : 2 * third]:
                await post(chunk)
            await processes.wait_ready(client, "assessment-2", "issuer-2")

            # Kill the first replicas while records keep arriving: their partitions move to the second replicas
            # once the group notices (session timeout); whatever they had not committed is redelivered there.
            await post(chunks[2 * third])
            processes.kill("assessment")
            processes.kill("issuer")
            for chunk in chunks[2 * third + 1 :]:
                await post(chunk)
            processes.kill("enrollment")  # accepted (202) means durable, relayed or not
            passed = run_keys(await read_to_end(kafka, str(Topic.ASSESSMENT_PASSED)), prefix)
            before = run_keys(await read_to_end(kafka, str(Topic.BADGE_ISSUED)), prefix)
            print(f"when the first replicas were killed: {len(passed)} awards, {len(before)} badges on the topics")
            for name in ("enrollment", "assessment", "issuer"):
                processes.start(name)  # and back: one more rebalance
            await processes.wait_ready(client, "enrollment", "assessment", "issuer")

            issued = await read_topic(
                kafka,
                str(Topic.BADGE_ISSUED),
                match=lambda r: run_keys([r], prefix) != [],
                until=lambda found: len({r.key for r in found}) >= REPLICATED_LEARNERS,
                timeout=240,
            )
            await asyncio.sleep(5)  # anything a redelivery would duplicate has arrived by now
            records = run_keys(await read_to_end(kafka, str(Topic.BADGE_ISSUED)), prefix)
            credentials = {BadgeIssued.model_validate_json(r.value).credential_id for r in records}
            per_learner = Counter(BadgeIssued.model_validate_json(r.value).learner_id for r in records)
            print(f"badge-issued records: {len(records)} for {len(credentials)} credentials")
            for name in ("assessment", "assessment-2"):  # both replicas did part of the work
                awarded = (tmp_path / f"{name}.log").read_text(errors="replace").count("assessment.awarded")
                print(f"{name}: {awarded} awards logged")
            assert len(issued) >= REPLICATED_LEARNERS
            assert len(per_learner) == REPLICATED_LEARNERS  # nobody lost
            assert len(credentials) == REPLICATED_LEARNERS  # one credential per award, whichever replica signed
            assert await credential_rows(postgres_url, run) == REPLICATED_LEARNERS
    finally:
        processes.stop_all()

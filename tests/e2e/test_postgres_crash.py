"""A PostgreSQL crash loses nothing: the postmaster is killed with SIGKILL mid-stream while it has a few hundred MB
of WAL to replay, so crash recovery keeps refusing connections (SQLSTATE 57P03, "the database system is starting
up") for seconds after it listens again. Every learner still gets exactly one badge, no record is dead-lettered,
and the LMS is told 503 + Retry-After (never a 500) while it lasts.

The test runs its own cluster (tests/e2e/private_postgres.py) so killing it disturbs no one else."""

import asyncio
import os
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from shared.contracts import BadgeIssued, Topic, dead_letter_topic
from tests.e2e.private_postgres import PrivatePostgres
from tests.e2e.processes import ADMIN_TOKEN, LMS_KEY, SERVICES, TENANT, ServiceProcesses
from tests.helpers import header, read_to_end, skip_topic_history
from tests.infra import Infrastructure

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
LEARNERS = int(os.environ.get("CREDSTREAM_E2E_CRASH_LEARNERS", "120"))
BALLAST_ROWS = 300_000  # ~1 kB each: ~330 MB of WAL for crash recovery to replay
PATIENCE = 120.0  # seconds without a new badge before the remaining learners count as lost


@pytest.fixture
def private_postgres(tmp_path: Path) -> Any:
    cluster = PrivatePostgres(tmp_path / "postgres-state")
    cluster.start()
    # No checkpoint may cut the WAL short before the kill: recovery has to replay all of it.
    cluster.superuser("ALTER SYSTEM SET checkpoint_timeout = '1h'")
    cluster.superuser("ALTER SYSTEM SET max_wal_size = '8GB'")
    cluster.superuser("SELECT pg_reload_conf()")
    yield cluster
    cluster.remove()


def activities(run: str, learners: range) -> list[dict[str, Any]]:
    t0 = datetime.now(UTC) - timedelta(hours=1)
    items: list[dict[str, Any]] = []
    for i in learners:
        learner = f"{run}-{i}"
        items += [
            {"tenant_id": TENANT, "learner_id": learner, "event_id": f"{learner}-e", "kind": "enrolled",
             "achievement_id": "resilience", "occurred_at": t0.isoformat()},
            {"tenant_id": TENANT, "learner_id": learner, "event_id": f"{learner}-s", "kind": "scored",
             "assessment_id": "drill", "score": 90, "occurred_at": (t0 + timedelta(minutes=1)).isoformat()},
        ]  # fmt: skip
    return items


async def post_until_accepted(
    client: httpx.AsyncClient, url: str, items: list[dict[str, Any]], statuses: Counter[int]
) -> None:
    """Post as an LMS that retries what the server says to retry; every answer is counted."""
    for start in range(0, len(items), 20):
        while True:
            response = await client.post(
                url, json=items[start : start + 20], headers={"Authorization": f"Bearer {LMS_KEY}"}
            )
            statuses[response.status_code] += 1
            if response.status_code == 202:
                break
            assert response.status_code >= 500, response.text  # a 4xx would mean the batch itself is refused
            await asyncio.sleep(min(float(response.headers.get("Retry-After", "1")), 2.0))


async def write_ballast(database_url: str) -> None:
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("CREATE TABLE crash_ballast (id int, filler text)")
        await connection.execute(
            f"INSERT INTO crash_ballast SELECT g, repeat(md5(g::text), 32) FROM generate_series(1, {BALLAST_ROWS}) g"
        )
    finally:
        await connection.close()


async def badges_of(bootstrap: str, run: str) -> list[BadgeIssued]:
    return [
        BadgeIssued.model_validate_json(r.value)
        for r in await read_to_end(bootstrap, str(Topic.BADGE_ISSUED))
        if r.key is not None and r.key.startswith(f"{TENANT}:{run}-".encode())
    ]


async def dead_letters_of(bootstrap: str, group: str) -> Counter[str]:
    """Dead-lettered records per topic, of this run's consumer groups only (the broker may be shared)."""
    found: Counter[str] = Counter()
    for topic in Topic:
        for record in await read_to_end(bootstrap, dead_letter_topic(str(topic))):
            if (header(record, "dlq_consumer_group") or "").startswith(f"{group}-"):
                found[str(topic)] += 1
    return found


@pytest.mark.timeout(900)
async def test_a_postgres_crash_with_wal_to_replay_loses_nothing(
    infra: Infrastructure, private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    bootstrap = infra.kafka_bootstrap_servers
    processes = ServiceProcesses(bootstrap, private_postgres.url, tmp_path, f"pgcrash-{uuid.uuid4().hex[:8]}")
    await skip_topic_history(bootstrap, processes.group)
    for name in SERVICES:
        processes.start(name)
    run = uuid.uuid4().hex[:6]
    half = LEARNERS // 2
    statuses: Counter[int] = Counter()
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            await processes.wait_ready(client)
            achievement = {
                "id": "resilience",
                "name": "Resilience",
                "description": "Survives crashes.",
                "criteria": {"narrative": "Pass the drill.", "required_assessments": [{"assessment_id": "drill"}]},
            }
            response = await client.put(
                f"{processes.url('assessment')}/v1/tenants/{TENANT}/achievements/resilience",
                json=achievement,
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            )
            assert response.status_code == 200, response.text
            await write_ballast(private_postgres.url)

            ingest = f"{processes.url('enrollment')}/v1/activities"
            await post_until_accepted(client, ingest, activities(run, range(half)), statuses)
            # Mid-stream: the first badges are out, most of the work is still in flight.
            deadline = time.monotonic() + 120
            while not await badges_of(bootstrap, run):
                assert time.monotonic() < deadline, "no badge before the crash"
                await asyncio.sleep(0.5)
            in_flight = half - len({b.learner_id for b in await badges_of(bootstrap, run)})
            private_postgres.kill_postmaster()
            crashed = time.monotonic()
            # The second half arrives while the database is down and recovering.
            lms = asyncio.create_task(
                post_until_accepted(client, ingest, activities(run, range(half, LEARNERS)), statuses)
            )
            await asyncio.sleep(2)
            await asyncio.to_thread(private_postgres.start)  # returns once crash recovery is over
            recovered_after = time.monotonic() - crashed
            await lms

            # Wait for every learner's badge, or until no new badge came for PATIENCE seconds.
            seen, last_progress = 0, time.monotonic()
            while seen < LEARNERS and time.monotonic() - last_progress < PATIENCE:
                await asyncio.sleep(2)
                now_seen = len({b.learner_id for b in await badges_of(bootstrap, run)})
                if now_seen > seen:
                    seen, last_progress = now_seen, time.monotonic()
            await asyncio.sleep(3)  # anything a redelivery would duplicate has arrived by now
            badges = await badges_of(bootstrap, run)
            dead = await dead_letters_of(bootstrap, processes.group)
    finally:
        processes.stop_all()
    per_learner = {b.learner_id: set() for b in badges}
    for badge in badges:
        per_learner[badge.learner_id].add(badge.credential_id)
    lost = LEARNERS - len(per_learner)
    print(
        f"\npostgres crash: {LEARNERS} learners, {in_flight} of the first {half} still in flight at the kill;"
        f" recovered {recovered_after:.1f}s after the kill; badges for {len(per_learner)} learners, lost {lost};"
        f" dead-lettered {sum(dead.values())} {dict(dead)}; LMS answers {dict(statuses)}"
    )
    assert not dead, f"records dead-lettered during a database outage: {dict(dead)}"
    assert lost == 0
    assert all(len(credentials) == 1 for credentials in per_learner.values()), "two credentials for one award"
    assert set(statuses) <= {202, 503}, f"the LMS saw {dict(statuses)}"

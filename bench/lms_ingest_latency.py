"""How fast the enrollment service answers an LMS: POST → parse → map → one transaction (dedupe row, progress,
outbox row) → 2xx. Runs the real ASGI app in-process (no network, no relay) against SQLite or PostgreSQL.

    .venv/bin/python bench/lms_ingest_latency.py [--database-url postgresql+asyncpg://…/db] [--requests 300]

Prints p50/p95/p99/max per format. A measurement, not a test: numbers depend on the machine and its load.
"""

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from services.runtime import Wiring, build_service
from shared.db.engine import create_engine, session_factory
from shared.db.migrations import upgrade
from shared.messaging.records import OutboundRecord
from shared.settings import Settings

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "lms"
ADMIN = {"Authorization": "Bearer dev-admin-token"}


class NoPublisher:
    async def publish(self, records: Sequence[OutboundRecord]) -> None:  # the relay is not run here
        return None


def fresh(payload: Any, fmt: str, n: int) -> bytes:
    """A distinct event each time (new ids / times), so every request is an accepted event, not a duplicate."""
    data = json.loads(json.dumps(payload))
    if fmt == "xapi":
        for statement in data:
            statement["id"] = str(uuid.uuid4())
    elif fmt == "caliper":
        for event in data["data"]:
            event["id"] = f"urn:uuid:{uuid.uuid4()}"
    else:
        data["timestamp"] = f"2026-11-21T10:{n // 60 % 60:02d}:{n % 60:02d}.{n:06d}+00:00"
    return json.dumps(data).encode()


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(database_url: str, requests: int) -> None:
    engine = create_engine(database_url)
    await upgrade(engine, "enrollment")
    settings = Settings(DATABASE_URL=database_url)
    app = build_service("enrollment", Wiring(settings, session_factory(engine), NoPublisher())).http
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
        cases = {
            "xapi": ("/xapi/statements", "xapi", "xapi/moodle_v5_quiz_attempt_submitted.json"),
            "caliper": ("/caliper", "caliper", "caliper/canvas_grade_change.json"),
            "lti-ags": ("/lti/ags/li-1/scores", "lti-ags", "lti-ags/score_fully_graded.json"),
        }
        for name, (path, kind, fixture) in cases.items():
            created = await client.post(
                "/v1/tenants/bench/lms-connections",
                json={"name": name, "source_kind": kind, "rate_limit": {"per_second": 100000, "burst": 100000}},
                headers=ADMIN,
            )
            key = created.json()["secret"]
            rules = [{"match": "prefix", "lms_id": "", "assessment_id": "a"}]  # map everything: worst case
            await client.put(
                f"/v1/tenants/bench/lms-connections/{created.json()['id']}/mappings", json=rules, headers=ADMIN
            )
            headers = {
                "Authorization": f"Bearer {key}",
                "Content-Type": "application/vnd.ims.lis.v1.score+json" if kind == "lti-ags" else "application/json",
                "X-Experience-API-Version": "1.0.3",
            }
            payload = json.loads((FIXTURES / fixture).read_text())
            timings = []
            for n in range(requests):
                body = fresh(payload, kind, n)
                start = time.perf_counter()
                response = await client.post(path, content=body, headers=headers)
                timings.append((time.perf_counter() - start) * 1000)
                assert response.status_code in (200, 202), response.text
            timings.sort()
            print(
                f"{name:8} n={requests} p50={statistics.median(timings):.1f}ms p95={percentile(timings, 0.95):.1f}ms "
                f"p99={percentile(timings, 0.99):.1f}ms max={timings[-1]:.1f}ms"
            )
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    url = args.database_url or f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.db"
    print(f"database: {url.split('@')[-1]}")
    asyncio.run(run(url, args.requests))


if __name__ == "__main__":
    main()

"""Debian's Prometheus server scrapes the four services (separate processes on real Kafka and PostgreSQL) with
deploy/observability's alert rules loaded: every target is up, and after a badge is issued its metrics are there."""

import asyncio
import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e.processes import ADMIN_TOKEN, LMS_KEY, SERVICES, TENANT, ServiceProcesses, free_port
from tests.helpers import eventually, skip_topic_history
from tests.infra import REPO, Infrastructure

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("prometheus") is None,
        reason="the prometheus server is not installed (Debian package `prometheus`; .ci/run installs it)",
    ),
]
RULES = REPO / "deploy" / "observability" / "alerts.yml"
DASHBOARD = REPO / "deploy" / "observability" / "grafana-dashboard.json"


@pytest.fixture
def services(infra: Infrastructure, postgres_url: str, tmp_path: Path) -> Iterator[ServiceProcesses]:
    processes = ServiceProcesses(infra.kafka_bootstrap_servers, postgres_url, tmp_path, f"prom-{uuid.uuid4().hex[:8]}")
    asyncio.run(skip_topic_history(infra.kafka_bootstrap_servers, processes.group))
    for name in SERVICES:
        processes.start(name)
    try:
        yield processes
    finally:
        processes.stop_all()


@pytest.fixture
def prometheus(services: ServiceProcesses, tmp_path: Path) -> Iterator[str]:
    """A Prometheus server scraping every service each second, with the published alert rules."""
    config: dict[str, Any] = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        # The published config's job names (one per service), static targets instead of compose DNS.
        "scrape_configs": [
            {"job_name": name, "static_configs": [{"targets": [f"127.0.0.1:{services.ports[name]}"]}]}
            for name in SERVICES
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (tmp_path / "prometheus.log").open("wb")
    server = subprocess.Popen(
        [
            shutil.which("prometheus") or "prometheus",
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


async def query(client: httpx.AsyncClient, prometheus: str, expr: str) -> list[dict[str, Any]]:
    answer = (await client.get(f"{prometheus}/api/v1/query", params={"query": expr})).json()
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


async def test_prometheus_scrapes_every_service(services: ServiceProcesses, prometheus: str) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        await services.wait_ready(client)

        async def all_up() -> bool:
            try:
                targets = (await client.get(f"{prometheus}/api/v1/targets")).json()["data"]["activeTargets"]
            except (httpx.TransportError, KeyError, ValueError):
                return False  # not started yet
            return sorted(t["labels"]["job"] for t in targets if t["health"] == "up") == sorted(SERVICES)

        await eventually(all_up, timeout=90, interval=0.5)
        rules = (await client.get(f"{prometheus}/api/v1/rules")).json()["data"]["groups"]
        assert [group["name"] for group in rules] == ["credstream"]
        assert all(rule["health"] != "err" for group in rules for rule in group["rules"])

        await award_a_badge(client, services)

        async def badge_scraped() -> list[dict[str, Any]]:
            return await query(client, prometheus, f'credstream_badges_issued_total{{tenant="{TENANT}"}} > 0')

        [badges] = await eventually(badge_scraped, timeout=120, interval=1)
        assert badges["metric"]["job"] == "issuer"
        ready = await query(client, prometheus, "credstream_ready")
        assert sorted(r["metric"]["job"] for r in ready if r["value"][1] == "1") == sorted(SERVICES)

        async def every_consumer_processed() -> bool:
            # The verifier reads badge-issued after the issuer published it: its batch may land a scrape later.
            processed = await query(client, prometheus, 'credstream_records_total{outcome="processed"} > 0')
            return {r["metric"]["job"] for r in processed} >= {"assessment", "issuer", "verifier"}

        await eventually(every_consumer_processed, timeout=60, interval=1)
        assert await query(client, prometheus, 'faststream_received_messages_total{job="issuer"}')
        assert await query(client, prometheus, 'credstream_lms_items_total{format="native", status="accepted"} > 0')
        await dashboard_queries_answer(client, prometheus)


async def dashboard_queries_answer(client: httpx.AsyncClient, prometheus: str) -> None:
    """Every query of the Grafana dashboard is valid PromQL for this server, and the pipeline panels show data."""
    dashboard = json.loads(DASHBOARD.read_text())

    async def panels_with_data() -> set[str]:
        shown = set()
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                expr = target["expr"].replace("$job", ".*").replace("$__rate_interval", "1m")
                if await query(client, prometheus, expr):  # `query` fails on a query Prometheus refuses
                    shown.add(panel["title"])
        return shown

    # Panels over what this scenario does not do (verifications, revocations, refusals, dead letters) stay empty;
    # rates need two scrapes of a series first.
    required = {"Records by outcome", "Consumer lag", "Badges issued / revoked per tenant", "Requests by route"}

    async def shows_required() -> bool:
        return required <= await panels_with_data()

    await eventually(shows_required, timeout=60, interval=1)


async def award_a_badge(client: httpx.AsyncClient, services: ServiceProcesses) -> None:
    achievement = {
        "id": "metrics-basics",
        "name": "Metrics Basics",
        "description": "Reads a dashboard.",
        "criteria": {
            "narrative": "At least 80% on the quiz.",
            "required_assessments": [{"assessment_id": "metrics-quiz", "min_score": 80}],
        },
    }
    response = await client.put(
        f"{services.url('assessment')}/v1/tenants/{TENANT}/achievements/metrics-basics",
        json=achievement,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert response.status_code == 200, response.text
    learner = f"learner-{uuid.uuid4().hex[:6]}"
    common = {"tenant_id": TENANT, "learner_id": learner}
    start = datetime.now(UTC) - timedelta(minutes=2)
    activities = [
        {
            **common,
            "event_id": f"{learner}-enrol",
            "kind": "enrolled",
            "achievement_id": "metrics-basics",
            "occurred_at": start.isoformat(),
        },
        {
            **common,
            "occurred_at": (start + timedelta(minutes=1)).isoformat(),
            "event_id": f"{learner}-quiz",
            "kind": "scored",
            "assessment_id": "metrics-quiz",
            "score": 90,
            "max_score": 100,
        },
    ]
    response = await client.post(
        f"{services.url('enrollment')}/v1/activities", json=activities, headers={"Authorization": f"Bearer {LMS_KEY}"}
    )
    assert response.status_code == 202, response.text

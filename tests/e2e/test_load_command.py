"""`credstream load` against the real stack (four service processes, Kafka, PostgreSQL): it sets up its tenants
through the admin APIs, posts native and xAPI activity, and reports every learner's badge. No timing assertions:
speed is measured by `make bench-e2e`, not tested."""

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import ADMIN_TOKEN, SERVICES, ServiceProcesses
from tests.helpers import skip_topic_history
from tests.infra import REPO, Infrastructure

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


async def test_load_reports_a_badge_for_every_learner(infra: Infrastructure, postgres_url: str, tmp_path: Path) -> None:
    group = f"load-{uuid.uuid4().hex[:8]}"
    processes = ServiceProcesses(infra.kafka_bootstrap_servers, postgres_url, tmp_path, group)
    await skip_topic_history(infra.kafka_bootstrap_servers, group)
    for name in SERVICES:
        processes.start(name)
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            await processes.wait_ready(client)
        report_file = tmp_path / "load.json"
        command = [
            sys.executable, "-m", "services.cli", "load", "--learners", "6", "--tenants", "2", "--rate", "20",
            "--batch", "3", "--format", "native", "--format", "xapi", "--timeout", "120",
            "--enrollment-url", processes.url("enrollment"), "--assessment-url", processes.url("assessment"),
            "--tenant-prefix", f"t{uuid.uuid4().hex[:6]}", "--json", str(report_file),
        ]  # fmt: skip
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
            "DATABASE_URL": postgres_url,
            "CREDSTREAM_ADMIN_TOKEN": ADMIN_TOKEN,
            "CREDSTREAM_CONSUMER_GROUP_PREFIX": group,
        }
        result = await asyncio.to_thread(
            subprocess.run, command, cwd=REPO, env=env, capture_output=True, text=True, timeout=280
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "badges/s" in result.stdout and "CPU-ms per badge" in result.stdout
        report = json.loads(report_file.read_text())
        assert (report["learners"], report["badges"], report["duplicates"]) == (6, 6, 0)
        assert report["latency_s"]["p99"] is not None
        assert {"enrollment", "assessment", "kafka", "postgresql"} <= set(report["cpu_s"])
        assert report["lock_waits"]["samples"] > 0
        assert "credstream.enrollment.v1" in report["final_lag"]
    finally:
        codes = processes.stop_all()
        for name, code in codes.items():
            assert code == 0, f"{name} exited {code}:\n{processes.log(name)}"

"""Each service, started as its own process (`credstream serve`), becomes ready; restarted after kill -9 it is
ready again before Kafka has dropped the dead consumer (its consumers join in the background), stops cleanly while
they are still joining, and its consumers do start."""

import uuid
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import SERVICES, ServiceProcesses
from tests.helpers import eventually, skip_topic_history
from tests.infra import Infrastructure

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def consuming_count(processes: ServiceProcesses, name: str) -> int:
    """How many times `name` has logged that its consumers started (its log spans its restarts)."""
    return (processes.log_dir / f"{name}.log").read_text(errors="replace").count('"service.consuming"')


async def test_services_become_ready_again_after_kill_9(
    infra: Infrastructure, postgres_url: str, tmp_path: Path
) -> None:
    processes = ServiceProcesses(infra.kafka_bootstrap_servers, postgres_url, tmp_path, f"up-{uuid.uuid4().hex[:8]}")
    await skip_topic_history(infra.kafka_bootstrap_servers, processes.group)
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            for name in SERVICES:  # a fresh database: the first start migrates it
                processes.start(name)
            await processes.wait_ready(client)
            for name in SERVICES:
                ready = await client.get(f"{processes.url(name)}/readyz")
                assert ready.json() == {"status": "ready"}
                assert (await client.get(f"{processes.url(name)}/healthz")).status_code == 200

            # A crash: the killed consumers stay in their groups until their sessions time out.
            for name in SERVICES:
                processes.kill(name)
                processes.start(name)
            await processes.wait_ready(client)
            assert processes.stop_all() == dict.fromkeys(SERVICES, 0), [processes.log(n) for n in SERVICES]

            for name in SERVICES:
                processes.start(name)
            await processes.wait_ready(client)

            async def all_consuming() -> bool:
                return all(consuming_count(processes, name) >= 2 for name in SERVICES)

            await eventually(all_consuming, timeout=120, interval=0.5)
    finally:
        processes.stop_all()

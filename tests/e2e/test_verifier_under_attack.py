"""The verifier as its own process (`credstream serve verifier`) while a hostile verification runs: `/healthz`
and `/readyz` answer, a second verification gets 503 with Retry-After, and SIGTERM stops the process at once
instead of after the verification (issue 7 §3)."""

import asyncio
import json
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.credentials import did_key, did_key_verification_method, key_from_seed, sign_credential
from tests.e2e.processes import ServiceProcesses
from tests.infra import Infrastructure
from tests.unit.credentials.conftest import SIGNED_AT
from tests.unit.credentials.samples import minimal_credential, with_blank_node_clique

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
DEADLINE_SECONDS = 120


@pytest.fixture
def verifier(infra: Infrastructure, postgres_url: str, tmp_path: Path) -> Iterator[ServiceProcesses]:
    """One verifier process with one worker, no waiting line and no work bound: a clique of 9 blank nodes then
    keeps its worker busy until the deadline (2 minutes), like any verification that is slow for whatever reason."""
    processes = ServiceProcesses(infra.kafka_bootstrap_servers, postgres_url, tmp_path, f"e2e-{uuid.uuid4().hex[:8]}")
    env = processes.env

    def limited(name: str) -> dict[str, str]:
        return {
            **env(name),
            "CREDSTREAM_VERIFY_WORKERS": "1",
            "CREDSTREAM_VERIFY_MAX_WAITING": "0",
            "CREDSTREAM_VERIFY_MAX_WORK": str(10**12),
            "CREDSTREAM_VERIFY_DEADLINE_SECONDS": str(DEADLINE_SECONDS),
        }

    processes.env = limited  # type: ignore[method-assign]
    processes.start("verifier")
    try:
        yield processes
    finally:
        processes.stop_all()


def _signed() -> dict[str, Any]:
    key = key_from_seed(bytes(range(32)))
    return sign_credential(minimal_credential(did_key(key)), key, did_key_verification_method(key), SIGNED_AT)


async def test_a_slow_verification_neither_freezes_nor_outlives_the_verifier(verifier: ServiceProcesses) -> None:
    url = verifier.url("verifier")
    signed = _signed()
    async with httpx.AsyncClient(timeout=DEADLINE_SECONDS + 30) as client:
        await verifier.wait_ready(client, "verifier")
        warm = await client.post(f"{url}/verify", json=signed)  # starts the worker
        assert warm.status_code == 200 and warm.json()["verified"], warm.text
        slow = asyncio.create_task(client.post(f"{url}/verify", content=json.dumps(with_blank_node_clique(signed, 9))))
        await asyncio.sleep(1.0)
        assert not slow.done()
        assert (await client.get(f"{url}/healthz")).status_code == 200
        assert (await client.get(f"{url}/readyz")).status_code == 200
        busy = await client.post(f"{url}/verify", json=signed)
        assert busy.status_code == 503 and busy.headers["retry-after"].isdigit(), busy.text
        assert busy.json()["code"] == "verification.busy"
        assert not slow.done()

        process = verifier.running["verifier"]
        process.send_signal(signal.SIGTERM)
        answer = await slow  # the verification in progress ends now, with problem details
        assert answer.status_code == 503 and answer.json()["code"] == "verification.unavailable", answer.text
        # It stops long before the verification's deadline would have come.
        code = await asyncio.to_thread(process.wait, DEADLINE_SECONDS / 4)
        assert code == 0, verifier.log("verifier")
        verifier.running.pop("verifier")

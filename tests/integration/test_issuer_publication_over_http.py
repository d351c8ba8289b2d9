"""The issuer's public documents over a real HTTP socket, read by the verifier's own HTTP fetcher.

The issuer app runs under uvicorn on a loopback port (the verifier may use plain http only for hosts it is told
are insecure, as in development); no Kafka or PostgreSQL is needed.
"""

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn

from services.embedded import EmbeddedStack
from shared.credentials.fetch import CachingFetcher, HttpDocumentFetcher
from shared.credentials.online import verify_with_fetch
from shared.settings import Settings
from tests.helpers import eventually
from tests.issuer_support import ADMIN, earn, issuer_settings, start_stack

pytestmark = pytest.mark.integration
LOOPBACK = ("127.0.0.1",)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
async def served(settings: Settings, tmp_path: Path) -> AsyncIterator[tuple[EmbeddedStack, str]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    stack = await start_stack(issuer_settings(settings, issuer_base_url=base), tmp_path)
    server = uvicorn.Server(
        uvicorn.Config(stack.parts["issuer"].http, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    )
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        return server.started

    await eventually(started, timeout=30, interval=0.05)
    try:
        yield stack, base
    finally:
        server.should_exit = True
        await task
        await stack.stop()


async def test_verifier_fetches_the_status_list_over_http_and_sees_the_revocation(
    served: tuple[EmbeddedStack, str],
) -> None:
    stack, base = served
    badge = await earn(stack, "ada")
    assert badge.credential["credentialStatus"]["statusListCredential"] == f"{base}/status-lists/acme/1"

    fetcher = CachingFetcher(HttpDocumentFetcher(insecure_hosts=LOOPBACK))
    fetched = await fetcher.fetch(f"{base}/status-lists/acme/1")
    assert fetched.headers["cache-control"] == "public, max-age=300"
    assert fetched.headers["etag"] and fetched.headers["last-modified"]

    report = await verify_with_fetch(badge.credential, fetcher, datetime.now(UTC), insecure_hosts=LOOPBACK)
    assert report.verified, report.codes()
    assert {c.check: c.code for c in report.checks}["status"] == "status.active"

    response = await stack.http("issuer").post(
        f"/v1/credentials/{badge.credential_id}/revoke", json={"reason": "Issued in error"}, headers=ADMIN
    )
    assert response.status_code == 200
    # A verifier that honours max-age may answer from its copy for up to CREDSTREAM_STATUS_LIST_MAX_AGE seconds;
    # a fresh fetch sees the revocation at once.
    fresh = HttpDocumentFetcher(insecure_hosts=LOOPBACK)
    report = await verify_with_fetch(badge.credential, fresh, datetime.now(UTC), insecure_hosts=LOOPBACK)
    assert not report.verified
    assert "status.revoked" in report.codes()

"""Webhooks on real Kafka and PostgreSQL, delivered to a real HTTP receiver (uvicorn on 127.0.0.1) that checks
every signature with the `standardwebhooks` library: a receiver that fails, times out and recovers gets the badge
once; a receiver that stays down dead-letters it, and a replay delivers it; the same badge announced twice is
delivered once; after a secret rotation both secrets verify."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request, Response
from sqlalchemy import func, select
from standardwebhooks import Webhook

from services.runtime import KafkaService
from services.webhooks.adapters.tables import Delivery
from shared.db.engine import session_factory
from shared.settings import Settings
from tests.e2e.processes import free_port
from tests.helpers import eventually, produce_all
from tests.infra import Infrastructure
from tests.kafka_stack import kafka_settings
from tests.verifier_support import announced, badge_issued, badge_revoked

pytestmark = pytest.mark.integration

ADMIN = {"Authorization": "Bearer dev-admin-token"}


@dataclass
class Endpoint:
    """What one receiver path answers: `script` first (500, "slow" or 200), then `then`."""

    script: list[Any] = field(default_factory=list)
    then: Any = 200
    secrets: list[str] = field(default_factory=list)  # each must verify every delivery
    received: list[dict[str, Any]] = field(default_factory=list)  # verified deliveries: headers and JSON body


@asynccontextmanager
async def receiver(endpoints: dict[str, Endpoint]) -> AsyncIterator[str]:
    app = FastAPI()

    @app.post("/{name}")
    async def receive(name: str, request: Request) -> Response:
        endpoint = endpoints[name]
        action = endpoint.script.pop(0) if endpoint.script else endpoint.then
        if action == "slow":
            await asyncio.sleep(5)  # past the sender's timeout
        elif action != 200:
            return Response(status_code=action)
        body = await request.body()
        headers = dict(request.headers)
        verified = [Webhook(secret).verify(body, headers) for secret in endpoint.secrets]  # raises if one fails
        endpoint.received.append({"headers": headers, "json": verified[0]})
        return Response(status_code=204)

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_fails_times_out_recovers_dead_letters_replays_and_rotates(
    settings: Settings, infra: Infrastructure, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "TIMEOUT_SECONDS": "1",
        "RETRY_BASE_SECONDS": "0.2",
        "RETRY_CAP_SECONDS": "0.4",
        "MAX_ATTEMPTS": "4",
        "POLL_SECONDS": "0.1",
    }.items():
        monkeypatch.setenv(f"CREDSTREAM_WEBHOOK_{name}", value)
    config = kafka_settings(settings, infra, postgres_url, insecure_http_hosts="127.0.0.1")
    flaky = Endpoint(script=[500, "slow", 500])  # fails, times out, fails, then recovers
    down = Endpoint(then=503)
    tenant = f"w{uuid.uuid4().hex[:10]}"
    service = KafkaService("webhooks", config)
    await service.start()
    try:
        async with (
            receiver({"flaky": flaky, "down": down}) as base,
            httpx.AsyncClient(transport=httpx.ASGITransport(service.parts.http), base_url="http://w") as admin,
        ):
            subscribed = {}
            for name, endpoint in (("flaky", flaky), ("down", down)):
                answer = await admin.post(
                    f"/v1/tenants/{tenant}/webhooks",
                    json={"url": f"{base}/{name}", "events": ["badge.issued", "badge.revoked"]},
                    headers=ADMIN,
                )
                assert answer.status_code == 201, answer.text
                subscribed[name] = answer.json()
                assert subscribed[name]["secret"].startswith("whsec_")
                endpoint.secrets.append(subscribed[name]["secret"])
            listed = (await admin.get(f"/v1/tenants/{tenant}/webhooks", headers=ADMIN)).json()["subscriptions"]
            assert all("secret" not in row for row in listed)  # shown once, at creation

            credential = uuid.uuid4()
            first = announced(badge_issued(tenant, credential), ce_id=str(uuid.uuid4()))
            # The same event redelivered, and the same badge re-announced under a new event id: one delivery each.
            await produce_all(
                config.kafka_bootstrap_servers, [first, first, announced(badge_issued(tenant, credential))]
            )

            assert await eventually(lambda: _async(len(flaky.received) == 1), timeout=90)
            flaky_id = subscribed["flaky"]["id"]

            async def four_attempts_logged() -> list[dict[str, Any]]:
                # The receiver has the delivery before the loop records its attempt: wait for the log to catch up.
                log = (await admin.get(f"/v1/tenants/{tenant}/webhooks/{flaky_id}/attempts", headers=ADMIN)).json()
                return log["attempts"] if len(log["attempts"]) >= 4 else []

            attempts = list(reversed(await eventually(four_attempts_logged, timeout=30)))
            assert [a["outcome"] for a in attempts] == ["retry", "retry", "retry", "delivered"]
            assert [a["status_code"] for a in attempts] == [500, None, 500, 204]
            assert "Timeout" in attempts[1]["error"] or "timed out" in attempts[1]["error"]
            delivered = flaky.received[0]
            assert delivered["json"]["type"] == "badge.issued"
            assert delivered["json"]["data"]["credential_id"] == f"urn:uuid:{credential}"
            assert delivered["headers"]["webhook-id"].startswith("msg_")

            down_id = subscribed["down"]["id"]
            dead = await eventually(lambda: _dead(admin, tenant, down_id), timeout=90)
            assert dead[0]["attempts"] == 4 and dead[0]["last_error"] == "answered 503"
            down.then = 200
            replayed = await admin.post(
                f"/v1/tenants/{tenant}/webhooks/{down_id}/deliveries/{dead[0]['id']}/replay", headers=ADMIN
            )
            assert replayed.json() == {"replayed": 1}
            assert await eventually(lambda: _async(len(down.received) == 1), timeout=60)
            assert down.received[0]["headers"]["webhook-id"] == dead[0]["webhook_id"]  # same id as every attempt

            rotated = await admin.post(
                f"/v1/tenants/{tenant}/webhooks/{flaky_id}/secret/rotate", json={}, headers=ADMIN
            )
            assert rotated.status_code == 200, rotated.text
            flaky.secrets.append(rotated.json()["secret"])  # the receiver now checks old and new secret
            await produce_all(config.kafka_bootstrap_servers, [announced(badge_revoked(tenant, credential))])
            assert await eventually(lambda: _async(len(flaky.received) == 2), timeout=60)
            revoked = flaky.received[1]
            assert revoked["json"]["type"] == "badge.revoked"
            assert len(revoked["headers"]["webhook-signature"].split(" ")) == 2

            async with session_factory(service.engine)() as session:
                per_subscription = await session.execute(
                    select(Delivery.subscription_id, Delivery.event_type, func.count()).group_by(
                        Delivery.subscription_id, Delivery.event_type
                    )
                )
                assert sorted(count for _s, _t, count in per_subscription.all()) == [1, 1, 1, 1]
            assert len(flaky.received) == 2 and len(down.received) == 2
    finally:
        await service.stop()


async def _dead(admin: httpx.AsyncClient, tenant: str, subscription_id: str) -> list[dict[str, Any]]:
    answer = await admin.get(f"/v1/tenants/{tenant}/webhooks/{subscription_id}/deliveries?status=dead", headers=ADMIN)
    return answer.json()["deliveries"]


async def _async(value: bool) -> bool:
    return value


async def test_a_restarted_service_resumes_the_deliveries_left_pending(
    settings: Settings, infra: Infrastructure, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Delivery state lives in PostgreSQL: what one process staged and failed to send, the next one sends."""
    for name, value in {"RETRY_BASE_SECONDS": "0.2", "RETRY_CAP_SECONDS": "0.4", "POLL_SECONDS": "0.1"}.items():
        monkeypatch.setenv(f"CREDSTREAM_WEBHOOK_{name}", value)
    config = kafka_settings(settings, infra, postgres_url, insecure_http_hosts="127.0.0.1")
    endpoint = Endpoint(then=500)
    tenant = f"w{uuid.uuid4().hex[:10]}"
    async with receiver({"in": endpoint}) as base:
        first = KafkaService("webhooks", config)
        await first.start()
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(first.parts.http), base_url="http://w") as admin:
                answer = await admin.post(
                    f"/v1/tenants/{tenant}/webhooks",
                    json={"url": f"{base}/in", "events": ["badge.issued"]},
                    headers=ADMIN,
                )
                endpoint.secrets.append(answer.json()["secret"])
                await produce_all(config.kafka_bootstrap_servers, [announced(badge_issued(tenant, uuid.uuid4()))])
                attempts = f"/v1/tenants/{tenant}/webhooks/{answer.json()['id']}/attempts"
                assert await eventually(
                    lambda: _has_attempts(admin, attempts), timeout=60
                )  # staged and tried: the endpoint is down
        finally:
            await first.stop()
        endpoint.then = 200
        second = KafkaService("webhooks", config)
        await second.start()
        try:
            assert await eventually(lambda: _async(len(endpoint.received) == 1), timeout=60)
        finally:
            await second.stop()


async def _has_attempts(admin: httpx.AsyncClient, path: str) -> bool:
    return bool((await admin.get(path, headers=ADMIN)).json()["attempts"])


async def test_two_replicas_share_the_deliveries_and_send_each_once(
    settings: Settings, infra: Infrastructure, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both replicas consume (partitions split between them) and both delivery loops lease due deliveries
    (FOR UPDATE SKIP LOCKED): every badge reaches the endpoint once."""
    monkeypatch.setenv("CREDSTREAM_WEBHOOK_POLL_SECONDS", "0.05")
    monkeypatch.setenv("CREDSTREAM_WEBHOOK_BATCH_SIZE", "3")  # small leases: the loops interleave
    config = kafka_settings(settings, infra, postgres_url, insecure_http_hosts="127.0.0.1")
    endpoint = Endpoint()
    tenant = f"w{uuid.uuid4().hex[:10]}"
    replicas = [KafkaService("webhooks", config), KafkaService("webhooks", config)]
    for replica in replicas:
        await replica.start()
    try:
        async with (
            receiver({"in": endpoint}) as base,
            httpx.AsyncClient(transport=httpx.ASGITransport(replicas[0].parts.http), base_url="http://w") as admin,
        ):
            answer = await admin.post(
                f"/v1/tenants/{tenant}/webhooks",
                json={"url": f"{base}/in", "events": ["badge.issued"]},
                headers=ADMIN,
            )
            endpoint.secrets.append(answer.json()["secret"])
            badges = [
                announced(badge_issued(tenant, uuid.uuid4(), learner=f"l{i}")) for i in range(30)
            ]  # keyed per learner: spread over the partitions
            await produce_all(config.kafka_bootstrap_servers, badges)
            assert await eventually(lambda: _async(len(endpoint.received) >= 30), timeout=90)
            await asyncio.sleep(0.5)  # a duplicate, if any, would arrive now
            ids = [r["headers"]["webhook-id"] for r in endpoint.received]
            assert len(ids) == len(set(ids)) == 30
    finally:
        for replica in replicas:
            await replica.stop()

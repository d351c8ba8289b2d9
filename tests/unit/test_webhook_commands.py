"""`credstream webhooks dead|replay` against the webhooks service's real admin API, served by uvicorn on a free
port (SQLite): dead letters are listed without their bodies, replayed one by one or all at once, and a refusal
(wrong token, not a dead letter, unknown subscription) exits 1 with the problem details on stderr."""

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import select

from services.cli import main
from services.runtime import Wiring, build_service
from services.webhooks.adapters import subscriptions
from services.webhooks.adapters.subscriptions import SecretBox
from services.webhooks.adapters.tables import Delivery
from services.webhooks.domain import DeliveryStatus, EventType
from shared.db.engine import SessionFactory, create_engine, session_factory, transaction
from shared.db.migrations import upgrade
from shared.messaging.memory import InMemoryBus
from shared.settings import Settings


@dataclass
class Served:
    url: str
    sessions: SessionFactory
    subscription: uuid.UUID
    dead: list[uuid.UUID]


@pytest.fixture
async def served(settings: Settings, tmp_path: Path) -> AsyncIterator[Served]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'webhooks.db'}")
    await upgrade(engine, "webhooks")
    sessions = session_factory(engine)
    box = SecretBox(settings.key_encryption_key.get_secret_value())
    now = datetime.now(UTC).replace(microsecond=0)
    async with transaction(sessions) as session:
        row, _secret = await subscriptions.create(
            session, box, "demo", "https://hooks.example.org/in", [EventType.BADGE_ISSUED], None
        )
        dead = [uuid.uuid4() for _ in range(3)]
        for number, delivery_id in enumerate([*dead, uuid.uuid4()]):
            session.add(
                Delivery(
                    id=delivery_id,
                    subscription_id=row.id,
                    tenant_id="demo",
                    event_type=str(EventType.BADGE_ISSUED),
                    event_key=f"badge.issued:urn:uuid:{uuid.uuid4()}",
                    body='{"type": "badge.issued", "data": {"secret-ish": "not printed"}}',
                    status=DeliveryStatus.DEAD if delivery_id in dead else DeliveryStatus.DELIVERED,
                    attempts=20,
                    next_attempt_at=now,
                    created_at=now - timedelta(minutes=number),
                    finished_at=now,
                    last_error="answered 503",
                )
            )
    # The admin API alone: no lifespan, so no delivery loop sends what the test replays.
    app = build_service("webhooks", Wiring(settings, sessions, InMemoryBus())).http
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield Served(f"http://127.0.0.1:{sock.getsockname()[1]}", sessions, row.id, dead)
    finally:
        server.should_exit = True
        await task
        sock.close()
        await engine.dispose()


async def cli(*argv: str) -> int:
    # The CLI is synchronous (httpx.Client): off the loop that serves the API.
    return await asyncio.to_thread(main, ["webhooks", *argv])


async def statuses(served: Served) -> dict[uuid.UUID, str]:
    async with served.sessions() as session:
        return {row.id: row.status for row in (await session.execute(select(Delivery))).scalars()}


async def test_dead_letters_are_listed_then_replayed(
    served: Served, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREDSTREAM_ADMIN_TOKEN", "dev-admin-token")
    monkeypatch.setenv("CREDSTREAM_WEBHOOKS_URL", served.url)
    where = ("--tenant", "demo", "--subscription", str(served.subscription))

    assert await cli("dead", *where) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["id"] for line in lines] == [str(d) for d in served.dead]  # newest first, only the dead
    assert all(line["status"] == "dead" and line["last_error"] == "answered 503" for line in lines)
    assert "not printed" not in json.dumps(lines)

    assert await cli("replay", *where, "--delivery", str(served.dead[0])) == 0
    assert json.loads(capsys.readouterr().out) == {"replayed": 1, "delivery": str(served.dead[0])}
    assert (await statuses(served))[served.dead[0]] == "pending"

    # Replaying it again: it is no dead letter any more.
    assert await cli("replay", *where, "--delivery", str(served.dead[0])) == 1
    problem = json.loads(capsys.readouterr().err)
    assert problem["status"] == 409 and problem["title"] == "Not dead-lettered"

    assert await cli("replay", *where) == 0
    assert json.loads(capsys.readouterr().out) == {"replayed": 2, "delivery": "all dead"}
    assert sorted((await statuses(served)).values()) == ["delivered", "pending", "pending", "pending"]
    assert await cli("dead", *where) == 0
    assert capsys.readouterr().out == ""


async def test_refusals_exit_1_with_the_problem(
    served: Served, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREDSTREAM_ADMIN_TOKEN", "not-the-token")
    assert await cli("dead", "--url", served.url, "--tenant", "demo", "--subscription", str(served.subscription)) == 1
    assert json.loads(capsys.readouterr().err)["status"] == 401
    monkeypatch.setenv("CREDSTREAM_ADMIN_TOKEN", "dev-admin-token")
    assert await cli("replay", "--url", served.url, "--tenant", "demo", "--subscription", str(uuid.uuid4())) == 1
    assert json.loads(capsys.readouterr().err)["status"] == 404
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    assert await cli("dead", "--url", f"http://127.0.0.1:{port}", "--tenant", "demo", "--subscription", "x") == 1
    assert json.loads(capsys.readouterr().err)["title"] == "Unreachable"

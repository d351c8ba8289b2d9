"""The delivery loop on SQLite with a fake clock, a fixed jitter draw and an in-process endpoint (httpx
MockTransport): each failure schedules the next attempt by the retry policy, the last one dead-letters, a replay
starts afresh, a leased delivery is not sent twice before its lease ends, and the admin API keeps secrets sealed."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select
from standardwebhooks import Webhook

from services.webhooks.adapters import subscriptions
from services.webhooks.adapters.subscriptions import SecretBox
from services.webhooks.adapters.tables import Attempt, Delivery, Subscription
from services.webhooks.delivery import DeliveryLoop, replay
from services.webhooks.domain import DeliveryStatus, EventType, RetryPolicy
from services.webhooks.handlers import on_badges_issued
from shared.contracts import CloudEvent
from shared.credentials.fetch import HttpDocumentFetcher
from shared.db.engine import create_engine, session_factory, transaction
from shared.db.migrations import upgrade
from tests.verifier_support import badge_issued


class Clock:
    def __init__(self) -> None:
        # Deliveries are staged at the real time: the fake clock starts just after it (when the test runs, not when
        # the module was collected, which may be minutes earlier in a whole suite).
        self.start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)
        self.now = self.start

    def __call__(self) -> datetime:
        return self.now


async def test_failures_back_off_then_dead_letter_and_a_replay_delivers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    await upgrade(engine, "webhooks")
    sessions = session_factory(engine)
    box = SecretBox("test-kek")
    clock = Clock()
    answers: list[int] = [500, 502, 500]
    received: list[httpx.Request] = []

    def endpoint(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(answers.pop(0) if answers else 200)

    loop = DeliveryLoop(
        sessions,
        box,
        RetryPolicy(max_attempts=3, base_seconds=10, cap_seconds=15),
        HttpDocumentFetcher(insecure_hosts={"hooks.test"}),
        timeout=2,
        clock=clock,
        draw=lambda: 1.0,
    )
    loop._client = httpx.AsyncClient(transport=httpx.MockTransport(endpoint))
    async with transaction(sessions) as session:
        row, secret = await subscriptions.create(
            session, box, "demo", "http://hooks.test/in", [EventType.BADGE_ISSUED], None
        )
        stored = await session.get(Subscription, row.id)
        assert stored is not None and secret.encode() not in stored.sealed_secret  # sealed, not stored as is
    event = badge_issued("demo", uuid.uuid4())
    ce = CloudEvent(id="e1", source="credstream/issuer", type=event.CE_TYPE)
    for _ in range(2):  # staged twice (a redelivery): one delivery
        async with transaction(sessions) as session:
            await on_badges_issued(session, [(event, ce)])

    assert await loop.run_once() == 1
    assert await loop.run_once() == 0  # not due before the back-off ends
    delivery = await _delivery(sessions)
    assert delivery.attempts == 1
    assert delivery.next_attempt_at.replace(tzinfo=UTC) == clock.start + timedelta(seconds=10)
    clock.now += timedelta(seconds=10)
    assert await loop.run_once() == 1
    delivery = await _delivery(sessions)
    assert delivery.next_attempt_at.replace(tzinfo=UTC) == clock.now + timedelta(seconds=15)  # capped
    clock.now += timedelta(seconds=15)
    assert await loop.run_once() == 1
    delivery = await _delivery(sessions)
    assert (delivery.status, delivery.attempts, delivery.last_error) == (DeliveryStatus.DEAD, 3, "answered 500")
    clock.now += timedelta(hours=1)
    assert await loop.run_once() == 0  # a dead letter stays until replayed

    assert await replay(sessions, row.id, None, now=clock.now) == 1
    assert await loop.run_once() == 1
    delivery = await _delivery(sessions)
    assert delivery.status == DeliveryStatus.DELIVERED
    assert len(received) == 4 and len({r.headers["webhook-id"] for r in received}) == 1
    last = received[-1]
    # The library checks the timestamp against the real clock: verify what it signs under the fake one's time.
    assert (
        Webhook(secret).sign(last.headers["webhook-id"], clock.now, last.content.decode())
        == (last.headers["webhook-signature"])
    )
    async with sessions() as session:
        outcomes = [a.outcome for a in (await session.execute(select(Attempt).order_by(Attempt.id))).scalars()]  # type: ignore[arg-type]
    assert outcomes == ["retry", "retry", "dead", "delivered"]
    await loop._client.aclose()
    await engine.dispose()


async def _delivery(sessions) -> Delivery:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        return (await session.execute(select(Delivery))).scalars().one()


async def test_a_wallet_copy_is_delivered_as_badge_issued_naming_its_award_and_holder(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    await upgrade(engine, "webhooks")
    sessions = session_factory(engine)
    async with transaction(sessions) as session:
        await subscriptions.create(
            session, SecretBox("test-kek"), "demo", "https://hooks.test/in", [EventType.BADGE_ISSUED], None
        )
    award, copy = uuid.uuid4(), uuid.uuid4()
    events = [
        badge_issued("demo", award),
        badge_issued("demo", copy, award_credential_id=f"urn:uuid:{award}", holder="did:key:z6MkHolder"),
    ]
    async with transaction(sessions) as session:
        await on_badges_issued(
            session, [(event, CloudEvent(source="credstream/issuer", type=event.CE_TYPE)) for event in events]
        )
    async with sessions() as session:
        bodies = {
            row.event_key: json.loads(row.body)["data"] for row in (await session.execute(select(Delivery))).scalars()
        }
    original, wallet_copy = bodies[f"badge.issued:urn:uuid:{award}"], bodies[f"badge.issued:urn:uuid:{copy}"]
    assert "award_credential_id" not in original and "holder" not in original
    assert wallet_copy["award_credential_id"] == f"urn:uuid:{award}" and wallet_copy["holder"] == "did:key:z6MkHolder"
    await engine.dispose()

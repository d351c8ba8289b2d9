"""Prometheus metrics move as the pipeline works: batches, dead letters, LMS items, verifications, badges, HTTP."""

import copy
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from services.embedded import EmbeddedStack
from services.enrollment.adapters.tables import EnrollmentOutbox
from services.enrollment.handlers import Recorded
from services.runtime import Wiring
from services.verifier.entrypoint import build as build_verifier
from shared import metrics
from shared.contracts import Topic
from shared.db.engine import create_engine, session_factory, transaction
from shared.db.outbox import OutboxRelay
from shared.messaging.batch import DeadLetter
from shared.messaging.kafka_batch import publish_dead_letters
from shared.messaging.memory import InMemoryBus
from shared.messaging.records import OutboundRecord
from shared.settings import Settings
from tests.unit.credentials.conftest import (  # noqa: F401 (fixtures)
    issuer_key,
    now,
    signed_at,
    signed_credential,
    unsigned_credential,
)
from tests.unit.test_batch_consumer import consumer as batch_consumer
from tests.unit.test_batch_consumer import record as inbound
from tests.unit.test_batch_consumer import sessions  # noqa: F401 (fixture)
from tests.unit.test_dead_letters import consumer_record
from tests.unit.test_enrollment_http import stack  # noqa: F401 (fixture)

TOPIC = str(Topic.LMS_INBOUND)


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Delta:
    """The change of some samples between construction and `of`."""

    def __init__(self, *samples: tuple[str, dict[str, str]]) -> None:
        self._before = {(name, tuple(sorted(labels.items()))): value(name, **labels) for name, labels in samples}

    def of(self, name: str, labels: dict[str, str] | None = None, **more: str) -> float:
        labels = {**(labels or {}), **more}
        return value(name, **labels) - self._before[(name, tuple(sorted(labels.items())))]


async def test_a_processed_batch_counts_new_and_duplicate_records(sessions) -> None:  # type: ignore[no-untyped-def]  # noqa: F811 (fixture)
    labels = {"consumer": "enrollment", "topic": TOPIC}
    delta = Delta(
        ("credstream_records_total", {**labels, "outcome": "processed"}),
        ("credstream_records_total", {**labels, "outcome": "duplicate"}),
        ("credstream_batch_seconds_count", labels),
        ("credstream_batch_records_sum", labels),
    )
    records = [inbound(f"e{i}", i) for i in range(3)]
    copy_of_first = inbound("e0", 3, ce_id=records[0].headers["ce_id"])
    assert await batch_consumer(sessions).handle_records([*records, copy_of_first]) == []
    assert delta.of("credstream_records_total", **labels, outcome="processed") == 3
    assert delta.of("credstream_records_total", **labels, outcome="duplicate") == 1
    assert delta.of("credstream_batch_seconds_count", **labels) == 1
    assert delta.of("credstream_batch_records_sum", **labels) == 4

    await batch_consumer(sessions).handle_records(records[:2])  # a redelivery: nothing new
    assert delta.of("credstream_records_total", **labels, outcome="processed") == 3
    assert delta.of("credstream_records_total", **labels, outcome="duplicate") == 3


async def test_dead_letters_are_counted_per_consumer_and_topic(sessions) -> None:  # type: ignore[no-untyped-def]  # noqa: F811 (fixture)
    dead = ("credstream_records_total", {"consumer": "enrollment", "topic": TOPIC, "outcome": "dead_lettered"})
    delta = Delta(dead)
    bus = InMemoryBus()
    bus.subscribe(batch_consumer(sessions))
    await bus.publish([OutboundRecord(TOPIC, "acme:l1", b"{not json", {})])  # the in-process transport
    assert delta.of(*dead) == 1
    assert len(bus.records(f"{TOPIC}.dlq")) == 1

    class Published:
        records: list[OutboundRecord] = []

        async def publish(self, records: list[OutboundRecord]) -> None:
            self.records.extend(records)

    # The Kafka batch transport's path.
    await publish_dead_letters(Published(), [DeadLetter(inbound("e9", 9), "bad")], "enrollment", "group")
    assert delta.of(*dead) == 2


async def test_lms_items_duplicates_refusals_and_http_requests(stack: EmbeddedStack) -> None:  # noqa: F811 (fixture)
    items = {status: ("credstream_lms_items_total", {"format": "native", "status": status}) for status in Recorded}
    refused = ("credstream_lms_refused_total", {"format": "native", "status": "401"})
    invalid = ("credstream_lms_refused_total", {"format": "native", "status": "422"})
    http_202 = ("credstream_http_requests_total", {"method": "POST", "route": "/v1/activities", "status": "202"})
    delta = Delta(*items.values(), refused, invalid, http_202)
    client = stack.http("enrollment")
    body = {
        "tenant_id": "acme",
        "learner_id": "l1",
        "event_id": f"e-{uuid.uuid4().hex[:8]}",
        "kind": "enrolled",
        "achievement_id": "python",
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    lms = {"Authorization": "Bearer acme-key"}
    assert (await client.post("/v1/activities", json=body, headers=lms)).status_code == 202
    assert (await client.post("/v1/activities", json=body, headers=lms)).status_code == 202
    assert (await client.post("/v1/activities", json=body)).status_code == 401
    assert (await client.post("/v1/activities", json={**body, "kind": "graded"}, headers=lms)).status_code == 422
    assert delta.of(*items["accepted"]) == 1
    assert delta.of(*items["duplicate"]) == 1
    assert delta.of(*refused) == 1
    assert delta.of(*invalid) == 1
    assert delta.of(*http_202) == 2

    scraped = await client.get("/metrics")
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    assert 'credstream_lms_items_total{format="native",status="duplicate"}' in scraped.text
    assert "credstream_ready 1.0" in scraped.text
    assert body["learner_id"] not in scraped.text  # no learner ids as labels
    unmatched = ("credstream_http_requests_total", {"method": "GET", "route": "unmatched", "status": "404"})
    delta = Delta(unmatched)
    await client.get(f"/no/such/path/{uuid.uuid4()}")
    assert delta.of(*unmatched) == 1  # raw paths never become labels


@pytest.fixture
async def verifier(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    engine = create_engine("sqlite+aiosqlite://")
    app = build_verifier(Wiring(settings, session_factory(engine), InMemoryBus())).http
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://verifier") as http:
        yield http
    await engine.dispose()


async def test_verifications_count_verdicts_and_codes(
    verifier: httpx.AsyncClient,
    signed_credential: dict[str, Any],  # noqa: F811 (fixture)
) -> None:
    results = {r: ("credstream_verifications_total", {"result": r}) for r in ("verified", "not_verified")}
    delta = Delta(*results.values())
    assert (await verifier.post("/verify", json=signed_credential)).json()["verified"] is True
    tampered = copy.deepcopy(signed_credential)
    tampered["name"] = "Something else"
    report = (await verifier.post("/verify", json=tampered)).json()
    assert report["verified"] is False
    assert delta.of(*results["verified"]) == 1
    assert delta.of(*results["not_verified"]) == 1
    codes = {c["code"] for c in report["checks"] if c["outcome"] in ("failed", "undetermined")}
    assert codes
    for code in codes:
        assert value("credstream_verification_codes_total", code=code) >= 1


def test_badges_count_per_tenant_with_bounded_tenants() -> None:
    tenant = f"t{uuid.uuid4().hex[:8]}"
    issued = ("credstream_badges_issued_total", {"tenant": tenant})
    revoked = ("credstream_badges_revoked_total", {"tenant": tenant})
    delta = Delta(issued, revoked)
    metrics.published(
        [
            OutboundRecord("credstream.badge-issued.v1", f"{tenant}:learner-1", b"{}"),
            OutboundRecord("credstream.badge-issued.v1", f"{tenant}:learner-2", b"{}"),
            OutboundRecord("credstream.badge-revoked.v1", f"{tenant}:learner-1", b"{}"),
            OutboundRecord("credstream.enrollment.v1", f"{tenant}:learner-1", b"{}"),
        ]
    )
    assert delta.of(*issued) == 2
    assert delta.of(*revoked) == 1

    bounded = metrics._Bounded(2)
    assert [bounded(t) for t in ("a", "b", "c", "a", "d")] == ["a", "b", "other", "a", "other"]


async def test_outbox_backlog_is_read_when_scraped(sessions) -> None:  # type: ignore[no-untyped-def]  # noqa: F811 (fixture)
    relay = OutboxRelay(sessions, EnrollmentOutbox, InMemoryBus())
    assert await relay.backlog() == (0, None)
    async with transaction(sessions) as session:
        session.add(EnrollmentOutbox(topic=TOPIC, key="acme:l1", value="{}", headers="{}"))
    depth, oldest = await relay.backlog()
    assert depth == 1 and oldest is not None
    metrics.outbox_backlog(relay.table_name, depth, oldest)
    assert value("credstream_outbox_depth", table=relay.table_name) == 1
    assert value("credstream_outbox_oldest_age_seconds", table=relay.table_name) >= 0


async def test_the_kafka_middleware_counts_dead_letters_and_redeliveries(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.messaging import kafka
    from shared.messaging.records import PoisonRecord

    monkeypatch.setattr(kafka.asyncio, "sleep", _no_pause)
    raw = consumer_record([])
    topic = raw.topic
    dead = ("credstream_records_total", {"consumer": "c", "topic": topic, "outcome": "dead_lettered"})
    again = ("credstream_records_redelivered_total", {"topic": topic})
    delta = Delta(dead, again)
    sent: list[OutboundRecord] = []

    class Publisher:
        async def publish(self, records: list[OutboundRecord]) -> None:
            sent.extend(records)

    middleware = kafka.dead_letter_middleware({raw.topic: ("c", "g")}, Publisher())  # type: ignore[arg-type]

    class Message:
        raw_message = raw
        body = b"{}"
        headers: dict[str, str] = {}

    async def poison(_msg: object) -> None:
        raise PoisonRecord("bad")

    async def outage(_msg: object) -> None:
        raise ConnectionRefusedError("database down")

    await middleware(Message(), context=None).consume_scope(poison, Message())  # type: ignore[arg-type]
    assert delta.of(*dead) == 1 and len(sent) == 1
    with pytest.raises(ConnectionRefusedError):
        await middleware(Message(), context=None).consume_scope(outage, Message())  # type: ignore[arg-type]
    assert delta.of(*again) == 1
    assert delta.of(*dead) == 1  # redelivered, not dead-lettered


async def _no_pause(_seconds: float) -> None:
    return None

"""One trace follows an LMS request through every Kafka hop on real Kafka + PostgreSQL: the enrollment HTTP span,
then the assessment, issuer and verifier consumer spans, all with the request's trace id; the badge-issued record
carries it in `ce_traceparent`."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import select

from services.assessment.adapters.tables import AssessmentProcessedEvent
from services.assessment.admin import define_achievement
from services.assessment.domain import AchievementDefinition
from services.runtime import KafkaService
from services.verifier.adapters.tables import PublishedCredential
from shared.contracts import Topic
from shared.db.engine import session_factory, transaction
from shared.settings import Settings
from tests.helpers import eventually, header, read_topic
from tests.infra import Infrastructure
from tests.kafka_stack import kafka_services, kafka_settings
from tests.tracing_support import collected_spans, trace_id

pytestmark = pytest.mark.integration


@pytest.fixture
async def traced(
    settings: Settings, infra: Infrastructure, postgres_url: str
) -> AsyncIterator[tuple[dict[str, KafkaService], InMemorySpanExporter]]:
    with collected_spans() as spans:  # before the services are built: their HTTP apps are instrumented then
        async with kafka_services(kafka_settings(settings, infra, postgres_url)) as running:
            yield running, spans


async def test_one_trace_spans_the_lms_request_and_all_four_services(
    traced: tuple[dict[str, KafkaService], InMemorySpanExporter], infra: Infrastructure
) -> None:
    services, spans = traced
    learner = f"tr-{uuid.uuid4().hex[:8]}"
    async with transaction(session_factory(services["assessment"].engine)) as session:
        await define_achievement(
            session,
            "demo",
            AchievementDefinition.model_validate(
                {
                    "id": "traced",
                    "name": "Traced",
                    "description": "Follows a request end to end.",
                    "criteria": {
                        "narrative": "70%.",
                        "required_assessments": [{"assessment_id": "q", "min_score": 70}],
                    },
                }
            ),
        )

    async def definition_consumed() -> bool:
        # Once the definition's own event is handled, only the LMS request can award the badge (otherwise that
        # event's consumer could, in a trace of its own).
        async with session_factory(services["assessment"].engine)() as session:
            table = AssessmentProcessedEvent
            found = await session.execute(select(table.event_id).where(table.consumer == "assessment-achievements"))
            return found.first() is not None

    await eventually(definition_consumed)
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    activities = [
        {"tenant_id": "demo", "learner_id": learner, "event_id": f"{learner}-1", "kind": "enrolled"}
        | {"achievement_id": "traced", "occurred_at": t0.isoformat()},
        {"tenant_id": "demo", "learner_id": learner, "event_id": f"{learner}-2", "kind": "scored"}
        | {"assessment_id": "q", "score": 9, "max_score": 10, "occurred_at": (t0 + timedelta(minutes=1)).isoformat()},
    ]
    transport = httpx.ASGITransport(app=services["enrollment"].parts.http)
    async with httpx.AsyncClient(transport=transport, base_url="http://enrollment") as client:
        answer = await client.post("/v1/activities", json=activities, headers={"Authorization": "Bearer dev-lms-key"})
    assert answer.status_code == 202, answer.text

    (request,) = [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]
    trace = trace_id(request)

    issued = await read_topic(
        infra.kafka_bootstrap_servers,
        str(Topic.BADGE_ISSUED),
        match=lambda r: r.key == f"demo:{learner}".encode(),
        until=lambda found: len(found) >= 1,
    )
    traceparent = header(issued[0], "ce_traceparent")
    assert traceparent is not None and traceparent.split("-")[1] == trace

    async def published() -> PublishedCredential | None:
        async with session_factory(services["verifier"].engine)() as session:
            found = select(PublishedCredential).where(PublishedCredential.tenant_id == "demo")
            return (await session.execute(found)).scalar()

    await eventually(published)

    def hops() -> set[str]:
        return {
            s.attributes["messaging.destination.name"]  # type: ignore[index]
            for s in spans.get_finished_spans()
            if s.kind is SpanKind.CONSUMER and trace_id(s) == trace
        }

    async def every_hop() -> set[str] | None:
        found = hops()
        wanted = {str(Topic.ENROLLMENT), str(Topic.ASSESSMENT_PASSED), str(Topic.BADGE_ISSUED)}
        return found if wanted <= found else None

    # enrollment.v1 → assessment, assessment-passed.v1 → issuer, badge-issued.v1 → verifier's read model
    assert await eventually(every_hop, timeout=30)
    consumers = {
        s.attributes["messaging.consumer.group.name"]  # type: ignore[index]
        for s in spans.get_finished_spans()
        if s.kind is SpanKind.CONSUMER and trace_id(s) == trace
    }
    assert {"assessment", "issuer", "verifier"} <= consumers

"""Awarding on real Kafka and PostgreSQL, each service with its own consumer groups and connections: Achievement
definitions through the admin API and the compacted achievements topic, a three-badge pathway earned out of order
with duplicates, a rubric-graded achievement and an answer-key-graded quiz flowing to issued, verified badges, and a
new assessment replica rebuilding its definitions from the compacted topic."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from services.assessment.adapters.tables import AchievementRow
from services.runtime import KafkaService
from services.verifier.adapters.tables import PublishedCredential
from shared.contracts import (
    AchievementDefined,
    AssessmentPassed,
    BadgeIssued,
    CloudEvent,
    LmsActivity,
    ResultKind,
    Topic,
)
from shared.db.engine import session_factory
from shared.db.scratch import create_database, drop_database
from shared.messaging.topics import _topic_config
from shared.settings import Settings
from tests.helpers import eventually, produce, read_to_end, read_topic, skip_topic_history
from tests.infra import Infrastructure
from tests.kafka_stack import kafka_services, kafka_settings

pytestmark = pytest.mark.integration
ADMIN = {"Authorization": "Bearer dev-admin-token"}


def configure(settings: Settings, infra: Infrastructure, database_url: str) -> Settings:
    return kafka_settings(settings, infra, database_url)


@pytest.fixture
async def services(
    settings: Settings, infra: Infrastructure, postgres_url: str
) -> AsyncIterator[dict[str, KafkaService]]:
    async with kafka_services(configure(settings, infra, postgres_url)) as running:
        yield running


@asynccontextmanager
async def admin_client(service: KafkaService) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=service.parts.http)
    async with httpx.AsyncClient(transport=transport, base_url="http://assessment") as client:
        yield client


class Lms:
    """An LMS publishing its native activities straight to `credstream.lms-inbound.v1`."""

    def __init__(self, bootstrap: str, tenant: str) -> None:
        self.bootstrap, self.tenant = bootstrap, tenant
        self.t0 = datetime.now(UTC) - timedelta(hours=1)
        self.count = 0

    async def send(self, learner: str, kind: str, minute: int, *, event_id: str | None = None, **fields: Any) -> None:
        self.count += 1
        activity = LmsActivity(
            tenant_id=self.tenant,
            learner_id=learner,
            event_id=event_id or f"ev-{self.count}",
            kind=kind,
            occurred_at=self.t0 + timedelta(minutes=minute),
            **fields,
        )
        ce = CloudEvent(source="lms://moodle.test", type=LmsActivity.CE_TYPE)
        await produce(
            self.bootstrap,
            str(Topic.LMS_INBOUND),
            activity.model_dump_json().encode(),
            key=activity.key(),
            headers=ce.to_header_dict(),
        )


def course(achievement_id: str, assessment_id: str) -> dict[str, Any]:
    return {
        "id": achievement_id,
        "name": f"{achievement_id.title()} Essentials",
        "description": f"Passed the {assessment_id}.",
        "criteria": {
            "narrative": f"70% on the {assessment_id}.",
            "rule": {"type": "assessment", "assessment_id": assessment_id, "min_score": 70},
        },
    }


async def define(client: httpx.AsyncClient, tenant: str, definition: dict[str, Any]) -> dict[str, Any]:
    response = await client.put(f"/v1/tenants/{tenant}/achievements/{definition['id']}", json=definition, headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()


async def applied(service: KafkaService, tenant: str, achievement_ids: set[str]) -> bool:
    """Has this assessment service applied these definitions from the achievements topic?"""
    async with session_factory(service.engine)() as session:
        rows = await session.execute(select(AchievementRow.achievement_id).where(AchievementRow.tenant_id == tenant))
        return achievement_ids <= set(rows.scalars())


async def passed_events(bootstrap: str, tenant: str, learner: str, count: int) -> list[AssessmentPassed]:
    records = await read_topic(
        bootstrap,
        str(Topic.ASSESSMENT_PASSED),
        match=lambda r: r.key == f"{tenant}:{learner}".encode(),
        until=lambda found: len(found) >= count,
    )
    return [AssessmentPassed.model_validate_json(r.value) for r in records]


async def verified_badge(services: dict[str, KafkaService], tenant: str, award_id: uuid.UUID) -> BadgeIssued:
    """The badge for `award_id`, once the verifier publishes it, checked by the verifier's own verification."""
    bootstrap = services["issuer"].settings.kafka_bootstrap_servers
    records = await read_topic(
        bootstrap,
        str(Topic.BADGE_ISSUED),
        match=lambda r: (
            r.key is not None and r.key.startswith(f"{tenant}:".encode()) and str(award_id).encode() in r.value
        ),
        until=lambda found: len(found) >= 1,
    )
    badge = BadgeIssued.model_validate_json(records[0].value)
    credential_uuid = badge.credential_id.removeprefix("urn:uuid:")

    async def published() -> PublishedCredential | None:
        async with session_factory(services["verifier"].engine)() as session:
            return await session.get(PublishedCredential, uuid.UUID(credential_uuid))

    await eventually(published)
    transport = httpx.ASGITransport(app=services["verifier"].parts.http)
    async with httpx.AsyncClient(transport=transport, base_url="http://verifier") as client:
        report = (await client.get(f"/credentials/{credential_uuid}/verification")).json()
    assert report["verified"] and report["status"] == "active", report
    return badge


async def test_a_three_badge_pathway_earned_out_of_order_with_duplicates(
    services: dict[str, KafkaService], infra: Infrastructure
) -> None:
    tenant = f"p{uuid.uuid4().hex[:8]}"
    bootstrap = infra.kafka_bootstrap_servers
    async with admin_client(services["assessment"]) as client:
        for achievement_id, assessment_id in (("sql", "sql-exam"), ("python", "py-exam"), ("kafka", "kafka-exam")):
            await define(client, tenant, course(achievement_id, assessment_id))
        await define(
            client,
            tenant,
            {
                "id": "data-engineer",
                "name": "Data Engineer Pathway",
                "description": "Earned the SQL, Python and Kafka badges.",
                "achievement_type": "Certificate",
                "criteria": {
                    "narrative": "All three component badges.",
                    "rule": {
                        "type": "all_of",
                        "rules": [{"type": "achievement", "achievement_id": a} for a in ("sql", "python", "kafka")],
                    },
                },
            },
        )
    definitions = await read_topic(
        bootstrap,
        str(Topic.ACHIEVEMENTS),
        match=lambda r: r.key is not None and r.key.startswith(f"{tenant}:".encode()),
        until=lambda found: len(found) >= 4,
    )
    assert {AchievementDefined.model_validate_json(r.value).achievement_id for r in definitions} == {
        "sql",
        "python",
        "kafka",
        "data-engineer",
    }

    lms = Lms(bootstrap, tenant)
    for minute, achievement_id in enumerate(("sql", "python", "kafka")):
        await lms.send("zoe", "enrolled", minute, achievement_id=achievement_id, learner_name="Zoe Park")
    # Out of order (kafka, sql, python), a failed first try, an LMS retry of the same event and a second pass.
    await lms.send("zoe", "scored", 10, assessment_id="kafka-exam", score=75, max_score=100)
    await lms.send("zoe", "scored", 11, assessment_id="sql-exam", score=50, max_score=100)
    await lms.send("zoe", "scored", 12, assessment_id="sql-exam", score=88, max_score=100, event_id="sql-retake")
    await lms.send("zoe", "scored", 12, assessment_id="sql-exam", score=88, max_score=100, event_id="sql-retake")
    await lms.send("zoe", "passed", 13, assessment_id="py-exam", score=9, max_score=10)
    await lms.send("zoe", "scored", 14, assessment_id="py-exam", score=10, max_score=10)

    passed = await passed_events(bootstrap, tenant, "zoe", 4)
    [pathway] = [p for p in passed if p.achievement.id == "data-engineer"]
    assert [(r.assessment_id, r.kind) for r in pathway.results] == [
        ("sql", ResultKind.ACHIEVEMENT),
        ("python", ResultKind.ACHIEVEMENT),
        ("kafka", ResultKind.ACHIEVEMENT),
    ]
    assert pathway.learner_name == "Zoe Park"
    assert pathway.passed_at == lms.t0 + timedelta(minutes=13)
    badge = await verified_badge(services, tenant, pathway.award_id)
    assert badge.credential["credentialSubject"]["achievement"]["name"] == "Data Engineer Pathway"

    # Once idle: exactly one award per achievement on the topic, the pathway included.
    await asyncio.sleep(2)
    records = await read_to_end(bootstrap, str(Topic.ASSESSMENT_PASSED))
    mine = [AssessmentPassed.model_validate_json(r.value) for r in records if r.key == f"{tenant}:zoe".encode()]
    assert sorted(p.achievement.id for p in mine) == ["data-engineer", "kafka", "python", "sql"]


async def test_rubric_and_answer_key_graded_achievements_reach_verified_badges(
    services: dict[str, KafkaService], infra: Infrastructure
) -> None:
    tenant = f"r{uuid.uuid4().hex[:8]}"
    bootstrap = infra.kafka_bootstrap_servers
    levels = [{"id": "beginning", "name": "Beginning"}, {"id": "developing", "name": "Developing"},
              {"id": "accomplished", "name": "Accomplished"}]  # fmt: skip
    async with admin_client(services["assessment"]) as client:
        await define(
            client,
            tenant,
            {
                "id": "presenter",
                "name": "Confident Presenter",
                "description": "Presents a technical topic clearly.",
                "criteria": {
                    "narrative": "Developing or better on delivery, accomplished on structure.",
                    "rule": {
                        "type": "rubric",
                        "assessment_id": "talk",
                        "criteria": [
                            {"id": "delivery", "name": "Delivery", "levels": levels, "required_level": "developing"},
                            {
                                "id": "structure",
                                "name": "Structure",
                                "levels": levels,
                                "required_level": "accomplished",
                            },
                        ],
                    },
                },
            },
        )
        await define(client, tenant, course("quiz-whiz", "quiz"))
        response = await client.put(
            f"/v1/tenants/{tenant}/assessments/quiz/answer-key",
            json={
                "questions": [
                    {"type": "single_choice", "question_id": "q1", "correct": "b"},
                    {"type": "numeric", "question_id": "q2", "correct": 2.5, "tolerance": 0.05},
                ]
            },
            headers=ADMIN,
        )
        assert response.status_code == 200, response.text
    await eventually(lambda: applied(services["assessment"], tenant, {"presenter", "quiz-whiz"}))

    lms = Lms(bootstrap, tenant)
    await lms.send("max", "enrolled", 0, achievement_id="presenter")
    await lms.send("max", "enrolled", 0, achievement_id="quiz-whiz")
    await lms.send(
        "max", "submitted", 1, assessment_id="talk", rubric={"delivery": "accomplished", "structure": "developing"}
    )
    await lms.send("max", "submitted", 2, assessment_id="quiz", answers=[{"question_id": "q1", "response": "a"}])
    await lms.send(
        "max", "submitted", 3, assessment_id="talk", rubric={"delivery": "developing", "structure": "accomplished"}
    )
    await lms.send(
        "max",
        "submitted",
        4,
        assessment_id="quiz",
        answers=[{"question_id": "q1", "response": "b"}, {"question_id": "q2", "response": 2.52}],
    )

    passed = {p.achievement.id: p for p in await passed_events(bootstrap, tenant, "max", 2)}
    [talk] = passed["presenter"].results
    assert talk.kind is ResultKind.RUBRIC and talk.achieved_at == lms.t0 + timedelta(minutes=3)
    assert talk.rubric == {"delivery": "developing", "structure": "accomplished"}
    [quiz] = passed["quiz-whiz"].results
    assert (quiz.score, quiz.max_score) == (2, 2)
    for award in passed.values():
        await verified_badge(services, tenant, award.award_id)
    async with admin_client(services["assessment"]) as client:
        attempts = (await client.get(f"/v1/tenants/{tenant}/learners/max/attempts", headers=ADMIN)).json()
    assert [(a["assessment_id"], a["score"]) for a in attempts if a["assessment_id"] == "quiz"] == [
        ("quiz", 0),
        ("quiz", 2),
    ]


async def test_a_new_replica_rebuilds_its_definitions_from_the_compacted_topic(
    settings: Settings, infra: Infrastructure, postgres_url: str
) -> None:
    bootstrap = infra.kafka_bootstrap_servers
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        assert await _topic_config(admin, str(Topic.ACHIEVEMENTS), ["cleanup.policy"]) == {"cleanup.policy": "compact"}
    finally:
        await admin.close()

    tenant = f"c{uuid.uuid4().hex[:8]}"
    first = KafkaService("assessment", configure(settings, infra, postgres_url))
    await skip_topic_history(bootstrap, first.settings.consumer_group_prefix)
    await first.start()
    try:
        async with admin_client(first) as client:
            await define(client, tenant, course("sql", "sql-exam"))
            await define(client, tenant, course("sql", "sql-exam") | {"name": "SQL Fundamentals"})
            await eventually(lambda: applied(first, tenant, {"sql"}))
    finally:
        await first.stop()

    async with fresh_database(postgres_url) as other_url:
        replica = KafkaService("assessment", configure(settings, infra, other_url))
        prefix = replica.settings.consumer_group_prefix
        # Its activity consumer skips the shared history; its definitions consumer reads the topic from the start.
        await skip_topic_history(bootstrap, prefix, keep={f"{prefix}-assessment-achievements"})
        await replica.start()
        try:

            async def second_version() -> AchievementRow | None:
                async with session_factory(replica.engine)() as session:
                    found = await session.get(AchievementRow, (tenant, "sql"))
                return found if found is not None and found.version == 2 else None

            # Versions 1 and 2 arrive one after the other: wait for the later one, not just for any.
            row = await eventually(second_version, timeout=120)
            assert (row.version, row.status) == (2, "active")
            assert '"SQL Fundamentals"' in row.definition
        finally:
            await replica.stop()


@asynccontextmanager
async def fresh_database(like_url: str) -> AsyncIterator[str]:
    """A second empty database on the same PostgreSQL server (another replica's or service's own)."""
    url = await create_database(like_url)
    try:
        yield url
    finally:
        await drop_database(like_url, make_url(url).database or "")

"""Each LMS format through to an issued, verifiable badge on real Kafka + PostgreSQL, with all four services
(KafkaService, each its own consumer group): over HTTP (xAPI from Moodle, Caliper and Canvas-format Live Events
from Canvas, LTI AGS Scores from a tool) and published straight to `credstream.lms-inbound.v1`."""

import asyncio
import uuid
from datetime import UTC, datetime

import httpx
import jwt
import pytest
from aiokafka import ConsumerRecord
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from services.runtime import KafkaService
from shared.contracts import BadgeIssued, EnrollmentRecorded, Topic, dead_letter_topic
from shared.credentials import DidKeyResolver, verify_credential
from tests.helpers import header, produce, read_to_end, read_topic
from tests.infra import Infrastructure
from tests.lms_helpers import (
    connect,
    define_achievement,
    fixture_bytes,
    fixture_json,
    hmac_headers,
    map_ids,
    xapi_headers,
)

pytestmark = pytest.mark.integration

MOODLE_RULES = [
    {"match": "exact", "lms_id": "https://moodle.example.edu/course/view.php?id=7", "achievement_id": "engines"},
    {"match": "exact", "lms_id": "https://moodle.example.edu/mod/quiz/view.php?id=31", "assessment_id": "engine-quiz"},
]
CANVAS_RULES = [
    {"match": "prefix", "lms_id": "urn:instructure:canvas:course:", "achievement_id": "canvas-course-{suffix}"},
    {"match": "prefix", "lms_id": "urn:instructure:canvas:assignment:", "assessment_id": "canvas-assignment-{suffix}"},
]


def http(service: KafkaService) -> httpx.AsyncClient:
    """The service's real ASGI app (the one `credstream serve` runs under uvicorn), in-process."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=service.parts.http), base_url="http://service")


async def badge_for(bootstrap: str, tenant: str, learner: str) -> BadgeIssued:
    key = f"{tenant}:{learner}".encode()
    found = await read_topic(bootstrap, str(Topic.BADGE_ISSUED), match=lambda r: r.key == key, until=bool, timeout=120)
    record = found[0]
    badge = BadgeIssued.model_validate_json(record.value)
    report = verify_credential(badge.credential, resolver=DidKeyResolver(), now=datetime.now(UTC))
    assert report.verified, report
    return badge


async def test_each_format_over_http_to_a_verified_badge(
    services: dict[str, KafkaService], infra: Infrastructure
) -> None:
    tenant = f"h{uuid.uuid4().hex[:8]}"
    enrollment, assessment = http(services["enrollment"]), http(services["assessment"])
    await define_achievement(assessment, tenant, "engines", "engine-quiz", 80)
    await define_achievement(
        assessment, tenant, "canvas-course-21070000000000777", "canvas-assignment-21070000000000355", 90
    )
    await define_achievement(
        assessment, tenant, "canvas-course-21070000000000888", "canvas-assignment-21070000000000400", 85
    )
    await define_achievement(assessment, tenant, "essays", "essay-1", 80)

    # xAPI: Moodle's logstore_xapi posting statement batches with Basic auth.
    moodle = await connect(enrollment, tenant, source_kind="xapi", learner_prefix="moodle:")
    await map_ids(enrollment, tenant, moodle["id"], MOODLE_RULES)
    for name in ("xapi/moodle_v5_user_enrolment_created.json", "xapi/moodle_v5_quiz_attempt_submitted.json"):
        response = await enrollment.post(
            "/xapi/statements", content=fixture_bytes(name), headers=xapi_headers(moodle["secret"])
        )
        assert response.status_code == 200, response.text

    # Caliper: Canvas Live Events (Caliper format) with HMAC-signed requests.
    caliper = await connect(enrollment, tenant, source_kind="canvas", auth_method="hmac")
    await map_ids(enrollment, tenant, caliper["id"], CANVAS_RULES)
    for name in ("caliper/canvas_enrollment_created.json", "caliper/canvas_grade_change.json"):
        body = fixture_bytes(name)
        response = await enrollment.post(
            "/caliper", content=body, headers=hmac_headers(caliper["id"], caliper["secret"], body)
        )
        assert response.status_code == 202 and response.json()["accepted"] == 1, response.text

    # Canvas format: Live Events signed as JWTs (ES256), verified with the configured public key.
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    canvas = await connect(
        enrollment,
        tenant,
        source_kind="canvas",
        auth_method="jwt",
        learner_prefix="cv:",
        jwt={"algorithms": ["ES256"], "public_key_pem": pem.decode()},
    )
    await map_ids(enrollment, tenant, canvas["id"], CANVAS_RULES)
    for name in ("canvas/enrollment_created.json", "canvas/grade_change.json", "canvas/course_completed.json"):
        token = jwt.encode(fixture_json(name), key, algorithm="ES256")
        response = await enrollment.post(
            "/canvas/live-events", content=token, headers={"X-Credstream-Connection": canvas["id"]}
        )
        assert response.status_code == 202 and response.json()["accepted"] == 1, response.text

    # LTI AGS: a tool posting a Score to a line item; the enrolment came from the roster (native).
    tool = await connect(enrollment, tenant, source_kind="lti-ags")
    await map_ids(enrollment, tenant, tool["id"], [{"lms_id": "essay-line-item", "assessment_id": "essay-1"}])
    roster = await connect(enrollment, tenant, source_kind="native")
    enrol = {
        "tenant_id": tenant,
        "learner_id": "5323497",
        "event_id": "roster-1",
        "kind": "enrolled",
        "achievement_id": "essays",
        "occurred_at": "2026-11-20T09:00:00Z",
    }
    response = await enrollment.post(
        "/v1/activities", json=enrol, headers={"Authorization": f"Bearer {roster['secret']}"}
    )
    assert response.status_code == 202, response.text
    response = await enrollment.post(
        "/lti/ags/essay-line-item/scores",
        content=fixture_bytes("lti-ags/score_fully_graded.json"),
        headers={"Authorization": f"Bearer {tool['secret']}", "Content-Type": "application/vnd.ims.lis.v1.score+json"},
    )
    assert response.status_code == 202 and response.json()["accepted"] == 1, response.text

    bootstrap = infra.kafka_bootstrap_servers
    expected = {
        "moodle:1042": "engines",
        "21070000000020064": "canvas-course-21070000000000777",
        "cv:21070000000030111": "canvas-course-21070000000000888",
        "5323497": "essays",
    }
    for learner, achievement in expected.items():
        badge = await badge_for(bootstrap, tenant, learner)
        assert badge.achievement_id == achievement

    records = await read_topic(
        bootstrap,
        str(Topic.ENROLLMENT),
        match=lambda r: r.key == f"{tenant}:cv:21070000000030111".encode(),
        until=lambda found: len(found) >= 3,
    )
    events = [EnrollmentRecorded.model_validate_json(r.value) for r in records]
    completed = next(e for e in events if e.kind == "completed")  # local ids in course_completed made global
    assert completed.achievement_id == "canvas-course-21070000000000888" and completed.recipient is not None
    assert all(b"emmy@example.edu" not in r.value for r in records)
    await enrollment.aclose()
    await assessment.aclose()


async def test_lms_formats_published_to_the_inbound_topic(
    services: dict[str, KafkaService], infra: Infrastructure
) -> None:
    """An LMS (or a bridge such as an LRS forwarder) publishing its own format straight to Kafka: the headers
    name the format and the connection; bad records are dead-lettered with the reason, never blocking."""
    tenant = f"k{uuid.uuid4().hex[:8]}"
    enrollment, assessment = http(services["enrollment"]), http(services["assessment"])
    await define_achievement(assessment, tenant, "engines", "engine-quiz", 80)
    await define_achievement(
        assessment, tenant, "canvas-course-21070000000000777", "canvas-assignment-21070000000000355", 90
    )
    moodle = await connect(enrollment, tenant, source_kind="xapi")
    await map_ids(enrollment, tenant, moodle["id"], MOODLE_RULES)
    canvas = await connect(enrollment, tenant, source_kind="canvas")
    await map_ids(enrollment, tenant, canvas["id"], CANVAS_RULES)
    bootstrap = infra.kafka_bootstrap_servers
    topic = str(Topic.LMS_INBOUND)

    async def publish(name: str | bytes, key: str, headers: dict[str, str]) -> None:
        value = name if isinstance(name, bytes) else fixture_bytes(name)
        await produce(bootstrap, topic, value, key=f"{tenant}:{key}", headers=headers)

    xapi = {"ce_type": "io.credstream.lms.xapi.v1", "credstream_connection": moodle["id"]}
    caliper = {"content-type": "application/vnd.credstream.caliper+json", "credstream_connection": canvas["id"]}
    await publish("xapi/moodle_v5_user_enrolment_created.json", "1042", xapi)
    await publish("xapi/moodle_v47_quiz_attempt_submitted.json", "1042", xapi)  # the legacy plugin's shape
    await publish("xapi/moodle_v47_quiz_attempt_submitted.json", "1042", xapi)  # republished: a no-op
    await publish("caliper/canvas_enrollment_created.json", "21070000000020064", caliper)
    await publish("caliper/canvas_grade_change.json", "21070000000020064", caliper)
    # Poison: no connection header; an unknown connection; a statement without an actor identifier.
    await publish("xapi/moodle_v5_user_enrolment_created.json", "poison", {"ce_type": "io.credstream.lms.xapi.v1"})
    await publish("caliper/canvas_grade_change.json", "poison", {**caliper, "credstream_connection": "conn_nope"})
    await publish(b'[{"actor": {}, "verb": {"id": "x"}, "object": {"id": "y"}}]', "poison", xapi)

    for learner, achievement in (("1042", "engines"), ("21070000000020064", "canvas-course-21070000000000777")):
        badge = await badge_for(bootstrap, tenant, learner)
        assert badge.achievement_id == achievement
    expected_reasons = ("credstream_connection header", "conn_nope", "/0/actor")

    def explained(found: list[ConsumerRecord]) -> bool:
        # Other sessions' consumers on a shared broker may dead-letter these records too, with their own words.
        reasons = [header(r, "dlq_reason") or "" for r in found]
        return all(any(text in reason for reason in reasons) for text in expected_reasons)

    await read_topic(
        bootstrap, dead_letter_topic(topic), match=lambda r: r.key == f"{tenant}:poison".encode(), until=explained
    )
    await asyncio.sleep(2)  # let a (wrong) second copy of the republished record arrive if it were coming
    quiz_records = [
        r for r in await read_to_end(bootstrap, str(Topic.ENROLLMENT)) if r.key == f"{tenant}:1042".encode()
    ]
    assert len(quiz_records) == 2  # enrolled + one completed, despite the republished record
    await enrollment.aclose()
    await assessment.aclose()

"""Records on `credstream.lms-inbound.v1` in every format, on the in-process bus (the Kafka run of the same path is
tests/integration/test_lms_formats_on_kafka.py): headers name the format and connection; bad records go to the
dead-letter topic with a precise reason."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.embedded import EmbeddedStack
from shared.contracts import ActivityKind, CloudEvent, EnrollmentRecorded, LmsActivity, Topic, dead_letter_topic
from shared.messaging.records import OutboundRecord
from shared.settings import Settings
from tests.lms_helpers import connect, fixture_bytes, map_ids

TENANT = "acme"
INBOUND = str(Topic.LMS_INBOUND)


@pytest.fixture
async def stack(settings: Settings, tmp_path: Path) -> AsyncIterator[EmbeddedStack]:
    embedded = EmbeddedStack(settings, tmp_path)
    await embedded.start()
    yield embedded
    await embedded.stop()


async def publish(stack: EmbeddedStack, value: bytes, headers: dict[str, str], key: str = "acme:x") -> None:
    await stack.bus.publish([OutboundRecord(INBOUND, key, value, headers)])


def recorded(stack: EmbeddedStack) -> list[EnrollmentRecorded]:
    return [EnrollmentRecorded.model_validate_json(r.value) for r in stack.bus.records(str(Topic.ENROLLMENT))]


def dead_letters(stack: EmbeddedStack) -> list[str]:
    return [r.headers["dlq_reason"] for r in stack.bus.records(dead_letter_topic(INBOUND))]


async def test_every_format_on_the_inbound_topic(stack: EmbeddedStack) -> None:
    enrollment = stack.http("enrollment")
    lti = await connect(enrollment, TENANT, source_kind="lti-ags")
    await map_ids(enrollment, TENANT, lti["id"], [{"lms_id": "li-7", "assessment_id": "essay"}])
    canvas = await connect(enrollment, TENANT, source_kind="canvas")
    await map_ids(
        enrollment,
        TENANT,
        canvas["id"],
        [
            {"match": "prefix", "lms_id": "urn:instructure:canvas:course:", "achievement_id": "course-{suffix}"},
            {"match": "prefix", "lms_id": "urn:instructure:canvas:assignment:", "assessment_id": "a-{suffix}"},
        ],
    )
    xapi = await connect(enrollment, TENANT, source_kind="xapi")
    await map_ids(
        enrollment,
        TENANT,
        xapi["id"],
        [
            {"match": "prefix", "lms_id": "https://moodle.example.edu/course/", "achievement_id": "engines"},
            {"match": "prefix", "lms_id": "https://moodle.example.edu/mod/", "assessment_id": "engine-quiz"},
        ],
    )
    await publish(
        stack,
        fixture_bytes("lti-ags/score_fully_graded.json"),
        {
            "content-type": "application/vnd.ims.lis.v1.score+json",
            "ce_subject": "li-7",
            "credstream_connection": lti["id"],
        },
    )
    canvas_headers = {"ce_type": "io.credstream.lms.canvas.v1", "credstream_connection": canvas["id"]}
    await publish(stack, fixture_bytes("canvas/grade_change.json"), canvas_headers)
    await publish(stack, fixture_bytes("canvas/grade_change.json"), canvas_headers)  # re-published: no effect
    await publish(
        stack,
        fixture_bytes("caliper/canvas_enrollment_created.json"),
        {
            "ce_type": "io.credstream.lms.caliper.v1",
            "ce_id": "c-1",
            "ce_source": "canvas",
            "ce_specversion": "1.0",
            "credstream_connection": canvas["id"],
        },
    )
    await publish(
        stack,
        fixture_bytes("xapi/moodle_v5_quiz_attempt_submitted.json"),
        {"content-type": "application/vnd.credstream.xapi+json", "credstream_connection": xapi["id"]},
    )
    await stack.settle()
    summary = sorted((e.kind, e.learner_id, e.achievement_id, e.assessment_id, e.score) for e in recorded(stack))
    assert summary == [
        ("completed", "1042", None, "engine-quiz", 42.0),
        ("enrolled", "21070000000020064", "course-21070000000000777", None, None),
        ("scored", "21070000000030111", None, "a-21070000000000400", 18.0),
        ("scored", "5323497", None, "essay", 83.0),
    ]
    assert dead_letters(stack) == []


@pytest.mark.parametrize(
    ("value", "headers", "reason"),
    [
        (b"{}", {}, "ce_id"),
        (b"{}", {"ce_type": "com.example.other"}, "not an LMS format"),
        (b"{}", {"ce_type": "io.credstream.lms.xapi.v1"}, "credstream_connection header"),
        (b"{", {"ce_type": "io.credstream.lms.xapi.v1", "credstream_connection": "conn_x"}, "invalid JSON"),
        (b"{}", {"ce_type": "io.credstream.lms.xapi.v1", "credstream_connection": "conn_x"}, "conn_x"),
    ],
)
async def test_undecodable_records_are_dead_lettered(
    stack: EmbeddedStack, value: bytes, headers: dict[str, str], reason: str
) -> None:
    await publish(stack, value, headers)
    [dead] = dead_letters(stack)
    assert reason in dead


async def test_invalid_payloads_and_wrong_formats_are_dead_lettered_with_the_pointer(stack: EmbeddedStack) -> None:
    lti = await connect(stack.http("enrollment"), TENANT, source_kind="lti-ags")
    headers = {"ce_type": "io.credstream.lms.lti-ags-score.v1", "credstream_connection": lti["id"]}
    await publish(stack, b'{"userId": "1"}', {**headers, "ce_subject": "li"})
    await publish(stack, fixture_bytes("lti-ags/score_fully_graded.json"), headers)  # no line item
    await publish(stack, b"[]", {**headers, "ce_type": "io.credstream.lms.xapi.v1"})
    reasons = dead_letters(stack)
    assert "/activityProgress" in reasons[0]
    assert "line item" in reasons[1]
    assert "may not send xapi" in reasons[2]


async def test_one_poll_of_native_and_other_records_is_recorded_once_in_order(stack: EmbeddedStack) -> None:
    lti = await connect(stack.http("enrollment"), TENANT, source_kind="lti-ags")
    await map_ids(stack.http("enrollment"), TENANT, lti["id"], [{"lms_id": "li-7", "assessment_id": "essay"}])

    def native(event_id: str, learner: str, source: str = "lms-a") -> OutboundRecord:
        activity = LmsActivity(
            tenant_id=TENANT,
            learner_id=learner,
            event_id=event_id,
            kind=ActivityKind.ENROLLED,
            achievement_id="python",
            occurred_at=datetime(2026, 11, 29, 10, 0, tzinfo=UTC),
        )
        ce = CloudEvent(id=event_id, source=source, type=LmsActivity.CE_TYPE)
        return OutboundRecord(INBOUND, f"{TENANT}:{learner}", activity.model_dump_json().encode(), ce.to_header_dict())

    lti_headers = {
        "content-type": "application/vnd.ims.lis.v1.score+json",
        "ce_subject": "li-7",
        "credstream_connection": lti["id"],
    }
    lti_score = OutboundRecord(INBOUND, "acme:x", fixture_bytes("lti-ags/score_fully_graded.json"), lti_headers)
    # One publish is one batch: runs of native records are written set-based, the LTI score in its place.
    await stack.bus.publish(
        [native("n1", "ann"), native("n2", "bob"), lti_score, native("n3", "cy", "lms-b"), native("n1", "ann")]
    )
    await stack.settle()
    assert [(e.learner_id, e.source) for e in recorded(stack)] == [
        ("ann", "lms-a"),
        ("bob", "lms-a"),
        ("5323497", f"lms-connection:{lti['id']}"),
        ("cy", "lms-b"),
    ]
    assert dead_letters(stack) == []

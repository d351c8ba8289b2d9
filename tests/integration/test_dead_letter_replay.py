"""`credstream dlq list|show|replay` on real Kafka: selection by topic, reason and offset range, a dry run that sends
nothing, and a replay that the normal consumers process exactly once however often it is repeated."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import RecordMetadata

from services.assessment.admin import define_achievement
from services.assessment.domain import AchievementDefinition
from services.cli import main
from services.runtime import KafkaService
from shared.contracts import BadgeIssued, CloudEvent, LmsActivity, Topic, dead_letter_topic
from shared.db.engine import session_factory, transaction
from tests.helpers import read_to_end, read_topic
from tests.infra import Infrastructure

pytestmark = pytest.mark.integration


async def _send(
    bootstrap: str, topic: str, value: bytes, key: bytes, headers: list[tuple[str, bytes]]
) -> RecordMetadata:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        return await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()


def _dead_letter_headers(original: list[tuple[str, bytes]], topic: str, reason: str) -> list[tuple[str, bytes]]:
    return [
        *original,
        ("dlq_reason", reason.encode()),
        ("dlq_consumer", b"enrollment"),
        ("dlq_consumer_group", b"credstream-enrollment"),
        ("dlq_original_topic", topic.encode()),
        ("dlq_original_partition", b"0"),
        ("dlq_original_offset", b"41"),
    ]


async def _cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, bootstrap: str, *argv: str
) -> list[dict]:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", bootstrap)
    capsys.readouterr()
    # The command runs its own event loop, as it does from a shell.
    assert await asyncio.to_thread(main, ["dlq", *argv]) == 0
    # Services running in this process log to stdout too; the command's own lines are JSON objects.
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


@pytest.fixture
async def scratch_topic(infra: Infrastructure) -> AsyncIterator[str]:
    """A topic of this test alone, with its dead-letter topic, one partition each (offsets are predictable)."""
    name = f"it-dlq-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, 1, 1) for n in (name, dead_letter_topic(name))])
        yield name
        await admin.delete_topics([name, dead_letter_topic(name)])
    finally:
        await admin.close()


async def test_list_show_and_replay_select_by_reason_and_offset(
    scratch_topic: str, infra: Infrastructure, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bootstrap = infra.kafka_bootstrap_servers
    dlq = dead_letter_topic(scratch_topic)
    for n, reason in enumerate(("invalid LmsActivity: learner_id: Field required", "handler failed 3 times", "x")):
        # A header that is not UTF-8 travels as it is, in both directions.
        original = [("ce_id", f"e-{n}".encode()), ("ce_source", b"lms://t"), ("raw", b"\xff\xfe")]
        await _send(
            bootstrap,
            dlq,
            f'{{"n": {n}}}'.encode(),
            f"t:l{n}".encode(),
            _dead_letter_headers(original, scratch_topic, reason),
        )

    listed = await _cli(capsys, monkeypatch, bootstrap, "list", "--topic", scratch_topic)
    assert [(line["offset"], line["ce_id"], line["original_topic"]) for line in listed] == [
        (0, "e-0", scratch_topic),
        (1, "e-1", scratch_topic),
        (2, "e-2", scratch_topic),
    ]
    assert listed[0]["original_offset"] == 41 and listed[0]["consumer"] == "enrollment"
    assert "value" not in listed[0]  # a list never prints the values (personal data)

    by_reason = await _cli(capsys, monkeypatch, bootstrap, "list", "--topic", dlq, "--reason", "HANDLER FAILED")
    assert [line["offset"] for line in by_reason] == [1]
    by_range = await _cli(
        capsys, monkeypatch, bootstrap, "list", "--topic", scratch_topic, "--from-offset", "1", "--to-offset", "2"
    )
    assert [line["offset"] for line in by_range] == [1, 2]

    (shown,) = await _cli(
        capsys, monkeypatch, bootstrap, "show", "--topic", scratch_topic, "--partition", "0", "--offset", "2"
    )
    assert shown["value"] == '{"n": 2}'
    assert shown["headers"]["raw"] == {"base64": "//4="}

    dry = await _cli(
        capsys, monkeypatch, bootstrap, "replay", "--topic", scratch_topic, "--reason", "learner_id", "--dry-run"
    )
    assert [(line["replay_to"], line["ce_id"], line["dry_run"]) for line in dry] == [(scratch_topic, "e-0", True)]
    assert await read_to_end(bootstrap, scratch_topic) == []

    done = await _cli(capsys, monkeypatch, bootstrap, "replay", "--topic", scratch_topic, "--from-offset", "1")
    assert [line["from"] for line in done] == [f"{dlq}/0/1", f"{dlq}/0/2"]
    replayed = await read_to_end(bootstrap, scratch_topic)
    assert [(r.key, r.value) for r in replayed] == [(b"t:l1", b'{"n": 1}'), (b"t:l2", b'{"n": 2}')]
    assert list(replayed[0].headers) == [("ce_id", b"e-1"), ("ce_source", b"lms://t"), ("raw", b"\xff\xfe")]


async def test_a_replayed_record_is_processed_once_through_the_normal_consumers(
    services: dict[str, KafkaService],
    infra: Infrastructure,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A valid activity was dead-lettered (say the database was down); once the cause is fixed the operator replays
    it — twice, by mistake. The learner gets exactly one badge."""
    bootstrap = infra.kafka_bootstrap_servers
    tenant = f"r{uuid.uuid4().hex[:8]}"
    async with transaction(session_factory(services["assessment"].engine)) as session:
        await define_achievement(
            session,
            tenant,
            AchievementDefinition.model_validate(
                {
                    "id": "replay",
                    "name": "Redrive",
                    "description": "Replays dead letters.",
                    "criteria": {
                        "narrative": "Passed.",
                        "required_assessments": [{"assessment_id": "x", "min_score": 50}],
                    },
                }
            ),
        )
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    inbound = str(Topic.LMS_INBOUND)
    offsets: list[RecordMetadata] = []
    for n, activity in enumerate(
        (
            LmsActivity(
                tenant_id=tenant,
                learner_id="ada",
                event_id="r-1",
                kind="enrolled",
                achievement_id="replay",
                occurred_at=t0,
            ),
            LmsActivity(
                tenant_id=tenant,
                learner_id="ada",
                event_id="r-2",
                kind="scored",
                assessment_id="x",
                score=90,
                max_score=100,
                occurred_at=t0 + timedelta(minutes=1),
            ),
        )
    ):
        ce = CloudEvent(id=f"{tenant}-{n}", source="lms://moodle.test", type=LmsActivity.CE_TYPE)
        headers = [(k, v.encode()) for k, v in ce.to_header_dict().items()]
        sent = await _send(
            bootstrap,
            dead_letter_topic(inbound),
            activity.model_dump_json().encode(),
            f"{tenant}:ada".encode(),
            _dead_letter_headers(headers, inbound, "OperationalError: the database system is starting up"),
        )
        offsets.append(sent)

    for _ in range(2):
        replayed = await _cli(
            capsys,
            monkeypatch,
            bootstrap,
            "replay",
            "--topic",
            inbound,
            "--partition",
            str(offsets[0].partition),
            "--from-offset",
            str(offsets[0].offset),
            "--to-offset",
            str(offsets[-1].offset),
        )
        assert [line["ce_id"] for line in replayed] == [f"{tenant}-0", f"{tenant}-1"]

    issued = await read_topic(
        bootstrap,
        str(Topic.BADGE_ISSUED),
        match=lambda r: r.key == f"{tenant}:ada".encode(),
        until=lambda found: len(found) >= 1,
    )
    assert BadgeIssued.model_validate_json(issued[0].value).achievement_id == "replay"
    await asyncio.sleep(3)  # let the second replay go all the way through
    records = await read_to_end(bootstrap, str(Topic.BADGE_ISSUED))
    assert len([r for r in records if r.key == f"{tenant}:ada".encode()]) == 1
    enrolled = await read_to_end(bootstrap, str(Topic.ENROLLMENT))
    assert len([r for r in enrolled if r.key == f"{tenant}:ada".encode()]) == 2

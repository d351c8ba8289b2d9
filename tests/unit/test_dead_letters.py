"""A dead letter is bounded so that it always fits on the broker: one poison record never stalls its partition."""

import hashlib

from aiokafka import ConsumerRecord

from shared.messaging.kafka import header_problem, parse_leniently
from shared.messaging.records import (
    DEAD_LETTER_MAX_ORIGINAL_HEADER_BYTES,
    DEAD_LETTER_MAX_VALUE_BYTES,
    InboundRecord,
    dead_letter_record,
)

TOPIC = "credstream.lms-inbound.v1"


def inbound(value: bytes, headers: dict[str, str] | None = None) -> InboundRecord:
    return InboundRecord(TOPIC, "acme:l1", value, headers or {"ce_id": "1"}, partition=2, offset=41)


def test_a_small_record_is_copied_whole_with_where_and_why() -> None:
    dead = dead_letter_record(inbound(b"{not json"), "Invalid JSON", "enrollment", "g-enrollment")
    assert dead.topic == f"{TOPIC}.dlq"
    assert dead.key == "acme:l1"
    assert dead.value == b"{not json"
    assert dead.headers == {
        "ce_id": "1",
        "dlq_reason": "Invalid JSON",
        "dlq_consumer": "enrollment",
        "dlq_consumer_group": "g-enrollment",
        "dlq_original_topic": TOPIC,
        "dlq_original_partition": "2",
        "dlq_original_offset": "41",
    }


def test_a_value_over_the_bound_is_cut_and_the_copy_says_so() -> None:
    value = b"x" * (DEAD_LETTER_MAX_VALUE_BYTES * 4)
    dead = dead_letter_record(inbound(value), "r" * 10_000, "enrollment")
    assert dead.value == value[:DEAD_LETTER_MAX_VALUE_BYTES]
    assert dead.headers["dlq_value_truncated"] == str(len(value))
    assert dead.headers["dlq_value_sha256"] == hashlib.sha256(value).hexdigest()
    assert len(dead.headers["dlq_reason"]) == 2000


def test_original_headers_are_kept_only_as_far_as_they_fit() -> None:
    big = "h" * (DEAD_LETTER_MAX_ORIGINAL_HEADER_BYTES // 2)
    headers = {"ce_id": "1", "a": big, "b": big, "c": "small"}
    dead = dead_letter_record(inbound(b"{}", headers), "reason", "enrollment")
    assert dead.headers["ce_id"] == "1" and dead.headers["a"] == big
    assert "b" not in dead.headers
    assert dead.headers["dlq_headers_dropped"] == "1"
    assert dead.headers["c"] == "small"
    size = len(dead.value) + sum(len(k.encode()) + len(v.encode()) for k, v in dead.headers.items())
    assert size < DEAD_LETTER_MAX_VALUE_BYTES + DEAD_LETTER_MAX_ORIGINAL_HEADER_BYTES + 4096


def consumer_record(headers: list[tuple[str, bytes | None]]) -> ConsumerRecord:
    return ConsumerRecord(
        topic=TOPIC,
        partition=0,
        offset=7,
        timestamp=0,
        timestamp_type=0,
        key=b"k",
        value=b"{}",
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=2,
        headers=headers,  # type: ignore[arg-type]
    )


async def test_headers_that_are_not_utf8_are_parsed_leniently_and_named() -> None:
    record = consumer_record([("ce_id", b"1"), ("x-trace", b"\xff\xfe"), ("empty", None)])
    seen = []

    async def parse(received: ConsumerRecord) -> object:
        seen.append(received)
        return type("Message", (), {"raw_message": received, "headers": dict(received.headers)})()

    message = await parse_leniently(record, parse)
    assert dict(seen[0].headers) == {"ce_id": b"1", "x-trace": "\ufffd\ufffd".encode(), "empty": b""}
    assert message.raw_message is record  # type: ignore[attr-defined]
    assert header_problem(record) == "header(s) not UTF-8: 'x-trace'"
    assert header_problem(consumer_record([("ce_id", b"1"), ("empty", None)])) is None


async def test_a_batch_is_parsed_leniently_record_by_record() -> None:
    good, bad = consumer_record([("ce_id", b"1")]), consumer_record([("x-trace", b"\xff")])

    async def parse(received: tuple[ConsumerRecord, ...]) -> object:
        return type("Message", (), {"raw_message": received, "headers": [dict(r.headers) for r in received]})()

    message = await parse_leniently((good, bad), parse)
    assert message.headers == [{"ce_id": b"1"}, {"x-trace": "\ufffd".encode()}]  # type: ignore[attr-defined]
    assert message.records_as_received == (good, bad)  # type: ignore[attr-defined]
    assert [header_problem(r) for r in message.records_as_received] == [None, "header(s) not UTF-8: 'x-trace'"]  # type: ignore[attr-defined]

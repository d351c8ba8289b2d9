"""Transport-neutral records and the publisher port both transports implement."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from shared import tracing
from shared.contracts import CloudEvent, MissingCloudEventAttribute, TopicEvent, dead_letter_topic

E = TypeVar("E", bound=BaseModel)


class PoisonRecord(Exception):
    """A record that can never be processed as it is; it goes to the dead-letter topic with this reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class OutboundRecord:
    topic: str
    key: str
    value: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class InboundRecord:
    topic: str
    key: str | None
    value: bytes
    headers: dict[str, str]
    partition: int = 0
    offset: int = 0


class RecordPublisher(Protocol):
    """Publishes records durably: when `publish` returns, every record is acknowledged by the transport."""

    async def publish(self, records: Sequence[OutboundRecord]) -> None: ...


def event_record(event: TopicEvent, ce: CloudEvent) -> OutboundRecord:
    """The record announcing `event`; its headers carry the trace it continues (so an outbox row stores it)."""
    key = event.key()
    return OutboundRecord(
        topic=str(event.TOPIC),
        key=key,
        value=event.model_dump_json().encode(),
        headers=tracing.continued(ce, key).to_header_dict(),
    )


def describe_validation_error(error: ValidationError) -> str:
    """A short, precise reason: which field, what is wrong (no input values, they may hold personal data)."""
    parts = []
    for item in error.errors(include_input=False, include_url=False)[:10]:
        location = ".".join(str(part) for part in item["loc"]) or "(body)"
        parts.append(f"{location}: {item['msg']}")
    return "; ".join(parts)


def decode_event(contract: type[E], value: bytes) -> E:
    """Parse a record value into its contract, or raise PoisonRecord saying exactly why not."""
    try:
        return contract.model_validate_json(value)
    except ValidationError as error:
        raise PoisonRecord(f"invalid {contract.__name__}: {describe_validation_error(error)}") from error


def decode_cloud_event(headers: Mapping[str, str], expected_type: str | None = None) -> CloudEvent:
    try:
        ce = CloudEvent.from_headers(headers)
    except (MissingCloudEventAttribute, ValidationError) as error:
        raise PoisonRecord(str(error)) from error
    if expected_type and ce.type != expected_type:
        raise PoisonRecord(f"unexpected ce_type {ce.type!r}, expected {expected_type!r}")
    return ce


# A dead letter must always fit under the broker's message.max.bytes (1 MiB by default), or publishing it fails and
# the poison record is redelivered forever, stalling its partition: the copy's value and the original headers it
# carries are bounded. The original stays on its topic at dlq_original_partition/offset (until retention).
DEAD_LETTER_MAX_VALUE_BYTES = 256 * 1024
DEAD_LETTER_MAX_ORIGINAL_HEADER_BYTES = 64 * 1024
DEAD_LETTER_MAX_REASON_CHARS = 2000


def dead_letter_headers(record: InboundRecord, reason: str, consumer: str, group: str | None = None) -> dict[str, str]:
    """As many of the original headers as fit, plus why and where the record failed (and which consumer group
    gave up on it)."""
    kept: dict[str, str] = {}
    size = dropped = 0
    for name, value in record.headers.items():
        cost = len(name.encode()) + len(value.encode())
        if size + cost > DEAD_LETTER_MAX_ORIGINAL_HEADER_BYTES:
            dropped += 1
        else:
            kept[name] = value
            size += cost
    extra = {"dlq_headers_dropped": str(dropped)} if dropped else {}
    return {
        **kept,
        **extra,
        "dlq_reason": reason[:DEAD_LETTER_MAX_REASON_CHARS],
        "dlq_consumer": consumer,
        "dlq_consumer_group": group or consumer,
        "dlq_original_topic": record.topic,
        "dlq_original_partition": str(record.partition),
        "dlq_original_offset": str(record.offset),
    }


def dead_letter_record(record: InboundRecord, reason: str, consumer: str, group: str | None = None) -> OutboundRecord:
    """The copy of a poison record for `<topic>.dlq`, bounded in size. A value over DEAD_LETTER_MAX_VALUE_BYTES is
    cut there, and `dlq_value_truncated` gives the original length and `dlq_value_sha256` its digest (to recognise
    the original when it is read back from its topic for a replay)."""
    headers = dead_letter_headers(record, reason, consumer, group)
    value = record.value
    if len(value) > DEAD_LETTER_MAX_VALUE_BYTES:
        headers["dlq_value_truncated"] = str(len(value))
        headers["dlq_value_sha256"] = hashlib.sha256(value).hexdigest()
        value = value[:DEAD_LETTER_MAX_VALUE_BYTES]
    return OutboundRecord(dead_letter_topic(record.topic), record.key or "", value, headers)


def headers_json(headers: Mapping[str, str]) -> str:
    return json.dumps(dict(headers), sort_keys=True)

"""Dead letters an operator can see and replay: read `<topic>.dlq` topics, select records by topic, reason and
offset range, and republish the original record (value, key, original headers without the `dlq_*` ones) to the
topic it came from. Replay is idempotent because every consumer skips an event it already processed (by CloudEvents
source + id), and a dead-lettered record was never recorded as processed.

Selection and the replayed form are pure; reading and publishing are the two I/O edges.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from shared.contracts import Topic, dead_letter_topic

DLQ_HEADER_PREFIX = "dlq_"
_DLQ_SUFFIX = dead_letter_topic("")

Headers = tuple[tuple[str, bytes], ...]


@dataclass(frozen=True)
class DeadLetter:
    """One record of a dead-letter topic, as stored: where it sits in the DLQ, and what it was."""

    topic: str  # the dead-letter topic
    partition: int
    offset: int
    timestamp: datetime
    key: bytes | None
    value: bytes
    headers: Headers

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value.decode(errors="replace")
        return None

    @property
    def original_topic(self) -> str:
        return self.header("dlq_original_topic") or self.topic.removesuffix(_DLQ_SUFFIX)

    @property
    def reason(self) -> str:
        return self.header("dlq_reason") or ""

    @property
    def truncated(self) -> bool:
        """The DLQ holds only a cut copy of this record (it was too big to dead-letter whole): never replay it."""
        return self.header("dlq_value_truncated") is not None

    @property
    def original_headers(self) -> Headers:
        """The headers the record had before it was dead-lettered (raw bytes: a header need not be UTF-8)."""
        return tuple((k, v) for k, v in self.headers if not k.startswith(DLQ_HEADER_PREFIX))

    def summary(self) -> dict[str, Any]:
        """What `dlq list` prints: where, why, and which event; never the value (it may hold personal data)."""
        return {
            "dlq_topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "dead_lettered_at": self.timestamp.isoformat(),
            "original_topic": self.original_topic,
            "original_partition": _int_or_none(self.header("dlq_original_partition")),
            "original_offset": _int_or_none(self.header("dlq_original_offset")),
            "consumer": self.header("dlq_consumer"),
            "consumer_group": self.header("dlq_consumer_group"),
            "reason": self.reason,
            "key": _text(self.key),
            "ce_id": self.header("ce_id"),
            "ce_type": self.header("ce_type"),
            "value_bytes": len(self.value),
        }

    def detail(self) -> dict[str, Any]:
        """What `dlq show` prints: the summary plus every header and the value (text when UTF-8, else base64)."""
        return {
            **self.summary(),
            "headers": {k: _text(v) for k, v in self.headers},
            "value": _text(self.value),
        }


@dataclass(frozen=True)
class Selection:
    """Which dead letters an operator means. Offsets are the dead-letter topic's (as `dlq list` prints them),
    inclusive; `reason` matches a case-insensitive substring of `dlq_reason`."""

    topics: tuple[str, ...] = ()
    reason: str | None = None
    partition: int | None = None
    from_offset: int | None = None
    to_offset: int | None = None

    def dead_letter_topics(self) -> list[str]:
        """The DLQ topics to read: the given ones (original or `.dlq` names), else every credstream DLQ."""
        names = self.topics or tuple(str(topic) for topic in Topic)
        return sorted({name if name.endswith(_DLQ_SUFFIX) else dead_letter_topic(name) for name in names})

    def matches(self, letter: DeadLetter) -> bool:
        if self.partition is not None and letter.partition != self.partition:
            return False
        if self.from_offset is not None and letter.offset < self.from_offset:
            return False
        if self.to_offset is not None and letter.offset > self.to_offset:
            return False
        return self.reason is None or self.reason.lower() in letter.reason.lower()


@dataclass(frozen=True)
class Replay:
    """The original record, rebuilt from a dead letter, ready to go back to its topic."""

    topic: str
    key: bytes | None
    value: bytes
    headers: Headers
    source: DeadLetter

    def describe(self) -> dict[str, Any]:
        return {
            "replay_to": self.topic,
            "from": f"{self.source.topic}/{self.source.partition}/{self.source.offset}",
            "key": _text(self.key),
            "ce_id": self.source.header("ce_id"),
            "reason": self.source.reason,
        }


def replays(letters: Iterable[DeadLetter]) -> list[Replay]:
    """Each dead letter as the record it was: same value, key and headers (minus `dlq_*`), to its original topic.
    Truncated copies are left out: replaying them would publish a different (cut) record; `unreplayable` lists them."""
    return [
        Replay(letter.original_topic, letter.key, letter.value, letter.original_headers, letter)
        for letter in letters
        if not letter.truncated
    ]


def unreplayable(letters: Iterable[DeadLetter]) -> list[DeadLetter]:
    """Dead letters whose original record is not in the DLQ (truncated copies): the LMS must send them again."""
    return [letter for letter in letters if letter.truncated]


async def read_dead_letters(bootstrap_servers: str, selection: Selection) -> list[DeadLetter]:
    """Every dead letter `selection` picks, in (topic, partition, offset) order: reads each DLQ topic up to its end
    offsets at the time of the call, outside any consumer group (nothing is committed)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False, client_id="credstream-dlq"
    )
    await consumer.start()
    try:
        found: list[DeadLetter] = []
        for topic in selection.dead_letter_topics():
            found.extend(await _read_topic(consumer, topic, selection))
        return found
    finally:
        await consumer.stop()


async def _read_topic(consumer: AIOKafkaConsumer, topic: str, selection: Selection) -> list[DeadLetter]:
    partitions = await _partitions(consumer, topic)
    if selection.partition is not None:
        partitions = [tp for tp in partitions if tp.partition == selection.partition]
    if not partitions:
        return []
    consumer.assign(partitions)
    starts = await consumer.beginning_offsets(partitions)
    ends = await consumer.end_offsets(partitions)
    pending = {tp for tp in partitions if ends[tp] > max(starts[tp], selection.from_offset or 0)}
    for tp in pending:
        consumer.seek(tp, max(starts[tp], selection.from_offset or 0))
    found: list[DeadLetter] = []
    while pending:
        batches = await consumer.getmany(*pending, timeout_ms=1000)
        for records in batches.values():
            found.extend(letter for letter in (_dead_letter(record) for record in records) if selection.matches(letter))
        for tp in list(pending):
            position = await consumer.position(tp)
            if position >= ends[tp] or (selection.to_offset is not None and position > selection.to_offset):
                pending.discard(tp)
    return sorted(found, key=lambda letter: (letter.partition, letter.offset))


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    known = consumer.partitions_for_topic(topic)
    if known is None:
        await consumer._client.force_metadata_update()  # aiokafka has no public refresh
        known = consumer.partitions_for_topic(topic)
    return [TopicPartition(topic, partition) for partition in sorted(known or ())]


def _dead_letter(record: Any) -> DeadLetter:
    return DeadLetter(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        timestamp=datetime.fromtimestamp(record.timestamp / 1000, UTC),
        key=record.key,
        value=record.value or b"",
        headers=tuple((key, bytes(value or b"")) for key, value in record.headers or ()),
    )


async def republish(bootstrap_servers: str, records: Sequence[Replay]) -> None:
    """Send each record back to its topic with an idempotent producer (acks=all); returns once all are durable."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers, enable_idempotence=True, acks="all", client_id="credstream-dlq"
    )
    await producer.start()
    try:
        pending = [
            await producer.send(record.topic, record.value, key=record.key, headers=list(record.headers))
            for record in records
        ]
        for delivery in pending:
            await delivery
    finally:
        await producer.stop()


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def _text(value: bytes | None) -> str | dict[str, str] | None:
    """Bytes for JSON output: the text when it is UTF-8, else {"base64": ...} so nothing is mangled."""
    if value is None:
        return None
    try:
        return value.decode()
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(value).decode()}

"""Kafka batch subscribers on FastStream: a poll's records (up to `max_records`, several partitions) go through a
BatchConsumer in one transaction; offsets are committed after it commits and its dead letters are published.

On an outage the handler raises: the broker middleware pauses, FastStream seeks every partition of the batch back
to its first record (nack) and the batch is redelivered; nothing is committed past an unprocessed record.
"""

import asyncio
from itertools import chain
from typing import Any

import structlog
from aiokafka import ConsumerRecord
from faststream import Context
from faststream.kafka import KafkaBroker
from faststream.kafka.message import KafkaMessage
from faststream.middlewares import AckPolicy

from shared import metrics
from shared.messaging.batch import BatchConsumer, DeadLetter
from shared.messaging.kafka import FETCH_MAX_WAIT_MS, header_problem
from shared.messaging.records import InboundRecord, RecordPublisher, dead_letter_record

log = structlog.get_logger(__name__)

MAX_RECORDS = 500
# How long a poll waits for the first record; it returns as soon as any are fetched, so this costs no latency.
POLL_TIMEOUT_MS = 1000
# A poll with fewer records than this is "small": the consumer lingers for more (see poll_with_linger).
SMALL_POLL = 32
LINGER_MS = 100


def inbound_record(raw: ConsumerRecord[Any, Any]) -> InboundRecord:
    key = raw.key.decode(errors="replace") if isinstance(raw.key, bytes) else raw.key
    headers = {name: value.decode(errors="replace") for name, value in raw.headers}
    return InboundRecord(raw.topic, key, raw.value, headers, raw.partition, raw.offset)


async def _raw_bodies(message: Any) -> list[bytes]:
    # The consumer decodes and validates each record itself: one bad record must not fail the whole poll.
    return [bytes(raw.value) for raw in message.raw_message]


async def publish_dead_letters(publisher: RecordPublisher, dead: list[DeadLetter], consumer: str, group: str) -> None:
    await publisher.publish([dead_letter_record(d.record, d.reason, consumer, group) for d in dead])
    for d in dead:
        metrics.dead_lettered(consumer, d.record.topic)
        log.error(
            "consumer.dead_lettered",
            topic=d.record.topic,
            partition=d.record.partition,
            offset=d.record.offset,
            consumer=consumer,
            reason=d.reason,
        )


def batch_description(consumer: BatchConsumer[Any], max_records: int = MAX_RECORDS) -> str:
    """What the AsyncAPI document says of a batch subscriber: its contract, and how it is consumed."""
    return (
        f"{(consumer.contract.__doc__ or '').strip()} Consumed in batches (each record holds one event; the payload "
        f"here lists a poll's records): up to {max_records} records, from several partitions, in one database "
        f"transaction, offsets committed after it commits; a record that fails alone is dead-lettered to "
        f"`{consumer.topic}.dlq`."
    )


def poll_with_linger(subscriber: Any, *, linger_ms: int, max_records: int, small: int = SMALL_POLL) -> None:
    """Replace the poll of `subscriber` (a FastStream batch subscriber): wait up to POLL_TIMEOUT_MS for records, and
    after a poll of fewer than `small` records wait `linger_ms` more, then take what arrived meanwhile into the same
    batch.

    When records trickle in (one LMS request per learner), each poll brings one or two and every batch pays its fixed
    costs (a transaction, the claim statement, an offset commit, spans, metrics) for them: most of the CPU per badge.
    A short wait turns those into one batch of several. It costs nothing when idle (an empty poll does not wait) or
    busy (a full poll does not wait). Per partition the records stay in order: the second poll continues where the
    first stopped. Unlike FastStream's own poll, an empty poll is not followed by a pause: the next poll waits for
    records itself and returns as soon as any are fetched, so a record arriving after an idle spell is not held back,
    and an idle consumer wakes once per POLL_TIMEOUT_MS."""

    async def get_msg(kafka_consumer: Any) -> tuple[ConsumerRecord[Any, Any], ...]:
        polled = await kafka_consumer.getmany(timeout_ms=POLL_TIMEOUT_MS, max_records=max_records)
        first = tuple(chain.from_iterable(polled.values()))
        if not first or len(first) >= small or linger_ms <= 0:
            return first
        await asyncio.sleep(linger_ms / 1000)
        more = await kafka_consumer.getmany(timeout_ms=0, max_records=max_records - len(first))
        return first + tuple(chain.from_iterable(more.values()))

    subscriber.get_msg = get_msg


def subscribe_batch(
    broker: KafkaBroker,
    consumer: BatchConsumer[Any],
    *,
    group_id: str,
    dead_letters: RecordPublisher,
    max_records: int = MAX_RECORDS,
    linger_ms: int = LINGER_MS,
) -> None:
    """Register `consumer` on its topic in batches: offsets are committed only after its transaction committed
    and its dead letters are acknowledged."""

    async def on_batch(body: Any, message: KafkaMessage = Context("message")) -> None:
        records, dead = [], []
        # The records as the broker sent them (parse_leniently keeps them when a header was not UTF-8).
        for raw in getattr(message, "records_as_received", None) or message.raw_message:
            problem = header_problem(raw)
            if problem is None:
                records.append(inbound_record(raw))
            else:  # processing it with its headers repaired would act on ids nobody sent
                dead.append(DeadLetter(inbound_record(raw), problem))
        dead += await consumer.handle_records(records)
        if dead:
            await publish_dead_letters(dead_letters, dead, consumer.name, group_id)

    # Documented as the contract (or bytes the consumer dead-letters); the bytes pass validation as they are.
    on_batch.__annotations__["body"] = list[consumer.contract | bytes]  # type: ignore[name-defined]
    subscriber = broker.subscriber(
        str(consumer.topic),
        group_id=group_id,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        title=f"{consumer.name}:{consumer.topic}",
        description=batch_description(consumer, max_records),
        batch=True,
        max_records=max_records,
        batch_timeout_ms=POLL_TIMEOUT_MS,
        decoder=_raw_bodies,
    )
    subscriber(on_batch)
    poll_with_linger(subscriber, linger_ms=linger_ms, max_records=max_records)

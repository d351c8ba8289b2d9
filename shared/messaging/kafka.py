"""Kafka transport on FastStream: typed subscribers, commit-after-durable, dead letters, idempotent producer."""

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import structlog
from aiokafka import ConsumerRecord
from faststream import Context
from faststream._internal.middlewares import BaseMiddleware
from faststream.kafka import KafkaBroker
from faststream.kafka.message import KafkaMessage
from faststream.middlewares import AckPolicy
from pydantic import ValidationError

from shared import metrics
from shared.backoff import Backoff
from shared.messaging.consumer import EventConsumer, is_transient
from shared.messaging.records import (
    InboundRecord,
    OutboundRecord,
    PoisonRecord,
    dead_letter_record,
    decode_cloud_event,
    describe_validation_error,
)

log = structlog.get_logger(__name__)

# A record whose handler hit an outage is redelivered (seek back, no commit) after a pause that grows while the
# outage lasts: 0.5 s, 1 s, 2 s ... capped, so recovery is noticed within seconds and nothing is dropped meanwhile.
REDELIVERY_FIRST_PAUSE_SECONDS = 0.5
REDELIVERY_MAX_PAUSE_SECONDS = 15.0
# How long Kafka holds a consumer's fetch when its partitions have nothing new. It answers as soon as a record
# arrives (fetch.min.bytes is 1), so this adds no latency; it only sets how often an idle consumer asks again
# (aiokafka's default, 500 ms, is 2 requests a second per consumer, each costing the service and Kafka CPU).
FETCH_MAX_WAIT_MS = 2000


def create_broker(bootstrap_servers: str, *, client_id: str, middlewares: Sequence[Any] = ()) -> KafkaBroker:
    """A broker whose producer is idempotent with acks=all: a record is durable once `publish` returns."""
    return KafkaBroker(
        bootstrap_servers,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        # The outbox relay sends hundreds of records at once: let them share produce requests.
        linger_ms=5,
        max_batch_size=256 * 1024,
        middlewares=middlewares,
        parser=parse_leniently,
        logger=structlog.get_logger("faststream"),
        # "Received" / "Processed" for every record: DEBUG, or they would outnumber every other line at INFO.
        log_level=logging.DEBUG,
    )


class KafkaRecordPublisher:
    """RecordPublisher on a FastStream broker: sends a batch, then waits for every acknowledgement."""

    def __init__(self, broker: KafkaBroker) -> None:
        self._broker = broker

    async def publish(self, records: Sequence[OutboundRecord]) -> None:
        pending = [
            await self._broker.publish(
                record.value,
                topic=record.topic,
                key=record.key.encode(),
                headers=record.headers,
                no_confirm=True,
            )
            for record in records
        ]
        await asyncio.gather(*pending)


def _inbound(message: Any) -> InboundRecord:
    raw = message.raw_message
    key = raw.key.decode(errors="replace") if isinstance(raw.key, bytes) else raw.key
    return InboundRecord(
        topic=raw.topic,
        key=key,
        value=message.body,
        headers=dict(message.headers),
        partition=raw.partition,
        offset=raw.offset,
    )


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode()
    except UnicodeDecodeError:
        return False
    return True


def _leniently_decodable(record: ConsumerRecord) -> ConsumerRecord:
    headers = [(name, (value or b"").decode(errors="replace").encode()) for name, value in record.headers]
    return dataclasses.replace(record, headers=headers)


async def parse_leniently(
    received: ConsumerRecord | tuple[ConsumerRecord, ...], parse: Callable[[Any], Awaitable[Any]]
) -> Any:
    """FastStream decodes every header as strict UTF-8 before any middleware runs, so one bad header would fail the
    record outside the dead-letter middleware, redelivery after redelivery. Parse a copy with the bad bytes
    replaced (U+FFFD) instead, and keep the record as received as `raw_message`: the middleware sees what was wrong
    with it and dead-letters it.

    A batch subscriber receives a tuple of records, which FastStream parses again when it decodes the batch: its
    `raw_message` stays the lenient copies, and `records_as_received` holds the originals (for `header_problem`).
    """
    records: tuple[ConsumerRecord, ...] = received if isinstance(received, tuple) else (received,)
    if all(value is not None and _is_utf8(value) for record in records for _, value in record.headers):
        return await parse(received)
    lenient = tuple(_leniently_decodable(record) for record in records)
    if isinstance(received, tuple):
        message = await parse(lenient)
        message.records_as_received = received
    else:
        message = await parse(lenient[0])
        message.raw_message = received
    return message


def header_problem(record: ConsumerRecord) -> str | None:
    """Why the record's headers make it unprocessable (not UTF-8), if they do."""
    bad = sorted({name for name, value in record.headers if value is not None and not _is_utf8(value)})
    if bad:
        return f"header(s) not UTF-8: {', '.join(repr(name) for name in bad)[:500]}"
    return None


def dead_letter_middleware(
    consumers: Mapping[str, tuple[str, str]], publisher: KafkaRecordPublisher
) -> type[BaseMiddleware]:
    """Broker middleware: undecodable or poison records go to `<topic>.dlq` and are committed, never blocking
    the partition; infrastructure errors pause (capped, jittered back-off per partition for as long as they last),
    then propagate so the record is redelivered, not lost."""
    backoffs: dict[tuple[str, int], Backoff] = {}

    async def _consume_batch(call_next: Any, msg: Any, raw: tuple[ConsumerRecord, ...]) -> Any:
        # A batch subscriber dead-letters its own bad records: any error out of a batch is an outage, redelivered.
        first = raw[0]
        backoff = backoffs.setdefault(
            (first.topic, first.partition), Backoff(REDELIVERY_FIRST_PAUSE_SECONDS, REDELIVERY_MAX_PAUSE_SECONDS)
        )
        try:
            result = await call_next(msg)
        except Exception as error:
            pause = backoff.next_delay()
            log.warning(
                "consumer.batch_redelivered",
                topic=first.topic,
                records=len(raw),
                failures=backoff.failures,
                redelivery_in=round(pause, 2),
                error=repr(error),
            )
            metrics.redelivered(first.topic, len(raw))
            await asyncio.sleep(pause)
            raise
        backoff.reset()
        return result

    class DeadLetterMiddleware(BaseMiddleware):
        async def consume_scope(self, call_next: Any, msg: Any) -> Any:
            raw = msg.raw_message
            if isinstance(raw, tuple):
                return await _consume_batch(call_next, msg, raw)
            backoff = backoffs.setdefault(
                (raw.topic, raw.partition), Backoff(REDELIVERY_FIRST_PAUSE_SECONDS, REDELIVERY_MAX_PAUSE_SECONDS)
            )
            reason = header_problem(raw)
            if reason is None:
                try:
                    result = await call_next(msg)
                except (PoisonRecord, ValidationError) as error:
                    reason = error.reason if isinstance(error, PoisonRecord) else describe_validation_error(error)
                except Exception as error:
                    if is_transient(error):
                        pause = backoff.next_delay()
                        log.warning(
                            "consumer.transient_error",
                            topic=raw.topic,
                            partition=raw.partition,
                            offset=raw.offset,
                            failures=backoff.failures,
                            redelivery_in=round(pause, 2),
                            error=repr(error),
                        )
                        metrics.redelivered(raw.topic)
                        await asyncio.sleep(pause)
                        raise
                    reason = f"{type(error).__name__}: {error}"
                else:
                    backoff.reset()
                    return result
            backoff.reset()
            record = _inbound(msg)
            consumer, group = consumers.get(record.topic, ("unknown", "unknown"))
            await publisher.publish([dead_letter_record(record, reason, consumer, group)])
            metrics.dead_lettered(consumer, record.topic)
            log.error(
                "consumer.dead_lettered",
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                consumer=consumer,
                reason=reason,
            )
            return None

    return DeadLetterMiddleware


async def _raw_body(message: Any) -> bytes:
    return bytes(message.body)


def subscribe(broker: KafkaBroker, consumer: EventConsumer[Any], *, group_id: str) -> None:
    """Register `consumer` on its topic: offsets are committed only after its transaction committed."""

    options: dict[str, Any] = {
        "group_id": group_id,
        "ack_policy": AckPolicy.NACK_ON_ERROR,
        "auto_offset_reset": "earliest",
        "fetch_max_wait_ms": FETCH_MAX_WAIT_MS,
        "title": f"{consumer.name}:{consumer.topic}",
    }
    if consumer.decoder is not None:
        # Several formats on one topic: the consumer decodes each record itself from its headers and bytes, so
        # FastStream must neither JSON-decode nor validate the body.
        async def on_raw_record(body: Any, message: KafkaMessage = Context("message")) -> None:
            await consumer.handle_record(_inbound(message))

        # Documented as the contract or raw bytes (another LMS format); validation lets the bytes through as they are.
        on_raw_record.__annotations__["body"] = consumer.contract | bytes
        on_raw_record.__doc__ = consumer.contract.__doc__
        broker.subscriber(str(consumer.topic), decoder=_raw_body, **options)(on_raw_record)
        return

    async def on_record(body: Any, message: KafkaMessage = Context("message")) -> None:
        ce = decode_cloud_event(message.headers, consumer.contract.CE_TYPE)
        await consumer.process(body, ce)

    # The body's type is the contract: FastStream validates it and documents it in the AsyncAPI schema.
    on_record.__annotations__["body"] = consumer.contract
    on_record.__doc__ = consumer.contract.__doc__
    broker.subscriber(str(consumer.topic), **options)(on_record)

"""Kafka transport on FastStream: typed subscribers, commit-after-durable, dead letters, idempotent producer."""

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from faststream import Context
from faststream._internal.middlewares import BaseMiddleware
from faststream.kafka import KafkaBroker
from faststream.kafka.message import KafkaMessage
from faststream.middlewares import AckPolicy
from pydantic import ValidationError

from shared.contracts import dead_letter_topic
from shared.messaging.consumer import EventConsumer, is_transient
from shared.messaging.records import (
    InboundRecord,
    OutboundRecord,
    PoisonRecord,
    dead_letter_headers,
    decode_cloud_event,
    describe_validation_error,
)

log = structlog.get_logger(__name__)

# A record whose handler hit an infrastructure error is redelivered after this pause (seek back, no commit).
REDELIVERY_PAUSE_SECONDS = 1.0


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
        logger=structlog.get_logger("faststream"),
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


def dead_letter_middleware(
    consumers: Mapping[str, tuple[str, str]], publisher: KafkaRecordPublisher
) -> type[BaseMiddleware]:
    """Broker middleware: undecodable or poison records go to `<topic>.dlq` and are committed, never blocking
    the partition; infrastructure errors pause, then propagate so the record is redelivered, not lost."""

    class DeadLetterMiddleware(BaseMiddleware):
        async def consume_scope(self, call_next: Any, msg: Any) -> Any:
            try:
                return await call_next(msg)
            except (PoisonRecord, ValidationError) as error:
                reason = error.reason if isinstance(error, PoisonRecord) else describe_validation_error(error)
            except Exception as error:
                # A batch subscriber dead-letters its own bad records: any error out of a batch is redelivered.
                if is_transient(error) or isinstance(msg.raw_message, tuple):
                    log.warning("consumer.transient_error", error=repr(error))
                    await asyncio.sleep(REDELIVERY_PAUSE_SECONDS)
                    raise
                reason = f"{type(error).__name__}: {error}"
            record = _inbound(msg)
            consumer, group = consumers.get(record.topic, ("unknown", "unknown"))
            await publisher.publish(
                [
                    OutboundRecord(
                        topic=dead_letter_topic(record.topic),
                        key=record.key or "",
                        value=record.value,
                        headers=dead_letter_headers(record, reason, consumer, group),
                    )
                ]
            )
            log.warning(
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

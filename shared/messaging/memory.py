"""In-process transport for the embedded mode and unit tests: the same records, pipeline and dead letters."""

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from shared.messaging.consumer import EventConsumer
from shared.messaging.records import InboundRecord, OutboundRecord, PoisonRecord, dead_letter_record


class InMemoryBus:
    """Delivers each published record to every subscribed consumer before `publish` returns.

    A consumer's infrastructure error propagates to the publisher (the outbox relay), which keeps the record
    and retries: the same at-least-once contract as Kafka.
    """

    def __init__(self) -> None:
        self._consumers: dict[str, list[EventConsumer[Any]]] = defaultdict(list)
        self._offsets: dict[str, int] = defaultdict(int)
        self.log: dict[str, list[OutboundRecord]] = defaultdict(list)

    def subscribe(self, consumer: EventConsumer[Any]) -> None:
        self._consumers[str(consumer.topic)].append(consumer)

    async def publish(self, records: Sequence[OutboundRecord]) -> None:
        for record in records:
            await self._deliver(record)

    def records(self, topic: str) -> list[OutboundRecord]:
        """Everything published on `topic` so far, in order (what a Kafka subscriber would have read)."""
        return list(self.log[topic])

    async def _deliver(self, record: OutboundRecord) -> None:
        offset = self._offsets[record.topic]
        inbound = InboundRecord(record.topic, record.key, record.value, dict(record.headers), 0, offset)
        for consumer in self._consumers.get(record.topic, []):
            try:
                await consumer.handle_record(inbound)
            except PoisonRecord as poison:
                await self._deliver(dead_letter_record(inbound, poison.reason, consumer.name))
        self.log[record.topic].append(record)
        self._offsets[record.topic] = offset + 1

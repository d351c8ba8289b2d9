"""In-process transport for the embedded mode and unit tests: the same records, pipeline and dead letters."""

from collections import defaultdict
from collections.abc import Sequence

from shared import metrics
from shared.messaging.batch import BatchConsumer, Consumer
from shared.messaging.records import InboundRecord, OutboundRecord, PoisonRecord, dead_letter_record


class InMemoryBus:
    """Delivers each published record to every subscribed consumer before `publish` returns.

    Batch consumers get the records of one `publish` call on their topic as one batch, like a poll returns them.
    A consumer's infrastructure error propagates to the publisher (the outbox relay), which keeps the records
    and retries: the same at-least-once contract as Kafka.
    """

    def __init__(self) -> None:
        self._consumers: dict[str, list[Consumer]] = defaultdict(list)
        self._offsets: dict[str, int] = defaultdict(int)
        self.log: dict[str, list[OutboundRecord]] = defaultdict(list)

    def subscribe(self, consumer: Consumer) -> None:
        self._consumers[str(consumer.topic)].append(consumer)

    async def publish(self, records: Sequence[OutboundRecord]) -> None:
        by_topic: dict[str, list[InboundRecord]] = defaultdict(list)
        for record in records:
            offset = self._offsets[record.topic] + len(by_topic[record.topic])
            by_topic[record.topic].append(
                InboundRecord(record.topic, record.key, record.value, dict(record.headers), 0, offset)
            )
        for topic, batch in by_topic.items():
            for consumer in self._consumers.get(topic, []):
                if isinstance(consumer, BatchConsumer):
                    for dead in await consumer.handle_records(batch):
                        await self._dead_letter(dead.record, dead.reason, consumer.name)
                    continue
                for inbound in batch:
                    try:
                        await consumer.handle_record(inbound)
                    except PoisonRecord as poison:
                        await self._dead_letter(inbound, poison.reason, consumer.name)
        for record in records:
            self.log[record.topic].append(record)
            self._offsets[record.topic] += 1

    def records(self, topic: str) -> list[OutboundRecord]:
        """Everything published on `topic` so far, in order (what a Kafka subscriber would have read)."""
        return list(self.log[topic])

    async def _dead_letter(self, inbound: InboundRecord, reason: str, consumer: str) -> None:
        await self.publish([dead_letter_record(inbound, reason, consumer)])
        metrics.dead_lettered(consumer, inbound.topic)

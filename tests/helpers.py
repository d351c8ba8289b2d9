"""Test helpers: talk to real Kafka as an LMS or an integrator would, and wait for conditions."""

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from shared.messaging.records import OutboundRecord

T = TypeVar("T")


async def produce(bootstrap: str, topic: str, value: bytes, *, key: str, headers: Mapping[str, str | bytes]) -> None:
    """Publish one record; a header given as bytes is sent as is (e.g. to send one that is not UTF-8)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            topic,
            value,
            key=key.encode(),
            headers=[(k, v if isinstance(v, bytes) else v.encode()) for k, v in headers.items()],
        )
    finally:
        await producer.stop()


async def produce_all(bootstrap: str, records: Sequence[OutboundRecord]) -> None:
    """Publish `records` with one idempotent producer, every one sent before any is awaited (so a consumer gets them
    in as few polls as can be)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        sent = [
            await producer.send(
                r.topic, r.value, key=r.key.encode(), headers=[(k, v.encode()) for k, v in r.headers.items()]
            )
            for r in records
        ]
        for delivery in sent:
            await delivery
    finally:
        await producer.stop()


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    until: Callable[[list[ConsumerRecord]], bool],
    match: Callable[[ConsumerRecord], bool] = lambda _r: True,
    timeout: float = 60.0,
) -> list[ConsumerRecord]:
    """Read `topic` from the beginning (no consumer group) until `until(matching records)` holds."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    found: list[ConsumerRecord] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                found.extend(r for r in records if match(r))
            if until(found):
                return found
        raise TimeoutError(f"{topic}: condition not met in {timeout}s; matching records: {len(found)}")
    finally:
        await consumer.stop()


async def read_to_end(bootstrap: str, topic: str) -> list[ConsumerRecord]:
    """Every record currently in `topic` (up to the end offsets at the time of the call)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: list[ConsumerRecord] = []
        while True:
            positions = {tp: await consumer.position(tp) for tp in ends}
            if all(positions[tp] >= end for tp, end in ends.items()):
                return found
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found.extend(records)
    finally:
        await consumer.stop()


async def eventually(probe: Callable[[], Awaitable[T]], *, timeout: float = 60.0, interval: float = 0.2) -> T:
    """Poll `probe` until it returns a truthy value."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met in {timeout}s")
        await asyncio.sleep(interval)


def header(record: ConsumerRecord, name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return value.decode()
    return None


def consumer_groups(group_prefix: str) -> list[tuple[str, str]]:
    """(consumer group, topic) of every consumer the services run under `group_prefix`."""
    from services.runtime import SERVICES, Wiring, build_service
    from shared.db.engine import create_engine, session_factory
    from shared.messaging.memory import InMemoryBus
    from shared.settings import Settings

    # Nothing connects: the engine is lazy and the bus is in memory; only the consumers' names and topics are read.
    wiring = Wiring(Settings(_env_file=None), session_factory(create_engine("sqlite+aiosqlite://")), InMemoryBus())
    return [
        (f"{group_prefix}-{consumer.name}", str(consumer.topic))
        for name in SERVICES
        for consumer in build_service(name, wiring).consumers
    ]


async def skip_topic_history(bootstrap: str, group_prefix: str, *, keep: Collection[str] = ()) -> None:
    """Commit every consumer group's offsets at the current end of its topic, so that services started next under
    `group_prefix` read only what is published from now on — not every record earlier runs left on a shared broker
    (which grows with every run and eventually outlasts any timeout). Groups in `keep` still start from the
    beginning (e.g. a new replica rebuilding its state from a compacted topic)."""
    for group, topic in consumer_groups(group_prefix):
        if group in keep:
            continue
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
        await consumer.start()
        try:
            partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
            if not partitions:
                await consumer._client.force_metadata_update()
                partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
            consumer.assign(partitions)
            ends = await consumer.end_offsets(partitions)
            await consumer.commit(ends)
        finally:
            await consumer.stop()


async def end_offsets(bootstrap: str, topic: str) -> dict[TopicPartition, int]:
    """The current end offset of each partition of `topic`."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic)
        return await consumer.end_offsets([TopicPartition(topic, p) for p in partitions or ()])
    finally:
        await consumer.stop()


async def rewind_group(bootstrap: str, group: str, offsets: Mapping[TopicPartition, int]) -> None:
    """Commit `offsets` for a consumer group with no running member: what it consumed since is delivered again
    (as after a crash between a batch's transaction and its offset commit)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(dict(offsets))
    finally:
        await consumer.stop()

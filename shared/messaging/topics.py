"""Create credstream's topics (and their dead-letter topics) with explicit partitioning: for operators' init
jobs and for tests, so nothing depends on the broker's auto-create defaults."""

import contextlib

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.contracts import Topic, dead_letter_topic


def all_topics() -> list[str]:
    return [name for topic in Topic for name in (str(topic), dead_letter_topic(str(topic)))]


async def ensure_topics(bootstrap_servers: str, *, partitions: int = 3, replication_factor: int = 1) -> list[str]:
    """Create any missing credstream topic; returns the ones created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="credstream-topics")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in all_topics() if name not in existing]
        if missing:
            # Another replica's init job may win the race: that is fine.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [
                        NewTopic(name, num_partitions=partitions, replication_factor=replication_factor)
                        for name in missing
                    ]
                )
        return missing
    finally:
        await admin.close()

"""Create credstream's topics (and their dead-letter topics) with explicit partitioning: for operators' init
jobs and for tests, so nothing depends on the broker's auto-create defaults."""

import contextlib

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError

from shared.contracts import Topic, dead_letter_topic

# Topics whose records are state rather than history: Kafka keeps the latest record per key forever.
TOPIC_CONFIGS: dict[str, dict[str, str]] = {
    str(Topic.ACHIEVEMENTS): {"cleanup.policy": "compact"},
}


# Room for six consumers per group (replicas beyond a topic's partition count sit idle). Records are keyed
# `tenant:learner`, so each learner's events stay in order whatever the count; raise it before traffic, not after
# (adding partitions moves keys).
DEFAULT_PARTITIONS = 6


def all_topics() -> list[str]:
    return [name for topic in Topic for name in (str(topic), dead_letter_topic(str(topic)))]


async def ensure_topics(
    bootstrap_servers: str, *, partitions: int = DEFAULT_PARTITIONS, replication_factor: int = 1
) -> list[str]:
    """Create any missing credstream topic; returns the ones created. An existing topic whose required
    configuration differs (e.g. auto-created before `create-topics` ran) gets that configuration set."""
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
                        NewTopic(
                            name,
                            num_partitions=partitions,
                            replication_factor=replication_factor,
                            topic_configs=TOPIC_CONFIGS.get(name, {}),
                        )
                        for name in missing
                    ]
                )
        for name, wanted in TOPIC_CONFIGS.items():
            if name in existing and await _topic_config(admin, name, list(wanted)) != wanted:
                await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, name, wanted)])
        return missing
    finally:
        await admin.close()


async def _topic_config(admin: AIOKafkaAdminClient, name: str, keys: list[str]) -> dict[str, str]:
    responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name, dict.fromkeys(keys))])
    found: dict[str, str] = {}
    for response in responses:
        for resource in response.resources:
            for entry in resource[4]:  # (name, value, read_only, is_default, is_sensitive[, synonyms])
                found[entry[0]] = entry[1]
    return found

"""All four services on real Kafka + PostgreSQL in the test process, each with its own consumer groups and
connections, as `credstream serve` would run them (minus the HTTP servers)."""

import uuid
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from typing import Any

from services.embedded import IssuerDocuments
from services.runtime import SERVICES, KafkaService
from services.verifier.verification import build_fetcher
from shared.messaging.topics import ensure_topics
from shared.settings import Settings
from tests.helpers import skip_topic_history
from tests.infra import Infrastructure


def kafka_settings(settings: Settings, infra: Infrastructure, database_url: str, **changes: Any) -> Settings:
    """`settings` pointed at the real broker and a test database, under consumer groups unique to this test."""
    return settings.model_copy(
        update={
            "database_url": database_url,
            "kafka_bootstrap_servers": infra.kafka_bootstrap_servers,
            "consumer_group_prefix": f"it-{uuid.uuid4().hex[:8]}",
            **changes,
        }
    )


@asynccontextmanager
async def kafka_services(
    config: Settings, *, keep_history: Collection[str] = ()
) -> AsyncIterator[dict[str, KafkaService]]:
    """Start the four services; their consumer groups begin at the topics' current ends (a shared broker holds
    every earlier run's records), except the groups in `keep_history`."""
    await ensure_topics(config.kafka_bootstrap_servers)
    await skip_topic_history(config.kafka_bootstrap_servers, config.consumer_group_prefix, keep=keep_history)
    running = {name: KafkaService(name, config) for name in SERVICES if name != "verifier"}
    # Badges name a status list on the issuer's public URL, which no socket serves here: the verifier asks the
    # issuer's app in-process (as the embedded mode does).
    issuer_documents = IssuerDocuments(running["issuer"].parts.http, config.issuer_url(), build_fetcher(config))
    running["verifier"] = KafkaService("verifier", config, document_fetcher=issuer_documents)
    for service in running.values():
        await service.start()
    try:
        yield running
    finally:
        for service in running.values():
            await service.stop()

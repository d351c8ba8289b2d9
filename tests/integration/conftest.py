"""Fixtures the integration tests share."""

from collections.abc import AsyncIterator

import pytest

from services.runtime import KafkaService
from shared.settings import Settings
from tests.infra import Infrastructure
from tests.kafka_stack import kafka_services, kafka_settings


@pytest.fixture
async def services(
    settings: Settings, infra: Infrastructure, postgres_url: str
) -> AsyncIterator[dict[str, KafkaService]]:
    """The four services on the real broker and a fresh database (modules that need other settings override it)."""
    async with kafka_services(kafka_settings(settings, infra, postgres_url)) as running:
        yield running

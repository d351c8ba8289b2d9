"""Shared fixtures. Real Kafka and PostgreSQL come from tests/infra.py, started once per session on demand."""

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from shared.db.scratch import create_database, drop_database
from shared.settings import Settings
from tests.infra import Infrastructure, provide


@pytest.fixture(scope="session")
def infra() -> Iterator[Infrastructure]:
    infrastructure = provide()
    if infrastructure.owned:
        asyncio.run(_reset_topics(infrastructure.kafka_bootstrap_servers))
    else:
        # A shared broker is never reset; only topics missing from it are created (e.g. a newly added one, which
        # auto-creation would otherwise make without its configuration, such as compaction).
        from shared.messaging.topics import ensure_topics

        asyncio.run(ensure_topics(infrastructure.kafka_bootstrap_servers))
    yield infrastructure


async def _reset_topics(bootstrap: str) -> None:
    """A broker the tests started may hold earlier sessions' records: start each session from empty topics."""
    from aiokafka.admin import AIOKafkaAdminClient

    from shared.messaging.topics import all_topics, ensure_topics

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = [name for name in await admin.list_topics() if name in set(all_topics())]
        if existing:
            await admin.delete_topics(existing)
            for _ in range(100):
                if not set(existing) & set(await admin.list_topics()):
                    break
                await asyncio.sleep(0.1)
    finally:
        await admin.close()
    for _ in range(50):
        try:
            await ensure_topics(bootstrap)
            return
        except Exception:
            await asyncio.sleep(0.2)
    await ensure_topics(bootstrap)


@pytest.fixture
async def postgres_url(infra: Infrastructure) -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    url = await create_database(infra.database_url)
    yield url
    await drop_database(infra.database_url, make_url(url).database or "")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def settings() -> Settings:
    """Development settings, isolated from the caller's environment."""
    return Settings(
        _env_file=None,
        DATABASE_URL="sqlite+aiosqlite://",
        CREDSTREAM_LMS_API_KEYS="demo:dev-lms-key,acme:acme-key",
    )


@pytest.fixture
def output_dir() -> Path:
    """Where tests leave artefacts for review (screenshots, credentials)."""
    path = Path(os.environ.get("TEST_OUTPUT_DIR", Path(__file__).resolve().parents[1] / "test-output"))
    path.mkdir(parents=True, exist_ok=True)
    return path

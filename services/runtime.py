"""Composition roots: wire a service's handlers to real adapters (Kafka, PostgreSQL, uvicorn) or to the
in-process ones (embedded mode). Each service module exposes `build(Wiring) -> ServiceParts`."""

import asyncio
import importlib
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
import uvicorn
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db.engine import SessionFactory, create_engine, session_factory
from shared.db.migrations import upgrade
from shared.db.outbox import OutboxRelay
from shared.http import ReadinessCheck
from shared.messaging.consumer import EventConsumer
from shared.messaging.records import RecordPublisher
from shared.settings import Settings

log = structlog.get_logger(__name__)

SERVICES = ("enrollment", "assessment", "issuer", "verifier")
DEFAULT_PORTS = {"enrollment": 8001, "assessment": 8002, "issuer": 8003, "verifier": 8004}


@dataclass
class Wiring:
    """What a service is given: settings, its database, a publisher for its outbox relay, readiness checks."""

    settings: Settings
    sessions: SessionFactory
    publisher: RecordPublisher
    readiness: list[ReadinessCheck] = field(default_factory=list)


@dataclass
class ServiceParts:
    """What a service is made of; the runtime decides which transport and server run them."""

    name: str
    http: FastAPI
    consumers: list[EventConsumer[Any]] = field(default_factory=list)
    relay: OutboxRelay | None = None
    on_start: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


def build_service(name: str, wiring: Wiring) -> ServiceParts:
    if name not in SERVICES:
        raise ValueError(f"unknown service {name!r}; choose one of {', '.join(SERVICES)}")
    module = importlib.import_module(f"services.{name}.entrypoint")
    return module.build(wiring)


def database_check(engine: AsyncEngine) -> ReadinessCheck:
    async def database() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    return database


async def serve(name: str, settings: Settings) -> None:
    """Run one service as its own process: migrate, consume from Kafka, relay its outbox, serve HTTP."""
    from shared.messaging.kafka import KafkaRecordPublisher, create_broker, dead_letter_middleware, subscribe

    engine = create_engine(settings.database_url)
    await upgrade(engine, name)
    sessions = session_factory(engine)

    # The dead-letter middleware needs the publisher, which needs the broker: build the broker in two steps.
    consumer_names: dict[str, str] = {}
    holder: dict[str, KafkaRecordPublisher] = {}

    class _LazyPublisher:
        async def publish(self, records: Any) -> None:
            await holder["publisher"].publish(records)

    broker = create_broker(
        settings.kafka_bootstrap_servers,
        client_id=f"credstream-{name}",
        middlewares=[dead_letter_middleware(consumer_names, _LazyPublisher())],  # type: ignore[arg-type]
    )
    publisher = KafkaRecordPublisher(broker)
    holder["publisher"] = publisher

    async def kafka() -> None:
        if not await broker.ping(timeout=5):
            raise ConnectionError("Kafka does not answer")

    wiring = Wiring(settings, sessions, publisher, readiness=[database_check(engine), kafka])
    parts = build_service(name, wiring)
    for consumer in parts.consumers:
        consumer_names[str(consumer.topic)] = consumer.name
        subscribe(broker, consumer, group_id=f"credstream-{consumer.name}")

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    await broker.start()
    for hook in parts.on_start:
        await hook()
    relay_task = asyncio.create_task(parts.relay.run(stop)) if parts.relay else None
    port = settings.http_port or DEFAULT_PORTS[name]
    server = uvicorn.Server(
        uvicorn.Config(parts.http, host=settings.http_host, port=port, log_config=None, lifespan="off")
    )
    server_task = asyncio.create_task(server.serve())
    log.info("service.started", service=name, http_port=port)
    await stop.wait()
    log.info("service.stopping", service=name)
    # Stop taking HTTP requests, finish in-flight records (the broker commits what is done), flush the outbox.
    server.should_exit = True
    await server_task
    await broker.stop()
    if relay_task:
        await relay_task
        try:
            await parts.relay.drain()  # type: ignore[union-attr]
        except Exception as error:  # noqa: BLE001 - left in the outbox, sent on the next start
            log.warning("outbox.drain_failed", error=repr(error))
    await engine.dispose()
    log.info("service.stopped", service=name)

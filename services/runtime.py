"""Composition roots: wire a service's handlers to real adapters (Kafka, PostgreSQL, uvicorn) or to the
in-process ones (embedded mode). Each service module exposes `build(Wiring) -> ServiceParts`."""

import asyncio
import gc
import importlib
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
import uvicorn
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import metrics
from shared.db.engine import SessionFactory, create_engine, session_factory
from shared.db.migrations import ensure_current
from shared.db.outbox import OutboxRelay
from shared.http import ReadinessCheck
from shared.messaging.batch import BatchConsumer, Consumer
from shared.messaging.records import RecordPublisher
from shared.settings import Settings

log = structlog.get_logger(__name__)

SERVICES = ("enrollment", "assessment", "issuer", "verifier", "webhooks")
DEFAULT_PORTS = {"enrollment": 8001, "assessment": 8002, "issuer": 8003, "verifier": 8004, "webhooks": 8005}


@dataclass
class Wiring:
    """What a service is given: settings, its database, a publisher for its outbox relay, readiness checks."""

    settings: Settings
    sessions: SessionFactory
    publisher: RecordPublisher
    readiness: list[ReadinessCheck] = field(default_factory=list)
    # The verifier's way to fetch issuer documents and status lists; None = over HTTP per settings. An embedded
    # stack may plug an in-process fetcher (e.g. an httpx client on the issuer's ASGI app).
    document_fetcher: Any = None


@dataclass
class ServiceParts:
    """What a service is made of; the runtime decides which transport and server run them."""

    name: str
    http: FastAPI
    consumers: list[Consumer] = field(default_factory=list)
    relay: OutboxRelay | None = None
    on_start: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # Run as soon as the service is told to stop, before in-flight HTTP requests are awaited (so work such as a
    # verification in progress ends now instead of holding up the shutdown).
    on_stop: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # Started in the background once the service answers HTTP; readiness does not wait for them (the work they
    # prepare is done on first use otherwise). A failure is logged, not fatal.
    warm_ups: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


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


class KafkaService:
    """One service on real adapters: PostgreSQL (migrated on start when behind), Kafka consumers, its outbox relay.

    `credstream serve` wraps it with an HTTP server and signal handling; tests run several in one process.
    """

    def __init__(self, name: str, settings: Settings, *, document_fetcher: Any = None) -> None:
        """`document_fetcher`: the verifier's fetcher for issuer documents and status lists (default: HTTP)."""
        from shared.messaging.kafka import (
            KafkaRecordPublisher,
            create_broker,
            dead_letter_middleware,
            subscribe,
        )
        from shared.messaging.kafka_batch import subscribe_batch

        self.name = name
        self.settings = settings
        self.engine = create_engine(settings.database_url)
        consumer_names: dict[str, tuple[str, str]] = {}
        publisher_ref: list[RecordPublisher] = []

        class _DeadLetters:  # the middleware needs the publisher, which needs the broker it is part of
            async def publish(self, records: Any) -> None:
                await publisher_ref[0].publish(records)

        self.broker = create_broker(
            settings.kafka_bootstrap_servers,
            client_id=f"credstream-{name}",
            middlewares=[metrics.kafka_middleware(name), dead_letter_middleware(consumer_names, _DeadLetters())],  # type: ignore[arg-type]
        )
        publisher_ref.append(KafkaRecordPublisher(self.broker))
        wiring = Wiring(
            settings,
            session_factory(self.engine),
            metrics.CountingPublisher(publisher_ref[0]),  # the outbox relay's: counts events (badges) published
            [database_check(self.engine), self._kafka],
            document_fetcher=document_fetcher,
        )
        self.parts = build_service(name, wiring)
        for consumer in self.parts.consumers:
            group = f"{settings.consumer_group_prefix}-{consumer.name}"
            consumer_names[str(consumer.topic)] = (consumer.name, group)
            if isinstance(consumer, BatchConsumer):
                subscribe_batch(
                    self.broker,
                    consumer,
                    group_id=group,
                    dead_letters=publisher_ref[0],
                    linger_ms=settings.consumer_linger_ms,
                )
            else:
                subscribe(self.broker, consumer, group_id=group)
        metrics.watch_service(self.parts.http, relay=self.parts.relay, broker=self.broker, consumers=consumer_names)
        self._stop = asyncio.Event()
        self._relay_task: asyncio.Task[None] | None = None
        self.consumers: asyncio.Task[None] | None = None  # the consumers joining their groups
        self._warm_ups: list[asyncio.Task[None]] = []

    async def _kafka(self) -> None:
        if not await self.broker.ping(timeout=5):
            raise ConnectionError("Kafka does not answer")

    async def start(self, *, wait_for_consumers: bool = True) -> None:
        """Check (or migrate) the schema and connect to Kafka, both at once; run the start hooks and the relay.

        Each consumer's start waits until its group gives it partitions. After a replica died without leaving
        (kill -9, OOM), Kafka holds that rebalance until the dead member's session times out (10 s), so
        `credstream serve` passes `wait_for_consumers=False`: the consumers join in `self.consumers`, in the
        background, and the service answers HTTP meanwhile (see deploy/README.md, "Probes")."""
        await _together(ensure_current(self.engine, self.name), self.broker.connect())
        for hook in self.parts.on_start:
            await hook()
        if self.parts.relay is not None:
            self._relay_task = asyncio.create_task(self.parts.relay.run(self._stop))
        self.consumers = asyncio.create_task(self._start_consumers())
        if wait_for_consumers:
            await self.consumers

    async def _start_consumers(self) -> None:
        began = time.monotonic()
        await self.broker.start()  # connected already: this starts the subscribers
        log.info("service.consuming", service=self.name, seconds=round(time.monotonic() - began, 3))

    def warm_up(self) -> None:
        """Start the service's warm-ups in the background (`serve` does once HTTP answers: not to slow its start)."""
        self._warm_ups = [asyncio.create_task(self._warm_up(work)) for work in self.parts.warm_ups]

    async def _warm_up(self, work: Callable[[], Awaitable[None]]) -> None:
        try:
            await work()
        except Exception as error:
            log.warning("service.warm_up_failed", service=self.name, error=repr(error))

    async def stop_work(self) -> None:
        """Stop work that must not delay shutdown (idempotent)."""
        for task in self._warm_ups:
            task.cancel()
        for hook in self.parts.on_stop:
            await hook()

    async def stop(self) -> None:
        """Finish in-flight records (their offsets are committed), then flush the outbox, then disconnect."""
        await self.stop_work()
        if self.consumers is not None and not self.consumers.done():
            self.consumers.cancel()  # still joining a group: nothing consumed yet, nothing to finish
            await asyncio.wait({self.consumers})
        for subscriber in self.broker.subscribers:
            await subscriber.stop()
        self._stop.set()
        if self._relay_task is not None:
            await self._relay_task
            try:
                await self.parts.relay.drain()  # type: ignore[union-attr]
            except Exception as error:
                log.warning("outbox.drain_failed", service=self.name, error=repr(error))
        await self.broker.stop()
        await self.engine.dispose()


async def _together(*steps: Awaitable[Any]) -> None:
    """Run `steps` concurrently; the first failure cancels the others and is raised as it is."""
    tasks = [asyncio.ensure_future(step) for step in steps]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)
        raise


async def serve(name: str, settings: Settings) -> None:
    """Run one service as its own process until SIGTERM/SIGINT, then shut down gracefully."""
    service = KafkaService(name, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await service.start(wait_for_consumers=False)
    # What start-up made lives as long as the process: out of the collector's sight (see services/cli.py).
    gc.freeze()
    gc.enable()
    consumers = service.consumers
    assert consumers is not None
    # Consumers that cannot start (e.g. a topic missing) end the process, as they did when start() awaited them.
    consumers.add_done_callback(lambda task: task.cancelled() or task.exception() is None or stop.set())
    port = settings.http_port or DEFAULT_PORTS[name]
    server = uvicorn.Server(
        uvicorn.Config(service.parts.http, host=settings.http_host, port=port, log_config=None, lifespan="off")
    )
    server_task = asyncio.create_task(server.serve())
    log.info("service.started", service=name, http_port=port)
    while not server.started and not server_task.done():  # noqa: ASYNC110 - uvicorn offers a flag, not an event
        await asyncio.sleep(0.05)
    service.warm_up()
    stop_task = asyncio.create_task(stop.wait())
    await asyncio.wait({stop_task, server_task}, return_when=asyncio.FIRST_COMPLETED)
    log.info("service.stopping", service=name)
    server.should_exit = True
    await service.stop_work()
    stop_task.cancel()
    await server_task
    await service.stop()
    log.info("service.stopped", service=name)
    if consumers.done() and not consumers.cancelled() and consumers.exception() is not None:
        raise SystemExit(f"{name}: the Kafka consumers could not start: {consumers.exception()!r}")
    if not stop.is_set():
        raise SystemExit(f"{name}: the HTTP server stopped unexpectedly (port {port} in use?)")

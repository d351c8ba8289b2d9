"""Prometheus metrics: what every service counts, and its `/metrics` endpoint.

Definitions live here; the pipeline, the HTTP edges and the use cases call the one-line helpers below. All metrics
go to prometheus-client's default registry (with FastStream's Kafka middleware, which counts every received and
published message per topic). Counting happens in the service's main process: work done in a process pool
(verification, signing) is counted when its result comes back, never inside a worker.

Label values are bounded: topics, consumers, formats, route templates, HTTP statuses, verification codes (a fixed
vocabulary, capped anyway) and tenants (the first `MAX_TENANTS` seen get their own series, the rest count as
"other"). Learner and credential ids are never labels.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest

if TYPE_CHECKING:
    from fastapi import FastAPI
    from faststream.kafka import KafkaBroker

    from shared.credentials.verification import VerificationReport
    from shared.messaging.records import OutboundRecord, RecordPublisher

log = structlog.get_logger(__name__)

MAX_TENANTS = 100
MAX_CODES = 200
OTHER = "other"
# How long /metrics waits for one of its live readings (readiness, outbox, lag) before reporting without it.
REFRESH_TIMEOUT_SECONDS = 3.0
READY_TIMEOUT_SECONDS = 2.5  # within the above, so "not ready" is reported rather than the reading dropped
_CODE = re.compile(r"^[a-z0-9_.-]{1,64}$")
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_BATCH_SIZES = (1, 5, 10, 25, 50, 100, 250, 500, 1000)

RECORDS = Counter(
    "credstream_records",
    "Records a consumer finished with, by outcome: processed, duplicate (seen before) or dead_lettered.",
    ["consumer", "topic", "outcome"],
)
REDELIVERED = Counter(
    "credstream_records_redelivered",
    "Records handed back for redelivery because of an outage (database or broker); not a loss.",
    ["topic"],
)
HANDLER_SECONDS = Histogram(
    "credstream_handler_seconds",
    "Time to process one record (per-record consumers), transaction included.",
    ["consumer", "topic"],
    buckets=_LATENCY_BUCKETS,
)
BATCH_SECONDS = Histogram(
    "credstream_batch_seconds",
    "Time to process one batch (batch consumers), splits and retries included.",
    ["consumer", "topic"],
    buckets=_LATENCY_BUCKETS,
)
BATCH_RECORDS = Histogram(
    "credstream_batch_records",
    "Records per batch handed to a batch consumer.",
    ["consumer", "topic"],
    buckets=_BATCH_SIZES,
)
OUTBOX_DEPTH = Gauge("credstream_outbox_depth", "Events staged in the outbox, not yet published.", ["table"])
OUTBOX_AGE = Gauge(
    "credstream_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox event (0 when empty).", ["table"]
)
PUBLISHED = Counter("credstream_events_published", "Events the outbox relay published, by topic.", ["topic"])
CONSUMER_LAG = Gauge(
    "credstream_consumer_lag",
    "Records on the partition not yet handed to the consumer (high watermark minus position).",
    ["consumer", "topic", "partition"],
)
READY = Gauge("credstream_ready", "1 when every readiness check (database, broker) passes, else 0.")
BADGES_ISSUED = Counter("credstream_badges_issued", "Badges issued (badge-issued events published).", ["tenant"])
BADGES_REVOKED = Counter("credstream_badges_revoked", "Badges revoked (badge-revoked events published).", ["tenant"])
VERIFICATIONS = Counter(
    "credstream_verifications",
    "Verifications answered: verified, not_verified (a check failed or was undetermined), refused (busy, too slow,"
    " stopping, or the credential cannot be processed).",
    ["result"],
)
VERIFICATION_CODES = Counter(
    "credstream_verification_codes",
    "Codes of failed or undetermined checks, and of refusals, per verification.",
    ["code"],
)
LMS_ITEMS = Counter(
    "credstream_lms_items", "LMS items received over HTTP, by format and what became of them.", ["format", "status"]
)
LMS_REFUSED = Counter(
    "credstream_lms_refused",
    "LMS requests refused, by format and HTTP status (401 unauthenticated, 403 format not allowed, 422 invalid"
    " payload, 429 rate limited).",
    ["format", "status"],
)
HTTP_REQUESTS = Counter("credstream_http_requests", "HTTP requests answered.", ["method", "route", "status"])
HTTP_SECONDS = Histogram(
    "credstream_http_request_seconds", "Time to answer an HTTP request.", ["method", "route"], buckets=_LATENCY_BUCKETS
)


class _Bounded:
    """Label values up to `cap` distinct ones; later newcomers are reported as "other"."""

    def __init__(self, cap: int) -> None:
        self._cap = cap
        self._seen: set[str] = set()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        if len(self._seen) >= self._cap:
            return OTHER
        self._seen.add(value)
        return value


_tenant = _Bounded(MAX_TENANTS)
_code = _Bounded(MAX_CODES)


# ---- consumers -------------------------------------------------------------------------------------------------


def record_handled(consumer: str, topic: str, outcome: str, started: float) -> None:
    """A per-record consumer finished with a record (`outcome`: processed or duplicate); `started`: perf_counter."""
    RECORDS.labels(consumer, topic, outcome).inc()
    HANDLER_SECONDS.labels(consumer, topic).observe(time.perf_counter() - started)


def records_committed(consumer: str, topic: str, *, processed: int, duplicate: int) -> None:
    """A batch consumer's transaction committed: `processed` events were new, `duplicate` were seen before."""
    if processed:
        RECORDS.labels(consumer, topic, "processed").inc(processed)
    if duplicate:
        RECORDS.labels(consumer, topic, "duplicate").inc(duplicate)


def batch_handled(consumer: str, topic: str, size: int, started: float) -> None:
    BATCH_SECONDS.labels(consumer, topic).observe(time.perf_counter() - started)
    BATCH_RECORDS.labels(consumer, topic).observe(size)


def dead_lettered(consumer: str, topic: str) -> None:
    RECORDS.labels(consumer, topic, "dead_lettered").inc()


def redelivered(topic: str, records: int = 1) -> None:
    REDELIVERED.labels(topic).inc(records)


# ---- outbox ----------------------------------------------------------------------------------------------------

_BADGE_COUNTERS = {"credstream.badge-issued.v1": BADGES_ISSUED, "credstream.badge-revoked.v1": BADGES_REVOKED}


def published(records: Sequence[OutboundRecord]) -> None:
    """Events the relay published; badge events also count per tenant (records are keyed `tenant:…`)."""
    for record in records:
        PUBLISHED.labels(record.topic).inc()
        badges = _BADGE_COUNTERS.get(record.topic)
        if badges is not None:
            badges.labels(_tenant(record.key.partition(":")[0])).inc()


class CountingPublisher:
    """A RecordPublisher that counts what went out (after the transport acknowledged it)."""

    def __init__(self, publisher: RecordPublisher) -> None:
        self._publisher = publisher

    async def publish(self, records: Sequence[OutboundRecord]) -> None:
        await self._publisher.publish(records)
        published(records)


def outbox_backlog(table: str, depth: int, oldest: datetime | None) -> None:
    OUTBOX_DEPTH.labels(table).set(depth)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)  # SQLite returns naive datetimes; they were written in UTC
    OUTBOX_AGE.labels(table).set(0 if oldest is None else max(0.0, (datetime.now(UTC) - oldest).total_seconds()))


# ---- verification ----------------------------------------------------------------------------------------------


def verification(report: VerificationReport) -> None:
    VERIFICATIONS.labels("verified" if report.verified else "not_verified").inc()
    for code in report.codes():
        VERIFICATION_CODES.labels(_code(code) if _CODE.match(code) else OTHER).inc()


def verification_refused(code: str) -> None:
    VERIFICATIONS.labels("refused").inc()
    VERIFICATION_CODES.labels(_code(code) if _CODE.match(code) else OTHER).inc()


# ---- LMS ingestion ---------------------------------------------------------------------------------------------


def lms_items(fmt: str, statuses: Iterable[str]) -> None:
    """Items of one committed LMS request, by what became of each (accepted, duplicate, unmapped, ignored)."""
    for status in statuses:
        LMS_ITEMS.labels(str(fmt), str(status)).inc()


def lms_refused(fmt: str, status: int) -> None:
    LMS_REFUSED.labels(str(fmt), str(status)).inc()


# ---- HTTP ------------------------------------------------------------------------------------------------------


class HttpMetrics:
    """ASGI middleware: requests by method, route template (never the raw path) and status, and their latency."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers when the app raises before starting a response

        async def send_status(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope.get("method", "")
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_SECONDS.labels(method, route).observe(time.perf_counter() - started)


Refresh = Callable[[], Awaitable[None]]


def install_metrics(app: FastAPI, readiness: Sequence[Callable[[], Awaitable[None]]]) -> None:
    """Count the app's HTTP requests and serve `/metrics`; readings that need I/O (readiness, outbox backlog,
    consumer lag: see `watch_service`) are taken when Prometheus scrapes, each with a timeout."""
    from fastapi import Response

    refreshers: list[Refresh] = []
    app.state.metrics_refreshers = refreshers
    app.add_middleware(HttpMetrics)

    async def ready() -> None:
        async def every_check() -> None:
            for check in readiness:
                await check()

        try:
            await asyncio.wait_for(every_check(), READY_TIMEOUT_SECONDS)
        except Exception:
            READY.set(0)
        else:
            READY.set(1)

    refreshers.append(ready)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        await asyncio.gather(*(_refresh(refresh) for refresh in refreshers))
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


async def _refresh(refresh: Refresh) -> None:
    try:
        await asyncio.wait_for(refresh(), REFRESH_TIMEOUT_SECONDS)
    except Exception as error:  # a reading that fails must not fail the scrape
        log.warning("metrics.refresh_failed", reading=getattr(refresh, "__name__", "?"), error=repr(error))


def watch_service(
    app: FastAPI, *, relay: Any = None, broker: KafkaBroker | None = None, consumers: Mapping[str, tuple[str, str]] = {}
) -> None:
    """Read the outbox backlog (`relay.backlog()`) and the consumers' lag whenever `/metrics` is scraped.

    `consumers`: topic → (consumer name, group), as the runtime subscribed them."""
    refreshers: list[Refresh] = app.state.metrics_refreshers
    if relay is not None:

        async def outbox() -> None:
            outbox_backlog(relay.table_name, *await relay.backlog())

        refreshers.append(outbox)
    if broker is not None:
        reported: set[tuple[str, str, str]] = set()

        async def lag() -> None:
            current: set[tuple[str, str, str]] = set()
            for subscriber in broker.subscribers:
                consumer = getattr(subscriber, "consumer", None)
                if consumer is None:
                    continue
                for partition in consumer.assignment():
                    highwater = consumer.highwater(partition)
                    if highwater is None:
                        continue  # nothing fetched from it yet
                    position = await consumer.position(partition)
                    labels = (
                        consumers.get(partition.topic, ("unknown", ""))[0],
                        partition.topic,
                        str(partition.partition),
                    )
                    CONSUMER_LAG.labels(*labels).set(max(0, highwater - position))
                    current.add(labels)
            # A partition another replica took over is its to report now: summing stale values would double count.
            for labels in reported - current:
                CONSUMER_LAG.remove(*labels)
            reported.clear()
            reported.update(current)

        refreshers.append(lag)


def kafka_middleware(service: str) -> Any:
    """FastStream's Prometheus middleware (received / processed / published messages per topic, their latency)."""
    from faststream.kafka.prometheus import KafkaPrometheusMiddleware

    return KafkaPrometheusMiddleware(registry=REGISTRY, app_name=f"credstream-{service}")

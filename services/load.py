"""`credstream load`: drive a deployment over HTTP as LMSs would, and measure what comes out on Kafka.

Defines its Achievement (and, unless keys are given, its LMS connections) through the admin APIs, posts learners
who enrol and pass at a rate or in a burst, reads `credstream.badge-issued.v1` as an integrator would, and reports
badges/s, LMS 202 → badge-issued latency, consumer lag per topic and — for processes on this machine — CPU per
process, and lock waits in PostgreSQL when given the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.load_probes import (
    CpuMeter,
    LagWatcher,
    ProcessGroups,
    active_groups,
    discover_local,
    sample_lock_waits,
)
from services.load_report import LoadReport, LockWaits
from services.load_traffic import (
    ACHIEVEMENT_ID,
    LmsFormat,
    LmsRequest,
    LoadPlan,
    Sender,
    achievement_definition,
    learners,
    senders,
    xapi_mappings,
)
from shared.contracts import Topic

XAPI_VERSION = "1.0.3"


@dataclass
class LoadTarget:
    """Where the deployment is and how to talk to it."""

    enrollment_urls: tuple[str, ...] = ("http://127.0.0.1:8001",)  # replicas: requests go round robin
    assessment_url: str = "http://127.0.0.1:8002"
    kafka_bootstrap: str = "127.0.0.1:9092"
    admin_token: str = "dev-admin-token"
    lms_keys: dict[str, str] = field(default_factory=dict)  # tenant → API key; others get a connection made
    group_prefix: str = "credstream"  # consumer groups `<prefix>-<consumer>` whose lag is reported
    database_url: str | None = None  # PostgreSQL: lock waits are sampled (and, when local, its CPU read)
    processes: ProcessGroups | None = None  # CPU per process; None: found by port when local


@dataclass
class _Progress:
    total: int
    accepted: int = 0
    badges: int = 0
    lag: dict[str, int] = field(default_factory=dict)

    def line(self, elapsed: float) -> str:
        lag = sum(self.lag.values())
        return (
            f"{elapsed:6.1f}s  accepted {self.accepted}/{self.total} learners  badges {self.badges}/{self.total}"
            f"  lag {lag}"
        )


class BadgeCollector:
    """Reads badge-issued from its end (as of `start`) and notes, per learner of this run, when the badge was
    published (the record's timestamp)."""

    def __init__(self, bootstrap: str, run_id: str) -> None:
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self._prefix = run_id  # the warm-up's learners (`<run_id>w-…`) included
        self.published: dict[str, float] = {}  # learner key → epoch seconds
        self.credentials: dict[str, set[str]] = {}  # learner key → credential ids announced (more than one: a bug)
        self.redelivered = 0  # the same credential announced again (at-least-once publishing: allowed)
        self.changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def offsets(self) -> AIOKafkaConsumer:
        return self._consumer

    async def start(self) -> None:
        await self._consumer.start()
        topic = str(Topic.BADGE_ISSUED)
        partitions = self._consumer.partitions_for_topic(topic)
        if not partitions:
            await self._consumer._client.force_metadata_update()
            partitions = self._consumer.partitions_for_topic(topic) or set()
        if not partitions:
            raise RuntimeError(f"topic {topic} does not exist on {self._consumer._client._bootstrap_servers}")
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        self._consumer.assign(assigned)
        await self._consumer.seek_to_end(*assigned)
        for partition in assigned:  # resolve the end positions now, before anything is posted
            await self._consumer.position(partition)
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            for records in (await self._consumer.getmany(timeout_ms=200, max_records=5000)).values():
                for record in records:
                    key = (record.key or b"").decode(errors="replace")
                    if not key.partition(":")[2].startswith(self._prefix):
                        continue
                    try:
                        credential = str(json.loads(record.value)["credential_id"])
                    except (ValueError, KeyError, TypeError):
                        credential = f"unreadable record at offset {record.offset}"
                    seen = self.credentials.setdefault(key, set())
                    if credential in seen:
                        self.redelivered += 1
                    seen.add(credential)
                    self.published.setdefault(key, record.timestamp / 1000)
                self.changed.set()

    async def wait_for(self, keys: set[str], deadline: float, on_tick: Callable[[], None] | None = None) -> bool:
        while not keys <= self.published.keys():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(remaining, 1.0))
            if on_tick:
                on_tick()
        return True

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()


class LmsClient:
    """Posts requests as the LMS connection of each tenant, honouring 429 Retry-After."""

    def __init__(self, client: httpx.AsyncClient, target: LoadTarget) -> None:
        self._client = client
        self._target = target
        self.keys: dict[str, str] = dict(target.lms_keys)
        self.throttled = 0
        self.refused: list[str] = []
        self._next = 0

    async def prepare(self, plan: LoadPlan, log: Callable[[str], None]) -> None:
        """The Achievement for every tenant, and an LMS connection (with a rate limit that does not throttle the
        generator) for every tenant without a key."""
        admin = {"Authorization": f"Bearer {self._target.admin_token}"}
        enrollment = self._target.enrollment_urls[0]
        for index, tenant in enumerate(plan.tenant_ids):
            response = await self._client.put(
                f"{self._target.assessment_url}/v1/tenants/{tenant}/achievements/{ACHIEVEMENT_ID}",
                json=achievement_definition(),
                headers=admin,
            )
            _expect(response, "define the Achievement")
            if tenant in self.keys:
                continue
            kind = plan.tenant_format(index)
            response = await self._client.post(
                f"{enrollment}/v1/tenants/{tenant}/lms-connections",
                json={
                    "name": f"credstream load {plan.run_id}",
                    "source_kind": str(kind),
                    "rate_limit": {"per_second": 100_000, "burst": 1_000_000},
                },
                headers=admin,
            )
            _expect(response, "create an LMS connection")
            connection = response.json()
            self.keys[tenant] = connection["secret"]
            if kind is LmsFormat.XAPI:
                response = await self._client.put(
                    f"{enrollment}/v1/tenants/{tenant}/lms-connections/{connection['id']}/mappings",
                    json=xapi_mappings(),
                    headers=admin,
                )
                _expect(response, "map the xAPI course and quiz")
        log(f"tenants ready: {', '.join(plan.tenant_ids)}")

    async def post(self, request: LmsRequest) -> bool:
        headers = {"Authorization": f"Bearer {self.keys[request.tenant_id]}"}
        urls = self._target.enrollment_urls
        enrollment, self._next = urls[self._next % len(urls)], self._next + 1
        if request.format is LmsFormat.XAPI:
            url = f"{enrollment}/xapi/statements"
            headers["X-Experience-API-Version"] = XAPI_VERSION
        else:
            url = f"{enrollment}/v1/activities"
        for attempt in range(30):
            try:
                response = await self._client.post(url, json=request.body, headers=headers)
            except httpx.TransportError as error:
                if attempt >= 5:
                    self.refused.append(f"{type(error).__name__}: {error}")
                    return False
                await asyncio.sleep(0.5 * (attempt + 1))
                continue
            if response.is_success:
                return True
            if response.status_code == 429:
                self.throttled += 1
                await asyncio.sleep(float(response.headers.get("retry-after", "1")))
                continue
            if response.status_code >= 500 and attempt < 5:
                await asyncio.sleep(0.5 * (attempt + 1))
                continue
            self.refused.append(f"{response.status_code} {response.text[:300]}")
            return False
        self.refused.append("still throttled after 30 attempts")
        return False


def _expect(response: httpx.Response, what: str) -> None:
    if not response.is_success:
        raise RuntimeError(f"could not {what}: {response.request.method} {response.url} → "
                           f"{response.status_code} {response.text[:500]}")  # fmt: skip


async def _offer(
    plan: LoadPlan, lms: LmsClient, concurrency: int, accepted: dict[str, float], progress: _Progress
) -> None:
    """Post every sender's requests at its planned time, at most `concurrency` requests in flight."""
    slots = asyncio.Semaphore(concurrency)
    start = time.monotonic()

    async def send(sender: Sender) -> None:
        async with slots:
            for request in sender.requests:
                if not await lms.post(request):
                    return
                now = time.time()
                for learner in request.completes:
                    accepted[learner.key] = now
                progress.accepted += len(request.completes)

    tasks = []
    for sender in senders(plan):
        delay = start + sender.at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(sender)))
    await asyncio.gather(*tasks)


async def run_load(
    plan: LoadPlan,
    target: LoadTarget,
    *,
    concurrency: int = 8,
    timeout: float = 120.0,
    warmup: bool = True,
    cpu: bool = True,
    idle_seconds: float = 5.0,
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> LoadReport:
    """Run `plan` against `target`. The measured run (offering, then waiting for the badges) ends after `timeout` s
    at the latest: what is not offered or not issued by then is reported as such."""
    limits = httpx.Limits(max_connections=concurrency + 4, max_keepalive_connections=concurrency + 4)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        lms = LmsClient(client, target)
        await lms.prepare(plan, log)
        collector = BadgeCollector(target.kafka_bootstrap, plan.run_id)
        admin = AIOKafkaAdminClient(bootstrap_servers=target.kafka_bootstrap)
        await collector.start()
        await admin.start()
        try:
            if warmup:
                await _warm_up(plan, lms, collector, log)
            return await _measure(plan, target, lms, collector, admin, concurrency, timeout, cpu, idle_seconds, log)
        finally:
            await collector.stop()
            await admin.close()


async def _warm_up(plan: LoadPlan, lms: LmsClient, collector: BadgeCollector, log: Callable[[str], None]) -> None:
    """One learner per tenant, end to end, before measuring: definitions have reached awarding, connections and
    signing keys exist, caches are warm."""
    warm = LoadPlan(
        learners=plan.tenants,
        tenants=plan.tenants,
        rate=None,
        batch=2,
        formats=plan.formats,
        run_id=f"{plan.run_id}w",
        tenant_prefix=plan.tenant_prefix,
        tenant_names=plan.tenant_names,
    )
    started = time.monotonic()
    await _offer(warm, lms, plan.tenants, {}, _Progress(warm.learners))
    if lms.refused:
        raise RuntimeError(f"the LMS requests of the warm-up were refused: {lms.refused[0]}")
    if not await collector.wait_for({learner.key for learner in learners(warm)}, time.monotonic() + 120):
        raise RuntimeError("warm-up: no badge within 120 s — is every service running and consuming?")
    log(f"warm-up: first badges in {time.monotonic() - started:.1f}s")


async def _measure(
    plan: LoadPlan,
    target: LoadTarget,
    lms: LmsClient,
    collector: BadgeCollector,
    admin: AIOKafkaAdminClient,
    concurrency: int,
    timeout: float,
    cpu: bool,
    idle_seconds: float,
    log: Callable[[str], None],
) -> LoadReport:
    meter = _cpu_meter(target, cpu, log)
    if meter and idle_seconds > 0:
        await meter.measure_idle(idle_seconds)
    lag = LagWatcher(admin, collector.offsets, await active_groups(admin, target.group_prefix))
    waits = LockWaits() if target.database_url and target.database_url.startswith("postgresql") else None
    progress = _Progress(plan.learners)
    accepted: dict[str, float] = {}
    stop = asyncio.Event()
    loadavg_before = _loadavg()
    if meter:
        meter.start()
    started_wall, started = time.time(), time.monotonic()
    watchers = [asyncio.create_task(lag.watch(stop))]
    if waits is not None and target.database_url:
        watchers.append(asyncio.create_task(sample_lock_waits(target.database_url, waits, stop)))
    shown = [0.0]

    def tick() -> None:
        progress.badges = sum(1 for key in accepted if key in collector.published)
        progress.lag = lag.current
        now = time.monotonic()
        if now - shown[0] >= (1.0 if sys.stderr.isatty() else 5.0):
            shown[0] = now
            print(progress.line(now - started), end="\r" if sys.stderr.isatty() else "\n", file=sys.stderr, flush=True)

    async def show() -> None:
        while True:
            tick()
            await asyncio.sleep(1.0)

    shower = asyncio.create_task(show())
    try:
        deadline, offered_all = started + timeout, True
        try:
            await asyncio.wait_for(_offer(plan, lms, concurrency, accepted, progress), timeout)
        except TimeoutError:
            offered_all = False
        offered_wall = time.time()
        drained = await collector.wait_for(set(accepted), deadline, tick) and offered_all
    finally:
        shower.cancel()
        stop.set()
        probes = await asyncio.gather(*watchers, return_exceptions=True)
    cpu_s, cpu_window = meter.stop() if meter else ({}, 0.0)
    tick()
    if sys.stderr.isatty():
        print(file=sys.stderr)
    for error in probes:
        if isinstance(error, Exception):
            log(f"a probe failed: {error!r}")
    final_lag: dict[str, int] = {}
    with contextlib.suppress(Exception):
        final_lag = await lag.read()
    if lms.refused:
        log(f"{len(lms.refused)} requests refused; first: {lms.refused[0]}")
    if lms.throttled:
        log(f"{lms.throttled} requests were throttled (429) and retried")
    published = {key: collector.published[key] for key in accepted if key in collector.published}
    last_badge = max(published.values(), default=time.time())
    return LoadReport(
        plan={**asdict(plan), "formats": [str(f) for f in plan.formats], "concurrency": concurrency},
        learners=plan.learners,
        accepted=len(accepted),
        badges=len(published),
        duplicates=sum(len(collector.credentials[key]) - 1 for key in published),
        redelivered=collector.redelivered,
        rejected_requests=len(lms.refused),
        offering_s=offered_wall - started_wall,
        drain_s=(last_badge - offered_wall) if drained else None,
        elapsed_s=(last_badge if drained else time.time()) - started_wall,
        latencies_s=[max(0.0, published[key] - accepted[key]) for key in published],
        max_lag=lag.highest,
        final_lag=final_lag,
        cpu_s=cpu_s,
        cpu_window_s=cpu_window,
        idle_cpu_per_s=meter.idle_per_s if meter else {},
        lock_waits=waits,
        loadavg_before=loadavg_before,
        loadavg_after=_loadavg(),
    )


def _cpu_meter(target: LoadTarget, cpu: bool, log: Callable[[str], None]) -> CpuMeter | None:
    """CPU readings of the given processes, or of the deployment's processes found on this machine."""
    if not cpu:
        return None
    if importlib.util.find_spec("psutil") is None:
        log("no CPU readings: psutil is not installed (pip install psutil)")
        return None
    processes = target.processes or discover_local(
        {"enrollment": target.enrollment_urls[0], "assessment": target.assessment_url},
        target.kafka_bootstrap,
        target.database_url,
    )
    processes.add("load generator", os.getpid())
    return CpuMeter(processes)


def _loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "unknown"

"""What `credstream load` watches besides the badges: consumer lag per topic (Kafka admin API), CPU seconds per
process when the deployment runs on this machine (psutil), and lock waits in PostgreSQL (pg_locks)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.load_report import LockWaits

LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}


@dataclass
class ProcessGroups:
    """Named groups of processes (a service's replicas, Kafka, PostgreSQL), each counted with its descendants
    (PostgreSQL backends, a signing pool), living or already reaped."""

    pids: dict[str, list[int]] = field(default_factory=dict)

    def add(self, name: str, pid: int) -> None:
        self.pids.setdefault(name, [])
        if pid not in self.pids[name]:
            self.pids[name].append(pid)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds each group has used so far. Per process: user + system + its reaped children's, summed over
        the root and its living descendants, so a child that exits between two readings is neither lost nor
        counted twice (its time moves into the parent's children times). A descendant that is another group's
        root (a service started by the benchmark) counts for that group only."""
        import psutil

        roots = {pid for pids in self.pids.values() for pid in pids}

        def tree(process: psutil.Process) -> list[psutil.Process]:
            found = [process]
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                for child in process.children():
                    if child.pid not in roots:
                        found += tree(child)
            return found

        totals: dict[str, float] = {}
        for name, pids in self.pids.items():
            total = 0.0
            for pid in pids:
                with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                    for process in tree(psutil.Process(pid)):
                        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                            times = process.cpu_times()
                            total += times.user + times.system + times.children_user + times.children_system
            totals[name] = total
        return totals


@dataclass
class CpuMeter:
    """CPU seconds per process group over a run, and what each burns idle (measured just before it)."""

    processes: ProcessGroups
    idle_per_s: dict[str, float] = field(default_factory=dict)
    _before: dict[str, float] = field(default_factory=dict)
    _started: float = 0.0

    async def measure_idle(self, seconds: float) -> None:
        before, started = self.processes.cpu_seconds(), time.monotonic()
        await asyncio.sleep(seconds)
        after, span = self.processes.cpu_seconds(), time.monotonic() - started
        self.idle_per_s = {name: (after[name] - before.get(name, 0.0)) / span for name in after}

    def start(self) -> None:
        self._before, self._started = self.processes.cpu_seconds(), time.monotonic()

    def stop(self) -> tuple[dict[str, float], float]:
        """CPU seconds per group since `start`, and the seconds that spans."""
        after = self.processes.cpu_seconds()
        return {name: after[name] - self._before.get(name, 0.0) for name in after}, time.monotonic() - self._started


def listening_pids(ports: Mapping[str, int]) -> dict[str, int]:
    """name → pid of the process listening on each TCP port on this machine (those found)."""
    import psutil

    by_port: dict[int, int] = {}
    for connection in psutil.net_connections(kind="tcp"):
        if connection.status == psutil.CONN_LISTEN and connection.pid and connection.laddr:
            by_port.setdefault(connection.laddr.port, connection.pid)
    return {name: by_port[port] for name, port in ports.items() if port in by_port}


def local_port(url: str, default: int | None = None) -> int | None:
    """The port of `url` when it points at this machine, else None (a remote deployment: no CPU readings)."""
    parts = urlsplit(url if "//" in url else f"//{url}")
    if (parts.hostname or "") not in LOOPBACK:
        return None
    return parts.port or default


def discover_local(service_urls: Mapping[str, str], kafka_bootstrap: str, database_url: str | None) -> ProcessGroups:
    """The deployment's processes on this machine, found by the ports they listen on: each service URL, the first
    Kafka bootstrap server, the database. Remote ones are left out."""
    ports = {name: port for name, url in service_urls.items() if (port := local_port(url)) is not None}
    if (port := local_port(kafka_bootstrap.split(",")[0], 9092)) is not None:
        ports["kafka"] = port
    if database_url and (port := local_port(database_url.replace("+asyncpg", ""), 5432)) is not None:
        ports["postgresql"] = port
    groups = ProcessGroups()
    for name, pid in listening_pids(ports).items():
        groups.add(name, pid)
    return groups


async def consumer_lag(admin: AIOKafkaAdminClient, offsets: AIOKafkaConsumer, groups: Iterable[str]) -> dict[str, int]:
    """topic → records not yet committed by the groups consuming it (summed over groups and partitions)."""
    committed: dict[TopicPartition, list[int]] = {}
    for group in groups:
        for partition, meta in (await admin.list_consumer_group_offsets(group)).items():
            committed.setdefault(partition, []).append(meta.offset)
    if not committed:
        return {}
    ends = await offsets.end_offsets(list(committed))
    lag: dict[str, int] = {}
    for partition, positions in committed.items():
        behind = sum(max(0, ends[partition] - max(offset, 0)) for offset in positions)
        lag[partition.topic] = lag.get(partition.topic, 0) + behind
    return lag


@dataclass
class LagWatcher:
    """Consumer lag per topic of the deployment's groups, read every second: the latest reading and the highest."""

    admin: AIOKafkaAdminClient
    offsets: AIOKafkaConsumer
    groups: list[str]
    current: dict[str, int] = field(default_factory=dict)
    highest: dict[str, int] = field(default_factory=dict)

    async def read(self) -> dict[str, int]:
        return await consumer_lag(self.admin, self.offsets, self.groups)

    async def watch(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        while not stop.is_set():
            with contextlib.suppress(Exception):  # a lag reading is informative only
                self.current = await self.read()
                for topic, lag in self.current.items():
                    self.highest[topic] = max(self.highest.get(topic, 0), lag)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)


async def active_groups(admin: AIOKafkaAdminClient, prefix: str) -> list[str]:
    """Consumer groups named `<prefix>-…` (the services' groups; give each deployment its own prefix, or a dead
    one's groups show as lag)."""
    return sorted(group for group, _ in await admin.list_consumer_groups() if group.startswith(f"{prefix}-"))


def asyncpg_dsn(database_url: str) -> str:
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def sample_lock_waits(database_url: str, waits: LockWaits, stop: asyncio.Event, interval: float = 0.5) -> None:
    """Every `interval` s until `stop`: lock requests of this database's sessions not granted yet (`pg_locks`),
    by lock type."""
    import asyncpg

    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        while not stop.is_set():
            rows = await connection.fetch(
                "SELECT l.locktype AS kind, count(*) AS n FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                "WHERE NOT l.granted AND a.datname = current_database() GROUP BY l.locktype"
            )
            waits.samples += 1
            waiting = sum(row["n"] for row in rows)
            if waiting:
                waits.samples_waiting += 1
                waits.max_waiting = max(waits.max_waiting, waiting)
                for row in rows:
                    waits.by_kind[row["kind"]] = waits.by_kind.get(row["kind"], 0) + 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
    finally:
        await connection.close()

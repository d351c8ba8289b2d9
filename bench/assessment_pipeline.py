"""SQL statements and CPU per event of the assessment consumer on PostgreSQL: what the service's consumers do with
a stream of `enrolled` + `scored` events (two per badge), its outbox relay running beside them (publishing to
nowhere), no Kafka. A benchmark, not a test: run it by hand against an empty or scratch database.

    .venv/bin/python bench/assessment_pipeline.py --postgres postgresql+asyncpg://…/db [--learners 1000] [--batch 500]

Counts every statement the service's engine sends (a SQLAlchemy `before_cursor_execute` listener, BEGIN/COMMIT
excluded: asyncpg sends those as statements too, so add 2 per transaction), this process's CPU time, and the CPU
time of the PostgreSQL server (its postmaster and children, from /proc). Prints one line with the load average on
stdout; the service's JSON logs go to stderr, as in production (`2>/dev/null`).
"""

import argparse
import asyncio
import os
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

from services.runtime import Wiring, build_service
from shared.contracts import AchievementDefined, AchievementStatus, CloudEvent, EnrollmentRecorded, Topic
from shared.db.engine import create_engine, session_factory
from shared.db.migrations import upgrade
from shared.logs import configure_logging
from shared.messaging.records import InboundRecord, OutboundRecord, event_record
from shared.settings import Settings

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DEFINITION = {
    "id": "bench",
    "name": "Bench",
    "description": "d",
    "criteria": {"narrative": "n", "required_assessments": [{"assessment_id": "quiz", "min_score": 70}]},
}


class Nowhere:
    """The relay's publisher: counts what it was given."""

    def __init__(self) -> None:
        self.records = 0
        self.expected = 0
        self.all_in = asyncio.Event()

    async def publish(self, records: Sequence[OutboundRecord]) -> None:
        self.records += len(records)
        if self.records >= self.expected:
            self.all_in.set()


def inbound(outbound: OutboundRecord, offset: int) -> InboundRecord:
    return InboundRecord(outbound.topic, outbound.key, outbound.value, dict(outbound.headers), 0, offset)


def _stat(pid: int | str) -> list[str]:
    """/proc/<pid>/stat after the command name: [state, ppid, ..., utime (11), stime (12), ...]."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def postgres_cpu_seconds(postmaster: int) -> float:
    """CPU time of this PostgreSQL server: the postmaster and its children (backends, WAL writer, checkpointer)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = _stat(stat.parent.name)
        except (OSError, ValueError):
            continue
        if int(stat.parent.name) == postmaster or int(fields[1]) == postmaster:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def loadavg() -> list[str]:
    return Path("/proc/loadavg").read_text().split()[:3]


def stream(tenant: str, learners: int) -> list[InboundRecord]:
    """What enrollment emits for `learners` learners: each enrols, then scores 90 a minute later."""
    records = []
    for i in range(learners):
        for kind, fields in (("enrolled", {"achievement_id": "bench"}), ("scored", {"assessment_id": "quiz"})):
            extra: dict[str, Any] = {"score": 90, "max_score": 100} if kind == "scored" else {}
            recorded = EnrollmentRecorded(
                tenant_id=tenant,
                learner_id=f"l{i}",
                kind=kind,
                occurred_at=T0 + timedelta(minutes=1 if kind == "scored" else 0),
                source="bench",
                source_event_id=f"{i}-{kind}",
                **fields,
                **extra,
            )
            ce = CloudEvent(id=str(uuid.uuid4()), source="credstream/enrollment", type=EnrollmentRecorded.CE_TYPE)
            records.append(inbound(event_record(recorded, ce), len(records)))
    return records


async def run(url: str, learners: int, batch: int) -> None:
    engine = create_engine(url)
    await upgrade(engine, "assessment")
    async with engine.connect() as connection:
        backend = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    postmaster = int(_stat(backend)[1])
    publisher = Nowhere()
    settings = Settings(_env_file=None)
    parts = build_service("assessment", Wiring(settings, session_factory(engine), publisher))
    consumers = {str(c.topic): c for c in parts.consumers}
    tenant = f"b{uuid.uuid4().hex[:8]}"
    defined = AchievementDefined(
        tenant_id=tenant,
        achievement_id="bench",
        version=1,
        status=AchievementStatus.ACTIVE,
        definition=DEFINITION,
        defined_at=T0,
    )
    ce = CloudEvent(id=str(uuid.uuid4()), source="credstream/assessment", type=AchievementDefined.CE_TYPE)
    definitions = consumers[str(Topic.ACHIEVEMENTS)]
    await definitions.handle_record(inbound(event_record(defined, ce), 0))  # type: ignore[union-attr]
    assert parts.relay is not None
    await parts.relay.drain()
    publisher.records, publisher.expected = 0, learners
    publisher.all_in.clear()

    records = stream(tenant, learners)
    statements = 0

    def count(*_args: object) -> None:
        nonlocal statements
        statements += 1

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    stop = asyncio.Event()
    relay = asyncio.create_task(parts.relay.run(stop))
    consumer = consumers[str(Topic.ENROLLMENT)]
    cpu, pg_cpu, wall = time.process_time(), postgres_cpu_seconds(postmaster), time.perf_counter()
    if hasattr(consumer, "handle_records"):  # a batch consumer
        mode, transactions = f"batches of {batch}", -(-len(records) // batch)
        for start in range(0, len(records), batch):
            await consumer.handle_records(records[start : start + batch])
    else:
        mode, transactions = "one record at a time", len(records)
        for record in records:
            await consumer.handle_record(record)
    await publisher.all_in.wait()
    wall = time.perf_counter() - wall
    cpu, pg_cpu = time.process_time() - cpu, postgres_cpu_seconds(postmaster) - pg_cpu
    stop.set()
    parts.relay.wake()
    await relay
    event.remove(engine.sync_engine, "before_cursor_execute", count)
    await engine.dispose()
    n = len(records)
    load = loadavg()
    print(
        f"assessment consumer, {mode}: {n} events ({learners} badges) in {wall:.2f} s = {n / wall:,.0f} events/s; "
        f"{statements / n:.3f} SQL statements/event (+BEGIN/COMMIT), {statements} in all, "
        f"{statements / transactions:.1f} per batch; CPU/event: consumer {1000 * cpu / n:.3f} ms, "
        f"PostgreSQL {1000 * pg_cpu / n:.3f} ms; awards published {publisher.records}; loadavg {' '.join(load)}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", required=True, help="postgresql+asyncpg://… (scratch database)")
    parser.add_argument("--learners", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    configure_logging("INFO", "json")  # as the service logs (to stdout: send it to /dev/null)
    asyncio.run(run(args.postgres, args.learners, args.batch))


if __name__ == "__main__":
    main()

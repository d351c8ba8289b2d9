"""Activities per second one enrollment replica takes in: N concurrent senders POST batches of native LMS
activities over HTTP to a real `credstream serve enrollment` process (PostgreSQL, Kafka, outbox relay running).

    . .cache/local/infra.env        # DATABASE_URL (its server is used, each run gets a fresh database), Kafka
    .venv/bin/python bench/ingest.py [--senders 8] [--batch 500] [--seconds 20] [--baseline main | --code DIR] [--cpu 0]

`--baseline REF` first runs the same load against the code of git ref REF (exported with `git archive`, same
virtualenv), `--code DIR` against the tree in DIR (e.g. `git archive main | tar -x -C DIR`), so before and after
are compared in one run at about the same load. `--cpu N` pins the service to core N (taskset) and the load
generator to the other cores. For each run it prints activities/s accepted (wall clock), activities per
CPU-second of the service (the better guide to one free core on a busy machine), the service's and the PostgreSQL
server's CPU-ms per activity (the server when it runs on this machine), the SQL statements the service sent per
activity (SQLAlchemy cursor executions, an executemany counting once, plus pool pre-pings if the engine makes
them) and the load average. Accepting is only half the work: the outbox relay publishes to Kafka behind it. The
run's CPU therefore runs until the outbox is empty again (the rows left when the senders stopped and how long
they took to publish are printed), so an accepted activity is counted with its relay work.
A measurement, not a test: numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from support import ROOT, Database, cpu_seconds, export, loadavg, postgres_server_pid, process_tree_cpu_seconds

SCRIPT = Path(__file__).resolve()
TENANT = "bench"
LMS_KEY = "bench-lms-key"
COUNTS_SIGNAL = signal.SIGUSR1


# --- the service side: `bench/ingest.py --serve` runs enrollment with a statement counter ------------------------


def serve_counted(counts_file: Path) -> None:
    """Run the enrollment service (from whatever tree is first on sys.path); SIGUSR1 writes the counters."""
    from sqlalchemy import event
    from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
    from sqlalchemy.engine import Engine

    from services.runtime import serve
    from shared.settings import Settings

    counts = {"statements": 0, "pings": 0, "commits": 0}

    def on_execute(*_args: Any) -> None:
        counts["statements"] += 1

    def on_commit(*_args: Any) -> None:
        counts["commits"] += 1

    ping = PGDialect_asyncpg.do_ping

    def counted_ping(dialect: Any, connection: Any) -> Any:  # pool_pre_ping: a round trip per checkout
        counts["pings"] += 1
        return ping(dialect, connection)

    event.listen(Engine, "before_cursor_execute", on_execute)
    event.listen(Engine, "commit", on_commit)
    PGDialect_asyncpg.do_ping = counted_ping  # type: ignore[method-assign]

    def dump(*_args: Any) -> None:
        counts_file.write_text(json.dumps(counts))

    signal.signal(COUNTS_SIGNAL, dump)
    asyncio.run(serve("enrollment", Settings()))


# --- the load side -----------------------------------------------------------------------------------------------


@dataclass
class Result:
    label: str
    activities: int
    seconds: float
    cpu_seconds: float
    postgres_cpu_seconds: float | None
    counts: dict[str, int]
    load_before: str
    load_after: str
    backlog: int  # outbox rows not yet published when the senders stopped
    drain_seconds: float  # until the outbox was empty again

    def row(self) -> dict[str, Any]:
        statements = self.counts["statements"] + self.counts["pings"]
        return {
            "code": self.label,
            "activities_per_s": round(self.activities / self.seconds),
            "activities_per_cpu_s": round(self.activities / self.cpu_seconds),
            "published_per_s": round(self.activities / (self.seconds + self.drain_seconds)),
            "cpu_ms_per_activity": round(1000 * self.cpu_seconds / self.activities, 3),
            "postgres_cpu_ms_per_activity": None
            if self.postgres_cpu_seconds is None
            else round(1000 * self.postgres_cpu_seconds / self.activities, 3),
            "sql_per_activity": round(statements / self.activities, 3),
            "transactions_per_activity": round(self.counts["commits"] / self.activities, 4),
            "activities": self.activities,
            "seconds": round(self.seconds, 2),
            "outbox_backlog": self.backlog,
            "drain_seconds": round(self.drain_seconds, 2),
            "loadavg_before": self.load_before,
            "loadavg_after": self.load_after,
        }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bodies(run: str, sender: int, batch: int, requests: int) -> list[bytes]:
    """Pre-encoded requests (so the sender's CPU is not what is measured): each learner enrols, then scores."""
    t0 = datetime.now(UTC) - timedelta(hours=1)
    out = []
    for request in range(requests):
        activities = []
        for n in range(batch // 2):
            learner = f"{run}-{sender}-{request}-{n}"
            activities += [
                {"tenant_id": TENANT, "learner_id": learner, "event_id": f"{learner}-e", "kind": "enrolled",
                 "achievement_id": "bench", "occurred_at": t0.isoformat()},
                {"tenant_id": TENANT, "learner_id": learner, "event_id": f"{learner}-s", "kind": "scored",
                 "assessment_id": "quiz", "score": 80, "max_score": 100, "occurred_at": t0.isoformat()},
            ]  # fmt: skip
        out.append(json.dumps(activities).encode())
    return out


async def measure(label: str, tree: Path, args: argparse.Namespace, work: Path) -> Result:
    async with Database("bench_ingest") as database:
        return await _measure(label, tree, args, work, database)


async def _measure(label: str, tree: Path, args: argparse.Namespace, work: Path, database: Database) -> Result:
    port = free_port()
    counts_file = work / f"counts-{database.name}.json"
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),
        "DATABASE_URL": database.sqlalchemy_url(),
        "HTTP_PORT": str(port),
        "HTTP_HOST": "127.0.0.1",
        "CREDSTREAM_LMS_API_KEYS": f"{TENANT}:{LMS_KEY}",
        "CREDSTREAM_LMS_RATE_PER_SECOND": "100000",
        "CREDSTREAM_LMS_RATE_BURST": "100000",
        "CREDSTREAM_CONSUMER_GROUP_PREFIX": f"bench-{database.name}",
        "LOG_LEVEL": "WARNING",
    }
    pin = ["taskset", "-c", str(args.cpu)] if args.cpu is not None else []
    service = await asyncio.create_subprocess_exec(
        *pin, sys.executable, str(SCRIPT), "--serve", str(counts_file), cwd=tree, env=env
    )
    url = f"http://127.0.0.1:{port}"
    run = uuid.uuid4().hex[:8]
    # Enough for 10,000 activities/s over the whole run; senders stop at the deadline.
    requests = args.requests or -(-int(args.seconds * 10_000) // (args.batch * args.senders))
    payloads = [bodies(run, sender, args.batch, requests) for sender in range(args.senders)]
    headers = {"Authorization": f"Bearer {LMS_KEY}", "Content-Type": "application/json"}
    try:
        async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=args.senders)) as client:
            for _ in range(600):
                try:
                    if (await client.get(f"{url}/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
            else:
                raise RuntimeError(f"{label}: the enrollment service did not become ready")
            # Warm-up (connections, caches), not counted.
            warm = bodies(f"{run}w", 0, args.batch, 2)
            for body in warm:
                response = await client.post(f"{url}/v1/activities", content=body, headers=headers)
                response.raise_for_status()
            accepted = 0
            deadline = time.monotonic() + args.seconds

            async def sender(mine: list[bytes]) -> None:
                nonlocal accepted
                for body in mine:
                    if time.monotonic() > deadline:
                        return
                    response = await client.post(f"{url}/v1/activities", content=body, headers=headers)
                    if response.status_code != 202:
                        raise RuntimeError(f"{label}: HTTP {response.status_code}: {response.text[:300]}")
                    accepted += response.json()["accepted"]

            postgres = postgres_server_pid(database.url.port or 5432)
            before_counts = await counters(service, counts_file)
            pg_before = process_tree_cpu_seconds(postgres) if postgres else 0.0
            load_before, cpu_before, started = loadavg(), cpu_seconds(service.pid), time.monotonic()
            await asyncio.gather(*(sender(mine) for mine in payloads))
            elapsed = time.monotonic() - started
            backlog = await outbox_rows(database)
            for _ in range(3000):  # at most about 5 minutes
                if not await outbox_rows(database):
                    break
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError(f"{label}: the outbox relay did not publish the backlog")
            drained = time.monotonic() - started - elapsed
            cpu_after, load_after = cpu_seconds(service.pid), loadavg()
            pg_cpu = process_tree_cpu_seconds(postgres) - pg_before if postgres else None
            after_counts = await counters(service, counts_file)
    finally:
        service.terminate()
        try:
            await asyncio.wait_for(service.wait(), 30)
        except TimeoutError:
            service.kill()
            await service.wait()
    counts = {name: after_counts[name] - before_counts[name] for name in after_counts}
    return Result(
        label, accepted, elapsed, cpu_after - cpu_before, pg_cpu, counts, load_before, load_after, backlog, drained
    )


async def outbox_rows(database: Database) -> int:
    import asyncpg

    connection = await asyncpg.connect(database.dsn())
    try:
        return int(await connection.fetchval("SELECT count(*) FROM enrollment_outbox"))
    finally:
        await connection.close()


async def counters(service: asyncio.subprocess.Process, counts_file: Path) -> dict[str, int]:
    await asyncio.to_thread(counts_file.unlink, missing_ok=True)
    service.send_signal(COUNTS_SIGNAL)
    for _ in range(100):
        counts = await asyncio.to_thread(read_counts, counts_file)
        if counts is not None:
            return counts
        await asyncio.sleep(0.05)
    raise RuntimeError("the service did not report its counters")


def read_counts(counts_file: Path) -> dict[str, int] | None:
    text = counts_file.read_text() if counts_file.exists() else ""
    return dict(json.loads(text)) if text else None


def main(args: argparse.Namespace) -> None:
    if not os.environ.get("DATABASE_URL", "").startswith("postgresql"):
        raise SystemExit("set DATABASE_URL to PostgreSQL (. .cache/local/infra.env)")
    subprocess.run([sys.executable, "-m", "services.cli", "create-topics"], cwd=ROOT, check=True)
    results = []
    if args.cpu is not None:  # the load generator stays off the service's core
        others = set(os.sched_getaffinity(0)) - {args.cpu}
        if others:
            os.sched_setaffinity(0, others)
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        work = Path(tmp)
        runs = [(f"{args.baseline} (baseline)", export(args.baseline, work))] if args.baseline else []
        if args.code:
            runs.append((f"{args.code} (baseline)", Path(args.code).resolve()))
        runs.append(("this tree", ROOT))
        for _ in range(args.rounds):
            for label, tree in runs:
                result = asyncio.run(measure(label, tree, args, work))
                results.append(result.row())
                print(json.dumps(result.row()), flush=True)
    print(f"\n{args.senders} senders x {args.batch} activities per request, {args.seconds} s per run")
    print(
        f"{'code':<24}{'act/s':>8}{'act/CPU-s':>10}{'backlog':>9}{'drain s':>8}{'CPU-ms/act':>11}{'PG CPU-ms':>10}"
        f"{'SQL/act':>9}{'tx/act':>8}   loadavg"
    )
    for row in results:
        print(
            f"{row['code']:<24}{row['activities_per_s']:>8}{row['activities_per_cpu_s']:>10}"
            f"{row['outbox_backlog']:>9}{row['drain_seconds']:>8}{row['cpu_ms_per_activity']:>11}"
            f"{row['postgres_cpu_ms_per_activity'] or '-':>10}"
            f"{row['sql_per_activity']:>9}{row['transactions_per_activity']:>8}"
            f"   {row['loadavg_before']} -> {row['loadavg_after']}"
        )
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"args": vars(args), "results": results}, indent=2))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        serve_counted(Path(sys.argv[2]))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--senders", type=int, default=8, help="concurrent HTTP senders")
    parser.add_argument("--batch", type=int, default=500, help="activities per request (at most 500)")
    parser.add_argument("--seconds", type=float, default=20, help="how long each run sends")
    parser.add_argument("--requests", type=int, help="requests prepared per sender (default: enough for 10k/s)")
    parser.add_argument("--baseline", help="git ref to measure first with the same load (e.g. main)")
    parser.add_argument("--code", help="a directory holding the code to measure first (e.g. an older commit's tree)")
    parser.add_argument("--cpu", type=int, help="pin the service to this core (taskset); the senders avoid it")
    parser.add_argument("--rounds", type=int, default=1, help="alternate baseline and this tree this many times")
    parser.add_argument("--out", default="out/bench/ingest.json", help="where to write the results as JSON")
    main(parser.parse_args())

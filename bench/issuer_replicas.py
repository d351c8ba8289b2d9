"""One tenant's issuance with 1 and 2 issuer replicas: credentials/s, CPU-ms per credential, and lock waits.

Each replica is its own process running the issuer's handler (its own engine, key store and signing pool)
against one fresh PostgreSQL database, issuing for the same tenant as fast as it can; meanwhile this process
samples `pg_locks` every 10 ms and counts samples in which some lock of that database was waited for.

    . .cache/local/infra.env        # DATABASE_URL: its server gets a fresh database per run
    .venv/bin/python bench/issuer_replicas.py [--seconds 15] [--batch 50] [--baseline main]

Modes: `record` calls the handler once per award, each in its own transaction (as the per-record consumer
does); `batch` hands it `--batch` awards in one transaction (this tree only). `--baseline REF` also measures
`record` on git ref REF's code. A measurement, not a test: numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from support import ROOT, Database, cpu_seconds, export, loadavg

SCRIPT = Path(__file__).resolve()
TENANT = "acme"


# --- one replica (a child process; imports the services from the tree on PYTHONPATH) ------------------------------


def award(learner: str) -> Any:
    from tests.issuer_support import passed_award  # the tests' award, so bench and tests sign the same thing

    return passed_award(TENANT, learner)


async def replica(database_url: str, mode: str, batch: int, start_at: float, seconds: float) -> dict[str, float]:
    from services.issuer import handlers
    from services.issuer.adapters.keystore import KeyEncryption, KeyStore
    from services.issuer.adapters.status_lists import StatusLists
    from shared.contracts import AssessmentPassed, CloudEvent
    from shared.db.engine import create_engine, session_factory, transaction
    from shared.settings import Settings

    settings = Settings()
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    issuers = handlers.Issuers(settings, KeyStore(KeyEncryption("bench-kek")))
    lists = StatusLists("https://issuer.example.org")
    pool = None
    if len(inspect.signature(handlers.IssueCredential).parameters) > 3:  # this tree: sessions and a signing pool
        from services.issuer.signing import SigningPool

        pool = SigningPool(settings.signing_processes())
        handler = handlers.IssueCredential(settings, issuers, lists, sessions, pool)
    else:
        handler = handlers.IssueCredential(settings, issuers, lists)
    me = uuid.uuid4().hex[:6]
    n = 0

    async def once(size: int) -> int:
        nonlocal n
        awards = [award(f"{me}-{n + i}") for i in range(size)]
        n += size
        events = [(a, CloudEvent(source="bench", type=AssessmentPassed.CE_TYPE)) for a in awards]
        if mode == "batch":
            async with transaction(sessions) as session:
                await handler.issue(session, events)
        else:
            for passed, ce in events:
                async with transaction(sessions) as session:
                    await handler(session, passed, ce)
        return size

    await once(batch if mode == "batch" else 2)  # warm-up: pool workers started, contexts processed
    await asyncio.sleep(max(0.0, start_at - time.time()))
    workers = [p.pid for p in (pool._executor._processes.values() if pool and pool._executor else [])]
    pids = [os.getpid(), *workers]
    cpu_before = sum(cpu_seconds(pid) for pid in pids)
    started = time.monotonic()
    issued = 0
    while time.monotonic() - started < seconds:
        issued += await once(batch if mode == "batch" else 1)
    elapsed = time.monotonic() - started
    cpu = sum(cpu_seconds(pid) for pid in pids) - cpu_before
    if pool is not None:
        pool.close()
    await engine.dispose()
    return {"issued": issued, "seconds": elapsed, "cpu_seconds": cpu}


# --- the driver --------------------------------------------------------------------------------------------------


async def sample_lock_waits(dsn: str, stop: asyncio.Event) -> tuple[int, int, int]:
    """(samples, samples with a waiting lock, most locks waited for at once) in the run's database."""
    import asyncpg

    connection = await asyncpg.connect(dsn)
    samples = waiting = most = 0
    try:
        while not stop.is_set():
            count = await connection.fetchval(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE NOT l.granted AND a.datname = current_database()"
            )
            samples += 1
            waiting += count > 0
            most = max(most, count)
            await asyncio.sleep(0.01)
    finally:
        await connection.close()
    return samples, waiting, most


async def measure(label: str, tree: Path, mode: str, replicas: int, args: argparse.Namespace) -> dict[str, Any]:
    async with Database("bench_issuer") as database:
        # The tree's own migrations.
        migrate = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "import asyncio; from shared.db.engine import create_engine; from shared.db.migrations import upgrade; "
            "asyncio.run(upgrade(create_engine(__import__('os').environ['DATABASE_URL']), 'issuer'))",
            cwd=tree,
            env={**os.environ, "PYTHONPATH": str(tree), "DATABASE_URL": database.sqlalchemy_url()},
        )
        if await migrate.wait():
            raise RuntimeError(f"{label}: migration failed")
        start_at = time.time() + args.startup
        with tempfile.TemporaryDirectory(prefix="bench-issuer-") as tmp:
            outs = [Path(tmp) / f"replica-{i}.json" for i in range(replicas)]
            env = {**os.environ, "PYTHONPATH": str(tree), "LOG_LEVEL": "WARNING"}
            if args.signing_processes is not None:
                env["CREDSTREAM_ISSUER_SIGNING_PROCESSES"] = str(args.signing_processes)
            children = [
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    str(SCRIPT),
                    "--replica",
                    json.dumps([database.sqlalchemy_url(), mode, args.batch, start_at, args.seconds, str(out)]),
                    cwd=tree,
                    env=env,
                )
                for out in outs
            ]
            await asyncio.sleep(max(0.0, start_at - time.time()))
            load_before = loadavg()
            stop = asyncio.Event()
            sampler = asyncio.create_task(sample_lock_waits(database.dsn(), stop))
            codes = [await child.wait() for child in children]
            stop.set()
            samples, waiting, most = await sampler
            if any(codes):
                raise RuntimeError(f"{label}: a replica failed ({codes})")
            reports = [json.loads(out.read_text()) for out in outs]
    issued = sum(r["issued"] for r in reports)
    seconds = max(r["seconds"] for r in reports)
    return {
        "code": label,
        "mode": mode,
        "replicas": replicas,
        "credentials_per_s": round(issued / seconds, 1),
        "cpu_ms_per_credential": round(1000 * sum(r["cpu_seconds"] for r in reports) / issued, 2),
        "lock_wait_samples": f"{waiting}/{samples}",
        "max_waiting_locks": most,
        "issued": issued,
        "loadavg_before": load_before,
        "loadavg_after": loadavg(),
    }


def main(args: argparse.Namespace) -> None:
    if not os.environ.get("DATABASE_URL", "").startswith("postgresql"):
        raise SystemExit("set DATABASE_URL to PostgreSQL (. .cache/local/infra.env)")
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-issuer-trees-") as tmp:
        runs = []
        if args.baseline:
            tree = export(args.baseline, Path(tmp))
            runs += [(f"{args.baseline} (baseline)", tree, "record", n) for n in (1, 2)]
        runs += [("this tree", ROOT, mode, n) for mode in args.modes.split(",") for n in (1, 2)]
        for label, tree, mode, replicas in runs:
            row = asyncio.run(measure(label, tree, mode, replicas, args))
            results.append(row)
            print(json.dumps(row), flush=True)
    print(f"\none tenant, {args.seconds} s per run, batch {args.batch}")
    print(f"{'code':<20}{'mode':<8}{'replicas':>9}{'cred/s':>9}{'CPU-ms/cred':>13}{'lock waits':>12}   loadavg")
    for row in results:
        print(
            f"{row['code']:<20}{row['mode']:<8}{row['replicas']:>9}{row['credentials_per_s']:>9}"
            f"{row['cpu_ms_per_credential']:>13}{row['lock_wait_samples']:>12}"
            f"   {row['loadavg_before']} -> {row['loadavg_after']}"
        )
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"args": vars(args), "results": results}, indent=2))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--replica":
        url, mode, batch, start_at, seconds, out = json.loads(sys.argv[2])
        Path(out).write_text(json.dumps(asyncio.run(replica(url, mode, batch, start_at, seconds))))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15, help="how long each run issues")
    parser.add_argument("--batch", type=int, default=50, help="awards per batch (batch mode)")
    parser.add_argument("--modes", default="record,batch", help="modes to run on this tree")
    parser.add_argument("--baseline", help="git ref whose issuer to measure too (record mode)")
    parser.add_argument("--signing-processes", type=int, help="CREDSTREAM_ISSUER_SIGNING_PROCESSES per replica")
    parser.add_argument("--startup", type=float, default=25, help="seconds allowed for replicas to start")
    parser.add_argument("--out", default="out/bench/issuer_replicas.json", help="results as JSON")
    main(parser.parse_args())

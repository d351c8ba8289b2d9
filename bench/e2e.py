"""End-to-end benchmark (`make bench-e2e`): the four services as processes on local Kafka + PostgreSQL (as the e2e
tests run them), optionally several replicas each and a CPU quota per process (cgroup v1), driven by
`credstream load`; prints its table (badges/s, latency, lag, CPU-ms per badge per process, pg lock waits).

    .venv/bin/python bench/e2e.py [--burst | --rate 100] [--learners 1000] [--assessment-replicas 2]
        [--issuer-replicas 2] [--cpu-quota 0.4] [--json out/bench/e2e.json]

Kafka + PostgreSQL come from KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL, else deploy/local/infra.sh starts them. Each
run uses a fresh database and fresh consumer groups, and stops its services at the end. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import replica_probe  # noqa: E402
from services.load import LoadTarget, run_load  # noqa: E402
from services.load_cli import add_plan_arguments, plan_from_args, report_and_exit_code  # noqa: E402
from services.load_probes import ProcessGroups, discover_local  # noqa: E402
from shared.db.scratch import create_database, drop_database  # noqa: E402
from shared.messaging.topics import ensure_topics  # noqa: E402
from tests.e2e.processes import ADMIN_TOKEN, SERVICES, ServiceProcesses, free_port  # noqa: E402
from tests.infra import provide  # noqa: E402

CGROUP_CPU = Path("/sys/fs/cgroup/cpu")


@dataclass
class ReplicatedProcesses(ServiceProcesses):
    """The e2e tests' service processes, with replicas: replica k > 1 of a service is named `<service>-<k>` and has
    its own HTTP port."""

    replicas: dict[str, int] = field(default_factory=dict)
    code: Path = REPO  # the checkout the services run from (e.g. a worktree of an earlier commit, to compare)

    def replica_names(self, service: str) -> list[str]:
        return [service] + [f"{service}-{k}" for k in range(2, self.replicas.get(service, 1) + 1)]

    def start(self, name: str) -> None:
        service = name.rsplit("-", 1)[0] if name not in SERVICES else name
        self.ports.setdefault(name, free_port())
        log = (self.log_dir / f"{name}.log").open("ab")
        self.running[name] = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "serve", service],
            cwd=self.code,  # `-m` imports the services from here first
            env=self.env(name),
            stdout=log,
            stderr=subprocess.STDOUT,
        )


@dataclass
class CpuQuota:
    """Each process in its own cgroup v1 capped at `cpus` CPUs (cpu.cfs_quota_us / cpu.cfs_period_us); children it
    forks later (a signing pool) stay in it. `remove` deletes the cgroups once the processes are gone."""

    cpus: float
    run: str
    made: list[Path] = field(default_factory=list)

    @property
    def root(self) -> Path:
        return CGROUP_CPU / f"credstream-bench-{self.run}"

    def limit(self, name: str, pid: int) -> None:
        if not (CGROUP_CPU / "cpu.cfs_quota_us").exists():
            raise SystemExit(f"--cpu-quota needs the cgroup v1 cpu controller at {CGROUP_CPU}")
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        self.made.append(path)
        period = int((path / "cpu.cfs_period_us").read_text())
        (path / "cpu.cfs_quota_us").write_text(str(int(self.cpus * period)))
        (path / "cgroup.procs").write_text(str(pid))

    def remove(self) -> None:
        for path in [*self.made, self.root]:
            with contextlib.suppress(OSError):
                path.rmdir()


async def skip_history(code: Path, bootstrap: str, group: str) -> None:
    """Fresh consumer groups start at the end of the topics (earlier runs' records are not ours to process): the
    groups of the services as `code` names them, so asked of that checkout's own test helper."""
    script = "import asyncio, sys; from tests.helpers import skip_topic_history as s; asyncio.run(s(*sys.argv[1:]))"
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", script, bootstrap, group, cwd=code)
    if await process.wait() != 0:
        raise SystemExit(f"could not move the consumer groups of {code} past the topics' history")


def checkout_commit(code: Path) -> str:
    result = subprocess.run(["git", "-C", str(code), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return result.stdout.strip()


async def bench(args: argparse.Namespace) -> int:
    infra = provide()
    run = uuid.uuid4().hex[:8]
    await ensure_topics(infra.kafka_bootstrap_servers)
    database_url = await create_database(infra.database_url, f"bench_{run}")
    group = f"bench-{run}"
    await skip_history(args.code, infra.kafka_bootstrap_servers, group)
    replicas = {"enrollment": args.enrollment_replicas, "assessment": args.assessment_replicas,
                "issuer": args.issuer_replicas, "verifier": 1}  # fmt: skip
    log_dir = Path(tempfile.mkdtemp(prefix=f"credstream-bench-{run}-"))
    processes = ReplicatedProcesses(
        infra.kafka_bootstrap_servers, database_url, log_dir, group, replicas=replicas, code=args.code.resolve()
    )
    commit = checkout_commit(args.code)
    print(
        f"# bench-e2e {run}: services from {args.code} ({commit or 'not a git checkout'}), replicas {replicas}, "
        f"CPU quota {args.cpu_quota or 'none'}, logs {log_dir}",
        flush=True,
    )
    code = 1
    quota = CpuQuota(args.cpu_quota, run) if args.cpu_quota else None
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            # First replicas first: each migrates its service's tables on start, and must not race another.
            for names in (list(SERVICES), [n for s in SERVICES for n in processes.replica_names(s)[1:]]):
                for name in names:
                    processes.start(name)
                if names:
                    await processes.wait_ready(client, *names)
        pids = replica_probe.ReplicaProbe() if args.diagnose else ProcessGroups()
        for service in SERVICES:
            for name in processes.replica_names(service):
                pid = processes.running[name].pid
                pids.add(service, pid)
                if isinstance(pids, replica_probe.ReplicaProbe):
                    pids.replicas[name] = pid
                if quota:
                    quota.limit(name, pid)
                    if isinstance(pids, replica_probe.ReplicaProbe):
                        pids.cgroups[name] = quota.root / name
        for name, found in discover_local({}, infra.kafka_bootstrap_servers, database_url).pids.items():
            for pid in found:
                pids.add(name, pid)
        await settled(pids)
        target = LoadTarget(
            enrollment_urls=tuple(processes.url(n) for n in processes.replica_names("enrollment")),
            assessment_url=processes.url("assessment"),
            kafka_bootstrap=infra.kafka_bootstrap_servers,
            admin_token=ADMIN_TOKEN,
            group_prefix=group,
            database_url=database_url,
            processes=pids,
        )
        report = await run_load(
            plan_from_args(args), target, concurrency=args.concurrency, timeout=args.timeout,
            warmup=not args.no_warmup, idle_seconds=args.idle_seconds,
        )  # fmt: skip
        report.plan.update(replicas=replicas, cpu_quota=args.cpu_quota, code=str(args.code), commit=commit)
        code = report_and_exit_code(report, args.json)
        if isinstance(pids, replica_probe.ReplicaProbe):
            async with httpx.AsyncClient(timeout=10) as client:
                urls = {name: processes.url(name) for name in pids.replicas}
                batches = await replica_probe.batch_sizes(client, urls)
            sql = await replica_probe.statements(database_url)
            print(replica_probe.render(pids.windows(), batches, sql, report.badges), flush=True)
    finally:
        exits = processes.stop_all()
        failed = {name: status for name, status in exits.items() if status != 0}
        if failed:
            print(f"# services exited non-zero: {failed}; logs in {log_dir}", file=sys.stderr)
        elif code == 0:
            shutil.rmtree(log_dir, ignore_errors=True)
        if quota:
            quota.remove()
        await drop_database(infra.database_url, f"bench_{run}")
    return code


async def settled(pids: ProcessGroups, *, quiet: float = 0.1, most: float = 30.0) -> None:
    """Wait (at most `most` s) until every service's processes use under `quiet` CPUs: work a service starts in
    the background once ready (the issuer forking and warming its signing workers) is then not mistaken for its
    idle cost by the idle sample, nor counted per badge."""
    before = pids.cpu_seconds()
    for _ in range(int(most)):
        await asyncio.sleep(1.0)
        now = pids.cpu_seconds()
        busy = {name: now[name] - before.get(name, 0.0) for name in SERVICES if name in now}
        before = now
        if all(used < quiet for used in busy.values()):
            return


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_plan_arguments(parser)

    def env_int(name: str) -> int:
        return int(os.environ.get(name, "1"))

    parser.add_argument("--enrollment-replicas", type=int, default=env_int("ENROLLMENT_REPLICAS"))
    parser.add_argument("--assessment-replicas", type=int, default=env_int("ASSESSMENT_REPLICAS"))
    parser.add_argument("--issuer-replicas", type=int, default=env_int("ISSUER_REPLICAS"))
    parser.add_argument(
        "--cpu-quota",
        type=float,
        default=float(os.environ["CPU_QUOTA"]) if os.environ.get("CPU_QUOTA") else None,
        help="CPUs each service process may use (cgroup v1 cfs quota), e.g. 0.4; default: no cap",
    )
    parser.add_argument(
        "--diagnose",
        action="store_true",
        default=bool(os.environ.get("BENCH_DIAGNOSE")),
        help="also print each replica's CPU (user/system, context switches, throttling) in the idle and run windows, "
        "its batch sizes, and the run's SQL statements (pg_stat_statements, when available)",
    )
    parser.add_argument(
        "--code",
        type=Path,
        default=Path(os.environ.get("BENCH_CODE", REPO)),
        help="run the services from this checkout (e.g. `git worktree add /tmp/before <commit>`), with this "
        "venv; compare before and after in one session (default: this repository)",
    )
    return asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())

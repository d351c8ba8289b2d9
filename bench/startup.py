"""Start-up time of each service: process exec -> first `/readyz` 200, and the CPU seconds it took to get there.

    .venv/bin/python bench/startup.py [--before /tmp/startup-before] [--runs 5] [--service verifier ...]
        [--cpu 0] [--stop term|kill] [--json out/bench/startup.json]

Each service is started as `credstream serve` is started in the e2e tests (`tests/e2e/processes.py`: same
environment, a fresh database, topics created first), `/readyz` polled every 20 ms, and the process stopped once it
answered 200: with SIGTERM (`--stop term`, default), or with SIGKILL (`--stop kill`: a crash loop, where the next
start finds the dead process's consumers still in their groups until their sessions time out).

Reported per service and per checkout: median and range of the wall time to ready over
`--runs` starts, and of its user + system CPU seconds (the process and its children: the verifier's forkserver, the
issuer's signing workers), which is robust to the machine's load where wall time is not. With `--before DIR` (the
tree of an earlier commit, e.g. `git archive main | tar -x -C DIR`, run with this checkout's venv) the two are
started alternately, so both see the same load. One untimed start of each first migrates the fresh database and
writes the bytecode caches: what is measured is a restart (a crash loop, a rolling update), not a first install.

Kafka + PostgreSQL come from KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL (`deploy/local/infra.sh up`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from support import ROOT, Database, loadavg

sys.path.insert(0, str(ROOT))

from services.load_probes import ProcessGroups
from shared.messaging.topics import ensure_topics
from tests.e2e.processes import SERVICES, ServiceProcesses

POLL_SECONDS = 0.02
TIMEOUT_SECONDS = 120.0


def time_to_ready(
    processes: ServiceProcesses, code: Path, name: str, cpu: int | None, stop: signal.Signals
) -> dict[str, float]:
    """Start `name` from checkout `code`, wait for /readyz 200, stop it; wall and CPU seconds to ready."""
    command = [sys.executable, "-m", "services.cli", "serve", name]
    if cpu is not None:
        command = ["taskset", "-c", str(cpu), *command]
    url = f"{processes.url(name)}/readyz"
    with (processes.log_dir / f"{name}-{code.name}.log").open("ab") as log:
        started = time.monotonic()
        process = subprocess.Popen(command, cwd=code, env=processes.env(name), stdout=log, stderr=subprocess.STDOUT)
    try:
        with httpx.Client(timeout=2.0) as client:
            while True:
                try:
                    if client.get(url).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None:
                    raise SystemExit(f"{name} ({code}) exited with {process.returncode}; see {processes.log_dir}")
                if time.monotonic() - started > TIMEOUT_SECONDS:
                    raise SystemExit(f"{name} ({code}) not ready in {TIMEOUT_SECONDS} s; see {processes.log_dir}")
                time.sleep(POLL_SECONDS)
        wall = time.monotonic() - started
        groups = ProcessGroups()
        groups.add(name, process.pid)
        return {"wall": wall, "cpu": groups.cpu_seconds()[name]}
    finally:
        process.send_signal(stop)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def summary(samples: list[dict[str, float]]) -> dict[str, Any]:
    walls = [s["wall"] for s in samples]
    cpus = [s["cpu"] for s in samples]
    return {
        "wall_median": statistics.median(walls),
        "wall_min": min(walls),
        "wall_max": max(walls),
        "cpu_median": statistics.median(cpus),
        "cpu_min": min(cpus),
        "cpu_max": max(cpus),
        "runs": samples,
    }


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    codes = {"after": ROOT}
    if args.before:
        codes = {"before": args.before.resolve(), "after": ROOT}
    await ensure_topics(os.environ["KAFKA_BOOTSTRAP_SERVERS"])
    stop = signal.SIGKILL if args.stop == "kill" else signal.SIGTERM
    results: dict[str, Any] = {
        "runs": args.runs,
        "cpu": args.cpu,
        "stop": args.stop,
        "codes": {k: str(v) for k, v in codes.items()},
    }
    async with Database("startup") as database:
        with tempfile.TemporaryDirectory(prefix="credstream-startup-") as logs:
            processes = ServiceProcesses(
                os.environ["KAFKA_BOOTSTRAP_SERVERS"],
                database.sqlalchemy_url(),
                Path(logs),
                f"startup-{uuid.uuid4().hex[:8]}",
            )
            for name in args.service or SERVICES:
                for code in codes.values():  # untimed: migrates the fresh database, writes bytecode caches
                    await asyncio.to_thread(time_to_ready, processes, code, name, args.cpu, stop)
                load_before = loadavg()
                samples: dict[str, list[dict[str, float]]] = {label: [] for label in codes}
                for _ in range(args.runs):
                    for label, code in codes.items():  # alternately: before and after see the same load
                        samples[label].append(
                            await asyncio.to_thread(time_to_ready, processes, code, name, args.cpu, stop)
                        )
                results[name] = {
                    "loadavg_before": load_before,
                    "loadavg_after": loadavg(),
                    **{label: summary(runs) for label, runs in samples.items()},
                }
                print_service(name, results[name], codes)
    return results


def print_service(name: str, result: dict[str, Any], codes: dict[str, Path]) -> None:
    line = f"{name:<11} load {result['loadavg_before']} -> {result['loadavg_after']}"
    for label in codes:
        s = result[label]
        line += (
            f" | {label}: ready {s['wall_median']:.2f} s ({s['wall_min']:.2f}-{s['wall_max']:.2f}),"
            f" cpu {s['cpu_median']:.2f} s ({s['cpu_min']:.2f}-{s['cpu_max']:.2f})"
        )
    if "before" in codes:
        line += (
            f" | after/before: wall {result['after']['wall_median'] / result['before']['wall_median']:.2f},"
            f" cpu {result['after']['cpu_median'] / result['before']['cpu_median']:.2f}"
        )
    print(line, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, help="tree of an earlier commit to compare with (same venv)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--service", action="append", choices=SERVICES, help="repeatable; default: all four")
    parser.add_argument("--cpu", type=int, help="pin each service to this CPU (taskset)")
    parser.add_argument("--stop", choices=("term", "kill"), default="term", help="how each run's process ends")
    parser.add_argument("--json", type=Path, default=ROOT / "out" / "bench" / "startup.json")
    args = parser.parse_args()
    results = asyncio.run(bench(args))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    print(f"written {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Command line of `credstream load` (also used by bench/e2e.py): arguments, the plan they describe, the report's
output. Light to import: the load generator itself is imported when it runs."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from services.load_report import LoadReport, render
from services.load_traffic import LmsFormat, LoadPlan
from shared.settings import Settings


def add_parser(commands: Any) -> None:
    """The `load` subcommand of `credstream` (defaults from the same environment the services read)."""
    load = commands.add_parser(
        "load",
        help="drive a deployment with learners who enrol and pass; report badges/s, latency, lag, CPU",
        description="Drive a deployment over HTTP as LMSs would: define an Achievement (and LMS connections) "
        "through the admin APIs, post learners who enrol and pass at a rate or in a burst, read the badge-issued "
        "topic as an integrator would; report badges/s, LMS 202 → badge-issued latency, consumer lag per topic, "
        "CPU per local process and PostgreSQL lock waits (bench/README.md).",
    )
    add_plan_arguments(load)
    load.add_argument(
        "--enrollment-url",
        action="append",
        default=[],
        help="enrollment service (http://127.0.0.1:8001); repeat for replicas: requests go round robin",
    )
    load.add_argument("--assessment-url", default="http://127.0.0.1:8002", help="(%(default)s)")
    load.add_argument("--kafka", help="bootstrap servers (default: KAFKA_BOOTSTRAP_SERVERS)")
    load.add_argument("--group-prefix", help="consumer group prefix (default: CREDSTREAM_CONSUMER_GROUP_PREFIX)")
    load.add_argument(
        "--database-url", help="PostgreSQL of the deployment, for lock waits and its CPU (default: DATABASE_URL)"
    )
    load.add_argument(
        "--lms-key", action="append", default=[], metavar="TENANT:KEY", help="use this key instead of creating a "
        "connection (the connection's rate limit then applies); repeatable"
    )  # fmt: skip
    load.add_argument(
        "--pid", action="append", default=[], metavar="NAME=PID", help="count this process's CPU under NAME "
        "(replaces finding processes by their listening ports); repeatable"
    )  # fmt: skip
    load.add_argument("--no-cpu", action="store_true", help="do not read CPU times of local processes")


def add_plan_arguments(parser: argparse.ArgumentParser) -> None:
    """What to offer and how long to wait (shared by `credstream load` and bench/e2e.py)."""
    parser.add_argument("--learners", type=int, default=300, help="learners (= badges) to offer (%(default)s)")
    parser.add_argument("--tenants", type=int, default=1, help="tenants the learners are spread over (%(default)s)")
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument("--rate", type=float, default=50.0, help="badges (learners) offered per second (%(default)s)")
    pace.add_argument("--burst", action="store_true", help="offer every learner at once instead of at --rate")
    parser.add_argument("--batch", type=int, default=20, help="activities per LMS request, 2 per learner (%(default)s)")
    parser.add_argument(
        "--format",
        dest="formats",
        action="append",
        choices=[str(f) for f in LmsFormat],
        help="LMS format; repeat to spread tenants over several (default: native)",
    )
    parser.add_argument(
        "--tenant-prefix", default="load", help="tenants are named <prefix>-1, <prefix>-2, … (%(default)s)"
    )
    parser.add_argument("--concurrency", type=int, default=8, help="LMS requests in flight at most (%(default)s)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="seconds the measured run may take, offering and issuing; what is not done by then is reported "
        "(%(default)s)",
    )
    parser.add_argument("--no-warmup", action="store_true", help="skip the one-learner-per-tenant warm-up")
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=5.0,
        help="first measure each process's idle CPU this long, to report CPU per badge above idle (%(default)s)",
    )
    parser.add_argument("--json", type=Path, help="also write the report as JSON to this file")


def plan_from_args(args: argparse.Namespace, tenant_names: Sequence[str] = ()) -> LoadPlan:
    return LoadPlan(
        learners=args.learners,
        tenants=len(tenant_names) if tenant_names else args.tenants,
        rate=None if args.burst else args.rate,
        batch=args.batch,
        formats=tuple(LmsFormat(f) for f in args.formats or [LmsFormat.NATIVE]),
        tenant_prefix=args.tenant_prefix,
        tenant_names=tuple(tenant_names),
    )


def report_and_exit_code(report: LoadReport, json_path: Path | None) -> int:
    """Print the table (and write the JSON); 0 only when every learner got exactly one credential."""
    print(render(report), flush=True)
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report.summary(), indent=2) + "\n")
    complete = report.badges == report.accepted == report.learners
    return 0 if complete and not report.rejected_requests and not report.duplicates else 1


def run_from_args(args: argparse.Namespace, settings: Settings) -> int:
    from services.load import LoadTarget, run_load
    from services.load_probes import ProcessGroups

    keys = _keys(args.lms_key)
    plan = plan_from_args(args, list(keys))
    database_url = args.database_url or settings.database_url
    processes = None
    if args.pid:
        processes = ProcessGroups()
        for item in args.pid:
            name, _, pid = item.partition("=")
            processes.add(name, int(pid))
    target = LoadTarget(
        enrollment_urls=tuple(url.rstrip("/") for url in args.enrollment_url or ["http://127.0.0.1:8001"]),
        assessment_url=args.assessment_url.rstrip("/"),
        kafka_bootstrap=args.kafka or settings.kafka_bootstrap_servers,
        admin_token=settings.admin_token.get_secret_value(),
        lms_keys=keys,
        group_prefix=args.group_prefix or settings.consumer_group_prefix,
        database_url=database_url if database_url.startswith("postgresql") else None,
        processes=processes,
    )
    report = asyncio.run(
        run_load(
            plan,
            target,
            concurrency=args.concurrency,
            timeout=args.timeout,
            warmup=not args.no_warmup,
            cpu=not args.no_cpu,
            idle_seconds=args.idle_seconds,
        )
    )
    return report_and_exit_code(report, args.json)


def _keys(items: Sequence[str]) -> dict[str, str]:
    keys = {}
    for item in items:
        tenant, sep, key = item.partition(":")
        if not sep or not tenant or not key:
            raise SystemExit(f"--lms-key wants TENANT:KEY, got {item!r}")
        keys[tenant] = key
    return keys

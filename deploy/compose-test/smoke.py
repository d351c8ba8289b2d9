"""The smoke flow of `make compose-test`, run by deploy/compose-test/run.sh inside a service image on the compose
network (the only place where kafka:9092 and the unpublished admin APIs answer).

    python smoke.py flow  --learners 20 --tenant-prefix smoke   # badges out, verified, revoked -> revoked
    python smoke.py count --learners 200 --tenant-prefix scaled  # badges keep flowing, no duplicates

Both run `credstream load` (LMS events in over HTTP, badge-issued records out of Kafka) and then count the
issuer's credentials of the run's tenants in PostgreSQL: one distinct credential per learner. Environment: the
services' own (DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, CREDSTREAM_ADMIN_TOKEN)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ENROLLMENT = "http://enrollment:8001"
ASSESSMENT = "http://assessment:8002"
ISSUER = "http://issuer:8003"
VERIFIER = "http://verifier:8004"


def log(message: str) -> None:
    print(f"smoke: {message}", flush=True)


def run_load(learners: int, tenant_prefix: str, timeout: float) -> dict[str, Any]:
    """`credstream load` against the deployment; its JSON report."""
    with tempfile.TemporaryDirectory() as tmp:
        report_file = Path(tmp) / "load.json"
        command = [
            "credstream", "load", "--learners", str(learners), "--burst", "--batch", "10", "--no-warmup",
            "--tenant-prefix", tenant_prefix, "--timeout", str(timeout), "--no-cpu", "--idle-seconds", "0",
            "--enrollment-url", ENROLLMENT, "--assessment-url", ASSESSMENT,
            "--group-prefix", f"{tenant_prefix}-reader", "--json", str(report_file),
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        print(result.stdout, end="", flush=True)
        if result.returncode != 0:
            sys.exit(f"credstream load failed ({result.returncode}):\n{result.stderr[-4000:]}")
        report: dict[str, Any] = json.loads(report_file.read_text())
    if (report["badges"], report["duplicates"]) != (learners, 0):
        sys.exit(f"load: {report['badges']} badges, {report['duplicates']} duplicates for {learners} learners")
    return report


async def issued(tenant_prefix: str) -> list[asyncpg.Record]:
    """The issuer's credentials of this run's tenants (what really was signed, however often it was announced)."""
    url = os.environ["DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(url)
    try:
        return await connection.fetch(
            "SELECT credential_id, tenant_id, learner_id FROM issuer_credentials WHERE tenant_id LIKE $1",
            f"{tenant_prefix}-%",
        )
    finally:
        await connection.close()


async def count_distinct(learners: int, tenant_prefix: str) -> list[asyncpg.Record]:
    rows = await issued(tenant_prefix)
    credentials = {row["credential_id"] for row in rows}
    holders = {(row["tenant_id"], row["learner_id"]) for row in rows}
    log(f"issuer_credentials: {len(rows)} rows, {len(credentials)} distinct credentials, {len(holders)} learners")
    if not len(rows) == len(credentials) == len(holders) == learners:
        sys.exit(f"expected exactly one credential per learner ({learners})")
    return rows


async def eventually(check: Any, what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            sys.exit(f"timed out waiting for {what}")
        await asyncio.sleep(0.5)


async def verify_then_revoke(credential_id: str) -> None:
    """Verifier: published and verified. Issuer admin API: revoke. Verifier: now reports it revoked."""
    admin = {"Authorization": f"Bearer {os.environ['CREDSTREAM_ADMIN_TOKEN']}"}
    async with httpx.AsyncClient(timeout=30) as client:

        async def published() -> dict[str, Any] | None:
            response = await client.get(f"{VERIFIER}/credentials/{credential_id}")
            return response.json() if response.status_code == 200 else None

        credential = await eventually(published, f"the verifier to publish {credential_id}")
        tries: list[dict[str, Any]] = []

        async def checked() -> dict[str, Any] | None:
            # "Undetermined" (e.g. the status list could not be fetched: podman's DNS on a freshly started network
            # has failed lookups here) is asked again; "not verified" is final.
            report = (await client.post(f"{VERIFIER}/verify", json=credential)).json()
            tries.append(report)
            return None if report.get("status") == "undetermined" and len(tries) < 60 else report

        report = await eventually(checked, f"a verdict on {credential_id}", timeout=60.0)
        log(f"verify {credential_id}: verified={report['verified']} status={report.get('status')} ({len(tries)} tries)")
        if not report["verified"]:
            sys.exit(f"not verified: {json.dumps(report)[:2000]}")

        response = await client.post(
            f"{ISSUER}/v1/credentials/{credential_id}/revoke", json={"reason": "compose-test"}, headers=admin
        )
        if response.status_code != 200:
            sys.exit(f"revoke: {response.status_code} {response.text[:500]}")

        async def revoked() -> dict[str, Any] | None:
            response = await client.get(f"{VERIFIER}/credentials/{credential_id}/verification")
            report = response.json()
            return report if report.get("status") == "revoked" else None

        report = await eventually(revoked, f"the verifier to report {credential_id} revoked")
        log(f"after revoke {credential_id}: verified={report['verified']} status={report['status']}")
        if report["verified"]:
            sys.exit("a revoked credential still verifies")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["flow", "count"])
    parser.add_argument("--learners", type=int, default=20)
    parser.add_argument("--tenant-prefix", required=True)
    parser.add_argument("--timeout", type=float, default=180.0)
    args = parser.parse_args()
    run_load(args.learners, args.tenant_prefix, args.timeout)
    rows = asyncio.run(count_distinct(args.learners, args.tenant_prefix))
    if args.step == "flow":
        asyncio.run(verify_then_revoke(str(rows[0]["credential_id"])))
    log(f"{args.step}: ok")


if __name__ == "__main__":
    main()

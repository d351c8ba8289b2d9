"""Sign and verify throughput for full Open Badges 3.0 credentials, per core, next to Digital Bazaar's vc library.

    .venv/bin/python bench/sign_verify.py [--count 200] [--warmup 20] [--cpu 0] [--out out/bench/sign_verify.json]
                                          [--compare-with main]

(`make bench`.) The process pins itself to one CPU (like `taskset -c 0`) and runs Node pinned to the same CPU
with `taskset -c 0`, so each figure is single-threaded work on one core. ``--compare-with REF`` first runs this
benchmark as it is in git revision ``REF`` (its own code, from ``git archive``, same core and counts), so that
before and after are measured in the same run, at the same load. What is timed:

- sign: ``shared.credentials.sign_credential`` (structure check, safe-mode term check, RDFC-1.0 of document and
  proof configuration, Ed25519) for each of ``--count`` distinct credentials;
- verify (full): ``verify_credential`` with the did:key resolver — every check the verifier service runs
  (structure, safe-mode terms, proof form, key, signature, validity; status is reported as not checked);
- verify (proof only): ``verify_proof`` — canonicalisation and Ed25519 alone;
- Digital Bazaar vc: ``vc.verifyCredential`` (DataIntegrityProof + eddsa-rdfc-2022, jsonld.js safe mode) on the
  same signed credentials, in Node (bench/dbvc_verify.mjs), status not checked either.

Each credential has its own proof ``created`` time, and recent expansions are forgotten between phases (the
verifier has not seen what the issuer signed). Warm-up runs (untimed) precede each measurement. This is a
benchmark, not a test: it asserts nothing about speed, only that every credential verifies. Results: a table
on stdout and a JSON file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared.credentials import (  # noqa: E402
    Achievement,
    Alignment,
    BitstringStatusListEntry,
    Criteria,
    DidKeyResolver,
    Evidence,
    Image,
    Profile,
    Result,
    ResultDescription,
    build_open_badge_credential,
    did_key,
    did_key_verification_method,
    generate_key,
    jsonld,
    make_identity_object,
    new_credential_id,
    sign_credential,
    verify_credential,
    verify_proof,
)

SIGNED_AT = datetime(2026, 1, 1, tzinfo=UTC)
VERIFY_AT = datetime(2026, 6, 1, tzinfo=UTC)
DBVC = ROOT / "bench" / "dbvc_verify.mjs"


def full_credential(issuer_id: str, n: int) -> dict[str, Any]:
    """A fully populated OB 3.0 credential (every field the models emit); ``n`` makes each one distinct."""
    base = "https://uni.example"
    rd_id = f"{base}/achievements/data-{n}#result-1"
    return build_open_badge_credential(
        credential_id=new_credential_id(),
        issuer=Profile(
            id=issuer_id,
            name="Example University",
            url=base,
            email="badges@uni.example",
            description="A university that issues Open Badges.",
            image=Image(id=f"{base}/logo.png", caption="Logo"),
        ),
        achievement=Achievement(
            id=f"{base}/achievements/data-{n}",
            name=f"Data Analysis {n}",
            description="Cleans, analyses and presents tabular data with appropriate statistics and charts.",
            criteria=Criteria(id=f"{base}/criteria/data-{n}", narrative="Pass the final exam with at least 60%."),
            image=Image(id=f"{base}/badges/data-{n}.png", caption="Badge"),
            achievement_type="Course",
            tag=["data", "statistics", "python"],
            alignment=[
                Alignment(
                    target_name="Data literacy",
                    target_url="https://framework.example/skills/data-literacy",
                    target_description="Reads and interprets data.",
                    target_framework="Example Skills Framework",
                    target_code="DL-1",
                    target_type="CFItem",
                )
            ],
            result_description=[
                ResultDescription(
                    id=rd_id,
                    name="Final exam score",
                    result_type="Percent",
                    required_value="60",
                    value_min="0",
                    value_max="100",
                )
            ],
        ),
        name=f"Data Analysis {n}",
        description="Awarded for completing the data analysis course.",
        valid_from=SIGNED_AT,
        valid_until=datetime(2030, 1, 1, tzinfo=UTC),
        awarded_date=SIGNED_AT,
        subject_id=f"urn:uuid:5f0c2b7e-8d0e-4c55-9a0b-{n:012d}",
        identifier=[make_identity_object(f"learner{n}@uni.example", "emailAddress", salt=f"salt{n}")],
        results=[Result(value=str(60 + n % 40), result_description=rd_id, status="Completed")],
        evidence=[
            Evidence(
                id=f"https://lms.example/submissions/{n}",
                name="Final project",
                narrative="Graded by the instructor.",
                genre="Project",
            )
        ],
        credential_status=BitstringStatusListEntry(
            id=f"{base}/status/1#{n}",
            status_purpose="revocation",
            status_list_index=str(n),
            status_list_credential=f"{base}/status/1",
        ),
    )


def timed(items: list[Any], work: Callable[[Any], Any], warmup: int) -> tuple[list[Any], float, float]:
    """Results, wall seconds, CPU seconds of this process (unaffected by time spent waiting for the core)."""
    for item in items[:warmup]:
        work(item)
    start, cpu_start = time.perf_counter(), time.process_time()
    results = [work(item) for item in items]
    return results, time.perf_counter() - start, time.process_time() - cpu_start


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run_dbvc(files: list[Path], warmup: int, cpu: int) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        return {"error": "node is not installed"}
    if not (ROOT / "tests" / "interop" / "node_modules").is_dir():
        return {"error": "tests/interop/node_modules missing: run `make interop-deps`"}
    pin = ["taskset", "-c", str(cpu)] if shutil.which("taskset") else []
    done = subprocess.run(
        [*pin, node, str(DBVC), "--warmup", str(warmup), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if not lines:
        return {"error": done.stderr.strip()[-2000:] or f"exit {done.returncode}"}
    return json.loads(lines[-1])


def run_revision(ref: str, args: argparse.Namespace) -> dict[str, Any]:
    """This benchmark as it is in git revision ``ref`` (its code and its script), pinned to the same core."""
    with tempfile.TemporaryDirectory(prefix="credstream-bench-rev-") as tree:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=False)
        if archive.returncode != 0:
            return {"error": archive.stderr.decode(errors="replace").strip() or f"git archive {ref} failed"}
        subprocess.run(["tar", "-x", "-C", tree], input=archive.stdout, check=True)
        out = Path(tree) / "result.json"
        command = [sys.executable, str(Path(tree) / "bench" / "sign_verify.py"), "--no-dbvc", "--out", str(out)]
        command += ["--count", str(args.count), "--warmup", str(args.warmup), "--cpu", str(args.cpu)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=3600, check=False)
        if done.returncode != 0 or not out.exists():
            return {"error": (done.stderr or done.stdout).strip()[-2000:] or f"exit {done.returncode}"}
        result = json.loads(out.read_text(encoding="utf-8"))
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", ref], capture_output=True, text=True)
        result["revision"] = f"{ref} ({commit.stdout.strip()})"
        return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200, help="credentials per measurement (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed warm-up credentials (default 20)")
    parser.add_argument("--cpu", type=int, default=0, help="the CPU to pin to (default 0, like taskset -c 0)")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "bench" / "sign_verify.json")
    parser.add_argument("--no-dbvc", action="store_true", help="skip the Digital Bazaar comparison")
    parser.add_argument("--compare-with", metavar="REF", help="also run this benchmark as in git revision REF")
    args = parser.parse_args(argv)

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    load_before = os.getloadavg()
    before = run_revision(args.compare_with, args) if args.compare_with else None
    key = generate_key()
    issuer, vm = did_key(key), did_key_verification_method(key)
    unsigned = [full_credential(issuer, n) for n in range(args.count)]
    warm = [full_credential(issuer, args.count + n) for n in range(args.warmup)]

    def sign(credential: dict[str, Any]) -> dict[str, Any]:
        # Distinct proof configurations too, as in production (each proof has its own `created`).
        created = SIGNED_AT + timedelta(seconds=int(credential["credentialStatus"]["statusListIndex"]))
        return sign_credential(credential, key, vm, created)

    for credential in warm:
        sign(credential)
    signed, sign_seconds, sign_cpu = timed(unsigned, sign, 0)
    jsonld.forget_recent_expansions()
    reports, verify_seconds, verify_cpu = timed(
        signed, lambda c: verify_credential(c, resolver=DidKeyResolver(), now=VERIFY_AT), args.warmup
    )
    jsonld.forget_recent_expansions()
    proofs, proof_seconds, proof_cpu = timed(signed, lambda c: verify_proof(c, key.public_key()), args.warmup)
    failed = [r.codes() for r in reports if not r.verified] + [p.code for p in proofs if not p.valid]
    if failed:
        print(f"credentials failed to verify: {failed[:5]}", file=sys.stderr)
        return 1

    dbvc: dict[str, Any] = {"skipped": True}
    if not args.no_dbvc:
        with tempfile.TemporaryDirectory(prefix="credstream-bench-") as scratch:
            files = []
            for n, credential in enumerate(signed):
                path = Path(scratch) / f"{n:05d}.json"
                path.write_text(json.dumps(credential), encoding="utf-8")
                files.append(path)
            dbvc = run_dbvc(files, args.warmup, args.cpu)

    size = len(json.dumps(signed[0]).encode())
    rows = []
    if before is not None and "results" in before:
        label = f"before: {before['revision']}"
        for name, row in before["results"].items():
            if "credstream" in name:
                rows.append((f"{name.split(' (')[0]} ({label})", row["count"], row["seconds"], row["cpu_seconds"]))
    rows += [
        ("sign (credstream)", args.count, sign_seconds, sign_cpu),
        ("verify, full checks (credstream)", args.count, verify_seconds, verify_cpu),
        ("verify, proof only (credstream)", args.count, proof_seconds, proof_cpu),
    ]
    if "per_second" in dbvc:
        rows.append(("verify (Digital Bazaar vc, node)", dbvc["count"], dbvc["seconds"], dbvc["cpu_seconds"]))
    results = {
        "benchmark": "sign/verify full OB 3.0 credentials, eddsa-rdfc-2022, one core",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "pinned_cpu": args.cpu,
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(),
            "python": platform.python_version(),
            "pyld": version("PyLD"),
            "cryptography": version("cryptography"),
        },
        "credential_bytes": size,
        "count": args.count,
        "warmup": args.warmup,
        "results": {
            name: {
                "count": count,
                "seconds": round(seconds, 4),
                "cpu_seconds": round(cpu, 4),
                "per_second": round(count / seconds, 1),
                "per_cpu_second": round(count / cpu, 1),
                "ms_each": round(1000 * seconds / count, 3),
            }
            for name, count, seconds, cpu in rows
        },
        "digital_bazaar": dbvc,
        "before": before,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")

    machine = results["machine"]
    print(
        f"Full OB 3.0 credential ({size} bytes signed), {args.count} credentials, {args.warmup} warm-up, "
        f"pinned to CPU {args.cpu} of {machine['cores']} ({machine['cpu']})"
    )
    print(f"load average before {load_before[0]:.2f}, after {machine['loadavg_after'][0]:.2f}\n")
    # "per CPU-second" counts only the time this process ran on its core: on a busy machine it is the closer
    # estimate of what one free core does; "per second" is wall-clock.
    width = max(len(row[0]) for row in rows)
    print(f"{'operation':<{width}} {'per second':>11} {'per CPU-s':>10} {'ms each':>9}")
    for name, count, seconds, cpu in rows:
        print(f"{name:<{width}} {count / seconds:>11.1f} {count / cpu:>10.1f} {1000 * seconds / count:>9.2f}")
    if before is not None and "error" in before:
        print(f"\nbefore ({args.compare_with}): not measured — {before['error']}")
    if "error" in dbvc:
        print(f"\nDigital Bazaar vc: not measured — {dbvc['error']}")
    elif dbvc.get("failures"):
        print(f"\nDigital Bazaar vc rejected {dbvc['failures']} credentials")
        return 1
    print(f"\nJSON: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

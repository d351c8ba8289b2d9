"""Hostile credentials, before and after the verification limits (issue 7 §3). A benchmark, not a test.

    .venv/bin/python bench/verify_hostile.py [--cap 30] [--out out/bench/verify_hostile.json]

Shapes: a signed credential whose subject holds a clique of 7 / 8 blank nodes (the RDFC-1.0 "poison graph")
and one whose achievement has 6,000 tags (~54 KB; plus 12,000 to show the growth is linear). For each:

Each figure is wall seconds and CPU seconds of the verifying process (on a shared machine the second is the
better estimate of one free core).

- before: ``verify_credential`` with pyld's URDNA2015 as canonicaliser (what main did), in a child process
  stopped after ``--cap`` CPU seconds (reported as ``stopped_at_cpu_cap``);
- after: ``verify_credential`` as it is now (own RDFC-1.0 with the work bound, linear JSON-LD to RDF).

Then the verifier service on a real socket (uvicorn, one worker process): the latency of ``GET /healthz``
sampled every 50 ms while ``POST /verify`` of the 8-node clique runs, once with the default limits (refused
fast) and once with the work bound lifted (``CREDSTREAM_VERIFY_MAX_WORK`` huge: the request runs until its
10 s deadline), which is the worst a request can now hold a worker. The load average is recorded with each run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import signal
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared.credentials import (  # noqa: E402
    DidKeyResolver,
    did_key,
    did_key_verification_method,
    key_from_seed,
    sign_credential,
    verify_credential,
)
from tests.unit.credentials.samples import minimal_credential, with_blank_node_clique, with_tags  # noqa: E402

SIGNED_AT = datetime(2026, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _key() -> Any:
    return key_from_seed(bytes(range(32)))


def shapes() -> dict[str, dict[str, Any]]:
    key = _key()
    unsigned = minimal_credential(did_key(key), "urn:uuid:0b5a4e1e-0d44-4a3c-9c1c-2a6f0e3d9b11")
    signed = sign_credential(unsigned, key, did_key_verification_method(key), SIGNED_AT)
    found = {f"clique-{n}": with_blank_node_clique(signed, n) for n in (7, 8)}
    for count in (6000, 12000):
        tagged = with_tags(unsigned, count)
        found[f"tags-{count}"] = sign_credential(tagged, key, did_key_verification_method(key), SIGNED_AT)
    return found


def _use_pyld_canonicaliser() -> None:
    """Make the proof check canonicalise with pyld's URDNA2015, as main did before (for the 'before' column)."""
    from pyld import jsonld as pyld_jsonld

    import shared.credentials.proof as proof
    from shared.credentials.jsonld import DEFAULT_DOCUMENT_LOADER

    def old(doc: Any, *, loader: Any = None, check_terms: bool = True, budget: Any = None) -> str:
        options = {"algorithm": "URDNA2015", "format": "application/n-quads", "base": None}
        return pyld_jsonld.normalize(doc, {**options, "documentLoader": loader or DEFAULT_DOCUMENT_LOADER})

    proof.canonicalize = old  # type: ignore[assignment]


class _OverCap(Exception):
    pass


def _stop(*_: Any) -> None:
    raise _OverCap


def _timed_verify(credential: dict[str, Any], before: bool, cap: float, answer: Any) -> None:
    if before:
        _use_pyld_canonicaliser()
    # The cap is CPU time of this process (SIGPROF), so a busy machine does not cut a run short.
    signal.signal(signal.SIGPROF, _stop)
    start, cpu = time.perf_counter(), time.process_time()
    signal.setitimer(signal.ITIMER_PROF, cap)
    try:
        report = verify_credential(credential, now=NOW, resolver=DidKeyResolver())
    except _OverCap:
        answer.put((time.perf_counter() - start, time.process_time() - cpu, None))
        return
    signal.setitimer(signal.ITIMER_PROF, 0)
    answer.put((time.perf_counter() - start, time.process_time() - cpu, sorted(report.codes())))


def measure(credential: dict[str, Any], before: bool, cap: float) -> dict[str, Any]:
    """One verification in a child process (so a 'before' run can be stopped at the CPU cap)."""
    context = multiprocessing.get_context("spawn")
    answer = context.Queue()
    child = context.Process(target=_timed_verify, args=(credential, before, cap, answer))
    load = os.getloadavg()[0]
    child.start()
    seconds, cpu_seconds, codes = answer.get(timeout=max(600.0, cap * 30))
    child.join()
    result = {"seconds": round(seconds, 3), "cpu_seconds": round(cpu_seconds, 3), "load1": load}
    return {**result, "codes": codes} if codes is not None else {**result, "stopped_at_cpu_cap": cap}


async def healthz_while_poisoned(poison: dict[str, Any], max_work: int | None) -> dict[str, Any]:
    import httpx
    import uvicorn

    from services.runtime import Wiring
    from services.verifier.entrypoint import build
    from shared.db.engine import create_engine, session_factory
    from shared.messaging.memory import InMemoryBus
    from shared.settings import Settings

    overrides: dict[str, Any] = {"DATABASE_URL": "sqlite+aiosqlite://", "CREDSTREAM_VERIFY_WORKERS": 1}
    if max_work is not None:
        overrides["CREDSTREAM_VERIFY_MAX_WORK"] = max_work
    settings = Settings(_env_file=None, **overrides)
    engine = create_engine(settings.database_url)
    parts = build(Wiring(settings, session_factory(engine), InMemoryBus()))
    server = uvicorn.Server(uvicorn.Config(parts.http, host="127.0.0.1", port=0, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
        await http.post("/verify", json=poison)  # warm-up: starts the worker process
        load = os.getloadavg()[0]
        start = time.perf_counter()
        request = asyncio.create_task(http.post("/verify", json=poison))
        while not request.done():
            sent = time.perf_counter()
            assert (await http.get("/healthz")).status_code == 200
            latencies.append((time.perf_counter() - sent) * 1000)
            await asyncio.sleep(0.05)
        response = await request
        took = time.perf_counter() - start
    server.should_exit = True
    await serving
    for hook in parts.on_stop:
        await hook()
    await engine.dispose()
    body = response.json()
    return {
        "max_work": max_work or "default",
        "verify_status": response.status_code,
        "verify_codes": sorted({c["code"] for c in body.get("checks", [])} - {"ok"}) or body.get("code"),
        "verify_seconds": round(took, 3),
        "healthz_samples": len(latencies),
        "healthz_ms_median": round(statistics.median(latencies), 1) if latencies else None,
        "healthz_ms_max": round(max(latencies), 1) if latencies else None,
        "load1": load,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cap", type=float, default=30.0, help="stop a run after this many CPU seconds")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "bench" / "verify_hostile.json")
    parser.add_argument("--skip-before", action="store_true", help="only measure the current code")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"load_before": os.getloadavg(), "cpus": os.cpu_count(), "verify": {}}
    print(f"load average {results['load_before']}")
    for name, credential in shapes().items():
        size = len(json.dumps(credential))
        row: dict[str, Any] = {"bytes": size, "after": measure(credential, before=False, cap=args.cap)}
        if not args.skip_before and name != "tags-12000":  # 12,000 only shows the growth is linear now
            row["before"] = measure(credential, before=True, cap=args.cap)
        results["verify"][name] = row
        print(f"{name:12} {size:7} B  " + "  ".join(f"{k}: {v}" for k, v in row.items() if k != "bytes"))
    poison = shapes()["clique-8"]
    results["healthz"] = [asyncio.run(healthz_while_poisoned(poison, m)) for m in (None, 10**12)]
    for run in results["healthz"]:
        print(f"/healthz while POST /verify (clique-8) runs: {run}")
    results["load_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"load average {results['load_after']}; written {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

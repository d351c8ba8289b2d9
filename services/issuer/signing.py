"""Building and signing credentials across cores.

Signing is pure CPU (JSON-LD canonicalisation in Python), so a batch is split over a pool of worker processes.
A job carries everything it needs, the key as its 32-byte seed: the decrypted key only ever travels over the
pipe between the service and its own workers.

Workers are forked from a forkserver that has imported the service's command line and the signing modules and
signed one sample credential (`services.issuer.signing_worker`), and the service starts them when it starts
(`SigningPool.start`). Spawned workers each imported the whole CLI (web framework, database, migrations) and
processed the JSON-LD contexts again, about a CPU-second each, paid inside the first batch.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import structlog
from pydantic import ValidationError

from services.issuer.domain import build_credential, issuer_profile
from services.issuer.status import Slot, status_entry, status_list_url
from shared.contracts import AchievementSnapshot, AssessmentPassed, AssessmentResult
from shared.credentials.errors import CredentialError
from shared.credentials.keys import did_key, did_key_verification_method, generate_key, key_from_seed, key_to_seed
from shared.credentials.ob3 import Profile
from shared.credentials.proof import sign_credential
from shared.messaging.records import describe_validation_error

log = structlog.get_logger(__name__)
T = TypeVar("T")
WORKER_MODULE = "services.issuer.signing_worker"
CLI_MODULE = "services.cli"  # the `credstream` console script's module

# JSON-LD processing (pyld's context cache) is not thread-safe: two signatures computed at once in one process
# can fail. Whatever this process signs itself (lone credentials, status lists) goes through this one thread.
_SIGNING_THREAD = ThreadPoolExecutor(1, thread_name_prefix="signing")


async def in_signing_thread(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run CPU-heavy signing off the event loop (HTTP and Kafka heartbeats carry on), one at a time."""
    return await asyncio.get_running_loop().run_in_executor(_SIGNING_THREAD, partial(work, *args, **kwargs))


@dataclass(frozen=True)
class SigningJob:
    """One award to turn into a signed credential at `slot`, signed by `seed` as `verification_method`."""

    passed: AssessmentPassed
    issuer: Profile
    public_base_url: str
    issued_at: datetime
    slot: Slot
    seed: bytes
    verification_method: str


@dataclass(frozen=True)
class SigningOutcome:
    """The signed credential as JSON text, or why this award can never make one (the record is then
    dead-lettered). Text, serialised by the worker: the service stores it as it is, and a string crosses the pipe
    back far cheaper than a pickled tree of dicts."""

    credential_json: str | None = None
    refusal: str | None = None


def sign_jobs(jobs: Sequence[SigningJob]) -> list[SigningOutcome]:
    """Build and sign each job (runs in a worker process, or in this process's signing thread)."""
    keys = {seed: key_from_seed(seed) for seed in {job.seed for job in jobs}}
    return [_sign(job, keys[job.seed]) for job in jobs]


def _sign(job: SigningJob, key: Any) -> SigningOutcome:
    try:
        unsigned = build_credential(
            job.passed, issuer=job.issuer, public_base_url=job.public_base_url, issued_at=job.issued_at
        )
        unsigned["credentialStatus"] = status_entry(job.slot).model_dump(mode="json", by_alias=True)
        signed = sign_credential(unsigned, key, job.verification_method, job.issued_at)
        return SigningOutcome(credential_json=json.dumps(signed))
    except ValidationError as error:
        return SigningOutcome(refusal=f"invalid credential: {describe_validation_error(error)}")
    except CredentialError as error:
        return SigningOutcome(refusal=f"cannot sign: [{error.code}] {error}")


def warm_up() -> None:
    """Build and sign one sample credential, so that this process has imported and cached (JSON-LD contexts)
    everything signing needs before the first real job."""
    key = generate_key()
    issuer = did_key(key)
    base = "https://warm-up.credstream.invalid"
    passed = AssessmentPassed(
        tenant_id="warm-up",
        learner_id="warm-up",
        award_id=uuid.UUID(int=0),
        achievement=AchievementSnapshot(
            id="warm-up", name="Warm-up", description="Warms the signing caches.", criteria_narrative="None."
        ),
        results=[AssessmentResult(assessment_id="warm-up", score=1, max_score=1, required_score=1)],
        passed_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    job = SigningJob(
        passed=passed,
        issuer=issuer_profile(issuer, "warm-up", None),
        public_base_url=base,
        issued_at=datetime(2026, 1, 1, tzinfo=UTC),
        slot=Slot(1, 0, status_list_url(base, "warm-up", 1)),
        seed=key_to_seed(key),
        verification_method=did_key_verification_method(key),
    )
    refusal = sign_jobs([job])[0].refusal
    if refusal is not None:
        log.warning("issuer.signing_warm_up_failed", refusal=refusal)


def _preload() -> list[str]:
    """What the forkserver imports: the signing modules, and the service's command line, which multiprocessing
    runs again in every worker as `__mp_main__` (`python -m <module>`: that module; the `credstream` script: a
    file that imports `services.cli`); with its imports done in the forkserver, that re-run costs next to nothing."""
    main = getattr(getattr(sys.modules["__main__"], "__spec__", None), "name", None)
    modules = [WORKER_MODULE, CLI_MODULE]
    if main and main != CLI_MODULE and not main.endswith("__main__"):
        modules.append(main)
    return modules


def _ready() -> int:
    """A job that does nothing: submitted once per worker by `SigningPool.start` so that each is forked now."""
    return os.getpid()


def _exit_with_parent(service: int) -> None:
    """Worker initialiser: a service killed with -9 cannot stop its workers, so they leave when it is gone (its
    forkserver, their parent, leaves at once then, and the worker is re-parented)."""
    forkserver = os.getppid()

    def watch() -> None:
        while os.getppid() == forkserver and _alive(service):
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SigningPool:
    """Signs batches over `processes` worker processes (started on first use); 0 signs in this process."""

    def __init__(self, processes: int) -> None:
        self._processes = processes
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the workers now, in the background (the first batch then finds them forked and warm)."""
        if self._processes == 0:
            return

        def fork_each() -> None:
            executor = self._started()
            for _ in range(self._processes):
                executor.submit(_ready)

        threading.Thread(target=fork_each, name="signing-pool-start", daemon=True).start()

    async def sign(self, jobs: Sequence[SigningJob]) -> list[SigningOutcome]:
        # A lone credential is not worth a hop to another process (pickling both ways, a possibly cold worker).
        if self._processes == 0 or len(jobs) <= 1:
            return await in_signing_thread(sign_jobs, jobs)
        try:
            return await self._on_workers(jobs)
        except BrokenProcessPool:
            # A worker died (OOM killer, kill -9): start a fresh pool and sign the batch once more.
            log.warning("issuer.signing_pool_broken", processes=self._processes)
            self.close()
            return await self._on_workers(jobs)

    async def _on_workers(self, jobs: Sequence[SigningJob]) -> list[SigningOutcome]:
        executor = self._started()
        loop = asyncio.get_running_loop()
        parts = min(self._processes, len(jobs))
        size = -(-len(jobs) // parts)
        chunks = [list(jobs[start : start + size]) for start in range(0, len(jobs), size)]
        signed = await asyncio.gather(*(loop.run_in_executor(executor, sign_jobs, chunk) for chunk in chunks))
        return [outcome for chunk in signed for outcome in chunk]

    def _started(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                # Not fork: the service process runs threads (the event loop's executors, Kafka clients). The
                # forkserver is a single-threaded process that imports and warms the signing modules once.
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(_preload())
                self._executor = ProcessPoolExecutor(
                    self._processes,
                    mp_context=context,
                    initializer=_exit_with_parent,
                    initargs=(os.getpid(),),
                )
            return self._executor

    def close(self) -> None:
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = None


_POOLS: dict[int, SigningPool] = {}


def shared_pool(processes: int) -> SigningPool:
    """This process's pool of that size: services sharing a process (embedded mode, tests) share the workers,
    which concurrent.futures stops at interpreter exit."""
    if processes not in _POOLS:
        _POOLS[processes] = SigningPool(processes)
    return _POOLS[processes]

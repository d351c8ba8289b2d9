"""Run the pure verification core off the event loop: worker processes, bounded, with a deadline per request.

Anyone on the internet can send a credential, and verifying one is CPU work (JSON-LD expansion, RDFC-1.0,
Ed25519) that a hostile document can make long. Run on the event loop, one such request froze every other one,
``/healthz`` included, and the process would not even see SIGTERM. Here:

- verification runs in ``workers`` child processes (the event loop only gathers documents and waits);
- at most ``workers + max_waiting`` requests are in flight; past that :class:`VerifierBusy` (HTTP 503 with
  ``Retry-After``) at once, instead of an ever longer queue;
- each request has ``deadline_seconds``: inside the worker the RDFC-1.0 work bound stops at that deadline
  (``data.too_complex``), and a worker still busy a grace period later is killed and replaced
  (:class:`VerificationTimedOut`): nothing a request sends can hold a worker longer;
- :meth:`VerificationPool.close` kills the workers at once (SIGTERM): waiting requests end with
  :class:`VerifierClosed`.

A request's two steps — reading what the proof signs (to know which status lists to fetch), then verifying — go
to the same worker when it is free: that worker still holds the credential's one-pass statements (or, for a
document the one pass does not cover, its expansion and RDF dataset), so they are built once per request (on
another worker, once more).

Workers are forked, when first needed, from a ``forkserver`` that has imported the verification code (never
from this process, which runs threads and an event loop): a new worker costs milliseconds, not an interpreter
start. Idle workers exit after :data:`IDLE_EXIT_SECONDS`.
See docs/verification-limits.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from shared.credentials.documents import DocumentSet
from shared.credentials.graph import SignedCredential
from shared.credentials.online import signed_view
from shared.credentials.rdfc import DEFAULT_MAX_WORK, work_limits
from shared.credentials.resolver import DocumentResolver
from shared.credentials.vcjwt import VcJwt, verify_vc_jwt
from shared.credentials.verification import DEFAULT_CLOCK_SKEW, VerificationReport, verify_credential

# A worker gets this long past the deadline to answer on its own (the in-algorithm deadline) before it is killed.
KILL_GRACE_SECONDS = 1.0
# An idle worker exits after this long, so pools nobody closes (tests, short-lived apps) leave nothing behind.
IDLE_EXIT_SECONDS = 120.0
# Credentials whose read-signed worker is remembered for their verification (a preference, never a wait).
_AFFINITY_SIZE = 256


class VerifierBusy(Exception):
    """Every worker is busy and the waiting line is full."""


class VerificationTimedOut(Exception):
    """The verification ran past its deadline; its worker was killed."""


class VerifierClosed(Exception):
    """The pool is shutting down."""


@dataclass(frozen=True)
class VerificationLimits:
    """How much verification one process does at a time, and for how long per request."""

    workers: int = 2
    max_waiting: int = 8
    deadline_seconds: float = 10.0
    max_work: int = DEFAULT_MAX_WORK


@dataclass(frozen=True)
class _Job:
    credential: Any
    now: datetime
    documents: DocumentSet
    insecure_hosts: tuple[str, ...]
    trust_named_keys: bool
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW

    def __call__(self) -> VerificationReport:
        resolver = DocumentResolver(self.documents, insecure_hosts=self.insecure_hosts)
        if isinstance(self.credential, VcJwt):
            return verify_vc_jwt(
                self.credential,
                now=self.now,
                resolver=resolver,
                documents=self.documents,
                trust_named_keys=self.trust_named_keys,
                clock_skew=self.clock_skew,
                insecure_hosts=self.insecure_hosts,
            )
        return verify_credential(
            self.credential,
            now=self.now,
            resolver=resolver,
            documents=self.documents,
            trust_named_keys=self.trust_named_keys,
            clock_skew=self.clock_skew,
        )


@dataclass(frozen=True)
class _Call:
    """One unit of work for a worker: a picklable callable run under the request's work bound and deadline."""

    work: Callable[[], Any]
    seconds: float
    max_work: int
    name: str = field(default="verification")


@dataclass(frozen=True)
class _ReadSigned:
    credential: Any

    def __call__(self) -> SignedCredential | None:
        return signed_view(self.credential)


def run_job(call: _Call) -> Any:
    """What a worker does for one request (pure; also callable in-process, e.g. by tests)."""
    with work_limits(max_work=call.max_work, seconds=call.seconds):
        return call.work()


def _worker_main(connection: Connection) -> None:
    """Child process loop: one job in, one report (or the error's text) out, until the pipe closes."""
    while True:
        try:
            if not connection.poll(IDLE_EXIT_SECONDS):
                return
            job = connection.recv()
        except (EOFError, OSError):
            return  # the parent closed the pipe or died
        try:
            outcome: tuple[str, Any] = ("report", run_job(job))
        except Exception as error:  # reported to the parent, which answers with problem details
            outcome = ("error", f"{type(error).__name__}: {error}")
        connection.send(outcome)


def _worker_context() -> Any:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


class _Worker:
    def __init__(self, context: Any) -> None:
        parent, child = context.Pipe()
        self.connection: Connection = parent
        self.process: BaseProcess = context.Process(target=_worker_main, args=(child,), daemon=True)
        self.process.start()
        child.close()

    def kill(self) -> None:
        """Stop the process (its pipe then reads as closed); :meth:`discard` also frees the pipe."""
        with contextlib.suppress(Exception):
            self.process.kill()
            self.process.join(1)

    def discard(self) -> None:
        self.kill()
        with contextlib.suppress(Exception):
            self.connection.close()


class VerificationPool:
    """Bounded, killable worker processes for :func:`run_job` (see the module docstring)."""

    def __init__(self, limits: VerificationLimits | None = None) -> None:
        self.limits = limits or VerificationLimits()
        self._context = _worker_context()
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._slots: asyncio.Semaphore | None = None
        self._in_flight = 0
        self._closed = False
        # id(credential) -> the worker that read it (read_signed), preferred for verifying it.
        self._read_by: OrderedDict[int, _Worker] = OrderedDict()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def verify(
        self,
        credential: Any,
        *,
        now: datetime,
        documents: DocumentSet,
        insecure_hosts: tuple[str, ...] = (),
        trust_named_keys: bool = False,
        clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
    ) -> VerificationReport:
        """Verify in a worker; raises :class:`VerifierBusy`, :class:`VerificationTimedOut`, :class:`VerifierClosed`."""
        job = _Job(credential, now, documents, insecure_hosts, trust_named_keys, clock_skew)
        report: VerificationReport = await self.call(job, prefer=self._read_by.pop(id(credential), None))
        return report

    async def read_signed(self, credential: Any) -> SignedCredential | None:
        """What the proof signs (issuer, status entries...) read from the expanded graph, in a worker: expansion
        of untrusted JSON-LD is CPU work too. ``None`` when the credential has no such graph."""
        ran_on: list[_Worker] = []
        signed: SignedCredential | None = await self.call(_ReadSigned(credential), ran_on=ran_on)
        self._read_by[id(credential)] = ran_on[0]
        if len(self._read_by) > _AFFINITY_SIZE:
            self._read_by.popitem(last=False)
        return signed

    async def call(
        self, work: Callable[[], Any], *, prefer: _Worker | None = None, ran_on: list[_Worker] | None = None
    ) -> Any:
        """Run ``work`` (picklable) in a worker under the limits; same errors as :meth:`verify`.

        ``prefer``: that worker, if it is idle. ``ran_on`` gets the worker that ran it."""
        if self._closed:
            raise VerifierClosed("the verifier is shutting down")
        if self._in_flight >= self.limits.workers + self.limits.max_waiting:
            raise VerifierBusy(f"{self._in_flight} verifications in progress or waiting")
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.limits.workers)
        deadline = time.monotonic() + self.limits.deadline_seconds
        self._in_flight += 1
        try:
            async with self._slots:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise VerificationTimedOut("the verification waited past its deadline")
                call = _Call(work, remaining, self.limits.max_work)
                return await self._run(call, remaining + KILL_GRACE_SECONDS, prefer, ran_on)
        finally:
            self._in_flight -= 1

    async def _run(
        self, job: _Call, timeout: float, prefer: _Worker | None = None, ran_on: list[_Worker] | None = None
    ) -> Any:
        if self._closed:
            raise VerifierClosed("the verifier is shutting down")
        # Starting a process (the forkserver, the first time) and writing a large job to the pipe block: not here.
        worker = self._idle_worker(prefer) or await asyncio.to_thread(_Worker, self._context)
        if ran_on is not None:
            ran_on.append(worker)
        if self._closed:  # closed while the worker started
            worker.discard()
            raise VerifierClosed("the verifier is shutting down")
        self._busy.add(worker)
        loop = asyncio.get_running_loop()
        answered: asyncio.Future[None] = loop.create_future()
        fd = worker.connection.fileno()
        loop.add_reader(fd, lambda: answered.done() or answered.set_result(None))
        healthy = False
        try:
            try:
                await asyncio.to_thread(worker.connection.send, job)
            except (OSError, ValueError):
                raise VerificationTimedOut("the verification worker stopped") from None
            try:
                await asyncio.wait_for(answered, timeout)
            except TimeoutError:
                seconds = self.limits.deadline_seconds
                raise VerificationTimedOut(f"the verification took longer than {seconds} s") from None
            try:
                kind, value = worker.connection.recv()
            except (EOFError, OSError):
                if self._closed:
                    raise VerifierClosed("the verifier is shutting down") from None
                raise VerificationTimedOut("the verification worker stopped") from None
            healthy = True
        finally:
            with contextlib.suppress(Exception):
                loop.remove_reader(fd)
            self._busy.discard(worker)
            if healthy and not self._closed:
                self._idle.append(worker)
            else:
                worker.discard()
        if kind == "error":
            raise RuntimeError(value)
        return value

    async def warm_up(self) -> None:
        """Start the forkserver and one worker before the first request, which would otherwise wait for both (seconds
        on a busy machine, counted against its deadline). Run in the background once the service is ready."""
        if self._closed or self._idle or self._busy:
            return
        worker = await asyncio.to_thread(_Worker, self._context)
        if self._closed or self._idle or self._busy:
            worker.discard()
        else:
            self._idle.append(worker)

    def _idle_worker(self, prefer: _Worker | None = None) -> _Worker | None:
        if prefer is not None and prefer in self._idle and prefer.process.is_alive():
            self._idle.remove(prefer)
            return prefer
        while self._idle:
            worker = self._idle.pop()
            if worker.process.is_alive():
                return worker
            worker.discard()  # exited after idling
        return None

    def close(self) -> None:
        """Kill every worker now; requests in progress end with :class:`VerifierClosed`."""
        self._closed = True
        self._read_by.clear()
        for worker in self._idle:
            worker.discard()
        self._idle.clear()
        for worker in self._busy:
            worker.kill()  # the request waiting on it sees the pipe close and discards it

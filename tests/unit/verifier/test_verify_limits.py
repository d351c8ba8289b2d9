"""Hostile credentials cannot freeze the verifier: the work bound refuses poison graphs (``data.too_complex``),
long arrays verify, verification runs in bounded worker processes with a deadline, ``/healthz`` answers while a
slow verification runs, a full pool answers 503 with Retry-After, and the CLI has the same limits."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.cli import main as cli_main
from services.runtime import Wiring
from services.verifier.entrypoint import build
from services.verifier.pool import (
    VerificationLimits,
    VerificationPool,
    VerificationTimedOut,
    VerifierBusy,
    VerifierClosed,
)
from shared.credentials import DidKeyResolver, verify_credential
from shared.credentials.documents import DocumentSet
from shared.db.engine import create_engine, session_factory
from shared.messaging.memory import InMemoryBus
from shared.settings import Settings
from tests.unit.credentials.samples import with_blank_node_clique, with_tags

# A pool without the work bound: the clique then runs until the deadline stops it (a stand-in for any slow input).
UNBOUNDED = 10**12


class _SleepWhenUnpickled:
    """Makes the worker sleep before it even starts verifying: only the kill can end that job in time."""

    def __reduce__(self) -> tuple[Any, tuple[float]]:
        return (time.sleep, (30.0,))


def _codes(report: Any) -> set[str]:
    return {check["code"] for check in report["checks"]} if isinstance(report, dict) else report.codes()


# ----------------------------------------------------------------------------------------------------
# The pure core: refusal by the work bound, linear long arrays
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [8, 9])
def test_a_blank_node_clique_is_refused_as_too_complex(signed_credential: dict[str, Any], now: datetime, size: int):
    report = verify_credential(with_blank_node_clique(signed_credential, size), now=now, resolver=DidKeyResolver())
    assert not report.verified
    signature = next(c for c in report.checks if c.check == "proof.signature")
    assert (signature.outcome, signature.code) == ("failed", "data.too_complex")


def test_a_small_clique_is_still_judged(signed_credential: dict[str, Any], now: datetime) -> None:
    """Under the bound the graph is canonicalised: the signature is simply not the one of this document."""
    report = verify_credential(with_blank_node_clique(signed_credential, 4), now=now, resolver=DidKeyResolver())
    assert "proof.signature_invalid" in report.codes() and "data.too_complex" not in report.codes()


def test_a_credential_with_6000_tags_verifies(issuer_key: Any, unsigned_credential: dict[str, Any], now: datetime):
    from shared.credentials import did_key_verification_method, sign_credential
    from tests.unit.credentials.conftest import SIGNED_AT

    tagged = with_tags(unsigned_credential, 6000)
    signed = sign_credential(tagged, issuer_key, did_key_verification_method(issuer_key), SIGNED_AT)
    report = verify_credential(signed, now=now, resolver=DidKeyResolver())
    assert report.verified, report.failures()


# ----------------------------------------------------------------------------------------------------
# The worker pool
# ----------------------------------------------------------------------------------------------------


async def test_the_pool_verifies_and_refuses_in_a_worker(signed_credential: dict[str, Any], now: datetime) -> None:
    pool = VerificationPool(VerificationLimits(workers=1))
    try:
        good = await pool.verify(signed_credential, now=now, documents=DocumentSet())
        assert good.verified, good.failures()
        poisoned = await pool.verify(with_blank_node_clique(signed_credential, 8), now=now, documents=DocumentSet())
        assert "data.too_complex" in poisoned.codes()
    finally:
        pool.close()


async def test_the_deadline_stops_work_inside_the_algorithm(signed_credential: dict[str, Any], now: datetime):
    pool = VerificationPool(VerificationLimits(workers=1, deadline_seconds=0.5, max_work=UNBOUNDED))
    try:
        report = await pool.verify(with_blank_node_clique(signed_credential, 9), now=now, documents=DocumentSet())
        assert "data.too_complex" in report.codes()
    finally:
        pool.close()


async def test_a_worker_past_its_deadline_is_killed_and_replaced(
    signed_credential: dict[str, Any], now: datetime
) -> None:
    pool = VerificationPool(VerificationLimits(workers=1, deadline_seconds=0.2))
    try:
        with pytest.raises(VerificationTimedOut):
            await pool.verify({"stall": _SleepWhenUnpickled()}, now=now, documents=DocumentSet())
        report = await pool.verify(signed_credential, now=now, documents=DocumentSet())
        assert report.verified
    finally:
        pool.close()


async def test_a_full_pool_says_busy_at_once(signed_credential: dict[str, Any], now: datetime) -> None:
    pool = VerificationPool(VerificationLimits(workers=1, max_waiting=0, deadline_seconds=20, max_work=UNBOUNDED))
    slow = asyncio.create_task(
        pool.verify(with_blank_node_clique(signed_credential, 9), now=now, documents=DocumentSet())
    )
    try:
        await asyncio.sleep(0.2)
        assert pool.in_flight == 1 and not slow.done()
        with pytest.raises(VerifierBusy):
            await pool.verify(signed_credential, now=now, documents=DocumentSet())
    finally:
        pool.close()
    with pytest.raises(VerifierClosed):
        await slow  # closing kills the busy worker: the request ends now, not at its deadline


# ----------------------------------------------------------------------------------------------------
# Over HTTP
# ----------------------------------------------------------------------------------------------------


def _app(settings: Settings, **limits: Any) -> tuple[Any, Any]:
    engine = create_engine("sqlite+aiosqlite://")
    wiring = Wiring(
        settings.model_copy(update={"max_body_bytes": 200_000, **limits}),
        session_factory(engine),
        InMemoryBus(),
        document_fetcher=None,
    )
    return build(wiring), engine


@pytest.fixture
async def verifier(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    async for pair in _serving(settings):
        yield pair


@pytest.fixture
async def unbounded_verifier(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """One worker, no waiting line, no work bound: a clique of 9 keeps it busy until its deadline (20 s)."""
    async for pair in _serving(settings, verify_max_work=UNBOUNDED, verify_deadline_seconds=20.0):
        yield pair


async def _serving(settings: Settings, **limits: Any) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    parts, engine = _app(settings, verify_workers=1, verify_max_waiting=0, **limits)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=parts.http), base_url="http://verifier") as http:
        yield http, parts
    for hook in parts.on_stop:
        await hook()
    await engine.dispose()


async def test_post_verify_refuses_a_poison_graph_with_a_code(
    verifier: tuple[httpx.AsyncClient, Any], signed_credential: dict[str, Any]
) -> None:
    http, _ = verifier
    response = await http.post("/verify", json=with_blank_node_clique(signed_credential, 8))
    assert response.status_code == 200, response.text
    assert response.json()["verified"] is False
    assert "data.too_complex" in _codes(response.json())


async def test_healthz_answers_and_a_full_verifier_says_503_while_a_slow_verification_runs(
    unbounded_verifier: tuple[httpx.AsyncClient, Any], signed_credential: dict[str, Any]
) -> None:
    http, parts = unbounded_verifier
    slow = asyncio.create_task(http.post("/verify", json=with_blank_node_clique(signed_credential, 9)))
    try:
        await asyncio.sleep(0.5)
        assert not slow.done()
        health = await http.get("/healthz")
        assert health.status_code == 200 and not slow.done()  # answered while the verification still runs
        busy = await http.post("/verify", json=signed_credential)
        assert busy.status_code == 503
        assert busy.headers["retry-after"].isdigit()
        assert busy.headers["content-type"].startswith("application/problem+json")
        assert busy.json()["code"] == "verification.busy"
    finally:
        for hook in parts.on_stop:  # what SIGTERM does: the slow request ends now
            await hook()
    stopped = await slow
    assert stopped.status_code == 503 and stopped.json()["code"] == "verification.unavailable"


# ----------------------------------------------------------------------------------------------------
# The CLI
# ----------------------------------------------------------------------------------------------------


def test_cli_refuses_a_poison_graph_and_goes_on(
    tmp_path: Path, signed_credential: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    poison, good = tmp_path / "poison.json", tmp_path / "good.json"
    poison.write_text(json.dumps(with_blank_node_clique(signed_credential, 8)))
    good.write_text(json.dumps(signed_credential))
    status = cli_main(["verify", "--offline", "--now", "2026-06-01T00:00:00Z", str(poison), str(good)])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert status == 1
    assert "data.too_complex" in _codes(lines[0]) and not lines[0]["verified"]
    assert lines[1]["verified"] is True

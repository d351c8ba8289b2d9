"""The verifier starts its first worker in the background once it serves, so the first request does not wait for
the forkserver and a worker to start (against its deadline)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.verifier.pool import VerificationLimits, VerificationPool
from shared.credentials.documents import DocumentSet


async def test_a_warmed_up_pool_verifies_on_the_worker_it_started(
    signed_credential: dict[str, Any], now: datetime
) -> None:
    pool = VerificationPool(VerificationLimits(workers=1))
    try:
        await pool.warm_up()
        await pool.warm_up()  # once is enough: a second call starts nothing
        assert len(pool._idle) == 1
        warmed = pool._idle[0]
        report = await pool.verify(signed_credential, now=now, documents=DocumentSet())
        assert report.verified, report.failures()
        assert pool._idle == [warmed]
    finally:
        pool.close()


async def test_a_closed_pool_keeps_no_warmed_worker() -> None:
    pool = VerificationPool(VerificationLimits(workers=1))
    pool.close()
    await pool.warm_up()
    assert pool._idle == []

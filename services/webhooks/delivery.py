"""The delivery loop: every replica polls PostgreSQL for due deliveries, leases a few (FOR UPDATE SKIP LOCKED, then
`next_attempt_at` moved past the attempt's timeout), sends them outside any transaction, and records each attempt.

A replica that dies mid-send leaves its lease to expire, and another one sends the delivery again: at least once,
with the same `webhook-id` for receivers to drop duplicates (as Standard Webhooks expects).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import structlog
from cryptography.exceptions import InvalidTag
from sqlalchemy import select, update

from services.webhooks.adapters.subscriptions import SecretBox
from services.webhooks.adapters.tables import Attempt, Delivery, Subscription
from services.webhooks.domain import DeliveryStatus, RetryPolicy, message_id, succeeded, webhook_headers
from shared.credentials.fetch import FetchError, HttpDocumentFetcher
from shared.db.engine import SessionFactory, transaction
from shared.db.errors import is_outage
from shared.db.tables import utcnow

log = structlog.get_logger(__name__)

_LEASE_MARGIN = timedelta(seconds=30)


@dataclass(frozen=True)
class _Leased:
    delivery_id: uuid.UUID
    subscription_id: uuid.UUID
    url: str
    body: bytes
    subscription: Subscription  # detached copy: its sealed secrets are opened when sending
    attempts: int


@dataclass(frozen=True)
class _Result:
    leased: _Leased
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryLoop:
    def __init__(
        self,
        sessions: SessionFactory,
        box: SecretBox,
        policy: RetryPolicy,
        url_policy: HttpDocumentFetcher,
        *,
        timeout: float = 10.0,
        batch_size: int = 50,
        poll_seconds: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self._sessions = sessions
        self._box = box
        self._policy = policy
        self._url_policy = url_policy
        self._timeout = timeout
        self._batch_size = batch_size
        self._poll = poll_seconds
        self._clock = clock
        self._draw = draw
        self._client: httpx.AsyncClient | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`: send what is due; when nothing is, wait a poll interval. An outage is waited out."""
        self._client = httpx.AsyncClient(follow_redirects=False)
        try:
            while not stop.is_set():
                try:
                    sent = await self.run_once()
                except Exception as error:
                    if not is_outage(error):
                        log.exception("webhooks.loop_failed")
                    else:
                        log.warning("webhooks.database_unavailable", error=repr(error)[:300])
                    sent = 0
                if sent < self._batch_size:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self._poll)
        finally:
            await self._client.aclose()
            self._client = None

    async def run_once(self) -> int:
        """One pass: lease due deliveries, send them concurrently, record the attempts. Returns how many."""
        leased = await self._lease()
        if leased:
            results = await asyncio.gather(*(self._send(item) for item in leased))
            await self._record(results)
        return len(leased)

    async def _lease(self) -> list[_Leased]:
        now = self._clock()
        async with transaction(self._sessions) as session:
            rows = await session.execute(
                select(Delivery, Subscription)
                .join(Subscription, Subscription.id == Delivery.subscription_id)  # type: ignore[arg-type]
                .where(
                    Delivery.status == DeliveryStatus.PENDING,  # type: ignore[arg-type]
                    Delivery.next_attempt_at <= now,  # type: ignore[arg-type]
                    Subscription.active == True,  # noqa: E712 - SQL expression
                )
                .order_by(Delivery.next_attempt_at)  # type: ignore[arg-type]
                .limit(self._batch_size)
                .with_for_update(of=Delivery, skip_locked=True)  # type: ignore[arg-type]
            )
            found = list(rows.all())
            if not found:
                return []
            await session.execute(
                update(Delivery)
                .where(Delivery.id.in_([delivery.id for delivery, _s in found]))  # type: ignore[attr-defined]
                .values(next_attempt_at=now + timedelta(seconds=self._timeout) + _LEASE_MARGIN)
            )
        return [_Leased(d.id, s.id, s.url, d.body.encode(), s, d.attempts) for d, s in found]

    async def _send(self, item: _Leased) -> _Result:
        assert self._client is not None
        started = time.monotonic()
        status_code, error = None, None
        try:
            now = self._clock()
            keys = self._box.keys_in_force(item.subscription, now)
            # Checked at every attempt, not only when subscribing: DNS may point the name elsewhere since.
            await self._url_policy.check_url(item.url)
            headers = webhook_headers(keys, message_id(item.delivery_id), now, item.body)
            # The whole attempt within the timeout (httpx's applies per read: a slow drip would outlive the lease).
            async with (
                asyncio.timeout(self._timeout),
                self._client.stream(
                    "POST", item.url, content=item.body, headers=headers, timeout=self._timeout
                ) as response,
            ):
                status_code = response.status_code
                if not succeeded(status_code):
                    error = f"answered {status_code}"
        except InvalidTag:
            error = "the secret cannot be decrypted (was CREDSTREAM_KEY_ENCRYPTION_KEY changed?)"
        except FetchError as refused:
            error = f"refused: {refused}"
        except TimeoutError:
            error = f"timed out after {self._timeout:g} s"
        except httpx.HTTPError as failed:
            error = f"{type(failed).__name__}: {failed}" if str(failed) else type(failed).__name__
        return _Result(item, status_code, error, round((time.monotonic() - started) * 1000))

    async def _record(self, results: list[_Result]) -> None:
        now = self._clock()
        async with transaction(self._sessions) as session:
            for result in results:
                attempts = result.leased.attempts + 1
                values: dict[str, object] = {"attempts": attempts}
                if result.error is None:
                    outcome = "delivered"
                    values.update(status=DeliveryStatus.DELIVERED, finished_at=now, last_error=None)
                else:
                    delay = self._policy.delay(attempts, self._draw)
                    values["last_error"] = result.error[:1000]
                    if delay is None:
                        outcome = "dead"
                        values.update(status=DeliveryStatus.DEAD, finished_at=now)
                        log.error(
                            "webhooks.dead_lettered",
                            delivery=str(result.leased.delivery_id),
                            subscription=str(result.leased.subscription_id),
                            attempts=attempts,
                            error=result.error[:300],
                        )
                    else:
                        outcome = "retry"
                        values["next_attempt_at"] = now + delay
                # Only a delivery still pending under our lease is updated (a replay meanwhile starts it afresh).
                await session.execute(
                    update(Delivery)
                    .where(
                        Delivery.id == result.leased.delivery_id,  # type: ignore[arg-type]
                        Delivery.status == DeliveryStatus.PENDING,  # type: ignore[arg-type]
                        Delivery.attempts == result.leased.attempts,  # type: ignore[arg-type]
                    )
                    .values(**values)
                )
                session.add(
                    Attempt(
                        delivery_id=result.leased.delivery_id,
                        subscription_id=result.leased.subscription_id,
                        attempted_at=now,
                        status_code=result.status_code,
                        duration_ms=result.duration_ms,
                        outcome=outcome,
                        error=None if result.error is None else result.error[:1000],
                    )
                )


async def replay(
    sessions: SessionFactory, subscription_id: uuid.UUID, delivery_id: uuid.UUID | None, now: datetime | None = None
) -> int:
    """Dead-lettered deliveries of a subscription (one, or all) due again now with a fresh set of attempts."""
    condition = [Delivery.subscription_id == subscription_id, Delivery.status == DeliveryStatus.DEAD]
    if delivery_id is not None:
        condition.append(Delivery.id == delivery_id)
    async with transaction(sessions) as session:
        result = await session.execute(
            update(Delivery)
            .where(*condition)  # type: ignore[arg-type]
            .values(status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now or utcnow(), finished_at=None)
        )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]

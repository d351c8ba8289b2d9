"""Two replicas' outbox relays on one PostgreSQL outbox table: one leads and relays what both stage (the other
NOTIFYs it), every row goes out once and in commit order, and when the leader's connection dies the other takes
over and relays what was staged meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from services.enrollment.adapters.tables import EnrollmentOutbox
from shared.db.engine import SessionFactory, create_engine, session_factory, transaction
from shared.db.migrations import upgrade
from shared.db.outbox import OutboxRelay, stage_records
from shared.messaging.memory import InMemoryBus
from shared.messaging.records import OutboundRecord
from tests.helpers import eventually

pytestmark = pytest.mark.integration

TOPIC = "credstream.test-relay.v1"


@asynccontextmanager
async def replica(url: str, bus: InMemoryBus) -> AsyncIterator[tuple[SessionFactory, OutboxRelay, asyncio.Event]]:
    """One replica's database pool and running relay (stopped and disposed on exit)."""
    engine = create_engine(url)
    sessions = session_factory(engine)
    # No polling to speak of: what the leader relays, it was woken for (its own commits, the follower's NOTIFY).
    relay = OutboxRelay(sessions, EnrollmentOutbox, bus, poll_interval=60, leadership_retry=0.2)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        yield sessions, relay, stop
    finally:
        stop.set()
        await task
        await engine.dispose()


def until(condition: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return condition()

    return probe


async def stage(sessions: SessionFactory, relay: OutboxRelay, keys: list[str]) -> None:
    async with transaction(sessions) as session:
        await stage_records(session, EnrollmentOutbox, [OutboundRecord(TOPIC, key, key.encode(), {}) for key in keys])
    relay.wake()


@pytest.fixture
async def url(postgres_url: str) -> str:
    engine = create_engine(postgres_url)
    await upgrade(engine, "enrollment")
    await engine.dispose()
    return postgres_url


async def test_one_relay_leads_and_relays_what_every_replica_stages_once_in_order(url: str) -> None:
    bus = InMemoryBus()
    async with replica(url, bus) as (first, first_relay, _), replica(url, bus) as (second, second_relay, _):
        await eventually(until(lambda: first_relay.leading or second_relay.leading), timeout=10)
        assert not (first_relay.leading and second_relay.leading)
        follower = (second, second_relay) if first_relay.leading else (first, first_relay)
        expected = ["from-the-follower"]
        await stage(*follower, expected)
        await eventually(until(lambda: len(bus.records(TOPIC)) == 1), timeout=10)
        for n in range(20):
            sessions, relay = (first, first_relay) if n % 2 else (second, second_relay)
            keys = [f"k{n}-{i}" for i in range(5)]
            await stage(sessions, relay, keys)
            expected += keys
        # The follower's commits reach the leader by NOTIFY, well before the leader's next poll.
        await eventually(until(lambda: len(bus.records(TOPIC)) == len(expected)), timeout=10)
        assert [r.key for r in bus.records(TOPIC)] == expected
        assert await first_relay.backlog() == (0, None)


async def test_when_the_leader_dies_the_follower_takes_over(url: str) -> None:
    bus = InMemoryBus()
    async with replica(url, bus) as (first, first_relay, _), replica(url, bus) as (second, second_relay, _):
        await eventually(until(lambda: first_relay.leading or second_relay.leading), timeout=10)
        leader, follower = (first_relay, second_relay) if first_relay.leading else (second_relay, first_relay)
        follower_sessions = second if follower is second_relay else first
        # As after kill -9: the leader's connection is gone (PostgreSQL releases its lock), its relay does not know.
        leader._connection.terminate()  # type: ignore[attr-defined]
        await stage(follower_sessions, follower, ["after-the-leader"])
        await eventually(until(lambda: [r.key for r in bus.records(TOPIC)] == ["after-the-leader"]), timeout=10)
        assert follower.leading or leader.leading


async def test_a_row_nobody_announced_still_goes_out_on_the_leaders_safety_net_poll(url: str) -> None:
    """A replica killed between its commit and its NOTIFY leaves rows nobody woke the leader for: the leader reads
    the table on a (slow) timer as well."""
    engine = create_engine(url)
    sessions = session_factory(engine)
    bus = InMemoryBus()
    relay = OutboxRelay(sessions, EnrollmentOutbox, bus, poll_interval=0.1, listening_poll_interval=1.0)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        await eventually(until(lambda: relay.leading), timeout=10)
        async with transaction(sessions) as session:  # no wake(), no NOTIFY
            await stage_records(session, EnrollmentOutbox, [OutboundRecord(TOPIC, "silent", b"silent", {})])
        await eventually(until(lambda: [r.key for r in bus.records(TOPIC)] == ["silent"]), timeout=5, interval=0.05)
    finally:
        stop.set()
        await task
        await engine.dispose()

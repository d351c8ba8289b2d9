"""The outbox relay's loop on SQLite (one process, no leader election): a wake-up relays what was staged without
waiting for the poll, and `stop` ends the loop at once however long the poll interval (shutdown is not held up)."""

from __future__ import annotations

import asyncio

from services.enrollment.adapters.tables import EnrollmentOutbox
from shared.db.engine import transaction
from shared.db.outbox import OutboxRelay, stage_records
from shared.messaging.memory import InMemoryBus
from shared.messaging.records import OutboundRecord
from tests.helpers import eventually
from tests.unit.test_batch_consumer import sessions  # noqa: F401 (fixture)

TOPIC = "credstream.test-relay.v1"


async def test_a_wake_up_relays_at_once_and_stop_ends_the_loop_at_once(sessions) -> None:  # type: ignore[no-untyped-def]  # noqa: F811 (fixture)
    bus = InMemoryBus()
    relay = OutboxRelay(sessions, EnrollmentOutbox, bus, poll_interval=3600)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    async with transaction(sessions) as session:
        await stage_records(session, EnrollmentOutbox, [OutboundRecord(TOPIC, f"k{n}", b"{}", {}) for n in range(3)])
    relay.wake()

    async def published() -> bool:
        return len(bus.records(TOPIC)) == 3

    await eventually(published, timeout=30, interval=0.01)  # long before the hour's poll
    assert [r.key for r in bus.records(TOPIC)] == ["k0", "k1", "k2"]
    stop.set()
    await asyncio.wait_for(running, timeout=30)  # a guard against hanging, not a timing assertion
    assert await relay.backlog() == (0, None)

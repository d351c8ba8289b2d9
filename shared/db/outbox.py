"""Transactional outbox: stage events inside the state-changing transaction; a relay publishes them afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import json
import zlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.backoff import Backoff
from shared.contracts import CloudEvent, TopicEvent
from shared.db.bulk import insert_rows
from shared.db.engine import SessionFactory, transaction
from shared.db.tables import OutboxRecord, utcnow
from shared.messaging.records import OutboundRecord, RecordPublisher, event_record

log = structlog.get_logger(__name__)


def stage_event(session: AsyncSession, table: type[OutboxRecord], event: TopicEvent, ce: CloudEvent) -> None:
    """Write `event` to the outbox in the caller's transaction: published if and only if the state commits."""
    record = event_record(event, ce)
    session.add(
        table(
            topic=record.topic,
            key=record.key,
            value=record.value.decode(),
            headers=json.dumps(record.headers),
        )
    )


async def stage_events(
    session: AsyncSession, table: type[OutboxRecord], events: Sequence[tuple[TopicEvent, CloudEvent]]
) -> None:
    """`stage_event` for many events in one statement (their order is their commit order)."""
    await stage_records(session, table, [event_record(event, ce) for event, ce in events])


async def stage_records(session: AsyncSession, table: type[OutboxRecord], records: Sequence[OutboundRecord]) -> None:
    """Records already built (`event_record`) into the outbox in one statement, in order."""
    if not records:
        return
    now = utcnow()
    await insert_rows(session, table, [{**outbox_row(record), "created_at": now} for record in records])


def outbox_row(record: OutboundRecord) -> dict[str, str]:
    """A record as the outbox table's columns (`created_at` aside)."""
    return {
        "topic": record.topic,
        "key": record.key,
        "value": record.value.decode(),
        "headers": json.dumps(record.headers),
    }


def _records(rows: Sequence[Any]) -> list[OutboundRecord]:
    return [OutboundRecord(r.topic, r.key, r.value.encode(), json.loads(r.headers)) for r in rows]


class OutboxRelay:
    """Publishes staged events in commit order, then deletes them.

    A crash between publish and delete re-publishes a batch; consumers are idempotent, so that is harmless.

    On PostgreSQL the replicas of a service share one outbox table and one of them relays it: the leader, which
    holds a session advisory lock on a connection of its own and LISTENs there. The others (followers) do not read
    the table: after a commit that staged events they NOTIFY the leader, and every `leadership_retry` seconds they
    try the lock, so one takes over within that time when the leader stops or dies (its connection closes, PostgreSQL
    releases the lock). One relay per table means one pass (a read, a publish, a delete) per burst of commits
    whatever the number of replicas, and records leave in one stream instead of two interleaved ones, so the
    consumers downstream get batches as large as with one replica. Each pass also takes a transaction advisory lock,
    so two relays never publish the same rows at once even while leadership changes hands; per key, order holds.
    """

    def __init__(
        self,
        sessions: SessionFactory,
        table: type[OutboxRecord],
        publisher: RecordPublisher,
        *,
        batch_size: int = 1000,
        poll_interval: float = 0.5,
        listening_poll_interval: float = 5.0,
        linger: float = 0.005,
        leadership_retry: float = 1.0,
    ) -> None:
        self._sessions = sessions
        self._table = table
        self._publisher = publisher
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        # A leader LISTENs: its own commits wake it and followers NOTIFY it, so reading the table on a timer is only
        # a safety net (a notification lost with a connection, a replica killed between its commit and its NOTIFY).
        self._listening_poll_interval = max(poll_interval, listening_poll_interval)
        self._linger = linger
        self._leadership_retry = leadership_retry
        self._wakeup = asyncio.Event()
        self._lock_id = zlib.crc32(table.__tablename__.encode())  # type: ignore[attr-defined]
        self._leader_lock_id = zlib.crc32(f"{table.__tablename__}:leader".encode())  # type: ignore[attr-defined]
        self._channel = f"credstream_outbox_{table.__tablename__}"  # type: ignore[attr-defined]
        self._connection: Any = None  # asyncpg connection of its own (PostgreSQL): the leader lock, LISTEN, NOTIFY
        self.leading = False

    @property
    def table_name(self) -> str:
        return self._table.__tablename__  # type: ignore[attr-defined,no-any-return]

    async def backlog(self) -> tuple[int, datetime | None]:
        """How many events wait to be published, and when the oldest was staged (for metrics)."""
        table = self._table
        async with self._sessions() as session:
            found = await session.execute(select(func.count(), func.min(table.created_at)))
            depth, oldest = found.one()
        return depth, oldest

    def wake(self) -> None:
        """Called after a commit that staged events, so they go out without waiting for the next poll."""
        self._wakeup.set()

    def _engine_dialect(self) -> str:
        bind = self._sessions.kw.get("bind")
        return bind.dialect.name if bind is not None else ""

    async def relay_once(self) -> int:
        """Publish one batch; returns how many records went out."""
        if self._engine_dialect() == "sqlite":
            return await self._relay_outside_transaction()
        async with transaction(self._sessions) as session:
            bind = session.bind
            postgres = bind is not None and bind.dialect.name == "postgresql"
            if postgres:
                locked = (
                    await session.execute(text("SELECT pg_try_advisory_xact_lock(:id)"), {"id": self._lock_id})
                ).scalar_one()
                if not locked:
                    return 0
            rows = await self._read_batch(session)
            if not rows:
                return 0
            await self._publisher.publish(_records(rows))
            await session.execute(self._delete([r.id for r in rows]))
            return len(rows)

    # Core statements: the relay only reads and deletes rows, so ORM objects (and a delete that looks for them in
    # the session) would be per-record work for nothing, a third of what relaying a record cost.
    def _delete(self, ids: list[int]) -> Any:
        table = self._table.__table__  # type: ignore[attr-defined]
        return delete(table).where(table.c.id.in_(ids))

    async def _relay_outside_transaction(self) -> int:
        """SQLite has one write lock per database, and a transaction here holds it from its first statement. An
        in-process consumer of a topic this outbox feeds (the embedded mode's bus delivers during `publish`) may
        write to the same database, so the batch is read, published, then deleted in separate transactions."""
        async with transaction(self._sessions) as session:
            rows = await self._read_batch(session)
        if not rows:
            return 0
        await self._publisher.publish(_records(rows))
        async with transaction(self._sessions) as session:
            await session.execute(self._delete([r.id for r in rows]))
        return len(rows)

    async def _read_batch(self, session: AsyncSession) -> Sequence[Any]:
        """The oldest `batch_size` staged rows, as plain rows (Core: no ORM objects to build and track)."""
        columns = self._table.__table__.c  # type: ignore[attr-defined]
        query = select(columns.id, columns.topic, columns.key, columns.value, columns.headers)
        return (await session.execute(query.order_by(columns.id).limit(self._batch_size))).all()

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until `stop` is set; transport or database errors are logged and retried with back-off.

        Wake-ups are coalesced: every commit may call `wake`, but a pass starts at most once per `linger` seconds
        and takes everything committed by then (up to `batch_size`), so a burst of commits is one read, one
        publish of many records and one delete. On PostgreSQL only the leader passes (see the class)."""
        backoff = Backoff(first=self._poll_interval * 2, cap=10.0)
        elected = self._engine_dialect() != "postgresql"  # SQLite (one process): always relays
        try:
            while not stop.is_set():
                try:
                    if not elected and not await self._lead():
                        await self._follow(stop)
                        backoff.reset()
                        continue
                    self._wakeup.clear()  # before reading: a commit from now on wakes the next pass
                    sent = await self.relay_once()
                    backoff.reset()
                except Exception as error:
                    log.warning("outbox.relay_failed", table=self.table_name, error=repr(error))
                    await self._release()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=backoff.next_delay())
                    continue
                if sent >= self._batch_size:
                    continue  # more is waiting
                await self._wait(stop, self._listening_poll_interval if self.leading else self._poll_interval)
        finally:
            await self._release()

    async def _wait(self, stop: asyncio.Event, timeout: float) -> bool:
        """Until a wake-up (then `linger` more, to take the commits right behind it), `stop` or `timeout`; woken?"""
        waits = [asyncio.ensure_future(self._wakeup.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
        if not self._wakeup.is_set() or stop.is_set():
            return False
        if self._linger:
            await asyncio.sleep(self._linger)
        return True

    async def _lead(self) -> bool:
        """Whether this relay leads, taking the leader lock if it is free (on its own connection)."""
        if self.leading and self._connection is not None and not self._connection.is_closed():
            return True
        self.leading = False
        if self._connection is None or self._connection.is_closed():
            import asyncpg

            bind = self._sessions.kw["bind"]
            self._connection = await asyncpg.connect(
                bind.url.set(drivername="postgresql").render_as_string(hide_password=False)
            )
        if not await self._connection.fetchval("SELECT pg_try_advisory_lock($1)", self._leader_lock_id):
            return False
        await self._connection.add_listener(self._channel, lambda *_args: self._wakeup.set())
        self.leading = True
        log.info("outbox.relay_leading", table=self.table_name)
        return True

    async def _follow(self, stop: asyncio.Event) -> None:
        """A follower's turn: tell the leader about this replica's commits (one NOTIFY per burst of them) until it
        is time to try the leader lock again."""
        deadline = asyncio.get_running_loop().time() + self._leadership_retry
        while not stop.is_set():
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return
            if await self._wait(stop, remaining):
                self._wakeup.clear()
                await self._connection.execute(f'NOTIFY "{self._channel}"')

    async def _release(self) -> None:
        """Close this relay's own connection: PostgreSQL releases the leader lock, another replica takes over."""
        connection, self._connection, self.leading = self._connection, None, False
        if connection is not None and not connection.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), timeout=5)

    async def drain(self) -> None:
        """Publish everything staged so far (used on shutdown and by the embedded demo)."""
        while await self.relay_once():
            pass

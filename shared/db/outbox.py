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

    A crash between publish and delete re-publishes a batch; consumers are idempotent, so that is harmless. On
    PostgreSQL an advisory lock lets one replica relay at a time, which keeps each key's records in order.
    """

    def __init__(
        self,
        sessions: SessionFactory,
        table: type[OutboxRecord],
        publisher: RecordPublisher,
        *,
        batch_size: int = 1000,
        poll_interval: float = 0.5,
        linger: float = 0.005,
    ) -> None:
        self._sessions = sessions
        self._table = table
        self._publisher = publisher
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._linger = linger
        self._wakeup = asyncio.Event()
        self._lock_id = zlib.crc32(table.__tablename__.encode())  # type: ignore[attr-defined]

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

    async def relay_once(self) -> int:
        """Publish one batch; returns how many records went out."""
        bind = self._sessions.kw.get("bind")
        if bind is not None and bind.dialect.name == "sqlite":
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
        publish of many records and one delete."""
        backoff = Backoff(first=self._poll_interval * 2, cap=10.0)
        while not stop.is_set():
            self._wakeup.clear()  # before reading: a commit from now on wakes the next pass
            try:
                sent = await self.relay_once()
                backoff.reset()
            except Exception as error:
                log.warning("outbox.relay_failed", table=self._table.__tablename__, error=repr(error))  # type: ignore[attr-defined]
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=backoff.next_delay())
                continue
            if sent >= self._batch_size:
                continue  # more is waiting
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=self._poll_interval)
            if self._wakeup.is_set() and self._linger:
                await asyncio.sleep(self._linger)

    async def drain(self) -> None:
        """Publish everything staged so far (used on shutdown and by the embedded demo)."""
        while await self.relay_once():
            pass

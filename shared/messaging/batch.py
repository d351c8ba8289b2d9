"""Batch consumption: many records, one database transaction, one offset commit.

decode each → (in one transaction: claim the batch's events with one INSERT … ON CONFLICT DO NOTHING RETURNING,
run the handler on the newly claimed ones only) → commit → the transport commits the offsets.

A batch that fails is split in two and each half retried, down to the record that fails alone: that record alone is
retried, then dead-lettered, and the records around it commit. Outage errors (database, broker) propagate at once so
the transport redelivers the whole batch later (the halves already committed are duplicates by then, no-ops).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from shared import metrics, tracing
from shared.contracts import CloudEvent, Topic, TopicEvent
from shared.db.bulk import upsert_statement
from shared.db.engine import SessionFactory, database_answers, transaction
from shared.db.errors import DatabaseUnavailable
from shared.db.tables import ProcessedEvent
from shared.messaging.consumer import EventConsumer, decode_record, is_transient
from shared.messaging.records import InboundRecord, PoisonRecord

log = structlog.get_logger(__name__)

E = TypeVar("E", bound=TopicEvent)
# Called inside the batch's transaction with the events not processed before, in partition order per key.
BatchHandler = Callable[[AsyncSession, Sequence[tuple[E, CloudEvent]]], Awaitable[None]]


@dataclass(frozen=True)
class DeadLetter:
    """A record the transport must publish to `<topic>.dlq` (before committing the batch's offsets)."""

    record: InboundRecord
    reason: str


@dataclass
class BatchConsumer(Generic[E]):
    """Runs one batch handler for one topic exactly once per event (by CloudEvents source + id)."""

    name: str
    topic: Topic
    contract: type[E]
    handler: BatchHandler[E]
    sessions: SessionFactory
    processed_table: type[ProcessedEvent]
    after_commit: Callable[[], None] = field(default=lambda: None)
    attempts: int = 3
    retry_delay: float = 0.2
    decoder: Callable[[InboundRecord], tuple[E, CloudEvent]] | None = None

    def decode(self, record: InboundRecord) -> tuple[E, CloudEvent]:
        return decode_record(record, self.contract, self.decoder)

    async def handle_records(self, records: Sequence[InboundRecord]) -> list[DeadLetter]:
        """Process `records` (in partition order); returns the ones to dead-letter. Outage errors propagate."""
        started = time.perf_counter()
        dead: list[DeadLetter] = []
        decoded: list[tuple[InboundRecord, E, CloudEvent]] = []
        for record in records:
            try:
                decoded.append((record, *self.decode(record)))
            except PoisonRecord as poison:
                dead.append(DeadLetter(record, poison.reason))
        if decoded:
            with tracing.consuming(self.name, self.topic, [(r.key or "", ce) for r, _e, ce in decoded]) as spans:
                await self._run(decoded, dead)
                ce_ids = {id(r): ce.id for r, _e, ce in decoded}
                for letter in dead:
                    spans.failed(ce_ids.get(id(letter.record)), letter.reason)
        metrics.batch_handled(self.name, self.topic, len(records), started)
        return dead

    async def handle_record(self, record: InboundRecord) -> None:
        """One record as a batch of one (the per-record API); a poison record raises PoisonRecord."""
        for dead in await self.handle_records([record]):
            raise PoisonRecord(dead.reason)

    async def _run(self, part: Sequence[tuple[InboundRecord, E, CloudEvent]], dead: list[DeadLetter]) -> None:
        try:
            claimed = await self._commit([(event, ce) for _record, event, ce in part])
        except Exception as error:
            if is_transient(error):
                raise
            if len(part) == 1:
                reason = await self._retry_alone(part[0], error)
                if reason is not None:
                    dead.append(DeadLetter(part[0][0], reason))
                return
            log.info("consumer.batch_split", consumer=self.name, size=len(part), error=repr(error)[:500])
            middle = len(part) // 2
            await self._run(part[:middle], dead)
            await self._run(part[middle:], dead)
            return
        if claimed:
            self.after_commit()

    async def _retry_alone(self, item: tuple[InboundRecord, E, CloudEvent], error: Exception) -> str | None:
        """The record that fails alone: retried like EventConsumer does; the reason to dead-letter it, or None."""
        _record, event, ce = item
        for attempt in range(1, self.attempts + 1):
            if isinstance(error, PoisonRecord):
                return error.reason
            log.warning("consumer.handler_failed", consumer=self.name, attempt=attempt, error=repr(error)[:500])
            if attempt == self.attempts:
                break
            await asyncio.sleep(self.retry_delay * attempt)
            try:
                claimed = await self._commit([(event, ce)])
            except Exception as again:
                if is_transient(again):
                    raise
                error = again
            else:
                if claimed:
                    self.after_commit()
                return None
        if not await database_answers(self.sessions):
            # A record is not to blame for an outage: redeliver the batch instead of dead-lettering it.
            raise DatabaseUnavailable("the database does not answer; the record is redelivered, not blamed") from error
        return f"handler failed {self.attempts} times: {type(error).__name__}: {error}"

    async def _commit(self, items: Sequence[tuple[E, CloudEvent]]) -> int:
        async with transaction(self.sessions) as session:
            fresh = await self._claim(session, items)
            if fresh:
                await self.handler(session, fresh)
        metrics.records_committed(self.name, self.topic, processed=len(fresh), duplicate=len(items) - len(fresh))
        return len(fresh)

    async def _claim(self, session: AsyncSession, items: Sequence[tuple[E, CloudEvent]]) -> list[tuple[E, CloudEvent]]:
        """Record every event as processed; returns those no earlier transaction had (first copy of each).

        A concurrent transaction claiming the same event (another replica, mid-rebalance) makes this INSERT wait
        for it: if it commits, the event is not ours; if it rolls back, it is."""
        table = self.processed_table
        rows = {(ce.source, ce.id): {"consumer": self.name, "source": ce.source, "event_id": ce.id} for _e, ce in items}
        # Rows as executemany parameters: one cached statement, sent as multi-row inserts, whatever the batch size.
        insert = upsert_statement(session, table)
        statement = insert.on_conflict_do_nothing().returning(insert.table.c.source, insert.table.c.event_id)
        # In key order: two replicas briefly claiming the same events (mid-rebalance) wait for each other, never
        # deadlock.
        result = await session.execute(statement, [rows[key] for key in sorted(rows)])
        claimed = {(source, event_id) for source, event_id in result.all()}
        fresh = []
        for event, ce in items:
            if (ce.source, ce.id) in claimed:
                claimed.discard((ce.source, ce.id))
                fresh.append((event, ce))
        return fresh


Consumer = EventConsumer[Any] | BatchConsumer[Any]


def one_by_one(handler: Callable[[AsyncSession, E, CloudEvent], Awaitable[None]]) -> BatchHandler[E]:
    """A per-record handler as a batch handler (same transaction, records in order)."""

    async def each(session: AsyncSession, items: Sequence[tuple[E, CloudEvent]]) -> None:
        for event, ce in items:
            await handler(session, event, ce)

    return each

"""The consumer pipeline every service uses, whatever the transport.

decode → (in one transaction: skip if already processed, record it as processed, run the handler) → commit.
Bad records and handlers that keep failing raise PoisonRecord (the transport dead-letters the record);
infrastructure errors (a database outage: `shared.db.errors.is_outage`) propagate so the transport redelivers the
record later instead of losing it. A record is blamed only once the database is proven to answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared import metrics, tracing
from shared.contracts import CloudEvent, Topic, TopicEvent
from shared.db.engine import SessionFactory, database_answers, transaction
from shared.db.errors import DatabaseUnavailable, is_outage
from shared.db.tables import ProcessedEvent
from shared.messaging.records import InboundRecord, PoisonRecord, decode_cloud_event, decode_event

log = structlog.get_logger(__name__)

E = TypeVar("E", bound=TopicEvent)
Handler = Callable[[AsyncSession, E, CloudEvent], Awaitable[None]]


class Outcome(StrEnum):
    PROCESSED = "processed"
    DUPLICATE = "duplicate"


def is_transient(error: BaseException) -> bool:
    """Errors that say 'try again later', not 'this record is bad': an outage of the database, or of anything
    else reached over the network (OSError: refused, reset, timed out)."""
    return is_outage(error)


def decode_record(
    record: InboundRecord, contract: type[E], decoder: Callable[[InboundRecord], tuple[E, CloudEvent]] | None = None
) -> tuple[E, CloudEvent]:
    """The record's event and CloudEvents attributes, or PoisonRecord saying why not."""
    if decoder is not None:
        return decoder(record)
    ce = decode_cloud_event(record.headers, contract.CE_TYPE)
    return decode_event(contract, record.value), ce


@dataclass
class EventConsumer(Generic[E]):
    """Runs one handler for one topic exactly once per event (by CloudEvents source + id)."""

    name: str
    topic: Topic
    contract: type[E]
    handler: Handler[E]
    sessions: SessionFactory
    processed_table: type[ProcessedEvent]
    after_commit: Callable[[], None] = field(default=lambda: None)
    attempts: int = 3
    retry_delay: float = 0.2
    # For a topic that carries more than one format: turns the raw record into (event, attributes) or raises
    # PoisonRecord. Transports then hand it the record as received instead of validating `contract` themselves.
    decoder: Callable[[InboundRecord], tuple[E, CloudEvent]] | None = None

    def decode(self, record: InboundRecord) -> tuple[E, CloudEvent]:
        return decode_record(record, self.contract, self.decoder)

    async def process(self, event: E, ce: CloudEvent) -> Outcome:
        """Handle `event` once; a redelivered event is a no-op.

        A failing handler is retried; the last attempt runs only once the database has answered, and the record
        becomes poison only if that attempt fails too while the database still answers. A failure while the
        database does not answer is an outage: it propagates, and the record is redelivered.
        """
        with tracing.consuming(self.name, self.topic, [(event.key(), ce)]):
            return await self._process(event, ce)

    async def _process(self, event: E, ce: CloudEvent) -> Outcome:
        started = time.perf_counter()
        for attempt in range(1, self.attempts + 1):
            if 1 < attempt == self.attempts:
                await self._unless_database_down()
            try:
                outcome = await self._process_once(event, ce)
            except PoisonRecord:
                raise
            except IntegrityError:
                # A concurrent delivery of the same event won the race for the processed-event row.
                if await self._already_processed(ce):
                    metrics.record_handled(self.name, self.topic, Outcome.DUPLICATE, started)
                    return Outcome.DUPLICATE
                if attempt == self.attempts:
                    raise
            except Exception as error:
                if is_transient(error):
                    raise
                log.warning("consumer.handler_failed", consumer=self.name, attempt=attempt, error=repr(error))
                if attempt == self.attempts:
                    await self._unless_database_down(error)
                    raise PoisonRecord(f"handler failed {attempt} times: {type(error).__name__}: {error}") from error
            else:
                if outcome is Outcome.PROCESSED:
                    self.after_commit()
                metrics.record_handled(self.name, self.topic, outcome, started)
                return outcome
            await asyncio.sleep(self.retry_delay * attempt)
        raise AssertionError("unreachable")

    async def handle_record(self, record: InboundRecord) -> Outcome:
        event, ce = self.decode(record)
        return await self.process(event, ce)

    async def _process_once(self, event: E, ce: CloudEvent) -> Outcome:
        async with transaction(self.sessions) as session:
            if await self._seen(session, ce):
                return Outcome.DUPLICATE
            session.add(self.processed_table(consumer=self.name, source=ce.source, event_id=ce.id))
            await session.flush()
            await self.handler(session, event, ce)
        return Outcome.PROCESSED

    async def _unless_database_down(self, error: BaseException | None = None) -> None:
        """Raise DatabaseUnavailable unless a trivial query succeeds: a record is not to blame for an outage."""
        if not await database_answers(self.sessions):
            raise DatabaseUnavailable("the database does not answer; the record is redelivered, not blamed") from (
                error
            )

    async def _seen(self, session: AsyncSession, ce: CloudEvent) -> bool:
        table = self.processed_table
        found = await session.execute(
            select(table.event_id).where(
                table.consumer == self.name, table.source == ce.source, table.event_id == ce.id
            )
        )
        return found.first() is not None

    async def _already_processed(self, ce: CloudEvent) -> bool:
        async with self.sessions() as session:
            return await self._seen(session, ce)

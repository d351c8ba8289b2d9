"""Records on `credstream.lms-inbound.v1`: any supported LMS format, named by the record's headers.

- `ce_type` (CloudEvents, binary mode) names the format; without it a format-specific `content-type` does
  (see `formats.CE_TYPES` / `formats.CONTENT_TYPES`).
- Native `LmsActivity` records carry their tenant and need full CloudEvents headers, as before.
- Other formats carry no tenant and no credstream ids, so the record names its connection in the
  `credstream_connection` header (broker ACLs, not request signatures, authenticate Kafka producers); an AGS Score
  names its line item in `ce_subject` (or `credstream_lineitem`). Without `ce_id` the record's id is the SHA-256 of
  its value, so a re-published identical record is a no-op.
- Anything that can never be processed (unknown format or connection, invalid payload) is dead-lettered with the
  reason, including the JSON pointer of the offending member.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.enrollment.adapters.connection_store import open_connection
from services.enrollment.adapters.tables import LmsConnection
from services.enrollment.connections import FORMATS
from services.enrollment.formats import CE_TYPE_OF, Format, FormatError, format_of, parse
from services.enrollment.handlers import InvalidActivity, ingest, record_activities, record_activity
from shared.contracts import CloudEvent, LmsActivity
from shared.contracts.text import find_control_character
from shared.messaging.records import InboundRecord, PoisonRecord, decode_cloud_event, decode_event
from shared.untrusted_json import UntrustedJsonError, loads_untrusted

CONNECTION_HEADER = "credstream_connection"
MAX_CONNECTION_ID = 64  # as the connections table holds them
LINEITEM_HEADER = "credstream_lineitem"


@dataclass(frozen=True)
class InboundLms:
    """One inbound record, decoded as far as possible without the database."""

    format: Format
    activity: LmsActivity | None = None  # native records
    payload: Any = None  # other formats: the decoded JSON
    connection_id: str | None = None
    lineitem: str | None = None


def decode_inbound(record: InboundRecord) -> tuple[InboundLms, CloudEvent]:
    headers = record.headers
    fmt = format_of(headers.get("ce_type"), headers.get("content-type"))
    if fmt is None:
        if not headers.get("ce_type"):
            raise PoisonRecord(
                "missing CloudEvents header(s): ce_id, ce_source, ce_type — or a content-type naming an LMS format"
            )
        raise PoisonRecord(f"unexpected ce_type {headers['ce_type']!r}: not an LMS format credstream reads")
    if fmt is Format.NATIVE:
        ce = decode_cloud_event(headers, LmsActivity.CE_TYPE)
        return InboundLms(fmt, activity=decode_event(LmsActivity, record.value)), ce
    connection_id = headers.get(CONNECTION_HEADER)
    if not connection_id:
        raise PoisonRecord(f"a {fmt} record needs the {CONNECTION_HEADER} header (the LMS connection id)")
    if find_control_character(connection_id, allow_whitespace=False) or len(connection_id) > MAX_CONNECTION_ID:
        raise PoisonRecord(f"the {CONNECTION_HEADER} header is not a connection id")
    try:
        payload = loads_untrusted(record.value)
    except UntrustedJsonError as error:
        raise PoisonRecord(f"invalid JSON: {error}") from error
    if headers.get("ce_id"):
        ce = decode_cloud_event(headers)
    else:
        ce = CloudEvent(
            id="sha256:" + hashlib.sha256(record.value).hexdigest(),
            source=f"lms-connection:{connection_id}",
            type=CE_TYPE_OF[fmt],
            traceparent=headers.get("ce_traceparent"),  # a malformed one is dropped
            tracestate=headers.get("ce_tracestate"),
        )
    lineitem = headers.get("ce_subject") or headers.get(LINEITEM_HEADER)
    return InboundLms(fmt, payload=payload, connection_id=connection_id, lineitem=lineitem), ce


async def on_inbound(session: AsyncSession, inbound: InboundLms, ce: CloudEvent) -> None:
    """Consumer of `credstream.lms-inbound.v1`."""
    if inbound.activity is not None:
        await record_activity(session, inbound.activity, source=ce.source)
        return
    row = await session.get(LmsConnection, inbound.connection_id)
    if row is None or not row.enabled:
        raise PoisonRecord(f"LMS connection {inbound.connection_id!r} does not exist or is disabled")
    connection = open_connection(row, None)
    if inbound.format not in FORMATS[connection.source_kind]:
        raise PoisonRecord(f"connection {row.id} ({row.source_kind}) may not send {inbound.format} records")
    try:
        items = parse(inbound.format, inbound.payload, received_at=datetime.now(UTC), lineitem=inbound.lineitem)
    except FormatError as error:
        raise PoisonRecord(f"invalid {inbound.format} payload at {error.pointer}: {error.detail}") from error
    try:
        await ingest(session, connection, items)
    except InvalidActivity as error:
        raise PoisonRecord(f"invalid {inbound.format} payload at {error.pointer}: {error.detail}") from error


async def on_inbound_batch(session: AsyncSession, batch: Sequence[tuple[InboundLms, CloudEvent]]) -> None:
    """Consumer of `credstream.lms-inbound.v1`, a poll at a time: runs of native activities from one source are
    recorded set-based (`record_activities`), other formats one record at a time, all in the batch's order."""
    run: list[LmsActivity] = []
    run_source = ""
    for inbound, ce in batch:
        if inbound.activity is not None and (not run or ce.source == run_source):
            run.append(inbound.activity)
            run_source = ce.source
            continue
        if run:
            await record_activities(session, run, run_source)
            run = []
        if inbound.activity is not None:
            run, run_source = [inbound.activity], ce.source
        else:
            await on_inbound(session, inbound, ce)
    if run:
        await record_activities(session, run, run_source)

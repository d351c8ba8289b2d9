"""CloudEvents 1.0 attributes carried as Kafka headers (binary content mode, `ce_` prefix)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from pydantic import BaseModel, Field, field_validator

from shared.contracts.text import Identifier

SPEC_VERSION = "1.0"
_REQUIRED = ("id", "source", "type", "specversion")
# W3C Trace Context level 1: version 00 (a later version's first four fields read the same), 32 + 16 hex ids not
# all zero, flags. tracestate: printable ASCII, at most 512 characters.
_TRACEPARENT = re.compile(r"(?!ff)[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}(-[ -~]*)?")
_TRACESTATE = re.compile(r"[ -~]{1,512}")


class MissingCloudEventAttribute(ValueError):
    """A record lacks a required CloudEvents attribute header."""


class CloudEvent(BaseModel):
    """The context attributes of one event; the data is the record value (a contract model as JSON)."""

    # Consumers record (source, id) to skip redeliveries: both must be storable ids (no control characters, at most
    # 255 characters), or a record could neither be processed nor marked as processed.
    id: Identifier = Field(default_factory=lambda: str(uuid.uuid4()), min_length=1, max_length=255)
    source: Identifier = Field(min_length=1, max_length=255)
    type: str
    specversion: str = SPEC_VERSION
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    subject: str | None = None
    datacontenttype: str = "application/json"
    dataschema: str | None = None
    # Distributed tracing extension: the W3C trace context this event continues. Whatever a producer sent that is
    # not one is dropped (the event starts a new trace), never refused.
    traceparent: str | None = None
    tracestate: str | None = None

    @field_validator("traceparent", mode="before")
    @classmethod
    def _valid_traceparent(cls, value: object) -> str | None:
        if not isinstance(value, str) or not _TRACEPARENT.fullmatch(value):
            return None
        if value.startswith("00-") and len(value) != 55:
            return None  # version 00 has exactly four fields
        return value

    @field_validator("tracestate", mode="before")
    @classmethod
    def _valid_tracestate(cls, value: object) -> str | None:
        return value if isinstance(value, str) and _TRACESTATE.fullmatch(value) else None

    def to_headers(self) -> list[tuple[str, bytes]]:
        """Kafka headers in binary mode: `ce_<attribute>`, plus `content-type` for the data."""
        return [(name, value.encode()) for name, value in self.to_header_dict().items()]

    def to_header_dict(self) -> dict[str, str]:
        headers = {
            "ce_id": self.id,
            "ce_source": self.source,
            "ce_type": self.type,
            "ce_specversion": self.specversion,
            "ce_time": self.time.isoformat().replace("+00:00", "Z"),
            "content-type": self.datacontenttype,
        }
        if self.subject:
            headers["ce_subject"] = self.subject
        if self.dataschema:
            headers["ce_dataschema"] = self.dataschema
        if self.traceparent:
            headers["ce_traceparent"] = self.traceparent
            if self.tracestate:
                headers["ce_tracestate"] = self.tracestate
        return headers

    @classmethod
    def from_headers(cls, headers: Mapping[str, str | bytes] | Iterable[tuple[str, str | bytes]]) -> CloudEvent:
        """Read the attributes back; raises MissingCloudEventAttribute when a required one is absent."""
        items = headers.items() if isinstance(headers, Mapping) else headers
        attrs: dict[str, str] = {}
        for name, value in items:
            if name.startswith("ce_"):
                attrs[name[3:]] = value.decode() if isinstance(value, bytes) else value
            elif name == "content-type":
                attrs["datacontenttype"] = value.decode() if isinstance(value, bytes) else value
        missing = [name for name in _REQUIRED if not attrs.get(name)]
        if missing:
            raise MissingCloudEventAttribute(f"missing CloudEvents header(s): {', '.join('ce_' + m for m in missing)}")
        if attrs["specversion"] != SPEC_VERSION:
            raise MissingCloudEventAttribute(f"unsupported ce_specversion {attrs['specversion']!r}")
        return cls.model_validate(attrs)

"""CloudEvents 1.0 attributes carried as Kafka headers (binary content mode, `ce_` prefix)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from pydantic import BaseModel, Field

from shared.contracts.text import Identifier

SPEC_VERSION = "1.0"
_REQUIRED = ("id", "source", "type", "specversion")


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

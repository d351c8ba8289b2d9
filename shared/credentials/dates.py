"""XSD dateTime parsing and formatting for credentials and proofs."""

from __future__ import annotations

import re
from datetime import UTC, datetime

# XSD dateTime (timezone optional); stricter than datetime.fromisoformat, which also accepts dates and spaces.
_XSD_DATETIME = re.compile(
    r"^-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$",
)


def parse_xsd_datetime(value: object) -> datetime:
    """Parse an XSD dateTime string into an aware datetime (no timezone = UTC); raise ``ValueError``."""
    if not isinstance(value, str) or not _XSD_DATETIME.match(value):
        raise ValueError(f"not an XSD dateTime: {value!r}")
    text = value
    fraction = re.search(r"\.(\d+)", text)
    if fraction and len(fraction.group(1)) > 6:
        # Python keeps microseconds only; extra digits cannot change a comparison at second precision.
        text = text.replace(fraction.group(0), "." + fraction.group(1)[:6])
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_xsd_datetime(value: datetime) -> str:
    """Format an aware datetime as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC, whole seconds) as verifiers emit it."""
    if value.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    return value.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def require_aware(value: datetime, name: str = "datetime") -> datetime:
    """Return ``value`` if it is timezone-aware, else raise ``ValueError``."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value

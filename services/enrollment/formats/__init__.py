"""LMS wire formats → format-neutral Observations (pure; mapping to credstream ids happens afterwards).

On HTTP each format has its own endpoint; on `credstream.lms-inbound.v1` the record's `ce_type` (or, failing that,
its `content-type`) header names the format.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.enrollment.formats import caliper, canvas, lti_ags, xapi
from services.enrollment.formats.common import Format, FormatError, Ignored, Item, Observation, check_observation
from shared.contracts import LmsActivity

# CloudEvents types for LMS payloads published to the inbound topic (binary mode, payload as the record value).
CE_TYPES: dict[str, Format] = {
    LmsActivity.CE_TYPE: Format.NATIVE,
    "io.credstream.lms.xapi.v1": Format.XAPI,
    "io.credstream.lms.caliper.v1": Format.CALIPER,
    "io.credstream.lms.canvas.v1": Format.CANVAS,
    "io.credstream.lms.lti-ags-score.v1": Format.LTI_AGS,
}
# Media types that name a format on their own (xAPI and Caliper have no registered media type of their own).
CONTENT_TYPES: dict[str, Format] = {
    "application/vnd.credstream.activity+json": Format.NATIVE,
    "application/vnd.credstream.xapi+json": Format.XAPI,
    "application/vnd.credstream.caliper+json": Format.CALIPER,
    "application/vnd.credstream.canvas-live-event+json": Format.CANVAS,
    lti_ags.CONTENT_TYPE: Format.LTI_AGS,
}
CE_TYPE_OF: dict[Format, str] = {fmt: ce_type for ce_type, fmt in CE_TYPES.items()}


def media_type(content_type: str | None) -> str:
    """`application/json; charset=utf-8` -> `application/json`."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def format_of(ce_type: str | None, content_type: str | None) -> Format | None:
    """The format a Kafka record declares: `ce_type` first, then a format-specific `content-type`."""
    if ce_type and ce_type in CE_TYPES:
        return CE_TYPES[ce_type]
    return CONTENT_TYPES.get(media_type(content_type))


def parse(fmt: Format, payload: Any, *, received_at: datetime, lineitem: str | None = None) -> list[Item]:
    """Parse a decoded JSON payload of a non-native format; raises FormatError naming the offending member."""
    items = _parse(fmt, payload, received_at=received_at, lineitem=lineitem)
    for item in items:
        if isinstance(item, Observation):
            check_observation(item)
    return items


def _parse(fmt: Format, payload: Any, *, received_at: datetime, lineitem: str | None) -> list[Item]:
    if fmt is Format.XAPI:
        return xapi.parse(payload, received_at=received_at)
    if fmt is Format.CALIPER:
        return caliper.parse(payload, received_at=received_at)
    if fmt is Format.CANVAS:
        return canvas.parse(payload, received_at=received_at)
    if fmt is Format.LTI_AGS:
        if not lineitem:
            raise FormatError("", "an AGS Score needs its line item (the URL path, or ce_subject on Kafka)")
        return lti_ags.parse(payload, lineitem=lineitem, received_at=received_at)
    raise ValueError(f"{fmt} payloads are LmsActivity models, not parsed here")


__all__ = [
    "CE_TYPES",
    "CE_TYPE_OF",
    "CONTENT_TYPES",
    "Format",
    "FormatError",
    "Ignored",
    "Item",
    "Observation",
    "format_of",
    "media_type",
    "parse",
]

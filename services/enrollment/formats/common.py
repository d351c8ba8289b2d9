"""What every LMS format parser shares: the format-neutral Observation, errors that point at the offending field,
tolerant timestamps, score normalisation, and deterministic ids for sources that send none. No I/O."""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import rfc8785

from shared.contracts import ActivityKind
from shared.contracts.text import find_control_character

# Deterministic statement ids are UUIDv5 in this namespace (an xAPI LRS must answer with UUIDs).
DERIVED_ID_NAMESPACE = uuid.UUID("8f0f6a4e-2a67-4d39-a3d4-7c1b0e5f4a21")


class Format(StrEnum):
    """The wire formats enrollment understands."""

    NATIVE = "native"  # credstream's own LmsActivity
    XAPI = "xapi"  # xAPI statements (Moodle logstore_xapi, any LRS client)
    CALIPER = "caliper"  # IMS Caliper 1.1 envelopes or bare events (Canvas Live Events "Caliper" format)
    CANVAS = "canvas"  # Canvas Live Events in Canvas's own format: {metadata, body}
    LTI_AGS = "lti-ags"  # LTI Advantage Assignment and Grade Services Score objects


class FormatError(ValueError):
    """The payload is not valid in its format; `pointer` (RFC 6901) names the offending member."""

    def __init__(self, pointer: str, detail: str) -> None:
        super().__init__(f"{pointer or '/'}: {detail}")
        self.pointer = pointer or "/"
        self.detail = detail


@dataclass(frozen=True)
class Observation:
    """One learner activity as an LMS reported it, in credstream's vocabulary but the LMS's ids.

    Mapping (per connection) turns the LMS's course/activity ids into Achievement/assessment ids afterwards.
    """

    format: Format
    event_id: str  # the source's own id, or a derived one (see derive_event_id)
    kind: ActivityKind
    learner_id: str  # the id the LMS knows the learner by
    occurred_at: datetime
    pointer: str  # where in the request body the item sits, e.g. "/data/0"
    activity_id: str | None = None  # quiz, assignment, line item; the course itself for course-level events
    course_id: str | None = None
    related_ids: tuple[str, ...] = ()  # other ids the mapping may fall back to (e.g. the attempt, a parent)
    learner_name: str | None = None
    learner_email: str | None = None
    score: float | None = None
    max_score: float | None = None
    success: bool | None = None
    event_id_derived: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Ignored:
    """A valid item that carries nothing credstream acts on (a page view, a question-level answer, an entity)."""

    pointer: str
    event_id: str | None
    reason: str


Item = Observation | Ignored


def pointer(*parts: str | int) -> str:
    """An RFC 6901 JSON pointer from path parts ('~' and '/' escaped)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JCS) canonical form: key order, whitespace and number spelling (2 vs 2.0) do not matter."""
    return rfc8785.dumps(value)


def derive_event_id(fmt: Format, payload: Any, *context: str) -> str:
    """A deterministic id for a source that sends none: UUIDv5 of the SHA-256 of the canonical payload.

    The same event re-delivered (even re-serialised) gets the same id, so it is deduplicated; `context` adds
    what identifies the event but is not in the payload (e.g. the AGS line item, which is only in the URL).
    """
    try:
        canonical = canonical_json(payload)
    except rfc8785.CanonicalizationError as error:
        # JCS has no form for NaN, infinities, integers beyond 2^53 or lone surrogates: no stable id either.
        raise FormatError("", f"no event id can be derived from this payload (send an id): {error}") from None
    digest = hashlib.sha256()
    digest.update(fmt.value.encode())
    for part in context:
        digest.update(b"\x1f" + part.encode("utf-8", "surrogatepass"))
    digest.update(b"\x1e" + canonical)
    return str(uuid.uuid5(DERIVED_ID_NAMESPACE, digest.hexdigest()))


def parse_time(value: Any, at: str) -> datetime:
    """ISO 8601 / RFC 3339 timestamps as LMSs really send them: `Z`, `+00:00`, `+0000` (no colon), with or
    without fractions. A timestamp without an offset is refused: its zone cannot be known."""
    if not isinstance(value, str) or not value:
        raise FormatError(at, "must be an ISO 8601 timestamp string")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise FormatError(at, f"is not an ISO 8601 timestamp: {value[:40]!r}") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise FormatError(at, "has no time-zone offset (add Z or ±hh:mm)")
    try:
        parsed.astimezone(UTC)
    except OverflowError:
        raise FormatError(at, "is outside years 1-9999 once converted to UTC") from None
    return parsed


def number(value: Any, at: str) -> float | None:
    """A JSON number (int or float, or a numeric string as some LMSs send) or None when absent."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise FormatError(at, "must be a number")
    if isinstance(value, int | float):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value.strip())
        except ValueError:
            raise FormatError(at, f"must be a number, got {value[:20]!r}") from None
    else:
        raise FormatError(at, "must be a number")
    if not math.isfinite(result):
        raise FormatError(at, "must be a finite number")
    return result


@dataclass(frozen=True)
class Points:
    """A score as credstream carries it: points from zero, out of a positive maximum."""

    score: float
    max_score: float | None
    notes: tuple[str, ...] = ()


def points(raw: float, *, minimum: float | None, maximum: float | None, at: str) -> Points:
    """Shift a raw score onto a zero-based range and clamp it to the maximum.

    Scores above the maximum are real (Canvas extra credit: 5 out of 1): the learner has more than the full
    mark, which meets every threshold, so it is kept as the full mark and the clamp is noted.
    """
    lowest = minimum or 0.0
    notes: list[str] = []
    score = raw - lowest
    top = None if maximum is None else maximum - lowest
    if top is not None and top <= 0:
        raise FormatError(at, f"maximum ({maximum}) must be greater than the minimum ({lowest})")
    if score < 0:
        notes.append(f"score {raw} below the minimum {lowest}: counted as 0")
        score = 0.0
    if top is not None and score > top:
        notes.append(f"score {raw} above the maximum {maximum}: counted as the full mark")
        score = top
    return Points(score, top, tuple(notes))


def text(value: Any, at: str, *, required: bool = False, max_length: int = 2048) -> str | None:
    """A non-empty string member (ids, names); numbers are accepted and turned into strings (Canvas ids)."""
    if value is None or value == "":
        if required:
            raise FormatError(at, "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise FormatError(at, "must be a string")
    result = str(value).strip()
    if not result:
        if required:
            raise FormatError(at, "must not be blank")
        return None
    if len(result) > max_length:
        raise FormatError(at, f"is longer than {max_length} characters")
    return result


# Longest id an observation may carry: what the tables that keep unmapped activities and mapping rules hold.
MAX_ID_LENGTH = 2048
MAX_EVENT_ID_LENGTH = 256


def check_observation(observation: Observation) -> None:
    """The ids an observation carries are storable and unambiguous: no control characters, bounded lengths.
    Parsers read ids from many places; checking the result once covers every format (names are scrubbed later)."""
    ids = [
        ("event id", observation.event_id, MAX_EVENT_ID_LENGTH),
        ("learner id", observation.learner_id, MAX_EVENT_ID_LENGTH),
        ("activity id", observation.activity_id, MAX_ID_LENGTH),
        ("course id", observation.course_id, MAX_ID_LENGTH),
        *(("related id", related, MAX_ID_LENGTH) for related in observation.related_ids),
    ]
    for what, value, longest in ids:
        if value is None:
            continue
        problem = find_control_character(value, allow_whitespace=False)
        if problem:
            raise FormatError(observation.pointer, f"the {what} {problem}")
        if len(value) > longest:
            raise FormatError(observation.pointer, f"the {what} is longer than {longest} characters")


def member(obj: Any, key: str, at: str) -> Any:
    """obj[key] when obj is an object, else a FormatError at `at`."""
    if not isinstance(obj, Mapping):
        raise FormatError(at, "must be a JSON object")
    return obj.get(key)


def language_map_text(value: Any) -> str | None:
    """The first string of an xAPI/Caliper language map ({"en": "Quiz"}) or a plain string."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, Mapping):
        for entry in value.values():
            if isinstance(entry, str) and entry:
                return entry
    return None

"""Canvas Live Events in Canvas's own format: `{metadata, body}`, one event per delivery.

- No event id exists (`metadata.request_id` is shared by every event of one HTTP request): the id is derived from
  the canonical form of the whole event, so a re-delivery is a duplicate and two different events never collide.
- Most bodies carry global ids (`21070000000000048`) but `course_completed`/`course_progress` use local ones
  (`123`); a local id is made global (shard * 10^13 + local) with the shard read from `metadata.root_account_id`,
  so learners and courses have one id whichever event or format (Caliper) named them.
- Courses, assignments and quizzes become the same URNs the Caliper format uses
  (`urn:instructure:canvas:assignment:<global id>`), so one mapping serves both formats.
- `metadata.user_id` is the acting user (a teacher in `grade_change`), so the learner comes from the body.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.enrollment.formats.common import (
    Format,
    FormatError,
    Ignored,
    Item,
    Observation,
    derive_event_id,
    number,
    parse_time,
    pointer,
    points,
    text,
)
from shared.contracts import ActivityKind

SHARD_FACTOR = 10**13
_ENDED_ENROLMENT = frozenset({"deleted", "rejected", "inactive"})


def parse(payload: Any, *, received_at: datetime) -> list[Item]:
    """One event `{metadata, body}` (what Canvas POSTs) or an array of them."""
    if isinstance(payload, list):
        return [parse_event(event, pointer(i)) for i, event in enumerate(payload)]
    return [parse_event(payload, "")]


def parse_event(event: Any, at: str) -> Item:
    if not isinstance(event, Mapping):
        raise FormatError(at, "a Canvas live event must be a JSON object")
    metadata, body = event.get("metadata"), event.get("body")
    if not isinstance(metadata, Mapping):
        raise FormatError(at + "/metadata", "is required and must be a JSON object")
    if not isinstance(body, Mapping):
        raise FormatError(at + "/body", "is required and must be a JSON object")
    name = text(metadata.get("event_name"), at + "/metadata/event_name", required=True)
    occurred_at = parse_time(metadata.get("event_time"), at + "/metadata/event_time")
    event_id = derive_event_id(Format.CANVAS, event)
    ids = _Ids(metadata)
    common = {"format": Format.CANVAS, "event_id": event_id, "event_id_derived": True, "pointer": at}
    b = at + "/body"

    if name in ("enrollment_created", "enrollment_updated"):
        if body.get("type") != "StudentEnrollment":
            return Ignored(at, event_id, f"a {body.get('type')} is not a learner's enrolment")
        if str(body.get("workflow_state")) in _ENDED_ENROLMENT:
            return Ignored(at, event_id, f"an enrolment in state {body['workflow_state']!r}")
        course = ids.urn("course", body.get("course_id"), b + "/course_id", required=True)
        return Observation(
            **common,
            kind=ActivityKind.ENROLLED,
            learner_id=ids.user(body.get("user_id"), b + "/user_id"),
            learner_name=text(body.get("user_name"), b + "/user_name", max_length=200),
            occurred_at=occurred_at,
            activity_id=course,
            course_id=course,
        )
    if name == "submission_created":
        return Observation(
            **common,
            kind=ActivityKind.SUBMITTED,
            learner_id=ids.user(body.get("user_id"), b + "/user_id"),
            occurred_at=_time_or(body.get("submitted_at"), b + "/submitted_at", occurred_at),
            activity_id=ids.urn("assignment", body.get("assignment_id"), b + "/assignment_id", required=True),
            course_id=ids.urn("course", metadata.get("context_id"), at + "/metadata/context_id"),
        )
    if name == "quiz_submitted":
        return Observation(
            **common,
            kind=ActivityKind.SUBMITTED,
            learner_id=ids.user(metadata.get("user_id"), at + "/metadata/user_id"),
            occurred_at=occurred_at,
            activity_id=ids.urn("quiz", body.get("quiz_id"), b + "/quiz_id", required=True),
            course_id=ids.urn("course", metadata.get("context_id"), at + "/metadata/context_id"),
        )
    if name == "grade_change":
        return _grade_change(metadata, body, at, occurred_at, ids, common)
    if name in ("course_completed", "course_progress"):
        progress = body.get("progress") if isinstance(body.get("progress"), Mapping) else {}
        completed_at = progress.get("completed_at")
        if not completed_at:
            return Ignored(at, event_id, "course progress without completion")
        user = body.get("user") if isinstance(body.get("user"), Mapping) else {}
        course_obj = body.get("course") if isinstance(body.get("course"), Mapping) else {}
        course = ids.urn("course", course_obj.get("id"), b + "/course/id", required=True)
        return Observation(
            **common,
            kind=ActivityKind.COMPLETED,
            learner_id=ids.user(user.get("id"), b + "/user/id"),
            learner_name=text(user.get("name"), b + "/user/name", max_length=200),
            learner_email=text(user.get("email"), b + "/user/email", max_length=320),
            occurred_at=parse_time(completed_at, b + "/progress/completed_at"),
            activity_id=course,
            course_id=course,
            notes=ids.notes,
        )
    return Ignored(at, event_id, f"Canvas event {name!r} is not one credstream acts on")


def _grade_change(
    metadata: Mapping[str, Any],
    body: Mapping[str, Any],
    at: str,
    occurred_at: datetime,
    ids: _Ids,
    common: dict[str, Any],
) -> Item:
    b = at + "/body"
    score = number(body.get("score"), b + "/score")
    notes: list[str] = []
    if score is None:
        try:
            score = number(body.get("grade"), b + "/grade")  # "5" yes; "A-", "complete", "Missing" no
            notes.append("score taken from the grade string")
        except FormatError:
            score = None
    if score is None:
        return Ignored(at, common["event_id"], "a grade change without a numeric score (removed, or a letter grade)")
    maximum = number(body.get("points_possible"), b + "/points_possible")
    if maximum is not None and maximum <= 0:
        maximum = None
        notes.append("points_possible was 0: the score has no maximum")
    scored = points(score, minimum=None, maximum=maximum, at=b + "/points_possible")
    return Observation(
        **common,
        kind=ActivityKind.SCORED,
        learner_id=ids.user(body.get("student_id") or body.get("user_id"), b + "/student_id"),
        occurred_at=occurred_at,
        activity_id=ids.urn("assignment", body.get("assignment_id"), b + "/assignment_id", required=True),
        course_id=ids.urn("course", metadata.get("context_id"), at + "/metadata/context_id"),
        score=scored.score,
        max_score=scored.max_score,
        notes=tuple(notes) + scored.notes,
    )


def _time_or(value: Any, at: str, fallback: datetime) -> datetime:
    return parse_time(value, at) if value else fallback


class _Ids:
    """Canvas ids made global with the shard of the event's root account, when the event says which it is."""

    def __init__(self, metadata: Mapping[str, Any]) -> None:
        self.shard: int | None = None
        for key in ("root_account_id", "context_id", "user_account_id"):
            value = metadata.get(key)
            if isinstance(value, str | int) and str(value).isdigit() and int(value) >= SHARD_FACTOR:
                self.shard = int(value) // SHARD_FACTOR
                break
        self.notes: tuple[str, ...] = ()

    def global_id(self, value: Any, at: str) -> str:
        local = text(value, at, required=True, max_length=40)
        assert local is not None
        if local.isdigit() and int(local) < SHARD_FACTOR:
            if self.shard is None:
                self.notes = (*self.notes, f"{at}: local id {local} kept (no shard known)")
                return local
            return str(self.shard * SHARD_FACTOR + int(local))
        return local

    def user(self, value: Any, at: str) -> str:
        return self.global_id(value, at)

    def urn(self, kind: str, value: Any, at: str, *, required: bool = False) -> str | None:
        if value is None or value == "":
            if required:
                raise FormatError(at, "is required")
            return None
        return f"urn:instructure:canvas:{kind}:{self.global_id(value, at)}"

"""IMS Caliper 1.1 envelopes and bare events, as Canvas Live Events (Caliper format) and the Caliper spec send them.

- An envelope's `data[]` may mix events and entities (only items with an `action` are events); thinned events name
  their actor/object/group by IRI, resolved against the entities in the same envelope where possible.
- The actor is not always the learner: GradeEvent's actor is the grader (learner = `object.assignee`), Canvas
  enrollment events' actor is the admin (learner = `object.extensions["com.instructure.canvas"].user_id`).
- Canvas user ids `urn:instructure:canvas:user:<global id>` become the bare global id, the same learner id the
  Canvas-format events give.
"""

from __future__ import annotations

import re
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
    language_map_text,
    number,
    parse_time,
    pointer,
    points,
    text,
)
from shared.contracts import ActivityKind

CANVAS = "com.instructure.canvas"
_CANVAS_USER = re.compile(r"^urn:instructure:canvas:user:(\d+)$")
_ENDED_ENROLMENT = frozenset({"deleted", "rejected", "inactive"})


def parse(payload: Any, *, received_at: datetime) -> list[Item]:
    """An envelope `{sensor, sendTime, dataVersion, data[]}`, a bare event, or an array of bare events."""
    if isinstance(payload, list):
        return _parse_items(payload, "", {})
    if not isinstance(payload, Mapping):
        raise FormatError("", "a Caliper envelope or event must be a JSON object")
    if "data" in payload:
        data = payload["data"]
        if not isinstance(data, list):
            raise FormatError("/data", "must be an array of events and entities")
        if not data:
            raise FormatError("/data", "holds no events")
        entities = {
            item["id"]: item
            for item in data
            if isinstance(item, Mapping) and "action" not in item and isinstance(item.get("id"), str)
        }
        return _parse_items(data, "/data", entities)
    return [parse_event(payload, "", {})]


def _parse_items(items: list[Any], base: str, entities: Mapping[str, Mapping[str, Any]]) -> list[Item]:
    results: list[Item] = []
    for index, item in enumerate(items):
        at = base + pointer(index)
        if not isinstance(item, Mapping):
            raise FormatError(at, "must be a JSON object")
        if "action" not in item:
            results.append(Ignored(at, None, f"a {item.get('type', 'Caliper')} entity, not an event"))
            continue
        results.append(parse_event(item, at, entities))
    return results


def parse_event(event: Mapping[str, Any], at: str, entities: Mapping[str, Mapping[str, Any]]) -> Item:
    event_type = text(event.get("type"), at + "/type", required=True)
    action = text(event.get("action"), at + "/action", required=True)
    if event.get("id") is None:
        event_id, derived = derive_event_id(Format.CALIPER, event), True
    else:
        event_id, derived = text(event["id"], at + "/id", max_length=256) or "", False
    if event.get("actor") is None:
        raise FormatError(at + "/actor", "is required")
    if event.get("object") is None:
        raise FormatError(at + "/object", "is required")
    occurred_at = parse_time(event.get("eventTime"), at + "/eventTime")
    obj = _resolve(event["object"], entities)
    if obj is None:
        raise FormatError(at + "/object", "must be an entity (a JSON object) or its IRI")
    extensions = _canvas_extensions(obj)

    if event_type == "Event" and action == "Created" and extensions.get("type"):
        return _enrolment(event, event_id, derived, at, occurred_at, extensions)
    if event_type in ("AssignableEvent", "AssessmentEvent") and action == "Submitted":
        kind = ActivityKind.SUBMITTED
    elif event_type == "AssignableEvent" and action == "Completed":
        kind = ActivityKind.COMPLETED
    elif event_type == "GradeEvent" and action == "Graded":
        return _grade(event, event_id, derived, at, occurred_at, obj, entities)
    else:
        return Ignored(at, event_id, f"{event_type}/{action} is not an event credstream acts on")

    learner = _learner(_resolve(obj.get("assignee"), entities) or _resolve(event["actor"], entities), at + "/actor")
    return Observation(
        format=Format.CALIPER,
        event_id=event_id,
        event_id_derived=derived,
        kind=kind,
        learner_id=learner,
        learner_name=_name(_resolve(event["actor"], entities)),
        occurred_at=occurred_at,
        pointer=at,
        activity_id=_activity_id(obj, at),
        course_id=_course_id(event.get("group"), entities),
    )


def _enrolment(
    event: Mapping[str, Any],
    event_id: str,
    derived: bool,
    at: str,
    occurred_at: datetime,
    extensions: Mapping[str, Any],
) -> Item:
    """Canvas `enrollment_created`: Event/Created on an Entity whose Canvas extension says StudentEnrollment."""
    ext_at = at + "/object/extensions/" + CANVAS
    if extensions.get("type") != "StudentEnrollment":
        return Ignored(at, event_id, f"a {extensions.get('type')} is not a learner's enrolment")
    if str(extensions.get("workflow_state")) in _ENDED_ENROLMENT:
        return Ignored(at, event_id, f"an enrolment in state {extensions['workflow_state']!r}")
    learner = _learner(text(extensions.get("user_id"), ext_at + "/user_id", required=True), ext_at + "/user_id")
    course = text(extensions.get("course_id"), ext_at + "/course_id") or _course_id(event.get("group"), {})
    if course is None:
        raise FormatError(ext_at + "/course_id", "is required for an enrolment")
    return Observation(
        format=Format.CALIPER,
        event_id=event_id,
        event_id_derived=derived,
        kind=ActivityKind.ENROLLED,
        learner_id=learner,
        learner_name=text(extensions.get("user_name"), ext_at + "/user_name", max_length=200),
        occurred_at=occurred_at,
        pointer=at,
        activity_id=course,
        course_id=course,
    )


def _grade(
    event: Mapping[str, Any],
    event_id: str,
    derived: bool,
    at: str,
    occurred_at: datetime,
    obj: Mapping[str, Any],
    entities: Mapping[str, Mapping[str, Any]],
) -> Item:
    """GradeEvent/Graded: the learner is the attempt's assignee; the score is in `generated` (a Score)."""
    assignee = _resolve(obj.get("assignee"), entities)
    if assignee is None:
        raise FormatError(at + "/object/assignee", "a GradeEvent's attempt needs an assignee (the learner)")
    generated = _resolve(event.get("generated"), entities) or {}
    score_at = at + "/generated"
    given = number(generated.get("scoreGiven"), score_at + "/scoreGiven")
    notes: list[str] = []
    if given is None:
        # Canvas puts the display grade in an extension as a string ("5", "A-", "complete").
        grade = _canvas_extensions(generated).get("grade")
        try:
            given = number(grade, score_at + "/extensions/" + CANVAS + "/grade")
            notes.append("score taken from the Canvas grade string")
        except FormatError:
            given = None
    if given is None:
        return Ignored(at, event_id, "a grade without a numeric score (removed, or a letter grade)")
    maximum = number(generated.get("maxScore"), score_at + "/maxScore")
    if maximum is not None and maximum <= 0:
        maximum = None
        notes.append("maxScore was 0: the score has no maximum")
    scored = points(given, minimum=None, maximum=maximum, at=score_at + "/maxScore")
    return Observation(
        format=Format.CALIPER,
        event_id=event_id,
        event_id_derived=derived,
        kind=ActivityKind.SCORED,
        learner_id=_learner(assignee, at + "/object/assignee"),
        learner_name=_name(assignee),
        occurred_at=occurred_at,
        pointer=at,
        activity_id=_activity_id(obj, at),
        course_id=_course_id(event.get("group"), entities),
        score=scored.score,
        max_score=scored.max_score,
        notes=tuple(notes) + scored.notes,
    )


def _resolve(value: Any, entities: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """An entity given inline, or by IRI (thinned) — looked up in the envelope, else just its id."""
    if value is None:
        return None
    if isinstance(value, str):
        return entities.get(value, {"id": value})
    if isinstance(value, Mapping):
        return value
    return None


def _canvas_extensions(entity: Mapping[str, Any] | None) -> Mapping[str, Any]:
    extensions = (entity or {}).get("extensions")
    canvas = extensions.get(CANVAS) if isinstance(extensions, Mapping) else None
    return canvas if isinstance(canvas, Mapping) else {}


def _learner(entity: Mapping[str, Any] | str | None, at: str) -> str:
    value = entity.get("id") if isinstance(entity, Mapping) else entity
    learner = text(value, at + ("/id" if isinstance(entity, Mapping) else ""), required=True, max_length=200)
    assert learner is not None
    match = _CANVAS_USER.match(learner)
    return match.group(1) if match else learner


def _name(entity: Mapping[str, Any] | None) -> str | None:
    if not isinstance(entity, Mapping) or entity.get("type") != "Person":
        return None
    name = language_map_text(entity.get("name"))
    return name[:200] if name else None


def _activity_id(obj: Mapping[str, Any], at: str) -> str:
    """An Attempt stands for its assignable (the assignment or quiz); anything else is the activity itself."""
    assignable = obj.get("assignable")
    if obj.get("type") == "Attempt" and assignable is not None:
        value = assignable.get("id") if isinstance(assignable, Mapping) else assignable
        return text(value, at + "/object/assignable", required=True) or ""
    return text(obj.get("id"), at + "/object/id", required=True) or ""


def _course_id(group: Any, entities: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The course: a CourseOffering group, or the offering a CourseSection belongs to."""
    group = _resolve(group, entities)
    if not group:
        return None
    parent = group.get("subOrganizationOf")
    if group.get("type") == "CourseSection" and parent is not None:
        return _course_id(parent, entities)
    canvas = _canvas_extensions(group)
    if group.get("type") == "CourseSection" and canvas.get("context_type") == "Course" and canvas.get("entity_id"):
        return f"urn:instructure:canvas:course:{canvas['entity_id']}"
    value = group.get("id")
    return str(value) if value else None

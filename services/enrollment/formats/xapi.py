"""xAPI statements (1.0.x / 2.0) as an LRS receives them, e.g. from Moodle's logstore_xapi plugin.

- Verbs are recognised by their last IRI segment, so the ADL, TLA, EDLM and activitystrea.ms spellings all count:
  enrolled/registered, attempted, submit/submitted, scored, passed, failed, completed. Others are `ignored`.
- Scores are recomputed from `result.score.raw/min/max`: Moodle's `scaled` changed meaning between plugin versions
  (v4.7: raw/max; v4.8+: 2*(raw-min)/(max-min)-1), so it is used only when no raw score is given.
- Moodle v5 makes the quiz *attempt* the object and puts the quiz in `context.contextActivities.parent`; v4.7 makes
  the quiz the object. Either way the activity that gets mapped is the quiz.
- A statement without `id` (Moodle never sends one) gets a UUIDv5 derived from its canonical form.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.enrollment.formats.common import (
    Format,
    FormatError,
    Ignored,
    Item,
    Observation,
    Points,
    derive_event_id,
    language_map_text,
    member,
    number,
    parse_time,
    pointer,
    points,
    text,
)
from shared.contracts import ActivityKind

SUPPORTED_VERSIONS = ("1.0.0", "1.0.1", "1.0.2", "1.0.3", "2.0.0")
ATTEMPT_TYPE = "http://adlnet.gov/expapi/activities/attempt"
COURSE_TYPES = frozenset(
    {
        "https://w3id.org/xapi/cmi5/activitytype/course",
        "http://adlnet.gov/expapi/activities/course",
        "http://id.tincanapi.com/activitytype/lms/course",
    }
)
# Object types that are one occurrence of a module rather than the module itself.
OCCURRENCE_TYPES = frozenset(
    {
        ATTEMPT_TYPE,
        "https://xapi.edlm/profiles/edlm-lms/concepts/activity-types/submission",
        "https://xapi.edlm/profiles/edlm-lms/concepts/activity-types/lesson-session",
    }
)
_NOT_THE_ACTIVITY = COURSE_TYPES | {ATTEMPT_TYPE, "http://id.tincanapi.com/activitytype/section"}

# Last segment of the verb IRI -> what it means here. "attempted" only counts when it carries a score.
_VERBS: dict[str, ActivityKind | None] = {
    "enrolled": ActivityKind.ENROLLED,
    "registered": ActivityKind.ENROLLED,
    "attempted": None,
    "submit": ActivityKind.SUBMITTED,
    "submitted": ActivityKind.SUBMITTED,
    "scored": ActivityKind.SCORED,
    "assessed": ActivityKind.SCORED,
    "passed": ActivityKind.PASSED,
    "failed": ActivityKind.FAILED,
    "completed": ActivityKind.COMPLETED,
}


def check_version(header: str | None) -> str:
    """The `X-Experience-API-Version` request header: required, and one of the versions this LRS speaks."""
    if not header:
        raise FormatError("", "the X-Experience-API-Version header is required (e.g. 1.0.3)")
    version = header.strip()
    if version not in SUPPORTED_VERSIONS and not version.startswith(("1.0.", "2.0.")):
        raise FormatError("", f"X-Experience-API-Version {version!r} is not supported; use 1.0.x or 2.0.0")
    return version


def parse(payload: Any, *, received_at: datetime) -> list[Item]:
    """One statement (an object) or a batch (an array), as POST /statements accepts them."""
    if isinstance(payload, list):
        if not payload:
            raise FormatError("", "the batch holds no statements")
        return [parse_statement(s, pointer(i), received_at=received_at) for i, s in enumerate(payload)]
    return [parse_statement(payload, "", received_at=received_at)]


def parse_statement(statement: Any, at: str, *, received_at: datetime) -> Item:
    if not isinstance(statement, Mapping):
        raise FormatError(at, "a statement must be a JSON object")
    event_id, derived = _statement_id(statement, at)
    actor = statement.get("actor")
    verb_id = text(member(statement.get("verb"), "id", at + "/verb"), at + "/verb/id", required=True)
    obj = statement.get("object")
    if not isinstance(obj, Mapping):
        raise FormatError(at + "/object", "is required and must be a JSON object")
    if obj.get("objectType", "Activity") != "Activity":
        return Ignored(at, event_id, f"object type {obj.get('objectType')!r} is not an activity")
    object_id = text(obj.get("id"), at + "/object/id", required=True)
    learner_id, email = _learner(actor, at + "/actor")
    assert verb_id is not None and object_id is not None and learner_id is not None
    verb = verb_id.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1].lower()
    if verb not in _VERBS:
        return Ignored(at, event_id, f"verb {verb_id} is not one credstream acts on")

    result = statement.get("result")
    if result is not None and not isinstance(result, Mapping):
        raise FormatError(at + "/result", "must be a JSON object")
    score = _score(result, at + "/result") if result else None
    success = result.get("success") if result else None
    if success is not None and not isinstance(success, bool):
        raise FormatError(at + "/result/success", "must be true or false")

    kind = _VERBS[verb]
    if kind is None:  # attempted
        if score is None:
            return Ignored(at, event_id, "an 'attempted' statement without result.score carries no result")
        kind = ActivityKind.SCORED
    if kind is ActivityKind.SCORED and score is None:
        raise FormatError(at + "/result/score", "a 'scored' statement needs result.score")

    notes: list[str] = []
    if "timestamp" in statement:
        occurred_at = parse_time(statement["timestamp"], at + "/timestamp")
    else:
        occurred_at = received_at
        notes.append("no timestamp: the time of receipt is used")
    activity_id, course_id, related = _activity_and_course(obj, statement.get("context"), object_id, at)
    if score is not None:
        notes.extend(score.notes)
    return Observation(
        format=Format.XAPI,
        event_id=event_id,
        event_id_derived=derived,
        kind=kind,
        learner_id=learner_id,
        learner_name=(language_map_text(member(actor, "name", at + "/actor")) or "")[:200] or None,
        learner_email=email,
        occurred_at=occurred_at,
        pointer=at,
        activity_id=activity_id,
        related_ids=related,
        course_id=course_id,
        score=score.score if score else None,
        max_score=score.max_score if score else None,
        success=success,
        notes=tuple(notes),
    )


def _statement_id(statement: Mapping[str, Any], at: str) -> tuple[str, bool]:
    if statement.get("id") is None:
        return derive_event_id(Format.XAPI, statement), True
    raw = statement["id"]
    try:
        return str(uuid.UUID(str(raw))), False
    except ValueError:
        raise FormatError(at + "/id", "a statement id must be a UUID") from None


def _learner(actor: Any, at: str) -> tuple[str, str | None]:
    """The actor's inverse functional identifier as a learner id, and the e-mail address when it is one.

    An `mbox` and the matching `mbox_sha1sum` give the same learner id (the SHA-1 of the mailto IRI), so a learner
    is one learner whichever the LMS sends; the address itself is returned separately to be hashed, never used as
    an id.
    """
    if not isinstance(actor, Mapping):
        raise FormatError(at, "is required and must be a JSON object")
    account = actor.get("account")
    if account is not None:
        name = text(member(account, "name", at + "/account"), at + "/account/name", required=True, max_length=200)
        assert name is not None
        return name, None
    if actor.get("mbox"):
        mbox = text(actor["mbox"], at + "/mbox", max_length=330) or ""
        if not mbox.lower().startswith("mailto:") or "@" not in mbox:
            raise FormatError(at + "/mbox", "must be a mailto: IRI")
        return "sha1:" + hashlib.sha1(mbox.encode()).hexdigest(), mbox[len("mailto:") :]
    if actor.get("mbox_sha1sum"):
        digest = text(actor["mbox_sha1sum"], at + "/mbox_sha1sum", max_length=40) or ""
        return "sha1:" + digest.lower(), None
    if actor.get("openid"):
        return text(actor["openid"], at + "/openid", max_length=250) or "", None
    raise FormatError(at, "needs an identifier: account, mbox, mbox_sha1sum or openid")


def _score(result: Mapping[str, Any], at: str) -> Points | None:
    score = result.get("score")
    if score is None:
        return None
    if not isinstance(score, Mapping):
        raise FormatError(at + "/score", "must be a JSON object")
    raw = number(score.get("raw"), at + "/score/raw")
    minimum = number(score.get("min"), at + "/score/min")
    maximum = number(score.get("max"), at + "/score/max")
    if raw is not None:
        return points(raw, minimum=minimum, maximum=maximum, at=at + "/score/max")
    scaled = number(score.get("scaled"), at + "/score/scaled")
    if scaled is None:
        return None
    if not -1 <= scaled <= 1:
        raise FormatError(at + "/score/scaled", "must be between -1 and 1")
    note = "only result.score.scaled given: read as the fraction of the full mark (negative counts as 0)"
    return Points(100 * max(scaled, 0.0), 100.0, (note,))


def _activities(context: Any, key: str) -> list[Mapping[str, Any]]:
    if not isinstance(context, Mapping):
        return []
    entries = member(context.get("contextActivities") or {}, key, "/context/contextActivities")
    if isinstance(entries, Mapping):  # xAPI allows a single activity instead of an array
        entries = [entries]
    if entries is not None and not isinstance(entries, list):
        raise FormatError(f"/context/contextActivities/{key}", "must be an array of activities")
    return [e for e in entries or [] if isinstance(e, Mapping)]


def _type(activity: Mapping[str, Any]) -> str | None:
    definition = activity.get("definition")
    kind = definition.get("type") if isinstance(definition, Mapping) else None
    return kind if isinstance(kind, str) else None


def _activity_and_course(
    obj: Mapping[str, Any], context: Any, object_id: str, at: str
) -> tuple[str, str | None, tuple[str, ...]]:
    """(the activity to map, the course, other ids the mapping may fall back to).

    Moodle v5 reports occurrences of a module (a quiz attempt, an assignment submission, a lesson session, a SCORM
    SCO `view.php?id=1#sco`) with the module as the first parent; the module is what a mapping names.
    """
    related = _activities(context, "parent") + _activities(context, "grouping")
    object_type = _type(obj)
    course_id = object_id if object_type in COURSE_TYPES else None
    if course_id is None:
        course_id = next((str(a["id"]) for a in related if _type(a) in COURSE_TYPES and a.get("id")), None)
    modules = [
        str(a["id"]) for a in _activities(context, "parent") if a.get("id") and _type(a) not in _NOT_THE_ACTIVITY
    ]
    activity_id = object_id
    if modules and (object_type in OCCURRENCE_TYPES or object_id.startswith(modules[0] + "#")):
        activity_id = modules[0]
    others = tuple(dict.fromkeys(i for i in (object_id, *modules) if i != activity_id))
    return activity_id, course_id, others

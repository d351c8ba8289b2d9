"""LTI Advantage Assignment and Grade Services: Score objects (`application/vnd.ims.lis.v1.score+json`) POSTed to
`…/{lineitem}/scores`.

- The line item is only in the URL, so it is the mapped activity and part of the derived event id.
- A Score has no id: the id is derived from (line item, canonical Score) — the README's natural key (line item,
  userId, timestamp) is contained in it, and a re-POST of the same Score is a duplicate.
- As Canvas does, `scoreGiven` counts only when `gradingProgress` is `FullyGraded`; otherwise `activityProgress`
  `Submitted`/`Completed` gives a submission/completion, and earlier progress states are ignored.
- `timestamp` is required by the spec but ltijs omits it; then the time of receipt is used (noted).
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
    points,
    text,
)
from shared.contracts import ActivityKind

CONTENT_TYPE = "application/vnd.ims.lis.v1.score+json"
ACTIVITY_PROGRESS = frozenset({"Initialized", "Started", "InProgress", "Submitted", "Completed"})
GRADING_PROGRESS = frozenset({"FullyGraded", "Pending", "PendingManual", "Failed", "NotReady"})


def parse(payload: Any, *, lineitem: str, received_at: datetime) -> list[Item]:
    """One Score for one line item."""
    if not isinstance(payload, Mapping):
        raise FormatError("", "a Score must be a JSON object")
    user_id = text(payload.get("userId"), "/userId", required=True, max_length=200)
    assert user_id is not None
    activity = payload.get("activityProgress")
    grading = payload.get("gradingProgress")
    if not isinstance(activity, str) or activity not in ACTIVITY_PROGRESS:
        raise FormatError("/activityProgress", f"must be one of {', '.join(sorted(ACTIVITY_PROGRESS))}")
    if not isinstance(grading, str) or grading not in GRADING_PROGRESS:
        raise FormatError("/gradingProgress", f"must be one of {', '.join(sorted(GRADING_PROGRESS))}")
    given = number(payload.get("scoreGiven"), "/scoreGiven")
    maximum = number(payload.get("scoreMaximum"), "/scoreMaximum")
    if given is not None and maximum is None:
        raise FormatError("/scoreMaximum", "is required when scoreGiven is present")
    if maximum is not None and maximum <= 0:
        raise FormatError("/scoreMaximum", "must be greater than 0")
    event_id = derive_event_id(Format.LTI_AGS, payload, lineitem)
    notes: list[str] = []
    if payload.get("timestamp") is None:
        occurred_at = received_at
        notes.append("no timestamp: the time of receipt is used")
    else:
        occurred_at = parse_time(payload["timestamp"], "/timestamp")

    score = None
    if given is not None and grading == "FullyGraded":
        score = points(given, minimum=None, maximum=maximum, at="/scoreGiven")
        kind = ActivityKind.SCORED
        notes.extend(score.notes)
    else:
        if given is not None:
            notes.append(f"scoreGiven ignored: gradingProgress is {grading}, not FullyGraded")
        if activity == "Submitted":
            kind = ActivityKind.SUBMITTED
        elif activity == "Completed":
            kind = ActivityKind.COMPLETED
        else:
            reason = f"activityProgress {activity} with gradingProgress {grading}: no result yet"
            return [Ignored("", event_id, reason)]
    observation = Observation(
        format=Format.LTI_AGS,
        event_id=event_id,
        event_id_derived=True,
        kind=kind,
        learner_id=user_id,
        occurred_at=occurred_at,
        pointer="",
        activity_id=lineitem,
        score=score.score if score else None,
        max_score=score.max_score if score else None,
        notes=tuple(notes),
    )
    return [observation]

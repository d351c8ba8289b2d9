"""The ingest path's shortcuts give exactly what the models gave: an outbox record built from the validated
activity equals `event_record(normalise(…), enrollment_cloud_event(…))`, byte for byte, and a receipt serialised
from the results is the `Receipt` model's JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.enrollment.domain import enrollment_cloud_event, enrollment_record, normalise
from services.enrollment.handlers import ItemResult, Recorded
from services.enrollment.lms_http import ActivityReceipt, Receipt, receipt
from shared.contracts import ActivityKind, EnrollmentRecorded, LmsActivity
from shared.messaging.records import event_record

ids = st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), min_size=1, max_size=12)
points = st.one_of(st.none(), st.integers(0, 100), st.floats(0, 1e9, allow_nan=False, allow_infinity=False))
times = st.datetimes(
    min_value=datetime(1900, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5, minutes=-30))]),
)


@st.composite
def activities(draw: st.DrawFn) -> LmsActivity:
    fields: dict[str, Any] = {
        "tenant_id": draw(st.from_regex(r"[a-z0-9][a-z0-9-]{0,10}", fullmatch=True)),
        "learner_id": draw(ids),
        "event_id": draw(ids),
        "kind": draw(st.sampled_from(list(ActivityKind))),
        "achievement_id": draw(st.one_of(st.none(), ids)),
        "assessment_id": draw(st.one_of(st.none(), ids)),
        "score": draw(points),
        "max_score": draw(st.one_of(st.none(), st.floats(1, 1e9, allow_nan=False))),
        "success": draw(st.one_of(st.none(), st.booleans())),
        "learner_name": draw(st.one_of(st.none(), st.text(max_size=20))),
        "learner_email": draw(st.one_of(st.none(), st.emails())),
        "rubric": draw(st.one_of(st.none(), st.dictionaries(ids, ids, max_size=3))),
        "answers": draw(
            st.one_of(
                st.none(),
                st.lists(
                    st.fixed_dictionaries(
                        {"question_id": ids, "response": st.one_of(ids, st.lists(ids, max_size=2), st.floats(0, 10))}
                    ),
                    max_size=3,
                ),
            )
        ),
        "source_activity_id": draw(st.one_of(st.none(), ids)),
        "occurred_at": draw(times),
    }
    # What each kind needs (the contract's rules), so nearly every draw is an activity the service records.
    kind = fields["kind"]
    if kind in (ActivityKind.ENROLLED, ActivityKind.COMPLETED):
        fields["achievement_id"] = fields["achievement_id"] or "course"
    if kind is not ActivityKind.ENROLLED:
        fields["assessment_id"] = fields["assessment_id"] or "quiz"
    if kind is ActivityKind.SCORED and fields["score"] is None:
        fields["score"] = 1
    if fields["score"] is not None and fields["max_score"] is not None:
        fields["max_score"] = max(fields["max_score"], fields["score"]) or None
    return LmsActivity.model_validate({k: v for k, v in fields.items() if v is not None})


@settings(max_examples=300, deadline=None)
@given(activities(), st.text(min_size=1, max_size=30))
def test_the_outbox_record_is_what_the_models_make(activity: LmsActivity, source: str) -> None:
    salt = "0123456789abcdef"
    event = normalise(activity, source, salt=salt)
    assert event == EnrollmentRecorded.model_validate_json(event.model_dump_json())
    expected = event_record(event, enrollment_cloud_event(event))
    assert enrollment_record(activity, source, salt=salt) == expected


def test_the_raw_email_never_leaves() -> None:
    activity = LmsActivity(
        tenant_id="t",
        learner_id="l",
        event_id="e",
        kind=ActivityKind.ENROLLED,
        achievement_id="a",
        learner_email="Ada@Example.org",
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    record = enrollment_record(activity, "src")
    assert b"Example.org" not in record.value and b"Ada" not in record.value
    assert json.loads(record.value)["recipient"]["identity_hash"].startswith("sha256$")


results = st.builds(
    ItemResult,
    pointer=st.text(max_size=10),
    event_id=st.one_of(st.none(), ids),
    status=st.sampled_from(list(Recorded)),
    kind=st.one_of(st.none(), st.sampled_from([k.value for k in ActivityKind])),
    reason=st.one_of(st.none(), st.text(max_size=20)),
    notes=st.lists(st.text(max_size=10), max_size=2).map(tuple),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(results, max_size=20), st.sampled_from([200, 202]))
def test_the_receipt_is_the_receipt_model(items: list[ItemResult], status: int) -> None:
    response = receipt(items, status_code=status)
    model = Receipt(
        accepted=sum(r.status is Recorded.ACCEPTED for r in items),
        duplicates=sum(r.status is Recorded.DUPLICATE for r in items),
        unmapped=sum(r.status is Recorded.UNMAPPED for r in items),
        ignored=sum(r.status is Recorded.IGNORED for r in items),
        results=[
            ActivityReceipt(
                event_id=r.event_id,
                status=r.status,
                pointer=r.pointer,
                kind=r.kind,
                reason=r.reason,
                notes=list(r.notes),
            )
            for r in items
        ],
    )
    assert response.status_code == status
    assert response.media_type == "application/json"
    assert bytes(response.body) == model.model_dump_json().encode()

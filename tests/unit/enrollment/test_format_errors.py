"""Invalid payloads are refused with the JSON pointer of the offending member."""

from datetime import UTC, datetime
from typing import Any

import pytest

from services.enrollment.formats import Format, FormatError, Ignored, parse
from services.enrollment.formats.xapi import check_version

NOW = datetime(2026, 11, 29, tzinfo=UTC)


def statement(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "actor": {"account": {"homePage": "https://lms.example", "name": "7"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/scored"},
        "object": {"id": "https://lms.example/quiz/1"},
        "result": {"score": {"raw": 5, "min": 0, "max": 10}},
        "timestamp": "2026-11-20T10:00:00Z",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


@pytest.mark.parametrize(
    ("fmt", "payload", "pointer"),
    [
        (Format.XAPI, [statement(), statement(actor={"name": "no id"})], "/1/actor"),
        (Format.XAPI, [statement(verb={})], "/0/verb/id"),
        (Format.XAPI, statement(object=None), "/object"),
        (Format.XAPI, statement(timestamp="yesterday"), "/timestamp"),
        (Format.XAPI, statement(timestamp="2026-11-20T10:00:00"), "/timestamp"),  # no offset
        (Format.XAPI, statement(id="not-a-uuid"), "/id"),
        (Format.XAPI, statement(result={"score": {"raw": "lots"}}), "/result/score/raw"),
        (Format.XAPI, statement(result={"score": {"raw": 1, "min": 5, "max": 5}}), "/result/score/max"),
        (Format.XAPI, statement(result={"score": {"raw": 1}, "success": "yes"}), "/result/success"),
        (Format.XAPI, [], ""),
        (Format.CALIPER, {"data": [{"type": "GradeEvent", "action": "Graded", "id": "urn:uuid:1"}]}, "/data/0/actor"),
        (Format.CALIPER, {"data": "x"}, "/data"),
        (
            Format.CALIPER,
            {"type": "AssessmentEvent", "action": "Submitted", "actor": "a", "object": "o", "eventTime": "soon"},
            "/eventTime",
        ),
        (Format.CANVAS, {"metadata": {"event_name": "grade_change"}, "body": {}}, "/metadata/event_time"),
        (
            Format.CANVAS,
            {"metadata": {"event_name": "grade_change", "event_time": "2026-11-20T10:00:00Z"}, "body": {"score": 1}},
            "/body/student_id",
        ),
        (Format.CANVAS, {"body": {}}, "/metadata"),
        (Format.LTI_AGS, {"scoreGiven": 1, "scoreMaximum": 2}, "/userId"),
        (
            Format.LTI_AGS,
            {"userId": "1", "activityProgress": "Done", "gradingProgress": "FullyGraded"},
            "/activityProgress",
        ),
        (
            Format.LTI_AGS,
            {"userId": "1", "activityProgress": "Completed", "gradingProgress": "FullyGraded", "scoreGiven": 3},
            "/scoreMaximum",
        ),
    ],
)
def test_invalid_payloads_name_the_member(fmt: Format, payload: Any, pointer: str) -> None:
    with pytest.raises(FormatError) as raised:
        parse(fmt, payload, received_at=NOW, lineitem="li")
    assert raised.value.pointer == (pointer or "/")


def test_a_scored_statement_needs_a_score() -> None:
    with pytest.raises(FormatError) as raised:
        parse(Format.XAPI, statement(result={"success": True}), received_at=NOW)
    assert raised.value.pointer == "/result/score"


def test_unknown_verbs_and_objects_are_ignored_not_refused() -> None:
    viewed = statement(verb={"id": "http://id.tincanapi.com/verb/viewed"})
    agent_object = statement(object={"objectType": "Agent", "mbox": "mailto:a@b.c"})
    attempted = statement(verb={"id": "http://adlnet.gov/expapi/verbs/attempted"}, result=None)
    items = parse(Format.XAPI, [viewed, agent_object, attempted], received_at=NOW)
    assert all(isinstance(i, Ignored) for i in items)
    assert [i.pointer for i in items] == ["/0", "/1", "/2"]


def test_attempted_with_a_score_counts_as_scored() -> None:
    (item,) = parse(Format.XAPI, statement(verb={"id": "http://adlnet.gov/expapi/verbs/attempted"}), received_at=NOW)
    assert not isinstance(item, Ignored) and item.kind == "scored"


@pytest.mark.parametrize("header", [None, "", "0.95", "3.0.0"])
def test_xapi_version_header_is_required_and_checked(header: str | None) -> None:
    with pytest.raises(FormatError):
        check_version(header)


@pytest.mark.parametrize("header", ["1.0.0", "1.0.3", "2.0.0"])
def test_supported_xapi_versions(header: str) -> None:
    assert check_version(header) == header

"""Every published LMS sample (../shared/standards/lms-samples, when present) and every own fixture parses and
normalises; the README's quirks come out right."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.enrollment.formats import Format, FormatError, Ignored, Observation, parse
from services.enrollment.mapping import Mapped, to_activity
from shared.contracts import ActivityKind, LmsActivity
from tests.unit.enrollment.samples import (
    FIXTURES,
    NOT_INBOUND,
    SHARED_SAMPLES,
    format_of,
    load_payload,
    own_fixtures,
    sample_params,
    shared_samples,
)

RECEIVED = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def parse_file(path: Path) -> list[Observation | Ignored]:
    fmt = format_of(path)
    return parse(fmt, load_payload(path), received_at=RECEIVED, lineitem="https://lms.example/li/1")


def assert_normalises(items: list[Observation | Ignored]) -> None:
    """Each observation becomes a valid native LmsActivity once mapped (any ids will do here)."""
    for item in items:
        if isinstance(item, Observation):
            activity = to_activity(item, Mapped("achievement", "assessment"), tenant_id="acme")
            assert LmsActivity.model_validate(activity.model_dump()) == activity
            assert activity.event_id and activity.occurred_at.tzinfo is not None


@pytest.mark.skipif(not SHARED_SAMPLES.is_dir(), reason="../shared/standards/lms-samples is not present")
@pytest.mark.parametrize("path", sample_params(shared_samples(), SHARED_SAMPLES))
def test_every_published_sample_parses_and_normalises(path: Path) -> None:
    if path.name in NOT_INBOUND:
        if format_of(path) is Format.LTI_AGS:
            with pytest.raises(FormatError):  # not a Score: the scores endpoint refuses it, naming the member
                parse_file(path)
        return
    items = parse_file(path)
    assert items
    assert_normalises(items)


@pytest.mark.parametrize("path", sample_params(own_fixtures(), FIXTURES))
def test_every_own_fixture_parses_and_normalises(path: Path) -> None:
    items = parse_file(path)
    assert items
    assert_normalises(items)


def observations(path: Path) -> list[Observation]:
    return [i for i in parse_file(path) if isinstance(i, Observation)]


def summary(item: Observation) -> tuple[Any, ...]:
    return (item.kind, item.learner_id, item.activity_id, item.course_id, item.score, item.max_score)


OWN_EXPECTED = {
    "xapi/moodle_v5_user_enrolment_created.json": [
        (
            ActivityKind.ENROLLED,
            "1042",
            "https://moodle.example.edu/course/view.php?id=7",
            "https://moodle.example.edu/course/view.php?id=7",
            None,
            None,
        ),
    ],
    "xapi/moodle_v5_quiz_attempt_submitted.json": [
        (
            ActivityKind.COMPLETED,
            "1042",
            "https://moodle.example.edu/mod/quiz/view.php?id=31",
            "https://moodle.example.edu/course/view.php?id=7",
            42.0,
            50.0,
        ),
    ],
    # v4.7 shape (quiz as object, course in grouping, raw/max `scaled`): the same activity and score as v5.
    "xapi/moodle_v47_quiz_attempt_submitted.json": [
        (
            ActivityKind.COMPLETED,
            "1042",
            "https://moodle.example.edu/mod/quiz/view.php?id=31",
            "https://moodle.example.edu/course/view.php?id=7",
            42.0,
            50.0,
        ),
    ],
    "xapi/lrs_statement_mbox_passed.json": [
        (
            ActivityKind.PASSED,
            "sha1:" + __import__("hashlib").sha1(b"mailto:grace@example.edu").hexdigest(),
            "https://lms.example.edu/activities/cobol-final",
            None,
            90.0,
            100.0,
        ),
    ],
    "caliper/canvas_enrollment_created.json": [
        (
            ActivityKind.ENROLLED,
            "21070000000020064",
            "urn:instructure:canvas:course:21070000000000777",
            "urn:instructure:canvas:course:21070000000000777",
            None,
            None,
        ),
    ],
    "caliper/canvas_grade_change.json": [  # 12 out of 10: extra credit counts as the full mark
        (
            ActivityKind.SCORED,
            "21070000000020064",
            "urn:instructure:canvas:assignment:21070000000000355",
            "urn:instructure:canvas:course:21070000000000777",
            10.0,
            10.0,
        ),
    ],
    "caliper/canvas_grade_change_letter_grade.json": [],
    "caliper/canvas_submission_created.json": [
        (
            ActivityKind.SUBMITTED,
            "21070000000020064",
            "urn:instructure:canvas:assignment:21070000000000355",
            None,
            None,
            None,
        ),
    ],
    "caliper/spec_thinned_mixed_batch.json": [
        (
            ActivityKind.SUBMITTED,
            "https://example.edu/users/554433",
            "https://example.edu/terms/202601/courses/7/sections/1/assess/1",
            "https://example.edu/terms/202601/courses/7",
            None,
            None,
        ),
        (
            ActivityKind.SCORED,
            "https://example.edu/users/554433",
            "https://example.edu/terms/202601/courses/7/sections/1/assess/1",
            "https://example.edu/terms/202601/courses/7",
            13.5,
            15.0,
        ),
    ],
    "canvas/enrollment_created.json": [
        (
            ActivityKind.ENROLLED,
            "21070000000030111",
            "urn:instructure:canvas:course:21070000000000888",
            "urn:instructure:canvas:course:21070000000000888",
            None,
            None,
        ),
    ],
    "canvas/grade_change.json": [
        (
            ActivityKind.SCORED,
            "21070000000030111",
            "urn:instructure:canvas:assignment:21070000000000400",
            "urn:instructure:canvas:course:21070000000000888",
            18.0,
            20.0,
        ),
    ],
    "canvas/grade_change_letter_grade.json": [],
    # Local ids 30111 / 888 become the global ids the other events use (shard from metadata.root_account_id).
    "canvas/course_completed.json": [
        (
            ActivityKind.COMPLETED,
            "21070000000030111",
            "urn:instructure:canvas:course:21070000000000888",
            "urn:instructure:canvas:course:21070000000000888",
            None,
            None,
        ),
    ],
    "canvas/submission_created.json": [
        (
            ActivityKind.SUBMITTED,
            "21070000000030111",
            "urn:instructure:canvas:assignment:21070000000000400",
            None,
            None,
            None,
        ),
    ],
    "lti-ags/score_fully_graded.json": [
        (ActivityKind.SCORED, "5323497", "https://lms.example/li/1", None, 83.0, 100.0),
    ],
    "lti-ags/score_without_timestamp.json": [
        (ActivityKind.SCORED, "200", "https://lms.example/li/1", None, 9.0, 10.0),
    ],
    "lti-ags/score_offset_without_colon.json": [
        (ActivityKind.SCORED, "2", "https://lms.example/li/1", None, 7.5, 10.0),
    ],
    "lti-ags/score_pending_manual.json": [  # scoreGiven counts only once FullyGraded
        (ActivityKind.SUBMITTED, "2", "https://lms.example/li/1", None, None, None),
    ],
}


@pytest.mark.parametrize(("name", "expected"), OWN_EXPECTED.items(), ids=list(OWN_EXPECTED))
def test_own_fixtures_normalise_to_the_expected_activities(name: str, expected: list[tuple[Any, ...]]) -> None:
    assert [summary(o) for o in observations(FIXTURES / name)] == expected


def test_every_own_fixture_has_an_expectation() -> None:
    assert {str(p.relative_to(FIXTURES)) for p in own_fixtures()} == set(OWN_EXPECTED)


def test_moodle_scaled_score_is_not_trusted_across_plugin_versions() -> None:
    """v5 sends scaled 0.68 and v4.7 0.84 for the same 42/50; both normalise to 42 of 50."""
    v5 = observations(FIXTURES / "xapi/moodle_v5_quiz_attempt_submitted.json")[0]
    v47 = observations(FIXTURES / "xapi/moodle_v47_quiz_attempt_submitted.json")[0]
    assert (v5.score, v5.max_score) == (v47.score, v47.max_score) == (42.0, 50.0)
    # Same instant, different spellings: 10:14:03.000Z and 18:14:03+08:00.
    assert v5.occurred_at == v47.occurred_at


def test_time_zone_spellings_all_parse_to_the_same_instant_or_offset() -> None:
    without_colon = observations(FIXTURES / "lti-ags/score_offset_without_colon.json")[0]
    assert without_colon.occurred_at == datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    pending = parse_file(FIXTURES / "lti-ags/score_pending_manual.json")[0]
    assert isinstance(pending, Observation)
    assert pending.occurred_at == datetime(2026, 11, 21, 12, 0, tzinfo=UTC)  # -03:00
    no_timestamp = observations(FIXTURES / "lti-ags/score_without_timestamp.json")[0]
    assert no_timestamp.occurred_at == RECEIVED
    assert any("time of receipt" in note for note in no_timestamp.notes)


def test_extra_credit_and_letter_grades() -> None:
    extra = observations(FIXTURES / "caliper/canvas_grade_change.json")[0]
    assert any("above the maximum" in note for note in extra.notes)
    for name in ("caliper/canvas_grade_change_letter_grade.json", "canvas/grade_change_letter_grade.json"):
        (item,) = parse_file(FIXTURES / name)
        assert isinstance(item, Ignored)
        assert "letter grade" in item.reason


def test_derived_ids_are_deterministic_and_survive_reserialisation() -> None:
    """Moodle statements and Canvas events have no id: the derived id ignores key order, whitespace and 2 vs 2.0."""
    path = FIXTURES / "xapi/moodle_v47_quiz_attempt_submitted.json"
    first = observations(path)[0]
    statement = json.loads(path.read_text())[0]
    statement["result"]["score"]["raw"] = 42.0  # was 42
    reordered = json.loads(json.dumps(statement, sort_keys=True))
    again = parse(Format.XAPI, [reordered], received_at=RECEIVED)[0]
    assert isinstance(again, Observation)
    assert again.event_id == first.event_id and first.event_id_derived
    canvas = FIXTURES / "canvas/grade_change.json"
    assert observations(canvas)[0].event_id == observations(canvas)[0].event_id
    other = json.loads(canvas.read_text())
    other["body"]["score"] = 17
    changed = parse(Format.CANVAS, other, received_at=RECEIVED)[0]
    assert isinstance(changed, Observation) and changed.event_id != observations(canvas)[0].event_id


def test_source_event_ids_are_kept() -> None:
    assert observations(FIXTURES / "caliper/canvas_grade_change.json")[0].event_id == (
        "urn:uuid:9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
    )
    mbox = observations(FIXTURES / "xapi/lrs_statement_mbox_passed.json")[0]
    assert mbox.event_id == "6f1c3e2a-9b7d-4c1e-8f5a-2d3b4c5e6f70" and not mbox.event_id_derived
    assert mbox.learner_email == "grace@example.edu"


@pytest.mark.skipif(not SHARED_SAMPLES.is_dir(), reason="../shared/standards/lms-samples is not present")
def test_published_samples_give_the_readme_identities() -> None:
    def one(relative: str) -> Observation:
        items = [i for i in parse_file(SHARED_SAMPLES / relative) if isinstance(i, Observation)]
        return items[0]

    grade = one("canvas-caliper/grade_change.payload.json")
    assert (grade.learner_id, grade.score, grade.max_score) == ("21070000000000048", 1.0, 1.0)  # 5 of 1
    assert grade.event_id == "urn:uuid:319f0132-0584-4efd-9489-4959b7101731"
    enrolled = one("canvas-caliper/enrollment_created.json")  # actor is the admin; learner in extensions
    assert enrolled.learner_id == "21070000000020064"
    assert enrolled.course_id == "urn:instructure:canvas:course:21070000000000565"
    completed = one("canvas-native/course_completed.payload.json")  # local ids made global
    assert (completed.learner_id, completed.course_id) == (
        "21070000000000123",
        "urn:instructure:canvas:course:21070000000000565",
    )
    assert completed.learner_email == "inewton@example.com"
    native_grade = one("canvas-native/grade_change.payload.json")  # metadata.user_id is the grader
    assert native_grade.learner_id == "21070000000000048"
    assert native_grade.activity_id == grade.activity_id  # one mapping serves both Canvas formats
    v5 = one("moodle-xapi/mod_quiz__attempt_submitted__multichoice.statements.json")
    legacy = one("moodle-xapi/legacy-v4.7.0/mod_quiz__attempt_submitted__multichoice.statements.json")
    assert (v5.score, v5.max_score) == (legacy.score, legacy.max_score) == (50.0, 100.0)  # scaled 0.0 vs 0.5
    assert v5.activity_id == "http://www.example.org/mod/quiz/view.php?id=1" == legacy.activity_id
    assert legacy.occurred_at == datetime(2015, 6, 10, 14, 31, 41, tzinfo=UTC)  # +08:00 local
    assert v5.occurred_at == legacy.occurred_at
    mixed = [i for i in parse_file(SHARED_SAMPLES / "caliper-spec/caliperEnvelopeMixedBatch.json")]
    assert sum(isinstance(i, Ignored) and "entity" in i.reason for i in mixed) == 4
    ltijs = one("lti-ags/ltijs__docs_grading_md__score.json")
    assert ltijs.occurred_at == RECEIVED  # the documented Score has no timestamp

"""Mapping LMS ids to Achievements and assessments: exact beats prefix, longest prefix wins, {suffix} templates,
and what no rule covers is reported as unmapped."""

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from services.enrollment.formats import Format, Observation
from services.enrollment.mapping import Mapped, MappingRule, Unmapped, resolve, to_activity
from shared.contracts import ActivityKind

NOW = datetime(2026, 11, 29, tzinfo=UTC)
RULES = [
    MappingRule(match="prefix", lms_id="urn:canvas:assignment:", assessment_id="canvas-{suffix}"),
    MappingRule(match="exact", lms_id="urn:canvas:assignment:355", assessment_id="final-exam"),
    MappingRule(match="prefix", lms_id="urn:canvas:course:", achievement_id="course-{suffix}"),
    MappingRule(match="prefix", lms_id="urn:canvas:course:7", achievement_id="seven-something"),
    MappingRule(match="exact", lms_id="https://m.example/mod/quiz/view.php?id=1", assessment_id="quiz-1"),
]


def observation(kind: ActivityKind, activity: str | None, course: str | None = None, **extra: object) -> Observation:
    return Observation(
        format=Format.CALIPER,
        event_id="e",
        kind=kind,
        learner_id="42",
        occurred_at=NOW,
        pointer="",
        activity_id=activity,
        course_id=course,
        **extra,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (observation(ActivityKind.SCORED, "urn:canvas:assignment:355"), Mapped(None, "final-exam")),
        (observation(ActivityKind.SCORED, "urn:canvas:assignment:356"), Mapped(None, "canvas-356")),
        (observation(ActivityKind.ENROLLED, "urn:canvas:course:12", "urn:canvas:course:12"), Mapped("course-12", None)),
        (
            observation(ActivityKind.ENROLLED, "urn:canvas:course:77", "urn:canvas:course:77"),
            Mapped("seven-something", None),
        ),
        (
            observation(ActivityKind.SCORED, "https://m.example/mod/quiz/view.php?id=1", "urn:canvas:course:12"),
            Mapped(None, "quiz-1"),
        ),
        (
            observation(
                ActivityKind.SCORED,
                "https://m.example/mod/quiz/attempt.php?a=9",
                related_ids=("https://m.example/mod/quiz/view.php?id=1",),
            ),
            Mapped(None, "quiz-1"),
        ),
    ],
)
def test_rules_resolve(item: Observation, expected: Mapped) -> None:
    assert resolve(item, RULES) == expected


def test_a_completed_activity_does_not_complete_its_course() -> None:
    """A course-level rule maps enrolments and course completions, never a quiz completion inside the course."""
    quiz_done = observation(ActivityKind.COMPLETED, "https://m.example/other", "urn:canvas:course:12")
    assert isinstance(resolve(quiz_done, RULES), Unmapped)
    course_done = observation(ActivityKind.COMPLETED, "urn:canvas:course:12", "urn:canvas:course:12")
    assert resolve(course_done, RULES) == Mapped("course-12", None)


def test_unmapped_activities_say_which_id() -> None:
    result = resolve(observation(ActivityKind.SCORED, "https://elsewhere/quiz/9"), RULES)
    assert isinstance(result, Unmapped) and "https://elsewhere/quiz/9" in result.reason
    enrolment = resolve(observation(ActivityKind.ENROLLED, "https://elsewhere/course/1"), [])
    assert isinstance(enrolment, Unmapped) and "Achievement" in enrolment.reason


def test_suffixes_are_made_id_safe() -> None:
    rule = MappingRule(match="prefix", lms_id="https://m.example/mod/", assessment_id="moodle-{suffix}")
    item = observation(ActivityKind.SCORED, "https://m.example/mod/quiz/view.php?id=31")
    assert resolve(item, [rule]) == Mapped(None, "moodle-quiz-view.php-id-31")


@pytest.mark.parametrize(
    "rule",
    [
        {"lms_id": "x"},  # no target
        {"lms_id": "x", "match": "exact", "assessment_id": "a-{suffix}"},
        {"lms_id": "", "assessment_id": "a"},
        {"lms_id": "x", "match": "regex", "assessment_id": "a"},
    ],
)
def test_invalid_rules_are_refused(rule: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        MappingRule.model_validate(rule)


def test_to_activity_keeps_the_source_ids_and_drops_a_malformed_email() -> None:
    item = observation(ActivityKind.SCORED, "urn:canvas:assignment:355", score=3.0, max_score=4.0, learner_email="x")
    activity = to_activity(item, Mapped("ignored-for-scores", "final-exam"), tenant_id="acme", learner_prefix="cv:")
    assert activity.learner_id == "cv:42" and activity.assessment_id == "final-exam"
    assert activity.achievement_id is None and activity.learner_email is None
    assert activity.source_activity_id == "urn:canvas:assignment:355" and activity.event_id == "e"

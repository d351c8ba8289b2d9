"""Criteria evaluation, rule by rule: met or not, why not, when it first held, what goes on the credential."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.assessment.criteria import Criteria
from services.assessment.evaluation import (
    Attempt,
    Completion,
    EarnedAchievement,
    LearnerRecord,
    Outcome,
    evaluate,
)
from shared.contracts import ResultKind

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def check(
    rule: dict[str, Any], *evidence: Attempt | Completion | EarnedAchievement, since: datetime | None = None
) -> Outcome:
    record = LearnerRecord(
        attempts=[e for e in evidence if isinstance(e, Attempt)],
        completions=[e for e in evidence if isinstance(e, Completion)],
        earned=[e for e in evidence if isinstance(e, EarnedAchievement)],
    )
    return evaluate(Criteria.model_validate({"narrative": "n", "rule": rule}), record, since=since)


def scored(
    assessment: str, score: float, minute: int, max_score: float | None = 100, success: bool | None = None
) -> Attempt:
    return Attempt(assessment, at(minute), score=score, max_score=max_score, success=success)


# --- assessment -------------------------------------------------------------------------------------------------


def test_min_score_is_a_percent_of_each_attempts_maximum() -> None:
    rule = {"type": "assessment", "assessment_id": "quiz", "min_score": 70}
    outcome = check(rule, scored("quiz", 7, 1, max_score=10))
    assert outcome.met and outcome.met_at == at(1)
    [result] = outcome.results
    assert (result.score, result.max_score, result.required_score, result.kind) == (7, 10, 7, ResultKind.SCORE)
    assert not check(rule, scored("quiz", 69.9, 1)).met
    assert check(rule, scored("quiz", 69.9, 1)).unmet == ("assessment 'quiz': best 69.9%, needs 70%",)
    assert check(rule).unmet == ("assessment 'quiz': no attempt",)
    assert not check(rule, scored("other", 100, 1)).met


def test_a_score_without_maximum_is_out_of_100() -> None:
    rule = {"type": "assessment", "assessment_id": "quiz", "min_score": 70}
    assert check(rule, scored("quiz", 70, 1, max_score=None)).met
    assert check(rule, scored("quiz", 70, 1, max_score=None)).results[0].max_score == 100


def test_floating_point_rounding_does_not_fail_an_exact_minimum() -> None:
    rule = {"type": "assessment", "assessment_id": "quiz", "min_score": 70}
    assert check(rule, scored("quiz", 0.7, 1, max_score=1)).met
    assert check(rule, scored("quiz", 7, 1, max_score=10)).met


def test_the_best_attempt_is_shown_and_the_first_passing_one_dates_the_award() -> None:
    rule = {"type": "assessment", "assessment_id": "quiz", "min_score": 60}
    outcome = check(rule, scored("quiz", 40, 1), scored("quiz", 65, 2), scored("quiz", 90, 3), scored("quiz", 50, 4))
    assert outcome.met_at == at(2)
    assert outcome.results[0].score == 90
    assert outcome.results[0].achieved_at == at(3)


def test_success_flag_alone() -> None:
    rule = {"type": "assessment", "assessment_id": "lab", "require_success": True, "name": "Lab"}
    outcome = check(rule, Attempt("lab", at(1), success=False), Attempt("lab", at(2), success=True))
    assert outcome.met and outcome.met_at == at(2)
    [result] = outcome.results
    assert (result.kind, result.score, result.max_score, result.success, result.name) == (
        ResultKind.SUCCESS,
        1,
        1,
        True,
        "Lab",
    )
    assert check(rule, Attempt("lab", at(1), success=False)).unmet == (
        "assessment 'lab': no attempt flagged as passed",
    )
    assert not check(rule, scored("lab", 100, 1)).met  # a score is not the LMS's pass verdict


def test_success_flag_with_a_score_shows_the_score() -> None:
    rule = {"type": "assessment", "assessment_id": "lab", "require_success": True}
    [result] = check(rule, scored("lab", 55, 1, success=True)).results
    assert (result.kind, result.score, result.success) == (ResultKind.SUCCESS, 55, True)


def test_minimum_and_success_together() -> None:
    rule = {"type": "assessment", "assessment_id": "lab", "min_score": 80, "require_success": True}
    assert not check(rule, scored("lab", 90, 1, success=False), scored("lab", 70, 2, success=True)).met
    assert check(rule, scored("lab", 85, 3, success=True)).met


def test_no_minimum_and_no_flag_needs_any_result() -> None:
    rule = {"type": "assessment", "assessment_id": "quiz"}
    assert check(rule, scored("quiz", 0, 1)).met
    assert check(rule, Attempt("quiz", at(1), success=True)).met
    assert not check(rule, Attempt("quiz", at(1))).met  # a bare submission
    assert check(rule, Attempt("quiz", at(1))).unmet == ("assessment 'quiz': no attempt with a result",)


# --- windows ----------------------------------------------------------------------------------------------------


def test_results_count_only_inside_the_window_with_inclusive_ends() -> None:
    rule = {
        "type": "assessment",
        "assessment_id": "quiz",
        "min_score": 50,
        "window": {"opens_at": at(10).isoformat(), "closes_at": at(20).isoformat()},
    }
    assert not check(rule, scored("quiz", 90, 9), scored("quiz", 90, 21)).met
    assert check(rule, scored("quiz", 90, 10)).met
    assert check(rule, scored("quiz", 90, 20)).met
    assert check(rule, scored("quiz", 90, 9), scored("quiz", 60, 15)).results[0].score == 60


def test_open_ended_windows() -> None:
    deadline = {"type": "assessment", "assessment_id": "q", "window": {"closes_at": at(5).isoformat()}}
    assert check(deadline, scored("q", 1, 5)).met and not check(deadline, scored("q", 1, 6)).met
    opening = {"type": "assessment", "assessment_id": "q", "window": {"opens_at": at(5).isoformat()}}
    assert check(opening, scored("q", 1, 5)).met and not check(opening, scored("q", 1, 4)).met


def test_windows_nest_as_intersections() -> None:
    rule = {
        "type": "all_of",
        "window": {"opens_at": at(0).isoformat(), "closes_at": at(60).isoformat()},
        "rules": [
            {"type": "assessment", "assessment_id": "a", "window": {"opens_at": at(30).isoformat()}},
            {"type": "completed", "activity_ids": ["v"]},
        ],
    }
    assert check(rule, scored("a", 1, 40), Completion("v", at(50))).met
    assert not check(rule, scored("a", 1, 20), Completion("v", at(50))).met  # before the inner window
    assert not check(rule, scored("a", 1, 61), Completion("v", at(50))).met  # after the outer window
    assert not check(rule, scored("a", 1, 40), Completion("v", at(61))).met


def test_evidence_before_since_does_not_count() -> None:
    rule = {"type": "assessment", "assessment_id": "q", "min_score": 50}
    assert not check(rule, scored("q", 90, 1), since=at(2)).met
    assert check(rule, scored("q", 90, 1), scored("q", 60, 3), since=at(2)).met_at == at(3)


# --- rubric -----------------------------------------------------------------------------------------------------

RUBRIC = {
    "type": "rubric",
    "assessment_id": "essay",
    "name": "Essay",
    "criteria": [
        {
            "id": "argument",
            "name": "Argument",
            "levels": [
                {"id": "novice", "name": "Novice"},
                {"id": "proficient", "name": "Proficient"},
                {"id": "expert", "name": "Expert"},
            ],
            "required_level": "proficient",
        },
        {
            "id": "sources",
            "name": "Sources",
            "description": "Cites and weighs sources.",
            "levels": [
                {"id": "none", "name": "None", "points": 0},
                {"id": "some", "name": "Some", "points": 5},
                {"id": "many", "name": "Many", "points": 10, "description": "Five or more."},
            ],
            "required_level": "some",
        },
    ],
}


def graded(minute: int, **levels: str) -> Attempt:
    return Attempt("essay", at(minute), rubric=levels)


def test_rubric_met_when_one_attempt_reaches_every_required_level() -> None:
    outcome = check(RUBRIC, graded(1, argument="expert", sources="some"))
    assert outcome.met and outcome.met_at == at(1)
    [result] = outcome.results
    assert result.kind is ResultKind.RUBRIC and result.name == "Essay"
    assert (result.score, result.max_score, result.required_score) == (3 + 5, 3 + 10, 2 + 5)
    assert result.rubric == {"argument": "expert", "sources": "some"}


def test_rubric_criteria_are_listed_for_the_credentials_result_descriptions() -> None:
    criteria = Criteria.model_validate({"narrative": "n", "rule": {"type": "all_of", "rules": [RUBRIC]}})
    [(assessment, argument), (_, sources)] = criteria.rubric_criteria()
    assert (assessment, argument.id, argument.required_level) == ("essay", "argument", "proficient")
    assert [level.id for level in argument.levels] == ["novice", "proficient", "expert"]
    assert [argument.points_of(level.id) for level in argument.levels] == [1, 2, 3]
    assert sources.description == "Cites and weighs sources." and sources.levels[2].description == "Five or more."


def test_rubric_levels_are_ordered_per_criterion() -> None:
    assert not check(RUBRIC, graded(1, argument="novice", sources="many")).met
    outcome = check(RUBRIC, graded(1, argument="novice", sources="none"))
    assert outcome.unmet == (
        "rubric 'essay': 'argument' at 'novice', needs 'proficient'; 'sources' at 'none', needs 'some'",
    )


def test_rubric_unknown_or_missing_levels_do_not_count() -> None:
    assert not check(RUBRIC, graded(1, argument="legendary", sources="many")).met
    assert check(RUBRIC, graded(1, sources="many")).unmet == (
        "rubric 'essay': 'argument' at no level, needs 'proficient'",
    )


def test_rubric_levels_are_not_mixed_across_attempts() -> None:
    # Each attempt is one grading of one piece of work: two half-good essays do not make a good one.
    assert not check(
        RUBRIC, graded(1, argument="expert", sources="none"), graded(2, argument="novice", sources="many")
    ).met


def test_rubric_shows_the_best_qualifying_attempt() -> None:
    outcome = check(
        RUBRIC, graded(1, argument="proficient", sources="some"), graded(2, argument="expert", sources="many")
    )
    assert outcome.met_at == at(1)
    assert outcome.results[0].score == 13 and outcome.results[0].achieved_at == at(2)


def test_rubric_without_rubric_grading() -> None:
    assert check(RUBRIC, scored("essay", 100, 1)).unmet == ("rubric 'essay': no rubric-graded attempt",)


# --- overall score ----------------------------------------------------------------------------------------------


def test_overall_mean_of_best_percent_per_assessment() -> None:
    rule = {"type": "overall_score", "assessment_ids": ["a", "b", "c"], "min_score": 70}
    outcome = check(rule, scored("a", 60, 1), scored("b", 8, 2, max_score=10), scored("c", 65, 3), scored("a", 75, 4))
    # After minute 3: (60 + 80 + 65) / 3 = 68.3; after minute 4: (75 + 80 + 65) / 3 = 73.3.
    assert outcome.met and outcome.met_at == at(4)
    [result] = outcome.results
    assert result.kind is ResultKind.OVERALL_SCORE and result.assessment_id == "overall-score"
    assert result.score == pytest.approx(73.333333) and (result.max_score, result.required_score) == (100, 70)


def test_overall_weighted_mean() -> None:
    rule = {
        "type": "overall_score",
        "id": "course-grade",
        "assessment_ids": ["exam", "labs"],
        "min_score": 70,
        "method": "weighted",
        "weights": {"exam": 3, "labs": 1},
    }
    outcome = check(rule, scored("exam", 80, 1), scored("labs", 50, 2))  # (3 * 80 + 50) / 4 = 72.5
    assert outcome.met and outcome.results[0].score == 72.5
    assert outcome.results[0].assessment_id == "course-grade"
    assert check(rule, scored("exam", 60, 1), scored("labs", 100, 2)).met  # exactly 70
    # The plain mean would be 75: the weights are what keep this one out.
    assert check(rule, scored("exam", 60, 1), scored("labs", 90, 2)).unmet == (
        "overall score 'course-grade': 67.5%, needs 70%",
    )


def test_overall_needs_a_result_for_every_listed_assessment() -> None:
    rule = {"type": "overall_score", "assessment_ids": ["a", "b"], "min_score": 10}
    assert check(rule, scored("a", 100, 1)).unmet == ("overall score 'overall-score': no result for 'b'",)
    assert check(rule, scored("a", 0, 1), scored("b", 10, 2)).unmet == (
        "overall score 'overall-score': 5.0%, needs 10%",
    )


def test_overall_ignores_results_outside_the_window() -> None:
    rule = {
        "type": "overall_score",
        "assessment_ids": ["a", "b"],
        "min_score": 50,
        "window": {"closes_at": at(10).isoformat()},
    }
    assert not check(rule, scored("a", 100, 1), scored("b", 100, 11)).met


# --- completion -------------------------------------------------------------------------------------------------


def test_completed_needs_every_listed_activity() -> None:
    rule = {"type": "completed", "activity_ids": ["video", "lab"]}
    assert check(rule, Completion("video", at(1))).unmet == ("not completed: 'lab'",)
    outcome = check(rule, Completion("lab", at(5)), Completion("video", at(1)), Completion("video", at(9)))
    assert outcome.met and outcome.met_at == at(5)
    assert [(r.assessment_id, r.kind, r.achieved_at) for r in outcome.results] == [
        ("video", ResultKind.COMPLETION, at(1)),
        ("lab", ResultKind.COMPLETION, at(5)),
    ]


# --- achievements (pathways) and composition ---------------------------------------------------------------------


def earned(achievement: str, minute: int) -> EarnedAchievement:
    return EarnedAchievement(achievement, at(minute), uuid.uuid5(uuid.NAMESPACE_URL, f"{achievement}-{minute}"))


def test_achievement_rule_uses_the_first_award() -> None:
    rule = {"type": "achievement", "achievement_id": "sql"}
    outcome = check(rule, earned("sql", 7), earned("sql", 3))
    assert outcome.met_at == at(3) and outcome.components == (earned("sql", 3).award_id,)
    assert outcome.results[0].kind is ResultKind.ACHIEVEMENT
    assert check(rule, earned("python", 1)).unmet == ("achievement 'sql' not earned",)


def test_all_of_is_met_when_the_last_part_is() -> None:
    rule = {"type": "all_of", "rules": [{"type": "achievement", "achievement_id": x} for x in ("a", "b", "c")]}
    outcome = check(rule, earned("c", 1), earned("a", 9), earned("b", 4))
    assert outcome.met and outcome.met_at == at(9)
    assert len(outcome.components) == 3 and len(outcome.results) == 3
    assert check(rule, earned("a", 1)).unmet == ("achievement 'b' not earned", "achievement 'c' not earned")


def test_n_of_m_is_met_by_the_nth_choice_and_shows_every_met_choice() -> None:
    rule = {"type": "n_of", "n": 2, "rules": [{"type": "achievement", "achievement_id": x} for x in ("a", "b", "c")]}
    outcome = check(rule, earned("c", 5), earned("a", 2), earned("b", 8))
    assert outcome.met and outcome.met_at == at(5)
    assert {r.assessment_id for r in outcome.results} == {"a", "b", "c"}
    not_yet = check(rule, earned("b", 1))
    assert not_yet.unmet[0] == "1 of the 2 required choices met"


def test_nested_composition_mixes_rule_types() -> None:
    rule = {
        "type": "all_of",
        "rules": [
            {"type": "assessment", "assessment_id": "capstone", "min_score": 75},
            {
                "type": "n_of",
                "n": 1,
                "rules": [
                    {"type": "completed", "activity_ids": ["internship"]},
                    {"type": "achievement", "achievement_id": "portfolio"},
                ],
            },
        ],
    }
    assert not check(rule, scored("capstone", 80, 1)).met
    outcome = check(rule, scored("capstone", 80, 1), earned("portfolio", 3))
    assert outcome.met and outcome.met_at == at(3)
    assert [r.kind for r in outcome.results] == [ResultKind.SCORE, ResultKind.ACHIEVEMENT]

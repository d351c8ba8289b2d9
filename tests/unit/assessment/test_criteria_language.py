"""The criteria language: every rule type's shape, validation on write, the legacy shorthand, references."""

from typing import Any

import pytest
from pydantic import ValidationError

from services.assessment.criteria import (
    MAX_DEPTH,
    AllOfRule,
    AssessmentRule,
    Criteria,
    RefKind,
    RubricCriterion,
)
from services.assessment.domain import AchievementDefinition

RUBRIC: dict[str, Any] = {
    "type": "rubric",
    "assessment_id": "essay",
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
        }
    ],
}


def criteria(rule: dict[str, Any]) -> Criteria:
    return Criteria.model_validate({"narrative": "n", "rule": rule})


def test_the_legacy_shorthand_is_read_as_all_of_assessments() -> None:
    parsed = Criteria.model_validate(
        {"narrative": "n", "required_assessments": [{"assessment_id": "quiz", "min_score": 70}, {"assessment_id": "p"}]}
    )
    assert isinstance(parsed.rule, AllOfRule)
    assert parsed.rule.rules == [
        AssessmentRule(assessment_id="quiz", min_score=70),
        AssessmentRule(assessment_id="p", min_score=0),
    ]
    assert parsed.schema_version == 1
    # What is stored and served is the canonical rule tree, which reads back to the same criteria.
    assert Criteria.model_validate_json(parsed.model_dump_json()) == parsed


@pytest.mark.parametrize(
    "rule",
    [
        {"type": "assessment", "assessment_id": "quiz"},
        {"type": "assessment", "assessment_id": "quiz", "min_score": 70, "require_success": True},
        RUBRIC,
        {"type": "overall_score", "assessment_ids": ["a", "b"], "min_score": 70},
        {
            "type": "overall_score",
            "assessment_ids": ["a", "b"],
            "min_score": 70,
            "method": "weighted",
            "weights": {"a": 1, "b": 3},
        },
        {"type": "completed", "activity_ids": ["video-1", "lab-2"]},
        {"type": "achievement", "achievement_id": "sql"},
        {"type": "all_of", "rules": [{"type": "assessment", "assessment_id": "a"}]},
        {"type": "n_of", "n": 2, "rules": [{"type": "achievement", "achievement_id": x} for x in "abc"]},
        {"type": "assessment", "assessment_id": "a", "window": {"opens_at": "2026-01-01T00:00:00Z"}},
        {
            "type": "assessment",
            "assessment_id": "a",
            "window": {"opens_at": "2026-01-01T00:00:00Z", "closes_at": "2026-02-01T00:00:00+01:00"},
        },
    ],
)
def test_every_rule_type_validates_and_round_trips(rule: dict[str, Any]) -> None:
    parsed = criteria(rule)
    assert Criteria.model_validate_json(parsed.model_dump_json()) == parsed


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"type": "assessment", "assessment_id": "a", "min_score": 101}, "less than or equal to 100"),
        ({"type": "assessment", "assessment_id": ""}, "at least 1 character"),
        ({"type": "assessment", "assessment_id": "a", "extra": 1}, "Extra inputs"),
        ({"type": "graded", "assessment_id": "a"}, "does not match any of the expected tags"),
        ({"type": "n_of", "n": 3, "rules": [{"type": "achievement", "achievement_id": "a"}]}, "larger than"),
        ({"type": "n_of", "n": 0, "rules": [{"type": "achievement", "achievement_id": "a"}]}, "greater than or equal"),
        ({"type": "all_of", "rules": []}, "at least 1 item"),
        ({"type": "overall_score", "assessment_ids": ["a", "a"], "min_score": 50}, "unique"),
        ({"type": "overall_score", "assessment_ids": ["a"], "min_score": 50, "method": "weighted"}, "weight"),
        (
            {
                "type": "overall_score",
                "assessment_ids": ["a", "b"],
                "min_score": 50,
                "method": "weighted",
                "weights": {"a": 1},
            },
            "weight",
        ),
        (
            {
                "type": "overall_score",
                "assessment_ids": ["a"],
                "min_score": 50,
                "method": "weighted",
                "weights": {"a": 0},
            },
            "greater than 0",
        ),
        ({"type": "overall_score", "assessment_ids": ["a"], "min_score": 50, "weights": {"a": 1}}, "only used"),
        ({"type": "completed", "activity_ids": []}, "at least 1 item"),
        ({"type": "completed", "activity_ids": ["x", "x"]}, "unique"),
        ({"type": "assessment", "assessment_id": "a", "window": {}}, "needs opens_at"),
        (
            {
                "type": "assessment",
                "assessment_id": "a",
                "window": {"opens_at": "2026-02-01T00:00:00Z", "closes_at": "2026-01-01T00:00:00Z"},
            },
            "before closes_at",
        ),
        ({"type": "assessment", "assessment_id": "a", "window": {"opens_at": "2026-02-01T00:00:00"}}, "timezone"),
        ({**RUBRIC, "criteria": [{**RUBRIC["criteria"][0], "required_level": "master"}]}, "not a level"),
        (
            {
                **RUBRIC,
                "criteria": [
                    {**RUBRIC["criteria"][0], "levels": [{"id": "x", "name": "X"}] * 2, "required_level": "x"}
                ],
            },
            "unique",
        ),
        ({**RUBRIC, "criteria": [RUBRIC["criteria"][0], RUBRIC["criteria"][0]]}, "unique"),
        (
            {
                **RUBRIC,
                "criteria": [
                    {
                        **RUBRIC["criteria"][0],
                        "levels": [{"id": "lo", "name": "Lo", "points": 5}, {"id": "hi", "name": "Hi", "points": 1}],
                        "required_level": "hi",
                    }
                ],
            },
            "must not decrease",
        ),
        (
            {
                **RUBRIC,
                "criteria": [{**RUBRIC["criteria"][0], "levels": [{"id": "x", "name": "X"}], "required_level": "x"}],
            },
            "at least 2 items",
        ),
    ],
)
def test_invalid_rules_are_refused_with_a_reason(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as error:
        criteria(rule)
    assert message in str(error.value)


@pytest.mark.parametrize(
    "body",
    [
        {"narrative": "n", "required_assessments": []},
        {"narrative": "n", "required_assessments": [{"assessment_id": "q", "min_score": 101}]},
        {"narrative": "n", "required_assessments": [{"assessment_id": "q"}, {"assessment_id": "q"}]},
        {"narrative": "", "required_assessments": [{"assessment_id": "q"}]},
        {
            "narrative": "n",
            "required_assessments": [{"assessment_id": "q"}],
            "rule": {"type": "assessment", "assessment_id": "q"},
        },
        {"narrative": "n"},
        {"narrative": "n", "schema_version": 2, "rule": {"type": "assessment", "assessment_id": "q"}},
    ],
)
def test_invalid_criteria_are_refused(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Criteria.model_validate(body)


def test_depth_and_size_are_bounded() -> None:
    rule: dict[str, Any] = {"type": "assessment", "assessment_id": "a"}
    for _ in range(MAX_DEPTH - 1):
        rule = {"type": "all_of", "rules": [rule]}
    criteria(rule)
    with pytest.raises(ValidationError, match="nest at most"):
        criteria({"type": "all_of", "rules": [rule]})
    wide = {
        "type": "all_of",
        "rules": [
            {"type": "all_of", "rules": [{"type": "assessment", "assessment_id": f"a{i}-{j}"} for j in range(100)]}
            for i in range(3)
        ],
    }
    with pytest.raises(ValidationError, match="at most 200 rules"):
        criteria(wide)


def test_references_name_every_assessment_activity_and_achievement() -> None:
    parsed = criteria(
        {
            "type": "all_of",
            "rules": [
                {"type": "assessment", "assessment_id": "quiz"},
                RUBRIC,
                {"type": "overall_score", "assessment_ids": ["quiz", "final"], "min_score": 60},
                {"type": "completed", "activity_ids": ["video"]},
                {"type": "n_of", "n": 1, "rules": [{"type": "achievement", "achievement_id": "sql"}]},
            ],
        }
    )
    assert parsed.references() == {
        (RefKind.ASSESSMENT, "quiz"),
        (RefKind.ASSESSMENT, "essay"),
        (RefKind.ASSESSMENT, "final"),
        (RefKind.ACTIVITY, "video"),
        (RefKind.ACHIEVEMENT, "sql"),
    }
    assert parsed.component_achievements() == {"sql"}


def test_rubric_levels_are_ranked_in_the_order_given_and_points_default_to_position() -> None:
    criterion = RubricCriterion.model_validate(RUBRIC["criteria"][0])
    assert [criterion.rank(level) for level in ("novice", "proficient", "expert", "master")] == [0, 1, 2, None]
    assert [criterion.points_of(level) for level in ("novice", "proficient", "expert", "master")] == [1, 2, 3, 0]


def test_an_achievement_may_renew_periodically() -> None:
    body = {
        "id": "cpr",
        "name": "CPR",
        "description": "d",
        "criteria": {"narrative": "n", "rule": {"type": "assessment", "assessment_id": "cpr-exam"}},
    }
    assert AchievementDefinition.model_validate(body).renewal_period_days is None
    assert AchievementDefinition.model_validate({**body, "renewal_period_days": 365}).renewal_period_days == 365
    with pytest.raises(ValidationError):
        AchievementDefinition.model_validate({**body, "renewal_period_days": 0})

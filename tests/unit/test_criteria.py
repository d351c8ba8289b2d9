"""Criteria evaluation: required assessments with minimum scores (percent of the maximum)."""

import pytest
from pydantic import ValidationError

from services.assessment.domain import Achievement, Score, award_id, better, evaluate


def achievement(*required: tuple[str, float]) -> Achievement:
    return Achievement.model_validate(
        {
            "tenant_id": "acme",
            "id": "python",
            "name": "Python",
            "description": "d",
            "criteria": {
                "narrative": "n",
                "required_assessments": [{"assessment_id": a, "min_score": m} for a, m in required],
            },
        }
    )


def test_met_when_every_required_assessment_reaches_its_minimum() -> None:
    result = evaluate(achievement(("quiz", 70), ("project", 60)), {"quiz": Score(7, 10), "project": Score(30, 50)})
    assert result.met
    assert [r.assessment_id for r in result.results] == ["quiz", "project"]
    assert result.results[0].required_score == pytest.approx(7.0)


def test_not_met_below_minimum_or_missing() -> None:
    target = achievement(("quiz", 70), ("project", 60))
    assert evaluate(target, {"quiz": Score(69.9, 100), "project": Score(100, 100)}).unmet == ["quiz"]
    assert evaluate(target, {"quiz": Score(100, 100)}).unmet == ["project"]
    assert not evaluate(target, {}).met


def test_best_attempt_is_kept() -> None:
    assert better(Score(80, 100), Score(60, 100)) == Score(80, 100)
    assert better(Score(8, 10), Score(45, 50)) == Score(45, 50)
    assert better(None, Score(1, 10)) == Score(1, 10)


def test_award_id_is_deterministic_per_learner_and_achievement() -> None:
    assert award_id("acme", "l1", "python") == award_id("acme", "l1", "python")
    assert award_id("acme", "l1", "python") != award_id("acme", "l2", "python")
    assert award_id("acme", "l1", "python") != award_id("other", "l1", "python")


@pytest.mark.parametrize(
    "criteria",
    [
        {"narrative": "n", "required_assessments": []},
        {"narrative": "n", "required_assessments": [{"assessment_id": "q", "min_score": 101}]},
        {"narrative": "n", "required_assessments": [{"assessment_id": "q"}, {"assessment_id": "q"}]},
        {"narrative": "", "required_assessments": [{"assessment_id": "q"}]},
    ],
)
def test_invalid_criteria_are_refused(criteria: dict) -> None:
    with pytest.raises(ValidationError):
        Achievement.model_validate({"tenant_id": "a", "id": "x", "name": "n", "description": "d", "criteria": criteria})

"""Each event evaluates only what it can change: the achievement it enrols in, the achievements whose criteria
mention its assessment or activity, and the pathways whose components it just completed — never the tenant's
other definitions."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.assessment import awarding
from services.assessment.awarding import Definitions, LearnerState, record_activity
from services.assessment.domain import Achievement, AchievementDefinition
from shared.contracts import EnrollmentRecorded

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def achievement(achievement_id: str, criteria: dict[str, Any]) -> Achievement:
    definition = AchievementDefinition.model_validate(
        {"id": achievement_id, "name": achievement_id, "description": "d", "criteria": {"narrative": "n", **criteria}}
    )
    return Achievement(**definition.model_dump(), tenant_id="acme", version=1)


def course(achievement_id: str, assessment_id: str) -> Achievement:
    return achievement(achievement_id, {"required_assessments": [{"assessment_id": assessment_id, "min_score": 60}]})


def pathway(achievement_id: str, components: list[str]) -> Achievement:
    rules = [{"type": "achievement", "achievement_id": c} for c in components]
    return achievement(achievement_id, {"rule": {"type": "all_of", "rules": rules}})


def activity(kind: str, minutes: int, **fields: Any) -> EnrollmentRecorded:
    return EnrollmentRecorded(
        tenant_id="acme",
        learner_id="ada",
        kind=kind,
        occurred_at=T0 + timedelta(minutes=minutes),
        source="test",
        source_event_id=f"{kind}-{minutes}",
        **fields,
    )


@pytest.fixture
def evaluated(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The criteria evaluated, in order."""
    calls: list[Any] = []
    evaluate = awarding.evaluate

    def counting(criteria: Any, record: Any, **kwargs: Any) -> Any:
        calls.append(criteria)
        return evaluate(criteria, record, **kwargs)

    monkeypatch.setattr(awarding, "evaluate", counting)
    return calls


def test_only_what_each_event_can_change_is_evaluated(evaluated: list[Any]) -> None:
    achievements = [
        course("sql", "sql-exam"),
        course("python", "py-exam"),
        course("sql-advanced", "sql-exam"),  # another achievement on the same assessment
        pathway("data", ["sql", "python"]),
        pathway("unrelated-pathway", ["other-1", "other-2"]),
        *(course(f"other-{i}", f"exam-{i}") for i in range(50)),
    ]
    definitions = Definitions(achievements)
    names = {id(a.criteria): a.id for a in achievements}
    state = LearnerState("acme", "ada")

    def apply(event: EnrollmentRecorded) -> list[str]:
        evaluated.clear()
        record_activity(state, event, definitions, {})
        return sorted(names[id(criteria)] for criteria in evaluated)

    # Enrolments with no evidence yet: nothing can be met, nothing is evaluated.
    for minute, enrolled in enumerate(["sql", "sql-advanced", "other-7"]):
        assert apply(activity("enrolled", minute, achievement_id=enrolled)) == []
    # A score evaluates the achievements that mention its assessment, not the 50 others nor any pathway.
    assert apply(activity("scored", 3, assessment_id="sql-exam", score=40, max_score=100)) == ["sql", "sql-advanced"]
    assert apply(activity("scored", 4, assessment_id="exam-7", score=40, max_score=100)) == ["other-7"]
    # Not enrolled in `other-8`: its criteria need not be evaluated (only enrolled learners earn it).
    assert apply(activity("scored", 5, assessment_id="exam-8", score=90, max_score=100)) == []
    assert apply(activity("enrolled", 6, achievement_id="python")) == []
    # `python` is awarded, so the pathway stacking it is evaluated (still missing `sql`).
    assert apply(activity("scored", 7, assessment_id="py-exam", score=90, max_score=100)) == ["data", "python"]
    assert [a.held.achievement_id for a in state.new_awards] == ["python"]
    assert apply(activity("scored", 8, assessment_id="sql-exam", score=95, max_score=100)) == [
        "data",
        "sql",
        "sql-advanced",
    ]
    assert [a.held.achievement_id for a in state.new_awards] == ["python", "sql", "sql-advanced", "data"]
    # Enrolling in an achievement with evidence evaluates that achievement alone.
    assert apply(activity("enrolled", 9, achievement_id="other-8")) == ["other-8"]

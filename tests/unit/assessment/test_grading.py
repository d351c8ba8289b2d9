"""Built-in grading: single choice, multiple choice (exact and partial credit), numeric with tolerance."""

from typing import Any

import pytest
from pydantic import ValidationError

from services.assessment.grading import AnswerKey, grade, summarize
from shared.contracts import Answer

KEY = AnswerKey.model_validate(
    {
        "questions": [
            {"type": "single_choice", "question_id": "q1", "correct": "b"},
            {"type": "multiple_choice", "question_id": "q2", "correct": ["a", "c"], "points": 2},
            {
                "type": "multiple_choice",
                "question_id": "q3",
                "correct": ["a", "b", "c", "d"],
                "scoring": "partial",
                "points": 4,
            },
            {"type": "numeric", "question_id": "q4", "correct": 3.14, "tolerance": 0.01, "points": 3},
        ]
    }
)


def answers(**responses: Any) -> list[Answer]:
    return [Answer(question_id=q, response=r) for q, r in responses.items()]


def test_all_correct_earns_every_point() -> None:
    result = grade(KEY, answers(q1="b", q2=["c", "a"], q3=["a", "b", "c", "d"], q4=3.14))
    assert (result.score, result.max_score, result.answered, result.unknown_questions) == (10, 10, 4, ())


@pytest.mark.parametrize(
    ("response", "points"),
    [("b", 1), (" b ", 1), (["b"], 1), ("a", 0), (["a", "b"], 0), ([], 0), (2.0, 0)],
)
def test_single_choice(response: Any, points: float) -> None:
    assert grade(KEY, answers(q1=response)).score == points


@pytest.mark.parametrize(
    ("response", "points"),
    [(["a", "c"], 2), (["c", "a", "a"], 2), (["a"], 0), (["a", "b", "c"], 0), ("a", 0), ([], 0)],
)
def test_multiple_choice_exact_is_all_or_nothing(response: Any, points: float) -> None:
    assert grade(KEY, answers(q2=response)).score == points


@pytest.mark.parametrize(
    ("response", "points"),
    [
        (["a", "b", "c", "d"], 4),
        (["a", "b", "c"], 3),
        (["a"], 1),
        (["a", "b", "x"], 1),  # two right, one wrong: (2 - 1) / 4
        (["a", "x", "y"], 0),  # never negative
        ([], 0),
    ],
)
def test_multiple_choice_partial_credit_subtracts_wrong_choices(response: Any, points: float) -> None:
    assert grade(KEY, answers(q3=response)).score == points


def test_partial_credit_is_not_won_by_ticking_everything() -> None:
    key = AnswerKey.model_validate(
        {"questions": [{"type": "multiple_choice", "question_id": "q", "correct": ["a"], "scoring": "partial"}]}
    )
    assert grade(key, answers(q=["a", "b", "c", "d"])).score == 0
    assert grade(key, answers(q=["a"])).score == 1


@pytest.mark.parametrize(
    ("response", "points"),
    [
        (3.14, 3),
        (3.15, 3),
        (3.13, 3),
        (3.1501, 0),
        (3, 0),
        ("3.145", 3),
        (" 3.14 ", 3),
        (["3.14"], 3),
        ("pi", 0),
        ("nan", 0),
        ("inf", 0),
        (["3.14", "3.15"], 0),
    ],
)
def test_numeric_with_tolerance(response: Any, points: float) -> None:
    assert grade(KEY, answers(q4=response)).score == points


def test_numeric_exact_tolerates_float_representation() -> None:
    key = AnswerKey.model_validate({"questions": [{"type": "numeric", "question_id": "q", "correct": 0.3}]})
    assert grade(key, answers(q=0.1 + 0.2)).score == 1
    assert grade(key, answers(q=0.31)).score == 0


def test_unanswered_and_unknown_questions() -> None:
    result = grade(KEY, answers(q1="b", q9="x", q0="y"))
    assert (result.score, result.answered, result.unknown_questions) == (1, 1, ("q0", "q9"))


def test_the_last_answer_to_a_question_counts() -> None:
    assert grade(KEY, [Answer(question_id="q1", response="a"), Answer(question_id="q1", response="b")]).score == 1


@pytest.mark.parametrize(
    "body",
    [
        {"questions": []},
        {"questions": [{"type": "single_choice", "question_id": "q", "correct": "a"}] * 2},
        {"questions": [{"type": "multiple_choice", "question_id": "q", "correct": []}]},
        {"questions": [{"type": "multiple_choice", "question_id": "q", "correct": ["a", "a"]}]},
        {"questions": [{"type": "multiple_choice", "question_id": "q", "correct": ["a"], "scoring": "negative"}]},
        {"questions": [{"type": "numeric", "question_id": "q", "correct": 1, "tolerance": -1}]},
        {"questions": [{"type": "numeric", "question_id": "q", "correct": "nan"}]},
        {"questions": [{"type": "single_choice", "question_id": "q", "correct": "a", "points": 0}]},
        {"questions": [{"type": "essay", "question_id": "q"}]},
    ],
)
def test_invalid_answer_keys_are_refused(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        AnswerKey.model_validate(body)


def test_the_summary_never_shows_correct_answers() -> None:
    summary = [s.model_dump() for s in summarize(KEY)]
    assert summary[0] == {"question_id": "q1", "type": "single_choice", "points": 1}
    assert "3.14" not in str(summary) and "correct" not in str(summary)

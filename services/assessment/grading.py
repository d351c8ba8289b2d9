"""Built-in grading for LMSs that send raw answers instead of scores. Pure: answer key + answers -> score.

Question types:
- `single_choice`: one correct option id; the response is that id (a one-item list is accepted too).
- `multiple_choice`: a set of correct option ids; `scoring` decides how a response earns points:
  - `exact` (the default): all points for exactly the correct set, nothing otherwise;
  - `partial`: points x max(0, (correct options chosen - wrong options chosen) / number of correct options).
    Wrong choices cancel right ones, so ticking every option never earns credit.
- `numeric`: a number; full points when |response - correct| <= tolerance (absolute). Numeric strings are read
  as numbers ("3.14"); anything else earns nothing.
Unanswered questions earn 0; answers to questions the key does not have are ignored (and reported).
Answer keys never leave the assessment service: they are not in any event, log line or API response.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.contracts import Answer
from shared.contracts.text import IDENTIFIER_CHECK

Identifier = Annotated[str, Field(min_length=1, max_length=256), IDENTIFIER_CHECK]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Question(_Model):
    question_id: Identifier
    points: float = Field(default=1.0, gt=0, le=1_000)


class SingleChoice(_Question):
    type: Literal["single_choice"] = "single_choice"
    correct: Identifier


class MultipleChoiceScoring(StrEnum):
    EXACT = "exact"
    PARTIAL = "partial"


class MultipleChoice(_Question):
    type: Literal["multiple_choice"] = "multiple_choice"
    correct: list[Identifier] = Field(min_length=1, max_length=100)
    scoring: MultipleChoiceScoring = MultipleChoiceScoring.EXACT

    @model_validator(mode="after")
    def _unique(self) -> MultipleChoice:
        if len(self.correct) != len(set(self.correct)):
            raise ValueError(f"question {self.question_id!r}: correct options must be unique")
        return self


class Numeric(_Question):
    type: Literal["numeric"] = "numeric"
    correct: float = Field(allow_inf_nan=False)
    tolerance: float = Field(default=0.0, ge=0, allow_inf_nan=False)


Question = Annotated[SingleChoice | MultipleChoice | Numeric, Field(discriminator="type")]


class AnswerKey(_Model):
    """The correct answers of one assessment (admin API body)."""

    questions: list[Question] = Field(min_length=1, max_length=1_000)

    @model_validator(mode="after")
    def _unique(self) -> AnswerKey:
        ids = [q.question_id for q in self.questions]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"question ids must be unique: {', '.join(duplicates)}")
        return self

    @property
    def max_score(self) -> float:
        return sum(q.points for q in self.questions)


class QuestionSummary(_Model):
    """What the admin API shows of a key: never the correct answers."""

    question_id: str
    type: str
    points: float


def summarize(key: AnswerKey) -> list[QuestionSummary]:
    return [QuestionSummary(question_id=q.question_id, type=q.type, points=q.points) for q in key.questions]


@dataclass(frozen=True)
class Grade:
    score: float
    max_score: float
    answered: int
    unknown_questions: tuple[str, ...]


def grade(key: AnswerKey, answers: Sequence[Answer]) -> Grade:
    """Score `answers` against `key`. A question answered twice counts its last answer."""
    responses = {a.question_id: a.response for a in answers}
    known = {q.question_id for q in key.questions}
    score = sum(_points(q, responses[q.question_id]) for q in key.questions if q.question_id in responses)
    return Grade(
        score=round(score, 6),
        max_score=key.max_score,
        answered=len(known & responses.keys()),
        unknown_questions=tuple(sorted(responses.keys() - known)),
    )


def _points(question: SingleChoice | MultipleChoice | Numeric, response: str | list[str] | float) -> float:
    match question:
        case SingleChoice():
            chosen = _choices(response)
            return question.points if chosen == {question.correct} else 0.0
        case MultipleChoice():
            chosen, correct = _choices(response), set(question.correct)
            if question.scoring is MultipleChoiceScoring.EXACT:
                return question.points if chosen == correct else 0.0
            net = len(chosen & correct) - len(chosen - correct)
            return question.points * max(0.0, net / len(correct))
        case Numeric():
            value = _number(response)
            if value is None:
                return 0.0
            # A hair of slack so that 0.1 + 0.2 against 0.3 with tolerance 0 still counts as exact.
            slack = 1e-9 * max(1.0, abs(question.correct))
            return question.points if abs(value - question.correct) <= question.tolerance + slack else 0.0
    raise TypeError(f"unknown question {question!r}")  # pragma: no cover


def _choices(response: str | list[str] | float) -> set[str]:
    if isinstance(response, str):
        return {response.strip()}
    if isinstance(response, list):
        return {item.strip() for item in response}
    return {_format_number(response)}


def _format_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _number(response: str | list[str] | float) -> float | None:
    if isinstance(response, list):
        if len(response) != 1:
            return None
        response = response[0]
    if isinstance(response, str):
        try:
            value = float(response.strip())
        except ValueError:
            return None
    else:
        value = float(response)
    return value if math.isfinite(value) else None

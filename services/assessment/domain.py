"""Assessment domain: Achievements, their criteria, and whether a learner's results meet them. No I/O."""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from shared.contracts import (
    AchievementSnapshot,
    AlignmentSnapshot,
    AssessmentResult,
    RubricCriterionSnapshot,
    RubricLevelSnapshot,
)

_AWARD_NAMESPACE = uuid.UUID("b0c1f3d2-8a7e-4c55-9d0e-3f5a6b7c8d90")


class RequiredAssessment(BaseModel):
    """An assessment the learner must pass, scoring at least `min_score` percent of its maximum."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    assessment_id: str = Field(min_length=1, max_length=256)
    min_score: float = Field(default=0, ge=0, le=100, description="Minimum score, in percent of the maximum.")


class Criteria(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    narrative: str = Field(min_length=1, max_length=10_000, description="What the learner did, for people.")
    required_assessments: list[RequiredAssessment] = Field(min_length=1)

    @field_validator("required_assessments")
    @classmethod
    def _unique(cls, value: list[RequiredAssessment]) -> list[RequiredAssessment]:
        ids = [r.assessment_id for r in value]
        if len(ids) != len(set(ids)):
            raise ValueError("each assessment may be listed once")
        return value


_SLUG = r"^[A-Za-z0-9._~-]+$"
# OB 3.0 AlignmentTargetType; other values must use the "ext:" prefix (the OB 3.0 JSON schema says so).
ALIGNMENT_TARGET_TYPES = frozenset(
    {
        "ceasn:Competency",
        "ceterms:Credential",
        "CFItem",
        "CFRubric",
        "CFRubricCriterion",
        "CFRubricCriterionLevel",
        "CTDL",
    }
)


class AlignmentDefinition(BaseModel):
    """Where the Achievement aligns with a skills framework, competency or standard (OB3 Alignment)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    target_name: str = Field(min_length=1, max_length=200)
    target_url: HttpUrl
    target_description: str | None = Field(default=None, max_length=2_000)
    target_framework: str | None = Field(default=None, max_length=200)
    target_code: str | None = Field(default=None, max_length=100)
    target_type: str | None = Field(
        default=None, max_length=100, description="OB3 AlignmentTargetType, e.g. CFItem, ceasn:Competency, ext:…"
    )

    @field_validator("target_type")
    @classmethod
    def _target_type(cls, value: str | None) -> str | None:
        if value is not None and value not in ALIGNMENT_TARGET_TYPES and not value.startswith("ext:"):
            raise ValueError(f"must be one of {sorted(ALIGNMENT_TARGET_TYPES)} or start with 'ext:'")
        return value


class RubricLevelDefinition(BaseModel):
    """One level of a rubric criterion; list them lowest first."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=100, pattern=_SLUG)
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2_000)
    points: float | None = Field(default=None, ge=0)


class RubricCriterionDefinition(BaseModel):
    """A rubric criterion as credentials describe it (OB3 ResultDescription with rubric levels)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=100, pattern=_SLUG)
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2_000)
    assessment_id: str | None = Field(default=None, min_length=1, max_length=256)
    levels: list[RubricLevelDefinition] = Field(min_length=1, max_length=20)
    required_level: str | None = Field(default=None, description="The level id the Achievement requires, if any.")

    @model_validator(mode="after")
    def _levels(self) -> "RubricCriterionDefinition":
        ids = [level.id for level in self.levels]
        if len(ids) != len(set(ids)):
            raise ValueError("each rubric level id may be used once per criterion")
        if self.required_level is not None and self.required_level not in ids:
            raise ValueError(f"required_level {self.required_level!r} is not one of the levels {ids}")
        return self


class AchievementDefinition(BaseModel):
    """An Achievement as an administrator defines it (admin API body, seed file entry)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9._~-]+$")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=5_000)
    criteria: Criteria
    image: HttpUrl | None = None
    achievement_type: str | None = Field(default=None, max_length=100)
    alignment: list[AlignmentDefinition] | None = Field(default=None, max_length=50)
    rubric: list[RubricCriterionDefinition] | None = Field(default=None, max_length=50)
    tags: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(default=None, max_length=50)
    credits_available: float | None = Field(default=None, ge=0, description="E.g. ECTS credits.")
    human_code: str | None = Field(default=None, max_length=100, description="A code people use, e.g. 'CS-101'.")
    field_of_study: str | None = Field(default=None, max_length=200)
    valid_for_days: int | None = Field(
        default=None, ge=1, le=36_500, description="Expiry policy: credentials are valid this many days after issue."
    )

    @field_validator("rubric")
    @classmethod
    def _unique_criteria(cls, value: list[RubricCriterionDefinition] | None) -> list[RubricCriterionDefinition] | None:
        ids = [criterion.id for criterion in value or []]
        if len(ids) != len(set(ids)):
            raise ValueError("each rubric criterion id may be used once")
        return value


class Achievement(AchievementDefinition):
    tenant_id: str
    version: int = 1

    def snapshot(self) -> AchievementSnapshot:
        return AchievementSnapshot(
            id=self.id,
            version=self.version,
            name=self.name,
            description=self.description,
            criteria_narrative=self.criteria.narrative,
            image_url=str(self.image) if self.image else None,
            achievement_type=self.achievement_type,
            alignment=[AlignmentSnapshot(**{**a.model_dump(), "target_url": str(a.target_url)}) for a in self.alignment]
            if self.alignment
            else None,
            rubric=[
                RubricCriterionSnapshot(
                    **{
                        **criterion.model_dump(exclude={"levels"}),
                        "levels": [RubricLevelSnapshot(**level.model_dump()) for level in criterion.levels],
                    }
                )
                for criterion in self.rubric
            ]
            if self.rubric
            else None,
            tags=list(self.tags) if self.tags else None,
            credits_available=self.credits_available,
            human_code=self.human_code,
            field_of_study=self.field_of_study,
            valid_for_days=self.valid_for_days,
        )

    def uses(self, assessment_id: str) -> bool:
        return any(r.assessment_id == assessment_id for r in self.criteria.required_assessments)


@dataclass(frozen=True)
class Score:
    """A learner's best result on one assessment."""

    score: float
    max_score: float

    @property
    def percent(self) -> float:
        return 100.0 * self.score / self.max_score if self.max_score else 0.0


@dataclass(frozen=True)
class Evaluation:
    met: bool
    results: list[AssessmentResult]
    unmet: list[str]


def evaluate(achievement: Achievement, best_scores: Mapping[str, Score]) -> Evaluation:
    """Are all required assessments passed at their minimum score?"""
    results: list[AssessmentResult] = []
    unmet: list[str] = []
    for required in achievement.criteria.required_assessments:
        score = best_scores.get(required.assessment_id)
        if score is None or score.percent < required.min_score:
            unmet.append(required.assessment_id)
            continue
        results.append(
            AssessmentResult(
                assessment_id=required.assessment_id,
                score=score.score,
                max_score=score.max_score,
                required_score=required.min_score * score.max_score / 100.0,
            )
        )
    return Evaluation(met=not unmet, results=results, unmet=unmet)


def better(current: Score | None, new: Score) -> Score:
    """Keep the best attempt: a later, lower score never takes away what was earned."""
    return new if current is None or new.percent > current.percent else current


def award_id(tenant_id: str, learner_id: str, achievement_id: str) -> uuid.UUID:
    """One award per learner per Achievement, whatever path or replica computes it."""
    return uuid.uuid5(_AWARD_NAMESPACE, f"{tenant_id}\x1f{learner_id}\x1f{achievement_id}")

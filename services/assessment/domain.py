"""Assessment domain: Achievements as administrators define them. No I/O.

The criteria language is in `criteria.py`, its evaluation in `evaluation.py`, built-in grading in `grading.py`,
pathway checks in `pathways.py`, award ids and renewal in `awards.py`.
"""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from services.assessment.awards import award_id
from services.assessment.criteria import Criteria
from shared.contracts import (
    AchievementSnapshot,
    AchievementStatus,
    AlignmentSnapshot,
    RubricCriterionSnapshot,
    RubricLevelSnapshot,
)
from shared.contracts.events import MAX_POINTS
from shared.contracts.text import TEXT_CHECK, Text

__all__ = ["Achievement", "AchievementDefinition", "AlignmentDefinition", "award_id"]

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

    target_name: Text = Field(min_length=1, max_length=200)
    target_url: HttpUrl
    target_description: Text | None = Field(default=None, max_length=2_000)
    target_framework: Text | None = Field(default=None, max_length=200)
    target_code: Text | None = Field(default=None, max_length=100)
    target_type: str | None = Field(
        default=None, max_length=100, description="OB3 AlignmentTargetType, e.g. CFItem, ceasn:Competency, ext:…"
    )

    @field_validator("target_type")
    @classmethod
    def _target_type(cls, value: str | None) -> str | None:
        if value is not None and value not in ALIGNMENT_TARGET_TYPES and not value.startswith("ext:"):
            raise ValueError(f"must be one of {sorted(ALIGNMENT_TARGET_TYPES)} or start with 'ext:'")
        return value


class AchievementDefinition(BaseModel):
    """An Achievement as an administrator defines it (admin API body, seed file entry)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9._~-]+$")
    name: Text = Field(min_length=1, max_length=200)
    description: Text = Field(min_length=1, max_length=5_000)
    criteria: Criteria
    image: HttpUrl | None = None
    achievement_type: Text | None = Field(default=None, max_length=100)
    renewal_period_days: int | None = Field(
        default=None, ge=1, le=36_500, description="Allow a new award this many days after the previous one."
    )
    # How the credential presents the Achievement (OB3); rubric levels come from the criteria's rubric rules.
    alignment: list[AlignmentDefinition] | None = Field(default=None, max_length=50)
    tags: list[Annotated[str, Field(min_length=1, max_length=100), TEXT_CHECK]] | None = Field(
        default=None, max_length=50
    )
    credits_available: float | None = Field(
        default=None, ge=0, le=MAX_POINTS, allow_inf_nan=False, description="E.g. ECTS credits."
    )
    human_code: Text | None = Field(default=None, max_length=100, description="A code people use, e.g. 'CS-101'.")
    field_of_study: Text | None = Field(default=None, max_length=200)
    valid_for_days: int | None = Field(
        default=None, ge=1, le=36_500, description="Expiry policy: credentials are valid this many days after issue."
    )


class Achievement(AchievementDefinition):
    tenant_id: str
    version: int = 1
    status: AchievementStatus = AchievementStatus.ACTIVE

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
            rubric=self._rubric() or None,
            tags=list(self.tags) if self.tags else None,
            credits_available=self.credits_available,
            human_code=self.human_code,
            field_of_study=self.field_of_study,
            valid_for_days=self.valid_for_days,
        )

    def _rubric(self) -> list[RubricCriterionSnapshot]:
        return [
            RubricCriterionSnapshot(
                id=criterion.id,
                name=criterion.name,
                description=criterion.description,
                assessment_id=assessment_id,
                levels=[
                    RubricLevelSnapshot(
                        id=level.id,
                        name=level.name,
                        description=level.description,
                        points=criterion.points_of(level.id),
                    )
                    for level in criterion.levels
                ],
                required_level=criterion.required_level,
            )
            for assessment_id, criterion in self.criteria.rubric_criteria()
        ]

"""Assessment domain: Achievements as administrators define them. No I/O.

The criteria language is in `criteria.py`, its evaluation in `evaluation.py`, built-in grading in `grading.py`,
pathway checks in `pathways.py`, award ids and renewal in `awards.py`.
"""

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from services.assessment.awards import award_id
from services.assessment.criteria import Criteria
from shared.contracts import AchievementSnapshot, AchievementStatus

__all__ = ["Achievement", "AchievementDefinition", "award_id"]


class AchievementDefinition(BaseModel):
    """An Achievement as an administrator defines it (admin API body, seed file entry)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9._~-]+$")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=5_000)
    criteria: Criteria
    image: HttpUrl | None = None
    achievement_type: str | None = Field(default=None, max_length=100)
    renewal_period_days: int | None = Field(
        default=None, ge=1, le=36_500, description="Allow a new award this many days after the previous one."
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
        )

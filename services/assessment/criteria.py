"""The machine criteria of an Achievement: a small, typed, versioned rule tree. Pure data + validation, no I/O.

JSON shape (`schema_version` 1):

    {"narrative": "...", "schema_version": 1, "rule": RULE}

    RULE is one of (every rule may carry "window": {"opens_at": ISO-8601, "closes_at": ISO-8601}; a result
    counts only when it happened inside the window, and windows nest — a child sees the intersection):
      {"type": "assessment", "assessment_id": ID, "min_score": PERCENT?, "require_success": BOOL?}
      {"type": "rubric", "assessment_id": ID, "criteria": [{"id", "name", "levels": [{"id", "name",
                "description"?, "points"?}, ...lowest first], "required_level": LEVEL_ID}, ...]}
      {"type": "overall_score", "assessment_ids": [ID, ...], "min_score": PERCENT, "method": "mean"|"weighted",
                "weights": {ID: WEIGHT}?}
      {"type": "completed", "activity_ids": [ID, ...]}
      {"type": "achievement", "achievement_id": ID}          (stackable pathways)
      {"type": "all_of", "rules": [RULE, ...]}
      {"type": "n_of", "n": N, "rules": [RULE, ...]}

The walking skeleton's shorthand `{"narrative", "required_assessments": [{"assessment_id", "min_score"}]}` is
still accepted and read as an `all_of` of `assessment` rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from shared.contracts.events import MAX_POINTS
from shared.contracts.text import IDENTIFIER_CHECK, Text

CRITERIA_SCHEMA_VERSION = 1
MAX_DEPTH = 6
MAX_RULES = 200

Identifier = Annotated[str, Field(min_length=1, max_length=256), IDENTIFIER_CHECK]
Percent = Annotated[float, Field(ge=0, le=100)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Window(_Model):
    """A result counts only if it happened in [opens_at, closes_at] (either end may be open)."""

    opens_at: AwareDatetime | None = None
    closes_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.opens_at is None and self.closes_at is None:
            raise ValueError("a window needs opens_at, closes_at or both")
        if self.opens_at is not None and self.closes_at is not None and self.opens_at >= self.closes_at:
            raise ValueError("opens_at must be before closes_at")
        return self


class _Rule(_Model):
    window: Window | None = None
    name: Text | None = Field(default=None, max_length=200, description="Shown on the credential's result.")


class AssessmentRule(_Rule):
    """An assessment passed: some attempt reached `min_score` percent of its maximum and/or was flagged
    `success: true` by the LMS. With neither set, any attempt with a result (a score, or success) counts."""

    type: Literal["assessment"] = "assessment"
    assessment_id: Identifier
    min_score: Percent | None = Field(default=None, description="Minimum score in percent of the maximum.")
    require_success: bool = Field(default=False, description="The LMS must have flagged the attempt as passed.")


class RubricLevel(_Model):
    id: Identifier
    name: Text = Field(min_length=1, max_length=200)
    description: Text | None = Field(default=None, max_length=2_000)
    points: float | None = Field(
        default=None, ge=0, le=MAX_POINTS, allow_inf_nan=False, description="Defaults to the level's 1-based position."
    )


class RubricCriterion(_Model):
    """One row of a rubric: its levels, lowest first, and the level the learner must reach."""

    id: Identifier
    name: Text = Field(min_length=1, max_length=200)
    description: Text | None = Field(default=None, max_length=2_000)
    levels: list[RubricLevel] = Field(min_length=2, max_length=20)
    required_level: Identifier

    @model_validator(mode="after")
    def _levels(self) -> RubricCriterion:
        ids = [level.id for level in self.levels]
        if len(ids) != len(set(ids)):
            raise ValueError(f"rubric criterion {self.id!r}: level ids must be unique")
        if self.required_level not in ids:
            raise ValueError(f"rubric criterion {self.id!r}: required_level {self.required_level!r} is not a level")
        points = [self.points_of(level.id) for level in self.levels]
        if points != sorted(points):
            raise ValueError(f"rubric criterion {self.id!r}: level points must not decrease (levels go lowest first)")
        return self

    def rank(self, level_id: str) -> int | None:
        """The level's position (0 = lowest), or None for an unknown level."""
        for index, level in enumerate(self.levels):
            if level.id == level_id:
                return index
        return None

    def points_of(self, level_id: str) -> float:
        rank = self.rank(level_id)
        if rank is None:
            return 0.0
        explicit = self.levels[rank].points
        return float(rank + 1) if explicit is None else explicit


class RubricRule(_Rule):
    """A rubric-graded assessment: one attempt reached at least the required level on every criterion."""

    type: Literal["rubric"] = "rubric"
    assessment_id: Identifier
    criteria: list[RubricCriterion] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _unique(self) -> RubricRule:
        ids = [criterion.id for criterion in self.criteria]
        if len(ids) != len(set(ids)):
            raise ValueError("rubric criterion ids must be unique")
        return self


class ScoreMethod(StrEnum):
    MEAN = "mean"
    WEIGHTED = "weighted"


class OverallScoreRule(_Rule):
    """The mean (or weighted mean) of the best percent on each listed assessment reaches `min_score`.
    Every listed assessment needs a result: a missing one keeps the rule unmet rather than counting as 0."""

    type: Literal["overall_score"] = "overall_score"
    id: Identifier = Field(default="overall-score", description="Names this result on the credential.")
    assessment_ids: list[Identifier] = Field(min_length=1, max_length=100)
    min_score: Percent
    method: ScoreMethod = ScoreMethod.MEAN
    weights: dict[str, Annotated[float, Field(gt=0, le=MAX_POINTS, allow_inf_nan=False)]] | None = None

    @model_validator(mode="after")
    def _weights(self) -> OverallScoreRule:
        if len(self.assessment_ids) != len(set(self.assessment_ids)):
            raise ValueError("assessment_ids must be unique")
        if self.method is ScoreMethod.WEIGHTED:
            if not self.weights or set(self.weights) != set(self.assessment_ids):
                raise ValueError("a weighted overall score needs one positive weight per listed assessment")
        elif self.weights:
            raise ValueError("weights are only used with method 'weighted'")
        return self

    def weight(self, assessment_id: str) -> float:
        return self.weights[assessment_id] if self.weights else 1.0


class CompletedRule(_Rule):
    """Every listed activity was completed (a `completed` activity naming it)."""

    type: Literal["completed"] = "completed"
    activity_ids: list[Identifier] = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _unique(self) -> CompletedRule:
        if len(self.activity_ids) != len(set(self.activity_ids)):
            raise ValueError("activity_ids must be unique")
        return self


class AchievementRule(_Rule):
    """Another Achievement of the same tenant was earned (and not revoked): the building block of pathways."""

    type: Literal["achievement"] = "achievement"
    achievement_id: Identifier


class AllOfRule(_Rule):
    type: Literal["all_of"] = "all_of"
    rules: list[Rule] = Field(min_length=1, max_length=100)


class NOfRule(_Rule):
    """At least `n` of the listed rules ("N of M" choices)."""

    type: Literal["n_of"] = "n_of"
    n: int = Field(ge=1)
    rules: list[Rule] = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _n(self) -> NOfRule:
        if self.n > len(self.rules):
            raise ValueError(f"n ({self.n}) is larger than the number of rules ({len(self.rules)})")
        return self


Rule = Annotated[
    AssessmentRule | RubricRule | OverallScoreRule | CompletedRule | AchievementRule | AllOfRule | NOfRule,
    Field(discriminator="type"),
]
LeafRule = AssessmentRule | RubricRule | OverallScoreRule | CompletedRule | AchievementRule
AllOfRule.model_rebuild()
NOfRule.model_rebuild()


class RequiredAssessment(_Model):
    """The walking skeleton's shorthand: an assessment passed at `min_score` percent of its maximum."""

    assessment_id: Identifier
    min_score: Percent = 0


class RefKind(StrEnum):
    """What a criteria tree refers to; the service indexes these to find the achievements an event may complete."""

    ASSESSMENT = "assessment"
    ACTIVITY = "activity"
    ACHIEVEMENT = "achievement"


class Criteria(_Model):
    """How an Achievement is earned: a narrative for people and a rule tree for the machine."""

    narrative: Text = Field(min_length=1, max_length=10_000, description="What the learner did, for people.")
    schema_version: Literal[1] = CRITERIA_SCHEMA_VERSION
    rule: Rule

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "required_assessments" not in data:
            return data
        if "rule" in data:
            raise ValueError("give either rule or required_assessments, not both")
        data = dict(data)
        shorthand = data.pop("required_assessments")
        if not isinstance(shorthand, list) or not shorthand:
            raise ValueError("required_assessments needs at least one assessment")
        required = [RequiredAssessment.model_validate(item) for item in shorthand]
        ids = [r.assessment_id for r in required]
        if len(ids) != len(set(ids)):
            raise ValueError("each assessment may be listed once")
        data["rule"] = {
            "type": "all_of",
            "rules": [
                {"type": "assessment", "assessment_id": r.assessment_id, "min_score": r.min_score} for r in required
            ],
        }
        return data

    @model_validator(mode="after")
    def _bounded(self) -> Criteria:
        count = 0
        for depth, _rule in walk(self.rule):
            count += 1
            if depth > MAX_DEPTH:
                raise ValueError(f"rules may nest at most {MAX_DEPTH} levels deep")
        if count > MAX_RULES:
            raise ValueError(f"criteria may hold at most {MAX_RULES} rules")
        return self

    def references(self) -> set[tuple[RefKind, str]]:
        """Every assessment, activity and achievement the criteria depend on."""
        found: set[tuple[RefKind, str]] = set()
        for _depth, rule in walk(self.rule):
            match rule:
                case AssessmentRule() | RubricRule():
                    found.add((RefKind.ASSESSMENT, rule.assessment_id))
                case OverallScoreRule():
                    found.update((RefKind.ASSESSMENT, a) for a in rule.assessment_ids)
                case CompletedRule():
                    found.update((RefKind.ACTIVITY, a) for a in rule.activity_ids)
                case AchievementRule():
                    found.add((RefKind.ACHIEVEMENT, rule.achievement_id))
        return found

    def rubric_criteria(self) -> list[tuple[str, RubricCriterion]]:
        """(assessment id, criterion) of every rubric rule, in order: what the credential's `resultDescription`
        shows as rubric criterion levels."""
        return [
            (rule.assessment_id, criterion)
            for _depth, rule in walk(self.rule)
            if isinstance(rule, RubricRule)
            for criterion in rule.criteria
        ]

    def component_achievements(self) -> set[str]:
        """The other Achievements this one stacks (empty unless it is a pathway)."""
        return {ref for kind, ref in self.references() if kind is RefKind.ACHIEVEMENT}


def walk(rule: Rule, depth: int = 1) -> Iterator[tuple[int, Rule]]:
    """Every rule in the tree, depth first, with its depth (the root is 1)."""
    yield depth, rule
    if isinstance(rule, AllOfRule | NOfRule):
        for child in rule.rules:
            yield from walk(child, depth + 1)

"""Per-connection mapping from an LMS's course/activity ids to credstream Achievement and assessment ids. Pure.

A rule matches an LMS id exactly or by prefix; an exact rule beats any prefix rule and a longer prefix beats a
shorter one. A target may contain `{suffix}` — the part of the LMS id after the prefix, made id-safe — so one rule
can map a whole family (`urn:instructure:canvas:assignment:` → `canvas-assignment-{suffix}`).

Nothing is hard-coded: an observation no rule maps is `Unmapped` (recorded and reported, never dropped).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.enrollment.formats.common import Observation
from shared.contracts import ActivityKind, LmsActivity
from shared.contracts.text import Identifier

_UNSAFE = re.compile(r"[^A-Za-z0-9._~-]+")
_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s\x00-\x1f\x7f-\x9f]+$")
_NEEDS_ASSESSMENT = frozenset({ActivityKind.SUBMITTED, ActivityKind.SCORED, ActivityKind.PASSED, ActivityKind.FAILED})


class Match(StrEnum):
    EXACT = "exact"
    PREFIX = "prefix"


class MappingRule(BaseModel):
    """LMS id (exactly, or every id starting with it) → Achievement and/or assessment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    match: Match = Match.EXACT
    lms_id: Identifier = Field(
        min_length=1, max_length=2048, description="The LMS's course or activity id (or prefix)."
    )
    achievement_id: Identifier | None = Field(default=None, min_length=1, max_length=256)
    assessment_id: Identifier | None = Field(default=None, min_length=1, max_length=256)

    @model_validator(mode="after")
    def _has_a_target(self) -> MappingRule:
        if not (self.achievement_id or self.assessment_id):
            raise ValueError("a rule needs achievement_id, assessment_id or both")
        if self.match is Match.EXACT and any("{suffix}" in (t or "") for t in self._targets()):
            raise ValueError("{suffix} is only meaningful in a prefix rule")
        return self

    def _targets(self) -> tuple[str | None, str | None]:
        return self.achievement_id, self.assessment_id

    def matches(self, lms_id: str) -> bool:
        return lms_id == self.lms_id if self.match is Match.EXACT else lms_id.startswith(self.lms_id)

    def target(self, template: str, lms_id: str) -> str:
        suffix = _UNSAFE.sub("-", lms_id[len(self.lms_id) :]).strip("-") if self.match is Match.PREFIX else ""
        return template.replace("{suffix}", suffix)[:256]


@dataclass(frozen=True)
class Mapped:
    achievement_id: str | None
    assessment_id: str | None


@dataclass(frozen=True)
class Unmapped:
    reason: str


def _best(rules: Iterable[MappingRule], lms_id: str, wanted: str) -> tuple[MappingRule, str] | None:
    candidates = [r for r in rules if getattr(r, wanted) and r.matches(lms_id)]
    if not candidates:
        return None
    rule = max(candidates, key=lambda r: (r.match is Match.EXACT, len(r.lms_id)))
    return rule, rule.target(getattr(rule, wanted), lms_id)


def resolve(observation: Observation, rules: list[MappingRule]) -> Mapped | Unmapped:
    """Which Achievement/assessment an observation is about, as the connection's rules say."""
    activity_ids = [i for i in (observation.activity_id, *observation.related_ids) if i]
    assessment = next((hit for i in activity_ids if (hit := _best(rules, i, "assessment_id"))), None)
    # An enrolment is in a course; a completion is of the activity itself (a course completion names the course as
    # its activity), so finishing one quiz never counts as completing the course's Achievement.
    achievement_ids = list(activity_ids)
    if observation.kind is ActivityKind.ENROLLED and observation.course_id:
        achievement_ids.append(observation.course_id)
    achievement = next((hit for i in achievement_ids if (hit := _best(rules, i, "achievement_id"))), None)
    mapped = Mapped(achievement[1] if achievement else None, assessment[1] if assessment else None)
    kind = observation.kind
    where = observation.activity_id or observation.course_id or "(no id)"
    if kind is ActivityKind.ENROLLED and not mapped.achievement_id:
        return Unmapped(f"no mapping rule gives an Achievement for LMS course {where}")
    if kind in _NEEDS_ASSESSMENT and not mapped.assessment_id:
        return Unmapped(f"no mapping rule gives an assessment for LMS activity {where}")
    if kind is ActivityKind.COMPLETED and not (mapped.achievement_id or mapped.assessment_id):
        return Unmapped(f"no mapping rule gives an Achievement or assessment for LMS activity {where}")
    return mapped


def to_activity(observation: Observation, mapped: Mapped, *, tenant_id: str, learner_prefix: str = "") -> LmsActivity:
    """The observation as credstream's native activity, ready for the same path as a native event."""
    email = observation.learner_email
    if email and not _EMAIL.match(email.strip()):
        email = None  # a malformed address cannot identify a recipient; the badge falls back to the learner id
    kind = observation.kind
    return LmsActivity(
        tenant_id=tenant_id,
        learner_id=(learner_prefix + observation.learner_id)[:256],
        event_id=observation.event_id,
        kind=kind,
        learner_name=observation.learner_name,
        learner_email=email,
        achievement_id=mapped.achievement_id if kind in (ActivityKind.ENROLLED, ActivityKind.COMPLETED) else None,
        assessment_id=mapped.assessment_id if kind is not ActivityKind.ENROLLED else None,
        score=observation.score,
        max_score=observation.max_score,
        success=observation.success,
        source_activity_id=(observation.activity_id or observation.course_id),
        occurred_at=observation.occurred_at,
    )

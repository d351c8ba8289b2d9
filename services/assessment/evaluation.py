"""Does a learner's record meet an Achievement's criteria? Pure functions over plain data, no I/O, no clock.

A rule is met by evidence (attempts, completions, earned achievements) that happened inside its window. Besides
met / not met, evaluation says when the criteria first held (`met_at`, the award date: the same whichever event or
replica triggers the evaluation), which results to put on the credential, and why not, when not.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from services.assessment.criteria import (
    AchievementRule,
    AllOfRule,
    AssessmentRule,
    CompletedRule,
    Criteria,
    NOfRule,
    OverallScoreRule,
    RubricRule,
    Rule,
    ScoreMethod,
    Window,
)
from shared.contracts import AssessmentResult, ResultKind

DEFAULT_MAX_SCORE = 100.0
_EPSILON = 1e-9  # 69.99999999 out of floating point division still reaches a 70% minimum


@dataclass(frozen=True)
class Attempt:
    """One graded (or at least recorded) try at an assessment."""

    assessment_id: str
    occurred_at: datetime
    score: float | None = None
    max_score: float | None = None
    success: bool | None = None
    rubric: Mapping[str, str] | None = None

    @property
    def percent(self) -> float | None:
        if self.score is None:
            return None
        maximum = self.max_score or DEFAULT_MAX_SCORE
        return 100.0 * self.score / maximum


@dataclass(frozen=True)
class Completion:
    activity_id: str
    occurred_at: datetime


@dataclass(frozen=True)
class EarnedAchievement:
    """An award the learner holds (revoked awards are left out by the caller: they count for nothing new)."""

    achievement_id: str
    awarded_at: datetime
    award_id: uuid.UUID


@dataclass(frozen=True)
class LearnerRecord:
    attempts: Sequence[Attempt] = ()
    completions: Sequence[Completion] = ()
    earned: Sequence[EarnedAchievement] = ()


@dataclass(frozen=True)
class Outcome:
    met: bool
    met_at: datetime | None = None
    results: tuple[AssessmentResult, ...] = ()
    unmet: tuple[str, ...] = ()
    components: tuple[uuid.UUID, ...] = field(default=())  # award ids of the pathway components used


@dataclass(frozen=True)
class _Span:
    """The time span evidence must fall in: the intersection of every enclosing window."""

    opens_at: datetime | None = None
    closes_at: datetime | None = None

    def narrow(self, window: Window | None) -> _Span:
        if window is None:
            return self
        opens = max((t for t in (self.opens_at, window.opens_at) if t is not None), default=None)
        closes = min((t for t in (self.closes_at, window.closes_at) if t is not None), default=None)
        return _Span(opens, closes)

    def __contains__(self, moment: datetime) -> bool:
        return (self.opens_at is None or moment >= self.opens_at) and (
            self.closes_at is None or moment <= self.closes_at
        )


def evaluate(criteria: Criteria, record: LearnerRecord, *, since: datetime | None = None) -> Outcome:
    """Evaluate `criteria` on `record`; only evidence from `since` on counts (renewals)."""
    return _evaluate(criteria.rule, record, _Span(opens_at=since))


def _evaluate(rule: Rule, record: LearnerRecord, span: _Span) -> Outcome:
    span = span.narrow(rule.window)
    match rule:
        case AssessmentRule():
            return _assessment(rule, record, span)
        case RubricRule():
            return _rubric(rule, record, span)
        case OverallScoreRule():
            return _overall(rule, record, span)
        case CompletedRule():
            return _completed(rule, record, span)
        case AchievementRule():
            return _achievement(rule, record, span)
        case AllOfRule():
            return _all_of([_evaluate(child, record, span) for child in rule.rules])
        case NOfRule():
            return _n_of(rule.n, [_evaluate(child, record, span) for child in rule.rules])
    raise TypeError(f"unknown rule {rule!r}")  # pragma: no cover - the union above is exhaustive


def _attempts(record: LearnerRecord, assessment_id: str, span: _Span) -> list[Attempt]:
    return [a for a in record.attempts if a.assessment_id == assessment_id and a.occurred_at in span]


def _qualifies(rule: AssessmentRule, attempt: Attempt) -> bool:
    percent = attempt.percent
    if rule.min_score is not None and (percent is None or percent + _EPSILON < rule.min_score):
        return False
    if rule.require_success and attempt.success is not True:
        return False
    if rule.min_score is None and not rule.require_success:
        return percent is not None or attempt.success is True
    return True


def _by_percent(attempt: Attempt) -> tuple[float, float]:
    """Best attempt first: highest percent, then the earliest."""
    percent = attempt.percent
    return (-(percent if percent is not None else -1.0), attempt.occurred_at.timestamp())


def _assessment(rule: AssessmentRule, record: LearnerRecord, span: _Span) -> Outcome:
    attempts = _attempts(record, rule.assessment_id, span)
    qualifying = [a for a in attempts if _qualifies(rule, a)]
    if not qualifying:
        return Outcome(met=False, unmet=(_why_not(rule, attempts),))
    best = min(qualifying, key=_by_percent)
    met_at = min(a.occurred_at for a in qualifying)
    if best.score is not None:
        maximum = best.max_score or DEFAULT_MAX_SCORE
        result = AssessmentResult(
            assessment_id=rule.assessment_id,
            score=best.score,
            max_score=maximum,
            required_score=(rule.min_score or 0.0) * maximum / 100.0,
            kind=ResultKind.SUCCESS if rule.require_success and rule.min_score is None else ResultKind.SCORE,
            name=rule.name,
            success=best.success,
            achieved_at=best.occurred_at,
        )
    else:
        result = AssessmentResult(
            assessment_id=rule.assessment_id,
            score=1.0,
            max_score=1.0,
            required_score=1.0,
            kind=ResultKind.SUCCESS,
            name=rule.name,
            success=True,
            achieved_at=best.occurred_at,
        )
    return Outcome(met=True, met_at=met_at, results=(result,))


def _why_not(rule: AssessmentRule, attempts: list[Attempt]) -> str:
    label = f"assessment {rule.assessment_id!r}"
    if not attempts:
        return f"{label}: no attempt"
    scored = [a.percent for a in attempts if a.percent is not None]
    if rule.min_score is not None and (not scored or max(scored) + _EPSILON < rule.min_score):
        best = f"best {max(scored):.1f}%" if scored else "no score"
        return f"{label}: {best}, needs {rule.min_score:g}%"
    if rule.require_success:
        return f"{label}: no attempt flagged as passed"
    return f"{label}: no attempt with a result"


def _rubric(rule: RubricRule, record: LearnerRecord, span: _Span) -> Outcome:
    graded = [a for a in _attempts(record, rule.assessment_id, span) if a.rubric is not None]
    label = f"rubric {rule.assessment_id!r}"
    if not graded:
        return Outcome(met=False, unmet=(f"{label}: no rubric-graded attempt",))

    def shortfalls(attempt: Attempt) -> list[str]:
        assert attempt.rubric is not None
        missing = []
        for criterion in rule.criteria:
            achieved = attempt.rubric.get(criterion.id)
            rank = criterion.rank(achieved) if achieved is not None else None
            if rank is None or rank < (criterion.rank(criterion.required_level) or 0):
                shown = repr(achieved) if achieved is not None else "no level"
                missing.append(f"{criterion.id!r} at {shown}, needs {criterion.required_level!r}")
        return missing

    def points(attempt: Attempt) -> float:
        assert attempt.rubric is not None
        return sum(c.points_of(attempt.rubric.get(c.id, "")) for c in rule.criteria)

    def best_first(attempt: Attempt) -> tuple[float, float]:
        return (-points(attempt), attempt.occurred_at.timestamp())

    qualifying = [a for a in graded if not shortfalls(a)]
    if not qualifying:
        closest = min(graded, key=best_first)
        return Outcome(met=False, unmet=(f"{label}: " + "; ".join(shortfalls(closest)),))
    best = min(qualifying, key=best_first)
    assert best.rubric is not None
    result = AssessmentResult(
        assessment_id=rule.assessment_id,
        score=points(best),
        max_score=sum(c.points_of(c.levels[-1].id) for c in rule.criteria),
        required_score=sum(c.points_of(c.required_level) for c in rule.criteria),
        kind=ResultKind.RUBRIC,
        name=rule.name,
        success=best.success,
        rubric={c.id: best.rubric[c.id] for c in rule.criteria},
        achieved_at=best.occurred_at,
    )
    return Outcome(met=True, met_at=min(a.occurred_at for a in qualifying), results=(result,))


def _aggregate(rule: OverallScoreRule, best: Mapping[str, float]) -> float:
    if rule.method is ScoreMethod.WEIGHTED:
        total = sum(rule.weight(a) for a in rule.assessment_ids)
        return sum(rule.weight(a) * best[a] for a in rule.assessment_ids) / total
    return sum(best[a] for a in rule.assessment_ids) / len(rule.assessment_ids)


def _overall(rule: OverallScoreRule, record: LearnerRecord, span: _Span) -> Outcome:
    listed = set(rule.assessment_ids)
    scored = sorted(
        (a for a in record.attempts if a.assessment_id in listed and a.percent is not None and a.occurred_at in span),
        key=lambda a: a.occurred_at,
    )
    best: dict[str, float] = {}
    met_at: datetime | None = None
    # Replay in time order: the criteria first held when the best-so-far scores first reached the minimum.
    for attempt in scored:
        assert attempt.percent is not None
        best[attempt.assessment_id] = max(best.get(attempt.assessment_id, 0.0), attempt.percent)
        if met_at is None and len(best) == len(listed) and _aggregate(rule, best) + _EPSILON >= rule.min_score:
            met_at = attempt.occurred_at
    label = f"overall score {rule.id!r}"
    missing = [a for a in rule.assessment_ids if a not in best]
    if missing:
        return Outcome(met=False, unmet=(f"{label}: no result for {', '.join(repr(a) for a in missing)}",))
    overall = _aggregate(rule, best)
    if met_at is None:
        return Outcome(met=False, unmet=(f"{label}: {overall:.1f}%, needs {rule.min_score:g}%",))
    result = AssessmentResult(
        assessment_id=rule.id,
        score=round(overall, 6),
        max_score=100.0,
        required_score=rule.min_score,
        kind=ResultKind.OVERALL_SCORE,
        name=rule.name,
        achieved_at=met_at,
    )
    return Outcome(met=True, met_at=met_at, results=(result,))


def _completed(rule: CompletedRule, record: LearnerRecord, span: _Span) -> Outcome:
    first: dict[str, datetime] = {}
    for completion in record.completions:
        if completion.activity_id in rule.activity_ids and completion.occurred_at in span:
            known = first.get(completion.activity_id)
            first[completion.activity_id] = min(known, completion.occurred_at) if known else completion.occurred_at
    missing = [a for a in rule.activity_ids if a not in first]
    if missing:
        return Outcome(met=False, unmet=(f"not completed: {', '.join(repr(a) for a in missing)}",))
    results = tuple(
        AssessmentResult(
            assessment_id=activity,
            score=1.0,
            max_score=1.0,
            required_score=1.0,
            kind=ResultKind.COMPLETION,
            name=rule.name,
            achieved_at=first[activity],
        )
        for activity in rule.activity_ids
    )
    return Outcome(met=True, met_at=max(first.values()), results=results)


def _achievement(rule: AchievementRule, record: LearnerRecord, span: _Span) -> Outcome:
    held = [e for e in record.earned if e.achievement_id == rule.achievement_id and e.awarded_at in span]
    if not held:
        return Outcome(met=False, unmet=(f"achievement {rule.achievement_id!r} not earned",))
    first = min(held, key=lambda e: e.awarded_at)
    result = AssessmentResult(
        assessment_id=rule.achievement_id,
        score=1.0,
        max_score=1.0,
        required_score=1.0,
        kind=ResultKind.ACHIEVEMENT,
        name=rule.name,
        achieved_at=first.awarded_at,
    )
    return Outcome(met=True, met_at=first.awarded_at, results=(result,), components=(first.award_id,))


def _all_of(outcomes: list[Outcome]) -> Outcome:
    unmet = tuple(reason for o in outcomes for reason in o.unmet)
    if unmet:
        return Outcome(met=False, unmet=unmet)
    return Outcome(
        met=True,
        met_at=max(o.met_at for o in outcomes if o.met_at is not None),
        results=tuple(r for o in outcomes for r in o.results),
        components=tuple(c for o in outcomes for c in o.components),
    )


def _n_of(n: int, outcomes: list[Outcome]) -> Outcome:
    met = [o for o in outcomes if o.met]
    if len(met) < n:
        others = tuple(reason for o in outcomes if not o.met for reason in o.unmet)
        return Outcome(met=False, unmet=(f"{len(met)} of the {n} required choices met", *others))
    # It first held when the n-th choice was met; every met choice is shown on the credential.
    moments = sorted(o.met_at for o in met if o.met_at is not None)
    return Outcome(
        met=True,
        met_at=moments[n - 1],
        results=tuple(r for o in met for r in o.results),
        components=tuple(c for o in met for c in o.components),
    )

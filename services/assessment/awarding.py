"""Awarding on a learner's state in memory: record an activity, then award what it can complete. Pure: the caller
loads the batch's learners in one go, applies every event in order, and writes what changed in a few statements.

Exactly once per award: award ids are deterministic (tenant, learner, achievement, renewal period) and the awards
table has a unique constraint on the same (a concurrent award fails the batch, which is retried on fresh state).
"""

from __future__ import annotations

import json
import uuid
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog

from services.assessment.awards import PriorAward, award_id, next_award
from services.assessment.criteria import RefKind
from services.assessment.domain import Achievement
from services.assessment.evaluation import (
    DEFAULT_MAX_SCORE,
    Attempt,
    Completion,
    EarnedAchievement,
    LearnerRecord,
    evaluate,
)
from services.assessment.grading import AnswerKey, grade
from shared.contracts import (
    AchievementSnapshot,
    ActivityKind,
    AssessmentPassed,
    AssessmentResult,
    CloudEvent,
    EnrollmentRecorded,
    RecipientIdentity,
)
from shared.messaging.records import PoisonRecord

log = structlog.get_logger(__name__)

SOURCE = "credstream/assessment"

# Pathways of pathways cascade within one evaluation; this bounds a (refused at write time) cycle anyway.
MAX_CASCADE = 500


class Definitions:
    """The current, active Achievement definitions of some tenants, indexed by what their criteria refer to."""

    def __init__(self, achievements: Iterable[Achievement] = ()) -> None:
        self._achievements: dict[tuple[str, str], Achievement] = {}
        self._referring: dict[tuple[str, RefKind, str], set[str]] = {}
        self._references: dict[tuple[str, str], set[tuple[RefKind, str]]] = {}
        self._snapshots: dict[tuple[str, str], AchievementSnapshot] = {}
        for achievement in achievements:
            self.put(achievement)

    def put(self, achievement: Achievement) -> None:
        key = (achievement.tenant_id, achievement.id)
        self._achievements[key] = achievement
        references = achievement.criteria.references()
        self._references[key] = references
        for kind, ref_id in references:
            self._referring.setdefault((achievement.tenant_id, kind, ref_id), set()).add(achievement.id)

    def replace_tenant(self, tenant_id: str, achievements: Iterable[Achievement]) -> None:
        """Forget a tenant's definitions, then index `achievements` (its current ones)."""
        self._achievements = {k: v for k, v in self._achievements.items() if k[0] != tenant_id}
        self._references = {k: v for k, v in self._references.items() if k[0] != tenant_id}
        self._referring = {k: v for k, v in self._referring.items() if k[0] != tenant_id}
        self._snapshots = {k: v for k, v in self._snapshots.items() if k[0] != tenant_id}
        for achievement in achievements:
            self.put(achievement)

    def snapshot(self, achievement: Achievement) -> AchievementSnapshot:
        """What the AssessmentPassed event carries of the Achievement (built once per version)."""
        key = (achievement.tenant_id, achievement.id)
        found = self._snapshots.get(key)
        if found is None or found.version != achievement.version:
            found = self._snapshots[key] = achievement.snapshot()
        return found

    def current(self, tenant_id: str, achievement_id: str) -> Achievement | None:
        return self._achievements.get((tenant_id, achievement_id))

    def referring(self, tenant_id: str, kind: RefKind, ref_id: str) -> set[str]:
        """The Achievements whose criteria mention this assessment, activity or achievement."""
        return self._referring.get((tenant_id, kind, ref_id), set())

    def references(self, tenant_id: str, achievement_id: str) -> set[tuple[RefKind, str]]:
        return self._references.get((tenant_id, achievement_id), set())


@dataclass
class Enrolment:
    enrolled_at: datetime
    learner_name: str | None = None
    recipient: str | None = None  # RecipientIdentity as JSON


@dataclass(frozen=True)
class AwardHeld:
    award_id: uuid.UUID
    achievement_id: str
    period: int
    awarded_at: datetime
    revoked: bool = False


@dataclass(frozen=True)
class NewAttempt:
    assessment_id: str
    number: int
    kind: str
    score: float | None
    max_score: float | None
    success: bool | None
    rubric: str | None
    answer_key_version: int | None
    source_event_id: str
    occurred_at: datetime


@dataclass(frozen=True)
class NewAward:
    held: AwardHeld
    achievement_version: int
    components: tuple[uuid.UUID, ...]
    event: AssessmentPassed
    ce: CloudEvent


@dataclass
class LearnerState:
    """What awarding needs to know of one learner, and what this batch changed (to be written)."""

    tenant_id: str
    learner_id: str
    learner_name: str | None = None
    recipient: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    attempt_counts: Counter[str] = field(default_factory=Counter)
    completions: list[Completion] = field(default_factory=list)
    enrolments: dict[str, Enrolment] = field(default_factory=dict)
    awards: list[AwardHeld] = field(default_factory=list)
    # Changes, written by the caller after the batch
    learner_changed: bool = False
    enrolments_changed: set[str] = field(default_factory=set)
    new_attempts: list[NewAttempt] = field(default_factory=list)
    new_completions: list[Completion] = field(default_factory=list)
    new_awards: list[NewAward] = field(default_factory=list)

    def record(self) -> LearnerRecord:
        return LearnerRecord(
            attempts=self.attempts,
            completions=self.completions,
            earned=[
                EarnedAchievement(a.achievement_id, a.awarded_at, a.award_id) for a in self.awards if not a.revoked
            ],
        )

    def has_evidence_for(self, references: Iterable[tuple[RefKind, str]]) -> bool:
        """Could criteria with these references be met at all? Each rule needs some evidence it names."""
        for kind, ref_id in references:
            if kind is RefKind.ASSESSMENT and self.attempt_counts[ref_id]:
                return True
            if kind is RefKind.ACTIVITY and any(c.activity_id == ref_id for c in self.completions):
                return True
            if kind is RefKind.ACHIEVEMENT and any(a.achievement_id == ref_id and not a.revoked for a in self.awards):
                return True
        return False


AnswerKeys = Mapping[tuple[str, str], tuple[AnswerKey, int]]


def record_activity(
    state: LearnerState, event: EnrollmentRecorded, definitions: Definitions, answer_keys: AnswerKeys
) -> list[NewAward]:
    """Apply one activity to the learner's state, then award whatever it completes (pathways included)."""
    _remember_learner(state, event)
    candidates: set[str] = set()
    if event.achievement_id:
        # An enrolment, or an activity the LMS attributes to an Achievement (e.g. a course completion).
        _enrol(state, event, event.achievement_id)
        candidates.add(event.achievement_id)
    if event.kind is not ActivityKind.ENROLLED:
        if event.assessment_id and _carries_attempt(event):
            attempt = _record_attempt(state, event, event.assessment_id, answer_keys)
            if attempt.score is not None or attempt.success is not None or attempt.rubric is not None:
                candidates |= definitions.referring(state.tenant_id, RefKind.ASSESSMENT, event.assessment_id)
        if event.kind is ActivityKind.COMPLETED:
            activity_id = event.assessment_id or event.achievement_id
            assert activity_id is not None  # the contract requires one of them
            completion = Completion(activity_id, aware(event.occurred_at))
            state.completions.append(completion)
            state.new_completions.append(completion)
            candidates |= definitions.referring(state.tenant_id, RefKind.ACTIVITY, activity_id)
    return award_earned(state, definitions, candidates)


def _carries_attempt(event: EnrollmentRecorded) -> bool:
    if event.kind is ActivityKind.COMPLETED:
        # A completion is an attempt too when it comes with a result (xAPI `completed` with result.score).
        return any(v is not None for v in (event.score, event.success, event.rubric, event.answers))
    return event.kind in (ActivityKind.SUBMITTED, ActivityKind.SCORED, ActivityKind.PASSED, ActivityKind.FAILED)


def _recipient_json(event: EnrollmentRecorded) -> str | None:
    return event.recipient.model_dump_json() if event.recipient else None


def _remember_learner(state: LearnerState, event: EnrollmentRecorded) -> None:
    if event.learner_name:
        state.learner_name = event.learner_name
        state.learner_changed = True
    if event.recipient:
        state.recipient = _recipient_json(event)
        state.learner_changed = True


def _enrol(state: LearnerState, event: EnrollmentRecorded, achievement_id: str) -> None:
    enrolment = state.enrolments.get(achievement_id)
    if enrolment is None:
        state.enrolments[achievement_id] = Enrolment(
            aware(event.occurred_at), event.learner_name, _recipient_json(event)
        )
        state.enrolments_changed.add(achievement_id)
        return
    if event.learner_name:
        enrolment.learner_name = event.learner_name
        state.enrolments_changed.add(achievement_id)
    if event.recipient:
        enrolment.recipient = _recipient_json(event)
        state.enrolments_changed.add(achievement_id)


def _record_attempt(
    state: LearnerState, event: EnrollmentRecorded, assessment_id: str, answer_keys: AnswerKeys
) -> Attempt:
    """Append to the attempt history (failures included); answers are graded here and then forgotten."""
    score, max_score, key_version = event.score, event.max_score, None
    if event.answers:
        found = answer_keys.get((event.tenant_id, assessment_id))
        if found is not None:
            key, version = found
            graded = grade(key, event.answers)
            score, max_score, key_version = graded.score, graded.max_score, version
            if graded.unknown_questions:
                log.info(
                    "assessment.unknown_questions",
                    tenant=event.tenant_id,
                    assessment=assessment_id,
                    count=len(graded.unknown_questions),
                )
        elif score is None:
            # Not a bad record, but one that cannot count yet: the dead-letter topic keeps it for a replay.
            raise PoisonRecord(
                f"answers for assessment {assessment_id!r} of tenant {event.tenant_id!r} but no answer key: "
                "define it (PUT /v1/tenants/{tenant}/assessments/{assessment}/answer-key), then replay"
            )
    if score is not None and max_score is None:
        max_score = DEFAULT_MAX_SCORE
    success = event.success
    if success is None and event.kind in (ActivityKind.PASSED, ActivityKind.FAILED):
        success = event.kind is ActivityKind.PASSED
    occurred_at = aware(event.occurred_at)
    attempt = Attempt(
        assessment_id=assessment_id,
        occurred_at=occurred_at,
        score=score,
        max_score=max_score,
        success=success,
        rubric=event.rubric,
    )
    state.attempt_counts[assessment_id] += 1
    state.attempts.append(attempt)
    state.new_attempts.append(
        NewAttempt(
            assessment_id=assessment_id,
            number=state.attempt_counts[assessment_id],
            kind=str(event.kind),
            score=score,
            max_score=max_score,
            success=success,
            rubric=json.dumps(event.rubric, sort_keys=True) if event.rubric is not None else None,
            answer_key_version=key_version,
            source_event_id=event.source_event_id[:256],
            occurred_at=occurred_at,
        )
    )
    return attempt


def award_earned(state: LearnerState, definitions: Definitions, achievement_ids: Iterable[str]) -> list[NewAward]:
    """Award every listed Achievement whose criteria the learner now meets, then the pathways those complete."""
    queue = deque(sorted(set(achievement_ids)))
    made: list[NewAward] = []
    steps = 0
    while queue and steps < MAX_CASCADE:
        steps += 1
        achievement_id = queue.popleft()
        achievement = definitions.current(state.tenant_id, achievement_id)
        if achievement is None:
            continue
        if not state.has_evidence_for(definitions.references(state.tenant_id, achievement_id)):
            continue  # e.g. an enrolment before any attempt: nothing to evaluate
        award = _award_if_met(state, achievement, definitions)
        if award is None:
            continue
        made.append(award)
        state.awards.append(award.held)  # evidence for the pathways that stack it
        state.new_awards.append(award)
        if achievement.renewal_period_days:
            queue.appendleft(achievement_id)  # evidence recorded earlier may already renew it (catching up)
        queue.extend(sorted(definitions.referring(state.tenant_id, RefKind.ACHIEVEMENT, achievement_id)))
    return made


def _award_if_met(state: LearnerState, achievement: Achievement, definitions: Definitions) -> NewAward | None:
    tenant_id, learner_id, achievement_id = state.tenant_id, state.learner_id, achievement.id
    enrolment = state.enrolments.get(achievement_id)
    pathway = bool(achievement.criteria.component_achievements())
    # Achievements are earned by enrolled learners; pathways by whoever stacks their components.
    if enrolment is None and not pathway:
        return None
    prior = [PriorAward(a.period, a.awarded_at) for a in state.awards if a.achievement_id == achievement_id]
    nxt = next_award(prior, achievement.renewal_period_days)
    if nxt is None:
        return None
    outcome = evaluate(achievement.criteria, state.record(), since=nxt.since)
    if not outcome.met:
        return None
    assert outcome.met_at is not None
    awarded_at = outcome.met_at
    if enrolment is not None and not pathway:
        awarded_at = max(awarded_at, enrolment.enrolled_at)  # never awarded before the enrolment
    award = award_id(tenant_id, learner_id, achievement_id, nxt.period)
    name = state.learner_name or (enrolment.learner_name if enrolment else None)
    recipient = state.recipient or (enrolment.recipient if enrolment else None)
    passed = AssessmentPassed(
        tenant_id=tenant_id,
        learner_id=learner_id,
        award_id=award,
        achievement=definitions.snapshot(achievement),
        results=list[AssessmentResult](outcome.results),
        learner_name=name,
        recipient=RecipientIdentity.model_validate_json(recipient) if recipient else None,
        passed_at=awarded_at,
        award_period=nxt.period,
    )
    log.info("assessment.awarded", tenant=tenant_id, achievement=achievement_id, period=nxt.period, award=str(award))
    return NewAward(
        held=AwardHeld(award, achievement_id, nxt.period, awarded_at),
        achievement_version=achievement.version,
        components=tuple(dict.fromkeys(outcome.components)),
        event=passed,
        ce=CloudEvent(id=str(award), source=SOURCE, type=AssessmentPassed.CE_TYPE, subject=passed.key()),
    )


def aware(moment: datetime) -> datetime:
    # SQLite hands timestamps back without their zone; they were stored in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

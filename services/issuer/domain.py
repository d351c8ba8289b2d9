"""Issuer domain: the Open Badges 3.0 credential for an award. Pure: no I/O, no clock, no keys."""

import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from shared.contracts import (
    AlignmentSnapshot,
    AssessmentPassed,
    AssessmentResult,
    RecipientIdentity,
    ResultKind,
    RubricCriterionSnapshot,
)
from shared.credentials.ob3 import (
    Achievement,
    Alignment,
    BitstringStatusListEntry,
    Criteria,
    Evidence,
    IdentityObject,
    Image,
    Profile,
    Result,
    ResultDescription,
    RubricCriterionLevel,
    build_open_badge_credential,
)
from shared.ids import name_of
from shared.settings import IssuerProfileConfig

# Results that are a yes (passed, completed, earned) rather than a score: (Result value, verb for people).
_STATUS_KINDS = {
    ResultKind.SUCCESS: ("Passed", "Passed"),
    ResultKind.COMPLETION: ("Completed", "Completed"),
    ResultKind.ACHIEVEMENT: ("Earned", "Earned the Achievement"),
}
_GENRES = {
    ResultKind.SCORE: "Assessment",
    ResultKind.SUCCESS: "Assessment",
    ResultKind.RUBRIC: "Assessment",
    ResultKind.OVERALL_SCORE: "Assessments",
    ResultKind.COMPLETION: "Activity",
    ResultKind.ACHIEVEMENT: "Achievement",
}
_CREDENTIAL_NAMESPACE = uuid.UUID("6f1c7a5e-2b8d-4e3f-a1c9-5d7e9b0f2a34")
_LEARNER_NAMESPACE = uuid.UUID("0e8a4c2f-7d6b-4a19-b3e5-c1f2d3a4b5c6")


def credential_uuid(award_id: uuid.UUID) -> uuid.UUID:
    """The credential for an award always gets the same id, so a retried issue cannot mint a second one."""
    return uuid.uuid5(_CREDENTIAL_NAMESPACE, str(award_id))


def learner_subject_id(tenant_id: str, learner_id: str) -> str:
    """An opaque subject id: the LMS's learner id never appears in the public credential."""
    return f"urn:uuid:{uuid.uuid5(_LEARNER_NAMESPACE, name_of(tenant_id, learner_id))}"


def issuer_profile(issuer_id: str, tenant_id: str, config: IssuerProfileConfig | None) -> Profile:
    if config is None:
        return Profile(id=issuer_id, name=f"{tenant_id} (via credstream)")
    return Profile(
        id=issuer_id,
        name=config.name,
        url=config.url,
        email=config.email,
        description=config.description,
        image=Image(id=config.image) if config.image else None,
    )


def build_credential(
    passed: AssessmentPassed,
    *,
    issuer: Profile,
    public_base_url: str,
    issued_at: datetime,
    status: BitstringStatusListEntry | None = None,
) -> dict[str, Any]:
    """The unsigned OpenBadgeCredential for `passed`.

    The Achievement as defined when it was awarded (criteria, alignment, rubric, tags, credits, version), the
    learner as an opaque id plus the salted e-mail hash, a result per counted assessment and per achieved rubric
    level, those assessments as evidence, `validUntil` from the Achievement's expiry policy, and `status`.
    Raises pydantic's ValidationError if the snapshot cannot make a valid credential (e.g. a relative URL).
    """
    snapshot = passed.achievement
    achievement_iri = f"{public_base_url.rstrip('/')}/achievements/{passed.tenant_id}/{quote(snapshot.id, safe='')}"
    scores = [(result, _result_description(achievement_iri, result)) for result in passed.results]
    rubric = [(criterion, _rubric_description(achievement_iri, criterion)) for criterion in snapshot.rubric or []]
    # Rubric criterion ids are unique within one assessment's rubric only: key achieved levels by both.
    achieved_levels = {
        (result.assessment_id, criterion_id): level
        for result in passed.results
        for criterion_id, level in (result.rubric or {}).items()
    }
    results = [_result(result, description) for result, description in scores]
    for criterion, description in rubric:
        level = achieved_levels.get((criterion.assessment_id or "", criterion.id))
        known = {known.id: known.name for known in criterion.levels}
        if level in known:
            achieved = _level_iri(description.id, level)
            results.append(Result(value=known[level], result_description=description.id, achieved_level=achieved))
    image = Image(id=snapshot.image_url, caption=snapshot.name) if snapshot.image_url else None
    achievement = Achievement(
        id=achievement_iri,
        name=snapshot.name,
        description=snapshot.description,
        criteria=Criteria(narrative=snapshot.criteria_narrative),
        image=image,
        achievement_type=snapshot.achievement_type,
        alignment=[_alignment(a) for a in snapshot.alignment] if snapshot.alignment else None,
        result_description=[d for _, d in scores] + [d for _, d in rubric] or None,
        tag=list(snapshot.tags) if snapshot.tags else None,
        credits_available=snapshot.credits_available,
        version=str(snapshot.version),
        human_code=snapshot.human_code,
        field_of_study=snapshot.field_of_study,
    )
    valid_until = issued_at + timedelta(days=snapshot.valid_for_days) if snapshot.valid_for_days else None
    return build_open_badge_credential(
        credential_id=f"urn:uuid:{credential_uuid(passed.award_id)}",
        issuer=issuer,
        achievement=achievement,
        name=snapshot.name,
        description=snapshot.description,
        image=image,
        valid_from=issued_at,
        valid_until=valid_until,
        awarded_date=passed.passed_at,
        subject_id=learner_subject_id(passed.tenant_id, passed.learner_id),
        identifier=[_identity(passed.recipient)] if passed.recipient else None,
        results=results or None,
        evidence=[_evidence(result) for result in passed.results] or None,
        activity_end_date=passed.passed_at,
        credential_status=status,
    )


def _result_description(achievement_iri: str, result: AssessmentResult) -> ResultDescription:
    rd_id = f"{achievement_iri}#result/{result.kind}/{quote(result.assessment_id, safe='')}"
    if result.kind in _STATUS_KINDS:
        name = result.name or f"{_STATUS_KINDS[result.kind][1]} {result.assessment_id}"
        return ResultDescription(id=rd_id, name=name, result_type="Status")
    default = "Overall score" if result.kind is ResultKind.OVERALL_SCORE else f"Score on {result.assessment_id}"
    return ResultDescription(
        id=rd_id,
        name=result.name or default,
        result_type="Percent",
        value_min="0",
        value_max="100",
        required_value=_percent(result.required_score, result.max_score),
    )


def _result(result: AssessmentResult, description: ResultDescription) -> Result:
    if result.kind in _STATUS_KINDS:
        return Result(value=_STATUS_KINDS[result.kind][0], status="Completed", result_description=description.id)
    return Result(value=_percent(result.score, result.max_score), result_description=description.id)


def _rubric_description(achievement_iri: str, criterion: RubricCriterionSnapshot) -> ResultDescription:
    assessment = quote(criterion.assessment_id or "", safe="")
    rd_id = f"{achievement_iri}#rubric/{assessment}/{quote(criterion.id, safe='')}"
    levels = [
        RubricCriterionLevel(
            id=_level_iri(rd_id, level.id),
            name=level.name,
            description=level.description,
            level=str(position),
            points=_number(level.points) if level.points is not None else None,
        )
        for position, level in enumerate(criterion.levels, start=1)
    ]
    return ResultDescription(
        id=rd_id,
        name=criterion.name,
        result_type="RubricCriterionLevel",
        rubric_criterion_level=levels,
        required_level=_level_iri(rd_id, criterion.required_level) if criterion.required_level else None,
    )


def _level_iri(description_id: str, level_id: str) -> str:
    return f"{description_id}/{quote(level_id, safe='')}"


def _alignment(alignment: AlignmentSnapshot) -> Alignment:
    return Alignment(
        target_name=alignment.target_name,
        target_url=alignment.target_url,
        target_description=alignment.target_description,
        target_framework=alignment.target_framework,
        target_code=alignment.target_code,
        target_type=alignment.target_type,
    )


def _evidence(result: AssessmentResult) -> Evidence:
    if result.kind in _STATUS_KINDS:
        verb = _STATUS_KINDS[result.kind][1]
        return Evidence(
            name=result.name or f"{_GENRES[result.kind]} {result.assessment_id}",
            description=f"{verb} {result.assessment_id}.",
            genre=_GENRES[result.kind],
        )
    return Evidence(
        name=result.name or f"{_GENRES[result.kind]} {result.assessment_id}",
        description=(
            f"Scored {_number(result.score)} of {_number(result.max_score)}"
            f" (at least {_number(result.required_score)} required)."
        ),
        genre=_GENRES[result.kind],
    )


def _identity(recipient: RecipientIdentity) -> IdentityObject:
    return IdentityObject(
        identity_hash=recipient.identity_hash, identity_type=recipient.identity_type, salt=recipient.salt
    )


def _number(value: float) -> str:
    return f"{value:g}"


def _percent(score: float, max_score: float) -> str:
    value = 100.0 * score / max_score if max_score else 0.0
    return f"{value:.0f}" if value.is_integer() else f"{value:.1f}"

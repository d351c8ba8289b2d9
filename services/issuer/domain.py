"""Issuer domain: the Open Badges 3.0 credential for an award. Pure: no I/O, no clock, no keys."""

import uuid
from datetime import datetime
from typing import Any

from shared.contracts import AssessmentPassed
from shared.credentials.ob3 import (
    Achievement,
    Criteria,
    IdentityObject,
    Image,
    Profile,
    Result,
    ResultDescription,
    build_open_badge_credential,
)
from shared.settings import IssuerProfileConfig

_CREDENTIAL_NAMESPACE = uuid.UUID("6f1c7a5e-2b8d-4e3f-a1c9-5d7e9b0f2a34")
_LEARNER_NAMESPACE = uuid.UUID("0e8a4c2f-7d6b-4a19-b3e5-c1f2d3a4b5c6")


def credential_uuid(award_id: uuid.UUID) -> uuid.UUID:
    """The credential for an award always gets the same id, so a retried issue cannot mint a second one."""
    return uuid.uuid5(_CREDENTIAL_NAMESPACE, str(award_id))


def learner_subject_id(tenant_id: str, learner_id: str) -> str:
    """An opaque subject id: the LMS's learner id never appears in the public credential."""
    return f"urn:uuid:{uuid.uuid5(_LEARNER_NAMESPACE, tenant_id + chr(31) + learner_id)}"


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
    passed: AssessmentPassed, *, issuer: Profile, public_base_url: str, issued_at: datetime
) -> dict[str, Any]:
    """The unsigned OpenBadgeCredential for `passed`: achievement, learner, per-assessment results."""
    snapshot = passed.achievement
    achievement_iri = f"{public_base_url.rstrip('/')}/achievements/{passed.tenant_id}/{snapshot.id}"
    descriptions = [
        ResultDescription(
            id=f"{achievement_iri}#result-{index}",
            name=f"Score on {result.assessment_id}",
            result_type="Percent",
            value_min="0",
            value_max="100",
            required_value=_percent(result.required_score, result.max_score),
        )
        for index, result in enumerate(passed.results, start=1)
    ]
    achievement = Achievement(
        id=achievement_iri,
        name=snapshot.name,
        description=snapshot.description,
        criteria=Criteria(narrative=snapshot.criteria_narrative),
        image=Image(id=snapshot.image_url, caption=snapshot.name) if snapshot.image_url else None,
        achievement_type=snapshot.achievement_type,
        result_description=descriptions or None,
    )
    results = [
        Result(value=_percent(result.score, result.max_score), result_description=description.id)
        for result, description in zip(passed.results, descriptions, strict=True)
    ]
    return build_open_badge_credential(
        credential_id=f"urn:uuid:{credential_uuid(passed.award_id)}",
        issuer=issuer,
        achievement=achievement,
        name=snapshot.name,
        description=snapshot.description,
        valid_from=issued_at,
        awarded_date=passed.passed_at,
        subject_id=learner_subject_id(passed.tenant_id, passed.learner_id),
        identifier=[_identity(passed)] if passed.recipient else None,
        results=results or None,
    )


def _percent(score: float, max_score: float) -> str:
    value = 100.0 * score / max_score if max_score else 0.0
    return f"{value:.0f}" if value.is_integer() else f"{value:.1f}"


def _identity(passed: AssessmentPassed) -> IdentityObject:
    recipient = passed.recipient
    assert recipient is not None
    return IdentityObject(
        identity_hash=recipient.identity_hash, identity_type=recipient.identity_type, salt=recipient.salt
    )

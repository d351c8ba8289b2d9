"""The issuer's credential: a complete OB3 OpenBadgeCredential that signs and verifies (and fails when tampered)."""

import copy
import uuid
from datetime import UTC, datetime, timedelta

from services.issuer.domain import build_credential, credential_uuid, issuer_profile, learner_subject_id
from shared.contracts import AchievementSnapshot, AssessmentPassed, AssessmentResult
from shared.credentials.keys import did_key, did_key_verification_method, generate_key
from shared.credentials.proof import sign_credential
from shared.credentials.resolver import DidKeyResolver
from shared.credentials.verification import verify_credential
from shared.settings import IssuerProfileConfig

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def passed() -> AssessmentPassed:
    return AssessmentPassed(
        tenant_id="acme",
        learner_id="learner-7",
        award_id=uuid.uuid4(),
        achievement=AchievementSnapshot(
            id="python",
            name="Python Foundations",
            description="Writes Python.",
            criteria_narrative="Pass the quiz.",
            image_url="https://acme.example/python.png",
            achievement_type="Competency",
        ),
        results=[AssessmentResult(assessment_id="quiz", score=88, max_score=100, required_score=70)],
        learner_name="Ada",
        passed_at=NOW - timedelta(minutes=5),
    )


def test_credential_has_the_open_badges_shape() -> None:
    event = passed()
    profile = issuer_profile(
        "did:key:z6MkExample", "acme", IssuerProfileConfig(name="Acme Academy", url="https://acme.example")
    )
    credential = build_credential(event, issuer=profile, public_base_url="https://badges.acme.example", issued_at=NOW)
    assert credential["@context"][0] == "https://www.w3.org/ns/credentials/v2"
    assert credential["@context"][1].startswith("https://purl.imsglobal.org/spec/ob/v3p0/context-3.0")
    assert credential["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert credential["id"] == f"urn:uuid:{credential_uuid(event.award_id)}"
    assert credential["issuer"]["name"] == "Acme Academy"
    subject = credential["credentialSubject"]
    assert subject["id"] == learner_subject_id("acme", "learner-7")
    assert "learner-7" not in subject["id"]  # the LMS's id stays private
    assert subject["achievement"]["name"] == "Python Foundations"
    assert subject["achievement"]["criteria"]["narrative"] == "Pass the quiz."
    assert subject["result"][0]["value"] == "88"
    assert subject["result"][0]["resultDescription"] == subject["achievement"]["resultDescription"][0]["id"]
    assert credential["validFrom"].startswith("2026-11-29T12:00:00")


def test_signed_credential_verifies_and_tampering_is_detected() -> None:
    key = generate_key()
    profile = issuer_profile(did_key(key), "acme", None)
    unsigned = build_credential(passed(), issuer=profile, public_base_url="https://b.example", issued_at=NOW)
    signed = sign_credential(unsigned, key, did_key_verification_method(key), NOW)
    assert signed["proof"]["cryptosuite"] == "eddsa-rdfc-2022"
    assert signed["proof"]["proofValue"].startswith("z")

    report = verify_credential(signed, resolver=DidKeyResolver(), now=NOW + timedelta(days=1))
    assert report.verified, report.model_dump()

    tampered = copy.deepcopy(signed)
    tampered["credentialSubject"]["result"][0]["value"] = "100"
    report = verify_credential(tampered, resolver=DidKeyResolver(), now=NOW + timedelta(days=1))
    assert not report.verified
    assert "proof.signature_invalid" in {c.code for c in report.checks if c.outcome == "failed"}


def test_same_award_same_credential_id() -> None:
    award = uuid.uuid4()
    assert credential_uuid(award) == credential_uuid(award)
    assert credential_uuid(award) != credential_uuid(uuid.uuid4())

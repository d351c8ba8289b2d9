"""The issuer's credential: a complete OB3 OpenBadgeCredential that signs and verifies (and fails when tampered)."""

import copy
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from services.issuer import signing as issuer_signing
from services.issuer.adapters.keystore import KeyEncryption, KeyStore
from services.issuer.adapters.status_lists import StatusLists
from services.issuer.adapters.tables import IssuedCredential, IssuerProcessedEvent, StatusList
from services.issuer.domain import build_credential, credential_uuid, issuer_profile, learner_subject_id
from services.issuer.handlers import IssueCredential, Issuers
from services.issuer.signing import SigningPool
from services.issuer.status import Slot, status_entry
from shared.contracts import (
    AchievementSnapshot,
    AlignmentSnapshot,
    AssessmentPassed,
    AssessmentResult,
    CloudEvent,
    RecipientIdentity,
    ResultKind,
    RubricCriterionSnapshot,
    RubricLevelSnapshot,
    Topic,
)
from shared.credentials.keys import did_key, did_key_verification_method, generate_key
from shared.credentials.proof import sign_credential
from shared.credentials.resolver import DidKeyResolver
from shared.credentials.verification import verify_credential
from shared.db.engine import create_engine, session_factory
from shared.db.migrations import upgrade
from shared.messaging.consumer import EventConsumer
from shared.messaging.records import PoisonRecord
from shared.settings import IssuerProfileConfig, Settings
from tests.issuer_support import passed_award as passed

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


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


def full_passed() -> AssessmentPassed:
    """An award of an Achievement that uses every field the issuer turns into OB3."""
    return AssessmentPassed(
        tenant_id="acme",
        learner_id="learner-7",
        award_id=uuid.uuid4(),
        achievement=AchievementSnapshot(
            id="data viz",  # not IRI-safe on purpose: it is percent-encoded in the Achievement id
            version=3,
            name="Data Visualisation",
            description="Builds honest charts.",
            criteria_narrative="70% on the quiz and a proficient portfolio.",
            image_url="https://acme.example/dv.png",
            achievement_type="Competency",
            alignment=[
                AlignmentSnapshot(
                    target_name="Data visualisation",
                    target_url="https://esco.example/skill/dv",
                    target_framework="ESCO",
                    target_code="S5",
                    target_type="ceasn:Competency",
                )
            ],
            rubric=[
                RubricCriterionSnapshot(
                    id="clarity",
                    name="Clarity",
                    assessment_id="portfolio",
                    levels=[
                        RubricLevelSnapshot(id="developing", name="Developing", points=1),
                        RubricLevelSnapshot(id="proficient", name="Proficient", points=2.5),
                    ],
                    required_level="proficient",
                )
            ],
            tags=["data", "charts"],
            credits_available=5.0,
            human_code="DV-101",
            field_of_study="Data science",
            valid_for_days=365,
        ),
        results=[
            AssessmentResult(assessment_id="quiz", score=41, max_score=50, required_score=35),
            AssessmentResult(
                assessment_id="portfolio",
                kind=ResultKind.RUBRIC,
                score=2.5,
                max_score=2.5,
                required_score=2.5,
                rubric={"clarity": "proficient"},
            ),
            AssessmentResult(
                assessment_id="intro-module",
                kind=ResultKind.COMPLETION,
                name="Introduction module",
                score=1,
                max_score=1,
                required_score=1,
            ),
        ],
        recipient=RecipientIdentity(identity_hash="sha256$" + "ab" * 32, salt="0123456789abcdef"),
        passed_at=NOW - timedelta(minutes=5),
    )


def test_full_credential_carries_every_ob3_field_and_signs() -> None:
    key = generate_key()
    status = status_entry(Slot(1, 4242, "https://issuer.example.org/status-lists/acme/1"))
    event = full_passed()
    credential = build_credential(
        event,
        issuer=issuer_profile(
            did_key(key),
            "acme",
            IssuerProfileConfig(
                name="Acme Academy",
                url="https://acme.example",
                email="badges@acme.example",
                image="https://acme.example/logo.png",
                description="Courses for working analysts.",
            ),
        ),
        public_base_url="https://badges.acme.example",
        issued_at=NOW,
        status=status,
    )
    assert credential["issuer"] == {
        "id": did_key(key),
        "type": ["Profile"],
        "name": "Acme Academy",
        "url": "https://acme.example",
        "email": "badges@acme.example",
        "description": "Courses for working analysts.",
        "image": {"id": "https://acme.example/logo.png", "type": "Image"},
    }
    assert credential["name"] == "Data Visualisation"
    assert credential["description"] == "Builds honest charts."
    assert credential["image"]["id"] == "https://acme.example/dv.png"
    assert credential["validFrom"] == "2026-11-29T12:00:00Z"
    assert credential["validUntil"] == "2027-11-29T12:00:00Z"  # the Achievement's 365-day expiry policy
    assert credential["awardedDate"] == "2026-11-29T11:55:00Z"
    assert credential["credentialStatus"] == {
        "id": "https://issuer.example.org/status-lists/acme/1#4242",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "4242",
        "statusListCredential": "https://issuer.example.org/status-lists/acme/1",
    }
    subject = credential["credentialSubject"]
    assert subject["identifier"] == [
        {
            "type": "IdentityObject",
            "identityHash": "sha256$" + "ab" * 32,
            "identityType": "emailAddress",
            "hashed": True,
            "salt": "0123456789abcdef",
        }
    ]
    assert subject["activityEndDate"] == "2026-11-29T11:55:00Z"
    achievement = subject["achievement"]
    iri = "https://badges.acme.example/achievements/acme/data%20viz"
    assert achievement["id"] == iri
    assert achievement["version"] == "3"
    assert achievement["tag"] == ["data", "charts"]
    assert achievement["creditsAvailable"] == 5 and isinstance(achievement["creditsAvailable"], int)
    assert achievement["humanCode"] == "DV-101" and achievement["fieldOfStudy"] == "Data science"
    assert achievement["alignment"][0]["targetUrl"] == "https://esco.example/skill/dv"
    assert achievement["alignment"][0]["targetType"] == "ceasn:Competency"
    descriptions = {d["id"]: d for d in achievement["resultDescription"]}
    rubric = descriptions[f"{iri}#rubric/portfolio/clarity"]
    assert rubric["resultType"] == "RubricCriterionLevel"
    assert rubric["requiredLevel"] == f"{iri}#rubric/portfolio/clarity/proficient"
    assert [(level["name"], level["points"]) for level in rubric["rubricCriterionLevel"]] == [
        ("Developing", "1"),
        ("Proficient", "2.5"),
    ]
    assert descriptions[f"{iri}#result/score/quiz"]["requiredValue"] == "70"
    assert descriptions[f"{iri}#result/completion/intro-module"]["resultType"] == "Status"
    results = {r["resultDescription"]: r for r in subject["result"]}
    assert results[f"{iri}#result/score/quiz"]["value"] == "82"
    assert results[f"{iri}#result/rubric/portfolio"]["value"] == "100"
    assert results[f"{iri}#rubric/portfolio/clarity"]["achievedLevel"] == f"{iri}#rubric/portfolio/clarity/proficient"
    assert results[f"{iri}#result/completion/intro-module"] == {
        "type": ["Result"],
        "value": "Completed",
        "resultDescription": f"{iri}#result/completion/intro-module",
        "status": "Completed",
    }
    assert [e["name"] for e in credential["evidence"]] == [
        "Assessment quiz",
        "Assessment portfolio",
        "Introduction module",
    ]
    assert credential["evidence"][0]["description"] == "Scored 41 of 50 (at least 35 required)."

    # Every term is defined by the contexts (sign_credential refuses otherwise) and the signature verifies.
    signed = sign_credential(credential, key, did_key_verification_method(key), NOW)
    report = verify_credential(signed, resolver=DidKeyResolver(), now=NOW + timedelta(days=1))
    assert report.verified, report.model_dump()
    expired = verify_credential(signed, resolver=DidKeyResolver(), now=NOW + timedelta(days=366))
    assert "validity.expired" in expired.codes()


async def test_a_credential_that_cannot_be_signed_is_dead_lettered_not_retried(
    settings: Settings, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine(sqlite_url)
    await upgrade(engine, "issuer")
    sessions = session_factory(engine)
    issuers = Issuers(settings, KeyStore(KeyEncryption("test-kek")))
    handler = IssueCredential(settings, issuers, StatusLists("https://issuer.example.org"), sessions, SigningPool(0))
    consumer = EventConsumer(
        name="issuer",
        topic=Topic.ASSESSMENT_PASSED,
        contract=AssessmentPassed,
        handler=handler,
        sessions=sessions,
        processed_table=IssuerProcessedEvent,
        retry_delay=0,
    )
    calls = 0
    real_build = issuer_signing.build_credential

    def with_undefined_term(*args: object, **kwargs: object) -> dict[str, object]:
        nonlocal calls
        calls += 1
        credential = real_build(*args, **kwargs)  # type: ignore[arg-type]
        credential["credentialSubject"]["studentNumber"] = "12345"  # a term no context defines
        return credential

    monkeypatch.setattr(issuer_signing, "build_credential", with_undefined_term)
    ce = CloudEvent(source="test", type=AssessmentPassed.CE_TYPE)
    with pytest.raises(PoisonRecord, match=r"cannot sign: \[data.undefined_term\].*studentNumber"):
        await consumer.process(passed(), ce)
    assert calls == 1  # a poison record, not three retries

    # An Achievement snapshot that cannot make a valid credential (a relative URL) is poison too.
    monkeypatch.setattr(issuer_signing, "build_credential", real_build)
    bad = passed().model_copy(
        update={
            "achievement": passed().achievement.model_copy(
                update={"alignment": [AlignmentSnapshot(target_name="x", target_url="skills/x")]}
            )
        }
    )
    with pytest.raises(PoisonRecord, match="invalid credential"):
        await consumer.process(bad, CloudEvent(source="test", type=AssessmentPassed.CE_TYPE))
    async with sessions() as session:
        assert (await session.execute(select(IssuedCredential))).first() is None
        assert (await session.execute(select(StatusList))).first() is None  # the allocation rolled back
    await engine.dispose()

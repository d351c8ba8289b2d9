"""Awarding through the embedded stack: enrol, fail, retake, pass — exactly one badge."""

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.embedded import EmbeddedStack
from shared.contracts import AssessmentPassed, BadgeIssued, Topic
from shared.settings import Settings

ADMIN = {"Authorization": "Bearer dev-admin-token"}
LMS = {"Authorization": "Bearer acme-key"}
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
ACHIEVEMENT = {
    "id": "sql",
    "name": "SQL",
    "description": "Queries data.",
    "criteria": {
        "narrative": "75% on the practical and 50% on the quiz.",
        "required_assessments": [
            {"assessment_id": "practical", "min_score": 75},
            {"assessment_id": "quiz", "min_score": 50},
        ],
    },
}


@pytest.fixture
async def stack(settings: Settings, tmp_path: Path) -> AsyncIterator[EmbeddedStack]:
    embedded = EmbeddedStack(settings, tmp_path)
    await embedded.start()
    response = await embedded.http("assessment").put(
        "/v1/tenants/acme/achievements/sql", json=ACHIEVEMENT, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    yield embedded
    await embedded.stop()


async def send(stack: EmbeddedStack, *activities: dict[str, object]) -> None:
    response = await stack.http("enrollment").post("/v1/activities", json=list(activities), headers=LMS)
    assert response.status_code == 202, response.text
    await stack.settle()


def enrol(learner: str, minute: int = 0) -> dict[str, object]:
    return {
        "tenant_id": "acme",
        "learner_id": learner,
        "event_id": f"{learner}-enrol",
        "kind": "enrolled",
        "achievement_id": "sql",
        "occurred_at": (T0 + timedelta(minutes=minute)).isoformat(),
    }


def score(learner: str, assessment: str, value: float, minute: int) -> dict[str, object]:
    return {
        "tenant_id": "acme",
        "learner_id": learner,
        "event_id": f"{learner}-{assessment}-{minute}",
        "kind": "scored",
        "assessment_id": assessment,
        "score": value,
        "max_score": 100,
        "occurred_at": (T0 + timedelta(minutes=minute)).isoformat(),
    }


def badges(stack: EmbeddedStack, learner: str) -> list[BadgeIssued]:
    issued = [BadgeIssued.model_validate_json(r.value) for r in stack.bus.records(str(Topic.BADGE_ISSUED))]
    return [b for b in issued if b.learner_id == learner]


async def test_fail_then_retake_then_pass_awards_once(stack: EmbeddedStack) -> None:
    await send(stack, enrol("ana"), score("ana", "quiz", 90, 1), score("ana", "practical", 60, 2))
    assert badges(stack, "ana") == []
    await send(stack, score("ana", "practical", 80, 3))
    [badge] = badges(stack, "ana")
    results = {r["value"] for r in badge.credential["credentialSubject"]["result"]}
    assert results == {"80", "90"}
    await send(stack, score("ana", "practical", 95, 4))  # a second pass after the award
    assert len(badges(stack, "ana")) == 1


async def test_scores_before_enrolment_count_once_enrolled(stack: EmbeddedStack) -> None:
    await send(stack, score("ben", "quiz", 70, 1), score("ben", "practical", 75, 2))
    assert badges(stack, "ben") == []
    await send(stack, enrol("ben", 3))
    assert len(badges(stack, "ben")) == 1


async def test_learners_are_independent_and_passed_events_name_the_achievement(stack: EmbeddedStack) -> None:
    await send(stack, enrol("cai"), enrol("dee"), score("cai", "quiz", 100, 1), score("cai", "practical", 100, 2))
    assert len(badges(stack, "cai")) == 1
    assert badges(stack, "dee") == []
    passed = [AssessmentPassed.model_validate_json(r.value) for r in stack.bus.records(str(Topic.ASSESSMENT_PASSED))]
    assert [(p.learner_id, p.achievement.name, p.achievement.version) for p in passed] == [("cai", "SQL", 1)]


async def test_admin_api_requires_the_admin_token(stack: EmbeddedStack) -> None:
    client = stack.http("assessment")
    assert (await client.put("/v1/tenants/acme/achievements/sql", json=ACHIEVEMENT)).status_code == 401
    bad = {**ACHIEVEMENT, "criteria": {"narrative": "x", "required_assessments": []}}
    response = await client.put("/v1/tenants/acme/achievements/sql", json=bad, headers=ADMIN)
    assert response.status_code == 422
    changed = {**ACHIEVEMENT, "description": "Queries data well."}
    response = await client.put("/v1/tenants/acme/achievements/sql", json=changed, headers=ADMIN)
    assert response.json()["version"] == 2


async def test_the_recipient_is_a_salted_hash_and_the_address_never_leaves_enrollment(stack: EmbeddedStack) -> None:
    await send(stack, {**enrol("eve"), "learner_email": " Eve@Example.org "}, score("eve", "quiz", 60, 1))
    await send(stack, score("eve", "practical", 90, 2))
    [badge] = badges(stack, "eve")
    [identity] = badge.credential["credentialSubject"]["identifier"]
    assert identity["type"] == "IdentityObject" and identity["hashed"] is True
    assert identity["identityType"] == "emailAddress"
    digest = hashlib.sha256(("eve@example.org" + identity["salt"]).encode()).hexdigest()
    assert identity["identityHash"] == f"sha256${digest}"
    for topic in Topic:
        assert all(b"xample.org" not in r.value.lower() for r in stack.bus.records(str(topic))), topic

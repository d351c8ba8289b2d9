"""The OB3 presentation fields of an Achievement (alignment, tags, credits, expiry; rubric levels from the
criteria's rubric rules) through the admin API into the issued credential."""

import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.assessment.domain import Achievement, AchievementDefinition
from services.embedded import EmbeddedStack
from shared.settings import Settings
from tests.issuer_support import ADMIN, FULL_ACHIEVEMENT, earn, start_stack


@pytest.fixture
async def stack(settings: Settings, tmp_path: Path) -> AsyncIterator[EmbeddedStack]:
    embedded = await start_stack(settings, tmp_path)
    yield embedded
    await embedded.stop()


def test_snapshot_carries_the_presentation_fields() -> None:
    achievement = Achievement(**AchievementDefinition.model_validate(FULL_ACHIEVEMENT).model_dump(), tenant_id="acme")
    snapshot = achievement.snapshot()
    assert (
        snapshot.alignment is not None
        and snapshot.alignment[0].target_url == FULL_ACHIEVEMENT["alignment"][0]["target_url"]
    )
    assert snapshot.rubric is not None
    assert [level.id for level in snapshot.rubric[0].levels] == ["developing", "proficient", "exemplary"]
    assert snapshot.rubric[0].required_level == "proficient"
    assert (snapshot.tags, snapshot.credits_available, snapshot.valid_for_days) == (
        ["data", "visualisation"],
        2.5,
        730,
    )


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"tags": [""]}, "/tags/0"),
        (
            {"alignment": [{"target_name": "x", "target_url": "https://x.example", "target_type": "Skill"}]},
            "/alignment/0/target_type",
        ),
        ({"alignment": [{"target_name": "x", "target_url": "skills/x"}]}, "/alignment/0/target_url"),
        ({"valid_for_days": 0}, "/valid_for_days"),
        ({"credits_available": -1}, "/credits_available"),
    ],
)
async def test_invalid_presentation_fields_are_refused_with_a_pointer(
    stack: EmbeddedStack, change: dict[str, object], pointer: str
) -> None:
    response = await stack.http("assessment").put(
        "/v1/tenants/acme/achievements/data-viz", json={**FULL_ACHIEVEMENT, **change}, headers=ADMIN
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert pointer in [error["pointer"] for error in response.json()["errors"]], response.json()


async def test_presentation_fields_reach_the_credential(stack: EmbeddedStack) -> None:
    badge = await earn(stack, "ada")
    achievement = badge.credential["credentialSubject"]["achievement"]
    assert achievement["alignment"][0]["targetFramework"] == "ESCO"
    assert achievement["tag"] == ["data", "visualisation"]
    assert achievement["creditsAvailable"] == 2.5
    assert achievement["humanCode"] == "DV-101" and achievement["fieldOfStudy"] == "Data science"
    rubric = [d for d in achievement["resultDescription"] if d["resultType"] == "RubricCriterionLevel"]
    assert [level["name"] for level in rubric[0]["rubricCriterionLevel"]] == ["Developing", "Proficient", "Exemplary"]
    # The rubric level the LMS reported for the portfolio is the learner's result on that criterion.
    [level] = [r for r in badge.credential["credentialSubject"]["result"] if "achievedLevel" in r]
    assert level["value"] == "Exemplary" and level["achievedLevel"].endswith("#rubric/portfolio/clarity/exemplary")
    assert "validUntil" in badge.credential
    [identity] = badge.credential["credentialSubject"]["identifier"]
    assert identity["identityType"] == "emailAddress" and identity["hashed"] is True
    digest = hashlib.sha256(("ada@learners.example" + identity["salt"]).encode()).hexdigest()
    assert identity["identityHash"] == f"sha256${digest}"
    assert "ada@learners.example" not in json.dumps(badge.credential)

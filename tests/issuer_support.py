"""Helpers for the issuer tests (unit, integration, interop): an Achievement using every OB3 field the
admin API accepts, and a learner earning it through the embedded stack."""

from __future__ import annotations

import json
import sqlite3
import uuid
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from services.embedded import EmbeddedStack
from shared.contracts import AchievementSnapshot, AssessmentPassed, AssessmentResult, BadgeIssued, BadgeRevoked, Topic
from shared.settings import DidMethod, Settings

ADMIN = {"Authorization": "Bearer dev-admin-token"}
LMS = {"Authorization": "Bearer acme-key"}
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
ISSUER_URL = "https://issuer.example.org"

FULL_ACHIEVEMENT: dict[str, Any] = {
    "id": "data-viz",
    "name": "Data Visualisation",
    "description": "Chooses and builds honest charts for a dataset.",
    "criteria": {
        "narrative": "At least 70% on the chart quiz and a rubric-graded portfolio.",
        "rule": {
            "type": "all_of",
            "rules": [
                {"type": "assessment", "assessment_id": "chart-quiz", "min_score": 70},
                {
                    "type": "rubric",
                    "assessment_id": "portfolio",
                    "criteria": [
                        {
                            "id": "clarity",
                            "name": "Clarity of the charts",
                            "levels": [
                                {"id": "developing", "name": "Developing", "points": 1},
                                {"id": "proficient", "name": "Proficient", "points": 2},
                                {"id": "exemplary", "name": "Exemplary", "points": 3.5},
                            ],
                            "required_level": "proficient",
                        }
                    ],
                },
            ],
        },
    },
    "image": "https://acme.example/badges/data-viz.png",
    "achievement_type": "Competency",
    "alignment": [
        {
            "target_name": "Data visualisation",
            "target_url": "https://esco.example/skill/data-visualisation",
            "target_framework": "ESCO",
            "target_code": "S5.6.1",
            "target_type": "ceasn:Competency",
        }
    ],
    "tags": ["data", "visualisation"],
    "credits_available": 2.5,
    "human_code": "DV-101",
    "field_of_study": "Data science",
    "valid_for_days": 730,
}


def passed_award(tenant_id: str = "acme", learner_id: str = "learner-7") -> AssessmentPassed:
    """A fresh award (new award id) of a small Achievement, as the assessment service announces it."""
    return AssessmentPassed(
        tenant_id=tenant_id,
        learner_id=learner_id,
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
        passed_at=datetime(2026, 11, 29, 11, 55, tzinfo=UTC),
    )


def issuer_settings(settings: Settings, **overrides: Any) -> Settings:
    """The test settings with issuer-related overrides given by field name (e.g. issuer_did_method="web")."""
    return settings.model_copy(update=overrides)


def web_settings(settings: Settings) -> Settings:
    return issuer_settings(settings, issuer_did_method=DidMethod.WEB, issuer_base_url=ISSUER_URL)


async def start_stack(settings: Settings, data_dir: Path, achievement: dict[str, Any] | None = None) -> EmbeddedStack:
    stack = EmbeddedStack(settings, data_dir)
    await stack.start()
    definition = achievement or FULL_ACHIEVEMENT
    response = await stack.http("assessment").put(
        f"/v1/tenants/acme/achievements/{definition['id']}", json=definition, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    return stack


async def earn(stack: EmbeddedStack, learner: str, achievement_id: str = "data-viz") -> BadgeIssued:
    """`learner` enrols (with an e-mail address) and passes both assessments; returns the issued badge."""

    def activity(kind: str, minute: int, **fields: Any) -> dict[str, Any]:
        return {
            "tenant_id": "acme",
            "learner_id": learner,
            "event_id": f"{learner}-{achievement_id}-{kind}-{minute}",
            "kind": kind,
            "occurred_at": (T0 + timedelta(minutes=minute)).isoformat(),
            **fields,
        }

    activities = [
        activity("enrolled", 0, achievement_id=achievement_id, learner_email=f"{learner}@learners.example"),
        activity("scored", 1, assessment_id="chart-quiz", score=41, max_score=50),
        activity("scored", 2, assessment_id="portfolio", score=8, max_score=10, rubric={"clarity": "exemplary"}),
    ]
    response = await stack.http("enrollment").post("/v1/activities", json=activities, headers=LMS)
    assert response.status_code == 202, response.text
    await stack.settle()
    found = [
        b
        for b in issued(stack)
        if b.learner_id == learner and b.achievement_id == achievement_id and not b.is_wallet_copy
    ]
    assert len(found) == 1, found
    return found[0]


def issued(stack: EmbeddedStack) -> list[BadgeIssued]:
    return [BadgeIssued.model_validate_json(r.value) for r in stack.bus.records(str(Topic.BADGE_ISSUED))]


def revoked(stack: EmbeddedStack) -> list[BadgeRevoked]:
    return [BadgeRevoked.model_validate_json(r.value) for r in stack.bus.records(str(Topic.BADGE_REVOKED))]


async def fetch_json(stack: EmbeddedStack, url: str) -> dict[str, Any]:
    """GET a public issuer URL (DID document, status list) from the in-process issuer app."""
    path = url.removeprefix(ISSUER_URL)
    response = await stack.http("issuer").get(path)
    assert response.status_code == 200, (url, response.status_code, response.text)
    return json.loads(response.content)


def published_status_lists(data_dir: Path, into: Path) -> dict[str, Path]:
    """The signed status lists an embedded run (e.g. `credstream demo --data-dir`) left in its issuer database,
    written to `into` as files: {list URL: file}, for verifying its credentials offline (`--doc URL=FILE`)."""
    into.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(data_dir / "issuer.db")) as db:
        rows = db.execute("SELECT tenant_id, list_id, credential FROM issuer_status_lists").fetchall()
    files: dict[str, Path] = {}
    for tenant, list_id, credential in rows:
        path = into / f"status-list-{tenant}-{list_id}.json"
        path.write_text(credential, encoding="utf-8")
        files[json.loads(credential)["id"]] = path
    return files

"""Issue a real badge through the embedded stack (LMS activity -> enrollment -> assessment -> issuer -> verifier),
for tests of what a person sees (badge page, downloads, browser)."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from services.embedded import EmbeddedStack
from shared.contracts import BadgeIssued, CloudEvent, Topic
from shared.messaging.records import event_record
from shared.settings import Settings

TENANT = "acme"
ACHIEVEMENT = {
    "id": "data-storytelling",
    "name": "Data Storytelling",
    "description": "Turns analyses into clear charts and a narrative that decision makers act on.",
    "criteria": {
        "narrative": "Scored at least 70% on the storytelling project, assessed against the course rubric.",
        "required_assessments": [{"assessment_id": "story-project", "min_score": 70}],
    },
    "achievement_type": "Competency",
}


def badge_settings(**overrides: Any) -> Settings:
    """Development settings for a stack whose tenant `acme` has an issuer profile."""
    values: dict[str, Any] = {
        "DATABASE_URL": "sqlite+aiosqlite://",
        "CREDSTREAM_LMS_API_KEYS": "acme:acme-key",
        "CREDSTREAM_ISSUERS": {
            "acme": {
                "name": "Acme Academy",
                "url": "https://academy.acme.example",
                "description": "Professional courses in data and software.",
            }
        },
        **overrides,
    }
    return Settings(_env_file=None, **values)


async def issue_badge(stack: EmbeddedStack, learner: str = "ana", learner_name: str | None = "Ana Lima") -> BadgeIssued:
    """Define the achievement (idempotent), enrol `learner`, pass the project; return the badge-issued event."""
    settings = stack.settings
    admin = {"Authorization": f"Bearer {settings.admin_token.get_secret_value()}"}
    lms = {"Authorization": "Bearer acme-key"}
    response = await stack.http("assessment").put(
        f"/v1/tenants/{TENANT}/achievements/{ACHIEVEMENT['id']}", json=ACHIEVEMENT, headers=admin
    )
    assert response.status_code == 200, response.text
    start = datetime.now(UTC) - timedelta(hours=1)
    activities = [
        {
            "tenant_id": TENANT,
            "learner_id": learner,
            "learner_name": learner_name,
            "event_id": f"{learner}-enrol",
            "kind": "enrolled",
            "achievement_id": ACHIEVEMENT["id"],
            "occurred_at": start.isoformat(),
        },
        {
            "tenant_id": TENANT,
            "learner_id": learner,
            "event_id": f"{learner}-project",
            "kind": "scored",
            "assessment_id": "story-project",
            "score": 46,
            "max_score": 50,
            "occurred_at": (start + timedelta(minutes=30)).isoformat(),
        },
    ]
    response = await stack.http("enrollment").post("/v1/activities", json=activities, headers=lms)
    assert response.status_code == 202, response.text
    await stack.settle()
    issued = [BadgeIssued.model_validate_json(r.value) for r in stack.bus.records(str(Topic.BADGE_ISSUED))]
    mine = [badge for badge in issued if badge.learner_id == learner]
    assert len(mine) == 1, issued
    return mine[0]


async def publish_credential(stack: EmbeddedStack, credential: dict[str, Any], tenant: str = TENANT) -> str:
    """Announce an already signed credential on badge-issued, as the issuer would; return its page path."""
    credential_id = credential["id"]
    event = BadgeIssued(
        tenant_id=tenant,
        learner_id="external",
        award_id=uuid.uuid4(),
        achievement_id=credential["credentialSubject"]["achievement"]["id"],
        credential_id=credential_id,
        issuer_id=credential["issuer"]["id"],
        issued_at=datetime.now(UTC),
        credential=credential,
    )
    await stack.bus.publish([event_record(event, CloudEvent(source="tests://badges", type=BadgeIssued.CE_TYPE))])
    return f"/credentials/{credential_id.removeprefix('urn:uuid:')}"

"""Demo: richer awarding — a rubric-graded Achievement and a pathway stacking three badges."""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from services.embedded import EmbeddedStack

TENANT = "demo"
LEVELS = [
    {"id": "beginning", "name": "Beginning"},
    {"id": "developing", "name": "Developing"},
    {"id": "accomplished", "name": "Accomplished"},
]
ACHIEVEMENTS: list[dict[str, Any]] = [
    {
        "id": "presenter",
        "name": "Confident Presenter",
        "description": "Presents a technical topic clearly.",
        "criteria": {
            "narrative": "Developing or better on delivery, accomplished on structure (graded with a rubric).",
            "rule": {
                "type": "rubric",
                "assessment_id": "tech-talk",
                "criteria": [
                    {"id": "delivery", "name": "Delivery", "required_level": "developing", "levels": LEVELS},
                    {"id": "structure", "name": "Structure", "required_level": "accomplished", "levels": LEVELS},
                ],
            },
        },
        "achievement_type": "Competency",
    },
    {
        "id": "data-analyst",
        "name": "Data Analyst Pathway",
        "description": "Stacks Python Foundations, Data Literacy and SQL Essentials.",
        "criteria": {
            "narrative": "Holds all three component badges.",
            "rule": {
                "type": "all_of",
                "rules": [
                    {"type": "achievement", "achievement_id": "python-foundations"},
                    {"type": "achievement", "achievement_id": "data-literacy"},
                    {"type": "achievement", "achievement_id": "sql-essentials"},
                ],
            },
        },
        "achievement_type": "Certificate",
    },
]
# (learner id, display name, achievement) rows this section adds to the summary table
AWARDING_ROWS = [
    ("dana", "Dana Okafor", "presenter"),
    ("bilal", "Bilal Haddad", "presenter"),
    ("chen", "Chen Wei", "python-foundations"),
    ("chen", "Chen Wei", "data-analyst"),
]


def _activity(learner: str, event_id: str, kind: str, at: datetime, **fields: Any) -> dict[str, Any]:
    return {"tenant_id": TENANT, "learner_id": learner, "event_id": event_id, "kind": kind,
            "occurred_at": at.isoformat(), **fields}  # fmt: skip


async def richer_awarding(
    stack: EmbeddedStack, admin: dict[str, str], lms: dict[str, str], start: datetime, say: Callable[[str], None]
) -> None:
    """Dana passes a rubric-graded talk, Bilal does not; Chen earns her third component badge, and with it the
    pathway — emitted once, whatever order the components arrived in."""
    for definition in ACHIEVEMENTS:
        response = await stack.http("assessment").put(
            f"/v1/tenants/{TENANT}/achievements/{definition['id']}", json=definition, headers=admin
        )
        response.raise_for_status()
    t = start
    activities = [
        _activity("dana", "enrol-dana-presenter", "enrolled", t, achievement_id="presenter"),
        _activity("dana", "talk-dana", "scored", t + timedelta(minutes=30), assessment_id="tech-talk", score=5,
                  max_score=6, rubric={"delivery": "developing", "structure": "accomplished"}),
        _activity("bilal", "enrol-bilal-presenter", "enrolled", t, achievement_id="presenter"),
        _activity("bilal", "talk-bilal", "scored", t + timedelta(minutes=40), assessment_id="tech-talk", score=5,
                  max_score=6, rubric={"delivery": "accomplished", "structure": "developing"}),
        _activity("chen", "enrol-chen-python", "enrolled", t, achievement_id="python-foundations"),
        _activity("chen", "score-chen-python-quiz", "scored", t + timedelta(minutes=50), assessment_id="python-quiz",
                  score=77, max_score=100),
        _activity("chen", "score-chen-python-project", "scored", t + timedelta(minutes=55),
                  assessment_id="python-project", score=35, max_score=50),
    ]  # fmt: skip
    response = await stack.http("enrollment").post("/v1/activities", json=activities, headers=lms)
    response.raise_for_status()
    say(
        "Defined a rubric-graded badge (Confident Presenter) and a three-badge pathway (Data Analyst); "
        f"LMS posted {len(activities)} more activities"
    )

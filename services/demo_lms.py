"""The demo's LMS sources in their own formats: Moodle sending xAPI statements (HTTP Basic auth, as its
logstore_xapi plugin does) and Canvas sending Caliper Live Events (HMAC-signed), each through an LMS connection
created with the admin API and a mapping from the LMS's ids to credstream's Achievements and assessments."""

import base64
import json
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from services.embedded import EmbeddedStack
from services.enrollment.connections import sign

TENANT = "demo"
MOODLE = "https://moodle.example.edu"
# (learner id as credstream sees it, display name, achievement)
LMS_LEARNERS = [
    ("moodle-1042", "Ada Lovelace", "moodle-engines"),
    ("canvas-21070000000020064", "Isaac Newton", "canvas-optics"),
]
ACHIEVEMENTS: list[dict[str, Any]] = [
    {
        "id": "moodle-engines",
        "name": "Analytical Engines",
        "description": "Explains how a programmable engine computes Bernoulli numbers.",
        "criteria": {
            "narrative": "At least 80% on the Moodle engine quiz.",
            "required_assessments": [{"assessment_id": "engine-quiz", "min_score": 80}],
        },
        "achievement_type": "Competency",
    },
    {
        "id": "canvas-optics",
        "name": "Optics Lab Report",
        "description": "Writes up a refraction experiment with error analysis.",
        "criteria": {
            "narrative": "At least 90% on the Canvas lab report.",
            "required_assessments": [{"assessment_id": "canvas-assignment-355", "min_score": 90}],
        },
        "achievement_type": "Assignment",
    },
]


def moodle_statements(start: datetime) -> list[list[dict[str, Any]]]:
    """Two deliveries as Moodle's plugin sends them (no statement ids): an enrolment, then a quiz attempt
    (the attempt as object, the quiz as parent, plus one per-question `answered` statement)."""
    actor = {"account": {"homePage": MOODLE, "name": "1042"}, "name": "Ada Lovelace"}
    course = {
        "id": f"{MOODLE}/course/view.php?id=7",
        "definition": {"type": "https://w3id.org/xapi/cmi5/activitytype/course"},
    }
    quiz = {
        "id": f"{MOODLE}/mod/quiz/view.php?id=31",
        "definition": {"type": "http://adlnet.gov/expapi/activities/assessment"},
    }
    attempt = {
        "id": f"{MOODLE}/mod/quiz/attempt.php?attempt=311&cmid=31",
        "definition": {"type": "http://adlnet.gov/expapi/activities/attempt"},
    }
    enrolled = {
        "actor": actor,
        "verb": {"id": "https://xapi.edlm/profiles/edlm-lms/concepts/verbs/enrolled"},
        "object": course,
        "timestamp": start.isoformat(),
    }
    completed = {
        "actor": actor,
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
        "object": attempt,
        "context": {"contextActivities": {"parent": [quiz, course]}, "platform": "Moodle"},
        "result": {"score": {"raw": 42, "min": 0, "max": 50, "scaled": 0.68}, "success": True, "completion": True},
        "timestamp": (start + timedelta(minutes=20)).isoformat(),
    }
    answered = {
        "actor": actor,
        "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"},
        "object": {"id": f"{MOODLE}/question/question.php?cmid=31&id=901"},
        "context": {"contextActivities": {"parent": [attempt, quiz, course]}},
        "result": {"response": "note-g", "success": True},
        "timestamp": (start + timedelta(minutes=20)).isoformat(),
    }
    return [[enrolled], [completed, answered]]


def canvas_events(start: datetime) -> list[dict[str, Any]]:
    """Two Canvas Live Events in Caliper format: an enrolment (the actor is the admin, the learner is in the
    Canvas extension) and a grade change of 12 out of 10 (extra credit; the actor is the grader)."""
    user = "urn:instructure:canvas:user:21070000000020064"
    course = "urn:instructure:canvas:course:21070000000000777"

    def envelope(event: dict[str, Any]) -> dict[str, Any]:
        return {
            "sensor": "http://canvas.example.edu/",
            "sendTime": event["eventTime"],
            "dataVersion": "http://purl.imsglobal.org/ctx/caliper/v1p1",
            "data": [event],
        }

    enrolment = {
        "@context": "http://purl.imsglobal.org/ctx/caliper/v1p1",
        "id": "urn:uuid:5d2b4a1c-8e3f-4b6a-9c7d-1e2f3a4b5c6d",
        "type": "Event",
        "action": "Created",
        "actor": {"id": "urn:instructure:canvas:user:21070000000000001", "type": "Person"},
        "object": {
            "id": "urn:instructure:canvas:enrollment:21070000000046900",
            "type": "Entity",
            "extensions": {
                "com.instructure.canvas": {
                    "type": "StudentEnrollment",
                    "user_id": user,
                    "course_id": course,
                    "user_name": "Isaac Newton",
                    "workflow_state": "active",
                }
            },
        },
        "eventTime": start.isoformat().replace("+00:00", "Z"),
    }
    grade = {
        "@context": "http://purl.imsglobal.org/ctx/caliper/v1p1",
        "id": "urn:uuid:9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
        "type": "GradeEvent",
        "action": "Graded",
        "actor": {"id": "urn:instructure:canvas:user:21070000000000987", "type": "Person"},
        "object": {
            "id": "urn:instructure:canvas:submission:21070000000011200",
            "type": "Attempt",
            "assignee": {"id": user, "type": "Person"},
            "assignable": {"id": "urn:instructure:canvas:assignment:355", "type": "AssignableDigitalResource"},
        },
        "generated": {
            "type": "Score",
            "scoreGiven": 12,
            "maxScore": 10,
            "extensions": {"com.instructure.canvas": {"grade": "12"}},
        },
        "group": {"id": course, "type": "CourseOffering"},
        "eventTime": (start + timedelta(minutes=30)).isoformat().replace("+00:00", "Z"),
    }
    return [envelope(enrolment), envelope(grade)]


async def lms_sources(stack: EmbeddedStack, admin: dict[str, str], start: datetime, say: Callable[[str], None]) -> None:
    """Connect Moodle (xAPI) and Canvas (Caliper), map their ids, and send what they would send."""
    enrollment, assessment = stack.http("enrollment"), stack.http("assessment")
    for definition in ACHIEVEMENTS:
        url = f"/v1/tenants/{TENANT}/achievements/{definition['id']}"
        (await assessment.put(url, json=definition, headers=admin)).raise_for_status()
    connections = f"/v1/tenants/{TENANT}/lms-connections"

    moodle = await enrollment.post(
        connections, json={"name": "Moodle", "source_kind": "xapi", "learner_prefix": "moodle-"}, headers=admin
    )
    moodle.raise_for_status()
    rules = [
        {"match": "exact", "lms_id": f"{MOODLE}/course/view.php?id=7", "achievement_id": "moodle-engines"},
        {"match": "exact", "lms_id": f"{MOODLE}/mod/quiz/view.php?id=31", "assessment_id": "engine-quiz"},
    ]
    mapped = await enrollment.put(f"{connections}/{moodle.json()['id']}/mappings", json=rules, headers=admin)
    mapped.raise_for_status()
    basic = stack_basic_auth(moodle.json()["secret"])
    counts = {"accepted": 0, "ignored": 0, "statements": 0}
    for batch in moodle_statements(start):
        response = await enrollment.post(
            "/xapi/statements", json=batch, headers={**basic, "X-Experience-API-Version": "1.0.3"}
        )
        response.raise_for_status()
        counts["statements"] += len(response.json())
        counts["accepted"] += int(response.headers["X-Credstream-Accepted"])
        counts["ignored"] += int(response.headers["X-Credstream-Ignored"])
    say(
        f"Moodle (xAPI, Basic auth) posted {counts['statements']} statements: {counts['accepted']} accepted,"
        f" {counts['ignored']} ignored (a per-question 'answered')"
    )

    canvas = await enrollment.post(
        connections,
        json={"name": "Canvas", "source_kind": "canvas", "auth_method": "hmac", "learner_prefix": "canvas-"},
        headers=admin,
    )
    canvas.raise_for_status()
    cid, secret = canvas.json()["id"], canvas.json()["secret"]
    rules = [
        {"match": "prefix", "lms_id": "urn:instructure:canvas:course:", "achievement_id": "canvas-optics"},
        {
            "match": "prefix",
            "lms_id": "urn:instructure:canvas:assignment:",
            "assessment_id": "canvas-assignment-{suffix}",
        },
    ]
    (await enrollment.put(f"{connections}/{cid}/mappings", json=rules, headers=admin)).raise_for_status()
    notes: list[str] = []
    for event in canvas_events(start):
        body = json.dumps(event).encode()
        signature = sign(secret, body, int(time.time()))
        response = await enrollment.post(
            "/caliper",
            content=body,
            headers={
                "X-Credstream-Connection": cid,
                "X-Credstream-Signature": signature,
                "Content-Type": "application/json",
            },
        )
        response.raise_for_status()
        notes += [note for result in response.json()["results"] for note in result["notes"]]
    say(f"Canvas (Caliper, HMAC-signed) posted 2 live events: accepted; note: {'; '.join(notes)}")


def stack_basic_auth(key: str) -> dict[str, str]:
    """HTTP Basic auth as Moodle's logstore_xapi sends it (username:password; the password is the key)."""
    return {"Authorization": "Basic " + base64.b64encode(f"moodle:{key}".encode()).decode()}

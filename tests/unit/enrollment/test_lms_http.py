"""The LMS-facing endpoints and the connection admin API, through the embedded stack (in-process bus, SQLite):
each format to a badge, authentication (API key, Basic, HMAC, JWT), problem details, unmapped, rate limits."""

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from services.embedded import EmbeddedStack
from shared.contracts import BadgeIssued, EnrollmentRecorded, Topic
from shared.settings import Settings
from tests.lms_helpers import (
    ADMIN,
    connect,
    define_achievement,
    fixture_bytes,
    fixture_json,
    hmac_headers,
    map_ids,
    xapi_headers,
)

TENANT = "acme"
MOODLE_RULES = [
    {"match": "exact", "lms_id": "https://moodle.example.edu/course/view.php?id=7", "achievement_id": "engines"},
    {"match": "exact", "lms_id": "https://moodle.example.edu/mod/quiz/view.php?id=31", "assessment_id": "engine-quiz"},
]
CANVAS_RULES = [
    {"match": "prefix", "lms_id": "urn:instructure:canvas:course:", "achievement_id": "canvas-course-{suffix}"},
    {"match": "prefix", "lms_id": "urn:instructure:canvas:assignment:", "assessment_id": "canvas-assignment-{suffix}"},
]


@pytest.fixture
async def stack(settings: Settings, tmp_path: Path) -> AsyncIterator[EmbeddedStack]:
    embedded = EmbeddedStack(settings.model_copy(update={"max_body_bytes": 20_000}), tmp_path)
    await embedded.start()
    yield embedded
    await embedded.stop()


def client(stack: EmbeddedStack) -> httpx.AsyncClient:
    return stack.http("enrollment")


def badges(stack: EmbeddedStack, learner: str) -> list[BadgeIssued]:
    issued = [BadgeIssued.model_validate_json(r.value) for r in stack.bus.records(str(Topic.BADGE_ISSUED))]
    return [b for b in issued if b.learner_id == learner]


def recorded(stack: EmbeddedStack) -> list[EnrollmentRecorded]:
    return [EnrollmentRecorded.model_validate_json(r.value) for r in stack.bus.records(str(Topic.ENROLLMENT))]


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    return body


async def test_xapi_statements_from_moodle_to_a_badge(stack: EmbeddedStack) -> None:
    await define_achievement(stack.http("assessment"), TENANT, "engines", "engine-quiz", 80)
    moodle = await connect(client(stack), TENANT, source_kind="xapi")
    await map_ids(client(stack), TENANT, moodle["id"], MOODLE_RULES)
    headers = xapi_headers(moodle["secret"])

    enrolled = await client(stack).post(
        "/xapi/statements", content=fixture_bytes("xapi/moodle_v5_user_enrolment_created.json"), headers=headers
    )
    assert enrolled.status_code == 200, enrolled.text
    assert enrolled.headers["X-Experience-API-Version"] == "1.0.3"
    [statement_id] = enrolled.json()  # Moodle sends no id: the LRS answers with the derived UUID
    quiz = fixture_bytes("xapi/moodle_v5_quiz_attempt_submitted.json")
    response = await client(stack).post("/xapi/statements", content=quiz, headers=headers)
    assert response.status_code == 200 and len(response.json()) == 2
    assert (response.headers["X-Credstream-Accepted"], response.headers["X-Credstream-Ignored"]) == ("1", "1")
    await stack.settle()
    [badge] = badges(stack, "1042")
    assert badge.achievement_id == "engines"

    again = await client(stack).post("/xapi/statements", content=quiz, headers=headers)  # Moodle retried
    assert again.json() == response.json() and again.headers["X-Credstream-Accepted"] == "0"
    events = [e for e in recorded(stack) if e.learner_id == "1042"]
    assert [(e.kind, e.assessment_id, e.score, e.max_score) for e in events] == [
        ("enrolled", None, None, None),
        ("completed", "engine-quiz", 42.0, 50.0),
    ]
    assert events[0].source_event_id == statement_id
    assert events[1].source_activity_id == "https://moodle.example.edu/mod/quiz/view.php?id=31"


async def test_xapi_protocol_details(stack: EmbeddedStack) -> None:
    moodle = await connect(client(stack), TENANT, source_kind="xapi")
    headers = xapi_headers(moodle["secret"])
    body = fixture_bytes("xapi/lrs_statement_mbox_passed.json")
    missing = await client(stack).post(
        "/xapi/statements", content=body, headers={**headers, "X-Experience-API-Version": ""}
    )
    assert "X-Experience-API-Version" in assert_problem(missing, 400)["detail"]
    about = await client(stack).get("/xapi/about")
    assert "1.0.3" in about.json()["version"]
    statement_id = "6f1c3e2a-9b7d-4c1e-8f5a-2d3b4c5e6f70"
    put = await client(stack).put(f"/xapi/statements?statementId={statement_id}", content=body, headers=headers)
    assert put.status_code == 204, put.text
    assert put.headers["X-Credstream-Unmapped"] == "1"  # no rule for the activity yet: kept, reported
    other = await client(stack).put(
        "/xapi/statements?statementId=00000000-0000-0000-0000-000000000001", content=body, headers=headers
    )
    assert assert_problem(other, 422)["errors"] == [
        {"pointer": "/id", "detail": "differs from the statementId parameter"}
    ]


async def test_invalid_statements_get_a_pointer_and_nothing_of_the_batch_is_stored(stack: EmbeddedStack) -> None:
    moodle = await connect(client(stack), TENANT, source_kind="xapi")
    await map_ids(client(stack), TENANT, moodle["id"], MOODLE_RULES)
    statements = fixture_json("xapi/moodle_v5_quiz_attempt_submitted.json")
    broken = [statements[0], {**statements[1], "actor": {"name": "nobody"}}]
    response = await client(stack).post("/xapi/statements", json=broken, headers=xapi_headers(moodle["secret"]))
    problem = assert_problem(response, 422)
    assert problem["errors"] == [
        {"pointer": "/1/actor", "detail": "needs an identifier: account, mbox, mbox_sha1sum or openid"}
    ]
    valid = await client(stack).post("/xapi/statements", json=statements[:1], headers=xapi_headers(moodle["secret"]))
    assert valid.headers["X-Credstream-Accepted"] == "1"  # the rejected batch stored nothing
    malformed = await client(stack).post("/xapi/statements", content=b"[{", headers=xapi_headers(moodle["secret"]))
    assert "line 1" in assert_problem(malformed, 400)["detail"]


async def test_caliper_from_canvas_with_hmac_signatures_to_a_badge(stack: EmbeddedStack) -> None:
    await define_achievement(
        stack.http("assessment"), TENANT, "canvas-course-21070000000000777", "canvas-assignment-21070000000000355", 90
    )
    canvas = await connect(client(stack), TENANT, source_kind="canvas", auth_method="hmac")
    await map_ids(client(stack), TENANT, canvas["id"], CANVAS_RULES)
    cid, secret = canvas["id"], canvas["secret"]
    for name in ("caliper/canvas_enrollment_created.json", "caliper/canvas_grade_change.json"):
        body = fixture_bytes(name)
        response = await client(stack).post("/caliper", content=body, headers=hmac_headers(cid, secret, body))
        assert response.status_code == 202, response.text
        assert response.json()["accepted"] == 1
    await stack.settle()
    [badge] = badges(stack, "21070000000020064")  # 12 of 10 (extra credit) counts as the full mark
    assert badge.achievement_id == "canvas-course-21070000000000777"

    body = fixture_bytes("caliper/canvas_submission_created.json")
    tampered = await client(stack).post("/caliper", content=body + b" ", headers=hmac_headers(cid, secret, body))
    assert "does not match" in assert_problem(tampered, 401)["detail"]
    stale = hmac_headers(cid, secret, body, at=int(time.time()) - 600)
    assert (
        "5 minutes" in assert_problem(await client(stack).post("/caliper", content=body, headers=stale), 401)["detail"]
    )
    unsigned = await client(stack).post("/caliper", content=body, headers={"X-Credstream-Connection": cid})
    assert_problem(unsigned, 401)
    letter = fixture_bytes("caliper/canvas_grade_change_letter_grade.json")
    response = await client(stack).post("/caliper", content=letter, headers=hmac_headers(cid, secret, letter))
    [result] = response.json()["results"]
    assert result["status"] == "ignored" and "letter grade" in result["reason"]


async def test_canvas_live_events_signed_as_jwt(stack: EmbeddedStack) -> None:
    await define_achievement(
        stack.http("assessment"), TENANT, "canvas-course-21070000000000888", "canvas-assignment-21070000000000400", 85
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    canvas = await connect(
        client(stack),
        TENANT,
        source_kind="canvas",
        auth_method="jwt",
        jwt={"algorithms": ["RS256"], "public_key_pem": pem.decode()},
    )
    assert canvas["secret"] is None  # the public key is all credstream holds
    await map_ids(client(stack), TENANT, canvas["id"], CANVAS_RULES)
    headers = {"X-Credstream-Connection": canvas["id"], "Content-Type": "application/jwt"}
    for name in ("canvas/enrollment_created.json", "canvas/submission_created.json", "canvas/grade_change.json"):
        token = jwt.encode(fixture_json(name), key, algorithm="RS256")
        response = await client(stack).post("/canvas/live-events", content=token, headers=headers)
        assert response.status_code == 202 and response.json()["accepted"] == 1, response.text
    await stack.settle()
    [badge] = badges(stack, "21070000000030111")
    assert badge.achievement_id == "canvas-course-21070000000000888"

    completed = jwt.encode(fixture_json("canvas/course_completed.json"), key, algorithm="RS256")
    response = await client(stack).post("/canvas/live-events", content=completed, headers=headers)
    assert response.json()["results"][0]["kind"] == "completed"
    await stack.settle()
    event = [e for e in recorded(stack) if e.kind == "completed"][-1]
    assert (event.learner_id, event.achievement_id) == ("21070000000030111", "canvas-course-21070000000000888")
    assert event.recipient is not None  # the e-mail left enrollment only as a salted hash
    assert all(b"emmy@example.edu" not in r.value for t in Topic for r in stack.bus.records(str(t)))

    forged = jwt.encode(fixture_json("canvas/grade_change.json"), rsa.generate_private_key(65537, 2048), "RS256")
    assert_problem(await client(stack).post("/canvas/live-events", content=forged, headers=headers), 401)


async def test_lti_ags_scores_to_a_badge(stack: EmbeddedStack) -> None:
    await define_achievement(stack.http("assessment"), TENANT, "essays", "essay-1", 80)
    tool = await connect(client(stack), TENANT, source_kind="lti-ags")
    await map_ids(client(stack), TENANT, tool["id"], [{"lms_id": "essay-line-item", "assessment_id": "essay-1"}])
    roster = {"Authorization": "Bearer acme-key"}  # the enrolment comes from elsewhere (here: native, env key)
    enrol = {
        "tenant_id": TENANT,
        "learner_id": "5323497",
        "event_id": "enrol-5323497",
        "kind": "enrolled",
        "achievement_id": "essays",
        "occurred_at": "2026-11-20T09:00:00Z",
    }
    assert (await client(stack).post("/v1/activities", json=enrol, headers=roster)).status_code == 202
    score = fixture_bytes("lti-ags/score_fully_graded.json")
    headers = {"Authorization": f"Bearer {tool['secret']}", "Content-Type": "application/vnd.ims.lis.v1.score+json"}
    response = await client(stack).post("/lti/ags/essay-line-item/scores", content=score, headers=headers)
    assert response.status_code == 202 and response.json()["accepted"] == 1, response.text
    await stack.settle()
    assert len(badges(stack, "5323497")) == 1
    again = await client(stack).post("/lti/ags/essay-line-item/scores", content=score, headers=headers)
    assert again.json()["duplicates"] == 1

    wrong_type = await client(stack).post(
        "/lti/ags/essay-line-item/scores", content=score, headers={**headers, "Content-Type": "text/plain"}
    )
    assert_problem(wrong_type, 415)
    not_allowed = await client(stack).post("/caliper", content=b"{}", headers=headers)  # an AGS-only connection
    assert "may not send caliper" in assert_problem(not_allowed, 403)["detail"]


async def test_unmapped_activities_are_kept_reported_and_replayed(stack: EmbeddedStack) -> None:
    canvas = await connect(client(stack), TENANT, source_kind="caliper")
    headers = {"Authorization": f"Bearer {canvas['secret']}"}
    body = fixture_bytes("caliper/spec_thinned_mixed_batch.json")
    response = await client(stack).post("/caliper", content=body, headers=headers)
    receipt = response.json()
    assert (receipt["accepted"], receipt["unmapped"], receipt["ignored"]) == (0, 2, 2)
    unmapped = [r for r in receipt["results"] if r["status"] == "unmapped"]
    assert [r["pointer"] for r in unmapped] == ["/data/2", "/data/3"]
    assert "https://example.edu/terms/202601/courses/7/sections/1/assess/1" in unmapped[0]["reason"]
    base = f"/v1/tenants/{TENANT}/lms-connections/{canvas['id']}"
    listed = (await client(stack).get(base + "/unmapped", headers=ADMIN)).json()
    assert [(u["kind"], u["times_seen"]) for u in listed] == [("submitted", 1), ("scored", 1)]
    await client(stack).post("/caliper", content=body, headers=headers)  # re-sent before anyone mapped it
    assert [u["times_seen"] for u in (await client(stack).get(base + "/unmapped", headers=ADMIN)).json()] == [2, 2]

    await map_ids(
        client(stack),
        TENANT,
        canvas["id"],
        [{"match": "prefix", "lms_id": "https://example.edu/terms/202601/courses/7/", "assessment_id": "spec-quiz"}],
    )
    replayed = (await client(stack).post(base + "/unmapped/replay", headers=ADMIN)).json()
    assert replayed["accepted"] == 2
    assert (await client(stack).get(base + "/unmapped", headers=ADMIN)).json() == []
    await stack.settle()
    scored = [e for e in recorded(stack) if e.kind == "scored" and e.assessment_id == "spec-quiz"]
    assert [(e.learner_id, e.score, e.max_score) for e in scored] == [("https://example.edu/users/554433", 13.5, 15.0)]


async def test_connection_admin_api(stack: EmbeddedStack) -> None:
    base = f"/v1/tenants/{TENANT}/lms-connections"
    assert_problem(await client(stack).get(base), 401)
    assert_problem(await client(stack).post(base, json={"name": "x", "source_kind": "xapi"}), 401)
    bad = await client(stack).post(base, json={"name": "x", "source_kind": "xapi", "auth_method": "jwt"}, headers=ADMIN)
    assert_problem(bad, 422)
    created = await connect(client(stack), TENANT, source_kind="xapi", rate_limit={"per_second": 5, "burst": 10})
    assert created["secret"].startswith("csk_")
    listed = (await client(stack).get(base, headers=ADMIN)).json()
    assert {c["origin"] for c in listed} == {"api", "environment"}  # CREDSTREAM_LMS_API_KEYS keys are listed too
    assert all("secret" not in c for c in listed)
    mine = next(c for c in listed if c["id"] == created["id"])
    assert mine["rate_limit"] == {"per_second": 5.0, "burst": 10}
    other_tenant = await client(stack).get(f"/v1/tenants/demo/lms-connections/{created['id']}", headers=ADMIN)
    assert_problem(other_tenant, 404)

    statement = fixture_bytes("xapi/lrs_statement_mbox_passed.json")
    headers = xapi_headers(created["secret"])
    assert (await client(stack).post("/xapi/statements", content=statement, headers=headers)).status_code == 200
    disabled = await client(stack).post(f"{base}/{created['id']}/disable", headers=ADMIN)
    assert disabled.json()["enabled"] is False
    assert_problem(await client(stack).post("/xapi/statements", content=statement, headers=headers), 401)
    bearer = {"Authorization": f"Bearer {created['secret']}"}
    assert_problem(await client(stack).post("/caliper", content=b"{}", headers=bearer), 401)


async def test_rate_limit_per_connection_answers_429_with_retry_after(stack: EmbeddedStack) -> None:
    tool = await connect(client(stack), TENANT, source_kind="lti-ags", rate_limit={"per_second": 0.2, "burst": 2})
    headers = {"Authorization": f"Bearer {tool['secret']}", "Content-Type": "application/vnd.ims.lis.v1.score+json"}
    score = fixture_bytes("lti-ags/score_pending_manual.json")
    statuses = [
        (await client(stack).post("/lti/ags/li-1/scores", content=score, headers=headers)).status_code for _ in range(3)
    ]
    assert statuses == [202, 202, 429]
    limited = await client(stack).post("/lti/ags/li-1/scores", content=score, headers=headers)
    assert_problem(limited, 429)
    assert 1 <= int(limited.headers["Retry-After"]) <= 5
    other = await connect(client(stack), TENANT, source_kind="lti-ags")  # another connection has its own bucket
    other_headers = {**headers, "Authorization": f"Bearer {other['secret']}"}
    assert (await client(stack).post("/lti/ags/li-1/scores", content=score, headers=other_headers)).status_code == 202


async def test_chunked_bodies_over_the_limit_are_refused(stack: EmbeddedStack) -> None:
    tool = await connect(client(stack), TENANT, source_kind="caliper")

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"data": ['
        for _ in range(100):
            yield json.dumps({"id": "x" * 300, "type": "Person"}).encode() + b","
        yield b"{}]}"

    response = await client(stack).post(
        "/caliper", content=chunks(), headers={"Authorization": f"Bearer {tool['secret']}"}
    )
    assert "20000 bytes" in assert_problem(response, 413)["detail"]
    native = await client(stack).post(
        "/v1/activities",
        content=chunks(),
        headers={"Authorization": "Bearer acme-key", "Content-Type": "application/json"},
    )
    assert_problem(native, 413)


async def test_a_jwt_connection_can_be_configured_with_a_jwk(stack: EmbeddedStack) -> None:
    """Canvas publishes its Live Events signing keys as a JWKS; one of its JWKs configures the connection."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    canvas = await connect(
        client(stack), TENANT, source_kind="canvas", auth_method="jwt", jwt={"algorithms": ["RS256"], "public_jwk": jwk}
    )
    token = jwt.encode(fixture_json("canvas/submission_created.json"), key, algorithm="RS256")
    response = await client(stack).post(f"/canvas/live-events?connection={canvas['id']}", content=token)
    assert response.status_code == 202, response.text  # Canvas cannot add headers: the connection is in the URL
    assert response.json()["results"][0]["status"] == "unmapped"
    bad = {"algorithms": ["RS256"], "public_jwk": {"kty": "RSA", "n": "x"}}
    response = await client(stack).post(
        f"/v1/tenants/{TENANT}/lms-connections",
        json={"name": "bad", "source_kind": "canvas", "auth_method": "jwt", "jwt": bad},
        headers=ADMIN,
    )
    assert assert_problem(response, 422)["errors"][0]["pointer"] == "/jwt/public_jwk"

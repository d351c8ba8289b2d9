"""The hostile-client campaign's cases, each a 500 before (issue 8 section 4): now a 4xx with problem details, and
the same payloads on the inbound topic become dead letters with a reason."""

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from services.embedded import EmbeddedStack
from shared.contracts import BadgeIssued, CloudEvent, LmsActivity, Topic, dead_letter_topic
from shared.messaging.records import OutboundRecord
from shared.settings import Settings
from tests.lms_helpers import ADMIN, fixture_json

LMS = {"Authorization": "Bearer acme-key", "Content-Type": "application/json"}
XAPI = {**LMS, "X-Experience-API-Version": "1.0.3"}


@pytest.fixture
async def stack(settings: Settings, tmp_path: Path) -> AsyncIterator[EmbeddedStack]:
    embedded = EmbeddedStack(settings, tmp_path)
    await embedded.start()
    yield embedded
    await embedded.stop()


def native(**changes: Any) -> dict[str, Any]:
    body = {
        "tenant_id": "acme",
        "learner_id": "l1",
        "event_id": "e1",
        "kind": "scored",
        "assessment_id": "quiz",
        "score": 7,
        "occurred_at": "2026-11-29T10:00:00Z",
    }
    return {**body, **changes}


def raw(value: Any) -> bytes:
    return json.dumps(value).encode()


def statement_without_id(**changes: Any) -> bytes:
    statement = fixture_json("xapi/lrs_statement_mbox_passed.json")
    statement.pop("id", None)
    return raw({**statement, **changes})


DEEP = b"[" * 100_000 + b"]" * 100_000
CASES = [
    # (case, service, method, path, body, headers, status, text the problem must contain)
    (
        "NUL in a learner id",
        "enrollment",
        "POST",
        "/v1/activities",
        raw(native(learner_id="a\x00b")),
        LMS,
        422,
        "U+0000",
    ),
    (
        "U+001F in a learner id",
        "enrollment",
        "POST",
        "/v1/activities",
        raw(native(learner_id="l\x1f1")),
        LMS,
        422,
        "U+001F",
    ),
    (
        "year 0 in UTC",
        "enrollment",
        "POST",
        "/v1/activities",
        raw(native(occurred_at="0001-01-01T00:00:00+01:00")),
        LMS,
        422,
        "years 1-9999",
    ),
    (
        "year 10000 in UTC",
        "enrollment",
        "POST",
        "/v1/activities",
        raw(native(occurred_at="9999-12-31T23:30:00-01:00")),
        LMS,
        422,
        "years 1-9999",
    ),
    (
        "a score overflowing to Infinity",
        "enrollment",
        "POST",
        "/v1/activities",
        raw(native()).replace(b'"score": 7', b'"score": 1e999'),
        LMS,
        422,
        "/score",
    ),
    ("a 1e308 score", "enrollment", "POST", "/v1/activities", raw(native(score=1e308)), LMS, 422, "/score"),
    (
        "Infinity, not a JSON number",
        "enrollment",
        "POST",
        "/v1/activities",
        raw(native()).replace(b'"score": 7', b'"score": Infinity'),
        LMS,
        422,
        "Infinity",
    ),
    (
        "NaN, not a JSON number",
        "enrollment",
        "POST",
        "/v1/activities",
        raw(native()).replace(b'"score": 7', b'"score": NaN'),
        LMS,
        422,
        "NaN",
    ),
    (
        "a lone surrogate",
        "enrollment",
        "POST",
        "/v1/activities",
        raw(native(learner_id="\ud800")),
        LMS,
        400,
        "surrogate",
    ),
    ("100,000 levels", "enrollment", "POST", "/v1/activities", DEEP, LMS, 400, "nested deeper"),
    ("malformed JSON", "enrollment", "POST", "/v1/activities", b"{nope", LMS, 400, "Malformed JSON"),
    ("no credentials, bad body", "enrollment", "POST", "/v1/activities", b"{nope", {}, 401, "Unauthorized"),
    ("no credentials, invalid body", "enrollment", "POST", "/v1/activities", b"{}", {}, 401, "Unauthorized"),
    (
        "xAPI: NaN, id derived",
        "enrollment",
        "POST",
        "/xapi/statements",
        statement_without_id()[:-1] + b', "x": NaN}',
        XAPI,
        422,
        "NaN",
    ),
    (
        "xAPI: 2^60, id derived",
        "enrollment",
        "POST",
        "/xapi/statements",
        statement_without_id(x=2**60),
        XAPI,
        422,
        "no event id can be derived",
    ),
    (
        "xAPI: year 0 in UTC",
        "enrollment",
        "POST",
        "/xapi/statements",
        statement_without_id(timestamp="0001-01-01T00:00:00+05:00"),
        XAPI,
        422,
        "years 1-9999",
    ),
    ("xAPI: 100,000 levels", "enrollment", "POST", "/xapi/statements", DEEP, XAPI, 400, "nested deeper"),
    (
        "xAPI PUT: no credentials, no statementId",
        "enrollment",
        "PUT",
        "/xapi/statements",
        b"{}",
        {"X-Experience-API-Version": "1.0.3"},
        401,
        "Unauthorized",
    ),
    ("xAPI PUT: no statementId", "enrollment", "PUT", "/xapi/statements", b"{}", XAPI, 400, "statementId"),
    (
        "xAPI: a number for the parent activities",
        "enrollment",
        "POST",
        "/xapi/statements",
        statement_without_id(context={"contextActivities": {"parent": 1.5}}),
        XAPI,
        422,
        "/context/contextActivities/parent",
    ),
    (
        "AGS: line item over 2,048",
        "enrollment",
        "POST",
        "/lti/ags/" + "x" * 3000 + "/scores",
        raw(fixture_json("lti-ags/score_fully_graded.json")),
        LMS,
        422,
        "longer than 2048",
    ),
    (
        "AGS: NUL in the URL",
        "enrollment",
        "POST",
        "/lti/ags/a%00b/scores",
        raw(fixture_json("lti-ags/score_fully_graded.json")),
        LMS,
        400,
        "U+0000",
    ),
    (
        "admin: NUL in a connection name",
        "enrollment",
        "POST",
        "/v1/tenants/acme/lms-connections",
        raw({"name": "a\x00", "source_kind": "moodle"}),
        ADMIN,
        422,
        "/name",
    ),
    (
        "admin: no credentials, bad body",
        "enrollment",
        "POST",
        "/v1/tenants/acme/lms-connections",
        b"{nope",
        {},
        401,
        "Unauthorized",
    ),
    (
        "admin: malformed JSON",
        "enrollment",
        "POST",
        "/v1/tenants/acme/lms-connections",
        b"{nope",
        ADMIN,
        400,
        "Malformed JSON",
    ),
    (
        "admin: Word line break in a name",
        "assessment",
        "PUT",
        "/v1/tenants/acme/achievements/sql",
        raw(
            {
                "id": "sql",
                "name": "SQL\x0bEssentials",
                "description": "d",
                "criteria": {"narrative": "n", "required_assessments": [{"assessment_id": "x", "min_score": 1}]},
            }
        ),
        ADMIN,
        422,
        "U+000B",
    ),
    (
        "admin: credits overflowing to Infinity",
        "assessment",
        "PUT",
        "/v1/tenants/acme/achievements/sql",
        raw(
            {
                "id": "sql",
                "name": "SQL",
                "description": "d",
                "credits_available": 1,
                "criteria": {"narrative": "n", "required_assessments": [{"assessment_id": "x", "min_score": 1}]},
            }
        ).replace(b'"credits_available": 1', b'"credits_available": 1e999'),
        ADMIN,
        422,
        "/credits_available",
    ),
    ("admin: NUL in a path", "assessment", "PUT", "/v1/tenants/acme/achievements/s%00", b"{}", ADMIN, 400, "U+0000"),
    (
        "admin: 100,000 levels",
        "issuer",
        "POST",
        "/v1/credentials/00000000-0000-0000-0000-000000000000/revoke",
        DEEP,
        ADMIN,
        400,
        "nested deeper",
    ),
    (
        "admin: NUL in a revocation reason",
        "issuer",
        "POST",
        "/v1/credentials/00000000-0000-0000-0000-000000000000/revoke",
        raw({"reason": "x\x00"}),
        ADMIN,
        422,
        "U+0000",
    ),
]


@pytest.mark.parametrize(
    ("service", "method", "path", "body", "headers", "status", "says"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
async def test_each_campaign_case_is_a_4xx_with_problem_details(
    stack: EmbeddedStack,
    service: str,
    method: str,
    path: str,
    body: bytes,
    headers: dict[str, str],
    status: int,
    says: str,
) -> None:
    response = await stack.http(service).request(
        method, path, content=body, headers={"Content-Type": "application/json", **headers}
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert says in response.text


async def test_a_control_character_in_a_learner_name_is_replaced_not_refused(stack: EmbeddedStack) -> None:
    response = await stack.http("enrollment").post(
        "/v1/activities", content=raw(native(learner_name="Ada\x0bLovelace\x00")), headers=LMS
    )
    assert response.status_code == 202, response.text
    await stack.settle()
    sent = [json.loads(r.value) for r in stack.bus.records(str(Topic.ENROLLMENT))]
    assert sent[-1]["learner_name"] == "Ada Lovelace "


async def test_a_1e308_score_on_the_inbound_topic_is_dead_lettered_and_never_makes_an_inf_badge(
    stack: EmbeddedStack,
) -> None:
    ce = CloudEvent(source="lms://t", type=LmsActivity.CE_TYPE)
    for value in (raw(native(score=1e308)), raw(native()).replace(b'"score": 7', b'"score": Infinity')):
        await stack.bus.publish([OutboundRecord(str(Topic.LMS_INBOUND), "acme:l1", value, ce.to_header_dict())])
    await stack.settle()
    reasons = [r.headers["dlq_reason"] for r in stack.bus.records(dead_letter_topic(str(Topic.LMS_INBOUND)))]
    assert len(reasons) == 2 and all("score" in reason for reason in reasons), reasons
    assert not [BadgeIssued.model_validate_json(r.value) for r in stack.bus.records(str(Topic.BADGE_ISSUED))]


async def test_jwt_signed_claims_are_held_to_the_same_limits_as_a_json_body(stack: EmbeddedStack) -> None:
    from tests.lms_helpers import connect

    secret = "s" * 40
    canvas = await connect(
        stack.http("enrollment"),
        "acme",
        source_kind="canvas",
        auth_method="jwt",
        jwt={"algorithms": ["HS256"], "shared_secret": secret},
    )
    headers = {"X-Credstream-Connection": canvas["id"], "Content-Type": "application/jwt"}
    deep: Any = {}
    for _ in range(900):
        deep = {"a": deep}
    for claims, says in (({"metadata": deep}, "nested"), ({"metadata": {"x": "\ud800"}}, "surrogate")):
        token = jwt.encode(claims, secret, algorithm="HS256")
        response = await stack.http("enrollment").post("/canvas/live-events", content=token, headers=headers)
        assert response.status_code == 400, response.text
        assert says in response.text

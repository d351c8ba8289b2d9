"""Helpers for tests that act as an LMS (and its admin) against the enrollment service over HTTP."""

import base64
import json
import time
from pathlib import Path
from typing import Any

import httpx

from services.enrollment.connections import sign

ADMIN = {"Authorization": "Bearer dev-admin-token"}
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "lms"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> Any:
    return json.loads(fixture_bytes(name))


def basic(api_key: str, user: str = "moodle") -> dict[str, str]:
    """HTTP Basic auth as an xAPI LRS client (e.g. Moodle's logstore_xapi) sends it: key id : secret."""
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{api_key}".encode()).decode()}


def xapi_headers(api_key: str) -> dict[str, str]:
    return {**basic(api_key), "X-Experience-API-Version": "1.0.3", "Content-Type": "application/json"}


def hmac_headers(connection_id: str, secret: str, body: bytes, *, at: int | None = None) -> dict[str, str]:
    return {
        "X-Credstream-Connection": connection_id,
        "X-Credstream-Signature": sign(secret, body, int(time.time()) if at is None else at),
        "Content-Type": "application/json",
    }


async def define_achievement(
    assessment: httpx.AsyncClient, tenant: str, achievement_id: str, assessment_id: str, min_score: float
) -> None:
    body = {
        "id": achievement_id,
        "name": f"Badge {achievement_id}",
        "description": "Earned through an LMS.",
        "criteria": {
            "narrative": f"At least {min_score}% on {assessment_id}.",
            "required_assessments": [{"assessment_id": assessment_id, "min_score": min_score}],
        },
    }
    response = await assessment.put(f"/v1/tenants/{tenant}/achievements/{achievement_id}", json=body, headers=ADMIN)
    assert response.status_code == 200, response.text


async def connect(enrollment: httpx.AsyncClient, tenant: str, **body: Any) -> dict[str, Any]:
    """Create an LMS connection through the admin API; the response holds its secret (shown once)."""
    body.setdefault("name", f"{body['source_kind']} test connection")
    response = await enrollment.post(f"/v1/tenants/{tenant}/lms-connections", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    return response.json()


async def map_ids(enrollment: httpx.AsyncClient, tenant: str, connection_id: str, rules: list[dict[str, Any]]) -> None:
    response = await enrollment.put(
        f"/v1/tenants/{tenant}/lms-connections/{connection_id}/mappings", json=rules, headers=ADMIN
    )
    assert response.status_code == 200, response.text

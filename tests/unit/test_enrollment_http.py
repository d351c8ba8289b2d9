"""The LMS-facing HTTP API: authentication, tenancy, validation with problem details, dedupe, body limits."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from services.embedded import EmbeddedStack
from shared.settings import Settings

LMS = {"Authorization": "Bearer acme-key"}


@pytest.fixture
async def stack(settings: Settings, tmp_path: Path) -> AsyncIterator[EmbeddedStack]:
    embedded = EmbeddedStack(settings.model_copy(update={"max_body_bytes": 20_000}), tmp_path)
    await embedded.start()
    yield embedded
    await embedded.stop()


def activity(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "tenant_id": "acme",
        "learner_id": "l1",
        "event_id": "e1",
        "kind": "enrolled",
        "achievement_id": "python",
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    body.update(changes)
    return body


async def post(stack: EmbeddedStack, body: object, headers: dict[str, str] | None = LMS) -> httpx.Response:
    return await stack.http("enrollment").post("/v1/activities", json=body, headers=headers or {})


async def test_accepts_and_deduplicates(stack: EmbeddedStack) -> None:
    first = await post(stack, activity())
    assert first.status_code == 202
    assert first.json()["accepted"] == 1
    again = await post(stack, [activity(), activity(event_id="e2")])
    assert [r["status"] for r in again.json()["results"]] == ["duplicate", "accepted"]


async def test_requires_an_api_key(stack: EmbeddedStack) -> None:
    for headers in (None, {"Authorization": "Bearer wrong"}):
        response = await post(stack, activity(), headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == 401


async def test_a_key_posts_only_for_its_tenant(stack: EmbeddedStack) -> None:
    response = await post(stack, activity(tenant_id="demo"))
    assert response.status_code == 403
    assert "demo" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        (activity(kind="graded"), "kind"),
        (activity(occurred_at="yesterday"), "occurred_at"),
        (activity(kind="scored", achievement_id=None), "assessment_id"),
        (activity(kind="scored", assessment_id="q", score=11, max_score=10), "max_score"),
        (activity(extra_field=1), "extra_field"),
    ],
)
async def test_invalid_bodies_get_problem_details_naming_the_field(
    stack: EmbeddedStack, body: dict[str, object], pointer: str
) -> None:
    response = await post(stack, body)
    assert response.status_code == 422
    problem = response.json()
    assert problem["title"] == "Invalid request body"
    assert any(pointer in (e["pointer"] + e["detail"]) for e in problem["errors"]), problem


async def test_oversized_bodies_are_refused(stack: EmbeddedStack) -> None:
    response = await post(stack, [activity(event_id=f"e{i}") for i in range(200)])
    assert response.status_code == 413


async def test_health_and_readiness(stack: EmbeddedStack) -> None:
    client = stack.http("enrollment")
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).status_code == 200

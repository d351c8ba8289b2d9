"""An embedded stack (four services, in-memory bus, SQLite) and helpers to drive it as an LMS and an admin."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.embedded import EmbeddedStack
from shared.contracts import AchievementDefined, AssessmentPassed, BadgeIssued, Topic, dead_letter_topic
from shared.db.engine import SessionFactory, create_engine, session_factory
from shared.settings import Settings

ADMIN = {"Authorization": "Bearer dev-admin-token"}
LMS = {"Authorization": "Bearer acme-key"}
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def when(minutes: float = 0, *, days: float = 0) -> str:
    return (T0 + timedelta(minutes=minutes, days=days)).isoformat()


@dataclass
class Flow:
    stack: EmbeddedStack
    data_dir: Path
    _events: int = 0

    async def define(self, definition: dict[str, Any], *, expect: int = 200) -> dict[str, Any]:
        response = await self.stack.http("assessment").put(
            f"/v1/tenants/acme/achievements/{definition['id']}", json=definition, headers=ADMIN
        )
        assert response.status_code == expect, response.text
        await self.stack.settle()
        return response.json()

    async def admin(self, method: str, path: str, *, expect: int = 200, **kwargs: Any) -> Any:
        response = await self.stack.http("assessment").request(
            method, f"/v1/tenants/acme{path}", headers=ADMIN, **kwargs
        )
        assert response.status_code == expect, response.text
        await self.stack.settle()
        return response.json() if response.content else None

    async def send(self, *activities: dict[str, Any]) -> None:
        response = await self.stack.http("enrollment").post("/v1/activities", json=list(activities), headers=LMS)
        assert response.status_code == 202, response.text
        await self.stack.settle()

    def activity(
        self, learner: str, kind: str, minutes: float = 0, *, days: float = 0, **fields: Any
    ) -> dict[str, Any]:
        self._events += 1
        return {
            "tenant_id": "acme",
            "learner_id": learner,
            "event_id": f"e{self._events}",
            "kind": kind,
            "occurred_at": when(minutes, days=days),
            **fields,
        }

    def enrol(self, learner: str, achievement: str, minutes: float = 0) -> dict[str, Any]:
        return self.activity(learner, "enrolled", minutes, achievement_id=achievement)

    def score(self, learner: str, assessment: str, score: float, minutes: float = 0, **fields: Any) -> dict[str, Any]:
        return self.activity(learner, "scored", minutes, assessment_id=assessment, score=score, max_score=100, **fields)

    def passed(self, learner: str | None = None) -> list[AssessmentPassed]:
        records = self.stack.bus.records(str(Topic.ASSESSMENT_PASSED))
        events = [AssessmentPassed.model_validate_json(r.value) for r in records]
        return [e for e in events if learner is None or e.learner_id == learner]

    def badges(self, learner: str | None = None, achievement: str | None = None) -> list[BadgeIssued]:
        records = self.stack.bus.records(str(Topic.BADGE_ISSUED))
        issued = [BadgeIssued.model_validate_json(r.value) for r in records]
        return [
            b
            for b in issued
            if (learner is None or b.learner_id == learner) and (achievement is None or b.achievement_id == achievement)
        ]

    def definitions(self) -> list[AchievementDefined]:
        return [
            AchievementDefined.model_validate_json(r.value) for r in self.stack.bus.records(str(Topic.ACHIEVEMENTS))
        ]

    def dead_letters(self, topic: Topic) -> list[dict[str, str]]:
        return [r.headers for r in self.stack.bus.records(dead_letter_topic(str(topic)))]

    @asynccontextmanager
    async def assessment_db(self) -> AsyncIterator[SessionFactory]:
        """The assessment service's own database, for use cases without an HTTP or topic entry yet."""
        engine = create_engine(f"sqlite+aiosqlite:///{self.data_dir / 'assessment'}.db")
        try:
            yield session_factory(engine)
        finally:
            await engine.dispose()


@pytest.fixture
async def flow(settings: Settings, tmp_path: Path) -> AsyncIterator[Flow]:
    stack = EmbeddedStack(settings, tmp_path)
    await stack.start()
    yield Flow(stack, tmp_path)
    await stack.stop()

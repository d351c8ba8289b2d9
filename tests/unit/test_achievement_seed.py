"""Achievements can come from a seed file (CREDSTREAM_ACHIEVEMENTS_FILE) instead of the admin API."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from services.assessment.entrypoint import load_seed
from services.embedded import EmbeddedStack
from shared.settings import Settings

SEED = """
tenants:
  acme:
    - id: first-aid
      name: First Aid
      description: Gives basic first aid.
      criteria:
        narrative: Passed the practical exam.
        required_assessments:
          - assessment_id: practical
            min_score: 80
"""


async def test_seed_file_defines_achievements_at_start(settings: Settings, tmp_path: Path) -> None:
    seed = tmp_path / "achievements.yaml"
    seed.write_text(SEED)
    stack = EmbeddedStack(settings.model_copy(update={"achievements_file": str(seed)}), tmp_path / "db")
    await stack.start()
    try:
        response = await stack.http("assessment").get(
            "/v1/tenants/acme/achievements", headers={"Authorization": "Bearer dev-admin-token"}
        )
        assert [a["name"] for a in response.json()] == ["First Aid"]
    finally:
        await stack.stop()


def test_an_invalid_seed_file_is_refused_with_the_reason(tmp_path: Path) -> None:
    seed = tmp_path / "achievements.yaml"
    seed.write_text(SEED.replace("min_score: 80", "min_score: 180"))
    with pytest.raises(ValidationError, match="min_score"):
        load_seed(seed)

"""Achievement definitions: admin API (create, version, retire, validated on write) and the compacted topic that
carries them to awarding."""

import uuid
from typing import Any

import pytest

from services.assessment.handlers import on_achievement_defined
from shared.contracts import AchievementDefined, AchievementStatus, CloudEvent, Topic
from shared.db.engine import transaction
from shared.messaging.records import OutboundRecord, PoisonRecord
from tests.unit.assessment.conftest import T0, Flow

SQL: dict[str, Any] = {
    "id": "sql",
    "name": "SQL",
    "description": "Queries data.",
    "criteria": {
        "narrative": "75% on the practical.",
        "rule": {"type": "assessment", "assessment_id": "practical", "min_score": 75},
    },
}


def pathway(components: list[str], achievement_id: str = "path") -> dict[str, Any]:
    return {
        "id": achievement_id,
        "name": "Pathway",
        "description": "Stacks badges.",
        "criteria": {
            "narrative": "All of them.",
            "rule": {"type": "all_of", "rules": [{"type": "achievement", "achievement_id": c} for c in components]},
        },
    }


async def test_each_version_is_published_on_the_compacted_topic_keyed_by_tenant_and_achievement(flow: Flow) -> None:
    created = await flow.define(SQL)
    assert (created["version"], created["status"], created["tenant_id"]) == (1, "active", "acme")
    assert (await flow.define(SQL))["version"] == 1  # unchanged: no new version, no new record
    changed = await flow.define({**SQL, "description": "Queries data well."})
    assert changed["version"] == 2
    records = flow.stack.bus.records(str(Topic.ACHIEVEMENTS))
    assert [r.key for r in records] == ["acme:sql", "acme:sql"]
    assert [d.version for d in flow.definitions()] == [1, 2]
    assert flow.definitions()[1].definition["description"] == "Queries data well."
    assert records[0].headers["ce_type"] == AchievementDefined.CE_TYPE
    versions = await flow.admin("GET", "/achievements/sql/versions")
    assert [(v["version"], v["description"]) for v in versions] == [(1, "Queries data."), (2, "Queries data well.")]
    assert [a["id"] for a in await flow.admin("GET", "/achievements")] == ["sql"]
    assert (await flow.admin("GET", "/achievements/sql"))["version"] == 2


async def test_awards_use_the_version_applied_from_the_topic(flow: Flow) -> None:
    await flow.define(SQL)
    await flow.define(
        {
            **SQL,
            "criteria": {
                "narrative": "90%.",
                "rule": {"type": "assessment", "assessment_id": "practical", "min_score": 90},
            },
        }
    )
    await flow.send(flow.enrol("ana", "sql"), flow.score("ana", "practical", 80, 1))
    assert flow.passed("ana") == []
    await flow.send(flow.score("ana", "practical", 91, 2))
    [passed] = flow.passed("ana")
    assert passed.achievement.version == 2 and passed.achievement.criteria_narrative == "90%."


async def test_a_new_version_reaches_the_definitions_the_consumer_keeps_in_memory(flow: Flow) -> None:
    await flow.define(SQL)
    await flow.send(flow.enrol("ana", "sql"), flow.score("ana", "practical", 80, 1))  # read v1 into memory
    [first] = flow.passed("ana")
    stricter = {"narrative": "90%.", "rule": {"type": "assessment", "assessment_id": "practical", "min_score": 90}}
    await flow.define({**SQL, "criteria": stricter})
    await flow.send(flow.enrol("ben", "sql"), flow.score("ben", "practical", 80, 1))
    assert flow.passed("ben") == []  # v2 applies from the next batch on
    await flow.send(flow.score("ben", "practical", 95, 2))
    [passed] = flow.passed("ben")
    assert (first.achievement.version, passed.achievement.version) == (1, 2)
    await flow.admin("POST", "/achievements/sql/retire")
    await flow.send(flow.enrol("cy", "sql"), flow.score("cy", "practical", 99, 1))
    assert flow.passed("cy") == []  # retired: forgotten by the copy in memory too


async def test_retired_achievements_award_nothing_new_and_can_be_reinstated(flow: Flow) -> None:
    await flow.define(SQL)
    retired = await flow.admin("POST", "/achievements/sql/retire")
    assert (retired["version"], retired["status"]) == (2, "retired")
    assert (await flow.admin("POST", "/achievements/sql/retire"))["version"] == 2  # idempotent
    assert flow.definitions()[-1].status is AchievementStatus.RETIRED
    await flow.send(flow.enrol("ben", "sql"), flow.score("ben", "practical", 99, 1))
    assert flow.passed("ben") == []
    reinstated = await flow.define(SQL)
    assert (reinstated["version"], reinstated["status"]) == (3, "active")
    # Reinstating applies the definition to the evidence already recorded.
    assert len(flow.passed("ben")) == 1
    await flow.admin("POST", "/achievements/nope/retire", expect=404)


async def test_pathways_are_validated_against_the_tenants_achievements(flow: Flow) -> None:
    await flow.define(SQL)
    problem = await flow.define(pathway(["sql", "python"]), expect=422)
    assert problem["detail"] == "unknown component achievement(s): python"
    problem = await flow.define(pathway(["sql", "path"]), expect=422)
    assert problem["detail"] == "achievement 'path' cannot be a component of itself"
    await flow.define(pathway(["sql"], "a"))
    await flow.define(pathway(["a"], "b"))
    problem = await flow.define(pathway(["b"], "a"), expect=422)
    assert problem["detail"] == "pathway cycle: a -> b -> a"
    problem = await flow.admin("POST", "/achievements/sql/retire", expect=409)
    assert "active pathways use 'sql': a" in problem["detail"]
    await flow.admin("POST", "/achievements/b/retire")
    await flow.admin("POST", "/achievements/a/retire")
    await flow.admin("POST", "/achievements/sql/retire")
    problem = await flow.define(pathway(["sql"], "c"), expect=422)
    assert problem["detail"] == "retired component achievement(s): sql"


async def test_invalid_definitions_are_refused_with_problem_details(flow: Flow) -> None:
    bad_rule = {
        **SQL,
        "criteria": {
            "narrative": "n",
            "rule": {"type": "n_of", "n": 2, "rules": [{"type": "achievement", "achievement_id": "x"}]},
        },
    }
    problem = await flow.define(bad_rule, expect=422)
    assert problem["title"] == "Invalid request body"
    assert problem["errors"][0]["pointer"] == "/criteria/rule/n_of"
    assert "larger than the number of rules" in problem["errors"][0]["detail"]
    problem = await flow.define({**SQL, "renewal_period_days": -1}, expect=422)
    assert problem["errors"][0]["pointer"] == "/renewal_period_days"
    client = flow.stack.http("assessment")
    response = await client.put(
        "/v1/tenants/acme/achievements/other", json=SQL, headers={"Authorization": "Bearer dev-admin-token"}
    )
    assert response.status_code == 422 and response.json()["title"] == "Id mismatch"
    response = await client.put(
        "/v1/tenants/ACME!/achievements/sql", json=SQL, headers={"Authorization": "Bearer dev-admin-token"}
    )
    assert response.status_code == 422 and "tenant id" in response.json()["detail"]
    assert flow.definitions() == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/achievements/sql"),
        ("GET", "/achievements"),
        ("GET", "/achievements/sql"),
        ("GET", "/achievements/sql/versions"),
        ("POST", "/achievements/sql/retire"),
        ("PUT", "/assessments/quiz/answer-key"),
        ("GET", "/assessments/quiz/answer-key"),
        ("DELETE", "/assessments/quiz/answer-key"),
        ("GET", "/learners/ana/attempts"),
        ("GET", "/learners/ana/awards"),
        ("GET", "/pathway-reports"),
    ],
)
async def test_every_admin_endpoint_requires_the_admin_token(flow: Flow, method: str, path: str) -> None:
    client = flow.stack.http("assessment")
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer acme-key"}):
        response = await client.request(method, f"/v1/tenants/acme{path}", json=SQL, headers=headers)
        assert response.status_code == 401, (method, path, headers)


async def test_the_consumer_ignores_replays_and_older_versions_and_dead_letters_invalid_records(flow: Flow) -> None:
    await flow.define(SQL)
    first = flow.stack.bus.records(str(Topic.ACHIEVEMENTS))[0]
    await flow.define({**SQL, "name": "SQL II"})
    # The compacted topic is re-read from the start by a new replica: version 1 must not overwrite version 2.
    await flow.stack.bus.publish([OutboundRecord(first.topic, first.key, first.value, {**first.headers, "ce_id": "x"})])
    await flow.stack.settle()
    await flow.send(flow.enrol("cai", "sql"), flow.score("cai", "practical", 80, 1))
    assert flow.passed("cai")[0].achievement.name == "SQL II"
    broken = AchievementDefined(
        tenant_id="acme",
        achievement_id="bad",
        version=1,
        status=AchievementStatus.ACTIVE,
        definition={"id": "bad", "name": "Bad"},
        defined_at=T0,
    )
    async with flow.assessment_db() as sessions, transaction(sessions) as session:
        with pytest.raises(PoisonRecord, match="invalid achievement definition: description: Field required"):
            await on_achievement_defined(session, broken, CloudEvent(source="t", type=AchievementDefined.CE_TYPE))
        mismatch = broken.model_copy(update={"definition": {**SQL, "id": "other"}})
        with pytest.raises(PoisonRecord, match="does not match"):
            await on_achievement_defined(session, mismatch, CloudEvent(id=str(uuid.uuid4()), source="t", type="x"))


async def test_the_seed_file_defines_components_before_pathways(flow: Flow, tmp_path: Any) -> None:
    from services.assessment.domain import AchievementDefinition
    from services.assessment.entrypoint import seed_tenant

    definitions = [AchievementDefinition.model_validate(d) for d in (pathway(["sql"]), SQL)]
    async with flow.assessment_db() as sessions, transaction(sessions) as session:
        await seed_tenant(session, "acme", definitions)
    await flow.stack.settle()
    assert [d.achievement_id for d in flow.definitions()] == ["sql", "path"]


async def test_top_level_fields_from_a_newer_writer_are_ignored_by_the_consumer(flow: Flow) -> None:
    newer = AchievementDefined(
        tenant_id="acme",
        achievement_id="sql",
        version=1,
        status=AchievementStatus.ACTIVE,
        definition={**SQL, "badge_colour": "teal"},
        defined_at=T0,
    )
    async with flow.assessment_db() as sessions, transaction(sessions) as session:
        await on_achievement_defined(session, newer, CloudEvent(source="t", type=AchievementDefined.CE_TYPE))
    await flow.send(flow.enrol("dan", "sql"), flow.score("dan", "practical", 80, 1))
    assert len(flow.passed("dan")) == 1

"""A batch's learner state is read in one statement, the same on SQLite and on PostgreSQL: every table awarding
reads (learner, enrolments, attempts, completions, awards), only the batch's learners."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from services.assessment.adapters.learner_store import load_learners
from services.assessment.adapters.tables import AttemptRow, Award, CompletionRow, Learner, LearnerEnrollment
from services.assessment.awarding import AwardHeld, Enrolment
from services.assessment.evaluation import Attempt, Completion
from shared.db.engine import SessionFactory, create_engine, session_factory, transaction
from shared.db.migrations import upgrade

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def database_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[tuple[SessionFactory, list[str]]]:
    engine = create_engine(database_url)
    await upgrade(engine, "assessment")
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda _c, _cur, sql, *_a: statements.append(sql))
    yield session_factory(engine), statements
    await engine.dispose()


async def test_every_part_of_the_batchs_learners_in_one_statement(database: tuple[SessionFactory, list[str]]) -> None:
    sessions, statements = database
    award, revoked = uuid.uuid4(), uuid.uuid4()
    async with transaction(sessions) as session:
        session.add(Learner(tenant_id="acme", learner_id="ada", learner_name="Ada", recipient='{"r": 1}'))
        session.add(
            LearnerEnrollment(
                tenant_id="acme", learner_id="ada", achievement_id="sql", learner_name="A.", enrolled_at=T0
            )
        )
        for tenant, learner, score in (("acme", "ada", 61.5), ("acme", "ada", 90.0), ("acme", "bob", 70.0)):
            session.add(
                AttemptRow(
                    tenant_id=tenant,
                    learner_id=learner,
                    assessment_id="quiz",
                    attempt=1,
                    kind="scored",
                    score=score,
                    max_score=100,
                    success=score >= 70,
                    rubric='{"clarity": "good"}' if score > 80 else None,
                    occurred_at=T0 + timedelta(minutes=score),
                )
            )
        session.add(CompletionRow(tenant_id="acme", learner_id="ada", activity_id="lab", occurred_at=T0))
        for award_id, achievement_id, period, revoked_at in ((award, "sql", 0, None), (revoked, "old", 2, T0)):
            session.add(
                Award(
                    award_id=award_id,
                    tenant_id="acme",
                    learner_id="ada",
                    achievement_id=achievement_id,
                    period=period,
                    achievement_version=1,
                    awarded_at=T0,
                    revoked_at=revoked_at,
                )
            )
        # Same learner id in another tenant: not this batch's learner.
        session.add(Learner(tenant_id="other", learner_id="ada", learner_name="Not Ada"))
        session.add(CompletionRow(tenant_id="other", learner_id="ada", activity_id="x", occurred_at=T0))

    statements.clear()
    async with sessions() as session:
        states = await load_learners(session, {("acme", "ada"), ("acme", "bob"), ("acme", "new")})
    reads = [sql for sql in statements if not sql.startswith("BEGIN")]  # SQLite's own BEGIN is a statement too
    assert len(reads) == 1, reads

    ada = states[("acme", "ada")]
    assert (ada.learner_name, ada.recipient) == ("Ada", '{"r": 1}')
    assert ada.enrolments == {"sql": Enrolment(T0, "A.", None)}
    assert sorted(ada.attempts, key=lambda a: a.occurred_at) == [
        Attempt("quiz", T0 + timedelta(minutes=61.5), 61.5, 100, False, None),
        Attempt("quiz", T0 + timedelta(minutes=90), 90.0, 100, True, {"clarity": "good"}),
    ]
    assert ada.attempt_counts == {"quiz": 2}
    assert ada.completions == [Completion("lab", T0)]
    assert sorted(ada.awards, key=lambda a: a.period) == [
        AwardHeld(award, "sql", 0, T0, False),
        AwardHeld(revoked, "old", 2, T0, True),
    ]
    bob = states[("acme", "bob")]
    assert [a.score for a in bob.attempts] == [70.0] and bob.enrolments == {} and bob.learner_name is None
    new = states[("acme", "new")]
    assert (new.attempts, new.completions, new.awards, new.enrolments) == ([], [], [], {})
    assert set(states) == {("acme", "ada"), ("acme", "bob"), ("acme", "new")}

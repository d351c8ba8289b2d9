"""The issuer's batch path on SQLite: one transaction per batch, signing on a process pool, idempotent."""

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from structlog.testing import capture_logs

from services.issuer.adapters.keystore import KeyEncryption, KeyStore
from services.issuer.adapters.status_lists import StatusLists
from services.issuer.adapters.tables import IssuedCredential, IssuerOutbox, StatusList, as_utc
from services.issuer.domain import issuer_profile
from services.issuer.handlers import IssueCredential, Issuers
from services.issuer.signing import SigningJob, SigningPool, warm_up
from services.issuer.status import Slot
from shared.contracts import AssessmentPassed, CloudEvent
from shared.credentials.keys import did_key, did_key_verification_method, generate_key, key_to_seed
from shared.credentials.resolver import DidKeyResolver
from shared.credentials.verification import verify_credential
from shared.db.engine import SessionFactory, create_engine, session_factory, transaction
from shared.db.migrations import upgrade
from shared.messaging.records import PoisonRecord
from shared.settings import Settings
from tests.issuer_support import passed_award


@pytest.fixture
async def sessions(sqlite_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(sqlite_url)
    await upgrade(engine, "issuer")
    yield session_factory(engine)
    await engine.dispose()


def handler(settings: Settings, sessions: SessionFactory, pool: SigningPool) -> IssueCredential:
    issuers = Issuers(settings, KeyStore(KeyEncryption("test-kek")))
    return IssueCredential(settings, issuers, StatusLists("https://issuer.example.org"), sessions, pool)


def batch_of(*awards: AssessmentPassed) -> list[tuple[AssessmentPassed, CloudEvent]]:
    return [(award, CloudEvent(source="test", type=AssessmentPassed.CE_TYPE)) for award in awards]


async def count(sessions: SessionFactory, table: type) -> int:
    async with sessions() as session:
        return (await session.execute(select(func.count()).select_from(table))).scalar_one()


async def test_a_batch_is_signed_on_worker_processes_and_written_once(
    settings: Settings, sessions: SessionFactory
) -> None:
    pool = SigningPool(2)
    issue = handler(settings, sessions, pool)
    awards = [passed_award("acme", f"l{n}") for n in range(5)] + [passed_award("globex", "g1")]
    try:
        async with transaction(sessions) as session:
            # The same award twice in one batch (a redelivery inside the batch) still makes one credential.
            await issue.issue(session, batch_of(*awards, awards[0]))
    finally:
        pool.close()
    async with sessions() as session:
        rows = (await session.execute(select(IssuedCredential))).scalars().all()
        lists = (await session.execute(select(StatusList))).scalars().all()
    assert sorted(str(row.award_id) for row in rows) == sorted(str(a.award_id) for a in awards)
    assert len({(row.tenant_id, row.status_list_id, row.status_list_index) for row in rows}) == len(awards)
    assert {(row.tenant_id, row.allocated) for row in lists} == {("acme", 5), ("globex", 1)}
    for row in rows:
        credential = json.loads(row.credential)
        assert credential["issuer"]["id"] == row.issuer_id
        assert credential["credentialStatus"]["statusListIndex"] == str(row.status_list_index)
        report = verify_credential(
            credential, resolver=DidKeyResolver(), now=as_utc(row.issued_at) + timedelta(minutes=1)
        )
        assert report.verified, report.model_dump()
    assert await count(sessions, IssuerOutbox) == len(awards)

    # Redelivered (another consumer's batch, a crash before the offsets were committed): nothing new.
    async with transaction(sessions) as session:
        await handler(settings, sessions, SigningPool(0)).issue(session, batch_of(*awards))
    assert await count(sessions, IssuedCredential) == len(awards)
    assert await count(sessions, IssuerOutbox) == len(awards)


async def test_one_award_that_cannot_make_a_credential_poisons_the_batch_and_writes_nothing(
    settings: Settings, sessions: SessionFactory
) -> None:
    good = passed_award()
    bad = passed_award()
    bad = bad.model_copy(update={"achievement": bad.achievement.model_copy(update={"image_url": "not/absolute"})})
    with pytest.raises(PoisonRecord, match=f"award {bad.award_id}: invalid credential"):
        async with transaction(sessions) as session:
            await handler(settings, sessions, SigningPool(0)).issue(session, batch_of(good, bad))
    assert await count(sessions, IssuedCredential) == 0
    assert await count(sessions, IssuerOutbox) == 0


async def test_lone_credentials_signed_at_the_same_time_all_sign() -> None:
    # pyld's context cache is not thread-safe: this process signs one credential at a time (it failed ~1 in 150
    # when threads signed side by side).
    key = generate_key()
    issued_at = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    pool = SigningPool(0)

    def job(n: int) -> SigningJob:
        slot = Slot(1, n, "https://issuer.example.org/status-lists/acme/1")
        issuer = issuer_profile(did_key(key), "acme", None)
        method = did_key_verification_method(key)
        return SigningJob(passed_award(), issuer, "https://b.example", issued_at, slot, key_to_seed(key), method)

    outcomes = await asyncio.gather(*(pool.sign([job(n)]) for n in range(60)))
    assert [outcome.refusal for [outcome] in outcomes] == [None] * 60


async def test_workers_started_with_the_service_sign_a_batch(settings: Settings, sessions: SessionFactory) -> None:
    pool = SigningPool(2)
    pool.start()  # forked from the warm forkserver in the background, before the first batch
    try:
        async with transaction(sessions) as session:
            await handler(settings, sessions, pool).issue(
                session, batch_of(*(passed_award("acme", f"s{n}") for n in range(3)))
            )
    finally:
        pool.close()
    assert await count(sessions, IssuedCredential) == 3
    assert await count(sessions, IssuerOutbox) == 3


def test_the_forkserver_warm_up_signs_its_sample_credential() -> None:
    with capture_logs() as logs:
        warm_up()
    assert logs == []

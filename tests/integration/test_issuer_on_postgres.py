"""The issuer's races on real PostgreSQL, and revocation end to end on real Kafka + PostgreSQL.

Concurrency here is real: each task has its own connection and transaction, as two replicas would.
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from services.issuer.adapters.keystore import KeyEncryption, KeyStore
from services.issuer.adapters.status_lists import StatusLists
from services.issuer.adapters.tables import IssuedCredential, IssuerOutbox, SigningKey, StatusList
from services.issuer.entrypoint import _in_transaction
from services.issuer.handlers import IssueCredential, Issuers
from services.issuer.signing import SigningJob, SigningOutcome, SigningPool
from services.issuer.status import Slot
from services.runtime import KafkaService
from services.verifier.handlers import revocation_of
from shared.contracts import AssessmentPassed, BadgeIssued, BadgeRevoked, CloudEvent, Topic
from shared.credentials.bitstring_status_list import status_of
from shared.db.engine import SessionFactory, create_engine, session_factory, transaction
from shared.db.migrations import upgrade
from shared.settings import Settings
from tests.helpers import eventually, read_topic
from tests.infra import Infrastructure
from tests.issuer_support import ADMIN, FULL_ACHIEVEMENT, passed_award
from tests.kafka_stack import kafka_services, kafka_settings

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.fixture
async def sessions(postgres_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(postgres_url, pool_size=20)
    await upgrade(engine, "issuer")
    yield session_factory(engine)
    await engine.dispose()


async def fake_sign(document: dict[str, Any]) -> dict[str, Any]:
    # The races are about rows and locks; a real signature would only make the test slower.
    await asyncio.sleep(0.01)  # hold the row lock for a while, as signing does
    return {**document, "proof": {"type": "DataIntegrityProof"}}


async def test_concurrent_issuers_never_share_a_status_slot(sessions: SessionFactory) -> None:
    lists = StatusLists("https://issuer.example.org", size=16)  # tiny lists, so the race to open the next shows

    async def allocate(n: int) -> Slot:
        async with transaction(sessions) as session:
            [slot] = await lists.reserve(session, "acme", "did:web:issuer.example.org:tenants:acme", 1, fake_sign, NOW)
            return slot

    slots = await asyncio.gather(*(allocate(n) for n in range(40)))
    assert len({(slot.list_id, slot.index) for slot in slots}) == 40
    assert sorted({slot.list_id for slot in slots}) == [1, 2, 3]
    async with sessions() as session:
        rows = (await session.execute(select(StatusList).order_by(StatusList.list_id))).scalars().all()  # type: ignore[arg-type]
    assert [(row.list_id, row.allocated) for row in rows] == [(1, 16), (2, 16), (3, 8)]
    for row in rows:
        indexes = [slot.index for slot in slots if slot.list_id == row.list_id]
        assert all(0 <= index < 16 for index in indexes)
        assert json.loads(row.credential)["id"] == f"https://issuer.example.org/status-lists/acme/{row.list_id}"


async def test_a_rolled_back_issue_gives_its_slot_back(sessions: SessionFactory) -> None:
    lists = StatusLists("https://issuer.example.org", size=16)
    issuer = "did:web:issuer.example.org:tenants:acme"
    with pytest.raises(RuntimeError):
        async with transaction(sessions) as session:
            await lists.reserve(session, "acme", issuer, 1, fake_sign, NOW)
            await lists.reserve(session, "acme", issuer, 1, fake_sign, NOW)
            raise RuntimeError("signing failed")
    async with transaction(sessions) as session:
        await lists.reserve(session, "acme", issuer, 1, fake_sign, NOW)
    async with sessions() as session:
        row = (await session.execute(select(StatusList))).scalar_one()
    assert row.allocated == 1


async def test_replicas_racing_for_a_tenants_first_key_agree_on_one(sessions: SessionFactory) -> None:
    async def first_key(n: int) -> str:
        store = KeyStore(KeyEncryption("kek"))  # one store per "replica": no shared cache
        async with transaction(sessions) as session:
            key = await store.active_key(session, "acme")
            await asyncio.sleep(0.05)  # keep the transaction open while the others try
            return key.key_id

    key_ids = await asyncio.gather(*(first_key(n) for n in range(6)))
    assert len(set(key_ids)) == 1
    async with sessions() as session:
        assert (await session.execute(select(func.count()).select_from(SigningKey))).scalar() == 1


async def test_concurrent_rotations_leave_exactly_one_active_key(sessions: SessionFactory) -> None:
    store = KeyStore(KeyEncryption("kek"))
    async with transaction(sessions) as session:
        await store.active_key(session, "acme")

    async def rotate(n: int) -> str:
        replica = KeyStore(KeyEncryption("kek"))
        key = await _in_transaction(sessions, lambda session: replica.rotate(session, "acme"))
        return key.key_id

    rotated = await asyncio.gather(*(rotate(n) for n in range(4)), return_exceptions=True)
    succeeded = [r for r in rotated if isinstance(r, str)]
    assert succeeded, rotated
    async with sessions() as session:
        keys = (await session.execute(select(SigningKey).where(SigningKey.tenant_id == "acme"))).scalars().all()
    assert len(keys) == 1 + len(succeeded)
    assert len([k for k in keys if k.active]) == 1


class GatedPool(SigningPool):
    """Signs in a thread once `gate` opens: a replica caught in the middle of signing its batch."""

    def __init__(self) -> None:
        super().__init__(0)
        self.signing = asyncio.Event()
        self.gate = asyncio.Event()

    async def sign(self, jobs: Sequence[SigningJob]) -> list[SigningOutcome]:
        self.signing.set()
        await self.gate.wait()
        return await super().sign(jobs)


def replica(settings: Settings, sessions: SessionFactory, pool: SigningPool) -> IssueCredential:
    issuers = Issuers(settings, KeyStore(KeyEncryption("kek")))  # one store per replica: no shared key cache
    return IssueCredential(settings, issuers, StatusLists("https://issuer.example.org"), sessions, pool)


def batch_of(awards: list[AssessmentPassed]) -> list[tuple[AssessmentPassed, CloudEvent]]:
    return [(award, CloudEvent(source="test", type=AssessmentPassed.CE_TYPE)) for award in awards]


async def issue(handler: IssueCredential, sessions: SessionFactory, awards: list[AssessmentPassed]) -> None:
    async with transaction(sessions) as session:
        await handler.issue(session, batch_of(awards))


async def test_no_lock_is_held_while_signing_so_a_tenants_replicas_issue_side_by_side(
    settings: Settings, sessions: SessionFactory
) -> None:
    slow = GatedPool()
    first = asyncio.create_task(
        issue(replica(settings, sessions, slow), sessions, [passed_award("acme", f"a{n}") for n in range(3)])
    )
    await asyncio.wait_for(slow.signing.wait(), 30)
    # The first replica is signing, its slots reserved: the second issues for the same tenant meanwhile.
    await asyncio.wait_for(
        issue(replica(settings, sessions, SigningPool(0)), sessions, [passed_award("acme", "b")]), 30
    )
    assert not first.done()
    slow.gate.set()
    await first
    async with sessions() as session:
        rows = (await session.execute(select(IssuedCredential))).scalars().all()
        outbox = (await session.execute(select(func.count()).select_from(IssuerOutbox))).scalar_one()
    assert len(rows) == 4 and outbox == 4
    assert len({(row.status_list_id, row.status_list_index) for row in rows}) == 4


async def test_replicas_racing_on_the_same_awards_issue_each_exactly_once(
    settings: Settings, sessions: SessionFactory
) -> None:
    awards = [passed_award("acme", f"l{n}") for n in range(8)]
    # A rebalance hands the same records to two replicas: both sign, one set of credentials commits.
    await asyncio.gather(
        *(issue(replica(settings, sessions, SigningPool(0)), sessions, list(reversed(awards))) for _ in range(2)),
        issue(replica(settings, sessions, SigningPool(0)), sessions, awards),
    )
    async with sessions() as session:
        rows = (await session.execute(select(IssuedCredential))).scalars().all()
        outbox = (await session.execute(select(IssuerOutbox))).scalars().all()
    assert sorted(str(row.award_id) for row in rows) == sorted(str(award.award_id) for award in awards)
    issued = [BadgeIssued.model_validate_json(record.value) for record in outbox]
    assert sorted(badge.credential_id for badge in issued) == sorted(json.loads(r.credential)["id"] for r in rows)
    # Each announced credential is the stored one (same slot), whichever replica's signature won.
    stored = {json.loads(row.credential)["id"]: json.loads(row.credential) for row in rows}
    assert all(badge.credential == stored[badge.credential_id] for badge in issued)


TENANT = f"r{uuid.uuid4().hex[:8]}"  # Kafka topics outlive test runs: keys must be unique to this run
LMS = {"Authorization": "Bearer it-lms-key"}
# Other developers' services may share this broker and answer our events too: recognise our issuer's badges.
ISSUER_URL = f"https://{TENANT}.issuer.example"


@pytest.fixture
async def services(
    settings: Settings, infra: Infrastructure, postgres_url: str
) -> AsyncIterator[dict[str, KafkaService]]:
    config = kafka_settings(
        settings, infra, postgres_url, lms_api_keys=SecretStr(f"{TENANT}:it-lms-key"), issuer_base_url=ISSUER_URL
    )
    async with kafka_services(config) as running:
        yield running


def client(service: KafkaService) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=service.parts.http), base_url="http://service")


async def test_revocation_is_announced_through_the_outbox_on_kafka(
    services: dict[str, KafkaService], infra: Infrastructure
) -> None:
    tenant = TENANT
    key = f"{tenant}:ivy".encode()
    bootstrap = infra.kafka_bootstrap_servers
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    async with client(services["assessment"]) as assessment, client(services["enrollment"]) as enrollment:
        response = await assessment.put(
            f"/v1/tenants/{tenant}/achievements/data-viz", json=FULL_ACHIEVEMENT, headers=ADMIN
        )
        assert response.status_code == 200, response.text
        activities = [
            {"tenant_id": tenant, "learner_id": "ivy", "event_id": "e1", "kind": "enrolled",
             "achievement_id": "data-viz", "occurred_at": t0.isoformat()},
            {"tenant_id": tenant, "learner_id": "ivy", "event_id": "e2", "kind": "scored",
             "assessment_id": "chart-quiz", "score": 45, "max_score": 50, "occurred_at": t0.isoformat()},
            {"tenant_id": tenant, "learner_id": "ivy", "event_id": "e3", "kind": "scored",
             "assessment_id": "portfolio", "score": 9, "max_score": 10, "rubric": {"clarity": "proficient"},
             "occurred_at": t0.isoformat()},
        ]  # fmt: skip
        response = await enrollment.post("/v1/activities", json=activities, headers=LMS)
        assert response.status_code == 202, response.text

    def ours(record: Any) -> bool:
        return record.key == key and ISSUER_URL.encode() in record.value

    [record] = await read_topic(bootstrap, str(Topic.BADGE_ISSUED), match=ours, until=bool)
    badge = BadgeIssued.model_validate_json(record.value)
    status = badge.credential["credentialStatus"]
    assert status["statusListCredential"].endswith(f"/status-lists/{tenant}/1")

    async with client(services["issuer"]) as issuer:
        response = await issuer.post(
            f"/v1/credentials/{badge.credential_id}/revoke", json={"reason": "Issued in error"}, headers=ADMIN
        )
        assert response.status_code == 200, response.text
        [revoked_record] = await read_topic(bootstrap, str(Topic.BADGE_REVOKED), match=ours, until=bool)
        revoked = BadgeRevoked.model_validate_json(revoked_record.value)
        assert revoked.credential_id == badge.credential_id and revoked.reason == "Issued in error"
        assert revoked.status_list_index == int(status["statusListIndex"])
        status_list = (await issuer.get(f"/status-lists/{tenant}/1")).json()
        assert status_of(status_list, int(status["statusListIndex"])) is True

    credential_uuid = uuid.UUID(badge.credential_id.removeprefix("urn:uuid:"))
    verifier_sessions = session_factory(services["verifier"].engine)

    async def recorded() -> Any:
        async with verifier_sessions() as session:
            return await revocation_of(session, credential_uuid)

    revocation = await eventually(recorded)
    assert revocation.reason == "Issued in error"
    async with client(services["verifier"]) as verifier:
        report = (await verifier.get(f"/credentials/{credential_uuid}/verification")).json()
    assert report["verified"] is False
    assert "status.revoked" in {c["code"] for c in report["checks"] if c["outcome"] == "failed"}, report

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
from sqlalchemy import func, select, text

from services.issuer.adapters.keystore import KeyEncryption, KeyStore
from services.issuer.adapters.status_lists import LANES, StatusLists
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


ISSUER = "did:web:issuer.example.org:tenants:acme"


async def lists_by_lane(sessions: SessionFactory) -> dict[int, list[StatusList]]:
    async with sessions() as session:
        rows = (await session.execute(select(StatusList).order_by(StatusList.list_id))).scalars().all()  # type: ignore[arg-type]
    lanes: dict[int, list[StatusList]] = {}
    for row in rows:
        lanes.setdefault(row.lane, []).append(row)
    return lanes


def assert_well_filled(lanes: dict[int, list[StatusList]], slots: Sequence[Slot], size: int) -> None:
    """Every slot once, on a list with room for it; in each lane every list but the newest is full."""
    assert len({(slot.list_id, slot.index) for slot in slots}) == len(slots)
    rows = [row for lane in lanes.values() for row in lane]
    assert sum(row.allocated for row in rows) == len(slots)
    assert len({row.list_id for row in rows}) == len(rows)
    for row in rows:
        indexes = [slot.index for slot in slots if slot.list_id == row.list_id]
        assert len(indexes) == row.allocated <= size
        assert all(0 <= index < size for index in indexes)
        assert json.loads(row.credential)["id"] == f"https://issuer.example.org/status-lists/acme/{row.list_id}"
    for lane in lanes.values():
        assert all(row.allocated == size for row in lane[:-1])


async def test_concurrent_issuers_never_share_a_status_slot(sessions: SessionFactory) -> None:
    lists = StatusLists("https://issuer.example.org", size=16)  # tiny lists, so the race to open the next shows

    async def allocate(n: int) -> Slot:
        async with transaction(sessions) as session:
            [slot] = await lists.reserve(session, "acme", ISSUER, 1, fake_sign, NOW)
            return slot

    slots = await asyncio.gather(*(allocate(n) for n in range(40)))
    lanes = await lists_by_lane(sessions)
    assert_well_filled(lanes, slots, 16)
    assert set(lanes) <= set(range(LANES))


async def test_a_tenants_reservations_do_not_wait_for_each_other(sessions: SessionFactory) -> None:
    """Two replicas reserving for one tenant at the same moment lock different lists: the second does not wait for
    the first to commit (before lanes it did: one list row per tenant, locked FOR UPDATE)."""
    lists = StatusLists("https://issuer.example.org", size=1024)
    async with transaction(sessions) as first:
        [held] = await lists.reserve(first, "acme", ISSUER, 1, fake_sign, NOW)

        async def second() -> list[Slot]:
            async with transaction(sessions) as session:
                return await lists.reserve(session, "acme", ISSUER, 3, fake_sign, NOW)

        others = await asyncio.wait_for(second(), 10)  # the first transaction is still open
    assert held.list_id not in {slot.list_id for slot in others}
    # Once nobody else is reserving, the tenant's reservations go back to lane 0's list.
    async with transaction(sessions) as session:
        [after] = await lists.reserve(session, "acme", ISSUER, 1, fake_sign, NOW)
    assert after.list_id == held.list_id


async def waiting_locks(sessions: SessionFactory, stop: asyncio.Event) -> list[int]:
    """Sample pg_locks until `stop`: how many lock requests of this database were waiting, per sample.

    Not counted: relation extension locks (`extend`), which concurrent writers of any table take for a moment while
    PostgreSQL adds a page to its file; they serialise storage, not a tenant's reservations (seen here about once in
    ten runs, on the UPDATE's new row version)."""
    samples = []
    async with sessions() as session:
        while not stop.is_set():
            query = text(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE NOT l.granted AND l.locktype <> 'extend' AND a.datname = current_database()"
            )
            samples.append((await session.execute(query)).scalar_one())
            await session.rollback()
            await asyncio.sleep(0.002)
    return samples


async def test_replicas_reserving_side_by_side_never_wait_and_share_no_slot(sessions: SessionFactory) -> None:
    """Stress: six "replicas" (fewer than the lanes) reserve blocks of 1 to 5 slots 40 times each on 8-slot lists,
    holding each reservation's transaction open a moment, while pg_locks is sampled: no lock request ever waits,
    no slot is handed out twice, lists fill in order, none is left half-used in a lane."""
    lists = StatusLists("https://issuer.example.org", size=8)
    stop = asyncio.Event()
    sampler = asyncio.create_task(waiting_locks(sessions, stop))

    async def replica(n: int) -> list[Slot]:
        slots: list[Slot] = []
        for round_ in range(40):
            async with transaction(sessions) as session:
                slots += await lists.reserve(session, "acme", ISSUER, 1 + (n + round_) % 5, fake_sign, NOW)
                await asyncio.sleep(0.001 * (round_ % 3))
        return slots

    reserved = await asyncio.gather(*(replica(n) for n in range(6)))
    stop.set()
    samples = await sampler
    slots = [slot for block in reserved for slot in block]
    assert len(slots) == sum(1 + (n + r) % 5 for n in range(6) for r in range(40))
    assert_well_filled(await lists_by_lane(sessions), slots, 8)
    assert len(samples) > 50 and max(samples) == 0, samples


async def test_more_reservations_than_lanes_wait_their_turn_and_share_no_slot(sessions: SessionFactory) -> None:
    """Beyond the lanes a reservation waits for one (a random lane): still every slot once, lists filled in order."""
    lists = StatusLists("https://issuer.example.org", size=8, lanes=2)

    async def allocate(n: int) -> list[Slot]:
        async with transaction(sessions) as session:
            slots = await lists.reserve(session, "acme", ISSUER, 1 + n % 4, fake_sign, NOW)
            await asyncio.sleep(0.005)
            return slots

    reserved = await asyncio.gather(*(allocate(n) for n in range(60)))
    slots = [slot for block in reserved for slot in block]
    lanes = await lists_by_lane(sessions)
    assert set(lanes) == {0, 1}
    assert_well_filled(lanes, slots, 8)


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

"""Wallet claims on real PostgreSQL: replicas racing on one claim link, one holder claiming through two links at
once, and revocation reaching every copy. Each task has its own connection and transaction, as replicas would."""

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from services.demo_wallet import did_auth
from services.issuer.adapters.keystore import KeyEncryption, KeyStore
from services.issuer.adapters.status_lists import StatusLists
from services.issuer.adapters.tables import HolderCopy, IssuedCredential
from services.issuer.did_auth import PresentationRefused
from services.issuer.entrypoint import _in_transaction
from services.issuer.handlers import IssueCredential, Issuers, revoke_credential
from services.issuer.signing import SigningPool
from services.issuer.wallet import ClaimLink, ClaimRefused, claim, create_claim
from shared.contracts import AssessmentPassed, CloudEvent
from shared.credentials.bitstring_status_list import status_of
from shared.credentials.keys import did_key, generate_key
from shared.db.engine import SessionFactory, create_engine, session_factory, transaction
from shared.db.migrations import upgrade
from shared.settings import Settings
from tests.issuer_support import passed_award

pytestmark = pytest.mark.integration
ISSUER_URL = "https://issuer.example.org"
DOMAIN = "issuer.example.org"


@pytest.fixture
async def sessions(postgres_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(postgres_url, pool_size=20)
    await upgrade(engine, "issuer")
    yield session_factory(engine)
    await engine.dispose()


def replica(settings: Settings) -> tuple[Issuers, StatusLists]:
    """One replica's view: its own key store (no shared cache) and status lists."""
    return Issuers(settings, KeyStore(KeyEncryption("kek"))), StatusLists(ISSUER_URL)


async def issued_award(settings: Settings, sessions: SessionFactory) -> AssessmentPassed:
    issuers, lists = replica(settings)
    award = passed_award()
    async with transaction(sessions) as session:
        handler = IssueCredential(settings, issuers, lists, sessions, SigningPool(0))
        await handler.issue(session, [(award, CloudEvent(source="test", type=AssessmentPassed.CE_TYPE))])
    return award


async def new_link(settings: Settings, sessions: SessionFactory, award: AssessmentPassed) -> ClaimLink:
    issuers, _ = replica(settings)
    return await _in_transaction(
        sessions, lambda s: create_claim(s, issuers, ISSUER_URL, award.award_id, timedelta(minutes=10))
    )


async def present(settings: Settings, sessions: SessionFactory, link: ClaimLink, vp: dict[str, Any]) -> Any:
    issuers, lists = replica(settings)
    secret = link.exchange_url.rsplit("/", 1)[1]
    return await _in_transaction(sessions, lambda s: claim(s, issuers, lists, secret, vp, DOMAIN))


def credential_of(answer: dict[str, Any]) -> dict[str, Any]:
    (credential,) = answer["verifiablePresentation"]["verifiableCredential"]
    return credential


async def test_replicas_racing_on_one_claim_link_hand_out_one_credential(
    settings: Settings, sessions: SessionFactory
) -> None:
    award = await issued_award(settings, sessions)
    link = await new_link(settings, sessions, award)
    holders = [generate_key() for _ in range(6)]
    outcomes = await asyncio.gather(
        *(present(settings, sessions, link, did_auth(key, link.challenge, DOMAIN)) for key in holders),
        return_exceptions=True,
    )
    won = [outcome for outcome in outcomes if isinstance(outcome, dict)]
    lost = [outcome for outcome in outcomes if not isinstance(outcome, dict)]
    assert len(won) == 1 and len(lost) == 5, outcomes
    assert all(isinstance(error, ClaimRefused) and error.code == "exchange.completed" for error in lost), lost
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(HolderCopy)) == 1


async def test_one_holder_claiming_through_two_links_at_once_gets_one_copy(
    settings: Settings, sessions: SessionFactory
) -> None:
    award = await issued_award(settings, sessions)
    links = [await new_link(settings, sessions, award) for _ in range(3)]
    holder = generate_key()
    answers = await asyncio.gather(
        *(present(settings, sessions, link, did_auth(holder, link.challenge, DOMAIN)) for link in links)
    )
    copies = [credential_of(answer) for answer in answers]
    assert copies[0] == copies[1] == copies[2]
    assert copies[0]["credentialSubject"]["id"] == did_key(holder)

    # A completed link refuses the same presentation again; a forged one never completes a link.
    with pytest.raises(ClaimRefused):
        await present(settings, sessions, links[0], did_auth(holder, links[0].challenge, DOMAIN))
    fresh = await new_link(settings, sessions, award)
    forged = did_auth(generate_key(), fresh.challenge, DOMAIN, holder=did_key(holder))
    with pytest.raises(PresentationRefused):
        await present(settings, sessions, fresh, forged)


async def test_revoking_the_award_sets_every_copys_bit(settings: Settings, sessions: SessionFactory) -> None:
    award = await issued_award(settings, sessions)
    copies = []
    for _ in range(3):
        link = await new_link(settings, sessions, award)
        answer = await present(settings, sessions, link, did_auth(generate_key(), link.challenge, DOMAIN))
        copies.append(credential_of(answer))
    async with sessions() as session:
        row = (
            await session.execute(select(IssuedCredential).where(IssuedCredential.award_id == award.award_id))
        ).scalar_one()
    issuers, lists = replica(settings)
    await _in_transaction(
        sessions, lambda s: revoke_credential(s, issuers, lists, row.credential_id, "Issued in error")
    )
    async with sessions() as session:
        for credential in [json.loads(row.credential), *copies]:
            list_id = int(credential["credentialStatus"]["statusListCredential"].rsplit("/", 1)[1])
            listing = await lists.get(session, "acme", list_id)
            assert listing is not None
            index = int(credential["credentialStatus"]["statusListIndex"])
            assert status_of(json.loads(listing.credential), index) is True
    link_refused = pytest.raises(ClaimRefused)
    with link_refused:
        await new_link(settings, sessions, award)

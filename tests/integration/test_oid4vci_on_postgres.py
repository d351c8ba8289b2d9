"""OpenID4VCI state on real PostgreSQL: replicas racing on one pre-authorized code (one gets a token), on one
c_nonce (one credential), and one holder through two offers at once (one copy). Each task has its own
connection and transaction, as replicas would."""

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from services.demo_oid4vci import key_proof
from services.issuer.adapters.tables import CredentialOffer, HolderCopy
from services.issuer.credential_offers import (
    MAX_TX_CODE_FAILURES,
    AccessToken,
    CreatedOffer,
    bound_offer,
    create_offer,
    issue,
    new_nonce,
    redeem,
)
from services.issuer.entrypoint import _in_transaction
from services.issuer.oid4vci import OAuthError, TokenRequest, digest, parse_credential_request
from shared.credentials.keys import did_key, generate_key
from shared.db.engine import SessionFactory
from shared.settings import Settings
from tests.integration.test_wallet_exchange_on_postgres import (  # noqa: F401 (sessions is a fixture)
    ISSUER_URL,
    issued_award,
    pytestmark,
    replica,
    sessions,
)

REPLICAS = 6


async def new_offer(sessions_: SessionFactory, award_id: Any, tx_code_length: int | None = None) -> CreatedOffer:
    return await _in_transaction(
        sessions_, lambda s: create_offer(s, ISSUER_URL, award_id, timedelta(minutes=10), tx_code_length)
    )


async def token_for(sessions_: SessionFactory, offer: CreatedOffer) -> AccessToken | OAuthError:
    return await _in_transaction(sessions_, lambda s: redeem(s, TokenRequest(offer.code, offer.tx_code)))


async def request_credential(settings: Settings, sessions_: SessionFactory, token: str, proof: str) -> Any:
    issuers, lists = replica(settings)
    async with sessions_() as session:
        offer = await bound_offer(session, token)
    request = parse_credential_request(
        {"credential_configuration_id": "OpenBadgeCredential", "proofs": {"jwt": [proof]}}
    )
    return await _in_transaction(sessions_, lambda s: issue(s, issuers, lists, offer, request, ISSUER_URL))


async def test_replicas_racing_on_one_pre_authorized_code_hand_out_one_token(
    settings: Settings,
    sessions: SessionFactory,  # noqa: F811
) -> None:
    award = await issued_award(settings, sessions)
    offer = await new_offer(sessions, award.award_id, tx_code_length=6)
    outcomes = await asyncio.gather(*(token_for(sessions, offer) for _ in range(REPLICAS)))
    won = [outcome for outcome in outcomes if isinstance(outcome, AccessToken)]
    lost = [outcome for outcome in outcomes if isinstance(outcome, OAuthError)]
    assert len(won) == 1 and len(lost) == REPLICAS - 1, outcomes
    assert {error.error for error in lost} == {"invalid_grant"}


async def test_a_c_nonce_is_spent_once_across_replicas(
    settings: Settings,
    sessions: SessionFactory,  # noqa: F811
) -> None:
    award = await issued_award(settings, sessions)
    tokens = []
    for _ in range(REPLICAS):
        granted = await token_for(sessions, await new_offer(sessions, award.award_id))
        assert isinstance(granted, AccessToken)
        tokens.append(granted.token)
    nonce = await _in_transaction(sessions, new_nonce)
    # Six wallets (six offers, six keys) race with one nonce: one credential, the others must get a new nonce.
    outcomes = await asyncio.gather(
        *(
            request_credential(settings, sessions, token, key_proof(generate_key(), audience=ISSUER_URL, nonce=nonce))
            for token in tokens
        )
    )
    issued = [outcome for outcome in outcomes if isinstance(outcome, dict)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, OAuthError)]
    assert len(issued) == 1 and {error.error for error in refused} == {"invalid_nonce"}, outcomes


async def test_one_holder_through_two_offers_at_once_gets_one_copy(
    settings: Settings,
    sessions: SessionFactory,  # noqa: F811
) -> None:
    award = await issued_award(settings, sessions)
    holder = generate_key()
    tokens = []
    for _ in range(3):
        granted = await token_for(sessions, await new_offer(sessions, award.award_id))
        assert isinstance(granted, AccessToken)
        tokens.append(granted.token)
    nonces = [await _in_transaction(sessions, new_nonce) for _ in tokens]
    answers = await asyncio.gather(
        *(
            request_credential(settings, sessions, token, key_proof(holder, audience=ISSUER_URL, nonce=nonce))
            for token, nonce in zip(tokens, nonces, strict=True)
        )
    )
    copies = [answer["credentials"][0]["credential"] for answer in answers]
    assert copies[0] == copies[1] == copies[2] and copies[0]["credentialSubject"]["id"] == did_key(holder)
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(HolderCopy).where(HolderCopy.holder_did == did_key(holder))  # type: ignore[arg-type]
        )
    assert count == 1


async def test_concurrent_pin_guesses_never_pass_the_limit(
    settings: Settings,
    sessions: SessionFactory,  # noqa: F811
) -> None:
    award = await issued_award(settings, sessions)
    offer = await new_offer(sessions, award.award_id, tx_code_length=4)
    assert offer.tx_code is not None
    guesses = [f"{n:04d}" for n in range(10**4) if f"{n:04d}" != offer.tx_code][: 3 * MAX_TX_CODE_FAILURES]
    wrong = await asyncio.gather(
        *(_in_transaction(sessions, lambda s, g=guess: redeem(s, TokenRequest(offer.code, g))) for guess in guesses)
    )
    assert all(isinstance(outcome, OAuthError) and outcome.error == "invalid_grant" for outcome in wrong)
    async with sessions() as session:
        row = await session.get(CredentialOffer, digest(offer.code))
        assert row is not None and row.failed_tx_codes == MAX_TX_CODE_FAILURES
    # The right PIN comes too late: the code is dead.
    assert isinstance(await token_for(sessions, offer), OAuthError)

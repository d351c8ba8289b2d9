"""Issuer keys at rest and over time: encrypted seeds only, one active key per tenant, rotation, revocation."""

import base64
from collections.abc import AsyncIterator

import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from services.issuer.adapters.keystore import KeyEncryption, KeyNotFound, KeyStore
from services.issuer.adapters.tables import SigningKey
from shared.credentials.keys import key_to_seed
from shared.credentials.multibase import encode_base58btc
from shared.db.engine import SessionFactory, create_engine, session_factory, transaction
from shared.db.migrations import upgrade


@pytest.fixture
async def sessions(sqlite_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(sqlite_url)
    await upgrade(engine, "issuer")
    yield session_factory(engine)
    await engine.dispose()


async def test_the_database_never_holds_a_plaintext_key(sessions: SessionFactory) -> None:
    store = KeyStore(KeyEncryption("kek-one"))
    async with transaction(sessions) as session:
        key = await store.active_key(session, "acme")
    seed = key_to_seed(key.private_key)
    async with sessions() as session:
        raw = (await session.execute(text("SELECT * FROM issuer_signing_keys"))).all()
    dump = b"".join(value if isinstance(value, bytes) else str(value).encode() for row in raw for value in row)
    for encoding in (seed, seed.hex().encode(), base64.b64encode(seed), encode_base58btc(seed).encode()):
        assert encoding not in dump
    sealed = raw[0]._mapping["encrypted_private_key"]
    assert len(sealed) == 12 + 32 + 16  # nonce, ciphertext, GCM tag

    # Another key-encryption key cannot open it, and a sealed key cannot be moved to another tenant.
    with pytest.raises(InvalidTag):
        KeyEncryption("kek-two").open(sealed, "acme", key.key_id)
    with pytest.raises(InvalidTag):
        KeyEncryption("kek-one").open(sealed, "globex", key.key_id)
    assert KeyEncryption("kek-one").open(sealed, "acme", key.key_id) == seed


async def test_a_new_process_with_the_same_secret_signs_with_the_same_key(sessions: SessionFactory) -> None:
    async with transaction(sessions) as session:
        first = await KeyStore(KeyEncryption("kek")).active_key(session, "acme")
    async with transaction(sessions) as session:
        again = await KeyStore(KeyEncryption("kek")).active_key(session, "acme")
        other_tenant = await KeyStore(KeyEncryption("kek")).active_key(session, "globex")
    assert again.key_id == first.key_id
    assert key_to_seed(again.private_key) == key_to_seed(first.private_key)
    assert other_tenant.key_id != first.key_id  # each tenant its own keys


async def test_rotation_keeps_earlier_keys_and_activates_exactly_one(sessions: SessionFactory) -> None:
    store = KeyStore(KeyEncryption("kek"))
    async with transaction(sessions) as session:
        first = await store.active_key(session, "acme")
    async with transaction(sessions) as session:
        second = await store.rotate(session, "acme")
    async with transaction(sessions) as session:
        assert (await store.active_key(session, "acme")).key_id == second.key_id
        keys = await store.keys(session, "acme")
        assert [(k.key_id, k.active) for k in keys] == [(first.key_id, False), (second.key_id, True)]
        assert keys[0].retired_at is not None and keys[0].revoked_at is None
        # The retired key is still there to re-sign what it issued (did:key status lists).
        assert key_to_seed((await store.key(session, "acme", first.key_id)).private_key) == key_to_seed(
            first.private_key
        )


async def test_the_database_refuses_a_second_active_key(sessions: SessionFactory) -> None:
    store = KeyStore(KeyEncryption("kek"))
    async with transaction(sessions) as session:
        await store.active_key(session, "acme")
    with pytest.raises(IntegrityError):
        async with transaction(sessions) as session:
            session.add(SigningKey(tenant_id="acme", key_id="z6MkSecond", encrypted_private_key=b"x", active=True))
            await session.flush()


async def test_only_a_retired_key_can_be_revoked(sessions: SessionFactory) -> None:
    store = KeyStore(KeyEncryption("kek"))
    async with transaction(sessions) as session:
        first = await store.active_key(session, "acme")
    with pytest.raises(ValueError, match="rotate first"):
        async with transaction(sessions) as session:
            await store.revoke(session, "acme", first.key_id)
    with pytest.raises(KeyNotFound):
        async with transaction(sessions) as session:
            await store.revoke(session, "acme", "z6MkUnknown")
    async with transaction(sessions) as session:
        await store.rotate(session, "acme")
    async with transaction(sessions) as session:
        revoked = await store.revoke(session, "acme", first.key_id)
        assert revoked.revoked_at is not None

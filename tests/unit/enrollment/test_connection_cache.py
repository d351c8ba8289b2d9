"""The LMS gate reads a connection (and its mapping rules) from the database once per `cache_seconds`, and again
after `forget`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import event, update

from services.enrollment.adapters.connection_store import (
    environment_connection_id,
    replace_rules,
    sync_environment_keys,
)
from services.enrollment.adapters.secrets import SecretBox
from services.enrollment.adapters.tables import LmsConnection
from services.enrollment.connections import RateLimiter
from services.enrollment.lms_http import LmsGate
from services.enrollment.mapping import MappingRule, Match
from shared.db.engine import SessionFactory, create_engine, session_factory, transaction
from shared.db.migrations import upgrade

KEY = "acme-key"


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[tuple[SessionFactory, list[str]]]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'enrollment.db'}")
    await upgrade(engine, "enrollment")
    factory = session_factory(engine)
    async with transaction(factory) as session:
        await sync_environment_keys(session, {KEY: "acme"}, rate_per_second=10, burst=10)
    selects: list[str] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    yield factory, selects
    await engine.dispose()


async def test_a_connection_is_read_once_then_served_from_the_cache(sessions: tuple[SessionFactory, list[str]]) -> None:
    factory, selects = sessions
    gate = LmsGate(factory, SecretBox("kek"), RateLimiter())
    first = await gate.lookup(KEY, None)
    second = await gate.lookup(KEY, None)
    assert first is not None and first.tenant_id == "acme"
    assert second == first
    assert len(selects) == 1


async def test_forget_reads_a_disabled_connection_again(sessions: tuple[SessionFactory, list[str]]) -> None:
    factory, _ = sessions
    gate = LmsGate(factory, SecretBox("kek"), RateLimiter())
    assert (await gate.lookup(KEY, None)).enabled  # type: ignore[union-attr]
    async with transaction(factory) as session:
        connection_id = environment_connection_id("acme", KEY)
        await session.execute(update(LmsConnection).where(LmsConnection.id == connection_id).values(enabled=False))  # type: ignore[arg-type]
    assert (await gate.lookup(KEY, None)).enabled  # type: ignore[union-attr]  # cached for cache_seconds
    gate.forget()
    assert not (await gate.lookup(KEY, None)).enabled  # type: ignore[union-attr]


async def test_unknown_keys_are_not_cached(sessions: tuple[SessionFactory, list[str]]) -> None:
    factory, selects = sessions
    gate = LmsGate(factory, SecretBox("kek"), RateLimiter())
    assert await gate.lookup("no-such-key", None) is None
    assert await gate.lookup("no-such-key", None) is None
    assert len(selects) == 2


async def test_entries_expire(sessions: tuple[SessionFactory, list[str]]) -> None:
    factory, selects = sessions
    gate = LmsGate(factory, SecretBox("kek"), RateLimiter(), cache_seconds=0)
    await gate.lookup(KEY, None)
    await gate.lookup(KEY, None)
    assert len(selects) == 2


async def test_mapping_rules_are_read_once_until_forgotten(sessions: tuple[SessionFactory, list[str]]) -> None:
    factory, selects = sessions
    gate = LmsGate(factory, SecretBox("kek"), RateLimiter())
    connection_id = environment_connection_id("acme", KEY)
    rule = MappingRule(match=Match.EXACT, lms_id="course-1", achievement_id="badge-1")
    async with factory() as session:
        assert await gate.rules(session, connection_id) == []
    async with transaction(factory) as session:
        await replace_rules(session, connection_id, [rule])
    async with factory() as session:
        assert await gate.rules(session, connection_id) == []  # cached for cache_seconds
        gate.forget()  # what the admin API does after replacing the rules
        assert await gate.rules(session, connection_id) == [rule]
    assert sum("enrollment_mapping_rules" in statement for statement in selects) == 2

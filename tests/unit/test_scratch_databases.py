"""Dropping a scratch database waits out PostgreSQL's momentary refusals (a backend attached with no role yet) and
fails at once on anything else."""

import asyncpg
import pytest

from shared.db import scratch


async def test_a_momentary_refusal_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    refusals = [asyncpg.exceptions.InsufficientPrivilegeError("must be a member of the role…")] * 2
    statements: list[str] = []

    async def execute(url: str, sql: str) -> None:
        statements.append(sql)
        if refusals:
            raise refusals.pop()

    monkeypatch.setattr(scratch, "_execute", execute)
    await scratch.drop_database("postgresql+asyncpg://u:p@127.0.0.1/admin", "t_x", pause=0)
    assert statements == ['DROP DATABASE IF EXISTS "t_x" WITH (FORCE)'] * 3


async def test_other_errors_and_lasting_refusals_are_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0

    async def execute(url: str, sql: str) -> None:
        nonlocal calls
        calls += 1
        raise asyncpg.exceptions.InsufficientPrivilegeError("lasting")

    monkeypatch.setattr(scratch, "_execute", execute)
    with pytest.raises(asyncpg.exceptions.InsufficientPrivilegeError):
        await scratch.drop_database("postgresql+asyncpg://u:p@127.0.0.1/admin", "t_x", attempts=3, pause=0)
    assert calls == 3

    async def syntax(url: str, sql: str) -> None:
        raise asyncpg.exceptions.PostgresSyntaxError("no")

    monkeypatch.setattr(scratch, "_execute", syntax)
    with pytest.raises(asyncpg.exceptions.PostgresSyntaxError):
        await scratch.drop_database("postgresql+asyncpg://u:p@127.0.0.1/admin", "t_x", pause=0)


def test_urls_point_at_the_new_database() -> None:
    url = "postgresql+asyncpg://u:p%40ss@127.0.0.1:5432/admin"
    assert scratch.beside(url, "t_y") == "postgresql+asyncpg://u:p%40ss@127.0.0.1:5432/t_y"
    assert scratch.admin_dsn(url) == "postgresql://u:p%40ss@127.0.0.1:5432/admin"

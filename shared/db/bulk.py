"""Set-based writes both backends understand: multi-row INSERT with ON CONFLICT (PostgreSQL and SQLite)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def upsert_statement(session: AsyncSession, table: Any) -> Any:
    """A Core INSERT into `table` (an ORM class or Table) with `.on_conflict_do_nothing/_update` of the session's
    dialect; both dialects share that API. Core, not ORM: rows go to the driver as they are (no per-row ORM work)."""
    target = getattr(table, "__table__", table)
    bind = session.bind
    if bind is not None and bind.dialect.name == "postgresql":
        return postgresql.insert(target)
    return sqlite.insert(target)

"""Set-based writes both backends understand: multi-row INSERT with ON CONFLICT (PostgreSQL and SQLite)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


async def insert_new(
    session: AsyncSession, table: Any, rows: Sequence[Mapping[str, Any]], *returning: Any
) -> list[Any]:
    """INSERT `rows`, skipping any that would violate a unique constraint (`ON CONFLICT DO NOTHING`).

    Returns the `returning` columns of the rows actually inserted, so callers learn which ones were new (for a
    conflict with a concurrent, uncommitted insert, PostgreSQL waits for that transaction to finish first).
    """
    if not rows:
        return []
    # The table, not the ORM class: a Core executemany skips the ORM's per-row bookkeeping.
    statement = upsert_statement(session, table.__table__).on_conflict_do_nothing()
    if not returning:
        await session.execute(statement, list(rows))
        return []
    return list(await session.execute(statement.returning(*returning), list(rows)))

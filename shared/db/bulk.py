"""Set-based writes: many rows in one statement, whatever the backend (PostgreSQL or SQLite)."""

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Row
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


async def insert_new(
    session: AsyncSession, table: type[Any], rows: Sequence[Mapping[str, Any]], *returning: Any
) -> list[Row[Any]]:
    """INSERT `rows`, skipping any that would violate a unique constraint (`ON CONFLICT DO NOTHING`).

    Returns the `returning` columns of the rows actually inserted, so callers learn which ones were new (for a
    conflict with a concurrent, uncommitted insert, PostgreSQL waits for that transaction to finish first).
    """
    if not rows:
        return []
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    # The table, not the ORM class: a Core executemany skips the ORM's per-row bookkeeping.
    statement = dialect.insert(table.__table__).on_conflict_do_nothing()
    if not returning:
        await session.execute(statement, list(rows))
        return []
    return list(await session.execute(statement.returning(*returning), list(rows)))

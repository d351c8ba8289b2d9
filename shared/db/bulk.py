"""Set-based writes both backends understand: multi-row INSERT with ON CONFLICT (PostgreSQL and SQLite)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import String, Text, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def upsert_statement(session: AsyncSession, table: Any) -> Any:
    """A Core INSERT into `table` (an ORM class or Table) with `.on_conflict_do_nothing/_update` of the session's
    dialect; both dialects share that API. Core, not ORM: rows go to the driver as they are (no per-row ORM work)."""
    target = getattr(table, "__table__", table)
    if is_postgres(session):
        return postgresql.insert(target)
    return sqlite.insert(target)


async def insert_rows(session: AsyncSession, table: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT `rows` (all with the same keys) in one statement, in their order."""
    if rows:
        await session.execute(*_insert(session, table, rows))


async def insert_new(
    session: AsyncSession, table: Any, rows: Sequence[Mapping[str, Any]], *returning: Any
) -> list[Any]:
    """INSERT `rows` (all with the same keys), skipping any that would violate a unique constraint
    (`ON CONFLICT DO NOTHING`).

    Returns the `returning` columns of the rows actually inserted, so callers learn which ones were new (for a
    conflict with a concurrent, uncommitted insert, PostgreSQL waits for that transaction to finish first).
    """
    if not rows:
        return []
    statement, parameters = _insert(session, table, rows)
    statement = statement.on_conflict_do_nothing()
    if not returning:
        await session.execute(statement, parameters)
        return []
    return list(await session.execute(statement.returning(*returning), parameters))


def _insert(session: AsyncSession, table: Any, rows: Sequence[Mapping[str, Any]]) -> tuple[Any, Any]:
    """The statement and its parameters. On PostgreSQL the rows travel as one array per column, unnested in
    order (`INSERT … SELECT … FROM unnest(…) WITH ORDINALITY ORDER BY`): one set of parameters instead of one per
    row, which SQLAlchemy would otherwise process row by row and column by column. SQLite gets an executemany."""
    target = getattr(table, "__table__", table)
    if not is_postgres(session):
        return sqlite.insert(target), list(rows)
    names = list(rows[0])
    arrays = [bindparam(f"unnest_{name}", type_=postgresql.ARRAY(_element_type(target.c[name]))) for name in names]
    source = func.unnest(*arrays).table_valued(*names, with_ordinality="position").render_derived()
    ordered = select(*(source.c[name] for name in names)).order_by(source.c.position)
    parameters = {f"unnest_{name}": [row[name] for row in rows] for name in names}
    return postgresql.insert(target).from_select(names, ordered), parameters


def _element_type(column: Any) -> Any:
    """The column's type for its parameter array; strings as TEXT: the array is cast explicitly, and an explicit
    cast to VARCHAR(n) would cut an over-long value where inserting it into the column refuses it."""
    declared = column.type
    if isinstance(getattr(declared, "impl", declared), String):  # TypeDecorators (SQLModel's AutoString) too
        return Text()
    return declared


def is_postgres(session: AsyncSession) -> bool:
    bind = session.bind
    return bind is not None and bind.dialect.name == "postgresql"

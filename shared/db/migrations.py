"""Alembic, run per service: each service keeps its own migrations and its own version table.

A service's `migrations/env.py` calls `run_migrations(prefix)`; `upgrade()` runs them from code (serialised by an
advisory lock on PostgreSQL so replicas starting together do not race). A starting service calls
`ensure_current()`: one query when its tables are already at head, Alembic (imported only then) when they are not.
"""

from __future__ import annotations

import ast
import zlib
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db.errors import is_outage

if TYPE_CHECKING:
    from alembic.config import Config

SERVICES_DIR = Path(__file__).resolve().parents[2] / "services"


def alembic_config(service: str, connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SERVICES_DIR / service / "migrations"))
    config.attributes["service"] = service
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def run_migrations(service: str) -> None:
    """Body of a service's alembic env.py: migrate only the tables whose names start with `<service>_`."""
    from alembic import context
    from sqlmodel import SQLModel  # also what the migration scripts' sqlmodel types need

    connection: Connection = context.config.attributes["connection"]
    prefix = f"{service}_"

    def include_name(name: str | None, type_: str, _parent: object) -> bool:
        return type_ != "table" or bool(name and name.startswith(prefix))

    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        version_table=f"alembic_version_{service}",
        include_name=include_name,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _upgrade(connection: Connection, service: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(service, connection), "head")


async def upgrade(engine: AsyncEngine, service: str) -> None:
    """Bring `service`'s tables to the newest revision."""
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": zlib.crc32(b"migrate")})
        await connection.run_sync(_upgrade, service)


@cache
def head_revisions(service: str) -> frozenset[str]:
    """The revisions no other revision of `service` revises, read from its scripts' `revision` / `down_revision`
    assignments without running them (running them means importing Alembic and its DDL modules, most of a start)."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for script in (SERVICES_DIR / service / "migrations" / "versions").glob("*.py"):
        revision, parents = _revision_and_parents(script)
        revisions.add(revision)
        revised.update(parents)
    return frozenset(revisions - revised)


def _revision_and_parents(script: Path) -> tuple[str, tuple[str, ...]]:
    values: dict[str, object] = {}
    for node in ast.parse(script.read_text(), str(script)).body:
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
            values[target.id] = ast.literal_eval(value)
    revision, down = values.get("revision"), values.get("down_revision")
    if not isinstance(revision, str):
        raise ValueError(f"{script}: no revision = '<id>' assignment")
    # down_revision: None (the first), one id, or a tuple of ids (a merge)
    return revision, (down,) if isinstance(down, str) else tuple(down or ())


async def database_revisions(engine: AsyncEngine, service: str) -> frozenset[str] | None:
    """The revisions `service`'s version table records; None when there is no such table yet."""
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text(f"SELECT version_num FROM alembic_version_{service}"))
            return frozenset(row[0] for row in rows)
    except (OperationalError, ProgrammingError) as error:
        if is_outage(error):
            raise
        return None


async def ensure_current(engine: AsyncEngine, service: str) -> None:
    """What a starting service does: nothing more than one query when its tables are at head, else `upgrade`."""
    if await database_revisions(engine, service) != head_revisions(service):
        await upgrade(engine, service)


def _revision(connection: Connection, service: str, message: str) -> None:
    from alembic import command

    command.revision(alembic_config(service, connection), message=message, autogenerate=True)


async def make_revision(engine: AsyncEngine, service: str, message: str) -> None:
    """Autogenerate a new migration for `service` from its table models (developer tool)."""
    async with engine.begin() as connection:
        await connection.run_sync(_revision, service, message)

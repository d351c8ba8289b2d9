"""Alembic, run per service: each service keeps its own migrations and its own version table.

A service's `migrations/env.py` calls `run_migrations(prefix)`; `upgrade()` runs them from code at start-up
(serialised by an advisory lock on PostgreSQL so replicas starting together do not race).
"""

import zlib
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

SERVICES_DIR = Path(__file__).resolve().parents[2] / "services"


def alembic_config(service: str, connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SERVICES_DIR / service / "migrations"))
    config.attributes["service"] = service
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def run_migrations(service: str) -> None:
    """Body of a service's alembic env.py: migrate only the tables whose names start with `<service>_`."""
    import sqlmodel  # noqa: F401 - migration scripts refer to sqlmodel types

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
    command.upgrade(alembic_config(service, connection), "head")


async def upgrade(engine: AsyncEngine, service: str) -> None:
    """Bring `service`'s tables to the newest revision."""
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": zlib.crc32(b"migrate")})
        await connection.run_sync(_upgrade, service)


def _revision(connection: Connection, service: str, message: str) -> None:
    command.revision(alembic_config(service, connection), message=message, autogenerate=True)


async def make_revision(engine: AsyncEngine, service: str, message: str) -> None:
    """Autogenerate a new migration for `service` from its table models (developer tool)."""
    async with engine.begin() as connection:
        await connection.run_sync(_revision, service, message)

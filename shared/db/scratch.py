"""Throw-away PostgreSQL databases on the server a URL names (tests, benchmarks): create one, drop it again."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy.engine import make_url

# What a non-superuser's `DROP DATABASE … WITH (FORCE)` raises while a backend without a role yet is attached to the
# database (an autovacuum worker, or a connection still authenticating): PostgreSQL cannot tell whose it is, so it
# refuses to signal it (42501), or the database is still in use (55006). Both pass within moments.
_TRANSIENT_DROP_ERRORS = ("InsufficientPrivilegeError", "ObjectInUseError")


def admin_dsn(url: str) -> str:
    """The URL as a plain libpq DSN (asyncpg), password included."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _execute(url: str, sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(admin_dsn(url))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def beside(server_url: str, name: str) -> str:
    """`server_url` pointing at database `name` on the same server."""
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


async def create_database(server_url: str, name: str | None = None, *, prefix: str = "t") -> str:
    """Create an empty database on the server `server_url` reaches; return the URL of the new one."""
    name = name or f"{prefix}_{uuid.uuid4().hex[:12]}"
    await _execute(server_url, f'CREATE DATABASE "{name}"')
    return beside(server_url, name)


async def drop_database(server_url: str, name: str, *, attempts: int = 50, pause: float = 0.2) -> None:
    """Drop database `name` (connected through `server_url`, another database), ending its sessions; retried while
    PostgreSQL refuses for a moment (see _TRANSIENT_DROP_ERRORS)."""
    for attempt in range(attempts):
        try:
            await _execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except Exception as error:
            if type(error).__name__ not in _TRANSIENT_DROP_ERRORS or attempt == attempts - 1:
                raise
            await asyncio.sleep(pause)

"""Async engines for PostgreSQL (asyncpg, distributed mode) and SQLite (aiosqlite, embedded mode)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from shared.db.errors import DatabaseUnavailable

SessionFactory = async_sessionmaker[AsyncSession]


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An engine tuned for the backend: durable SQLite (WAL, synchronous=FULL) or an asyncpg pool."""
    if is_sqlite(url):
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            # WAL lets readers run beside the writer; FULL survives power loss, not only a process kill.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
            # Let SQLAlchemy, not the driver, open transactions (see _begin_immediate).
            dbapi_connection.isolation_level = None

        @event.listens_for(engine.sync_engine, "begin")
        def _begin_immediate(connection) -> None:  # type: ignore[no-untyped-def]
            # Take the write lock up front: a deferred transaction that reads, then writes, fails at once with
            # SQLITE_BUSY when another writer committed in between; an immediate one waits its turn.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # No pre-ping: it is a round trip per checkout. A connection found dead mid-transaction is an outage error
    # (the pool invalidates it; the consumer redelivers the batch, the relay retries).
    # No overflow: an overflow connection is closed when it is returned, so concurrent requests above the pool size
    # opened a new connection (TLS attempt, backend fork, type introspection, statements prepared again) per
    # request; a task beyond the pool now waits for a connection (`pool_timeout`, then 503) instead.
    return create_async_engine(url, pool_size=pool_size, max_overflow=0)


def session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def transaction(sessions: SessionFactory) -> AsyncIterator[AsyncSession]:
    """One unit of work: everything written inside commits together or not at all."""
    async with sessions() as session, session.begin():
        try:
            # Take the connection (and BEGIN) now, so that failing to is told apart from the work failing.
            await session.connection()
        except Exception as error:
            raise DatabaseUnavailable(f"no transaction could be begun: {type(error).__name__}: {error}") from error
        yield session


@asynccontextmanager
async def statement_commits(sessions: SessionFactory) -> AsyncIterator[AsyncSession]:
    """A session on PostgreSQL in which each statement is its own transaction (autocommit): for a unit of work that
    is ONE statement, durable when it returns, without the BEGIN and COMMIT round trips. Never for several
    statements that must commit together — use `transaction`."""
    async with sessions() as session:
        try:
            await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        except Exception as error:
            raise DatabaseUnavailable(f"no connection could be had: {type(error).__name__}: {error}") from error
        yield session


def backend_of(sessions: SessionFactory) -> str:
    """The dialect name ("postgresql", "sqlite") of the engine behind `sessions`."""
    return str(sessions.kw["bind"].dialect.name)


async def database_answers(sessions: SessionFactory) -> bool:
    """Whether the database runs a trivial query right now: proof, before blaming a record, that it could have
    been processed."""
    try:
        async with sessions() as session:
            await session.execute(text("SELECT 1"))
    except Exception:
        return False
    return True

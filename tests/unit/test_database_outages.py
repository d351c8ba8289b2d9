"""A database outage is told apart from a bad record or request: by SQLSTATE (as asyncpg raises it, and as
SQLAlchemy's asyncpg dialect wraps it), by the failure to connect or begin, by SQLite's busy/locked codes. An outage
is redelivered (consumers) or answered 503 + Retry-After (HTTP), never dead-lettered or a bare 500."""

import socket
import sqlite3
from pathlib import Path

import asyncpg
import httpx
import pytest
from asyncpg.exceptions._base import PostgresMessageMeta
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection, PGDialect_asyncpg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from services.enrollment.handlers import record_request
from services.runtime import Wiring, build_service
from shared.backoff import Backoff
from shared.contracts import LmsActivity
from shared.db.engine import create_engine, database_answers, session_factory, transaction
from shared.db.errors import DatabaseUnavailable, is_outage, sqlstate
from shared.messaging.memory import InMemoryBus
from shared.settings import Settings

OUTAGES = {
    "08000": "connection exception",
    "08001": "client cannot connect",
    "08003": "connection does not exist (closed mid-operation)",
    "08004": "server rejected the connection",
    "08006": "connection failure",
    "53000": "insufficient resources",
    "53100": "disk full",
    "53200": "out of memory",
    "53300": "too many connections",
    "57P01": "admin shutdown (fast shutdown, failover)",
    "57P02": "crash shutdown (another backend crashed)",
    "57P03": "cannot connect now (starting up, crash recovery)",
    "40001": "serialization failure",
    "40P01": "deadlock detected",
}
NOT_OUTAGES = {
    "23505": "unique violation",
    "23502": "not-null violation",
    "22P02": "invalid text representation",
    "22003": "numeric value out of range",
    "42P01": "undefined table",
    "42601": "syntax error",
    "57014": "query canceled (statement timeout)",
    "XX000": "internal error",
}


def postgres_error(code: str) -> asyncpg.PostgresError:
    """The exception asyncpg raises for a server error with this SQLSTATE."""
    error_class = PostgresMessageMeta.get_message_class_for_sqlstate(code)
    assert error_class.sqlstate == code
    return error_class(OUTAGES.get(code) or NOT_OUTAGES[code])


def as_sqlalchemy_raises_it(error: Exception) -> DBAPIError:
    """What reaches application code: SQLAlchemy's asyncpg adapter translates the driver's error, and the engine
    wraps that in a DBAPIError (for 57P03 a plain DBAPIError with connection_invalidated=False)."""
    dbapi = PGDialect_asyncpg.import_dbapi()
    try:
        AsyncAdapt_asyncpg_connection._handle_exception_no_connection(dbapi, error)
    except dbapi.Error as translated:
        return DBAPIError.instance("SELECT 1", {}, translated, dbapi.Error)
    raise AssertionError("not translated")


@pytest.mark.parametrize("code", OUTAGES, ids=[f"{c}-{d}" for c, d in OUTAGES.items()])
def test_outage_sqlstates_are_outages(code: str) -> None:
    raw = postgres_error(code)
    wrapped = as_sqlalchemy_raises_it(raw)
    assert sqlstate(wrapped.orig) == code  # type: ignore[arg-type]
    assert is_outage(raw)
    assert is_outage(wrapped)
    assert is_outage(DatabaseUnavailable("begin failed"))


@pytest.mark.parametrize("code", NOT_OUTAGES, ids=[f"{c}-{d}" for c, d in NOT_OUTAGES.items()])
def test_other_sqlstates_blame_the_work(code: str) -> None:
    raw = postgres_error(code)
    assert not is_outage(raw)
    assert not is_outage(as_sqlalchemy_raises_it(raw))


def test_57p03_is_wrapped_as_a_plain_dbapi_error_that_is_still_an_outage() -> None:
    """The case of the incident: nothing on the wrapper says 'disconnect'; only the SQLSTATE does."""
    wrapped = as_sqlalchemy_raises_it(asyncpg.CannotConnectNowError("the database system is starting up"))
    assert type(wrapped) is DBAPIError
    assert not wrapped.connection_invalidated
    assert is_outage(wrapped)


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)"),
        ConnectionResetError(104, "Connection reset by peer"),
        OSError("Multiple exceptions: [Errno 111] ..., [Errno 99] ..."),  # asyncpg trying several addresses
        socket.gaierror(-2, "Name or service not known"),
        TimeoutError(),
        PoolTimeout("QueuePool limit of size 5 overflow 5 reached, connection timed out"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_failing_to_reach_the_server_is_an_outage(error: Exception) -> None:
    assert is_outage(error)


@pytest.mark.parametrize("error", [ValueError("bad score"), KeyError("tenant"), RuntimeError("bug")], ids=repr)
def test_application_errors_are_not_outages(error: Exception) -> None:
    assert not is_outage(error)


def test_sqlite_busy_is_an_outage_and_a_missing_table_is_not(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    writer = sqlite3.connect(path, timeout=0, isolation_level=None)
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        writer.execute("CREATE TABLE t (x)")
        writer.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError) as busy:
            other.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError) as missing:
            other.execute("SELECT * FROM missing")
    finally:
        writer.close()
        other.close()
    assert is_outage(busy.value)
    assert not is_outage(missing.value)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


@pytest.fixture
def unreachable_postgres() -> str:
    return f"postgresql+asyncpg://credstream:credstream@127.0.0.1:{closed_port()}/credstream"


async def test_failing_to_begin_a_transaction_raises_database_unavailable(unreachable_postgres: str) -> None:
    engine = create_engine(unreachable_postgres)
    try:
        with pytest.raises(DatabaseUnavailable) as raised:
            async with transaction(session_factory(engine)):
                pass
        assert is_outage(raised.value)
        assert not await database_answers(session_factory(engine))
    finally:
        await engine.dispose()


async def test_http_answers_503_with_retry_after_while_the_database_is_down(unreachable_postgres: str) -> None:
    settings = Settings(_env_file=None, DATABASE_URL=unreachable_postgres, CREDSTREAM_LMS_API_KEYS="acme:acme-key")
    engine = create_engine(unreachable_postgres)
    try:
        parts = build_service("enrollment", Wiring(settings, session_factory(engine), InMemoryBus()))
        transport = httpx.ASGITransport(app=parts.http)
        async with httpx.AsyncClient(transport=transport, base_url="http://enrollment") as client:
            response = await client.post(
                "/v1/activities",
                json={
                    "tenant_id": "acme",
                    "learner_id": "l1",
                    "event_id": "e1",
                    "kind": "enrolled",
                    "achievement_id": "a",
                    "occurred_at": "2026-11-29T10:00:00Z",
                },
                headers={"Authorization": "Bearer acme-key"},
            )
    finally:
        await engine.dispose()
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["Retry-After"]) > 0
    body = response.json()
    assert body["status"] == 503
    assert body["code"] == "database.unavailable"


def test_backoff_grows_is_capped_and_jittered() -> None:
    backoff = Backoff(first=0.5, cap=4.0)
    delays = [backoff.next_delay() for _ in range(8)]
    ceilings = [0.5, 1, 2, 4, 4, 4, 4, 4]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert len({round(d, 6) for d in delays[3:]}) > 1  # jittered, not lock-step
    backoff.reset()
    assert backoff.next_delay() <= 0.5


async def test_a_request_recorded_without_begin_is_an_outage_too(unreachable_postgres: str) -> None:
    """Enrollment's one-statement path (autocommit, no BEGIN) tells a missing database apart like `transaction`."""
    engine = create_engine(unreachable_postgres)
    activity = LmsActivity.model_validate(
        {
            "tenant_id": "acme",
            "learner_id": "l1",
            "event_id": "e1",
            "kind": "enrolled",
            "achievement_id": "a",
            "occurred_at": "2026-11-29T10:00:00Z",
        }
    )
    try:
        with pytest.raises(DatabaseUnavailable) as raised:
            await record_request(session_factory(engine), [activity], "lms-http:acme")
        assert is_outage(raised.value)
    finally:
        await engine.dispose()

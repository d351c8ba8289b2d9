"""Is the database unavailable (an outage: wait and try again) or did this piece of work fail (a bad record or
request)? One answer for the consumer pipeline and the HTTP edges.

PostgreSQL says which through SQLSTATE: class 08 (connection exception), class 53 (insufficient resources, e.g.
53300 too many clients), 57P01-57P03 (admin shutdown, crash shutdown, "the database system is starting up"
during crash recovery) and the two "retry the transaction" codes 40001 (serialization failure) and 40P01
(deadlock). SQLAlchemy's asyncpg dialect wraps all of these in a plain `DBAPIError` with
`connection_invalidated=False`, so the wrapper's class says nothing: the code of the original error does.
Failing to reach the server at all surfaces as an `OSError` (refused, reset, unreachable, timed out) or as
`DatabaseUnavailable` (see `shared.db.engine.transaction`). SQLite has no SQLSTATE: busy/locked files and I/O
errors count as outages there.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

OUTAGE_SQLSTATE_CLASSES = frozenset({"08", "53"})
OUTAGE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "40001", "40P01"})
# sqlite3's primary result codes (the low byte of an extended code) that mean "not now" rather than "never".
_SQLITE_OUTAGES = frozenset(
    {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN}
)


class DatabaseUnavailable(Exception):
    """No connection could be had from the database, or it would not begin a transaction."""


def is_outage(error: BaseException) -> bool:
    """True when `error` (or what it wraps) says the database is unavailable right now, not that the work is bad."""
    for cause in _wrapped(error):
        if isinstance(cause, DatabaseUnavailable | PoolTimeout | OSError):
            return True
        if isinstance(cause, DBAPIError) and cause.connection_invalidated:
            return True
        code = sqlstate(cause)
        if code is not None:
            return code[:2] in OUTAGE_SQLSTATE_CLASSES or code in OUTAGE_SQLSTATES
        if isinstance(cause, sqlite3.Error) and getattr(cause, "sqlite_errorcode", None) is not None:
            return cause.sqlite_errorcode & 0xFF in _SQLITE_OUTAGES
    return False


def sqlstate(error: BaseException) -> str | None:
    """The five-character SQLSTATE an error carries (asyncpg, SQLAlchemy's asyncpg adapter, psycopg), if any."""
    for attribute in ("sqlstate", "pgcode"):
        code = getattr(error, attribute, None)
        if isinstance(code, str) and len(code) == 5:
            return code
    return None


def _wrapped(error: BaseException) -> Iterator[BaseException]:
    """`error`, then what it wraps: the DB-API error under a SQLAlchemy one, the explicit cause under that."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__

"""Engines for SQLite (WAL, foreign keys, writers serialised with BEGIN IMMEDIATE) and
PostgreSQL (writers of a tenant serialised by a transaction-scoped advisory lock).

PostgreSQL connections come from a pool that pings a connection before handing it out, so
the server recovers by itself when the database comes back; every connection carries a
statement timeout, so a stuck query ends instead of holding a request forever. Database
failures leave the storage layer as FHIR errors (`errors.Unavailable`, 503): the database
is unreachable, timed out, or aborted the transaction (`errors.Contention`, retried).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext, make_url

from fhir_sandbox.errors import Contention, Unavailable

# SQLSTATEs: the transaction was aborted and may simply be run again
RETRYABLE_STATES = {"40001": "serialization failure", "40P01": "deadlock"}
QUERY_CANCELED = "57014"
#: WAL pages (4 KiB) after which a commit checkpoints (SQLite's default: 1,000).
WAL_CHECKPOINT_PAGES = 10_000
SQLITE_POOL_SIZE = 48  # anyio's 40 worker threads plus the fast lane's readers
# SQLite errors that mean "not now" rather than "wrong SQL"
_SQLITE_TRANSIENT = ("locked", "busy", "unable to open", "disk i/o")


@dataclass(frozen=True)
class EngineOptions:
    """Connection settings (config.Settings.database_*); the defaults suit one server."""

    pool_size: int = 10
    max_overflow: int = 20
    pool_timeout: float = 10.0  # seconds to wait for a free pooled connection
    pool_recycle: int = 1800  # seconds; below typical proxy / load-balancer idle cut-offs
    statement_timeout: float = 30.0  # PostgreSQL statement_timeout; SQLite busy timeout
    connect_timeout: int = 5  # seconds to open a PostgreSQL connection
    sqlite_cache_mb: int | None = None  # None: SQLite's default page cache (2 MB)


def make_engine(url: str, options: EngineOptions | None = None) -> Engine:
    options = options or EngineOptions()
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(url, options)
    else:
        engine = _server_engine(url, options)
    event.listen(engine, "handle_error", _translate)
    return engine


def _server_engine(url: str, options: EngineOptions) -> Engine:
    connect_args: dict[str, Any] = {}
    if make_url(url).get_backend_name() == "postgresql":
        timeout_ms = int(options.statement_timeout * 1000)
        connect_args = {
            "connect_timeout": options.connect_timeout,
            "options": f"-c statement_timeout={timeout_ms}",
            "application_name": "fhir-sandbox",
        }
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=options.pool_size,
        max_overflow=options.max_overflow,
        pool_timeout=options.pool_timeout,
        pool_recycle=options.pool_recycle,
        connect_args=connect_args,
    )


def _sqlite_engine(url: str, options: EngineOptions) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    busy = options.statement_timeout
    pool: dict[str, Any] = {}
    if database and database != ":memory:":
        # A SQLite connection is only a file handle and a page cache: keep one for every
        # thread that may use it (worker threads, the fast lane's readers), so that none is
        # opened, configured (PRAGMAs) and closed per request under load.
        pool = {
            "pool_size": max(options.pool_size, SQLITE_POOL_SIZE),
            "max_overflow": options.max_overflow,
            "pool_timeout": options.pool_timeout,
        }
    connect_args = {"check_same_thread": False, "timeout": busy}
    engine = create_engine(url, connect_args=connect_args, **pool)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Checkpoint every ~40 MB of WAL instead of SQLite's ~4 MB: a checkpoint copies
        # pages back into a 100k-resource database and syncs it, and at the default it ran
        # every ~160 creates, a quarter of a create's cost on average (benchmarks/README.md).
        # Index pages written again and again between checkpoints are copied once.
        cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
        cursor.execute("PRAGMA foreign_keys=ON")
        if options.sqlite_cache_mb:  # negative: KiB rather than pages
            cursor.execute(f"PRAGMA cache_size=-{options.sqlite_cache_mb * 1024}")
        cursor.execute(f"PRAGMA busy_timeout={int(busy * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get("fhir_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


@contextmanager
def sqlite_errors() -> Iterator[None]:
    """Driver calls made outside SQLAlchemy: a transient SQLite error becomes the 503 that
    `_translate` makes of it on SQLAlchemy's path; any other error (a bug) goes on as a 500."""
    try:
        yield
    except sqlite3.OperationalError as error:
        message = str(error).lower()
        if any(m in message for m in _SQLITE_TRANSIENT):
            raise Unavailable(
                "The database is unavailable right now; please retry",
                headers={"Retry-After": "5"},
            ) from error
        raise


def _translate(context: ExceptionContext) -> None:
    """`handle_error`: raise the FHIR error for a database failure; leave bugs alone.

    Pre-ping failures are left to the pool, which reconnects (that is the recovery path).
    """
    if context.is_pre_ping:
        return
    error = context.original_exception
    dbapi = context.dialect.loaded_dbapi
    state = getattr(getattr(error, "diag", None), "sqlstate", None) or getattr(
        error, "sqlstate", None
    )
    if state in RETRYABLE_STATES:
        raise Contention(
            f"The database aborted the transaction ({RETRYABLE_STATES[state]}); "
            "nothing was written, please retry",
            headers={"Retry-After": "1"},
        ) from error
    if state == QUERY_CANCELED:
        raise Unavailable(
            "The database did not answer in time (statement timeout); nothing was written",
            code="timeout",
            headers={"Retry-After": "5"},
        ) from error
    transient = context.is_disconnect
    if context.dialect.name == "sqlite":
        message = str(error).lower()
        transient = transient or (
            isinstance(error, dbapi.OperationalError)
            and any(m in message for m in _SQLITE_TRANSIENT)
        )
    else:
        transient = transient or isinstance(error, (dbapi.OperationalError, dbapi.InterfaceError))
    if transient:
        raise Unavailable(
            "The database is unavailable right now; please retry",
            headers={"Retry-After": "5"},
        ) from error

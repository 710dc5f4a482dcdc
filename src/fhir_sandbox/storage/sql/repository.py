"""The SQL repository: the storage contract over SQLAlchemy Core (sessions: session.py).

A write session takes the database's writer lock at BEGIN (SQLite: BEGIN IMMEDIATE, after
an in-process queue; PostgreSQL: an advisory lock per tenant), so a search-then-insert
inside it is atomic across threads and processes.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import (
    delete,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from fhir_sandbox.errors import Unavailable
from fhir_sandbox.storage.base import StoredVersion, read_in_session
from fhir_sandbox.storage.sql import migrate
from fhir_sandbox.storage.sql.engine import EngineOptions, make_engine
from fhir_sandbox.storage.sql.schema import INDEX_TABLES, meta_info, resource, resource_version
from fhir_sandbox.storage.sql.session import SqlSession
from fhir_sandbox.storage.sql.shapes import ShapeCache
from fhir_sandbox.storage.sql.statements import CURRENT, VERSION, pool_wait, positional, read_one


class SqlRepository:
    def __init__(self, url: str, options: EngineOptions | None = None) -> None:
        self.url = url
        self.engine = make_engine(url, options)
        self.dialect = self.engine.dialect.name
        self.embedded = self.dialect == "sqlite"
        self._writer = threading.Lock()
        self._shapes = ShapeCache()
        self._writer_timeout = (options or EngineOptions()).statement_timeout
        self._current_sql = positional(CURRENT, self.engine, ("tenant", "res_type", "res_id"))
        self._version_sql = positional(
            VERSION, self.engine, ("tenant", "res_type", "res_id", "version")
        )

    def create_schema(self) -> None:
        """Bring the schema to the newest revision through the Alembic migrations."""
        migrate.upgrade(self.engine)

    def schema_status(self) -> migrate.SchemaStatus:
        return migrate.status(self.engine)

    def check_schema(self) -> None:
        """Raise migrate.SchemaOutOfDate (naming the command to run) unless current."""
        migrate.ensure_current(self.engine, f"at {self.engine.url!r}")

    def read_current(
        self, tenant: str, resource_type: str, resource_id: str
    ) -> StoredVersion | None:
        if not self.embedded:
            return read_in_session(self, tenant, resource_type, resource_id)
        return read_one(self.engine, self._current_sql, (tenant, resource_type, resource_id))

    def read_version(
        self, tenant: str, resource_type: str, resource_id: str, version: int
    ) -> StoredVersion | None:
        if not self.embedded:
            return read_in_session(self, tenant, resource_type, resource_id, version)
        key = (tenant, resource_type, resource_id, version)
        return read_one(self.engine, self._version_sql, key)

    @contextmanager
    def session(self, tenant: str, *, write: bool = False) -> Iterator[SqlSession]:
        if write and self.embedded:
            with self._writer_turn(), self._session(tenant, write=True) as session:
                yield session
        else:
            with self._session(tenant, write=write) as session:
                yield session

    @contextmanager
    def _writer_turn(self) -> Iterator[None]:
        """SQLite: this process's writers queue on a lock before `BEGIN IMMEDIATE`.

        Without it, concurrent writers wait in SQLite's busy handler, which sleeps and
        polls (1, 2, 5 … 100 ms) instead of handing the lock over: a convoy that made the
        create p99 seconds long (benchmarks/README.md). Other processes still meet the
        busy timeout.
        """
        if not self._writer.acquire(timeout=self._writer_timeout):
            raise Unavailable(
                "The database is busy with other writes; please retry",
                headers={"Retry-After": "1"},
            )
        try:
            yield
        finally:
            self._writer.release()

    @contextmanager
    def _session(self, tenant: str, *, write: bool) -> Iterator[SqlSession]:
        # database errors become errors.Unavailable / Contention in engine._translate
        with pool_wait(), self.engine.connect() as conn:
            conn = conn.execution_options(fhir_write=write)
            with conn.begin():
                if write and self.dialect == "postgresql":
                    lock = zlib.crc32(tenant.encode())
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock})
                yield SqlSession(conn, tenant, self._shapes)

    def analyze(self) -> None:
        """PostgreSQL: ANALYZE our tables. Autovacuum would, but only a while after a bulk
        load, and until then the planner takes the new tables for empty ones: a 500-id
        lookup took 25 s instead of milliseconds at 10k (benchmarks/README.md). SQLite plans
        our statements well without statistics; nothing to do there."""
        if self.dialect != "postgresql":
            return
        tables = ", ".join(t.name for t in (resource, resource_version, *INDEX_TABLES.values()))
        with self.engine.begin() as conn:
            conn.execute(text(f"ANALYZE {tables}"))

    def wipe(self, tenant: str) -> None:
        with self.session(tenant, write=True) as session:
            conn = session._conn
            for table in (*INDEX_TABLES.values(), resource, resource_version):
                conn.execute(delete(table).where(table.c.tenant == tenant))

    def tenants(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(resource.c.tenant).distinct()).scalars())

    def get_setting(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            stmt = select(meta_info.c.value).where(meta_info.c.key == key)
            value: str | None = conn.execute(stmt).scalar()
            return value

    def put_setting(self, key: str, value: str) -> None:
        """An upsert: two processes starting together on a fresh database both record the
        search registry's fingerprint, and a delete-then-insert let the second fail with a
        duplicate key (seen with two servers on PostgreSQL)."""
        upsert = postgresql_insert if self.dialect == "postgresql" else sqlite_insert
        stmt = upsert(meta_info).values(key=key, value=value)
        stmt = stmt.on_conflict_do_update(
            index_elements=[meta_info.c.key], set_={"value": stmt.excluded.value}
        )
        with self.engine.begin() as conn:
            conn.execute(stmt)

    def close(self) -> None:
        self.engine.dispose()

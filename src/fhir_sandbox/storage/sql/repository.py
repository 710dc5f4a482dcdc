"""The SQL repository: the storage contract over SQLAlchemy Core.

A write session takes the database's writer lock at BEGIN (SQLite: BEGIN IMMEDIATE;
PostgreSQL: an advisory lock per tenant), so a search-then-insert inside it is atomic
across threads and processes. On update only the index rows that changed are written.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, select, text, tuple_, update
from sqlalchemy.exc import TimeoutError as PoolTimeout

from fhir_sandbox.errors import Unavailable
from fhir_sandbox.search.query import Query
from fhir_sandbox.searchparams.normalize import instant_text, parse_instant_text
from fhir_sandbox.searchparams.rows import IndexRows
from fhir_sandbox.storage.base import HistoryFilter, Match, PageRequest, StoredVersion
from fhir_sandbox.storage.sql import migrate
from fhir_sandbox.storage.sql.compile import beyond, matching, order_terms, sort_values
from fhir_sandbox.storage.sql.engine import EngineOptions, make_engine
from fhir_sandbox.storage.sql.schema import (
    INDEX_TABLES,
    meta_info,
    resource,
    resource_version,
)

_ROW_FIELDS = {name: [c.name for c in table.c][4:] for name, table in INDEX_TABLES.items()}


def _version(row: Any) -> StoredVersion:
    return StoredVersion(
        resource_type=row.res_type,
        id=row.res_id,
        version=row.version,
        last_updated=parse_instant_text(row.last_updated),
        method=row.method,
        deleted=bool(row.deleted),
        body=bytes(row.body),
        seq=row.seq,
    )


class SqlSession:
    def __init__(self, conn: Connection, tenant: str) -> None:
        self._conn = conn
        self._tenant = tenant

    def _versions(self) -> Any:
        return select(resource_version).where(resource_version.c.tenant == self._tenant)

    def current(self, resource_type: str, resource_id: str) -> StoredVersion | None:
        stmt = (
            self._versions()
            .join(resource, _same_version())
            .where(resource.c.res_type == resource_type, resource.c.res_id == resource_id)
        )
        row = self._conn.execute(stmt).first()
        return _version(row) if row else None

    def version(self, resource_type: str, resource_id: str, version: int) -> StoredVersion | None:
        stmt = self._versions().where(
            resource_version.c.res_type == resource_type,
            resource_version.c.res_id == resource_id,
            resource_version.c.version == version,
        )
        row = self._conn.execute(stmt).first()
        return _version(row) if row else None

    def save(self, version: StoredVersion, index: IndexRows | None) -> StoredVersion:
        lu = instant_text(version.last_updated)
        key = {"tenant": self._tenant, "res_type": version.resource_type, "res_id": version.id}
        inserted = self._conn.execute(
            insert(resource_version).values(
                **key,
                version=version.version,
                last_updated=lu,
                method=version.method,
                deleted=version.deleted,
                body=version.body,
            )
        ).inserted_primary_key
        assert inserted is not None
        seq = inserted[0]
        state = {
            "version": version.version,
            "deleted": version.deleted,
            "last_updated": lu,
            "seq": seq,
        }
        if version.version == 1 and self.current(version.resource_type, version.id) is None:
            self._conn.execute(insert(resource).values(**key, **state))
        else:
            self._conn.execute(update(resource).where(*_key_filter(resource, key)).values(**state))
        self._write_index(key, index or IndexRows())
        return StoredVersion(**{**version.__dict__, "seq": seq})

    def _write_index(self, key: dict[str, str], index: IndexRows) -> None:
        old = self._read_index(key)
        for name, table in INDEX_TABLES.items():
            before, after = old.table(name), index.table(name)
            stale, fresh = before - after, after - before
            if stale:
                fields = _ROW_FIELDS[name]
                columns = tuple_(*(table.c[f] for f in fields))
                self._conn.execute(
                    delete(table).where(*_key_filter(table, key), columns.in_(list(stale)))
                )
            if fresh:
                fields = _ROW_FIELDS[name]
                rows = [{**key, **dict(zip(fields, row, strict=True))} for row in fresh]
                self._conn.execute(insert(table), rows)

    def _read_index(self, key: dict[str, str]) -> IndexRows:
        rows = IndexRows()
        for name, table in INDEX_TABLES.items():
            fields = _ROW_FIELDS[name]
            row_type = IndexRows.ROW_TYPES[name]
            stmt = select(*(table.c[f] for f in fields)).where(*_key_filter(table, key))
            rows.table(name).update(row_type(*r) for r in self._conn.execute(stmt))
        return rows

    def search(self, query: Query, offset: int, limit: int) -> list[StoredVersion]:
        return [m.version for m in self._select(query, limit, offset=offset)]

    def page(self, query: Query, request: PageRequest) -> list[Match]:
        return self._select(query, request.limit, after=request.after, before=request.before)

    def _select(
        self,
        query: Query,
        limit: int,
        *,
        offset: int = 0,
        after: tuple[str, ...] | None = None,
        before: tuple[str, ...] | None = None,
    ) -> list[Match]:
        outer, where = matching(query, self._tenant)
        values = sort_values(query.sort, self._tenant, outer)
        cursor = after or before
        if cursor is not None:
            where = and_(where, beyond(query.sort, values, cursor, forward=before is None))
        labelled = [v.label(f"s{i}") for i, v in enumerate(values)]
        page = (
            select(outer.c.res_type, outer.c.version, *labelled)
            .where(where)
            .order_by(*order_terms(query.sort, values, reverse=before is not None))
            .offset(offset)
            .limit(limit)
        ).subquery()
        positions = [page.c[f"s{i}"] for i in range(len(values))]
        ordered = order_terms(query.sort, positions, reverse=before is not None)
        stmt = (
            select(resource_version, *positions)
            .join(
                page,
                and_(
                    resource_version.c.tenant == self._tenant,
                    resource_version.c.res_type == page.c.res_type,
                    resource_version.c.res_id == positions[-1],
                    resource_version.c.version == page.c.version,
                ),
            )
            .order_by(*ordered)
        )
        matches = [
            Match(_version(row), tuple(row[len(row) - len(positions) :]))
            for row in self._conn.execute(stmt)
        ]
        return matches[::-1] if before is not None else matches

    def count(self, query: Query) -> int:
        outer, where = matching(query, self._tenant)
        return int(
            self._conn.execute(select(func.count()).select_from(outer).where(where)).scalar_one()
        )

    def fetch(self, resource_type: str, ids: list[str]) -> list[StoredVersion]:
        if not ids:
            return []
        stmt = (
            self._versions()
            .join(resource, _same_version())
            .where(resource.c.res_type == resource_type, resource.c.res_id.in_(ids))
            .where(resource.c.deleted.is_(False))
        )
        return [_version(row) for row in self._conn.execute(stmt)]

    def _history_where(self, where: HistoryFilter) -> list[Any]:
        v = resource_version.c
        conditions: list[Any] = [v.tenant == self._tenant]
        if where.resource_type:
            conditions.append(v.res_type == where.resource_type)
        if where.resource_id:
            conditions.append(v.res_id == where.resource_id)
        if where.since:
            conditions.append(v.last_updated >= instant_text(where.since))
        if where.at_or_before:
            conditions.append(v.last_updated <= instant_text(where.at_or_before))
        if where.before_seq is not None:
            conditions.append(v.seq < where.before_seq)
        return conditions

    def history(self, where: HistoryFilter, limit: int) -> list[StoredVersion]:
        stmt = (
            select(resource_version)
            .where(*self._history_where(where))
            .order_by(resource_version.c.seq.desc())
            .limit(limit)
        )
        return [_version(row) for row in self._conn.execute(stmt)]

    def history_count(self, where: HistoryFilter) -> int:
        stmt = select(func.count()).select_from(resource_version).where(*self._history_where(where))
        return int(self._conn.execute(stmt).scalar_one())

    def current_many(self, resource_type: str, ids: list[str]) -> dict[str, StoredVersion]:
        found: dict[str, StoredVersion] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            stmt = (
                self._versions()
                .join(resource, _same_version())
                .where(resource.c.res_type == resource_type, resource.c.res_id.in_(chunk))
            )
            found.update((row.res_id, _version(row)) for row in self._conn.execute(stmt))
        return found

    def insert_new(self, versions: list[tuple[StoredVersion, IndexRows]]) -> None:
        """One multi-row INSERT per table for the whole batch (no per-row round trips)."""
        if not versions:
            return
        base = [
            {"tenant": self._tenant, "res_type": v.resource_type, "res_id": v.id}
            for v, _ in versions
        ]
        rows = [
            {**key, "version": v.version, "last_updated": instant_text(v.last_updated),
             "method": v.method, "deleted": False, "body": v.body}
            for key, (v, _) in zip(base, versions, strict=True)
        ]  # fmt: skip
        stmt = insert(resource_version).returning(
            resource_version.c.seq, sort_by_parameter_order=True
        )
        seqs = list(self._conn.execute(stmt, rows).scalars())
        self._conn.execute(
            insert(resource),
            [
                {**key, "version": r["version"], "deleted": False,
                 "last_updated": r["last_updated"], "seq": seq}
                for key, r, seq in zip(base, rows, seqs, strict=True)
            ],
        )  # fmt: skip
        for name, table in INDEX_TABLES.items():
            index_rows = [
                (self._tenant, version.resource_type, version.id, *row)
                for version, index in versions
                for row in index.table(name)
            ]
            if index_rows:
                self._executemany(
                    table, ["tenant", "res_type", "res_id", *_ROW_FIELDS[name]], index_rows
                )

    def _executemany(self, table: Any, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        """A driver-level executemany of plain tuples: the bulk path skips per-row
        parameter processing, which dominates when loading millions of index rows."""
        style = self._conn.dialect.paramstyle
        mark = "?" if style == "qmark" else "%s"
        names = ", ".join(columns)
        marks = ", ".join([mark] * len(columns))
        sql = f"INSERT INTO {table.name} ({names}) VALUES ({marks})"
        self._conn.exec_driver_sql(sql, rows)

    def replace_index(self, resource_type: str, resource_id: str, index: IndexRows) -> None:
        key = {"tenant": self._tenant, "res_type": resource_type, "res_id": resource_id}
        self._write_index(key, index)

    def max_seq(self) -> int:
        stmt = select(func.max(resource_version.c.seq)).where(
            resource_version.c.tenant == self._tenant
        )
        return int(self._conn.execute(stmt).scalar() or 0)


def _same_version() -> Any:
    return and_(
        resource.c.tenant == resource_version.c.tenant,
        resource.c.res_type == resource_version.c.res_type,
        resource.c.res_id == resource_version.c.res_id,
        resource.c.version == resource_version.c.version,
    )


@contextmanager
def _pool_wait() -> Iterator[None]:
    try:
        yield
    except PoolTimeout:
        raise Unavailable(
            "Every database connection is busy; please retry", headers={"Retry-After": "1"}
        ) from None


def _key_filter(table: Any, key: dict[str, str]) -> list[Any]:
    return [
        table.c.tenant == key["tenant"],
        table.c.res_type == key["res_type"],
        table.c.res_id == key["res_id"],
    ]


class SqlRepository:
    def __init__(self, url: str, options: EngineOptions | None = None) -> None:
        self.url = url
        self.engine = make_engine(url, options)
        self.dialect = self.engine.dialect.name

    def create_schema(self) -> None:
        """Bring the schema to the newest revision through the Alembic migrations."""
        migrate.upgrade(self.engine)

    def schema_status(self) -> migrate.SchemaStatus:
        return migrate.status(self.engine)

    def check_schema(self) -> None:
        """Raise migrate.SchemaOutOfDate (naming the command to run) unless current."""
        migrate.ensure_current(self.engine, f"at {self.engine.url!r}")

    @contextmanager
    def session(self, tenant: str, *, write: bool = False) -> Iterator[SqlSession]:
        # database errors become errors.Unavailable / Contention in engine._translate
        with _pool_wait(), self.engine.connect() as conn:
            conn = conn.execution_options(fhir_write=write)
            with conn.begin():
                if write and self.dialect == "postgresql":
                    lock = zlib.crc32(tenant.encode())
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock})
                yield SqlSession(conn, tenant)

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
        with self.engine.begin() as conn:
            conn.execute(delete(meta_info).where(meta_info.c.key == key))
            conn.execute(insert(meta_info).values(key=key, value=value))

    def close(self) -> None:
        self.engine.dispose()

"""A unit of work on the SQL store: reads, searches and writes of one tenant in one
transaction. On update only the index rows that changed are written."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from itertools import chain
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, select, tuple_

from fhir_sandbox.search.query import Query
from fhir_sandbox.searchparams.normalize import instant_text
from fhir_sandbox.searchparams.rows import IndexRows, OwnedRows
from fhir_sandbox.storage.base import (
    HistoryFilter,
    Match,
    NewVersion,
    PageRequest,
    StoredVersion,
)
from fhir_sandbox.storage.sql.compile import (
    beyond,
    counting,
    matching,
    order_terms,
    sort_values,
)
from fhir_sandbox.storage.sql.engine import sqlite_errors
from fhir_sandbox.storage.sql.schema import INDEX_TABLES, resource, resource_version
from fhir_sandbox.storage.sql.shapes import Leaves, Prepared, ShapeCache, prepare, shape_of
from fhir_sandbox.storage.sql.statements import (
    CURRENT,
    INDEX_ROWS,
    INSERT_COLUMNS,
    ROW_FIELDS,
    UPDATE_CURRENT,
    VERSION,
    key_filter,
    same_version,
    version_of,
)


class SqlSession:
    def __init__(self, conn: Connection, tenant: str, shapes: ShapeCache) -> None:
        self._conn = conn
        self._tenant = tenant
        self._shapes = shapes  # searches compiled once per shape (shapes.py)

    def _versions(self) -> Any:
        return select(resource_version).where(resource_version.c.tenant == self._tenant)

    def current(self, resource_type: str, resource_id: str) -> StoredVersion | None:
        key = {"tenant": self._tenant, "res_type": resource_type, "res_id": resource_id}
        row = self._conn.execute(CURRENT, key).first()
        return version_of(row) if row else None

    def version(self, resource_type: str, resource_id: str, version: int) -> StoredVersion | None:
        key = {"tenant": self._tenant, "res_type": resource_type, "res_id": resource_id}
        row = self._conn.execute(VERSION, {**key, "version": version}).first()
        return version_of(row) if row else None

    def save(self, version: StoredVersion, index: IndexRows | None) -> StoredVersion:
        lu = instant_text(version.last_updated)
        key = {"tenant": self._tenant, "res_type": version.resource_type, "res_id": version.id}
        row = {
            **key,
            "version": version.version,
            "last_updated": lu,
            "method": version.method,
            "deleted": version.deleted,
            "body": version.body,
        }
        # constant statements with parameters: compiled once, no per-call expression building
        inserted = self._conn.execute(insert(resource_version), row).inserted_primary_key
        assert inserted is not None
        seq = inserted[0]
        state = {
            "version": version.version,
            "deleted": version.deleted,
            "last_updated": lu,
            "seq": seq,
        }
        if version.version == 1:  # a new resource: every later version is written on top
            self._conn.execute(insert(resource), {**key, **state})
            # a new resource has no index rows yet: nothing to read or compare
            self._write_index(key, index or IndexRows(), old=IndexRows())
        else:
            where = {f"k_{name}": value for name, value in key.items()}
            self._conn.execute(UPDATE_CURRENT, {**where, **state})
            self._write_index(key, index or IndexRows())
        return StoredVersion(**{**version.__dict__, "seq": seq})

    def _write_index(
        self, key: dict[str, str], index: IndexRows, old: IndexRows | None = None
    ) -> None:
        old = self._read_index(key) if old is None else old
        for name, table in INDEX_TABLES.items():
            before, after = old.table(name), index.table(name)
            stale, fresh = before - after, after - before
            if stale:
                fields = ROW_FIELDS[name]
                columns = tuple_(*(table.c[f] for f in fields))
                self._conn.execute(
                    delete(table).where(*key_filter(table, key), columns.in_(list(stale)))
                )
            if fresh:
                owner = (key["tenant"], key["res_type"], key["res_id"])
                self._executemany(table, INSERT_COLUMNS[name], [owner + row for row in fresh])

    def _read_index(self, key: dict[str, str]) -> IndexRows:
        rows = IndexRows()
        for name in INDEX_TABLES:
            row_type = IndexRows.ROW_TYPES[name]
            stmt = INDEX_ROWS[name]
            rows.table(name).update(row_type(*r) for r in self._conn.execute(stmt, key))
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
        leaves = Leaves()
        tenant, shape = leaves.slot(self._tenant), shape_of(query, leaves)
        cursor = after or before
        bound = tuple(leaves.slot(v) for v in cursor) if cursor is not None else None
        backward = before is not None
        key = ("page", tenant, shape, limit, offset, bound, backward)

        def build() -> Prepared:
            return prepare(
                _page_statement(shape, tenant, limit, offset, bound, backward), self._conn
            )

        width = len(query.sort) + 1  # the sort positions, then the id
        rows = self._shapes.get(key, build).run(self._conn, leaves.values)
        matches = [Match(version_of(row), tuple(row[len(row) - width :])) for row in rows]
        return matches[::-1] if backward else matches

    def count(self, query: Query) -> int:
        leaves = Leaves()
        tenant, shape = leaves.slot(self._tenant), shape_of(query, leaves)

        def build() -> Prepared:
            statement = counting(shape, tenant)
            if statement is None:
                outer, where = matching(shape, tenant)
                statement = select(func.count()).select_from(outer).where(where)
            return prepare(statement, self._conn)

        prepared = self._shapes.get(("count", tenant, shape), build)
        return int(prepared.run(self._conn, leaves.values).scalar_one())

    def fetch(self, resource_type: str, ids: list[str]) -> list[StoredVersion]:
        if not ids:
            return []
        stmt = (
            self._versions()
            .join(resource, same_version())
            .where(resource.c.res_type == resource_type, resource.c.res_id.in_(ids))
            .where(resource.c.deleted.is_(False))
        )
        return [version_of(row) for row in self._conn.execute(stmt)]

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
        return [version_of(row) for row in self._conn.execute(stmt)]

    def history_count(self, where: HistoryFilter) -> int:
        stmt = select(func.count()).select_from(resource_version).where(*self._history_where(where))
        return int(self._conn.execute(stmt).scalar_one())

    def current_many(self, resource_type: str, ids: list[str]) -> dict[str, StoredVersion]:
        found: dict[str, StoredVersion] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            stmt = (
                self._versions()
                .join(resource, same_version())
                .where(resource.c.res_type == resource_type, resource.c.res_id.in_(chunk))
            )
            found.update((row.res_id, version_of(row)) for row in self._conn.execute(stmt))
        return found

    def existing(self, resource_type: str, ids: list[str]) -> set[str]:
        found: set[str] = set()
        r = resource.c
        for start in range(0, len(ids), 500):
            stmt = select(r.res_id).where(
                r.tenant == self._tenant,
                r.res_type == resource_type,
                r.res_id.in_(ids[start : start + 500]),
                r.deleted.is_(False),
            )
            found.update(self._conn.execute(stmt).scalars())
        return found

    def insert_new(self, versions: list[NewVersion]) -> None:
        """One multi-row INSERT per table for the whole batch (no per-row round trips)."""
        if not versions:
            return
        tenant = self._tenant
        rows = [
            (tenant, v.resource_type, v.id, v.version, instant_text(v.last_updated), v.method,
             False, v.body)
            for v, _ in versions
        ]  # fmt: skip
        seqs = self._insert_versions(rows)
        self._executemany(
            resource,
            ["tenant", "res_type", "res_id", "version", "deleted", "last_updated", "seq"],
            [(tenant, t, i, n, False, lu, seqs[t, i, n]) for _, t, i, n, lu, _, _, _ in rows],
        )
        for position, (name, table) in enumerate(INDEX_TABLES.items()):
            index_rows: list[Sequence[Any]] = []
            for version, index in versions:
                if isinstance(index, OwnedRows):  # ready as they are
                    index_rows += index.tables[position]
                elif found := index.table(name):
                    owner = (tenant, version.resource_type, version.id)
                    index_rows += [owner + row for row in found]
            if index_rows:
                self._executemany(table, INSERT_COLUMNS[name], index_rows)

    def _insert_versions(self, rows: list[tuple[Any, ...]]) -> dict[tuple[str, str, int], int]:
        """Multi-row INSERT … RETURNING through the driver, by chunks: the seq of each row.

        SQLAlchemy's insertmanyvalues built and bound these parameters in Python at ~7 %
        of a 100-create transaction. Seqs are matched to rows by key (uq_version), as
        RETURNING may list them in any order.
        """
        seqs: dict[tuple[str, str, int], int] = {}
        for start in range(0, len(rows), _VERSION_CHUNK):
            chunk = rows[start : start + _VERSION_CHUNK]
            sql = _version_insert(self._conn.dialect.paramstyle, len(chunk))
            params = tuple(chain.from_iterable(chunk))
            for seq, rtype, rid, number in self._conn.exec_driver_sql(sql, params):
                seqs[rtype, rid, number] = seq
        return seqs

    def _executemany(self, table: Any, columns: list[str], rows: Sequence[Sequence[Any]]) -> None:
        """A driver-level executemany of plain tuples: the bulk path skips per-row
        parameter processing, which dominates when loading millions of index rows."""
        names = ", ".join(columns)
        if self._conn.dialect.name == "postgresql" and len(rows) >= _COPY_FROM:
            # COPY streams the rows in one statement: a third of a PostgreSQL load's time
            # was the server answering executemany's row-by-row INSERTs (psycopg pipeline)
            cursor = self._conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        style = self._conn.dialect.paramstyle
        mark = "?" if style == "qmark" else "%s"
        marks = ", ".join([mark] * len(columns))
        sql = f"INSERT INTO {table.name} ({names}) VALUES ({marks})"
        if self._conn.dialect.name == "sqlite":
            # the driver's own executemany takes any sequences; SQLAlchemy's checked the
            # type of every row first (a tenth of a load's writing time)
            _sqlite_executemany(self._conn, sql, rows)
        else:
            self._conn.exec_driver_sql(sql, [tuple(row) for row in rows])

    def replace_index(self, resource_type: str, resource_id: str, index: IndexRows) -> None:
        key = {"tenant": self._tenant, "res_type": resource_type, "res_id": resource_id}
        self._write_index(key, index)

    def max_seq(self) -> int:
        stmt = select(func.max(resource_version.c.seq)).where(
            resource_version.c.tenant == self._tenant
        )
        return int(self._conn.execute(stmt).scalar() or 0)


def _sqlite_executemany(conn: Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with sqlite_errors():
            cursor.executemany(sql, rows)
    finally:
        cursor.close()


#: From this many rows on, PostgreSQL bulk inserts go through COPY.
_COPY_FROM = 100
#: Versions per multi-row INSERT: 8 parameters each (SQLite binds at most 32,766).
_VERSION_CHUNK = 1000
_VERSION_COLUMNS = "tenant, res_type, res_id, version, last_updated, method, deleted, body"


@cache
def _version_insert(paramstyle: str, count: int) -> str:
    mark = "?" if paramstyle == "qmark" else "%s"
    values = ", ".join([f"({', '.join([mark] * 8)})"] * count)
    return (
        f"INSERT INTO resource_version ({_VERSION_COLUMNS}) VALUES {values} "
        "RETURNING seq, res_type, res_id, version"
    )


def _page_statement(
    query: Query,
    tenant: str,
    limit: int,
    offset: int,
    cursor: tuple[str, ...] | None,
    backward: bool,
) -> Any:
    """One page of matches in sort order, joined to their current versions' rows."""
    outer, where = matching(query, tenant)
    values = sort_values(query.sort, tenant, outer)
    if cursor is not None:
        where = and_(where, beyond(query.sort, values, cursor, forward=not backward))
    labelled = [v.label(f"s{i}") for i, v in enumerate(values)]
    page = (
        select(outer.c.res_type, outer.c.version, *labelled)
        .where(where)
        .order_by(*order_terms(query.sort, values, reverse=backward))
        .offset(offset)
        .limit(limit)
    ).subquery()
    positions = [page.c[f"s{i}"] for i in range(len(values))]
    return (
        select(resource_version, *positions)
        .join(
            page,
            and_(
                resource_version.c.tenant == tenant,
                resource_version.c.res_type == page.c.res_type,
                resource_version.c.res_id == positions[-1],
                resource_version.c.version == page.c.version,
            ),
        )
        .order_by(*order_terms(query.sort, positions, reverse=backward))
    )

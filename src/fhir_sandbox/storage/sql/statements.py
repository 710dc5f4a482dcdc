"""Statements built once, and the driver-level read of the read hot path.

The hottest statements are built at import with named bind parameters, so a call pays for
no expression building and hits SQLAlchemy's compiled cache directly (benchmarks/README.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Engine, and_, bindparam, select, update
from sqlalchemy.exc import TimeoutError as PoolTimeout

from fhir_sandbox.errors import Unavailable
from fhir_sandbox.searchparams.normalize import parse_instant_text
from fhir_sandbox.storage.base import StoredVersion
from fhir_sandbox.storage.sql.engine import sqlite_errors
from fhir_sandbox.storage.sql.schema import INDEX_TABLES, resource, resource_version

ROW_FIELDS = {name: [c.name for c in table.c][4:] for name, table in INDEX_TABLES.items()}
#: An index table's columns as its bulk inserts list them: the owner's key, then the row.
INSERT_COLUMNS = {name: ["tenant", "res_type", "res_id", *f] for name, f in ROW_FIELDS.items()}


def version_of(row: Any) -> StoredVersion:
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


def same_version() -> Any:
    return and_(
        resource.c.tenant == resource_version.c.tenant,
        resource.c.res_type == resource_version.c.res_type,
        resource.c.res_id == resource_version.c.res_id,
        resource.c.version == resource_version.c.version,
    )


def by_key(table: Any) -> list[Any]:
    return [table.c[name] == bindparam(name) for name in ("tenant", "res_type", "res_id")]


CURRENT = select(resource_version).join(resource, same_version()).where(*by_key(resource))
VERSION = select(resource_version).where(
    *by_key(resource_version), resource_version.c.version == bindparam("version")
)


VERSION_COLUMNS = [c.name for c in resource_version.c]
# (update binds may not share a column's name, hence the k_ prefix)
UPDATE_CURRENT = (
    update(resource)
    .where(*(resource.c[n] == bindparam(f"k_{n}") for n in ("tenant", "res_type", "res_id")))
    .values(
        version=bindparam("version"),
        deleted=bindparam("deleted"),
        last_updated=bindparam("last_updated"),
        seq=bindparam("seq"),
    )
)
INDEX_ROWS = {
    name: select(*(table.c[f] for f in ROW_FIELDS[name])).where(*by_key(table))
    for name, table in INDEX_TABLES.items()
}


def positional(stmt: Any, engine: Any, order: tuple[str, ...]) -> str:
    """The statement's SQL for the driver, checked to take its parameters in `order`."""
    compiled = stmt.compile(dialect=engine.dialect)
    if compiled.positional and tuple(compiled.positiontup or ()) != order:
        raise AssertionError(f"parameter order {compiled.positiontup} != {order}")
    return str(compiled.string)


@contextmanager
def pool_wait() -> Iterator[None]:
    try:
        yield
    except PoolTimeout:
        raise Unavailable(
            "Every database connection is busy; please retry", headers={"Retry-After": "1"}
        ) from None


def key_filter(table: Any, key: dict[str, str]) -> list[Any]:
    return [
        table.c.tenant == key["tenant"],
        table.c.res_type == key["res_type"],
        table.c.res_id == key["res_id"],
    ]


def read_one(engine: Engine, sql: str, params: tuple[object, ...]) -> StoredVersion | None:
    """One version row through the driver: SQLite in autocommit, one statement, one
    snapshot. SQLAlchemy's connection, transaction and result objects cost six times the
    query itself here; `sql` comes from `positional`, compiled once."""
    with pool_wait():
        conn = engine.raw_connection()
    try:
        with sqlite_errors():
            cursor = conn.cursor()
            cursor.execute(sql, params)
            row = cursor.fetchone()
            cursor.close()
    finally:
        conn.close()
    if row is None:
        return None
    return version_of(SimpleNamespace(**dict(zip(VERSION_COLUMNS, row, strict=True))))

"""Tables (DESIGN.md §5): resource, resource_version, and one index table per parameter type.

Every table has the tenant column and every query filters on it. Each version's JSON is
stored once (`resource_version.body`) and served as stored. Timestamps are stored in the
fixed-width UTC text form of `searchparams.normalize.instant_text`, which sorts and
compares correctly as text on both databases.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

resource = Table(
    "resource",
    metadata,
    Column("tenant", String(64), nullable=False),
    Column("res_type", String(40), nullable=False),
    Column("res_id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("last_updated", String(26), nullable=False),
    Column("seq", Integer, nullable=False),
    PrimaryKeyConstraint("tenant", "res_type", "res_id"),
    Index("ix_resource_lu", "tenant", "res_type", "last_updated"),
)

resource_version = Table(
    "resource_version",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("tenant", String(64), nullable=False),
    Column("res_type", String(40), nullable=False),
    Column("res_id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("last_updated", String(26), nullable=False),
    Column("method", String(8), nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("body", LargeBinary, nullable=False),
    UniqueConstraint("tenant", "res_type", "res_id", "version", name="uq_version"),
    Index("ix_version_tenant_seq", "tenant", "seq"),
    Index("ix_version_type_seq", "tenant", "res_type", "seq"),
)


def _index_table(name: str, *columns: Column[object], lookups: list[tuple[str, ...]]) -> Table:
    table = Table(
        f"idx_{name}",
        metadata,
        Column("pk", Integer, primary_key=True, autoincrement=True),
        Column("tenant", String(64), nullable=False),
        Column("res_type", String(40), nullable=False),
        Column("res_id", String(64), nullable=False),
        Column("code", String(64), nullable=False),
        *columns,
        Index(f"ix_{name}_owner", "tenant", "res_type", "res_id"),
    )
    for number, lookup in enumerate(lookups):
        Index(f"ix_{name}_{number}", "tenant", "res_type", "code", *lookup, _table=table)
    return table


idx_string = _index_table(
    "string",
    Column("norm", Text, nullable=False),
    Column("exact", Text, nullable=False),
    lookups=[("norm",)],
)
idx_token = _index_table(
    "token",
    Column("system", Text, nullable=False),
    Column("value", Text, nullable=False),
    Column("text", Text, nullable=False),
    lookups=[("value", "system")],
)
idx_reference = _index_table(
    "reference",
    Column("target_type", String(40), nullable=False),
    Column("target_id", String(64), nullable=False),
    Column("url", Text, nullable=False),
    Column("ident_system", Text, nullable=False),
    Column("ident_value", Text, nullable=False),
    lookups=[("target_id", "target_type")],
)
Index(
    "ix_reference_target",
    idx_reference.c.tenant,
    idx_reference.c.target_type,
    idx_reference.c.target_id,
)
idx_date = _index_table(
    "date",
    Column("low", String(26), nullable=False),
    Column("high", String(26), nullable=False),
    lookups=[("low",), ("high",)],
)
idx_uri = _index_table("uri", Column("uri", Text, nullable=False), lookups=[("uri",)])
idx_geo = _index_table(
    "geo",
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
    lookups=[("lat", "lon")],
)

INDEX_TABLES: dict[str, Table] = {
    "string": idx_string,
    "token": idx_token,
    "reference": idx_reference,
    "date": idx_date,
    "uri": idx_uri,
    "geo": idx_geo,
}

meta_info = Table(
    "sandbox_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

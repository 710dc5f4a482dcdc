"""Tables (DESIGN.md §5): resource, resource_version, and one index table per parameter type.

Every table has the tenant column and every query filters on it. Each version's JSON is
stored once (`resource_version.body`) and served as stored. Timestamps are stored in the
fixed-width UTC text form of `searchparams.normalize.instant_text`, which sorts and
compares correctly as text on both databases.

Text is compared by code point on both databases, as the keyset paging in Python does:
SQLite's default (BINARY) collation already does that, and on PostgreSQL every text column
is `COLLATE "C"` (`code_text`), whatever the database's own collation. Sequence numbers and
row keys are 64-bit on PostgreSQL. The schema is created and changed only by the Alembic
migrations in `migrations/` (`migrate.py`); a test holds them to these tables.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
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


def code_text(length: int | None = None) -> String:
    """A text type compared by code point on both databases (see the module docstring)."""
    base = Text if length is None else String
    return base(length).with_variant(base(length, collation="C"), "postgresql")


def row_key() -> BigInteger:
    """An autoincrementing key: BIGINT identity on PostgreSQL, SQLite's INTEGER rowid."""
    return BigInteger().with_variant(Integer(), "sqlite")


resource = Table(
    "resource",
    metadata,
    Column("tenant", code_text(64), nullable=False),
    Column("res_type", code_text(40), nullable=False),
    Column("res_id", code_text(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("last_updated", code_text(26), nullable=False),
    Column("seq", row_key(), nullable=False),
    PrimaryKeyConstraint("tenant", "res_type", "res_id"),
    Index("ix_resource_lu", "tenant", "res_type", "last_updated"),
    # everything a search reads of the current state, so it never visits the table (0003)
    Index("ix_resource_current", "tenant", "res_type", "res_id", "deleted", "version"),
)

resource_version = Table(
    "resource_version",
    metadata,
    Column("seq", row_key(), primary_key=True, autoincrement=True),
    Column("tenant", code_text(64), nullable=False),
    Column("res_type", code_text(40), nullable=False),
    Column("res_id", code_text(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("last_updated", code_text(26), nullable=False),
    Column("method", code_text(8), nullable=False),
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
        Column("pk", row_key(), primary_key=True, autoincrement=True),
        Column("tenant", code_text(64), nullable=False),
        Column("res_type", code_text(40), nullable=False),
        Column("res_id", code_text(64), nullable=False),
        Column("code", code_text(64), nullable=False),
        *columns,
        Index(f"ix_{name}_owner", "tenant", "res_type", "res_id"),
    )
    for number, lookup in enumerate(lookups):  # covering: res_id too (migration 0003)
        indexed = ("tenant", "res_type", "code", *lookup, "res_id")
        Index(f"ix_{name}_{number}", *indexed, _table=table)
    return table


idx_string = _index_table(
    "string",
    Column("norm", code_text(), nullable=False),
    Column("exact", code_text(), nullable=False),
    lookups=[("norm",)],
)
# `:contains` (LIKE '%…%') on PostgreSQL: a trigram index (extension pg_trgm, migration 0002)
Index(
    "ix_string_norm_trgm",
    idx_string.c.norm,
    postgresql_using="gin",
    postgresql_ops={"norm": "gin_trgm_ops"},
).ddl_if(dialect="postgresql")
idx_token = _index_table(
    "token",
    Column("system", code_text(), nullable=False),
    Column("value", code_text(), nullable=False),
    Column("text", code_text(), nullable=False),
    lookups=[("value", "system")],
)
idx_reference = _index_table(
    "reference",
    Column("target_type", code_text(40), nullable=False),
    Column("target_id", code_text(64), nullable=False),
    Column("url", code_text(), nullable=False),
    Column("ident_system", code_text(), nullable=False),
    Column("ident_value", code_text(), nullable=False),
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
    Column("low", code_text(26), nullable=False),
    Column("high", code_text(26), nullable=False),
    lookups=[("low",), ("high",)],
)
idx_uri = _index_table("uri", Column("uri", code_text(), nullable=False), lookups=[("uri",)])
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
    Column("key", code_text(64), primary_key=True),
    Column("value", code_text(), nullable=False),
)

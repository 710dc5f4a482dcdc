"""The initial schema (DESIGN.md §5): resources, versions, the typed index tables.

This is also the schema the server created before it used Alembic, so such a database is
adopted by stamping it at this revision (`migrate.upgrade`).

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _text(length: int | None = None) -> sa.String:
    """Code-point ordered text: COLLATE "C" on PostgreSQL, SQLite's BINARY default."""
    base = sa.Text if length is None else sa.String
    return base(length).with_variant(base(length, collation="C"), "postgresql")


def _key() -> sa.BigInteger:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _owner() -> list[sa.Column[object]]:
    return [
        sa.Column("tenant", _text(64), nullable=False),
        sa.Column("res_type", _text(40), nullable=False),
        sa.Column("res_id", _text(64), nullable=False),
    ]


INDEX_TABLES: dict[str, tuple[list[tuple[str, Any]], list[list[str]]]] = {
    "string": ([("norm", _text()), ("exact", _text())], [["norm"]]),
    "token": ([("system", _text()), ("value", _text()), ("text", _text())], [["value", "system"]]),
    "reference": (
        [
            ("target_type", _text(40)),
            ("target_id", _text(64)),
            ("url", _text()),
            ("ident_system", _text()),
            ("ident_value", _text()),
        ],
        [["target_id", "target_type"]],
    ),
    "date": ([("low", _text(26)), ("high", _text(26))], [["low"], ["high"]]),
    "uri": ([("uri", _text())], [["uri"]]),
    "geo": ([("lat", sa.Float()), ("lon", sa.Float())], [["lat", "lon"]]),
}


def upgrade() -> None:
    op.create_table(
        "resource",
        *_owner(),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("last_updated", _text(26), nullable=False),
        sa.Column("seq", _key(), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "res_type", "res_id"),
    )
    op.create_index("ix_resource_lu", "resource", ["tenant", "res_type", "last_updated"])

    op.create_table(
        "resource_version",
        sa.Column("seq", _key(), primary_key=True, autoincrement=True),
        *_owner(),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("last_updated", _text(26), nullable=False),
        sa.Column("method", _text(8), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.UniqueConstraint("tenant", "res_type", "res_id", "version", name="uq_version"),
    )
    op.create_index("ix_version_tenant_seq", "resource_version", ["tenant", "seq"])
    op.create_index("ix_version_type_seq", "resource_version", ["tenant", "res_type", "seq"])

    for name, (columns, lookups) in INDEX_TABLES.items():
        table = f"idx_{name}"
        op.create_table(
            table,
            sa.Column("pk", _key(), primary_key=True, autoincrement=True),
            *_owner(),
            sa.Column("code", _text(64), nullable=False),
            *(sa.Column(column, type_, nullable=False) for column, type_ in columns),
        )
        op.create_index(f"ix_{name}_owner", table, ["tenant", "res_type", "res_id"])
        for number, lookup in enumerate(lookups):
            op.create_index(f"ix_{name}_{number}", table, ["tenant", "res_type", "code", *lookup])
    op.create_index("ix_reference_target", "idx_reference", ["tenant", "target_type", "target_id"])

    op.create_table(
        "sandbox_meta",
        sa.Column("key", _text(64), primary_key=True),
        sa.Column("value", _text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sandbox_meta")
    for name in INDEX_TABLES:
        op.drop_table(f"idx_{name}")
    op.drop_table("resource_version")
    op.drop_table("resource")

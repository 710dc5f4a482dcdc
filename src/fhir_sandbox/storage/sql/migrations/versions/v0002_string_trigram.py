"""PostgreSQL: a trigram index for `:contains` on string parameters (pg_trgm).

`name:contains=…` compiles to `norm LIKE '%…%'`, which a B-tree cannot serve; a GIN
trigram index can. pg_trgm is a trusted extension (PostgreSQL 13+), so the database owner
may create it; on SQLite this revision changes nothing.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-01
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    # IF NOT EXISTS: a database made by `metadata.create_all` before Alembic may have it
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_string_norm_trgm ON idx_string USING gin (norm gin_trgm_ops)"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_string_norm_trgm", table_name="idx_string")

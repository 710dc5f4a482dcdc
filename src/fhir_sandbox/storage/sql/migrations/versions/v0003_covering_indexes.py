"""Covering search indexes: each lookup index also carries `res_id`, and the current-state
table gets an index holding everything a search reads from it.

A search clause selects `res_id` from an index table by (tenant, type, code, value); with
`res_id` in the index the database answers from the index alone instead of visiting one
table row per match, and the outer query's (tenant, type, res_id, deleted, version) come
from `ix_resource_current` the same way. Measured on 100k resources (SQLite): a name-prefix
count over 806 matches went from 3.5 ms to 1.1 ms, its first page from 1.6 ms to 0.4 ms
(benchmarks/README.md).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# (index table, lookup number): the lookup columns after (tenant, res_type, code)
LOOKUPS: dict[tuple[str, int], list[str]] = {
    ("string", 0): ["norm"],
    ("token", 0): ["value", "system"],
    ("reference", 0): ["target_id", "target_type"],
    ("date", 0): ["low"],
    ("date", 1): ["high"],
    ("uri", 0): ["uri"],
    ("geo", 0): ["lat", "lon"],
}
CURRENT = ["tenant", "res_type", "res_id", "deleted", "version"]


def upgrade() -> None:
    for (name, number), lookup in LOOKUPS.items():
        index, table = f"ix_{name}_{number}", f"idx_{name}"
        op.drop_index(index, table_name=table)
        op.create_index(index, table, ["tenant", "res_type", "code", *lookup, "res_id"])
    op.create_index("ix_resource_current", "resource", CURRENT)


def downgrade() -> None:
    op.drop_index("ix_resource_current", table_name="resource")
    for (name, number), lookup in LOOKUPS.items():
        index, table = f"ix_{name}_{number}", f"idx_{name}"
        op.drop_index(index, table_name=table)
        op.create_index(index, table, ["tenant", "res_type", "code", *lookup])

"""Alembic's environment: runs the migrations on the connection `migrate.py` hands over.

The caller has already begun the transaction (and, on PostgreSQL, taken the migration
lock), so every revision of one upgrade commits together or not at all.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from fhir_sandbox.storage.sql.schema import metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("run the migrations through fhir_sandbox.storage.sql.migrate")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported")
run_migrations_online()

"""Schema migrations: Alembic, configured in code (no alembic.ini), for SQLite and PostgreSQL.

- `upgrade(engine)` applies every pending revision in ONE transaction (PostgreSQL DDL is
  transactional; SQLite holds its writer lock throughout), under a lock so that two
  processes upgrading at once apply each revision once.
- `status(engine)` says where a database stands; the server refuses to start on a schema
  that is behind (`SchemaOutOfDate`, naming the command to run), except that a brand-new,
  empty embedded SQLite database is upgraded on first start (app.create_repository).
- A database created before the project used Alembic holds exactly revision 0001's tables:
  `upgrade` adopts it by stamping it at 0001 first, then upgrades it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001"  # the schema the server created with metadata.create_all before Alembic
MIGRATION_LOCK = 0x46484952  # pg_advisory_xact_lock key for migrations ("FHIR")
UPGRADE_COMMAND = "fhir-sandbox db upgrade"
VERSION_TABLE = "alembic_version"


class SchemaOutOfDate(RuntimeError):
    """The database's schema is not the one this version of the server needs."""


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("file_template", "v%%(rev)s_%%(slug)s")
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@cache
def head() -> str:
    """The newest revision this code knows."""
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads: {heads}")
    return heads[0]


@cache
def known_revisions() -> frozenset[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return frozenset(r.revision for r in script.walk_revisions())


@dataclass(frozen=True)
class SchemaStatus:
    current: str | None  # the database's revision (None: never migrated)
    head: str
    has_tables: bool  # the sandbox's tables exist (a pre-Alembic database has no revision)

    @property
    def empty(self) -> bool:
        return self.current is None and not self.has_tables

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    @property
    def ahead(self) -> bool:
        """Migrated by a newer fhir-sandbox than this one."""
        return self.current is not None and self.current not in known_revisions()


def _status(conn: Connection) -> SchemaStatus:
    tables = inspect(conn)
    current = None
    if tables.has_table(VERSION_TABLE):  # read directly: MigrationContext logs at INFO
        current = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    return SchemaStatus(current, head(), tables.has_table("resource"))


def status(engine: Engine) -> SchemaStatus:
    with engine.connect() as conn:
        return _status(conn)


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Apply the migrations up to `revision`; returns (revision before, revision after)."""
    with engine.connect() as conn:
        conn = conn.execution_options(fhir_write=True)  # SQLite: BEGIN IMMEDIATE
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
                conn.execute(text("SET LOCAL statement_timeout = 0"))  # DDL may take long
            before = _status(conn)
            if before.ahead:
                raise SchemaOutOfDate(_ahead_message(before))
            config = alembic_config(conn)
            if before.current is None and before.has_tables:
                command.stamp(config, BASELINE)
            command.upgrade(config, revision)
            after = _status(conn)
    return before.current, after.current or ""


def ensure_current(engine: Engine, where: str) -> None:
    """Raise SchemaOutOfDate unless the database is at this code's head revision."""
    found = status(engine)
    if found.up_to_date:
        return
    if found.ahead:
        raise SchemaOutOfDate(_ahead_message(found))
    state = (
        "is empty"
        if found.empty
        else "predates schema migrations"
        if found.current is None
        else f"is at schema revision {found.current}"
    )
    raise SchemaOutOfDate(
        f"The database {where} {state}; this fhir-sandbox needs revision {found.head}. "
        f"Run `{UPGRADE_COMMAND} --database-url <url>` (or with FHIR_SANDBOX_DATABASE_URL "
        "set), then start the server again."
    )


def _ahead_message(found: SchemaStatus) -> str:
    return (
        f"The database is at schema revision {found.current}, which this fhir-sandbox does "
        f"not know (its newest is {found.head}): it was migrated by a newer version. "
        "Upgrade fhir-sandbox."
    )

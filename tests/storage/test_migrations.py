"""Schema migrations (storage/sql/migrate.py) on the database under test (SQLite or
PostgreSQL, FHIR_SANDBOX_TEST_DATABASE): the migrations build exactly schema.py, upgrading a
database that holds data keeps every resource and version, and a server refuses to start on
a schema that is behind, naming the command to run.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from typer.testing import CliRunner

from fhir_sandbox.app import create_repository
from fhir_sandbox.cli import app as cli
from fhir_sandbox.config import Settings
from fhir_sandbox.search.parse import parse_search
from fhir_sandbox.searchparams.extract import extract_index
from fhir_sandbox.searchparams.registry import default_registry
from fhir_sandbox.storage.base import HistoryFilter, StoredVersion
from fhir_sandbox.storage.sql import migrate
from fhir_sandbox.storage.sql.engine import make_engine
from fhir_sandbox.storage.sql.repository import SqlRepository
from fhir_sandbox.storage.sql.schema import metadata

REGISTRY = default_registry()
T0 = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
TENANT = "migrations"


@pytest.fixture()
def empty_url(databases: Any) -> str:
    """A brand-new database without any tables."""
    url: str = databases.new(migrated=False)
    return url


@pytest.fixture()
def engine(empty_url: str) -> Iterator[Engine]:
    engine = make_engine(empty_url)
    yield engine
    engine.dispose()


def _write_history(repository: SqlRepository) -> None:
    """Three organisations: one updated twice, one deleted, one untouched."""
    with repository.session(TENANT, write=True) as session:
        for number in range(3):
            org = {"resourceType": "Organization", "id": f"org{number}", "name": f"Alpha {number}"}
            session.save(_version(org, 1, number), extract_index(org, REGISTRY))
        for version in (2, 3):
            org = {"resourceType": "Organization", "id": "org0", "name": f"Beta v{version}"}
            session.save(_version(org, version, 10 + version), extract_index(org, REGISTRY))
        gone = StoredVersion(
            "Organization", "org2", 2, T0 + timedelta(minutes=20), "DELETE", True, b""
        )
        session.save(gone, None)


def _version(resource: dict[str, Any], version: int, minute: int) -> StoredVersion:
    return StoredVersion(
        resource_type="Organization",
        id=resource["id"],
        version=version,
        last_updated=T0 + timedelta(minutes=minute),
        method="POST" if version == 1 else "PUT",
        deleted=False,
        body=orjson.dumps(resource),
    )


def _snapshot(repository: SqlRepository) -> dict[str, Any]:
    """Every version (with its bytes) and what searches find."""
    with repository.session(TENANT) as session:
        versions = [
            (v.id, v.version, v.method, v.deleted, v.body, v.last_updated, v.seq)
            for v in session.history(HistoryFilter(), 100)
        ]
        found = {
            name: sorted(
                v.id
                for v in session.search(
                    parse_search("Organization", [("name", name)], REGISTRY).query, 0, 10
                )
            )
            for name in ("alpha", "beta")
        }
    return {"versions": versions, "found": found}


def test_the_migrations_build_exactly_schema_py(engine: Engine) -> None:
    migrate.upgrade(engine)

    def include(obj: Any, name: str | None, kind: str, *_: Any) -> bool:
        # the trigram index is PostgreSQL-only (Index.ddl_if), which autogenerate ignores
        return not (name == "ix_string_norm_trgm" and engine.dialect.name != "postgresql")

    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": include}
        )
        assert compare_metadata(context, metadata) == []
        if engine.dialect.name == "postgresql":
            # code-point order like SQLite's and like the keyset paging in Python
            other = conn.execute(
                text(
                    "SELECT table_name, column_name, collation_name FROM information_schema.columns"
                    " WHERE table_schema = 'public' AND data_type IN ('text', 'character varying')"
                    " AND table_name <> 'alembic_version'"
                    " AND collation_name IS DISTINCT FROM 'C'"
                )
            ).all()
            assert other == []
            indexes = inspect(conn).get_indexes("idx_string")
            assert "ix_string_norm_trgm" in {i["name"] for i in indexes}


def test_upgrading_a_database_with_data_keeps_every_resource_and_version(empty_url: str) -> None:
    repository = SqlRepository(empty_url)
    try:
        assert migrate.upgrade(repository.engine, migrate.BASELINE) == (None, migrate.BASELINE)
        _write_history(repository)  # data written at the older revision
        before = _snapshot(repository)
        assert len(before["versions"]) == 6
        assert before["found"] == {"alpha": ["org1"], "beta": ["org0"]}

        assert migrate.upgrade(repository.engine) == (migrate.BASELINE, migrate.head())
        assert _snapshot(repository) == before
        assert migrate.upgrade(repository.engine) == (migrate.head(), migrate.head())  # no-op
        assert _snapshot(repository) == before
        repository.check_schema()
        with repository.session(TENANT, write=True) as session:  # and it keeps working
            org = {"resourceType": "Organization", "id": "org3", "name": "Alpha 3"}
            assert session.save(_version(org, 1, 30), extract_index(org, REGISTRY)).seq > max(
                v[-1] for v in before["versions"]
            )
    finally:
        repository.close()


def test_a_database_made_before_migrations_is_adopted(engine: Engine, empty_url: str) -> None:
    # what the server made before it used Alembic: the baseline schema, with no version table
    migrate.upgrade(engine, migrate.BASELINE)
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {migrate.VERSION_TABLE}"))
    repository = SqlRepository(empty_url)
    try:
        _write_history(repository)
        before = _snapshot(repository)
        with pytest.raises(migrate.SchemaOutOfDate, match="predates schema migrations"):
            repository.check_schema()
        assert migrate.upgrade(engine) == (None, migrate.head())
        assert _snapshot(repository) == before
        repository.check_schema()
    finally:
        repository.close()


def test_the_server_refuses_a_schema_that_is_behind(engine: Engine, empty_url: str) -> None:
    migrate.upgrade(engine, migrate.BASELINE)
    settings = Settings(database_url=empty_url, seed_on_start=False)
    with pytest.raises(migrate.SchemaOutOfDate) as refused:
        create_repository(settings)
    message = str(refused.value)
    assert f"is at schema revision {migrate.BASELINE}" in message
    assert f"needs revision {migrate.head()}" in message
    assert "fhir-sandbox db upgrade" in message

    migrate.upgrade(engine)
    create_repository(settings).close()


def test_only_the_embedded_database_is_created_on_first_start(
    empty_url: str, tmp_path: Path
) -> None:
    with pytest.raises(migrate.SchemaOutOfDate, match=r"is empty.*fhir-sandbox db upgrade"):
        create_repository(Settings(database_url=empty_url))
    embedded = create_repository(Settings(data_dir=tmp_path, database_url=""))
    try:
        assert embedded.schema_status().up_to_date
        assert (tmp_path / "fhir-sandbox.db").exists()
    finally:
        embedded.close()


def test_a_schema_from_a_newer_version_is_refused(engine: Engine) -> None:
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(migrate.SchemaOutOfDate, match="migrated by a newer version"):
        migrate.ensure_current(engine, "here")
    with pytest.raises(migrate.SchemaOutOfDate, match="migrated by a newer version"):
        migrate.upgrade(engine)


def test_db_commands(empty_url: str) -> None:
    runner = CliRunner()
    behind = runner.invoke(cli, ["db", "current", "--database-url", empty_url])
    assert behind.exit_code == 1
    assert "database revision: (none)" in behind.output
    assert "fhir-sandbox db upgrade" in behind.output

    upgraded = runner.invoke(cli, ["db", "upgrade", "--database-url", empty_url])
    assert upgraded.exit_code == 0, upgraded.output
    assert f"upgraded from revision (none) to {migrate.head()}" in upgraded.output
    again = runner.invoke(cli, ["db", "upgrade", "--database-url", empty_url])
    assert f"already at revision {migrate.head()}" in again.output

    current = runner.invoke(cli, ["db", "current", "--database-url", empty_url])
    assert current.exit_code == 0
    assert f"database revision: {migrate.head()}" in current.output

"""Shared fixtures: a real server on loopback (uvicorn in a thread, SQLite in a temp dir).

Tests that write use their own tenant base (`/ehr/<unique>/r4`), so they are isolated from
each other and from the seeded directory at `/fhir`.

The database under test is chosen by `FHIR_SANDBOX_TEST_DATABASE`: `sqlite` (default) or
`postgresql`. With `postgresql` the live server, the repository suites and everything that
asks `databases` for a database get a FRESH PostgreSQL database created for this session
(`fhir_sandbox_test_<random>` on the server of `FHIR_SANDBOX_TEST_POSTGRES_ADMIN_URL`,
default `postgresql://postgres@127.0.0.1:5432/postgres`) and dropped at its end.
`make test` runs the whole suite both ways.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fhir_r4 import missing
from fhir_sandbox.config import Settings
from fhir_sandbox.testing import LiveServer

TEST_DATABASE = os.environ.get("FHIR_SANDBOX_TEST_DATABASE") or "sqlite"
if TEST_DATABASE not in ("sqlite", "postgresql"):
    raise pytest.UsageError(
        f"FHIR_SANDBOX_TEST_DATABASE={TEST_DATABASE!r}: expected 'sqlite' or 'postgresql'"
    )
POSTGRES_ADMIN_URL = (
    os.environ.get("FHIR_SANDBOX_TEST_POSTGRES_ADMIN_URL")
    or "postgresql://postgres@127.0.0.1:5432/postgres"
)


def pytest_configure(config: pytest.Config) -> None:
    """Stop before collecting when the official R4 files are not there (tests/fhir_r4.py):
    tests parametrised over them would otherwise collect nothing and pass."""
    problem = missing()
    if problem is not None:
        raise pytest.UsageError(problem)


class Databases:
    """Fresh, empty databases of the backend under test (`backend`).

    `new()` gives a database already at the newest schema revision (SQLite: a copy of one
    migrated template file, so each costs a file copy; PostgreSQL: a new database migrated
    through Alembic); `new(migrated=False)` an empty one. PostgreSQL databases are dropped
    when the session ends.
    """

    def __init__(self, backend: str, folder: Path) -> None:
        self.backend = backend
        self.folder = folder
        self._created: list[str] = []
        self._template: Path | None = None

    def new(self, migrated: bool = True) -> str:
        name = f"fhir_sandbox_test_{uuid.uuid4().hex[:12]}"
        if self.backend == "sqlite":
            path = self.folder / f"{name}.db"
            if migrated:
                shutil.copyfile(self._sqlite_template(), path)
            return f"sqlite:///{path}"
        url = self._create_postgres(name)
        if migrated:
            _upgrade(url)
        return url

    def _sqlite_template(self) -> Path:
        if self._template is None:
            self._template = self.folder / "template.db"
            _upgrade(f"sqlite:///{self._template}")
        return self._template

    def _create_postgres(self, name: str) -> str:
        import psycopg
        from sqlalchemy.engine import make_url

        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        self._created.append(name)
        url = make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql+psycopg", database=name)
        return url.render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if not self._created:
            return
        import psycopg

        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            for name in self._created:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._created.clear()


def _upgrade(url: str) -> None:
    from fhir_sandbox.storage.sql.engine import make_engine
    from fhir_sandbox.storage.sql.migrate import upgrade

    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    """Fresh databases of the backend under test (FHIR_SANDBOX_TEST_DATABASE)."""
    store = Databases(TEST_DATABASE, tmp_path_factory.mktemp("databases"))
    yield store
    store.drop_all()


@pytest.fixture(scope="session")
def server_settings(tmp_path_factory: pytest.TempPathFactory, databases: Databases) -> Settings:
    """SQLite: the embedded default in a temp dir (created on first start, like the
    quickstart); PostgreSQL: a fresh database, migrated as an operator would."""
    data_dir = tmp_path_factory.mktemp("data")
    url = databases.new() if databases.backend == "postgresql" else ""
    return Settings(
        data_dir=data_dir, database_url=url, log_requests=False, max_body_bytes=1_000_000
    )


@pytest.fixture(scope="session")
def live_server(server_settings: Settings) -> Iterator[LiveServer]:
    with LiveServer(server_settings) as server:
        yield server


@pytest.fixture()
def base(live_server: LiveServer) -> str:
    """A fresh, empty FHIR base for this test (its own tenant)."""
    return f"{live_server.url}/ehr/t{uuid.uuid4().hex[:12]}/r4"


@pytest.fixture()
def directory(live_server: LiveServer) -> str:
    """The seeded directory's FHIR base (read-only use, please)."""
    return f"{live_server.url}/fhir"


@pytest.fixture()
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30, headers={"Accept": "application/fhir+json"}) as client:
        yield client

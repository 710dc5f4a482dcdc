"""The storage boundary on its own: an unreachable or busy database is `Unavailable` (503)
within its timeouts, aborted transactions (serialisation failure / deadlock) are retried,
and exhausted retries answer 503 without writing anything.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from shared_database import BACKEND, is_outcome, org
from sqlalchemy import text
from sqlalchemy.engine import make_url

from fhir_sandbox.config import Settings
from fhir_sandbox.errors import Contention, Unavailable
from fhir_sandbox.storage.base import Session
from fhir_sandbox.storage.sql.engine import EngineOptions
from fhir_sandbox.storage.sql.repository import SqlRepository
from fhir_sandbox.testing import LiveServer
from server_process import free_port

# -- the storage boundary -------------------------------------------------------------------


def test_an_unreachable_database_is_unavailable(tmp_path: Path) -> None:
    if BACKEND == "postgresql":
        url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere"
    else:
        (tmp_path / "a-directory.db").mkdir()
        url = f"sqlite:///{tmp_path}/a-directory.db"
    repository = SqlRepository(url, EngineOptions(connect_timeout=2))
    try:
        started = time.monotonic()
        with pytest.raises(Unavailable) as caught, repository.session("t", write=True):
            pass
        assert caught.value.status == 503
        assert time.monotonic() - started < 5
    finally:
        repository.close()


def test_a_busy_database_times_out_with_503(databases: Any) -> None:
    url = databases.new()
    repository = SqlRepository(url, EngineOptions(statement_timeout=0.3))
    try:
        if BACKEND == "postgresql":
            with pytest.raises(Unavailable) as caught, repository.session("t") as session:
                _connection(session).execute(text("SELECT pg_sleep(5)"))
            assert caught.value.issues[0].code == "timeout"
        else:
            holder = sqlite3.connect(make_url(url).database or "", isolation_level=None)
            holder.execute("BEGIN EXCLUSIVE")
            try:
                with pytest.raises(Unavailable), repository.session("t", write=True):
                    pass
            finally:
                holder.close()
        with repository.session("t", write=True):  # and then it works again
            pass
    finally:
        repository.close()


def _connection(session: Session) -> Any:
    return session._conn  # type: ignore[attr-defined]


@pytest.mark.parametrize("state", ["40001", "40P01"])
def test_aborted_transactions_are_retried(
    state: str, databases: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: a trigger makes the first two attempts fail with a real serialisation
    failure / deadlock; SQLite (which has neither): the repository raises them."""
    url = databases.new()
    repository = SqlRepository(url)
    failures = 2
    if BACKEND == "postgresql":
        with repository.engine.begin() as conn:
            conn.execute(text("CREATE SEQUENCE IF NOT EXISTS flaky_attempts"))
            conn.execute(
                text(
                    "CREATE OR REPLACE FUNCTION flaky() RETURNS trigger AS $$ BEGIN"
                    " IF nextval('flaky_attempts') <= :n THEN"
                    f" RAISE EXCEPTION 'simulated' USING ERRCODE = '{state}'; END IF;"
                    " RETURN NEW; END $$ LANGUAGE plpgsql".replace(":n", str(failures))
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER flaky BEFORE INSERT ON resource_version"
                    " FOR EACH ROW EXECUTE FUNCTION flaky()"
                )
            )
    else:
        real_session = repository.session
        attempts = {"n": 0}

        @contextmanager
        def flaky(tenant: str, *, write: bool = False) -> Iterator[Any]:
            with real_session(tenant, write=write) as session:
                if write:
                    attempts["n"] += 1
                    if attempts["n"] <= failures:
                        raise Contention(f"simulated {state}")
                yield session

        monkeypatch.setattr(repository, "session", flaky)

    settings = Settings(database_url=url, seed_on_start=False, log_requests=False)
    with LiveServer(settings) as server, _serving(server, repository):
        created = httpx.post(f"{server.url}/fhir/Organization", json=org("Retried"))
        assert created.status_code == 201, created.text
        assert httpx.get(f"{server.url}/fhir/Organization").json()["total"] == 1
    if BACKEND == "postgresql":
        with repository.engine.connect() as conn:  # two failed attempts, then the one kept
            assert conn.execute(text("SELECT last_value FROM flaky_attempts")).scalar() == 3
    else:
        assert attempts["n"] == 3
    repository.close()


@contextmanager
def _serving(server: LiveServer, repository: SqlRepository) -> Iterator[None]:
    """Point the live server's context at `repository` (the flaky one) while in the block."""
    context = server.server.config.loaded_app  # uvicorn's wrapped app
    app = _find_fastapi(context)
    original = app.state.context.repository
    app.state.context.repository = repository
    try:
        yield
    finally:
        app.state.context.repository = original


def _find_fastapi(app: Any) -> Any:
    while not hasattr(app, "state"):
        app = app.app
    return app


def test_exhausted_retries_answer_503(databases: Any) -> None:
    url = databases.new()
    repository = SqlRepository(url)
    real_session = repository.session

    def always_contended(tenant: str, *, write: bool = False) -> AbstractContextManager[Any]:
        if write:
            raise Contention("simulated deadlock")
        return real_session(tenant, write=write)

    repository.session = always_contended  # type: ignore[method-assign]
    settings = Settings(database_url=url, seed_on_start=False, log_requests=False)
    with LiveServer(settings) as server, _serving(server, repository):
        refused = httpx.post(f"{server.url}/fhir/Organization", json=org("Never"))
        is_outcome(refused, 503)
        assert httpx.get(f"{server.url}/fhir/Organization").json()["total"] == 0
    repository.close()

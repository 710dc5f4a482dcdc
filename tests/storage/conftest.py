"""Repositories for the storage contract suite: every test runs once per backend.

Backends: the in-memory reference repository and the database under test
(`FHIR_SANDBOX_TEST_DATABASE`, tests/conftest.py): SQLite (a fresh file per test) by default,
PostgreSQL in the `postgresql` run, which replaces SQLite there (the SQLite run covers it, so
CI does not test it twice). The list is built at collection time, so nothing is skipped. On
PostgreSQL one fresh database serves the session, so every test works in its own tenants
(see `tenant`) and wipes them afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from repository_contract import store_directory

from fhir_sandbox.storage.base import Repository
from fhir_sandbox.storage.memory import MemoryRepository
from fhir_sandbox.storage.sql.repository import SqlRepository

BACKENDS = ["memory", os.environ.get("FHIR_SANDBOX_TEST_DATABASE") or "sqlite"]


@pytest.fixture(scope="session")
def postgres_repository_url(databases: Any) -> str:
    """One fresh, migrated PostgreSQL database for the repository tests of this session."""
    url: str = databases.new()
    return url


def _open(backend: str, request: pytest.FixtureRequest) -> Repository:
    if backend == "memory":
        return MemoryRepository()
    if backend == "sqlite":
        url = request.getfixturevalue("databases").new()  # a fresh file, already migrated
    else:
        url = request.getfixturevalue("postgres_repository_url")  # migrated once
    return SqlRepository(url)


@pytest.fixture(params=BACKENDS)
def repo(request: pytest.FixtureRequest) -> Iterator[Repository]:
    """A fresh repository (PostgreSQL: a fresh set of tenants in the session's database)."""
    repository = _open(request.param, request)
    yield repository
    repository.close()


@pytest.fixture()
def tenant(repo: Repository) -> Iterator[Callable[[str], str]]:
    """`tenant("a")`: a tenant name unique to this test; its data is wiped afterwards."""
    prefix = f"t{uuid.uuid4().hex[:10]}-"
    used: set[str] = set()

    def name(short: str) -> str:
        used.add(prefix + short)
        return prefix + short

    yield name
    for tenant_name in used:
        repo.wipe(tenant_name)


@pytest.fixture()
def directory(repo: Repository, tenant: Callable[[str], str]) -> str:
    """A tenant holding repository_contract.py's data set."""
    return store_directory(repo, tenant("dir"))


@pytest.fixture(scope="module")
def shared_url(databases: Any) -> str:
    """One migrated database of the backend under test, shared by a module's server processes."""
    url: str = databases.new()
    return url

"""Fixtures for the search tests: SQL repositories, one per backend, shared by a module.

Backend: the database under test (`FHIR_SANDBOX_TEST_DATABASE`, see tests/conftest.py):
SQLite (a temp file) by default; in the `postgresql` run PostgreSQL (a fresh database from
the `databases` fixture) replaces it, since the SQLite run covers SQLite. The list is built
at collection time, so nothing is skipped. Every directory the tests load lives in its own
tenant.

This directory is put on sys.path so the tests can `import search_oracle` (pytest's
default prepend import mode puts only the test file's own directory there, and the name
`conftest` belongs to tests/conftest.py).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fhir_sandbox.storage.sql.repository import SqlRepository

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

BACKENDS = [os.environ.get("FHIR_SANDBOX_TEST_DATABASE") or "sqlite"]


@pytest.fixture(scope="module", params=BACKENDS)
def sql_repo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SqlRepository]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('search')}/search.db"
    else:
        url = request.getfixturevalue("databases").new()
    repository = SqlRepository(url)
    repository.create_schema()
    yield repository
    repository.close()

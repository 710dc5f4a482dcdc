"""Fixtures for the $export tests: a server of their own, with small export limits.

Its files hold at most 3 resources (so splitting shows with a handful), at most 2 exports
run at once, and tests may hold a job on a hook or move the job service's clock (`jobs`
puts both back and waits for every job to end).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fhir_sandbox.bulk.export_jobs import ExportManager
from fhir_sandbox.config import Settings
from fhir_sandbox.interactions.context import utc_now
from fhir_sandbox.testing import LiveServer


@pytest.fixture(scope="module")
def export_sandbox(
    tmp_path_factory: pytest.TempPathFactory, databases: Any
) -> Iterator[LiveServer]:
    url = databases.new() if databases.backend == "postgresql" else ""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("export-data"),
        database_url=url,
        log_requests=False,
        export_file_max_resources=3,
        max_concurrent_exports=2,
    )
    with LiveServer(settings) as server:
        yield server


@pytest.fixture()
def jobs(export_sandbox: LiveServer) -> Iterator[ExportManager]:
    manager: ExportManager = export_sandbox.app.state.exports
    yield manager
    manager.on_page = None
    manager.clock = utc_now
    assert manager.join(timeout=30), "an export job did not end"


@pytest.fixture()
def export_dir(jobs: ExportManager) -> Path:
    return jobs.store.root


@pytest.fixture()
def xbase(export_sandbox: LiveServer, jobs: ExportManager) -> str:
    """A fresh, empty tenant on the export server."""
    return f"{export_sandbox.url}/ehr/x{uuid.uuid4().hex[:12]}/r4"

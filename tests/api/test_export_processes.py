"""$export across server processes: two `fhir-sandbox serve` processes on one database and
one export folder (what `serve --workers N` is, with the worker chosen for us) — a job
started at one is polled, downloaded and cancelled at the other."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx

from export_client import download, kick_off, manifest
from server_process import ServerProcess


@contextmanager
def servers(tmp_path: Path, databases: Any, count: int) -> Iterator[list[ServerProcess]]:
    """`count` servers on one database and one export folder, each with its own data dir."""
    url, exports = databases.new(), tmp_path / "exports"
    with ExitStack() as stack:
        yield [
            stack.enter_context(
                ServerProcess(
                    url,
                    tmp_path / f"server-{n}.log",
                    FHIR_SANDBOX_DATA_DIR=str(tmp_path / f"data-{n}"),
                    FHIR_SANDBOX_EXPORT_DIR=str(exports),
                )
            )
            for n in range(count)
        ]


def test_a_job_is_served_by_every_process(
    tmp_path: Path, databases: Any, http: httpx.Client
) -> None:
    with servers(tmp_path, databases, 2) as (first, second):
        tenant = f"/ehr/p{uuid.uuid4().hex[:8]}/r4"
        organization = {"resourceType": "Organization", "name": "Shared"}
        created = http.post(f"{first.url}{tenant}/Organization", json=organization)
        assert created.status_code == 201
        status_url = kick_off(http, f"{first.url}{tenant}/$export")
        elsewhere = status_url.replace(first.url, second.url)
        body = manifest(http, elsewhere)  # the job ran in the first process
        assert body["output"][0]["url"].startswith(f"{second.url}{tenant}/_export/")
        assert download(http, body["output"][0])[0]["id"] == created.json()["id"]
        assert http.delete(elsewhere).status_code == 202
        assert http.get(status_url).status_code == 404
        assert not (tmp_path / "exports" / status_url.rsplit("/", 1)[1]).exists()

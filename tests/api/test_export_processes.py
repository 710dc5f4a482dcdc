"""$export across server processes: two `fhir-sandbox serve` processes on one database and
one export folder (what `serve --workers N` is, with the worker chosen for us) — a job
started at one is polled, downloaded and cancelled at the other."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx

from export_client import download, kick_off, manifest


class Server:
    def __init__(self, database_url: str, data_dir: Path, export_dir: Path, log: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("FHIR_SANDBOX_")}
        env.update(
            FHIR_SANDBOX_DATA_DIR=str(data_dir),
            FHIR_SANDBOX_EXPORT_DIR=str(export_dir),
            FHIR_SANDBOX_SEED_ON_START="false",
            FHIR_SANDBOX_LOG_REQUESTS="false",
        )
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "fhir_sandbox", "serve", "--port", str(self.port),
                 "--database-url", database_url],
                stdout=out, stderr=subprocess.STDOUT, env=env,
            )  # fmt: skip

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                if httpx.get(f"{self.url}/fhir/metadata", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError(f"the server did not start: {self.log.read_text()}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextmanager
def servers(tmp_path: Path, databases: Any, count: int) -> Iterator[list[Server]]:
    url, exports = databases.new(), tmp_path / "exports"
    with ExitStack() as stack:
        started = []
        for n in range(count):
            server = Server(url, tmp_path / f"data-{n}", exports, tmp_path / f"server-{n}.log")
            stack.callback(server.stop)
            started.append(server)
        for server in started:
            server.wait_ready()
        yield started


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

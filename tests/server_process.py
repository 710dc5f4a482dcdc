"""`python -m fhir_sandbox serve` as a separate process, for tests that need more than one
server on one database (tests/storage/test_several_servers.py, test_database_outages.py,
tests/api/test_export_processes.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ServerProcess:
    """`python -m fhir_sandbox serve` in a subprocess, on a free port."""

    def __init__(self, url: str, log: Path, *args: str, **env: str) -> None:
        self.port = free_port()
        self.log = log
        self.args = ["serve", "--port", str(self.port), "--database-url", url, *args]
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("FHIR_SANDBOX_")},
            "FHIR_SANDBOX_SEED_ON_START": "false",
            "FHIR_SANDBOX_LOG_REQUESTS": "false",
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerProcess:
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "fhir_sandbox", *self.args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/fhir/metadata", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the server did not start: {self.log.read_text()}")

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

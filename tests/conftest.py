"""Shared fixtures: a real server on loopback (uvicorn in a thread, SQLite in a temp dir).

Tests that write use their own tenant base (`/ehr/<unique>/r4`), so they are isolated from
each other and from the seeded directory at `/fhir`.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from fhir_sandbox.app import create_app
from fhir_sandbox.config import Settings

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
EXAMPLES = SHARED / "fhir-r4" / "examples"


class LiveServer:
    """A uvicorn server on a free loopback port, running in a daemon thread."""

    def __init__(self, settings: Settings) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        config = uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def server_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir = tmp_path_factory.mktemp("data")
    return Settings(data_dir=data_dir, log_requests=False, max_body_bytes=1_000_000)


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

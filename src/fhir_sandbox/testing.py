"""An in-process sandbox for contract tests: a real server on a free loopback port.

    from fhir_sandbox.testing import LiveServer
    with LiveServer() as sandbox:
        httpx.get(f"{sandbox.url}/fhir/metadata")

It runs uvicorn in a daemon thread with its own SQLite file (a temporary folder unless
settings say otherwise), seeded like a normal start, and stops when the block ends.
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from pathlib import Path

import uvicorn

from fhir_sandbox.app import create_app
from fhir_sandbox.config import Settings


class LiveServer:
    def __init__(self, settings: Settings | None = None, start_timeout: float = 30) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if settings is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="fhir-sandbox-")
            settings = Settings(data_dir=Path(self._tmp.name), log_requests=False)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self.app = create_app(settings)  # tests may reach app.state (e.g. app.state.exports)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.start_timeout = start_timeout

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the sandbox did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        if self._tmp is not None:
            self._tmp.cleanup()

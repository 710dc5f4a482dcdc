"""What the shared-database tests share (test_several_servers.py, test_database_outages.py,
test_storage_failures.py): a TCP proxy to PostgreSQL they can cut, and small helpers.

Written for PostgreSQL (FHIR_SANDBOX_TEST_DATABASE=postgresql); under SQLite every test runs
the SQLite equivalent instead (never skipped).
"""

from __future__ import annotations

import os
import socket
import threading
from contextlib import suppress
from typing import Any

import httpx

from server_process import free_port

BACKEND = os.environ.get("FHIR_SANDBOX_TEST_DATABASE") or "sqlite"
SYSTEM = "https://example.org/ids"
MARKER = "zqcutmarkqz"  # the lower-cased form appears only in the string index insert


class Proxy:
    """A TCP forwarder to PostgreSQL that the test controls: `cut()` closes the listener and
    every live connection (the database is unreachable), `restore()` listens again on the
    same port; `drop_when(b"...")` kills a connection whose client sends those bytes."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.marker: bytes | None = None
        self.dropped: list[bytes] = []  # what the client sent when a connection was dropped
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def restore(self) -> None:
        self._stop = threading.Event()
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.1)
        self._thread = threading.Thread(target=self._accept, args=(listener, self._stop))
        self._thread.daemon = True
        self._thread.start()

    def cut(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            for sock in self._sockets:
                _close(sock)
            self._sockets.clear()

    def drop_when(self, marker: bytes | None) -> None:
        self.marker = marker

    def _accept(self, listener: socket.socket, stop: threading.Event) -> None:
        with listener:
            while not stop.is_set():
                try:
                    client, _ = listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
                client.settimeout(None)
                upstream = socket.create_connection(self.target)
                with self._lock:
                    self._sockets |= {client, upstream}
                for src, dst, watch in ((client, upstream, True), (upstream, client, False)):
                    threading.Thread(target=self._pump, args=(src, dst, watch), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, watch: bool) -> None:
        try:
            while data := src.recv(65536):
                if watch and self.marker is not None and self.marker in data:
                    self.dropped.append(data)
                    break  # drop the connection mid-transaction
                dst.sendall(data)
        except OSError:
            pass
        _close(src)
        _close(dst)


def _close(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def org(name: str, identifier: str | None = None) -> dict[str, Any]:
    org: dict[str, Any] = {"resourceType": "Organization", "name": name}
    if identifier:
        org["identifier"] = [{"system": SYSTEM, "value": identifier}]
    return org


def is_outcome(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return body

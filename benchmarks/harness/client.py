"""HTTP calls to the server under test, and its URLs."""

from __future__ import annotations

import http.client
import socket
import urllib.parse


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_call(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> tuple[int, bytes, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    sent = {"Accept": "application/fhir+json", **(headers or {})}
    if body is not None:
        sent["Content-Type"] = "application/fhir+json"
    try:
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        return response.status, response.read(), {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()


def path_of(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def search_path(resource_type: str, params: list[tuple[str, str]]) -> str:
    return f"/fhir/{resource_type}?" + urllib.parse.urlencode(params)

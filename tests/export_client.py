"""A minimal Bulk Data client for the tests: kick-off, poll, download
(https://hl7.org/fhir/uv/bulkdata/STU2/export.html), as a real client would do it."""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson

ASYNC = {"Prefer": "respond-async", "Accept": "application/fhir+json"}


def kick_off(
    http: httpx.Client, url: str, params: dict[str, str] | None = None, **headers: str
) -> str:
    """Start an export; the status URL (Content-Location)."""
    response = http.get(url, params=params, headers={**ASYNC, **headers})
    assert response.status_code == 202, response.text
    location: str = response.headers["content-location"]
    assert location.startswith("http")
    return location


def wait(http: httpx.Client, status_url: str, timeout: float = 900) -> httpx.Response:
    """Poll until the job is no longer running; the first non-202 answer."""
    deadline, delay = time.monotonic() + timeout, 0.02
    while True:
        response = http.get(status_url, headers={"Accept": "application/json"})
        if response.status_code != 202:
            return response
        assert response.headers["x-progress"] and response.headers["retry-after"]
        assert time.monotonic() < deadline, f"export still running: {response.headers}"
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


def manifest(http: httpx.Client, status_url: str) -> dict[str, Any]:
    response = wait(http, status_url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    return body


def export(
    http: httpx.Client, url: str, params: dict[str, str] | None = None, **headers: str
) -> dict[str, Any]:
    return manifest(http, kick_off(http, url, params, **headers))


def download(http: httpx.Client, item: dict[str, Any]) -> list[dict[str, Any]]:
    """One output file's resources, checking the media type and the manifest's count."""
    response = http.get(item["url"], headers={"Accept": "application/fhir+ndjson"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/fhir+ndjson"
    lines = [orjson.loads(line) for line in response.content.splitlines() if line.strip()]
    assert len(lines) == item["count"]
    assert all(r["resourceType"] == item["type"] for r in lines)
    return lines


def resources(http: httpx.Client, body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every exported resource by Type/id."""
    found = {}
    for item in body["output"]:
        for resource in download(http, item):
            key = f"{resource['resourceType']}/{resource['id']}"
            assert key not in found, f"{key} exported twice"
            found[key] = resource
    return found

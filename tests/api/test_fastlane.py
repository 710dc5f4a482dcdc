"""The fast lane (api/fastlane.py) answers read, vread, search, create and update exactly as
the application does (batch/transaction: test_fastlane_bundles.py).

A request with an `Origin` header always takes the application's path (CORS is its
business), so the same request with and without one compares the two paths over real HTTP.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from starlette.requests import Request

from fhir_sandbox.api.access_log import AccessLog
from fhir_sandbox.api.fastlane import _base_url, match
from fhir_sandbox.storage.memory import MemoryRepository
from fhir_sandbox.testing import LiveServer

# headers that differ between two answers for reasons other than the path taken
_PER_REQUEST = {"date", "x-request-id", "vary", "access-control-allow-origin"}
_PER_REQUEST |= {"access-control-expose-headers", "access-control-allow-credentials"}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/fhir/Organization/abc", ("directory", "/fhir", ["Organization", "abc"])),
        ("/fhir/Endpoint/a.b-1/_history/2", ("directory", "/fhir", ["Endpoint", "a.b-1", "2"])),
        ("/ehr/t1/r4/Location/x", ("ehr-t1", "/ehr/t1/r4", ["Location", "x"])),
        ("/ehr/t1/r4/Location/x/_history/x", ("ehr-t1", "/ehr/t1/r4", ["Location", "x", "x"])),
        ("/fhir/Organization", ("directory", "/fhir", ["Organization"])),
        ("/ehr/t1/r4/Endpoint", ("ehr-t1", "/ehr/t1/r4", ["Endpoint"])),
        ("/fhir", ("directory", "/fhir", [])),  # batch/transaction (POST only)
        ("/ehr/t1/r4", ("ehr-t1", "/ehr/t1/r4", [])),
    ],
)
def test_match_takes_the_base_read_vread_and_search(path: str, expected: tuple[Any, ...]) -> None:
    assert match(path) == expected


@pytest.mark.parametrize(
    "path",
    [
        "/fhir/",  # the application redirects to /fhir
        "/fhir/metadata",
        "/fhir/_history",
        "/fhir/Organization/",
        "/fhir/Patient",
        "/fhir/Organization/_history",  # type history
        "/fhir/Organization/$export",  # an operation
        "/fhir/Organization/_search",
        "/fhir/Organization/abc/_history",  # instance history
        "/fhir/Organization/abc/$validate",
        "/fhir/Organization/abc/_history/",
        "/fhir/Organization/abc/other/2",
        "/fhir/Patient/abc",  # not one of ours: the application's 404
        "/fhir/Organization/" + "x" * 65,  # not a FHIR id
        "/fhir/metadata/x",
        "/ehr//r4/Organization/abc",
        "/ehr/t1/r5/Organization/abc",
        "/other/Organization/abc",
        "/",
    ],
)
def test_match_leaves_everything_else_to_the_application(path: str) -> None:
    assert match(path) is None


@pytest.mark.parametrize(
    "scope",
    [
        {"headers": [(b"host", b"example.org:8080")], "scheme": "https"},
        {"headers": [], "server": ("10.0.0.1", 80), "scheme": "http"},
        {"headers": [], "server": ("10.0.0.1", 8000), "scheme": "http"},
        {"headers": [(b"host", b"h")], "scheme": "http", "root_path": "/sandbox"},
    ],
)
def test_base_url_is_starlettes(scope: dict[str, Any]) -> None:
    scope = {"type": "http", "path": "/fhir/Organization/x", "query_string": b"", **scope}
    headers = {k.decode(): v.decode() for k, v in scope["headers"]}
    assert _base_url(scope, headers) == str(Request(scope).base_url).rstrip("/")


def _both_paths(http: httpx.Client, url: str, **headers: str) -> tuple[httpx.Response, ...]:
    fast = http.get(url, headers=headers)
    framework = http.get(url, headers={**headers, "Origin": "http://example.org"})
    assert "access-control-allow-origin" in framework.headers  # it did take the other path
    assert "access-control-allow-origin" not in fast.headers
    return fast, framework


def _same(fast: httpx.Response, framework: httpx.Response) -> None:
    assert fast.status_code == framework.status_code
    if fast.headers.get("content-type", "").startswith("application/fhir+json"):
        fast_body, framework_body = fast.json(), framework.json()
        if fast_body.get("resourceType") == "Bundle":  # a fresh id and time per answer
            for bundle in (fast_body, framework_body):
                del bundle["id"], bundle["meta"]
        assert fast_body == framework_body
    else:  # XML: the Bundle's own id and lastUpdated come first
        fresh = re.compile(rb'<(id|lastUpdated) value="[^"]*"/>')
        assert fresh.sub(b"", fast.content, 2) == fresh.sub(b"", framework.content, 2)
    drop = _PER_REQUEST
    assert {k: v for k, v in fast.headers.items() if k not in drop} == {
        k: v for k, v in framework.headers.items() if k not in drop
    }
    assert fast.headers["x-request-id"]
    assert fast.headers["vary"] == "Origin"


@pytest.fixture()
def org_url(http: httpx.Client, base: str) -> str:
    created = http.post(f"{base}/Organization", json={"resourceType": "Organization", "name": "A"})
    org_id = created.json()["id"]
    http.put(
        f"{base}/Organization/{org_id}",
        json={"resourceType": "Organization", "id": org_id, "name": "B", "active": True},
    )
    return f"{base}/Organization/{org_id}"


@pytest.mark.parametrize(
    ("suffix", "headers"),
    [
        ("", {}),
        ("/_history/1", {}),
        ("/_history/2", {}),
        ("/_history/9", {}),  # 404: no such version
        ("/_history/x", {}),  # 404: not a version number
        ("?_summary=true", {}),
        ("?_elements=name&_pretty=true", {}),
        ("?_format=xml", {}),
        ("", {"Accept": "application/fhir+xml"}),
        ("", {"Accept": "text/csv"}),  # 406
        ("?_summary=bogus", {}),  # 400
        ("", {"If-None-Match": 'W/"2"'}),  # 304
        ("", {"If-None-Match": 'W/"1"'}),  # 200
        ("", {"If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"}),
    ],
)
def test_read_and_vread_answers_match_the_application(
    http: httpx.Client, org_url: str, suffix: str, headers: dict[str, str]
) -> None:
    _same(*_both_paths(http, org_url + suffix, **headers))


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?name=b",
        "?name=b&_summary=count",
        "?_count=1&_sort=-_lastUpdated",
        "?_id={id}&_include=Organization:endpoint&_elements=name",
        "?bogus=1",  # 400 in strict mode
        "?name:nonsense=x",
        "?_count=x",
        "?_format=xml&name=b",
    ],
)
def test_search_answers_match_the_application(http: httpx.Client, org_url: str, query: str) -> None:
    type_url, org_id = org_url.rsplit("/", 1)
    _same(*_both_paths(http, type_url + query.format(id=org_id)))
    lenient = {"Prefer": "handling=lenient"}
    _same(*_both_paths(http, type_url + "?bogus=1&name=b", **lenient))


def test_missing_and_deleted_resources_match(http: httpx.Client, org_url: str) -> None:
    _same(*_both_paths(http, org_url.rsplit("/", 1)[0] + "/does-not-exist"))
    assert http.delete(org_url).status_code in (200, 204)
    fast, framework = _both_paths(http, org_url)
    assert fast.status_code == 410
    _same(fast, framework)
    _same(*_both_paths(http, org_url + "/_history/3"))  # the deletion itself


def test_client_request_id_is_echoed_and_logged(
    http: httpx.Client, org_url: str, caplog: pytest.LogCaptureFixture, live_server: LiveServer
) -> None:
    lane = live_server.app.fast_lane
    assert lane is not None
    access_log, before = AccessLog(), lane.access_log
    lane.access_log = access_log
    try:
        with caplog.at_level(logging.INFO, logger="fhir_sandbox.access"):
            answer = http.get(org_url, headers={"X-Request-Id": "trace-42"})
            access_log.flush()
    finally:
        lane.access_log = before
    assert answer.headers["x-request-id"] == "trace-42"
    lines = [r.getMessage() for r in caplog.records if r.name == "fhir_sandbox.access"]
    assert any('"request_id":"trace-42"' in line and '"status":200' in line for line in lines)


class _Broken(MemoryRepository):
    def read_current(self, tenant: str, resource_type: str, resource_id: str) -> Any:
        raise RuntimeError("disk on fire")


def test_a_bug_is_a_500_outcome_quoting_the_request_id(
    http: httpx.Client, directory: str, live_server: LiveServer
) -> None:
    state = live_server.app.state
    healthy = state.context
    state.context = dataclasses.replace(healthy, repository=_Broken())
    try:
        answer = http.get(f"{directory}/Organization/any", headers={"X-Request-Id": "bug-1"})
    finally:
        state.context = healthy
    assert answer.status_code == 500
    outcome = answer.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert "bug-1" in outcome["issue"][0]["diagnostics"]
    assert "disk on fire" not in answer.text


def _post_both(
    http: httpx.Client, url: str, content: bytes, **headers: str
) -> tuple[httpx.Response, ...]:
    fast = http.post(url, content=content, headers=headers)
    framework = http.post(url, content=content, headers={**headers, "Origin": "http://x.org"})
    assert "access-control-allow-origin" in framework.headers
    return fast, framework


def _same_write(fast: httpx.Response, framework: httpx.Response) -> None:
    """Two writes answer alike: same status, headers and body but for the new ids."""
    assert fast.status_code == framework.status_code
    names = {k for k in fast.headers if k not in _PER_REQUEST}
    assert names == {k for k in framework.headers if k not in _PER_REQUEST}
    if not fast.content:
        assert not framework.content
        return
    if "xml" in fast.headers["content-type"]:
        fast_text, framework_text = fast.text, framework.text
    else:
        fast_body, framework_body = fast.json(), framework.json()
        if fast_body["resourceType"] != "OperationOutcome":
            for body in (fast_body, framework_body):
                del body["meta"]["lastUpdated"]
        fast_text, framework_text = json.dumps(fast_body), json.dumps(framework_body)
    assert _UUID.sub("<id>", _INSTANT.sub("<t>", fast_text)) == _UUID.sub(
        "<id>", _INSTANT.sub("<t>", framework_text)
    )


JSON = {"Content-Type": "application/fhir+json"}
# server-assigned ids, and the client-chosen "new-<n>" of the update test
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|new-\d")
_INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
ORG = b'{"resourceType": "Organization", "name": "Fast", "active": true}'


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (ORG, JSON),
        (ORG, {**JSON, "Prefer": "return=minimal"}),
        (ORG, {**JSON, "Prefer": "return=OperationOutcome"}),
        (b"<Organization xmlns='http://hl7.org/fhir'><name value='X'/></Organization>",
         {"Content-Type": "application/fhir+xml"}),
        (ORG, {**JSON, "Accept": "application/fhir+xml"}),
        (b'{"resourceType": "Organization", "name": 7}', JSON),  # 400: invalid
        (b'{"resourceType": "Organization", ', JSON),  # 400: not JSON
        (b'{"resourceType": "Location", "name": "wrong type"}', JSON),  # 400
        (ORG, {"Content-Type": "text/plain"}),  # 415
        (ORG, {**JSON, "Accept": "text/csv"}),  # 406
    ],
)  # fmt: skip
def test_create_answers_match_the_application(
    http: httpx.Client, base: str, content: bytes, headers: dict[str, str]
) -> None:
    _same_write(*_post_both(http, f"{base}/Organization", content, **headers))


def test_an_oversized_body_is_refused_alike(http: httpx.Client, base: str) -> None:
    big = b'{"resourceType": "Organization", "name": "' + b"x" * (11 * 1024 * 1024) + b'"}'
    fast, framework = _post_both(http, f"{base}/Organization", big, **JSON)
    assert fast.status_code == 413
    _same_write(fast, framework)


def test_updates_answer_like_the_application(http: httpx.Client, base: str) -> None:
    answers = []
    for origin in ({}, {"Origin": "http://x.org"}):
        created = http.post(f"{base}/Organization", content=ORG, headers=JSON).json()
        url = f"{base}/Organization/{created['id']}"
        body = {**created, "name": "Renamed"}
        stale = {**JSON, **origin, "If-Match": 'W/"7"'}
        answers.append(
            (
                http.put(url, json=body, headers={**JSON, **origin, "If-Match": 'W/"1"'}),
                http.put(url, json=body, headers=stale),  # 412
                http.put(url, json={**body, "id": "other"}, headers={**JSON, **origin}),  # 400
                http.put(f"{base}/Organization/new-{len(answers)}", json={**body, "id":
                         f"new-{len(answers)}"}, headers={**JSON, **origin}),  # 201
            )
        )  # fmt: skip
    for fast, framework in zip(*answers, strict=True):
        _same_write(fast, framework)
    assert [a.status_code for a in answers[0]] == [200, 412, 400, 201]


def test_searches_of_the_embedded_store_do_not_queue_behind_writes(
    base: str, live_server: LiveServer
) -> None:
    """Every write thread waiting for the writer lock leaves searches their own threads."""
    repository = live_server.app.state.context.repository
    if not repository.embedded:
        pytest.skip("PostgreSQL: searches and writes share the pool; the database queues writes")
    writers = live_server.app.state.settings.read_threads
    body = json.dumps({"resourceType": "Organization", "name": "Queued"})
    with httpx.Client(timeout=30) as client, ThreadPoolExecutor(writers) as pool:
        repository._writer.acquire()  # a long write in progress, as far as the others know
        try:
            creates = [
                pool.submit(
                    client.post,
                    f"{base}/Organization",
                    content=body,
                    headers={"Content-Type": "application/fhir+json"},
                )
                for _ in range(writers)
            ]
            time.sleep(0.5)  # every write thread is now waiting for the lock
            assert not any(create.done() for create in creates)
            search = client.get(f"{base}/Organization", params={"name": "queued"}, timeout=5)
            assert search.status_code == 200 and search.json()["total"] == 0
        finally:
            repository._writer.release()
        assert [create.result().status_code for create in creates] == [201] * writers

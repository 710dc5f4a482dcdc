"""CORS, request ids, the capability statement, the home page, history paging."""

from __future__ import annotations

import httpx

from fhir_sandbox.fhir.models import RESOURCE_TYPES


def test_request_id_echoed_or_generated(http: httpx.Client, base: str) -> None:
    echoed = http.get(f"{base}/metadata", headers={"X-Request-Id": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    generated = http.get(f"{base}/metadata")
    assert len(generated.headers["x-request-id"]) >= 16


def test_cors_preflight_and_exposed_headers(http: httpx.Client, base: str) -> None:
    preflight = http.options(
        f"{base}/Organization",
        headers={"Origin": "http://example.org", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] in ("*", "http://example.org")
    created = http.post(
        f"{base}/Organization",
        json={"resourceType": "Organization", "name": "C"},
        headers={"Origin": "http://example.org"},
    )
    exposed = created.headers["access-control-expose-headers"]
    for name in ("ETag", "Location", "Content-Location"):
        assert name in exposed


def test_capability_statement_lists_types_and_search_params(
    http: httpx.Client, directory: str
) -> None:
    statement = http.get(f"{directory}/metadata").json()
    assert statement["fhirVersion"] == "4.0.1"
    resources = statement["rest"][0]["resource"]
    assert [r["type"] for r in resources] == list(RESOURCE_TYPES)
    endpoint = next(r for r in resources if r["type"] == "Endpoint")
    names = {p["name"] for p in endpoint["searchParam"]}
    assert {"identifier", "organization", "status", "ehr-product"} <= names


def test_home_page(http: httpx.Client, live_server: object) -> None:
    page = http.get(f"{live_server.url}/", headers={"Accept": "text/html"})  # type: ignore[attr-defined]
    assert page.status_code == 200 and "fhir-sandbox" in page.text


def test_history_paging_is_stable_under_writes(http: httpx.Client, base: str) -> None:
    for n in range(5):
        http.post(f"{base}/Organization", json={"resourceType": "Organization", "name": f"H{n}"})
    first = http.get(f"{base}/Organization/_history", params={"_count": 2}).json()
    assert first["total"] == 5
    http.post(f"{base}/Organization", json={"resourceType": "Organization", "name": "late"})
    names = [e["resource"]["name"] for e in first["entry"]]
    page = first
    while next_link := next((lk["url"] for lk in page["link"] if lk["relation"] == "next"), None):
        page = http.get(next_link).json()
        names += [e["resource"]["name"] for e in page["entry"]]
    assert names == ["H4", "H3", "H2", "H1", "H0"]


def test_system_history_and_since(http: httpx.Client, base: str) -> None:
    first = http.post(
        f"{base}/Organization", json={"resourceType": "Organization", "name": "S1"}
    ).json()
    later = http.post(
        f"{base}/Organization", json={"resourceType": "Organization", "name": "S2"}
    ).json()
    everything = http.get(f"{base}/_history").json()
    assert everything["total"] == 2
    since = http.get(f"{base}/_history", params={"_since": later["meta"]["lastUpdated"]}).json()
    assert [e["resource"]["id"] for e in since["entry"]] == [later["id"]]
    assert first["id"] != later["id"]

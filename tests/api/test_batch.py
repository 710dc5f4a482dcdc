"""Batch Bundles over real HTTP (https://hl7.org/fhir/R4/http.html#transaction).

Entries run independently: each has its own status and outcome, a failing one leaves the
others written, and the response keeps the request's order.
"""

from __future__ import annotations

from typing import Any

import httpx
from bundle_requests import ODS, binary_patch, bundle, create, entry, org


def batch(*entries: Any) -> dict[str, Any]:
    return bundle(*entries, kind="batch")


def statuses(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    assert response.json()["type"] == "batch-response"
    return [e["response"]["status"] for e in response.json()["entry"]]


def test_one_bad_entry_leaves_the_others_written(http: httpx.Client, base: str) -> None:
    response = http.post(
        base,
        json=batch(
            entry("POST", "Organization", org("BA1", "First")),
            entry("POST", "Organization", org("BA2", active="yes")),
            entry("PUT", "Organization/ba-3", org("BA3", "Third", id="ba-3")),
        ),
    )
    assert statuses(response) == ["201 Created", "422 Unprocessable Entity", "201 Created"]
    first, bad, third = response.json()["entry"]
    assert "resource" not in bad
    issue = bad["response"]["outcome"]["issue"][0]
    assert issue["severity"] == "error" and issue["expression"] == ["Organization.active"]
    assert first["response"]["location"].startswith(f"{base}/Organization/")
    assert third["response"]["etag"] == 'W/"1"'
    found = http.get(f"{base}/Organization", params={"_count": "100"}).json()
    assert sorted(e["resource"]["name"] for e in found["entry"]) == ["First", "Third"]


def test_each_entry_has_its_own_status(http: httpx.Client, base: str) -> None:
    current = create(http, base, org("BS1"))
    url = f"Organization/{current['id']}"
    response = http.post(
        base,
        json=batch(
            entry("GET", url),
            entry("GET", "Organization/missing"),
            entry("PUT", url, {**current, "name": "stale"}, ifMatch='W/"7"'),
            entry("PUT", url, {**current, "name": "fresh"}, ifMatch='W/"1"'),
            entry("GET", f"{url}/_history/1"),
            entry("GET", f"Organization?identifier={ODS}|BS1"),
            entry("GET", "Organization?not-a-param=1"),
            entry("GET", "Patient/1"),
            entry("DELETE", "Organization/missing"),
        ),
    )
    assert statuses(response) == [
        "200 OK",
        "404 Not Found",
        "412 Precondition Failed",
        "200 OK",
        "200 OK",
        "200 OK",
        "400 Bad Request",
        "404 Not Found",
        "200 OK",
    ]
    entries = response.json()["entry"]
    assert entries[1]["response"]["outcome"]["issue"][0]["code"] == "not-found"
    assert "current version" in entries[2]["response"]["outcome"]["issue"][0]["diagnostics"]
    assert entries[3]["resource"]["name"] == "fresh"
    assert entries[4]["resource"]["meta"]["versionId"] == "1"
    assert entries[5]["resource"]["resourceType"] == "Bundle"
    assert entries[5]["resource"]["total"] == 1
    assert "not-a-param" in entries[6]["response"]["outcome"]["issue"][0]["diagnostics"]


def test_batch_entries_may_not_refer_to_each_other(http: httpx.Client, base: str) -> None:
    response = http.post(
        base,
        json={
            "resourceType": "Bundle",
            "type": "batch",
            "entry": [
                {**entry("POST", "Organization", org("BR1")), "fullUrl": "urn:uuid:p"},
                entry("POST", "Organization", org("BR2", partOf={"reference": "urn:uuid:p"})),
            ],
        },
    )
    assert statuses(response) == ["201 Created", "400 Bad Request"]
    issue = response.json()["entry"][1]["response"]["outcome"]["issue"][0]
    assert "use a transaction" in issue["diagnostics"]


def test_conditional_forms_and_patch_in_a_batch(http: httpx.Client, base: str) -> None:
    existing = create(http, base, org("BC1", "Existing"))
    patch = binary_patch([{"op": "replace", "path": "/name", "value": "Patched"}])
    response = http.post(
        base,
        json=batch(
            entry("POST", "Organization", org("BC1"), ifNoneExist=f"identifier={ODS}|BC1"),
            entry("PATCH", f"Organization/{existing['id']}", patch),
            entry("PATCH", f"Organization/{existing['id']}", {**patch, "contentType": "text/x"}),
            entry("PUT", f"Organization?identifier={ODS}|BC2", org("BC2", "Made")),
            entry("DELETE", f"Organization?identifier={ODS}|BC2"),
            entry(
                "POST",
                "Organization",
                org("BC3", partOf={"reference": f"Organization?identifier={ODS}|BC1"}),
            ),
        ),
    )
    assert statuses(response) == [
        "200 OK",
        "200 OK",
        "400 Bad Request",
        "201 Created",
        "200 OK",
        "201 Created",
    ]
    entries = response.json()["entry"]
    assert entries[0]["resource"]["id"] == existing["id"]
    assert entries[1]["resource"]["name"] == "Patched"
    assert entries[5]["resource"]["partOf"] == {"reference": f"Organization/{existing['id']}"}
    assert (
        http.get(f"{base}/Organization", params={"identifier": f"{ODS}|BC2"}).json()["total"] == 0
    )


def test_malformed_entries_fail_alone(http: httpx.Client, base: str) -> None:
    response = http.post(
        base,
        json={
            "resourceType": "Bundle",
            "type": "batch",
            "entry": [
                {"resource": org("BM1")},
                entry("FETCH", "Organization"),
                entry("POST", "Organization"),
                entry("GET", "https://elsewhere.example/fhir/Organization"),
                entry("POST", "Organization", org("BM2")),
            ],
        },
    )
    assert statuses(response) == ["400 Bad Request"] * 4 + ["201 Created"]
    expressions = [
        e["response"]["outcome"]["issue"][0]["expression"][0] for e in response.json()["entry"][:4]
    ]
    assert expressions == [
        "Bundle.entry[0].request",
        "Bundle.entry[1].request.method",
        "Bundle.entry[2].resource",
        "Bundle.entry[3].request.url",
    ]


def test_prefer_return_minimal_applies_to_every_entry(http: httpx.Client, base: str) -> None:
    response = http.post(
        base,
        json=batch(entry("POST", "Organization", org("BP1"))),
        headers={"Prefer": "return=minimal"},
    )
    assert statuses(response) == ["201 Created"]
    only = response.json()["entry"][0]
    assert "resource" not in only
    assert only["response"]["location"].startswith(f"{base}/Organization/")
    assert only["response"]["lastModified"].endswith("Z")

"""$export kick-off, status, manifest and files over HTTP, and every kick-off error
(https://hl7.org/fhir/uv/bulkdata/STU2/export.html)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from bundle_requests import create, endpoint

from export_client import ASYNC, download, export, kick_off, manifest, resources

ORG = {"resourceType": "Organization", "name": "Export Trust", "active": True}
ENDPOINT = endpoint(address="https://fhir.example.test/r4")


def fill(http: httpx.Client, base: str, organizations: int = 4) -> dict[str, dict[str, Any]]:
    made = [create(http, base, {**ORG, "name": f"Trust {n}"}) for n in range(organizations)]
    made.append(create(http, base, ENDPOINT))
    return {f"{r['resourceType']}/{r['id']}": r for r in made}


def outcome(response: httpx.Response, status: int, fragment: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert fragment in body["issue"][0]["diagnostics"]


def test_round_trip_kick_off_poll_manifest_download(http: httpx.Client, xbase: str) -> None:
    stored = fill(http, xbase, organizations=4)
    before = datetime.now(UTC)
    response = http.get(f"{xbase}/$export", headers=ASYNC)
    assert response.status_code == 202
    assert response.json()["resourceType"] == "OperationOutcome"
    status_url = response.headers["content-location"]
    assert status_url.startswith(f"{xbase}/_export/")
    body = manifest(http, status_url)
    assert set(body) == {"transactionTime", "request", "requiresAccessToken", "output", "error"}
    assert body["request"] == f"{xbase}/$export"
    assert body["requiresAccessToken"] is False and body["error"] == []
    moment = datetime.fromisoformat(body["transactionTime"].replace("Z", "+00:00"))
    assert before.replace(microsecond=0) <= moment <= datetime.now(UTC)
    # 4 organisations in files of at most 3 (the test server's limit), 1 endpoint
    assert [(o["type"], o["url"].rsplit("/", 1)[1], o["count"]) for o in body["output"]] == [
        ("Organization", "Organization-1.ndjson", 3),
        ("Organization", "Organization-2.ndjson", 1),
        ("Endpoint", "Endpoint-1.ndjson", 1),
    ]
    assert resources(http, body) == stored  # the stored bytes, meta included


def test_manifest_has_expires_and_is_json_whatever_accept_says(
    http: httpx.Client, xbase: str
) -> None:
    fill(http, xbase, organizations=1)
    status_url = kick_off(http, f"{xbase}/$export")
    manifest(http, status_url)
    response = http.get(status_url, headers={"Accept": "application/fhir+xml"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["expires"].endswith("GMT")


def test_type_level_export_holds_that_type_only(http: httpx.Client, xbase: str) -> None:
    stored = fill(http, xbase, organizations=2)
    body = export(http, f"{xbase}/Endpoint/$export")
    assert body["request"] == f"{xbase}/Endpoint/$export"
    assert list(resources(http, body)) == [k for k in stored if k.startswith("Endpoint/")]
    outcome(
        http.get(f"{xbase}/Endpoint/$export?_type=Organization", headers=ASYNC), 400,
        "exports Endpoint only",
    )  # fmt: skip
    outcome(http.get(f"{xbase}/Patient/$export", headers=ASYNC), 404, "Patient")


def test_type_parameter_filters_and_repeats_combine(http: httpx.Client, xbase: str) -> None:
    fill(http, xbase, organizations=2)
    create(http, xbase, {"resourceType": "Practitioner", "name": [{"family": "Test"}]})
    body = export(http, f"{xbase}/$export?_type=Endpoint,Practitioner")
    assert {o["type"] for o in body["output"]} == {"Endpoint", "Practitioner"}
    repeated = export(http, f"{xbase}/$export?_type=Endpoint&_type=Practitioner")
    assert {o["type"] for o in repeated["output"]} == {"Endpoint", "Practitioner"}
    assert repeated["request"].endswith("$export?_type=Endpoint&_type=Practitioner")


def test_since_keeps_resources_updated_at_or_after_it(http: httpx.Client, xbase: str) -> None:
    old = create(http, xbase, {**ORG, "name": "Old"})
    time.sleep(0.01)  # meta.lastUpdated has millisecond precision
    new = create(http, xbase, {**ORG, "name": "New"})
    since = new["meta"]["lastUpdated"]
    assert since > old["meta"]["lastUpdated"]
    body = export(http, f"{xbase}/$export", params={"_since": since})
    assert list(resources(http, body)) == [f"Organization/{new['id']}"]
    assert list(resources(http, export(http, f"{xbase}/$export?_since=2000-01-01T00:00:00Z")))
    future = export(http, f"{xbase}/$export?_since=2999-01-01T00:00:00.000%2B01:00")
    assert future["output"] == []


@pytest.mark.parametrize("fmt", ["application/fhir+ndjson", "application/ndjson", "ndjson"])
def test_every_ndjson_output_format_is_accepted(http: httpx.Client, xbase: str, fmt: str) -> None:
    fill(http, xbase, organizations=1)
    body = export(http, f"{xbase}/$export", params={"_outputFormat": fmt})
    assert download(http, body["output"][0])


@pytest.mark.parametrize(
    ("query", "headers", "fragment"),
    [
        ("", {"Accept": "application/fhir+json"}, "Prefer: respond-async"),
        ("", {**ASYNC, "Accept": "application/fhir+xml"}, "Accept: application/fhir+xml"),
        ("?_type=Patient", ASYNC, "'Patient' is not a type"),
        ("?_type=", ASYNC, "_type is empty"),
        ("?_since=yesterday", ASYNC, "not a FHIR instant"),
        ("?_since=2024-05-01", ASYNC, "not a FHIR instant"),
        ("?_since=2024-05-01T00:00:00+01:00", ASYNC, "%2B"),  # the '+' arrives as a space
        ("?_outputFormat=text/csv", ASYNC, "_outputFormat='text/csv' is not supported"),
        ("?_format=xml", ASYNC, "application/fhir+json only"),
        ("?_typeFilter=Organization%3Factive%3Dtrue", ASYNC, "_typeFilter is not supported"),
        ("?_elements=id", ASYNC, "_elements is not supported"),
        ("?patient=Patient/1", ASYNC, "patient is not supported"),
        ("?bogus=1", ASYNC, "Unknown $export parameter 'bogus'"),
        ("?_since=2024-01-01T00:00:00Z&_since=2024-02-01T00:00:00Z", ASYNC, "_since at most once"),
    ],
)
def test_kick_off_errors_are_400_outcomes_in_json(
    http: httpx.Client, xbase: str, query: str, headers: dict[str, str], fragment: str
) -> None:
    outcome(http.get(f"{xbase}/$export{query}", headers=headers), 400, fragment)


def test_lenient_handling_ignores_unsupported_and_reports_them(
    http: httpx.Client, xbase: str
) -> None:
    fill(http, xbase, organizations=1)
    lenient = {"Prefer": "respond-async, handling=lenient"}
    body = export(http, f"{xbase}/$export?_typeFilter=x&_type=Endpoint,Patient", None, **lenient)
    assert [o["type"] for o in body["output"]] == ["Endpoint"]
    [error] = body["error"]
    assert error["type"] == "OperationOutcome" and error["count"] == 2
    issues = [o["issue"][0] for o in download(http, error)]
    assert all(i["severity"] == "warning" and i["code"] == "not-supported" for i in issues)
    assert "_typeFilter" in issues[0]["diagnostics"] and "Patient" in issues[1]["diagnostics"]
    outcome(http.get(f"{xbase}/$export?_since=x", headers=lenient), 400, "not a FHIR instant")


def test_post_kick_off_takes_a_parameters_body(http: httpx.Client, xbase: str) -> None:
    fill(http, xbase, organizations=1)
    parameters = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "_type", "valueString": "Endpoint"},
            {"name": "_outputFormat", "valueString": "ndjson"},
            {"name": "_since", "valueInstant": "2000-01-01T00:00:00Z"},
        ],
    }
    headers = {**ASYNC, "Content-Type": "application/fhir+json"}
    response = http.post(f"{xbase}/$export", json=parameters, headers=headers)
    assert response.status_code == 202, response.text
    body = manifest(http, response.headers["content-location"])
    assert [o["type"] for o in body["output"]] == ["Endpoint"]
    assert body["request"] == f"{xbase}/$export"  # POST: the URL without the body's parameters
    parameters["parameter"] = [{"name": "patient", "valueReference": {"reference": "Patient/1"}}]
    refused = http.post(f"{xbase}/$export", json=parameters, headers=headers)
    outcome(refused, 400, "patient is not supported")
    outcome(http.post(f"{xbase}/$export", json=ORG, headers=headers), 400, "Parameters")


def test_files_cannot_be_reached_outside_the_manifest(http: httpx.Client, xbase: str) -> None:
    fill(http, xbase, organizations=1)
    status_url = kick_off(http, f"{xbase}/$export")
    manifest(http, status_url)
    for name in ("job.json", "cancelled", "..%2Fjob.json", "%2E%2E", "Practitioner-1.ndjson"):
        assert http.get(f"{status_url}/{name}").status_code == 404, name
    assert http.get(f"{xbase}/_export/not-a-job").status_code == 404
    assert http.get(f"{xbase}/_export/{'0' * 32}/Organization-1.ndjson").status_code == 404


def test_capability_statement_declares_export(http: httpx.Client, xbase: str) -> None:
    statement = http.get(f"{xbase}/metadata").json()
    definition = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"
    assert (
        "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data" in statement["instantiates"]
    )
    rest = statement["rest"][0]
    assert {"name": "export", "definition": definition} in rest["operation"]
    for resource in rest["resource"]:
        assert definition in [op["definition"] for op in resource["operation"]]

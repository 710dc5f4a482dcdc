"""JSON and XML, Accept and _format (https://hl7.org/fhir/R4/http.html#mime-type)."""

from __future__ import annotations

import httpx
from fhir.resources.R4B.organization import Organization

ORG_XML = (
    b'<Organization xmlns="http://hl7.org/fhir"><active value="true"/>'
    b'<name value="XML Trust"/></Organization>'
)


def test_create_in_xml_read_in_json_and_xml(http: httpx.Client, base: str) -> None:
    created = http.post(
        f"{base}/Organization",
        content=ORG_XML,
        headers={"Content-Type": "application/fhir+xml", "Accept": "application/fhir+xml"},
    )
    assert created.status_code == 201
    assert created.headers["content-type"].startswith("application/fhir+xml")
    model = Organization.model_validate_xml(created.content)
    as_json = http.get(f"{base}/Organization/{model.id}").json()
    assert as_json["name"] == "XML Trust" and as_json["active"] is True
    as_xml = http.get(f"{base}/Organization/{model.id}", params={"_format": "xml"})
    assert as_xml.headers["content-type"].startswith("application/fhir+xml")
    assert Organization.model_validate_xml(as_xml.content).name == "XML Trust"
    # the same instant text as the JSON and its Last-Modified come from (not `.974000+00:00`)
    last_updated = as_json["meta"]["lastUpdated"]
    assert f'<lastUpdated value="{last_updated}"/>'.encode() in as_xml.content


def test_accept_variants(http: httpx.Client, base: str) -> None:
    for accept, expected in [
        ("application/json", "application/fhir+json"),
        ("application/fhir+json", "application/fhir+json"),
        ("application/fhir+xml", "application/fhir+xml"),
        ("*/*", "application/fhir+json"),
        ("application/fhir+xml;q=0.9, application/fhir+json", "application/fhir+json"),
    ]:
        response = http.get(f"{base}/metadata", headers={"Accept": accept})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(expected), accept


def test_format_overrides_accept(http: httpx.Client, base: str) -> None:
    response = http.get(
        f"{base}/metadata", params={"_format": "json"}, headers={"Accept": "application/fhir+xml"}
    )
    assert response.headers["content-type"].startswith("application/fhir+json")


def test_errors_in_xml_when_asked(http: httpx.Client, base: str) -> None:
    response = http.get(f"{base}/Organization/missing", headers={"Accept": "application/fhir+xml"})
    assert response.status_code == 404
    assert b"<OperationOutcome" in response.content


def test_search_bundle_in_xml(http: httpx.Client, base: str) -> None:
    http.post(f"{base}/Organization", json={"resourceType": "Organization", "name": "B"})
    response = http.get(f"{base}/Organization", headers={"Accept": "application/fhir+xml"})
    assert response.status_code == 200
    assert b"<Bundle" in response.content and b'<total value="1"/>' in response.content

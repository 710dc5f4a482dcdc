"""read, vread, create, update, delete over real HTTP (https://hl7.org/fhir/R4/http.html)."""

from __future__ import annotations

import httpx

ORG = {"resourceType": "Organization", "name": "Testing Trust", "active": True}


def create(http: httpx.Client, base: str, resource: dict[str, object] = ORG) -> httpx.Response:
    response = http.post(f"{base}/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, response.text
    return response


def test_create_answers_201_with_location_etag_and_server_meta(
    http: httpx.Client, base: str
) -> None:
    response = http.post(f"{base}/Organization", json={**ORG, "id": "client-chosen"})
    assert response.status_code == 201
    body = response.json()
    assert body["id"] != "client-chosen"  # the server assigns ids on create
    assert body["meta"]["versionId"] == "1"
    assert body["meta"]["lastUpdated"].endswith("Z")
    assert response.headers["etag"] == 'W/"1"'
    assert response.headers["location"] == f"{base}/Organization/{body['id']}/_history/1"
    assert "last-modified" in response.headers
    assert response.headers["content-type"].startswith("application/fhir+json")


def test_read_serves_what_create_returned(http: httpx.Client, base: str) -> None:
    created = create(http, base).json()
    read = http.get(f"{base}/Organization/{created['id']}")
    assert read.status_code == 200
    assert read.json() == created
    assert read.headers["etag"] == 'W/"1"'


def test_read_unknown_is_404_with_outcome(http: httpx.Client, base: str) -> None:
    response = http.get(f"{base}/Organization/nope")
    assert response.status_code == 404
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "not-found"
    assert "Organization/nope" in outcome["issue"][0]["diagnostics"]


def test_update_makes_a_new_version_and_vread_keeps_the_old(http: httpx.Client, base: str) -> None:
    created = create(http, base).json()
    changed = {**created, "name": "Renamed Trust"}
    response = http.put(f"{base}/Organization/{created['id']}", json=changed)
    assert response.status_code == 200
    assert response.json()["meta"]["versionId"] == "2"
    assert response.headers["etag"] == 'W/"2"'
    old = http.get(f"{base}/Organization/{created['id']}/_history/1")
    assert old.status_code == 200 and old.json()["name"] == "Testing Trust"
    assert http.get(f"{base}/Organization/{created['id']}").json()["name"] == "Renamed Trust"


def test_update_with_client_id_creates(http: httpx.Client, base: str) -> None:
    response = http.put(f"{base}/Endpoint/ep-1", json=_endpoint("ep-1"))
    assert response.status_code == 201
    assert response.json()["meta"]["versionId"] == "1"
    assert http.get(f"{base}/Endpoint/ep-1").status_code == 200


def test_delete_is_logical_then_410_and_history_keeps_versions(
    http: httpx.Client, base: str
) -> None:
    created = create(http, base).json()
    url = f"{base}/Organization/{created['id']}"
    deleted = http.delete(url)
    assert deleted.status_code == 200
    assert deleted.json()["resourceType"] == "OperationOutcome"
    gone = http.get(url)
    assert gone.status_code == 410
    assert gone.json()["issue"][0]["code"] == "deleted"
    history = http.get(f"{url}/_history").json()
    assert history["total"] == 2
    assert [e["request"]["method"] for e in history["entry"]] == ["DELETE", "POST"]
    assert http.get(f"{url}/_history/1").status_code == 200
    assert http.get(f"{url}/_history/2").status_code == 410
    assert http.delete(url).status_code == 200  # idempotent


def test_delete_with_return_minimal_is_204(http: httpx.Client, base: str) -> None:
    created = create(http, base).json()
    response = http.delete(
        f"{base}/Organization/{created['id']}", headers={"Prefer": "return=minimal"}
    )
    assert response.status_code == 204
    assert response.content == b""


def test_recreate_after_delete_continues_versions(http: httpx.Client, base: str) -> None:
    http.put(f"{base}/Endpoint/ep-2", json=_endpoint("ep-2"))
    http.delete(f"{base}/Endpoint/ep-2")
    again = http.put(f"{base}/Endpoint/ep-2", json=_endpoint("ep-2"))
    assert again.status_code == 201
    assert again.json()["meta"]["versionId"] == "3"


def test_prefer_return(http: httpx.Client, base: str) -> None:
    minimal = http.post(f"{base}/Organization", json=ORG, headers={"Prefer": "return=minimal"})
    assert minimal.status_code == 201 and minimal.content == b""
    assert minimal.headers["location"]
    outcome = http.post(
        f"{base}/Organization", json=ORG, headers={"Prefer": "return=OperationOutcome"}
    )
    assert outcome.json()["resourceType"] == "OperationOutcome"
    full = http.post(f"{base}/Organization", json=ORG, headers={"Prefer": "return=representation"})
    assert full.json()["resourceType"] == "Organization"


def test_meta_profile_tag_security_are_kept(http: httpx.Client, base: str) -> None:
    meta = {
        "profile": ["https://fhir.hl7.org.uk/StructureDefinition/UKCore-Organization"],
        "tag": [{"system": "http://example.org/tags", "code": "demo"}],
        "security": [
            {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "HTEST"}
        ],
        "versionId": "99",
    }
    body = create(http, base, {**ORG, "meta": meta}).json()
    assert body["meta"]["versionId"] == "1"
    for key in ("profile", "tag", "security"):
        assert body["meta"][key] == meta[key]


def test_summary_and_elements_on_read(http: httpx.Client, base: str) -> None:
    resource = {**ORG, "telecom": [{"system": "phone", "value": "01234"}], "alias": ["TT"]}
    created = create(http, base, resource).json()
    url = f"{base}/Organization/{created['id']}"
    summary = http.get(url, params={"_summary": "true"}).json()
    assert "telecom" not in summary and summary["name"] == "Testing Trust"
    assert any(t["code"] == "SUBSETTED" for t in summary["meta"]["tag"])
    elements = http.get(url, params={"_elements": "alias"}).json()
    assert set(elements) == {"resourceType", "id", "meta", "alias"}
    bad = http.get(url, params={"_elements": "nonsense"})
    assert bad.status_code == 400


def test_pretty(http: httpx.Client, base: str) -> None:
    created = create(http, base).json()
    pretty = http.get(f"{base}/Organization/{created['id']}", params={"_pretty": "true"})
    assert pretty.text.startswith("{\n")
    assert pretty.json() == created


def _endpoint(endpoint_id: str) -> dict[str, object]:
    return {
        "resourceType": "Endpoint",
        "id": endpoint_id,
        "status": "active",
        "connectionType": {
            "system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type",
            "code": "hl7-fhir-rest",
        },
        "payloadType": [{"text": "any"}],
        "address": "http://127.0.0.1:8000/ehr/x/r4",
    }

"""Conditional interactions and concurrency (http.html#ccreate, #cond-update, #concurrency)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

ODS = "https://fhir.nhs.uk/Id/ods-organization-code"


def _org(code: str, name: str = "Conditional Trust") -> dict[str, object]:
    return {
        "resourceType": "Organization",
        "name": name,
        "identifier": [{"system": ODS, "value": code}],
    }


def test_conditional_create_0_1_many(http: httpx.Client, base: str) -> None:
    condition = {"If-None-Exist": f"identifier={ODS}|ZZ1"}
    first = http.post(f"{base}/Organization", json=_org("ZZ1"), headers=condition)
    assert first.status_code == 201
    second = http.post(f"{base}/Organization", json=_org("ZZ1"), headers=condition)
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    http.post(f"{base}/Organization", json=_org("ZZ1"))  # a duplicate made without condition
    many = http.post(f"{base}/Organization", json=_org("ZZ1"), headers=condition)
    assert many.status_code == 412
    assert (
        http.get(f"{base}/Organization", params={"identifier": f"{ODS}|ZZ1"}).json()["total"] == 2
    )


def test_twenty_parallel_conditional_creates_leave_one(base: str) -> None:
    def post(_: int) -> int:
        with httpx.Client(timeout=30) as client:
            response = client.post(
                f"{base}/Organization",
                json=_org("ZZPAR"),
                headers={"If-None-Exist": f"identifier={ODS}|ZZPAR"},
            )
            return response.status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(post, range(20)))
    assert sorted(statuses) == [200] * 19 + [201]
    with httpx.Client() as client:
        found = client.get(f"{base}/Organization", params={"identifier": f"{ODS}|ZZPAR"}).json()
    assert found["total"] == 1


def test_if_match_optimistic_locking(http: httpx.Client, base: str) -> None:
    created = http.post(f"{base}/Organization", json=_org("ZZ2")).json()
    url = f"{base}/Organization/{created['id']}"
    ok = http.put(url, json={**created, "name": "v2"}, headers={"If-Match": 'W/"1"'})
    assert ok.status_code == 200
    stale = http.put(url, json={**created, "name": "v3"}, headers={"If-Match": 'W/"1"'})
    assert stale.status_code == 412
    assert "current version" in stale.json()["issue"][0]["diagnostics"]
    assert http.get(url).json()["name"] == "v2"


def test_parallel_if_match_updates_have_one_winner(http: httpx.Client, base: str) -> None:
    created = http.post(f"{base}/Organization", json=_org("ZZ3")).json()
    url = f"{base}/Organization/{created['id']}"

    def put(n: int) -> int:
        with httpx.Client(timeout=30) as client:
            body = {**created, "name": f"writer {n}"}
            return client.put(url, json=body, headers={"If-Match": 'W/"1"'}).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(put, range(10)))
    assert sorted(statuses) == [200] + [412] * 9
    assert http.get(url).json()["meta"]["versionId"] == "2"


def test_conditional_read_304(http: httpx.Client, base: str) -> None:
    created = http.post(f"{base}/Organization", json=_org("ZZ4"))
    url = f"{base}/Organization/{created.json()['id']}"
    assert http.get(url, headers={"If-None-Match": 'W/"1"'}).status_code == 304
    assert http.get(url, headers={"If-None-Match": 'W/"0"'}).status_code == 200
    modified = created.headers["last-modified"]
    assert http.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    assert (
        http.get(url, headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}).status_code
        == 200
    )


def test_conditional_update(http: httpx.Client, base: str) -> None:
    url = f"{base}/Organization"
    params = {"identifier": f"{ODS}|ZZ5"}
    created = http.put(url, params=params, json=_org("ZZ5"))
    assert created.status_code == 201
    updated = http.put(url, params=params, json=_org("ZZ5", "Renamed"))
    assert updated.status_code == 200
    assert updated.json()["id"] == created.json()["id"]
    assert updated.json()["meta"]["versionId"] == "2"
    http.post(url, json=_org("ZZ5"))
    assert http.put(url, params=params, json=_org("ZZ5")).status_code == 412


def test_conditional_delete(http: httpx.Client, base: str) -> None:
    http.post(f"{base}/Organization", json=_org("ZZ6"))
    params = {"identifier": f"{ODS}|ZZ6"}
    assert http.delete(f"{base}/Organization", params=params).status_code == 200
    assert http.get(f"{base}/Organization", params=params).json()["total"] == 0
    assert http.delete(f"{base}/Organization").status_code == 400  # no criteria


def test_json_patch(http: httpx.Client, base: str) -> None:
    created = http.post(f"{base}/Organization", json=_org("ZZ7")).json()
    url = f"{base}/Organization/{created['id']}"
    headers = {"Content-Type": "application/json-patch+json"}
    ops = [
        {"op": "replace", "path": "/name", "value": "Patched"},
        {"op": "add", "path": "/active", "value": True},
    ]
    patched = http.patch(url, json=ops, headers=headers)
    assert patched.status_code == 200
    assert patched.json()["name"] == "Patched" and patched.json()["active"] is True
    assert patched.json()["meta"]["versionId"] == "2"
    bad = http.patch(
        url, json=[{"op": "replace", "path": "/active", "value": "yes"}], headers=headers
    )
    assert bad.status_code == 422
    wrong_id = http.patch(
        url, json=[{"op": "replace", "path": "/id", "value": "x"}], headers=headers
    )
    assert wrong_id.status_code == 422
    stale = http.patch(url, json=ops, headers={**headers, "If-Match": 'W/"1"'})
    assert stale.status_code == 412
    assert http.get(url).json()["meta"]["versionId"] == "2"


def test_fhirpath_patch_over_http(http: httpx.Client, base: str) -> None:
    created = http.post(f"{base}/Organization", json=_org("ZZ8")).json()
    url = f"{base}/Organization/{created['id']}"
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "operation",
                "part": [
                    {"name": "type", "valueCode": "replace"},
                    {"name": "path", "valueString": "Organization.name"},
                    {"name": "value", "valueString": "Via FHIRPath"},
                ],
            }
        ],
    }
    headers = {"Content-Type": "application/fhir+json"}
    patched = http.patch(url, json=body, headers=headers)
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "Via FHIRPath"
    assert patched.json()["meta"]["versionId"] == "2"
    body["parameter"][0]["part"][1]["valueString"] = "Organization.name.length()"
    refused = http.patch(url, json=body, headers=headers)
    assert refused.status_code == 422
    assert http.get(url).json()["meta"]["versionId"] == "2"

"""Builders for batch and transaction Bundles and what the bundle tests observe over HTTP
(test_batch.py, test_transaction.py, test_transaction_atomicity.py)."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import orjson

ODS = "https://fhir.nhs.uk/Id/ods-organization-code"


def org(code: str, name: str = "Bundle Trust", **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "name": name,
        "identifier": [{"system": ODS, "value": code}],
        **extra,
    }


def endpoint(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Endpoint",
        "status": "active",
        "connectionType": {
            "system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type",
            "code": "hl7-fhir-rest",
        },
        "payloadType": [{"text": "any"}],
        "address": "https://example.org/fhir",
        **extra,
    }


def entry(method: str, url: str, resource: Any = None, full_url: str = "", **req: str) -> Any:
    item: dict[str, Any] = {"request": {"method": method, "url": url, **req}}
    if resource is not None:
        item["resource"] = resource
    if full_url:
        item["fullUrl"] = full_url
    return item


def bundle(*entries: Any, kind: str = "transaction") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def binary_patch(ops: list[dict[str, Any]]) -> dict[str, Any]:
    data = base64.b64encode(orjson.dumps(ops)).decode()
    return {"resourceType": "Binary", "contentType": "application/json-patch+json", "data": data}


def post(http: httpx.Client, base: str, body: dict[str, Any]) -> httpx.Response:
    return http.post(base, json=body, headers={"Content-Type": "application/fhir+json"})


def create(http: httpx.Client, base: str, resource: dict[str, Any]) -> dict[str, Any]:
    response = http.post(f"{base}/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def state(http: httpx.Client, base: str) -> dict[str, Any]:
    """What a client can observe: history total, search results, every current version."""
    history = http.get(f"{base}/_history", params={"_count": "1000"}).json()
    found = {}
    for kind in ("Organization", "Endpoint"):
        page = http.get(f"{base}/{kind}", params={"_count": "1000"}).json()
        found[kind] = sorted(
            (e["resource"]["id"], e["resource"]["meta"]["versionId"], e["resource"].get("name"))
            for e in page.get("entry", [])
        )
    return {"history": history["total"], "search": found}

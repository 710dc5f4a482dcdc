"""The official R4 examples of our seven types round-trip through the HTTP API unchanged.

JSON: PUT the example to its own id (create-on-update, 201), GET it back, and it must equal
what was sent apart from the server-owned `meta.versionId` / `meta.lastUpdated`.
XML: the same example rendered as FHIR XML by the R4B models goes in as
application/fhir+xml and comes back as application/fhir+xml with the same content.
The four collection Bundles are not stored as Bundles; their entries are POSTed one by one.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from fhir.resources.R4B import get_fhir_model_class

from fhir_r4 import EXAMPLES
from fhir_sandbox.fhir.models import RESOURCE_TYPES

TYPES = RESOURCE_TYPES
FHIR_JSON = "application/fhir+json"
FHIR_XML = "application/fhir+xml"


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _examples() -> list[Path]:
    return sorted(
        path for path in EXAMPLES.glob("*.json") if _load(path).get("resourceType") in TYPES
    )


def _bundle_entries() -> list[Any]:
    params = []
    for path in sorted(EXAMPLES.glob("Bundle-*.json")):
        for entry in _load(path).get("entry", []):
            resource = entry["resource"]
            case = f"{path.stem}:{resource['resourceType']}/{resource['id']}"
            params.append(pytest.param(resource, id=case))
    return params


def strip_server_meta(resource: dict[str, Any]) -> dict[str, Any]:
    """A copy without meta.versionId/lastUpdated (and without meta if nothing else is left)."""
    result = copy.deepcopy(resource)
    meta = result.get("meta")
    if isinstance(meta, dict):
        meta.pop("versionId", None)
        meta.pop("lastUpdated", None)
        if not meta:
            del result["meta"]
    return result


def to_xml(resource: dict[str, Any]) -> bytes:
    model = get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    xml: bytes = model.model_dump_xml()
    return xml


def from_xml(resource_type: str, xml: bytes) -> dict[str, Any]:
    model = get_fhir_model_class(resource_type).model_validate_xml(xml)
    data: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return data


def test_examples_are_found() -> None:
    found = {_load(path)["resourceType"] for path in _examples()}
    assert found == set(TYPES)
    assert len(_bundle_entries()) > 0


@pytest.mark.parametrize("path", _examples(), ids=lambda p: p.name)
def test_json_round_trip(path: Path, base: str, http: httpx.Client) -> None:
    example = _load(path)
    url = f"{base}/{example['resourceType']}/{example['id']}"
    put = http.put(url, json=example, headers={"Content-Type": FHIR_JSON})
    assert put.status_code == 201, put.text
    assert put.headers["ETag"] == 'W/"1"'
    assert strip_server_meta(put.json()) == strip_server_meta(example)

    got = http.get(url)
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith(FHIR_JSON)
    body = got.json()
    assert body["meta"]["versionId"] == "1"
    assert body["meta"]["lastUpdated"]
    assert strip_server_meta(body) == strip_server_meta(example)


@pytest.mark.parametrize("path", _examples(), ids=lambda p: p.name)
def test_xml_round_trip(path: Path, base: str, http: httpx.Client) -> None:
    example = _load(path)
    resource_type = example["resourceType"]
    xml = to_xml(example)
    expected = strip_server_meta(from_xml(resource_type, xml))
    assert expected == strip_server_meta(example)  # the R4B XML rendering loses nothing
    url = f"{base}/{resource_type}/{example['id']}"
    headers = {"Content-Type": FHIR_XML, "Accept": FHIR_XML}
    put = http.put(url, content=xml, headers=headers)
    assert put.status_code == 201, put.text
    assert put.headers["content-type"].startswith(FHIR_XML)
    assert strip_server_meta(from_xml(resource_type, put.content)) == expected

    got = http.get(url, headers={"Accept": FHIR_XML})
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith(FHIR_XML)
    answer = from_xml(resource_type, got.content)
    assert answer["meta"]["versionId"] == "1"
    assert strip_server_meta(answer) == expected

    # What went in as XML reads back as JSON with the same content, too.
    as_json = http.get(url)
    assert as_json.status_code == 200
    assert strip_server_meta(as_json.json()) == expected


@pytest.mark.parametrize("resource", _bundle_entries())
def test_bundle_entry_round_trip(resource: dict[str, Any], base: str, http: httpx.Client) -> None:
    resource_type = resource["resourceType"]
    posted = http.post(
        f"{base}/{resource_type}", json=resource, headers={"Content-Type": FHIR_JSON}
    )
    assert posted.status_code == 201, posted.text
    new_id = posted.json()["id"]
    assert posted.headers["Location"].startswith(f"{base}/{resource_type}/{new_id}/_history/1")
    expected = strip_server_meta({**resource, "id": new_id})

    got = http.get(f"{base}/{resource_type}/{new_id}")
    assert got.status_code == 200, got.text
    assert strip_server_meta(got.json()) == expected

    as_xml = http.get(f"{base}/{resource_type}/{new_id}", headers={"Accept": FHIR_XML})
    assert as_xml.status_code == 200, as_xml.text
    assert strip_server_meta(from_xml(resource_type, as_xml.content)) == strip_server_meta(
        from_xml(resource_type, to_xml(expected))
    )

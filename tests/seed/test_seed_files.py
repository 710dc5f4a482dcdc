"""Checks on the curated seed directory (seed/<Type>/<id>.json); no server needed."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

SEED = Path(__file__).parents[2] / "seed"
PLACEHOLDER = "{{PUBLIC_BASE_URL}}"
BASE = "http://127.0.0.1:8000"
TYPES = {
    "Organization",
    "Location",
    "Endpoint",
    "OrganizationAffiliation",
    "Practitioner",
    "PractitionerRole",
    "HealthcareService",
}
ID_RE = re.compile(r"[A-Za-z0-9\-\.]{1,64}")
REF_RE = re.compile(r"([A-Za-z]+)/([A-Za-z0-9\-\.]{1,64})")
HTEST = ("http://terminology.hl7.org/CodeSystem/v3-ActReason", "HTEST")
ODS_ORG = "https://fhir.nhs.uk/Id/ods-organization-code"
EHR_EXT = "https://fhir-sandbox.dev/StructureDefinition/endpoint-ehr-product"
EHR_CS = "https://fhir-sandbox.dev/CodeSystem/ehr-product"
# Types whose every seed resource is synthetic (fictional people, mock endpoint addresses).
ALL_SYNTHETIC = {"Practitioner", "PractitionerRole", "HealthcareService", "Endpoint"}
REAL_ODS = {"RTH", "RRV", "RQM", "RYJ", "RGT", "RQ6", "REM"}

FILES = sorted(SEED.glob("*/*.json"))


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


RESOURCES: dict[tuple[str, str], dict[str, Any]] = {(p.parent.name, p.stem): load(p) for p in FILES}


def references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def has_htest(res: dict[str, Any]) -> bool:
    return any(
        (s.get("system"), s.get("code")) == HTEST for s in res.get("meta", {}).get("security", [])
    )


def ref_ids(res: dict[str, Any], element: str) -> set[str]:
    return {r["reference"] for r in res.get(element, [])}


def is_synthetic(rt: str, res: dict[str, Any]) -> bool:
    if rt in ALL_SYNTHETIC:
        return True
    if rt == "Organization":
        return any(i["value"].startswith("ZZ") for i in res.get("identifier", []))
    if rt == "Location":
        org = res["managingOrganization"]["reference"].split("/")
        return is_synthetic(org[0], RESOURCES[(org[0], org[1])])
    return False


def test_seed_has_every_type() -> None:
    assert {p.parent.name for p in FILES} == TYPES
    assert {d.name for d in SEED.iterdir() if d.is_dir()} == TYPES


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_file_is_consistent_and_valid(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    data = json.loads(text)
    assert data["resourceType"] == path.parent.name
    assert data["id"] == path.stem
    assert ID_RE.fullmatch(data["id"])
    meta = data.get("meta", {})
    assert "versionId" not in meta
    assert "lastUpdated" not in meta
    # The placeholder only ever appears at the start of an Endpoint address.
    if PLACEHOLDER in text:
        assert data["resourceType"] == "Endpoint"
        assert data["address"].startswith(PLACEHOLDER + "/ehr/")
        assert text.count(PLACEHOLDER) == 1
    substituted = json.loads(text.replace(PLACEHOLDER, BASE))
    model = get_fhir_model_class(data["resourceType"]).model_validate(substituted)
    assert model.id == data["id"]


def test_ids_unique_per_type() -> None:
    seen: dict[str, set[str]] = {}
    for p in FILES:
        data = load(p)
        ids = seen.setdefault(data["resourceType"], set())
        assert data["id"] not in ids
        ids.add(data["id"])


def test_every_reference_resolves() -> None:
    for (rt, rid), res in RESOURCES.items():
        for ref in references(res):
            m = REF_RE.fullmatch(ref)
            assert m, f"{rt}/{rid}: not a relative reference: {ref}"
            assert (m[1], m[2]) in RESOURCES, f"{rt}/{rid}: dangling reference {ref}"


def test_synthetic_resources_are_labelled_htest() -> None:
    for (rt, rid), res in RESOURCES.items():
        assert has_htest(res) == is_synthetic(rt, res), f"{rt}/{rid}"


def test_synthetic_organizations_say_so() -> None:
    synthetic = [r for (rt, _), r in RESOURCES.items() if rt == "Organization" and has_htest(r)]
    assert len(synthetic) == 20
    for org in synthetic:
        assert "(synthetic)" in org["name"]
        assert any("synthetic" in a for a in org["alias"])
        assert "SYNTHETIC" in org["text"]["div"]
        assert len(org["endpoint"]) == 1
    sites = [
        r
        for (rt, _), r in RESOURCES.items()
        if rt == "Location" and has_htest(r) and "position" not in r
    ]
    assert len(sites) == 20


def test_real_ods_codes_present() -> None:
    codes = {
        i["value"]
        for (rt, _), r in RESOURCES.items()
        if rt == "Organization"
        for i in r.get("identifier", [])
        if i["system"] == ODS_ORG
    }
    assert REAL_ODS.issubset(codes)
    assert all(c in REAL_ODS or re.fullmatch(r"ZZT\d\d", c) for c in codes)
    assert RESOURCES[("Organization", "ods-RQ6")]["active"] is False


def test_one_endpoint_shared_by_imperial_and_chelsea_westminster() -> None:
    ryj = ref_ids(RESOURCES[("Organization", "ods-RYJ")], "endpoint")
    rqm = ref_ids(RESOURCES[("Organization", "ods-RQM")], "endpoint")
    shared = ryj & rqm
    assert len(shared) == 1
    ep = RESOURCES[tuple(next(iter(shared)).split("/"))]  # type: ignore[index]
    assert ep["managingOrganization"]["reference"] == "Organization/ods-RYJ"
    assert ep["status"] == "active"


def test_endpoints_follow_conventions() -> None:
    endpoints = [r for (rt, _), r in RESOURCES.items() if rt == "Endpoint"]
    slugs = set()
    for ep in endpoints:
        assert ep["connectionType"]["code"] == "hl7-fhir-rest"
        assert ep["payloadMimeType"] == ["application/fhir+json"]
        (slug,) = [
            i["value"]
            for i in ep["identifier"]
            if i["system"] == "https://fhir-sandbox.dev/Id/ehr-instance"
        ]
        slugs.add(slug)
        assert ep["address"] == f"{PLACEHOLDER}/ehr/{slug}/r4"
        (product,) = [e["valueCoding"] for e in ep["extension"] if e["url"] == EHR_EXT]
        assert product["system"] == EHR_CS
        assert product["code"] in {"cerner-millennium", "epic", "lastword"}
        if ep["status"] == "off":
            assert "end" in ep["period"]
    assert len(slugs) == len(endpoints)


def test_every_endpoint_is_listed_by_its_managing_organization() -> None:
    for (rt, rid), res in RESOURCES.items():
        if rt == "Endpoint":
            org = RESOURCES[tuple(res["managingOrganization"]["reference"].split("/"))]  # type: ignore[index]
            assert f"Endpoint/{rid}" in ref_ids(org, "endpoint")

"""Tests for the synthetic directory generator (fhir_sandbox.generator)."""

from __future__ import annotations

import re
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fhir.resources.R4B import get_fhir_model_class

from fhir_sandbox.generator import iter_directory, write_ndjson
from fhir_sandbox.generator.directory import organisation_resources

Json = dict[str, Any]
ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
POSTCODE_RE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][ABD-HJLNP-UW-Z]{2}$")
HTEST = [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "HTEST"}]
TYPES = {
    "Organization",
    "Endpoint",
    "Location",
    "HealthcareService",
    "Practitioner",
    "PractitionerRole",
    "OrganizationAffiliation",
}


@pytest.fixture(scope="module")
def small() -> list[Json]:
    return list(iter_directory(60, seed=11))


@pytest.fixture(scope="module")
def large() -> list[Json]:
    return list(iter_directory(2000, seed=5))


def references(node: Any) -> Iterator[str]:
    """Every ``reference`` string anywhere inside a resource."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def by_system(resources: list[Json], resource_type: str, system: str) -> list[str]:
    return [
        ident["value"]
        for resource in resources
        if resource["resourceType"] == resource_type
        for ident in resource.get("identifier", [])
        if ident["system"] == system
    ]


# --- determinism -------------------------------------------------------------------------


def read_dir(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    first = write_ndjson(tmp_path / "a", 300, seed=42)
    second = write_ndjson(tmp_path / "b", 300, seed=42)
    assert first == second
    assert read_dir(tmp_path / "a") == read_dir(tmp_path / "b")
    assert set(first) == TYPES


def test_different_seed_gives_different_files(tmp_path: Path) -> None:
    write_ndjson(tmp_path / "a", 100, seed=1)
    write_ndjson(tmp_path / "b", 100, seed=2)
    a, b = read_dir(tmp_path / "a"), read_dir(tmp_path / "b")
    assert a["Organization.ndjson"] != b["Organization.ndjson"]
    assert a["Practitioner.ndjson"] != b["Practitioner.ndjson"]


def test_an_organisation_does_not_depend_on_the_others() -> None:
    stream = [r for r in iter_directory(80, seed=3) if r["id"].split("-")[2] == "000057"]
    alone = organisation_resources(3, 57, "http://127.0.0.1:8000")
    assert orjson.dumps(stream) == orjson.dumps(alone)


def test_ndjson_layout_and_counts(tmp_path: Path) -> None:
    counts = write_ndjson(tmp_path, 120, seed=9, public_base_url="https://sandbox.example/")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{t}.ndjson" for t in counts)
    for resource_type, count in counts.items():
        data = (tmp_path / f"{resource_type}.ndjson").read_bytes()
        assert data.endswith(b"\n") and b"\r" not in data
        lines = data.split(b"\n")[:-1]
        assert len(lines) == count
        assert all(orjson.loads(line)["resourceType"] == resource_type for line in lines)
    endpoint = orjson.loads((tmp_path / "Endpoint.ndjson").read_bytes().split(b"\n")[0])
    assert re.fullmatch(r"https://sandbox\.example/ehr/[a-z0-9-]+/r4", endpoint["address"])


def test_edge_sizes(tmp_path: Path) -> None:
    assert list(iter_directory(0, seed=1)) == []
    assert write_ndjson(tmp_path, 0, seed=1) == {}
    with pytest.raises(ValueError):
        list(iter_directory(-1, seed=1))


# --- validity ------------------------------------------------------------------------------


def test_every_resource_validates_with_r4b_models(small: list[Json]) -> None:
    assert {r["resourceType"] for r in small} == TYPES
    for resource in small:
        model = get_fhir_model_class(resource["resourceType"])
        model.model_validate(resource)


def test_json_ready_without_server_metadata(small: list[Json]) -> None:
    for resource in small:
        assert orjson.loads(orjson.dumps(resource)) == resource
        assert resource["meta"] == {"security": HTEST}


def test_ids_unique_and_valid(large: list[Json]) -> None:
    keys = [f"{r['resourceType']}/{r['id']}" for r in large]
    assert len(keys) == len(set(keys))
    ids = [r["id"] for r in large]
    assert len(ids) == len(set(ids))  # unique across the directory, not just per type
    assert all(ID_RE.match(i) for i in ids)


def test_references_resolve_and_point_backwards(large: list[Json]) -> None:
    seen: set[str] = set()
    everything = {f"{r['resourceType']}/{r['id']}": r for r in large}
    for resource in large:
        key = f"{resource['resourceType']}/{resource['id']}"
        for ref in references(resource):
            assert ref in everything, f"{key} -> {ref} does not resolve"
            if ref in seen:
                continue
            # The only forward references: an Organization's own Endpoints follow it.
            target = everything[ref]
            assert resource["resourceType"] == "Organization", f"{key} -> {ref} is forward"
            assert target["managingOrganization"]["reference"] == key
        seen.add(key)


# --- content ---------------------------------------------------------------------------------


def test_resource_mix_per_organisation(large: list[Json]) -> None:
    counts = Counter(r["resourceType"] for r in large)
    per_org = {t: counts[t] / counts["Organization"] for t in counts}
    assert counts["Organization"] == 2000
    assert 1.6 <= per_org["Practitioner"] <= 2.4
    assert 1.6 <= per_org["PractitionerRole"] <= 2.4
    assert 0.9 <= per_org["Location"] <= 1.2
    assert 1.1 <= per_org["Endpoint"] <= 1.7
    assert 0.05 <= per_org["OrganizationAffiliation"] <= 0.15


def test_organisation_kinds_and_vendor_mix(large: list[Json]) -> None:
    roles = Counter(
        c["code"]
        for r in large
        if r["resourceType"] == "Organization"
        for t in r["type"]
        for c in t["coding"]
        if c["system"].endswith("ODSOrganisationRole")
    )
    assert roles["RO197"] == 80  # one trust per block of 25
    assert 0 < roles["RO57"] < roles["RO197"]
    assert roles["RO182"] > roles["RO76"] > roles["RO172"] > roles["RO197"]
    org_role = {
        r["id"]: {c["code"] for t in r["type"] for c in t["coding"]}
        for r in large
        if r["resourceType"] == "Organization"
    }
    live_products: dict[str, Counter[str]] = {"RO76": Counter(), "RO197": Counter()}
    for r in large:
        if r["resourceType"] == "Endpoint" and r["status"] == "active":
            owner = r["managingOrganization"]["reference"].split("/")[1]
            for role, counter in live_products.items():
                if role in org_role[owner]:
                    counter[r["extension"][1]["valueCoding"]["code"]] += 1
    assert set(live_products["RO76"]) <= {"emis-web", "systmone", "other"}
    assert live_products["RO76"]["emis-web"] + live_products["RO76"]["systmone"] > 0.9 * sum(
        live_products["RO76"].values()
    )
    assert {"cerner-millennium", "epic"} <= set(live_products["RO197"])
    assert "emis-web" not in live_products["RO197"]


def test_endpoints_follow_the_directory_conventions(large: list[Json]) -> None:
    endpoints = [r for r in large if r["resourceType"] == "Endpoint"]
    statuses = Counter(e["status"] for e in endpoints)
    assert set(statuses) == {"active", "off"} and statuses["off"] > 0
    for e in endpoints:
        slug = e["identifier"][0]["value"]
        assert e["identifier"][0]["system"] == "https://fhir-sandbox.dev/Id/ehr-instance"
        assert e["address"] == f"http://127.0.0.1:8000/ehr/{slug}/r4"
        assert e["connectionType"]["code"] == "hl7-fhir-rest"
        assert e["payloadMimeType"] == ["application/fhir+json"]
        assert e["extension"][0]["valueCode"] == "4.0.1"
        assert ("end" in e["period"]) == (e["status"] == "off")
    shared = Counter(
        ref["reference"]
        for r in large
        if r["resourceType"] == "Organization"
        for ref in r.get("endpoint", [])
    )
    assert max(shared.values()) >= 2  # some trusts share an EHR instance


def test_shared_instances_are_live_and_explained_by_an_affiliation(large: list[Json]) -> None:
    index = {f"{r['resourceType']}/{r['id']}": r for r in large}
    hie = {
        (a["participatingOrganization"]["reference"], e["reference"])
        for a in large
        if a["resourceType"] == "OrganizationAffiliation"
        for e in a.get("endpoint", [])
    }
    borrowed = [
        (f"Organization/{org['id']}", ref["reference"])
        for org in large
        if org["resourceType"] == "Organization"
        for ref in org.get("endpoint", [])
        if index[ref["reference"]]["managingOrganization"]["reference"]
        != f"Organization/{org['id']}"
    ]
    assert borrowed
    for org_ref, endpoint_ref in borrowed:
        assert index[endpoint_ref]["status"] == "active"
        assert (org_ref, endpoint_ref) in hie


def test_identifiers_are_synthetic_and_unique(large: list[Json]) -> None:
    ods = by_system(large, "Organization", "https://fhir.nhs.uk/Id/ods-organization-code")
    sites = by_system(large, "Location", "https://fhir.nhs.uk/Id/ods-site-code")
    gmc = by_system(large, "Practitioner", "https://fhir.hl7.org.uk/Id/gmc-number")
    nmc = by_system(large, "Practitioner", "https://fhir.hl7.org.uk/Id/nmc-number")
    gphc = by_system(large, "Practitioner", "https://fhir.hl7.org.uk/Id/gphc-number")
    sds = by_system(large, "Practitioner", "https://fhir.nhs.uk/Id/sds-user-id")
    for values in (ods, sites, gmc, nmc, gphc, sds):
        assert values and len(values) == len(set(values))
    assert all(re.fullmatch(r"ZZ[0-9A-Z]{4,}", v) for v in ods)
    assert all(re.fullmatch(r"ZZ[0-9A-Z]{4,}[0-9]{2}", v) for v in sites)
    assert all(re.fullmatch(r"9[0-9]{6}", v) for v in gmc)
    assert all(re.fullmatch(r"[0-9]{2}Z[0-9]{4}[ESWN]", v) for v in nmc)
    assert all(re.fullmatch(r"2[89][0-9]{5}", v) for v in gphc)
    assert all(re.fullmatch(r"9999[0-9]{8}", v) for v in sds)


def test_ods_codes_unique_for_large_indices() -> None:
    from fhir_sandbox.generator.identifiers import ods_code

    indices = [*range(0, 3000), *range(36**4 - 1500, 36**4 + 1500)]
    codes = [ods_code(i) for i in indices]
    assert len(set(codes)) == len(codes)


def addresses(resource: Json) -> list[Json]:
    if resource["resourceType"] == "Location":
        return [resource["address"]]
    if resource["resourceType"] == "Organization":
        return list(resource["address"])
    return []


def test_professional_numbers_stay_unique_up_to_100k_organisations() -> None:
    from fhir_sandbox.generator.identifiers import gphc_number

    numbers = {gphc_number(index, slot) for index in range(100_000) for slot in (0, 1)}
    assert len(numbers) == 200_000
    assert min(numbers) == "2800000" and max(numbers) == "2999999"


def test_addresses_and_positions_are_uk_like(small: list[Json]) -> None:
    for r in small:
        for address in addresses(r):
            assert address["country"] == "GB"
            assert POSTCODE_RE.match(address["postalCode"]), address["postalCode"]
            assert address["postalCode"][0] in "QV"  # never used first by Royal Mail
        if r["resourceType"] == "Location":
            assert 49.9 <= r["position"]["latitude"] <= 60.9
            assert -8.2 <= r["position"]["longitude"] <= 1.8


# --- streaming ----------------------------------------------------------------------------


def test_streaming_keeps_memory_small(tmp_path: Path) -> None:
    tracemalloc.start()
    try:
        counts = write_ndjson(tmp_path, 5000, seed=4)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sum(counts.values()) > 40_000
    assert peak < 20 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"

"""Search over the official R4 examples, with answers checked by hand against the files.

All 42 example resources of our seven types (shared/fhir-r4/examples, not the Bundles) are
written into one tenant. Each case states the exact ids a search must find; the comment
says why, from the example JSON. The SQL engine and the reference evaluator
(search_oracle.py) must both give that answer.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from search_oracle import Oracle

from fhir_r4 import EXAMPLES
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.interactions.versions import write_version
from fhir_sandbox.search.parse import parse_search
from fhir_sandbox.searchparams.registry import default_registry
from fhir_sandbox.storage.sql.repository import SqlRepository

TYPES = {
    "Organization",
    "Endpoint",
    "Practitioner",
    "PractitionerRole",
    "Location",
    "HealthcareService",
    "OrganizationAffiliation",
}
REGISTRY = default_registry()
T0 = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
CLIN_LAB = "1832473e-2fe0-452d-abe9-3cdb9879522f"  # Organization "Clinical Lab"
V2_0286 = "http://terminology.hl7.org/CodeSystem/v2-0286"
PRACTITIONERS_WITHOUT_ACTIVE = {
    *(f"f00{n}" for n in range(1, 8)),
    "f204",
    "xcda-author",
    "xcda1",
}


def example_resources() -> list[dict[str, Any]]:
    found = []
    for path in sorted(EXAMPLES.glob("*.json")):
        resource = json.loads(path.read_text(encoding="utf-8"))
        if resource.get("resourceType") in TYPES:
            found.append(resource)
    return found


@pytest.fixture(scope="module")
def loaded(sql_repo: SqlRepository) -> Iterator[tuple[str, Oracle]]:
    """The examples in a tenant of their own, and the oracle over their stored JSON."""
    resources = example_resources()
    assert len(resources) == 42
    ticks = iter(range(len(resources)))
    ctx = Context(
        repository=sql_repo, registry=REGISTRY, clock=lambda: T0 + timedelta(seconds=next(ticks))
    )
    tenant = f"examples-{uuid.uuid4().hex}"
    with sql_repo.session(tenant, write=True) as session:
        stored = [orjson.loads(write_version(ctx, session, r, None, "PUT").body) for r in resources]
    yield tenant, Oracle(stored, REGISTRY)
    if sql_repo.dialect != "sqlite":
        sql_repo.wipe(tenant)


CASES: list[tuple[str, list[tuple[str, str]], set[str]]] = [
    # -- Organization ---------------------------------------------------------------------
    # string: starts-with on name | alias, case-insensitive; "Good Health Clinic" and
    # "Michigan Health" only contain the word
    ("Organization", [("name", "Health")], {"hl7"}),
    ("Organization", [("name", "hl7")], {"hl7", "hl7pay"}),  # alias "HL7 International"
    ("Organization", [("name", "abc")], {"2"}),  # alias "ABC Insurance"
    ("Organization", [("name:contains", "HEALTH")], {"hl7", "2.16.840.1.113883.19.5", "3"}),
    ("Organization", [("name:exact", "Burgers UMC Ear\\,Nose\\,Throat unit")], {"f003"}),
    ("Organization", [("name:exact", "burgers umc ear\\,nose\\,throat unit")], set()),
    ("Organization", [("name", "burgers umc")], {"f002", "f003"}),
    ("Organization", [("address-city", "den")], {"f001", "f201"}),  # Den Burg, Den Helder
    ("Organization", [("address", "nld")], {"f001", "f201", "f203"}),  # Address.country
    ("Organization", [("address", "south wing")], {"f002"}),  # line; f003 is in West Wing
    ("Organization", [("address-country", "swizterland")], {"mmanu"}),
    ("Organization", [("address-postalcode:missing", "false")], {"f001", "f201", "f203", "hl7"}),
    # token
    ("Organization", [("type", "dept")], {"f002", "f003"}),
    (
        "Organization",
        [("type", "http://terminology.hl7.org/CodeSystem/organization-type|prov")],
        {"f001", "f201", "f203"},
    ),
    ("Organization", [("type", "urn:oid:2.16.840.1.113883.2.4.15.1060|")], {"f001", "f201"}),
    ("Organization", [("type:text", "academic")], {"f201", "f203"}),  # Coding.display
    ("Organization", [("active", "true")], {"f002", "f003", "f201", "f203", "mmanu"}),
    ("Organization", [("identifier", "http://www.zorgkaartnederland.nl/|Blijdorp MC")], {"f203"}),
    ("Organization", [("identifier", "http://www.acme.org.au/units|")], {"1", CLIN_LAB}),
    ("Organization", [("identifier:text", "zorginstelling")], {"f203"}),  # type.text
    # reference, chain, _has
    ("Organization", [("partof", "Organization/f001")], {"f002", "f003"}),
    ("Organization", [("partof.address-city", "den burg")], {"f002", "f003"}),
    ("Organization", [("endpoint", "example")], {"hl7"}),
    ("Organization", [("_has:PractitionerRole:organization:role", "RP")], {"f001"}),
    ("Organization", [("_has:Location:organization:status", "suspended")], {"f001"}),
    ("Organization", [("_has:Endpoint:organization:identifier", "epcp12")], {"hl7"}),
    ("Organization", [("_id", "f001,hl7,nope")], {"f001", "hl7"}),
    # -- Practitioner ---------------------------------------------------------------------
    ("Practitioner", [("family", "van")], {"f001", "f006"}),  # van den broek / van den Berk
    ("Practitioner", [("name", "van")], {"f001", "f006"}),  # f203's text is "Juri van Gelder"
    ("Practitioner", [("name", "juri")], {"f203"}),  # HumanName.text
    ("Practitioner", [("name", "dr")], {"example", "f201", "f202"}),  # prefix Dr / Dr.
    ("Practitioner", [("given", "rob"), ("family", "van")], {"f006"}),
    ("Practitioner", [("gender", "female")], {"f005", "f007", "f204"}),
    # :not includes those without a gender (example, xcda-author, xcda1)
    (
        "Practitioner",
        [("gender:not", "male")],
        {"example", "f005", "f007", "f204", "xcda-author", "xcda1"},
    ),
    # f004 and f005 share an official identifier value
    ("Practitioner", [("identifier", "urn:oid:2.16.528.1.1007.3.1|118265112")], {"f004", "f005"}),
    ("Practitioner", [("identifier:text", "BIG")], {"f202", "f203"}),  # type.text BIG-nummer
    ("Practitioner", [("address-city:exact", "Den Burg")], {"f001", "f002", "f006", "f007"}),
    ("Practitioner", [("active:missing", "true")], PRACTITIONERS_WITHOUT_ACTIVE),
    # -- Location -------------------------------------------------------------------------
    ("Location", [("near", "42.256|-83.694|1|km")], {"1"}),  # ~150 m from Location/1
    ("Location", [("near", "42.256|-83.694|100|m")], set()),
    # Location/hl7 has latitude and longitude the other way round in the example
    ("Location", [("near", "-83.69471|42.2565|1|km")], {"hl7"}),
    ("Location", [("organization", "f001")], {"1", "2", "amb", "ph"}),
    ("Location", [("partof", "Location/1")], {"2"}),
    ("Location", [("name", "south wing")], {"1", "2"}),
    ("Location", [("name", "main wing")], {"2"}),  # alias "Main Wing OR 2"
    ("Location", [("status:not", "active")], {"2"}),
    ("Location", [("type", "http://terminology.hl7.org/CodeSystem/v3-RoleCode|PHARM")], {"ukp"}),
    ("Location", [("operational-status:text", "housekeeping")], {"2"}),
    ("Location", [("address-postalcode", "9105")], {"1"}),
    # -- Endpoint -------------------------------------------------------------------------
    ("Endpoint", [("connection-type", "hl7-fhir-rest")], {"example"}),
    (
        "Endpoint",
        [("connection-type", "http://terminology.hl7.org/CodeSystem/endpoint-connection-type|")],
        {"example", "example-iid", "example-wadors"},
    ),
    ("Endpoint", [("connection-type", "|direct-project")], {"direct-endpoint"}),  # no system
    ("Endpoint", [("payload-type:text", "dicom")], {"example-iid", "example-wadors"}),
    ("Endpoint", [("organization", "Organization/hl7")], {"example"}),
    ("Endpoint", [("organization.name", "health level")], {"example"}),  # Organization/299 absent
    ("Endpoint", [("organization:missing", "true")], {"example-iid", "example-wadors"}),
    ("Endpoint", [("name", "pacs hospital")], {"example-iid", "example-wadors"}),
    # -- PractitionerRole: period 2012-01-01 .. 2012-03-31 -----------------------------------
    ("PractitionerRole", [("date", "2012")], {"example"}),
    ("PractitionerRole", [("date", "eq2012-01")], set()),
    ("PractitionerRole", [("date", "ne2012-01")], {"example"}),
    ("PractitionerRole", [("date", "ge2012-02")], {"example"}),  # runs on after February
    ("PractitionerRole", [("date", "ge2012-04")], set()),
    ("PractitionerRole", [("date", "le2012-01-01")], set()),  # starts on, not before, that day
    ("PractitionerRole", [("date", "lt2012-01-02")], {"example"}),
    ("PractitionerRole", [("date", "sa2011-12-31")], {"example"}),
    ("PractitionerRole", [("date", "eb2012-04")], {"example"}),
    ("PractitionerRole", [("date", "eb2012-03-31")], set()),
    ("PractitionerRole", [("date", "ap2012-03-15")], {"example"}),
    ("PractitionerRole", [("practitioner.family", "careful")], {"example"}),
    ("PractitionerRole", [("location.address-city", "den burg")], {"example"}),
    ("PractitionerRole", [("organization:Organization", "f001")], {"example"}),
    ("PractitionerRole", [("role", f"{V2_0286}|RP")], {"example"}),
    # -- HealthcareService and OrganizationAffiliation --------------------------------------
    ("HealthcareService", [("service-category:text", "counsel")], {"example"}),
    ("OrganizationAffiliation", [("role", "provider")], {"example", "orgrole1"}),
    ("OrganizationAffiliation", [("date", "ap2020")], {"orgrole1"}),  # 2018-02-09..2022-02-01
]


@pytest.mark.parametrize(
    ("resource_type", "params", "expected"),
    CASES,
    ids=[f"{t}?{'&'.join(f'{n}={v}' for n, v in p)}" for t, p, _ in CASES],
)
def test_official_examples(
    sql_repo: SqlRepository,
    loaded: tuple[str, Oracle],
    resource_type: str,
    params: list[tuple[str, str]],
    expected: set[str],
) -> None:
    tenant, oracle = loaded
    query = parse_search(resource_type, params, REGISTRY).query
    with sql_repo.session(tenant) as session:
        engine = {v.id for v in session.search(query, 0, 1000)}
    assert engine == expected
    assert oracle.search(resource_type, params) == expected

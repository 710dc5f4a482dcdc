"""The storage contract suite's helpers and its small data set (storage/base.py).

The suite (test_repository_versions.py, test_repository_search.py) runs every test against
the in-memory reference repository and SQLite (and PostgreSQL when configured, see
conftest.py) and asserts exact answers, so the backends are held to the same results.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from fhir_sandbox.search.parse import parse_search, parse_sort
from fhir_sandbox.search.query import Query
from fhir_sandbox.searchparams.extract import extract_index
from fhir_sandbox.searchparams.registry import default_registry
from fhir_sandbox.storage.base import Repository, Session, StoredVersion

Tenant = Callable[[str], str]
REGISTRY = default_registry()
T0 = datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
ORG_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
PROFILE = "http://example.org/fhir/StructureDefinition/Org"


# -- helpers ------------------------------------------------------------------------------


def put(
    session: Session, resource: dict[str, Any], version: int = 1, minute: int = 0
) -> StoredVersion:
    """Store `resource` as `version`, indexed with the default registry."""
    saved = StoredVersion(
        resource_type=resource["resourceType"],
        id=resource["id"],
        version=version,
        last_updated=T0 + timedelta(minutes=minute),
        method="PUT" if version > 1 else "POST",
        deleted=False,
        body=orjson.dumps(resource),
    )
    return session.save(saved, extract_index(resource, REGISTRY))


def remove(
    session: Session, resource_type: str, resource_id: str, version: int, minute: int = 0
) -> StoredVersion:
    marker = StoredVersion(
        resource_type, resource_id, version, T0 + timedelta(minutes=minute), "DELETE", True, b""
    )
    return session.save(marker, None)


def org(resource_id: str, name: str, **more: Any) -> dict[str, Any]:
    return {"resourceType": "Organization", "id": resource_id, "name": name, **more}


def query(resource_type: str, params: list[tuple[str, str]], sort: str | None = None) -> Query:
    parsed = parse_search(resource_type, params, REGISTRY).query
    return Query(resource_type, parsed.clauses, parse_sort(resource_type, sort, REGISTRY))


def search(
    repo: Repository,
    tenant: str,
    resource_type: str,
    params: list[tuple[str, str]],
    sort: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> list[str]:
    """Ids found, in the repository's order; checks count() and the returned versions."""
    q = query(resource_type, params, sort)
    with repo.session(tenant) as session:
        found = session.search(q, offset, limit)
        total = session.count(q)
    ids = [v.id for v in found]
    assert len(set(ids)) == len(ids), f"duplicates in {ids}"
    assert all(v.resource_type == resource_type and not v.deleted for v in found)
    if offset == 0 and total < limit:
        assert total == len(ids)
    return ids


def found(
    repo: Repository, tenant: str, resource_type: str, params: list[tuple[str, str]]
) -> set[str]:
    return set(search(repo, tenant, resource_type, params))


# -- the directory: a small data set exercising every parameter type ------------------------

ORGANIZATIONS = [
    org(
        "org1",
        "Müller Praxis",
        meta={"profile": [PROFILE]},
        identifier=[{"system": ODS, "value": "A1"}],
        active=True,
        type=[{"coding": [{"system": ORG_TYPE, "code": "prov", "display": "Healthcare Provider"}]}],
        address=[{"city": "Leeds"}],
    ),
    org(
        "org2",
        "Mullerton Clinic",
        meta={"profile": [f"{PROFILE}/v2"]},
        identifier=[{"system": ODS, "value": "B2"}],
        active=False,
        type=[{"coding": [{"system": ORG_TYPE, "code": "dept"}], "text": "Department"}],
        alias=["Old Name"],
        address=[{"city": "York"}],
        partOf={"reference": "Organization/org1"},
    ),
    org(
        "org3",
        "St Mary's Hospital",
        meta={"profile": ["http://other.org/fhir/StructureDefinition/Org"]},
        identifier=[{"system": "urn:oid:1.2.3", "value": "A1"}],
    ),
    org(
        "org4",
        "Smith & Sons",
        meta={"profile": ["http://example.org/base/"]},
        identifier=[{"value": "X9"}],
        type=[{"coding": [{"code": "prov"}]}],
        address=[{"city": "Leeds"}],
    ),
]


def role(resource_id: str, **more: Any) -> dict[str, Any]:
    return {"resourceType": "PractitionerRole", "id": resource_id, **more}


ROLES = [
    role(
        "pr1",
        active=True,
        organization={"reference": "Organization/org1"},
        practitioner={"reference": "Practitioner/p1"},
        period={"start": "2019-01-01", "end": "2019-12-31"},
    ),
    role(
        "pr2",
        active=False,
        organization={"reference": "Organization/org2"},
        period={"start": "2020-06-15"},
    ),
    role(
        "pr3",
        organization={"identifier": {"system": ODS, "value": "B2"}},
        period={"end": "2018-05"},
    ),
    role(
        "pr4",
        active=True,
        organization={"reference": "Organization/org3"},
        period={"start": "2021-03-01T10:00:00Z", "end": "2021-03-01T12:00:00Z"},
    ),
    role("pr5", active=True),
]


def location(
    resource_id: str, lat: float | None = None, lon: float | None = None
) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Location", "id": resource_id, "name": resource_id}
    if lat is not None:
        resource["position"] = {"latitude": lat, "longitude": lon}
    return resource


LOCATIONS = [
    location("leeds", 53.8008, -1.5491),
    location("york", 53.9590, -1.0815),  # ~35 km from Leeds
    location("london", 51.5072, -0.1276),  # ~270 km from Leeds
    location("nowhere"),
]


def store_directory(repo: Repository, name: str) -> str:
    """`name` holding the data set above; each resource one minute after the previous."""
    with repo.session(name, write=True) as session:
        for minute, resource in enumerate([*ORGANIZATIONS, *ROLES, *LOCATIONS]):
            put(session, resource, minute=minute)
    return name

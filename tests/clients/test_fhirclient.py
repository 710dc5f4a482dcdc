"""SMART on FHIR's `fhirclient` 4.x (R4 models, requests) against a live tenant base.

Its models parse strictly (unknown or mistyped elements raise FHIRValidationError), so every
read here also checks that what the server sends is well-formed R4 for that client.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
import requests
from fhirclient import client
from fhirclient.models.bundle import Bundle
from fhirclient.models.capabilitystatement import CapabilityStatement
from fhirclient.models.fhirreference import FHIRReference
from fhirclient.models.identifier import Identifier
from fhirclient.models.organization import Organization
from fhirclient.models.practitionerrole import PractitionerRole
from fhirclient.server import FHIRNotFoundException, FHIRServer


def _server(base: str) -> FHIRServer:
    smart = client.FHIRClient(settings={"app_id": "test", "api_base": base + "/"})
    assert smart.server is not None
    return smart.server


def _organization(name: str, system: str, value: str) -> Organization:
    org = Organization()
    org.name = name
    org.active = True
    identifier = Identifier()
    identifier.system = system
    identifier.value = value
    org.identifier = [identifier]
    return org


def test_capability_statement_parses(base: str) -> None:
    smart = client.FHIRClient(settings={"app_id": "test", "api_base": base + "/"})
    assert smart.prepare() is True
    statement = smart.server.capabilityStatement
    assert isinstance(statement, CapabilityStatement)
    assert statement.fhirVersion == "4.0.1"
    types = {r.type for r in statement.rest[0].resource}
    assert {"Organization", "PractitionerRole", "Endpoint"} <= types


def test_create_read_update_search_delete(base: str, http: httpx.Client) -> None:
    server = _server(base)
    system = f"urn:uuid:{uuid.uuid4()}"
    created = _organization("Fhirclient Trust", system, "FC1").create(server)
    assert created is not None
    assert created["resourceType"] == "Organization"
    org_id = created["id"]
    assert created["meta"]["versionId"] == "1"

    org = Organization.read(org_id, server)
    assert org.id == org_id
    assert org.name == "Fhirclient Trust"
    assert org.identifier[0].system == system
    assert org.identifier[0].value == "FC1"
    assert org.meta.versionId == "1"

    org.name = "Fhirclient Trust (renamed)"
    updated = org.update()
    assert updated is not None
    assert updated["meta"]["versionId"] == "2"
    assert Organization.read(org_id, server).name == "Fhirclient Trust (renamed)"

    _organization("Unrelated Practice", system, "FC2").create(server)
    search = Organization.where(struct={"name": "Fhirclient Trust (renamed)"})
    found = list(search.perform_resources_iter(server))
    assert [o.id for o in found] == [org_id]
    assert isinstance(found[0], Organization)
    by_identifier = Organization.where(struct={"identifier": f"{system}|FC2"})
    assert [o.name for o in by_identifier.perform_resources_iter(server)] == ["Unrelated Practice"]
    bundles = list(Organization.where(struct={"name": "fhirclient"}).perform_iter(server))
    assert len(bundles) == 1
    assert isinstance(bundles[0], Bundle)
    assert bundles[0].total == 1

    org.delete()
    assert http.get(f"{base}/Organization/{org_id}").status_code == 410
    with pytest.raises(requests.HTTPError) as caught:
        Organization.read(org_id, server)
    assert caught.value.response.status_code == 410
    with pytest.raises(FHIRNotFoundException):
        Organization.read(str(uuid.uuid4()), server)
    assert list(search.perform_resources_iter(server)) == []


def test_paging_and_reference_search(base: str) -> None:
    server = _server(base)
    system = f"urn:uuid:{uuid.uuid4()}"
    parent = _organization("Parent", system, "P").create(server)
    assert parent is not None
    org_id = parent["id"]
    for _ in range(5):
        role = PractitionerRole()
        role.active = True
        reference = FHIRReference()
        reference.reference = f"Organization/{org_id}"
        role.organization = reference
        assert role.create(server) is not None

    search = PractitionerRole.where(struct={"organization": org_id, "_count": "2"})
    pages = list(search.perform_iter(server))
    assert len(pages) == 3
    roles = list(search.perform_resources_iter(server))
    assert len(roles) == 5
    assert len({r.id for r in roles}) == 5
    assert all(r.organization.reference == f"Organization/{org_id}" for r in roles)
    assert all(isinstance(r, PractitionerRole) for r in roles)
    chained = PractitionerRole.where(struct={"organization.identifier": f"{system}|P"})
    assert len(list(chained.perform_resources_iter(server))) == 5

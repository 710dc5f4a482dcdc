"""fhirpy's synchronous client (SyncFHIRClient, requests) against a live tenant base.

Notes on fhirpy 2.x (checked against its source):
- `resource.create(**params)` and `searchset.get_or_create()` send the criteria as URL query
  parameters of the POST (an Aidbox convention), not as the R4 `If-None-Exist` header
  (http.html#ccreate); the server refuses such URL parameters with 400 rather than create a
  duplicate, and the standard conditional create is reached here through the header.
- `searchset.count()` adds `_totalMethod=count` (also Aidbox), which this strict server
  rejects with 400 unless the client sends `Prefer: handling=lenient`.
- 404 and 410 both raise `ResourceNotFound`; other 4xx raise `OperationOutcome`.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import OperationOutcome, ResourceNotFound

LENIENT = {"Prefer": "handling=lenient"}


def _system() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def test_create_read_update_delete(base: str, http: httpx.Client) -> None:
    client = SyncFHIRClient(base)
    system = _system()
    org = client.resource(
        "Organization",
        name="Fhirpy Sync Trust",
        active=True,
        identifier=[{"system": system, "value": "A1"}],
    )
    org.save()
    assert org.id
    assert org["meta"]["versionId"] == "1"

    read = client.reference("Organization", org.id).to_resource()
    assert read["name"] == "Fhirpy Sync Trust"
    assert read["identifier"] == [{"system": system, "value": "A1"}]
    by_id = client.resources("Organization").search(_id=org.id).get()
    assert by_id.id == org.id
    assert by_id.serialize() == read.serialize()

    org["name"] = "Fhirpy Sync Trust (renamed)"
    org.save()
    assert org["meta"]["versionId"] == "2"
    again = client.reference("Organization", org.id).to_resource()
    assert again["name"] == "Fhirpy Sync Trust (renamed)"
    assert again["meta"]["versionId"] == "2"

    org.delete()
    with pytest.raises(ResourceNotFound) as caught:
        client.reference("Organization", org.id).to_resource()
    assert "deleted" in str(caught.value)
    assert http.get(f"{base}/Organization/{org.id}").status_code == 410
    with pytest.raises(ResourceNotFound):
        client.resources("Organization").search(_id=org.id).get()


def test_search_by_identifier_and_name(base: str) -> None:
    client = SyncFHIRClient(base)
    system = _system()
    for index, name in enumerate(["Harbour Clinic", "Harbour Hospital", "Hilltop Surgery"]):
        client.resource(
            "Organization", name=name, identifier=[{"system": system, "value": f"V{index}"}]
        ).save()

    found = client.resources("Organization").search(identifier=f"{system}|V2").fetch_all()
    assert [o["name"] for o in found] == ["Hilltop Surgery"]
    assert client.resources("Organization").search(identifier=f"{system}|nope").fetch() == []

    harbour = client.resources("Organization").search(name="harbour").fetch_all()
    assert sorted(o["name"] for o in harbour) == ["Harbour Clinic", "Harbour Hospital"]
    exact = client.resources("Organization").search(name__exact="Harbour Clinic").fetch_all()
    assert [o["name"] for o in exact] == ["Harbour Clinic"]

    # count() reads Bundle.total; fhirpy adds _totalMethod, which needs lenient handling here.
    lenient = SyncFHIRClient(base, extra_headers=LENIENT)
    assert lenient.resources("Organization").search(name="harbour").count() == 2
    assert lenient.resources("Organization").count() == 3
    with pytest.raises(OperationOutcome) as caught:
        client.resources("Organization").search(name="harbour").count()
    assert "_totalMethod" in str(caught.value)


def test_conditional_create_with_if_none_exist(base: str, http: httpx.Client) -> None:
    system = _system()
    criteria = f"identifier={system}|CC1"
    client = SyncFHIRClient(base, extra_headers={"If-None-Exist": criteria})
    first = client.resource(
        "Organization", name="Only Once", identifier=[{"system": system, "value": "CC1"}]
    )
    first.save()
    second = client.resource(
        "Organization", name="Only Once", identifier=[{"system": system, "value": "CC1"}]
    )
    second.save()
    assert first.id
    assert second.id == first.id
    assert second["meta"]["versionId"] == "1"

    plain = SyncFHIRClient(base)
    matches = plain.resources("Organization").search(identifier=f"{system}|CC1").fetch_all()
    assert [m.id for m in matches] == [first.id]
    bundle = http.get(f"{base}/Organization", params={"identifier": f"{system}|CC1"}).json()
    assert bundle["total"] == 1


def test_aidbox_style_conditional_create_is_refused_not_duplicated(
    base: str, http: httpx.Client
) -> None:
    system = _system()
    client = SyncFHIRClient(base)
    for _ in range(2):
        org = client.resource("Organization", identifier=[{"system": system, "value": "AB"}])
        with pytest.raises(OperationOutcome) as caught:
            org.create(identifier=f"{system}|AB")
        assert "If-None-Exist" in str(caught.value)
    bundle = http.get(f"{base}/Organization", params={"identifier": f"{system}|AB"}).json()
    assert bundle["total"] == 0


def test_chained_search_on_practitioner_role(base: str) -> None:
    client = SyncFHIRClient(base)
    system = _system()
    org = client.resource(
        "Organization", name="Chain Org", identifier=[{"system": system, "value": "ORG1"}]
    )
    org.save()
    other = client.resource(
        "Organization", name="Other Org", identifier=[{"system": system, "value": "ORG2"}]
    )
    other.save()
    role = client.resource("PractitionerRole", active=True, organization=org.to_reference())
    role.save()
    client.resource("PractitionerRole", active=True, organization=other.to_reference()).save()

    chained = (
        client.resources("PractitionerRole")
        .search(**{"organization.identifier": f"{system}|ORG1"})
        .fetch_all()
    )
    assert [r.id for r in chained] == [role.id]
    assert chained[0]["organization"].reference == f"Organization/{org.id}"

    typed = (
        client.resources("PractitionerRole")
        .search(organization__Organization__identifier=f"{system}|ORG1")
        .fetch_all()
    )
    assert [r.id for r in typed] == [role.id]
    by_ref = client.resources("PractitionerRole").search(organization=org).fetch_all()
    assert [r.id for r in by_ref] == [role.id]


def test_paging_collects_every_resource(base: str) -> None:
    client = SyncFHIRClient(base)
    system = _system()
    ids = set()
    for index in range(5):
        org = client.resource(
            "Organization",
            name=f"Paged {index}",
            identifier=[{"system": system, "value": str(index)}],
        )
        org.save()
        ids.add(org.id)

    search = client.resources("Organization").search(identifier=f"{system}|").limit(2)
    assert len(search.fetch()) == 2
    everything = search.fetch_all()
    assert len(everything) == 5
    assert {o.id for o in everything} == ids
    assert sorted(o["name"] for o in client.resources("Organization").limit(2)) == [
        f"Paged {index}" for index in range(5)
    ]

"""fhirpy's asyncio client (AsyncFHIRClient, aiohttp) against a live tenant base.

See test_fhirpy_sync.py for the fhirpy conventions that differ from R4 (`_totalMethod` in
count(), conditional create through URL parameters); the same workarounds apply here.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from fhirpy import AsyncFHIRClient
from fhirpy.base.exceptions import MultipleResourcesFound, OperationOutcome, ResourceNotFound

LENIENT = {"Prefer": "handling=lenient"}


def _system() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


async def test_create_read_update_delete(base: str, http: httpx.Client) -> None:
    client = AsyncFHIRClient(base)
    system = _system()
    org = client.resource(
        "Organization",
        name="Fhirpy Async Trust",
        active=True,
        identifier=[{"system": system, "value": "A1"}],
    )
    await org.save()
    assert org.id
    assert org["meta"]["versionId"] == "1"

    read = await client.reference("Organization", org.id).to_resource()
    assert read["name"] == "Fhirpy Async Trust"
    assert read["identifier"] == [{"system": system, "value": "A1"}]
    by_id = await client.resources("Organization").search(_id=org.id).get()
    assert by_id.serialize() == read.serialize()

    org["name"] = "Fhirpy Async Trust (renamed)"
    await org.save()
    assert org["meta"]["versionId"] == "2"
    again = await client.reference("Organization", org.id).to_resource()
    assert again["name"] == "Fhirpy Async Trust (renamed)"
    assert again["meta"]["versionId"] == "2"
    refreshed = await read.refresh()
    assert refreshed["meta"]["versionId"] == "2"

    await org.delete()
    with pytest.raises(ResourceNotFound) as caught:
        await client.reference("Organization", org.id).to_resource()
    assert "deleted" in str(caught.value)
    assert http.get(f"{base}/Organization/{org.id}").status_code == 410
    with pytest.raises(ResourceNotFound):
        await client.resources("Organization").search(_id=org.id).get()


async def test_search_by_identifier_and_name(base: str) -> None:
    client = AsyncFHIRClient(base)
    system = _system()
    for index, name in enumerate(["Harbour Clinic", "Harbour Hospital", "Hilltop Surgery"]):
        await client.resource(
            "Organization", name=name, identifier=[{"system": system, "value": f"V{index}"}]
        ).save()

    found = await client.resources("Organization").search(identifier=f"{system}|V2").fetch_all()
    assert [o["name"] for o in found] == ["Hilltop Surgery"]
    none = await client.resources("Organization").search(identifier=f"{system}|nope").fetch()
    assert none == []

    harbour = await client.resources("Organization").search(name="harbour").fetch_all()
    assert sorted(o["name"] for o in harbour) == ["Harbour Clinic", "Harbour Hospital"]
    with pytest.raises(MultipleResourcesFound):
        await client.resources("Organization").search(name="harbour").get()
    first = await client.resources("Organization").search(name="hilltop").first()
    assert first is not None
    assert first["name"] == "Hilltop Surgery"

    lenient = AsyncFHIRClient(base, extra_headers=LENIENT)
    assert await lenient.resources("Organization").search(name="harbour").count() == 2
    assert await lenient.resources("Organization").count() == 3
    with pytest.raises(OperationOutcome) as caught:
        await client.resources("Organization").search(name="harbour").count()
    assert "_totalMethod" in str(caught.value)


async def test_conditional_create_with_if_none_exist(base: str) -> None:
    system = _system()
    client = AsyncFHIRClient(base, extra_headers={"If-None-Exist": f"identifier={system}|CC1"})
    ids = []
    for _ in range(2):
        org = client.resource(
            "Organization", name="Only Once", identifier=[{"system": system, "value": "CC1"}]
        )
        await org.save()
        ids.append(org.id)
    assert ids[0]
    assert ids[0] == ids[1]

    plain = AsyncFHIRClient(base)
    matches = await plain.resources("Organization").search(identifier=f"{system}|CC1").fetch_all()
    assert [m.id for m in matches] == [ids[0]]


async def test_conditional_update_and_delete(base: str) -> None:
    client = AsyncFHIRClient(base)
    system = _system()
    search = client.resources("Organization").search(identifier=f"{system}|U1")
    body = client.resource(
        "Organization", name="Upserted", identifier=[{"system": system, "value": "U1"}]
    )
    created, was_created = await search.update(body)
    assert was_created is True
    body["name"] = "Upserted again"
    updated, was_created = await search.update(body)
    assert was_created is False
    assert updated.id == created.id
    assert updated["meta"]["versionId"] == "2"
    assert (await search.get())["name"] == "Upserted again"

    await search.delete()
    assert await search.fetch() == []
    with pytest.raises(ResourceNotFound):
        await client.reference("Organization", created.id).to_resource()


async def test_chained_search_on_practitioner_role(base: str) -> None:
    client = AsyncFHIRClient(base)
    system = _system()
    org = client.resource(
        "Organization", name="Chain Org", identifier=[{"system": system, "value": "ORG1"}]
    )
    await org.save()
    other = client.resource(
        "Organization", name="Other Org", identifier=[{"system": system, "value": "ORG2"}]
    )
    await other.save()
    role = client.resource("PractitionerRole", active=True, organization=org.to_reference())
    await role.save()
    await client.resource("PractitionerRole", active=True, organization=other.to_reference()).save()

    chained = (
        await client.resources("PractitionerRole")
        .search(**{"organization.identifier": f"{system}|ORG1"})
        .fetch_all()
    )
    assert [r.id for r in chained] == [role.id]
    typed = (
        await client.resources("PractitionerRole")
        .search(organization__Organization__name="chain")
        .fetch_all()
    )
    assert [r.id for r in typed] == [role.id]


async def test_paging_collects_every_resource(base: str) -> None:
    client = AsyncFHIRClient(base)
    system = _system()
    ids = set()
    for index in range(5):
        org = client.resource(
            "Organization",
            name=f"Paged {index}",
            identifier=[{"system": system, "value": str(index)}],
        )
        await org.save()
        ids.add(org.id)

    search = client.resources("Organization").search(identifier=f"{system}|").limit(2)
    assert len(await search.fetch()) == 2
    everything = await search.fetch_all()
    assert len(everything) == 5
    assert {o.id for o in everything} == ids
    names = sorted([o["name"] async for o in client.resources("Organization").limit(2)])
    assert names == [f"Paged {index}" for index in range(5)]

"""Session.existing: which ids are current and not deleted, without reading bodies — the
loader's reference check — on every backend."""

from __future__ import annotations

from repository_contract import Tenant, put, remove

from fhir_sandbox.storage.base import Repository


def test_existing_ids_are_the_current_undeleted_ones_of_the_type(
    repo: Repository, tenant: Tenant
) -> None:
    with repo.session(tenant("a"), write=True) as session:
        for number in range(1200):  # more than one lookup's 500 ids
            put(session, {"resourceType": "Organization", "id": f"o{number}"})
        put(session, {"resourceType": "Endpoint", "id": "o5"})
        remove(session, "Organization", "o7", version=2)
    with repo.session(tenant("b"), write=True) as session:
        put(session, {"resourceType": "Organization", "id": "elsewhere"})
    asked = [f"o{n}" for n in range(0, 1300, 3)] + ["o7", "elsewhere", "never"]
    with repo.session(tenant("a")) as session:
        found = session.existing("Organization", asked)
        assert found == {f"o{n}" for n in range(0, 1200, 3)} - {"o7"}
        assert session.existing("Endpoint", ["o5", "o6"]) == {"o5"}
        assert session.existing("Location", []) == set()

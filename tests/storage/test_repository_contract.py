"""The storage contract (storage/base.py), one suite for every repository.

Each test runs against the in-memory reference repository and SQLite (and PostgreSQL when
configured, see conftest.py) and asserts exact answers, so the backends are held to the
same results: versions, history, tenants, atomic write sessions, index maintenance and the
meaning of every search parameter type, modifier and prefix.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from fhir_sandbox.search.parse import parse_search, parse_sort
from fhir_sandbox.search.query import Query
from fhir_sandbox.searchparams.extract import extract_index
from fhir_sandbox.searchparams.registry import default_registry
from fhir_sandbox.storage.base import (
    HistoryFilter,
    PageRequest,
    Repository,
    Session,
    StoredVersion,
)

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


@pytest.fixture()
def directory(repo: Repository, tenant: Tenant) -> str:
    """A tenant holding the data set above; each resource one minute after the previous."""
    name = tenant("dir")
    with repo.session(name, write=True) as session:
        for minute, resource in enumerate([*ORGANIZATIONS, *ROLES, *LOCATIONS]):
            put(session, resource, minute=minute)
    return name


# -- versions -----------------------------------------------------------------------------


def test_save_and_read_versions(repo: Repository, tenant: Tenant) -> None:
    t = tenant("a")
    first = org("o", "First")
    body = orjson.dumps(first)
    with repo.session(t, write=True) as session:
        assert session.current("Organization", "o") is None
        assert session.max_seq() == 0
        v1 = put(session, first)
        assert v1.seq > 0
        assert session.current("Organization", "o") == v1  # a session sees its own writes
    with repo.session(t) as session:
        current = session.current("Organization", "o")
        assert current == v1
        assert current is not None
        assert current.body == body
        assert (current.version, current.deleted, current.method) == (1, False, "POST")
        assert current.last_updated == T0
        assert session.version("Organization", "o", 1) == v1
        assert session.version("Organization", "o", 2) is None
        assert session.current("Organization", "other") is None
        assert session.current("Location", "o") is None
        assert session.max_seq() == v1.seq

    with repo.session(t, write=True) as session:
        v2 = put(session, org("o", "Second"), version=2, minute=1)
    assert v2.seq > v1.seq
    with repo.session(t) as session:
        assert session.current("Organization", "o") == v2
        assert session.version("Organization", "o", 1) == v1
        assert session.version("Organization", "o", 2) == v2
        assert orjson.loads(v2.body)["name"] == "Second"
        assert session.max_seq() == v2.seq
        assert [v.id for v in session.fetch("Organization", ["o", "missing"])] == ["o"]
        assert session.fetch("Organization", []) == []


def test_one_statement_reads_agree_with_sessions(repo: Repository, tenant: Tenant) -> None:
    """read_current / read_version (the read hot path) answer what a session answers."""
    t, other = tenant("a"), tenant("b")
    with repo.session(t, write=True) as session:
        v1 = put(session, org("o", "First"))
        v2 = put(session, org("o", "Second"), version=2, minute=1)
        v3 = remove(session, "Organization", "o", 3, minute=2)
    assert repo.read_current(t, "Organization", "o") == v3
    assert repo.read_version(t, "Organization", "o", 1) == v1
    assert repo.read_version(t, "Organization", "o", 2) == v2
    assert repo.read_version(t, "Organization", "o", 4) is None
    assert repo.read_current(t, "Organization", "missing") is None
    assert repo.read_current(t, "Location", "o") is None
    assert repo.read_current(other, "Organization", "o") is None  # tenant-scoped
    assert repo.read_version(other, "Organization", "o", 1) is None


def test_delete_marker(repo: Repository, tenant: Tenant) -> None:
    t = tenant("a")
    with repo.session(t, write=True) as session:
        v1 = put(session, org("o", "Gone Soon"))
        v2 = put(session, org("o", "Gone Later"), version=2, minute=1)
        put(session, org("keep", "Gone Never"), minute=2)
        v3 = remove(session, "Organization", "o", 3, minute=3)
    assert v3.deleted and v3.body == b""
    with repo.session(t) as session:
        current = session.current("Organization", "o")
        assert current == v3
        assert current is not None and current.deleted and current.body == b""
        assert session.version("Organization", "o", 2) == v2
        assert [v.id for v in session.fetch("Organization", ["o", "keep"])] == ["keep"]
        where = HistoryFilter("Organization", "o")
        assert session.history(where, 10) == [v3, v2, v1]
        assert session.history_count(where) == 3
    assert search(repo, t, "Organization", [("name", "gone")]) == ["keep"]
    assert search(repo, t, "Organization", []) == ["keep"]
    assert search(repo, t, "Organization", [("_id", "o")]) == []

    with repo.session(t, write=True) as session:  # re-create after delete
        v4 = put(session, org("o", "Back Again"), version=4, minute=4)
    with repo.session(t) as session:
        assert session.current("Organization", "o") == v4
    assert search(repo, t, "Organization", [("name", "back")]) == ["o"]
    assert search(repo, t, "Organization", [("name", "gone")]) == ["keep"]


def test_deleted_resources_leave_chains_and_has(repo: Repository, directory: str) -> None:
    with repo.session(directory, write=True) as session:
        remove(session, "Organization", "org1", 2, minute=60)
        remove(session, "PractitionerRole", "pr4", 2, minute=61)
    assert found(repo, directory, "PractitionerRole", [("organization.name", "muller")]) == {"pr2"}
    has = "_has:PractitionerRole:organization:active"
    assert found(repo, directory, "Organization", [(has, "true")]) == set()
    # a plain reference to a deleted resource still matches by its index row
    assert found(repo, directory, "PractitionerRole", [("organization", "org1")]) == {"pr1"}


# -- history ------------------------------------------------------------------------------


def test_history_filters(repo: Repository, tenant: Tenant) -> None:
    t = tenant("a")
    with repo.session(t, write=True) as session:
        a1 = put(session, org("a", "A"), minute=0)
        l1 = put(session, location("l"), minute=1)
        a2 = put(session, org("a", "A2"), version=2, minute=2)
        b1 = put(session, org("b", "B"), minute=3)
        a3 = remove(session, "Organization", "a", 3, minute=4)
    everything = [a3, b1, a2, l1, a1]
    assert [v.seq for v in everything] == sorted((v.seq for v in everything), reverse=True)

    def history(limit: int = 100, **where: Any) -> list[StoredVersion]:
        with repo.session(t) as session:
            page = session.history(HistoryFilter(**where), limit)
            assert session.history_count(HistoryFilter(**where)) >= len(page)
            if len(page) < limit:
                assert session.history_count(HistoryFilter(**where)) == len(page)
        return page

    assert history() == everything
    assert history(limit=2) == [a3, b1]
    assert history(resource_type="Organization") == [a3, b1, a2, a1]
    assert history(resource_type="Location") == [l1]
    assert history(resource_type="Organization", resource_id="a") == [a3, a2, a1]
    assert history(resource_type="Organization", resource_id="nope") == []
    assert history(since=T0 + timedelta(minutes=2)) == [a3, b1, a2]
    assert history(since=T0 + timedelta(minutes=2, seconds=1)) == [a3, b1]
    assert history(at_or_before=T0 + timedelta(minutes=2)) == [a2, l1, a1]
    assert history(since=T0 + timedelta(minutes=1), at_or_before=T0 + timedelta(minutes=3)) == [
        b1,
        a2,
        l1,
    ]
    assert history(before_seq=a2.seq) == [l1, a1]
    assert history(before_seq=b1.seq, limit=1) == [a2]
    assert history(resource_type="Organization", before_seq=a3.seq) == [b1, a2, a1]
    with repo.session(t) as session:
        assert session.history_count(HistoryFilter()) == 5
        assert session.history_count(HistoryFilter(before_seq=a2.seq)) == 2
        assert session.max_seq() == a3.seq


# -- tenants and transactions -------------------------------------------------------------


def test_tenant_isolation_and_wipe(repo: Repository, tenant: Tenant) -> None:
    a, b = tenant("a"), tenant("b")
    with repo.session(a, write=True) as session:
        in_a = put(session, org("same", "Alpha Org"))
        only_a = put(session, location("only-a"))
    with repo.session(b, write=True) as session:
        in_b = put(session, org("same", "Beta Org"))
    with repo.session(a) as session:
        assert session.current("Organization", "same") == in_a
        assert session.current("Location", "only-a") is not None
        assert session.history_count(HistoryFilter()) == 2
        assert session.max_seq() == only_a.seq
    with repo.session(b) as session:
        assert session.current("Organization", "same") == in_b
        assert session.current("Location", "only-a") is None
        assert session.version("Organization", "same", 1) == in_b
        assert session.history(HistoryFilter(), 10) == [in_b]
        assert session.max_seq() == in_b.seq
        assert session.fetch("Location", ["only-a"]) == []
    assert search(repo, a, "Organization", [("name", "beta")]) == []
    assert search(repo, b, "Organization", [("name", "beta")]) == ["same"]
    assert search(repo, b, "Organization", [("name", "alpha")]) == []
    assert {a, b} <= set(repo.tenants())

    repo.wipe(a)
    assert a not in repo.tenants()
    assert b in repo.tenants()
    with repo.session(a) as session:
        assert session.current("Organization", "same") is None
        assert session.history_count(HistoryFilter()) == 0
        assert session.max_seq() == 0
    assert search(repo, a, "Organization", []) == []
    assert search(repo, b, "Organization", []) == ["same"]
    with repo.session(b) as session:
        assert session.current("Organization", "same") == in_b

    with repo.session(a, write=True) as session:  # a wiped tenant starts again at version 1
        put(session, org("same", "Alpha Again"))
    assert search(repo, a, "Organization", [("name", "alpha")]) == ["same"]


def test_failed_write_session_leaves_nothing(repo: Repository, tenant: Tenant) -> None:
    t = tenant("a")

    class Boom(Exception):
        pass

    with pytest.raises(Boom), repo.session(t, write=True) as session:
        put(session, org("o", "Never Stored"))
        put(session, org("o", "Never Stored Either"), version=2)
        raise Boom
    with repo.session(t) as session:
        assert session.current("Organization", "o") is None
        assert session.version("Organization", "o", 1) is None
        assert session.history_count(HistoryFilter()) == 0
        assert session.max_seq() == 0
    assert search(repo, t, "Organization", [("name", "never")]) == []

    with repo.session(t, write=True) as session:
        v1 = put(session, org("o", "Committed", identifier=[{"value": "X"}]))
    with pytest.raises(Boom), repo.session(t, write=True) as session:
        put(session, org("o", "Rolled Back"), version=2)
        remove(session, "Organization", "o", 3)
        put(session, org("p", "Rolled Back Too"))
        raise Boom
    with repo.session(t) as session:
        assert session.current("Organization", "o") == v1
        assert session.current("Organization", "p") is None
        assert session.history(HistoryFilter(), 10) == [v1]
        assert session.max_seq() == v1.seq
    assert search(repo, t, "Organization", [("name", "committed")]) == ["o"]
    assert search(repo, t, "Organization", [("identifier", "X")]) == ["o"]
    assert search(repo, t, "Organization", [("name", "rolled")]) == []


def test_index_rows_follow_updates(repo: Repository, tenant: Tenant) -> None:
    t = tenant("a")
    keep = {"identifier": [{"system": ODS, "value": "K1"}]}
    with repo.session(t, write=True) as session:
        put(session, org("o", "Old Name", **keep, address=[{"city": "Leeds"}]))
        put(session, org("o", "New Name", **keep, alias=["Other"]), version=2, minute=1)
    assert search(repo, t, "Organization", [("name", "old")]) == []
    assert search(repo, t, "Organization", [("name", "new")]) == ["o"]
    assert search(repo, t, "Organization", [("name", "other")]) == ["o"]
    assert search(repo, t, "Organization", [("identifier", f"{ODS}|K1")]) == ["o"]
    assert search(repo, t, "Organization", [("address-city", "leeds")]) == []
    assert search(repo, t, "Organization", [("address-city:missing", "true")]) == ["o"]
    with repo.session(t, write=True) as session:
        put(session, org("o", "Old Name", **keep), version=3, minute=2)
    assert search(repo, t, "Organization", [("name", "old")]) == ["o"]
    assert search(repo, t, "Organization", [("name", "new")]) == []
    assert search(repo, t, "Organization", [("name", "other")]) == []
    assert search(repo, t, "Organization", [("identifier", "K1")]) == ["o"]


def test_max_seq_grows_with_every_write(repo: Repository, tenant: Tenant) -> None:
    t = tenant("a")
    seqs = []
    with repo.session(t, write=True) as session:
        for number in range(1, 4):
            seqs.append(put(session, org("o", f"V{number}"), version=number, minute=number).seq)
            assert session.max_seq() == seqs[-1]
    assert seqs == sorted(set(seqs))
    with repo.session(t) as session:
        assert session.max_seq() == seqs[-1]


# -- search semantics ---------------------------------------------------------------------

Case = tuple[list[tuple[str, str]], set[str]]

ORGANIZATION_CASES: dict[str, Case] = {
    # string: prefix, case- and accent-insensitive, :exact, :contains, alias
    "string-prefix": ([("name", "Muller")], {"org1", "org2"}),
    "string-accent": ([("name", "MÜLLER P")], {"org1"}),
    "string-not-infix": ([("name", "praxis")], set()),
    "string-alias": ([("name", "old")], {"org2"}),
    "string-exact": ([("name:exact", "Müller Praxis")], {"org1"}),
    "string-exact-case": ([("name:exact", "müller praxis")], set()),
    "string-exact-accent": ([("name:exact", "Muller Praxis")], set()),
    "string-contains": ([("name:contains", "TON")], {"org2"}),
    "string-contains-accent": ([("name:contains", "üll")], {"org1", "org2"}),
    "string-contains-punct": ([("name:contains", "y's h")], {"org3"}),
    "string-or": ([("name", "smith,st")], {"org3", "org4"}),
    "string-and": ([("name", "mul"), ("address-city", "york")], {"org2"}),
    "string-missing": ([("address-city:missing", "true")], {"org3"}),
    "string-present": ([("address-city:missing", "false")], {"org1", "org2", "org4"}),
    # token
    "token-code": ([("identifier", "A1")], {"org1", "org3"}),
    "token-system-code": ([("identifier", f"{ODS}|A1")], {"org1"}),
    "token-no-system": ([("identifier", "|X9")], {"org4"}),
    "token-no-system-miss": ([("identifier", "|A1")], set()),
    "token-system-only": ([("identifier", f"{ODS}|")], {"org1", "org2"}),
    "token-coding": ([("type", "prov")], {"org1", "org4"}),
    "token-coding-system": ([("type", f"{ORG_TYPE}|prov")], {"org1"}),
    "token-coding-no-system": ([("type", "|prov")], {"org4"}),
    "token-not": ([("type:not", "prov")], {"org2", "org3"}),
    "token-not-or": ([("type:not", "prov,dept")], {"org3"}),
    "token-missing": ([("type:missing", "true")], {"org3"}),
    "token-present": ([("type:missing", "false")], {"org1", "org2", "org4"}),
    "token-text": ([("type:text", "depart")], {"org2"}),
    "token-text-display": ([("type:text", "HEALTHCARE")], {"org1"}),
    "boolean-true": ([("active", "true")], {"org1"}),
    "boolean-false": ([("active", "false")], {"org2"}),
    "boolean-not-true": ([("active:not", "true")], {"org2", "org3", "org4"}),
    "boolean-missing": ([("active:missing", "true")], {"org3", "org4"}),
    "id": ([("_id", "org2,org3,zzz")], {"org2", "org3"}),
    "id-not": ([("_id:not", "org2")], {"org1", "org3", "org4"}),
    # reference and _has
    "reference-type-id": ([("partof", "Organization/org1")], {"org2"}),
    "reference-id": ([("partof", "org1")], {"org2"}),
    "reference-missing": ([("partof:missing", "true")], {"org1", "org3", "org4"}),
    "has": ([("_has:PractitionerRole:organization:active", "true")], {"org1", "org3"}),
    "has-date": ([("_has:PractitionerRole:organization:date", "ge2020")], {"org2", "org3"}),
    "has-and-name": (
        [("_has:PractitionerRole:organization:active", "true"), ("name", "st")],
        {"org3"},
    ),
    # uri on meta.profile
    "uri": ([("_profile", PROFILE)], {"org1"}),
    "uri-no-prefix": ([("_profile", "http://example.org/fhir")], set()),
    "uri-below": ([("_profile:below", "http://example.org/fhir")], {"org1", "org2"}),
    "uri-below-slash": ([("_profile:below", "http://example.org/fhir/")], {"org1", "org2"}),
    "uri-below-segment": ([("_profile:below", "http://example.org/fh")], set()),
    "uri-below-self": ([("_profile:below", PROFILE)], {"org1", "org2"}),
    "uri-below-stored-slash": ([("_profile:below", "http://example.org/base")], {"org4"}),
    "uri-above": ([("_profile:above", f"{PROFILE}/v2/more")], {"org1", "org2"}),
    "uri-above-self": ([("_profile:above", PROFILE)], {"org1"}),
    "uri-above-stored-slash": ([("_profile:above", "http://example.org/base/x/y")], {"org4"}),
    # _lastUpdated (resource-level date): org1..org4 are minutes 0..3 after T0
    "lastupdated-ge": ([("_lastUpdated", "ge2024-01-02T03:06:00Z")], {"org3", "org4"}),
    "lastupdated-lt": ([("_lastUpdated", "lt2024-01-02T03:05:06Z")], {"org1", "org2"}),
    "lastupdated-lt-second": ([("_lastUpdated", "lt2024-01-02T03:05:05Z")], {"org1"}),
    "lastupdated-eq-second": ([("_lastUpdated", "2024-01-02T03:05:05Z")], {"org2"}),
}

ROLE_CASES: dict[str, Case] = {
    "reference-type-id": ([("organization", "Organization/org1")], {"pr1"}),
    "reference-id": ([("organization", "org2")], {"pr2"}),
    "reference-type-modifier": ([("organization:Organization", "org3")], {"pr4"}),
    "reference-or": ([("organization", "org1,Organization/org3")], {"pr1", "pr4"}),
    "reference-wrong-type": ([("practitioner", "PractitionerRole/p1")], set()),
    "reference-identifier": ([("organization:identifier", f"{ODS}|B2")], {"pr3"}),
    "reference-identifier-code": ([("organization:identifier", "B2")], {"pr3"}),
    "reference-missing": ([("organization:missing", "true")], {"pr5"}),
    "chain-string": ([("organization.name", "muller")], {"pr1", "pr2"}),
    "chain-token": ([("organization.active", "true")], {"pr1"}),
    "chain-token-system": ([("organization.identifier", "urn:oid:1.2.3|A1")], {"pr4"}),
    "chain-reference": ([("organization.partof", "Organization/org1")], {"pr2"}),
    "chain-typed": ([("organization:Organization.name", "st")], {"pr4"}),
    "chain-and": ([("organization.name", "muller"), ("active", "false")], {"pr2"}),
    # date on a Period; [low, high] per role:
    #   pr1 2019-01-01..2019-12-31, pr2 2020-06-15.., pr3 ..2018-05,
    #   pr4 2021-03-01T10:00Z..12:00Z, pr5 no period
    "date-eq-year": ([("date", "2019")], {"pr1"}),
    "date-eq-prefix": ([("date", "eq2019")], {"pr1"}),
    "date-eq-inside": ([("date", "eq2019-06")], set()),
    "date-ne": ([("date", "ne2019")], {"pr2", "pr3", "pr4"}),
    "date-ge": ([("date", "ge2020-01-01")], {"pr2", "pr4"}),
    # le = lt or eq (search.html#prefix): pr1 starts on the search day but runs past it,
    # so neither "below the search value" nor "contained in it" holds.
    "date-le": ([("date", "le2019-01-01")], {"pr3"}),
    "date-gt": ([("date", "gt2020")], {"pr2", "pr4"}),
    "date-lt": ([("date", "lt2019")], {"pr3"}),
    "date-sa": ([("date", "sa2019")], {"pr2", "pr4"}),
    "date-eb": ([("date", "eb2019")], {"pr3"}),
    "date-ap-day": ([("date", "ap2021-03-01")], {"pr2", "pr4"}),
    "date-ap-month": ([("date", "ap2019-06")], {"pr1"}),
    "date-le-minute": ([("date", "le2021-03-01T09:59Z")], {"pr1", "pr2", "pr3"}),
    "date-ge-offset": ([("date", "ge2021-03-01T13:00+02:00")], {"pr2", "pr4"}),
    "date-gt-offset": ([("date", "gt2021-03-01T14:00:00+02:00")], {"pr2"}),
    "date-or": ([("date", "2019,2021")], {"pr1", "pr4"}),
    "date-and": ([("date", "ge2019"), ("date", "le2019-12")], {"pr1"}),
    "date-missing": ([("date:missing", "true")], {"pr5"}),
}

LOCATION_CASES: dict[str, Case] = {
    "near-10km": ([("near", "53.8|-1.55|10|km")], {"leeds"}),
    "near-50km": ([("near", "53.8|-1.55|50|km")], {"leeds", "york"}),
    "near-default-50km": ([("near", "51.5|-0.13")], {"london"}),
    "near-metres": ([("near", "53.8|-1.55|1000|m")], {"leeds"}),
    "near-metres-too-small": ([("near", "53.8|-1.55|50|m")], set()),
    "near-miles": ([("near", "53.8|-1.55|200|[mi_i]")], {"leeds", "york", "london"}),
    "near-and-name": ([("near", "53.8|-1.55|50|km"), ("name", "york")], {"york"}),
}


def _cases(cases: dict[str, Case]) -> Any:
    return pytest.mark.parametrize(("params", "expected"), list(cases.values()), ids=list(cases))


@_cases(ORGANIZATION_CASES)
def test_search_organization(
    repo: Repository, directory: str, params: list[tuple[str, str]], expected: set[str]
) -> None:
    assert found(repo, directory, "Organization", params) == expected


@_cases(ROLE_CASES)
def test_search_practitioner_role(
    repo: Repository, directory: str, params: list[tuple[str, str]], expected: set[str]
) -> None:
    assert found(repo, directory, "PractitionerRole", params) == expected


@_cases(LOCATION_CASES)
def test_search_location(
    repo: Repository, directory: str, params: list[tuple[str, str]], expected: set[str]
) -> None:
    assert found(repo, directory, "Location", params) == expected


SORT_CASES: dict[str, tuple[str, str, list[str]]] = {
    # a resource sorts by its smallest value (largest when descending); missing values last
    "string": ("Organization", "name", ["org1", "org2", "org4", "org3"]),
    "string-desc": ("Organization", "-name", ["org3", "org4", "org2", "org1"]),
    "string-then-id-desc": ("Organization", "address-city,-_id", ["org4", "org1", "org2", "org3"]),
    "string-desc-then-name": (
        "Organization",
        "-address-city,name",
        ["org2", "org1", "org4", "org3"],
    ),
    "id-desc": ("Organization", "-_id", ["org4", "org3", "org2", "org1"]),
    "lastupdated-desc": ("Organization", "-_lastUpdated", ["org4", "org3", "org2", "org1"]),
    "uri": ("Organization", "_profile", ["org4", "org1", "org2", "org3"]),
    "date": ("PractitionerRole", "date", ["pr3", "pr1", "pr2", "pr4", "pr5"]),
    "date-desc": ("PractitionerRole", "-date", ["pr2", "pr4", "pr1", "pr3", "pr5"]),
    "token-desc-then-date": (
        "PractitionerRole",
        "-active,date",
        ["pr1", "pr4", "pr5", "pr2", "pr3"],
    ),
    "reference": ("PractitionerRole", "organization,_id", ["pr3", "pr1", "pr2", "pr4", "pr5"]),
}


@pytest.mark.parametrize(
    ("resource_type", "sort", "expected"), list(SORT_CASES.values()), ids=list(SORT_CASES)
)
def test_sort(
    repo: Repository, directory: str, resource_type: str, sort: str, expected: list[str]
) -> None:
    assert search(repo, directory, resource_type, [], sort=sort) == expected


def test_unsorted_results_come_in_id_order(repo: Repository, directory: str) -> None:
    assert search(repo, directory, "Location", []) == ["leeds", "london", "nowhere", "york"]


def test_count_and_paging(repo: Repository, directory: str) -> None:
    by_name = ["org1", "org2", "org4", "org3"]
    pages = [search(repo, directory, "Organization", [], "name", offset, 2) for offset in (0, 2, 4)]
    assert pages == [by_name[:2], by_name[2:], []]
    assert search(repo, directory, "Organization", [], "name", 1, 2) == ["org2", "org4"]
    assert search(repo, directory, "Organization", [], "name", 3, 10) == ["org3"]
    assert search(repo, directory, "Organization", [], "name", 0, 0) == []
    assert search(repo, directory, "Organization", [("name", "mul")], "-name", 1, 1) == ["org1"]
    with repo.session(directory) as session:
        assert session.count(query("Organization", [])) == 4
        assert session.count(query("Organization", [("name", "mul")])) == 2
        assert session.count(query("PractitionerRole", [("active", "true")])) == 3
        assert session.count(query("Endpoint", [])) == 0
        assert session.max_seq() == max(v.seq for v in session.history(HistoryFilter(), 100))
        assert session.history_count(HistoryFilter()) == 13


@pytest.mark.parametrize(
    ("resource_type", "sort", "expected"), list(SORT_CASES.values()), ids=list(SORT_CASES)
)
def test_keyset_pages(
    repo: Repository, directory: str, resource_type: str, sort: str, expected: list[str]
) -> None:
    q = query(resource_type, [], sort)
    with repo.session(directory) as session:
        whole = session.page(q, PageRequest(100))
        assert [m.version.id for m in whole] == expected
        assert all(m.position[-1] == m.version.id for m in whole)
        forward: list[str] = []
        after = None
        while page := session.page(q, PageRequest(2, after=after)):
            assert len(page) <= 2
            forward += [m.version.id for m in page]
            after = page[-1].position
        assert forward == expected
        backward = [expected[-1]]
        before = whole[-1].position
        while page := session.page(q, PageRequest(2, before=before)):
            backward[:0] = [m.version.id for m in page]
            before = page[0].position
        assert backward == expected


def test_keyset_paging_is_stable_under_writes(repo: Repository, directory: str) -> None:
    q = query("Organization", [], "name")
    with repo.session(directory) as session:
        first = session.page(q, PageRequest(2))
    assert [m.version.id for m in first] == ["org1", "org2"]
    with repo.session(directory, write=True) as session:
        put(session, org("aaa", "Aardvark"), minute=100)  # sorts before the cursor
        put(session, org("zzz", "Zebra"), minute=101)  # sorts after it
    with repo.session(directory) as session:
        rest = session.page(q, PageRequest(10, after=first[-1].position))
        earlier = session.page(q, PageRequest(10, before=first[0].position))
    assert [m.version.id for m in rest] == ["org4", "org3", "zzz"]
    assert [m.version.id for m in earlier] == ["aaa"]

"""The storage contract (storage/base.py), part two: the meaning of every search parameter
type, modifier and prefix, sorting and paging, on the data set of repository_contract.py. Every test
runs once per backend (conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest
from repository_contract import ODS, ORG_TYPE, PROFILE, found, org, put, query, search

from fhir_sandbox.storage.base import HistoryFilter, PageRequest, Repository

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
    # phonetic: the Soundex key of the whole name (searchparams/phonetic.py), M461 for org1
    "phonetic": ([("phonetic", "Mueller Praxiss")], {"org1"}),
    "phonetic-or": ([("phonetic", "St Marys Hospitle,Smithe Sons")], {"org3", "org4"}),
    "phonetic-not-a-prefix": ([("phonetic", "Muller")], set()),
    "phonetic-exact": ([("phonetic:exact", "Smith & Sons")], {"org4"}),
    "phonetic-missing": ([("phonetic:missing", "true")], set()),
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

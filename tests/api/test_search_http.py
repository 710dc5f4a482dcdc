"""Search over HTTP: paging, sorting, totals, includes, strictness (search.html)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

ODS = "https://fhir.nhs.uk/Id/ods-organization-code"


def _org(name: str, code: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "name": name,
        "identifier": [{"system": ODS, "value": code}],
        **extra,
    }


def _load(http: httpx.Client, base: str, resources: list[dict[str, Any]]) -> list[str]:
    ids = []
    for resource in resources:
        response = http.post(f"{base}/{resource['resourceType']}", json=resource)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


def _walk(http: httpx.Client, url: str, relation: str = "next") -> list[dict[str, Any]]:
    pages = [http.get(url).json()]
    while nxt := next((lk["url"] for lk in pages[-1]["link"] if lk["relation"] == relation), None):
        pages.append(http.get(nxt).json())
    return pages


def _link(page: dict[str, Any], relation: str) -> str:
    return next(str(lk["url"]) for lk in page["link"] if lk["relation"] == relation)


def _ids(page: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in page.get("entry", []) if e["search"]["mode"] == "match"]


def test_pages_cover_total_in_order_without_repeats(http: httpx.Client, base: str) -> None:
    _load(http, base, [_org(f"Trust {n:02d}", f"Z{n:02d}") for n in range(23)])
    pages = _walk(http, f"{base}/Organization?name=trust&_count=5&_sort=-name")
    seen = [i for p in pages for i in _ids(p)]
    assert len(pages) == 5
    assert len(seen) == len(set(seen)) == pages[0]["total"] == 23
    names = [e["resource"]["name"] for p in pages for e in p["entry"]]
    assert names == sorted(names, reverse=True)


def test_paging_is_stable_when_writes_happen_between_pages(http: httpx.Client, base: str) -> None:
    original = _load(http, base, [_org(f"Stable {n:02d}", f"S{n:02d}") for n in range(12)])
    first = http.get(f"{base}/Organization", params={"_count": 4}).json()
    seen = _ids(first)
    # writes between page fetches: new resources, an update, a delete of a seen one
    _load(http, base, [_org("Stable new", "SNEW")])
    changed = http.get(f"{base}/Organization/{original[5]}").json()
    http.put(f"{base}/Organization/{original[5]}", json={**changed, "name": "Stable renamed"})
    http.delete(f"{base}/Organization/{seen[0]}")
    page = first
    while nxt := next((lk["url"] for lk in page["link"] if lk["relation"] == "next"), None):
        page = http.get(nxt).json()
        seen += _ids(page)
    assert len(seen) == len(set(seen))
    assert set(original) <= set(seen)


def test_next_pages_reuse_the_total_until_the_tenant_changes(
    http: httpx.Client, base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fhir_sandbox.storage.sql.session import SqlSession

    _load(http, base, [_org(f"Counted {n}", f"C{n}") for n in range(6)])
    first = http.get(f"{base}/Organization", params={"_count": 2}).json()
    assert first["total"] == 6
    counts: list[int] = []
    real_count = SqlSession.count

    def spy(self: SqlSession, query: Any) -> int:
        counts.append(1)
        return real_count(self, query)

    monkeypatch.setattr(SqlSession, "count", spy)
    second = http.get(_link(first, "next")).json()
    assert second["total"] == 6 and counts == []  # nothing written: the first count holds
    _load(http, base, [_org("Counted late", "CL")])
    third = http.get(_link(second, "next")).json()
    assert third["total"] == 7 and counts == [1]  # a write: counted again
    http.delete(f"{base}/Organization/{_ids(first)[0]}")
    assert http.get(_link(third, "previous")).json()["total"] == 6 and counts == [1, 1]


def test_previous_links_walk_back(http: httpx.Client, base: str) -> None:
    _load(http, base, [_org(f"Back {n}", f"B{n}") for n in range(7)])
    forward = _walk(http, f"{base}/Organization?_count=3")
    backward = _walk(
        http, next(lk["url"] for lk in forward[-1]["link"] if lk["relation"] == "self"), "previous"
    )
    assert [_ids(p) for p in backward] == [_ids(p) for p in reversed(forward)]
    assert not any(lk["relation"] == "previous" for lk in forward[0]["link"])


def test_bad_cursor_is_400(http: httpx.Client, base: str) -> None:
    response = http.get(f"{base}/Organization", params={"_after": "garbage"})
    assert response.status_code == 400
    assert "cursor" in response.json()["issue"][0]["diagnostics"]


def test_sort_several_keys_and_missing_last(http: httpx.Client, base: str) -> None:
    _load(
        http,
        base,
        [
            _org("Beta", "2", active=True),
            _org("Alpha", "3", active=False),
            _org("Alpha", "1", active=True),
            {"resourceType": "Organization", "identifier": [{"system": ODS, "value": "0"}]},
        ],
    )
    page = http.get(f"{base}/Organization", params={"_sort": "name,-identifier"}).json()
    codes = [e["resource"]["identifier"][0]["value"] for e in page["entry"]]
    assert codes == ["3", "1", "2", "0"]


def test_total_modes_and_summary_count(http: httpx.Client, base: str) -> None:
    _load(http, base, [_org("Count", "C1"), _org("Count", "C2")])
    assert http.get(f"{base}/Organization", params={"_total": "none"}).json().get("total") is None
    counted = http.get(f"{base}/Organization", params={"_summary": "count"}).json()
    assert counted["total"] == 2 and "entry" not in counted  # JSON has no empty arrays
    assert http.get(f"{base}/Organization", params={"_total": "bogus"}).status_code == 400


def test_strict_and_lenient(http: httpx.Client, base: str) -> None:
    strict = http.get(f"{base}/Organization", params={"nmae": "x"})
    assert strict.status_code == 400
    text = strict.json()["issue"][0]["diagnostics"]
    assert "nmae" in text and "name" in text
    bad_modifier = http.get(f"{base}/Organization", params={"name:fuzzy": "x"})
    assert bad_modifier.status_code == 400 and ":exact" in bad_modifier.text
    _load(http, base, [_org("Lenient", "L1")])
    lenient = http.get(
        f"{base}/Organization",
        params={"nmae": "x", "name": "len"},
        headers={"Prefer": "handling=lenient"},
    ).json()
    assert lenient["total"] == 1
    outcome = [e for e in lenient["entry"] if e["search"]["mode"] == "outcome"]
    assert "nmae" in outcome[0]["resource"]["issue"][0]["diagnostics"]
    self_link = next(lk["url"] for lk in lenient["link"] if lk["relation"] == "self")
    assert "nmae" not in self_link and "name=len" in self_link


def test_phonetic_finds_names_that_sound_alike(http: httpx.Client, base: str) -> None:
    def person(given: str, family: str) -> dict[str, Any]:
        return {"resourceType": "Practitioner", "name": [{"given": [given], "family": family}]}

    smith, smyth, _ = _load(
        http, base, [person("Chloe", "Smith"), person("Khloe", "Smyth"), person("Chris", "Jones")]
    )

    def found(**params: str) -> set[str]:
        page = http.get(f"{base}/Practitioner", params=params)
        assert page.status_code == 200, page.text
        return {e["resource"]["id"] for e in page.json().get("entry", [])}

    assert found(phonetic="SMITHE") == {smith, smyth}  # S530, as R4 leaves the algorithm open
    assert found(phonetic="Chlowe") == {smith}  # Soundex keeps the first letter: Khloe is K400
    assert found(**{"phonetic:exact": "Smyth"}) == {smyth}
    statement = http.get(f"{base}/metadata").json()
    (practitioner,) = [r for r in statement["rest"][0]["resource"] if r["type"] == "Practitioner"]
    (declared,) = [p for p in practitioner["searchParam"] if p["name"] == "phonetic"]
    assert "Soundex" in declared["documentation"]
    for value, modifier, words in [
        ("Smith", ":contains", "does not apply"),
        ("42", "", "no letters"),
    ]:
        refused = http.get(f"{base}/Practitioner?phonetic{modifier}={value}")
        assert refused.status_code == 400
        assert words in refused.json()["issue"][0]["diagnostics"]


def _empty_arrays(node: Any, path: str = "") -> list[str]:
    if isinstance(node, list):
        return (
            [path]
            if not node
            else [p for i, v in enumerate(node) for p in _empty_arrays(v, f"{path}[{i}]")]
        )
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _empty_arrays(v, f"{path}.{k}")]
    return []


def test_json_answers_have_no_empty_arrays(http: httpx.Client, base: str) -> None:
    """json.html: an element without values is left out; `"entry": []` is not FHIR JSON."""
    answers = [
        http.get(f"{base}/Organization", params={"name": "nothing-matches-this"}),
        http.get(f"{base}/Organization", params={"_summary": "count"}),
        http.get(f"{base}/_history"),
        http.get(f"{base}/Endpoint/_history"),
        http.post(base, json={"resourceType": "Bundle", "type": "batch"}),
        http.get(f"{base}/metadata"),
    ]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert _empty_arrays(answer.json()) == [], answer.request.url


def test_post_search_equals_get(http: httpx.Client, base: str) -> None:
    _load(http, base, [_org("Posted", "P1"), _org("Other", "P2")])
    got = http.get(f"{base}/Organization", params={"name": "posted"}).json()
    posted = http.post(
        f"{base}/Organization/_search",
        content=b"name=posted",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ).json()
    assert _ids(posted) == _ids(got) and posted["total"] == 1


def test_escaped_comma_is_a_literal(http: httpx.Client, base: str) -> None:
    _load(http, base, [_org("Smith, Jones and Co", "E1"), _org("Smith", "E2")])
    literal = http.get(
        f"{base}/Organization", params={"name:exact": r"Smith\, Jones and Co"}
    ).json()
    assert literal["total"] == 1
    either = http.get(f"{base}/Organization", params={"name:exact": "Smith,Nobody"}).json()
    assert either["total"] == 1


def test_include_revinclude_iterate(http: httpx.Client, base: str) -> None:
    parent = _load(http, base, [_org("Parent Trust", "PT")])[0]
    child = _load(
        http, base, [_org("Child Site", "CS", partOf={"reference": f"Organization/{parent}"})]
    )[0]
    role = {
        "resourceType": "PractitionerRole",
        "organization": {"reference": f"Organization/{child}"},
        "active": True,
    }
    role_id = _load(http, base, [role])[0]
    found = http.get(
        f"{base}/PractitionerRole",
        params={
            "_id": role_id,
            "_include": "PractitionerRole:organization",
            "_include:iterate": "Organization:partof",
        },
    ).json()
    included = {e["resource"]["id"] for e in found["entry"] if e["search"]["mode"] == "include"}
    assert included == {parent, child} and found["total"] == 1
    rev = http.get(
        f"{base}/Organization",
        params={"_id": child, "_revinclude": "PractitionerRole:organization"},
    ).json()
    assert {e["resource"]["id"] for e in rev["entry"] if e["search"]["mode"] == "include"} == {
        role_id
    }


def test_system_search_with_type(http: httpx.Client, base: str) -> None:
    _load(
        http,
        base,
        [_org("Sys", "SY"), {"resourceType": "Practitioner", "name": [{"family": "Sys"}]}],
    )
    found = http.get(base, params={"_type": "Organization,Practitioner", "_count": 1}).json()
    assert found["total"] == 2
    pages = _walk(http, f"{base}?_type=Organization,Practitioner&_count=1")
    assert sorted(e["resource"]["resourceType"] for p in pages for e in p["entry"]) == [
        "Organization",
        "Practitioner",
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # Which endpoint does Chelsea and Westminster expose? The one Imperial references too.
        (
            f"Organization?identifier={ODS}|RQM&_include=Organization:endpoint",
            "ep-imperial-millennium",
        ),
        # Who works at St Mary's?
        ("PractitionerRole?location.identifier=https://fhir.nhs.uk/Id/ods-site-code|RYJ01", None),
        # Which organisations share the Millennium instance?
        ("Organization?endpoint=Endpoint/ep-imperial-millennium", None),
        # Retired systems
        ("Endpoint?status=off", "ep-uclh-lastword"),
        (
            "Endpoint?ehr-product=https://fhir-sandbox.dev/CodeSystem/ehr-product|epic",
            "ep-cuh-epic",
        ),
    ],
)
def test_directory_questions(
    http: httpx.Client, directory: str, query: str, expected: str | None
) -> None:
    result = http.get(f"{directory}/{query}").json()
    assert result["resourceType"] == "Bundle" and result["total"] >= 1
    if expected:
        assert expected in {e["resource"]["id"] for e in result["entry"]}


def test_shared_instance_referenced_by_both_trusts(http: httpx.Client, directory: str) -> None:
    result = http.get(
        f"{directory}/Organization", params={"endpoint": "Endpoint/ep-imperial-millennium"}
    ).json()
    codes = {
        i["value"]
        for e in result["entry"]
        for i in e["resource"].get("identifier", [])
        if i["system"] == ODS
    }
    assert codes == {"RQM", "RYJ"}


def test_bundles_splice_stored_resources_in_every_rendering(http: httpx.Client, base: str) -> None:
    """Searchset and history entries carry the stored bytes (JSON), and the same resources
    re-serialised for `_pretty` and XML."""
    ids = _load(http, base, [_org("Render One", "R1"), _org("Render Two", "R2")])
    url = f"{base}/Organization"
    compact = http.get(url, params={"name": "render"}).json()
    by_id = {e["resource"]["id"]: e["resource"] for e in compact["entry"]}
    assert by_id == {i: http.get(f"{url}/{i}").json() for i in ids}
    pretty = http.get(url, params={"name": "render", "_pretty": "true"})
    assert re.search(r'\n +"resourceType": "Organization",\n', pretty.text)  # indented too
    assert pretty.json()["entry"] == compact["entry"]
    for path in ("", f"/{ids[0]}/_history"):
        xml = http.get(
            f"{url}{path}",
            params={"name": "render", "_format": "xml"} if not path else {"_format": "xml"},
        )
        assert xml.status_code == 200 and '<Bundle xmlns="http://hl7.org/fhir">' in xml.text
        assert '<name value="Render One"/>' in xml.text

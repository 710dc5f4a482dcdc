"""Transaction Bundles over real HTTP (https://hl7.org/fhir/R4/http.html#transaction, #trules).

One test per rule: reference rewriting, conditional forms, processing order, identity
overlaps, limits, and atomicity (checked by reading, searching and history).
"""

from __future__ import annotations

import base64
import threading
from typing import Any

import httpx
import orjson

ODS = "https://fhir.nhs.uk/Id/ods-organization-code"


def org(code: str, name: str = "Transaction Trust", **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "name": name,
        "identifier": [{"system": ODS, "value": code}],
        **extra,
    }


def endpoint(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Endpoint",
        "status": "active",
        "connectionType": {
            "system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type",
            "code": "hl7-fhir-rest",
        },
        "payloadType": [{"text": "any"}],
        "address": "https://example.org/fhir",
        **extra,
    }


def entry(method: str, url: str, resource: Any = None, full_url: str = "", **req: str) -> Any:
    item: dict[str, Any] = {"request": {"method": method, "url": url, **req}}
    if resource is not None:
        item["resource"] = resource
    if full_url:
        item["fullUrl"] = full_url
    return item


def bundle(*entries: Any, kind: str = "transaction") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def binary_patch(ops: list[dict[str, Any]]) -> dict[str, Any]:
    data = base64.b64encode(orjson.dumps(ops)).decode()
    return {"resourceType": "Binary", "contentType": "application/json-patch+json", "data": data}


def post(http: httpx.Client, base: str, body: dict[str, Any]) -> httpx.Response:
    return http.post(base, json=body, headers={"Content-Type": "application/fhir+json"})


def create(http: httpx.Client, base: str, resource: dict[str, Any]) -> dict[str, Any]:
    response = http.post(f"{base}/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def state(http: httpx.Client, base: str) -> dict[str, Any]:
    """What a client can observe: history total, search results, every current version."""
    history = http.get(f"{base}/_history", params={"_count": "1000"}).json()
    found = {}
    for kind in ("Organization", "Endpoint"):
        page = http.get(f"{base}/{kind}", params={"_count": "1000"}).json()
        found[kind] = sorted(
            (e["resource"]["id"], e["resource"]["meta"]["versionId"], e["resource"].get("name"))
            for e in page.get("entry", [])
        )
    return {"history": history["total"], "search": found}


def test_urn_uuid_references_are_rewritten_everywhere_but_only_in_references(
    http: httpx.Client, base: str
) -> None:
    org_urn, ep_urn = "urn:uuid:8a1b2c3d-0000-4000-8000-000000000001", "urn:uuid:ep-2"
    trust = org(
        "TX1",
        endpoint=[{"reference": ep_urn}],
        alias=[org_urn],  # a plain string, not a reference: must stay as sent
        extension=[
            {"url": "https://example.org/partner", "valueReference": {"reference": org_urn}}
        ],
    )
    trust["identifier"].append({"system": "urn:ietf:rfc:3986", "value": org_urn})
    response = post(
        http,
        base,
        bundle(
            entry("POST", "Organization", trust, org_urn),
            entry(
                "POST", "Endpoint", endpoint(managingOrganization={"reference": org_urn}), ep_urn
            ),
        ),
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["type"] == "transaction-response"
    first, second = result["entry"]
    assert first["response"]["status"] == "201 Created"
    assert second["response"]["status"] == "201 Created"
    org_id, ep_id = first["resource"]["id"], second["resource"]["id"]
    assert first["response"]["location"] == f"{base}/Organization/{org_id}/_history/1"
    assert first["response"]["etag"] == 'W/"1"'
    assert first["response"]["lastModified"] == first["resource"]["meta"]["lastUpdated"]
    assert first["fullUrl"] == f"{base}/Organization/{org_id}"
    stored = http.get(f"{base}/Organization/{org_id}").json()
    assert stored["endpoint"] == [{"reference": f"Endpoint/{ep_id}"}]
    assert stored["extension"][0]["valueReference"] == {"reference": f"Organization/{org_id}"}
    assert stored["alias"] == [org_urn]
    assert stored["identifier"][1]["value"] == org_urn
    managed = http.get(f"{base}/Endpoint/{ep_id}").json()["managingOrganization"]
    assert managed == {"reference": f"Organization/{org_id}"}
    # the rewritten references are indexed: chained search finds the endpoint's organisation
    found = http.get(f"{base}/Endpoint", params={"organization": f"Organization/{org_id}"})
    assert found.json()["total"] == 1


def test_restful_full_urls_of_new_resources_are_rewritten(http: httpx.Client, base: str) -> None:
    """bundle.html#references: a relative reference is read against the entry's fullUrl base
    (another server's URL in the client's Bundle, or this server's)."""
    other = "http://example.org/fhir"
    managed = {"reference": "Organization/o1"}
    response = post(
        http,
        base,
        bundle(
            entry("POST", "Organization", org("TXR"), f"{other}/Organization/o1"),
            entry(
                "POST", "Endpoint", endpoint(managingOrganization=managed), f"{other}/Endpoint/e1"
            ),
            entry("POST", "Organization", org("TXS"), f"{base}/Organization/temp-1"),
            entry(
                "POST",
                "Endpoint",
                endpoint(managingOrganization={"reference": "Organization/temp-1"}),
            ),
            entry("POST", "Endpoint", endpoint(managingOrganization=managed)),
        ),
    )
    assert response.status_code == 200, response.text
    entries = [e["resource"] for e in response.json()["entry"]]
    assert entries[0]["id"] != "o1" and entries[2]["id"] != "temp-1"
    assert entries[1]["managingOrganization"]["reference"] == f"Organization/{entries[0]['id']}"
    assert entries[3]["managingOrganization"]["reference"] == f"Organization/{entries[2]['id']}"
    assert entries[4]["managingOrganization"]["reference"] == "Organization/o1"  # no base: as sent


def test_unresolvable_urn_reference_fails_naming_the_entry(http: httpx.Client, base: str) -> None:
    before = state(http, base)
    response = post(
        http,
        base,
        bundle(
            entry("POST", "Organization", org("TXU")),
            entry(
                "POST", "Endpoint", endpoint(managingOrganization={"reference": "urn:uuid:nope"})
            ),
        ),
    )
    assert response.status_code == 400
    issue = response.json()["issue"][0]
    assert "entry 1" in issue["diagnostics"] and "urn:uuid:nope" in issue["diagnostics"]
    assert issue["expression"] == ["Bundle.entry[1].resource.managingOrganization.reference"]
    assert state(http, base) == before


def test_conditional_create_inside_a_transaction(http: httpx.Client, base: str) -> None:
    existing = create(http, base, org("TXC", "Already Here"))
    condition = f"identifier={ODS}|TXC"
    response = post(
        http,
        base,
        bundle(
            entry("POST", "Organization", org("TXC"), "urn:uuid:c1", ifNoneExist=condition),
            entry(
                "POST",
                "Organization",
                org("TXN"),
                "urn:uuid:c2",
                ifNoneExist=f"identifier={ODS}|TXN",
            ),
            entry("POST", "Endpoint", endpoint(managingOrganization={"reference": "urn:uuid:c1"})),
        ),
    )
    assert response.status_code == 200, response.text
    matched, made, ep = response.json()["entry"]
    assert matched["response"]["status"] == "200 OK"
    assert matched["resource"]["id"] == existing["id"]
    assert matched["resource"]["name"] == "Already Here"
    assert made["response"]["status"] == "201 Created"
    assert ep["resource"]["managingOrganization"]["reference"] == f"Organization/{existing['id']}"
    assert (
        http.get(f"{base}/Organization", params={"identifier": f"{ODS}|TXC"}).json()["total"] == 1
    )


def test_conditional_references_resolve_to_exactly_one_match(http: httpx.Client, base: str) -> None:
    target = create(http, base, org("TXREF"))
    create(http, base, org("TXDUP"))
    create(http, base, org("TXDUP"))
    ok = post(
        http,
        base,
        bundle(
            entry(
                "POST",
                "Endpoint",
                endpoint(
                    managingOrganization={"reference": f"Organization?identifier={ODS}|TXREF"}
                ),
            )
        ),
    )
    assert ok.status_code == 200, ok.text
    managed = ok.json()["entry"][0]["resource"]["managingOrganization"]
    assert managed == {"reference": f"Organization/{target['id']}"}
    before = state(http, base)
    none = post(
        http,
        base,
        bundle(
            entry("POST", "Organization", org("TXZ")),
            entry(
                "POST",
                "Endpoint",
                endpoint(managingOrganization={"reference": f"Organization?identifier={ODS}|NONE"}),
            ),
        ),
    )
    assert none.status_code == 400
    assert "entry 1" in none.json()["issue"][0]["diagnostics"]
    many = post(
        http,
        base,
        bundle(
            entry(
                "POST",
                "Endpoint",
                endpoint(
                    managingOrganization={"reference": f"Organization?identifier={ODS}|TXDUP"}
                ),
            )
        ),
    )
    assert many.status_code == 412
    assert many.json()["issue"][0]["code"] == "multiple-matches"
    assert "entry 0" in many.json()["issue"][0]["diagnostics"]
    assert state(http, base) == before


def test_processing_order_is_delete_post_put_get(http: httpx.Client, base: str) -> None:
    old = create(http, base, org("TXOLD", "To Delete"))
    kept = create(http, base, org("TXKEEP", "To Update"))
    response = post(
        http,
        base,
        bundle(
            entry("GET", f"Organization?identifier={ODS}|TXNEW"),
            entry("PUT", f"Organization/{kept['id']}", {**kept, "name": "Updated"}),
            entry("POST", "Organization", org("TXNEW", "Created")),
            entry("DELETE", f"Organization/{old['id']}"),
            entry("GET", f"Organization/{old['id']}/_history"),
        ),
    )
    assert response.status_code == 200, response.text
    found, put, made, deleted, old_history = response.json()["entry"]  # request order kept
    assert put["response"]["status"] == "200 OK"
    assert made["response"]["status"] == "201 Created"
    assert deleted["response"]["status"] == "200 OK"
    assert deleted["response"]["outcome"]["resourceType"] == "OperationOutcome"
    # GETs run last: they see the creates and deletes of the same transaction
    assert found["resource"]["total"] == 1
    assert found["resource"]["entry"][0]["resource"]["id"] == made["resource"]["id"]
    assert old_history["resource"]["total"] == 2
    history = http.get(f"{base}/_history").json()["entry"]
    assert [e["request"]["method"] for e in history[:3]] == ["PUT", "POST", "DELETE"]


def test_last_entry_invalid_leaves_the_database_exactly_as_before(
    http: httpx.Client, base: str
) -> None:
    kept = create(http, base, org("TXRB1", "Original"))
    doomed = create(http, base, org("TXRB2", "Survivor"))
    before = state(http, base)
    bad = post(  # processed DELETE, POST, PUT, then the invalid PUT (the last entry) fails
        http,
        base,
        bundle(
            entry("POST", "Organization", org("TXRB3", "Never Stored"), "urn:uuid:n1"),
            entry("PUT", f"Organization/{kept['id']}", {**kept, "name": "Changed"}),
            entry("DELETE", f"Organization/{doomed['id']}"),
            entry(
                "PUT", "Organization/txrb4", org("TXRB4", id="txrb4", active="yes"), "urn:uuid:bad"
            ),
        ),
    )
    assert bad.status_code == 422, bad.text  # the failing entry's own status
    outcome = bad.json()
    assert outcome["resourceType"] == "OperationOutcome"
    issue = outcome["issue"][0]
    assert "entry 3" in issue["diagnostics"] and "urn:uuid:bad" in issue["diagnostics"]
    assert issue["expression"] == ["Bundle.entry[3].resource.active"]
    assert state(http, base) == before
    assert http.get(f"{base}/Organization/{kept['id']}").json()["name"] == "Original"
    assert http.get(f"{base}/Organization/{doomed['id']}").status_code == 200
    assert http.get(f"{base}/Organization", params={"name": "Never"}).json()["total"] == 0


def test_if_match_conflict_is_412_and_nothing_is_written(http: httpx.Client, base: str) -> None:
    current = create(http, base, org("TXIM"))
    url = f"{base}/Organization/{current['id']}"
    assert http.put(url, json={**current, "name": "v2"}).status_code == 200
    before = state(http, base)
    response = post(
        http,
        base,
        bundle(
            entry("POST", "Organization", org("TXIM2")),
            entry(
                "PUT",
                f"Organization/{current['id']}",
                {**current, "name": "stale"},
                ifMatch='W/"1"',
            ),
        ),
    )
    assert response.status_code == 412
    issue = response.json()["issue"][0]
    assert "entry 1" in issue["diagnostics"] and "current version" in issue["diagnostics"]
    assert issue["expression"] == ["Bundle.entry[1]"]
    assert state(http, base) == before


def test_conditional_update_patch_and_delete_in_one_transaction(
    http: httpx.Client, base: str
) -> None:
    a = create(http, base, org("TXA", "A"))
    b = create(http, base, org("TXB", "B"))
    create(http, base, org("TXD", "D"))
    ops = [{"op": "replace", "path": "/name", "value": "B patched"}]
    response = post(
        http,
        base,
        bundle(
            entry(
                "PUT", f"Organization?identifier={ODS}|TXA", org("TXA", "A updated"), "urn:uuid:a"
            ),
            entry("PATCH", f"Organization/{b['id']}", binary_patch(ops), ifMatch='W/"1"'),
            entry("DELETE", f"Organization?identifier={ODS}|TXD"),
            entry("PUT", f"Organization?identifier={ODS}|TXE", org("TXE", "E created")),
            entry("POST", "Endpoint", endpoint(managingOrganization={"reference": "urn:uuid:a"})),
        ),
    )
    assert response.status_code == 200, response.text
    put, patched, deleted, made, ep = response.json()["entry"]
    assert put["response"]["status"] == "200 OK" and put["resource"]["id"] == a["id"]
    assert patched["resource"]["name"] == "B patched"
    assert patched["response"]["etag"] == 'W/"2"'
    assert deleted["response"]["status"] == "200 OK"
    assert made["response"]["status"] == "201 Created"
    assert ep["resource"]["managingOrganization"]["reference"] == f"Organization/{a['id']}"
    assert (
        http.get(f"{base}/Organization", params={"identifier": f"{ODS}|TXD"}).json()["total"] == 0
    )


def test_conditional_reads_inside_a_transaction(http: httpx.Client, base: str) -> None:
    current = create(http, base, org("TXCR"))
    url = f"Organization/{current['id']}"
    response = post(
        http,
        base,
        bundle(
            entry("GET", url, ifNoneMatch='W/"1"'),
            entry("GET", url, ifModifiedSince="2999-01-01T00:00:00Z"),
            entry("GET", url, ifModifiedSince="2000-01-01T00:00:00Z"),
        ),
    )
    assert response.status_code == 200, response.text
    statuses = [e["response"]["status"] for e in response.json()["entry"]]
    assert statuses == ["304 Not Modified", "304 Not Modified", "200 OK"]


def test_a_resource_may_be_written_once_per_transaction(http: httpx.Client, base: str) -> None:
    current = create(http, base, org("TXDU"))
    before = state(http, base)
    twice = post(
        http,
        base,
        bundle(
            entry("PUT", f"Organization/{current['id']}", {**current, "name": "one"}),
            entry("PUT", f"Organization/{current['id']}", {**current, "name": "two"}),
        ),
    )
    assert twice.status_code == 400
    assert "written by entry 0" in twice.json()["issue"][0]["diagnostics"]
    resolved = post(  # the overlap only shows once the conditional delete is resolved
        http,
        base,
        bundle(
            entry("DELETE", f"Organization?identifier={ODS}|TXDU"),
            entry("PUT", f"Organization/{current['id']}", {**current, "name": "again"}),
        ),
    )
    assert resolved.status_code == 400
    assert "written by entry 0" in resolved.json()["issue"][0]["diagnostics"]
    same_url = post(
        http,
        base,
        bundle(
            entry("POST", "Organization", org("TXF1"), "urn:uuid:same"),
            entry("POST", "Organization", org("TXF2"), "urn:uuid:same"),
        ),
    )
    assert same_url.status_code == 400
    assert "fullUrl urn:uuid:same" in same_url.json()["issue"][0]["diagnostics"]
    assert state(http, base) == before


def test_entry_limit_and_bundle_checks(http: httpx.Client, base: str) -> None:
    too_many = bundle(*[entry("GET", "metadata") for _ in range(1001)])
    response = post(http, base, too_many)
    assert response.status_code == 413
    assert "1000" in response.json()["issue"][0]["diagnostics"]
    wrong_kind = post(http, base, {"resourceType": "Bundle", "type": "collection"})
    assert wrong_kind.status_code == 400
    assert "batch and transaction" in wrong_kind.json()["issue"][0]["diagnostics"]
    not_bundle = post(http, base, org("X"))
    assert not_bundle.status_code == 400
    empty = post(http, base, {"resourceType": "Bundle", "type": "transaction"})
    assert empty.status_code == 200
    assert empty.json()["type"] == "transaction-response"
    bad_patch = post(
        http, base, bundle(entry("PATCH", "Organization/x", {"resourceType": "Parameters"}))
    )
    assert bad_patch.status_code == 400
    assert "Binary" in bad_patch.json()["issue"][0]["diagnostics"]


def test_xml_transaction_in_and_out(http: httpx.Client, base: str) -> None:
    xml = (
        '<Bundle xmlns="http://hl7.org/fhir"><type value="transaction"/>'
        '<entry><fullUrl value="urn:uuid:x1"/><resource><Organization>'
        '<name value="XML Trust"/></Organization></resource>'
        '<request><method value="POST"/><url value="Organization"/></request></entry>'
        '<entry><resource><Endpoint><status value="active"/>'
        '<connectionType><code value="hl7-fhir-rest"/></connectionType>'
        '<managingOrganization><reference value="urn:uuid:x1"/></managingOrganization>'
        '<payloadType><text value="any"/></payloadType>'
        '<address value="https://example.org/fhir"/></Endpoint></resource>'
        '<request><method value="POST"/><url value="Endpoint"/></request></entry></Bundle>'
    )
    response = http.post(
        base,
        content=xml,
        headers={"Content-Type": "application/fhir+xml", "Accept": "application/fhir+xml"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+xml")
    assert "transaction-response" in response.text
    found = http.get(f"{base}/Endpoint").json()["entry"][0]["resource"]
    org_id = http.get(f"{base}/Organization").json()["entry"][0]["resource"]["id"]
    assert found["managingOrganization"]["reference"] == f"Organization/{org_id}"


def test_concurrent_if_match_transactions_lose_no_update(base: str) -> None:
    with httpx.Client(timeout=30) as client:
        a = create(client, base, org("TXCA", "0"))
        b = create(client, base, org("TXCB", "0"))
    wins: list[int] = []

    def worker() -> None:
        with httpx.Client(timeout=30) as client:
            for _ in range(8):
                ra = client.get(f"{base}/Organization/{a['id']}").json()
                rb = client.get(f"{base}/Organization/{b['id']}").json()
                n = int(ra["name"]) + 1
                response = post(
                    client,
                    base,
                    bundle(
                        entry(
                            "PUT",
                            f"Organization/{a['id']}",
                            {**ra, "name": str(n)},
                            ifMatch=f'W/"{ra["meta"]["versionId"]}"',
                        ),
                        entry(
                            "PUT",
                            f"Organization/{b['id']}",
                            {**rb, "name": str(n)},
                            ifMatch=f'W/"{rb["meta"]["versionId"]}"',
                        ),
                    ),
                )
                assert response.status_code in (200, 412), response.text
                if response.status_code == 200:
                    wins.append(n)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with httpx.Client(timeout=30) as client:
        final_a = client.get(f"{base}/Organization/{a['id']}").json()
        final_b = client.get(f"{base}/Organization/{b['id']}").json()
    assert wins and sorted(wins) == list(range(1, len(wins) + 1))  # every win built on the last
    assert final_a["name"] == final_b["name"] == str(len(wins))
    assert final_a["meta"]["versionId"] == final_b["meta"]["versionId"] == str(len(wins) + 1)


def test_readers_never_see_half_a_transaction(base: str) -> None:
    with httpx.Client(timeout=30) as client:
        a = create(client, base, org("TXVA", "0"))
        b = create(client, base, org("TXVB", "0"))
    done = threading.Event()
    torn: list[tuple[str, str]] = []
    reads = [0]

    def reader() -> None:
        with httpx.Client(timeout=30) as client:
            while not done.is_set():
                page = client.get(f"{base}/Organization", params={"_id": f"{a['id']},{b['id']}"})
                names = tuple(e["resource"]["name"] for e in page.json()["entry"])
                reads[0] += 1
                if len(set(names)) != 1:
                    torn.append(names)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        with httpx.Client(timeout=30) as client:
            for n in range(1, 16):
                ra = client.get(f"{base}/Organization/{a['id']}").json()
                rb = client.get(f"{base}/Organization/{b['id']}").json()
                response = post(
                    client,
                    base,
                    bundle(
                        entry("PUT", f"Organization/{a['id']}", {**ra, "name": str(n)}),
                        entry("PUT", f"Organization/{b['id']}", {**rb, "name": str(n)}),
                    ),
                )
                assert response.status_code == 200, response.text
    finally:
        done.set()
        thread.join()
    assert reads[0] > 0
    assert torn == []

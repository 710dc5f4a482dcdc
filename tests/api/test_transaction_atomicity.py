"""Transaction Bundles over real HTTP (https://hl7.org/fhir/R4/http.html#transaction, #trules),
part two: all or nothing (checked by reading, searching and history), conditional updates,
patches, deletes and reads, a resource written once per transaction, limits, XML, and
concurrent transactions.
"""

from __future__ import annotations

import threading

import httpx
from bundle_requests import ODS, binary_patch, bundle, create, endpoint, entry, org, post, state


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

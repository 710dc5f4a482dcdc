"""Transaction Bundles over real HTTP (https://hl7.org/fhir/R4/http.html#transaction, #trules),
part one: reference rewriting (urn:uuid, RESTful fullUrls, conditional references),
conditional creates and the processing order. Atomicity, conditional writes, identity
overlaps, limits and concurrency: test_transaction_atomicity.py.
"""

from __future__ import annotations

import httpx
from bundle_requests import ODS, bundle, create, endpoint, entry, org, post, state


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

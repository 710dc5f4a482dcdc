"""$validate over real HTTP (https://hl7.org/fhir/R4/resource-operation-validate.html).

Always 200 with an OperationOutcome listing every problem (or one information issue), for
JSON and XML, at type and instance level, in each mode; nothing is ever stored.
"""

from __future__ import annotations

from typing import Any

import httpx

GOOD = {"resourceType": "Organization", "name": "Valid Trust", "active": True}
XML = {"Content-Type": "application/fhir+xml"}


def validate(
    http: httpx.Client, url: str, body: Any, headers: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    if isinstance(body, str):
        response = http.post(url, content=body, headers=headers or {})
    else:
        response = http.post(url, json=body, headers=headers or {})
    assert response.status_code == 200, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    issues: list[dict[str, Any]] = outcome["issue"]
    return issues


def errors(issues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [i for i in issues if i["severity"] in ("error", "fatal")]


def parameters(resource: Any = None, mode: str | None = None) -> dict[str, Any]:
    params: list[dict[str, Any]] = []
    if resource is not None:
        params.append({"name": "resource", "resource": resource})
    if mode:
        params.append({"name": "mode", "valueCode": mode})
    return {"resourceType": "Parameters", "parameter": params}


def test_a_valid_resource_gets_one_information_issue(http: httpx.Client, base: str) -> None:
    issues = validate(http, f"{base}/Organization/$validate", GOOD)
    assert len(issues) == 1
    assert issues[0]["severity"] == "information"
    assert "valid" in issues[0]["diagnostics"]
    assert http.get(f"{base}/_history").json()["total"] == 0  # nothing stored
    assert http.get(f"{base}/Organization").json()["total"] == 0


def test_every_problem_is_listed_with_its_expression(http: httpx.Client, base: str) -> None:
    body = {
        "resourceType": "Organization",
        "id": "not valid!",
        "active": "yes",
        "name": 42,
        "telecom": [{"system": "phone", "value": "1", "rank": 0}],
        "unknownElement": True,
    }
    issues = validate(http, f"{base}/Organization/$validate", body)
    found = {i["expression"][0] for i in errors(issues)}
    assert {
        "Organization.id",
        "Organization.active",
        "Organization.name",
        "Organization.telecom[0].rank",
        "Organization.unknownElement",
    } <= found
    assert all(i.get("expression") for i in issues)
    assert http.get(f"{base}/_history").json()["total"] == 0


def test_coerced_primitives_are_reported_even_when_the_model_accepts_them(
    http: httpx.Client, base: str
) -> None:
    issues = validate(http, f"{base}/Organization/$validate", {**GOOD, "active": "true"})
    assert [i["expression"] for i in errors(issues)] == [["Organization.active"]]


def test_parameters_body_with_mode_create(http: httpx.Client, base: str) -> None:
    ok = validate(http, f"{base}/Organization/$validate", parameters(GOOD, "create"))
    assert [i["severity"] for i in ok] == ["information"]
    with_id = validate(
        http, f"{base}/Organization/$validate", parameters({**GOOD, "id": "x"}, "create")
    )
    assert [i["severity"] for i in with_id] == ["warning", "information"]
    bad = validate(
        http, f"{base}/Organization/$validate", parameters({**GOOD, "active": 1}, "create")
    )
    assert errors(bad)[0]["expression"] == ["Organization.active"]


def test_mode_update_needs_the_matching_id(http: httpx.Client, base: str) -> None:
    url = f"{base}/Organization/org-1/$validate"
    missing = validate(http, url, parameters(GOOD, "update"))
    assert errors(missing)[0]["code"] == "required"
    assert errors(missing)[0]["expression"] == ["Organization.id"]
    other = validate(http, url, parameters({**GOOD, "id": "org-2"}, "update"))
    assert "does not match" in errors(other)[0]["diagnostics"]
    same = validate(http, f"{url}?mode=update", {**GOOD, "id": "org-1"})
    assert [i["severity"] for i in same] == ["information"]
    assert http.get(f"{base}/Organization/org-1").status_code == 404  # nothing stored


def test_mode_delete_checks_the_resource_exists(http: httpx.Client, base: str) -> None:
    missing = validate(http, f"{base}/Organization/nope/$validate", parameters(mode="delete"))
    assert errors(missing)[0]["code"] == "not-found"
    created = http.post(f"{base}/Organization", json=GOOD).json()
    url = f"{base}/Organization/{created['id']}/$validate"
    ok = validate(http, url, parameters(mode="delete"))
    assert [i["severity"] for i in ok] == ["information"]
    assert http.get(f"{base}/Organization/{created['id']}").status_code == 200  # not deleted
    type_level = http.post(f"{base}/Organization/$validate", json=parameters(mode="delete"))
    assert type_level.status_code == 400


def test_xml_input(http: httpx.Client, base: str) -> None:
    good = '<Organization xmlns="http://hl7.org/fhir"><name value="XML Trust"/></Organization>'
    assert [i["severity"] for i in validate(http, f"{base}/Organization/$validate", good, XML)] == [
        "information"
    ]
    bad = (
        '<Organization xmlns="http://hl7.org/fhir"><id value="a b"/>'
        '<active value="maybe"/></Organization>'
    )
    issues = errors(validate(http, f"{base}/Organization/$validate", bad, XML))
    assert len(issues) == 2
    assert {i["expression"][0] for i in issues} == {"Organization.id", "Organization.active"}
    malformed = validate(http, f"{base}/Organization/$validate", "<Organization", XML)
    assert errors(malformed)[0]["code"] == "structure"
    assert http.get(f"{base}/_history").json()["total"] == 0


def test_wrong_type_unknown_mode_and_empty_body(http: httpx.Client, base: str) -> None:
    wrong = validate(http, f"{base}/Endpoint/$validate", GOOD)
    assert errors(wrong)[0]["expression"] == ["resourceType"]
    mode = http.post(f"{base}/Organization/$validate", json=parameters(GOOD, "merge"))
    assert mode.status_code == 400
    empty = http.post(f"{base}/Organization/$validate", content=b"")
    assert empty.status_code == 400
    unknown_type = http.post(f"{base}/Patient/$validate", json=GOOD)
    assert unknown_type.status_code == 404


def test_capability_statement_declares_batch_transaction_and_validate(
    http: httpx.Client, base: str
) -> None:
    rest = http.get(f"{base}/metadata").json()["rest"][0]
    codes = {i["code"] for i in rest["interaction"]}
    assert {"transaction", "batch"} <= codes
    validate = {
        "name": "validate",
        "definition": "http://hl7.org/fhir/OperationDefinition/Resource-validate",
    }
    for resource in rest["resource"]:
        assert validate in resource["operation"]  # beside $export (tests/api/test_export_*)

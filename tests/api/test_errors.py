"""Bad input gets a clear OperationOutcome with the right status, and nothing is written."""

from __future__ import annotations

import httpx
import pytest

JSON = {"Content-Type": "application/fhir+json"}


def _assert_outcome(
    response: httpx.Response, status: int, code: str | None = None
) -> dict[str, object]:
    assert response.status_code == status, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    issue = outcome["issue"][0]
    assert issue["severity"] in ("error", "fatal")
    assert issue["diagnostics"]
    if code:
        assert issue["code"] == code
    return outcome


def _nothing_written(http: httpx.Client, base: str) -> None:
    assert http.get(f"{base}/_history").json()["total"] == 0


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"", 400, "empty"),
        (b"[]", 400, "JSON object"),
        (b'{"name": "x"}', 400, "resourceType"),
        (b'{"resourceType": "Patient"}', 400, "Patient"),
        (b'{"resourceType": "Organization", "active": "yes"}', 422, "Organization.active"),
        (b'{"resourceType": "Organization", "bogus": 1}', 422, "bogus"),
        (b'{"resourceType": "Organization", "name": ["a"]}', 422, "name"),
    ],
)
def test_bad_bodies(http: httpx.Client, base: str, body: bytes, status: int, fragment: str) -> None:
    response = http.post(f"{base}/Organization", content=body, headers=JSON)
    outcome = _assert_outcome(response, status)
    assert fragment in str(outcome)
    _nothing_written(http, base)


def test_validation_error_has_expression(http: httpx.Client, base: str) -> None:
    body = {"resourceType": "Organization", "active": "yes"}
    outcome = _assert_outcome(http.post(f"{base}/Organization", json=body), 422)
    assert outcome["issue"][0]["expression"] == ["Organization.active"]


def test_put_id_mismatch_and_missing_id(http: httpx.Client, base: str) -> None:
    body = {"resourceType": "Organization", "id": "a", "name": "x"}
    _assert_outcome(http.put(f"{base}/Organization/b", json=body), 400)
    _assert_outcome(http.put(f"{base}/Organization/b", json={"resourceType": "Organization"}), 400)
    _nothing_written(http, base)


def test_invalid_id(http: httpx.Client, base: str) -> None:
    body = {"resourceType": "Organization", "id": "bad_id!", "name": "x"}
    _assert_outcome(http.put(f"{base}/Organization/bad_id!", json=body), 400, "value")
    _assert_outcome(http.get(f"{base}/Organization/{'x' * 65}"), 400)


def test_unknown_type_is_404(http: httpx.Client, base: str) -> None:
    outcome = _assert_outcome(http.get(f"{base}/Patient/1"), 404, "not-supported")
    assert "Organization" in str(outcome)


def test_body_over_limit_is_413(http: httpx.Client, base: str) -> None:
    big = {"resourceType": "Organization", "name": "x" * 1_100_000}
    _assert_outcome(http.post(f"{base}/Organization", json=big), 413)
    _nothing_written(http, base)


def test_unsupported_content_type_is_415(http: httpx.Client, base: str) -> None:
    response = http.post(
        f"{base}/Organization", content=b"name=x", headers={"Content-Type": "text/plain"}
    )
    _assert_outcome(response, 415)


def test_unsupported_accept_is_406(http: httpx.Client, base: str) -> None:
    _assert_outcome(http.get(f"{base}/metadata", headers={"Accept": "text/html"}), 406)
    _assert_outcome(http.get(f"{base}/metadata", params={"_format": "turtle"}), 406)


def test_method_not_allowed_is_405(http: httpx.Client, base: str) -> None:
    outcome = _assert_outcome(http.post(f"{base}/Organization/123", json={}), 405)
    assert "POST" in str(outcome)


def test_unknown_path_is_404_outcome(http: httpx.Client, live_server: object) -> None:
    response = http.get(f"{live_server.url}/nowhere")  # type: ignore[attr-defined]
    _assert_outcome(response, 404)


def test_malformed_xml(http: httpx.Client, base: str) -> None:
    response = http.post(
        f"{base}/Organization",
        content=b"<Organization",
        headers={"Content-Type": "application/fhir+xml"},
    )
    _assert_outcome(response, 400)
    _nothing_written(http, base)


def test_failed_update_leaves_stored_data_intact(http: httpx.Client, base: str) -> None:
    created = http.post(
        f"{base}/Organization", json={"resourceType": "Organization", "name": "Keep"}
    ).json()
    url = f"{base}/Organization/{created['id']}"
    bad = {**created, "active": "no"}
    _assert_outcome(http.put(url, json=bad), 422)
    assert http.get(url).json() == created
    assert http.get(f"{url}/_history").json()["total"] == 1

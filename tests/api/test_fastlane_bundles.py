"""POST [base] through the fast lane answers exactly as the application does: the same
status, headers and Bundle (but for new ids and times), for transactions, batches and every
kind of refusal. `GET [base]` (system search) stays the application's."""

from __future__ import annotations

import json

import httpx
import pytest
from test_fastlane import JSON, _post_both, _same_write

CREATE = {"resourceType": "Organization", "name": "Bundled"}
ROLE = {"resourceType": "PractitionerRole", "organization": {"reference": "urn:uuid:org"}}


def _bundle(kind: str, *entries: dict[str, object]) -> bytes:
    return json.dumps({"resourceType": "Bundle", "type": kind, "entry": list(entries)}).encode()


def _post(resource: dict[str, object], full_url: str | None = None) -> dict[str, object]:
    entry: dict[str, object] = {
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"]},
    }
    return {"fullUrl": full_url, **entry} if full_url else entry


TRANSACTION = _bundle("transaction", _post(CREATE, "urn:uuid:org"), _post(ROLE))
BATCH = _bundle(
    "batch",
    _post(CREATE),
    {"request": {"method": "GET", "url": "Organization/missing"}},  # 404 in its entry
    {"request": {"method": "GET", "url": "Organization?name=NoSuchName&_summary=count"}},
)


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (TRANSACTION, JSON),
        (TRANSACTION, {**JSON, "Prefer": "return=minimal"}),
        (TRANSACTION, {**JSON, "Accept": "application/fhir+xml"}),
        (TRANSACTION, {**JSON, "Accept": "application/fhir+json", "_": "pretty"}),
        (BATCH, JSON),
        (_bundle("transaction", _post(CREATE), _post({**ROLE, "active": "yes"})), JSON),  # 400
        (_bundle("transaction", _post(ROLE)), JSON),  # an unresolvable urn:uuid reference
        (_bundle("collection", _post(CREATE)), JSON),  # not a batch or transaction
        (b'{"resourceType": "Organization"}', JSON),  # not a Bundle
        (b'{"resourceType": "Bundle", ', JSON),  # not JSON
        (TRANSACTION, {"Content-Type": "text/plain"}),  # 415
        (TRANSACTION, {**JSON, "Accept": "text/csv"}),  # 406
    ],
)
def test_bundle_answers_match_the_application(
    http: httpx.Client, base: str, content: bytes, headers: dict[str, str]
) -> None:
    headers = {k: v for k, v in headers.items() if k != "_"}
    fast, framework = _post_both(http, base, content, **headers)
    _same_write(fast, framework)


def test_system_search_stays_with_the_application(http: httpx.Client, base: str) -> None:
    answer = http.get(base, params={"_type": "Organization", "_summary": "count"})
    assert answer.status_code == 200 and answer.json()["type"] == "searchset"

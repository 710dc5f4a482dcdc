"""The transaction interaction without HTTP, on the in-memory reference repository: the bound
unit of work (storage/bound.py) commits everything or nothing on any backend."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from fhir_sandbox.errors import EntryFailed
from fhir_sandbox.interactions.batch import batch_or_transaction
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.interactions.history import history
from fhir_sandbox.interactions.request import FhirRequest
from fhir_sandbox.storage.memory import MemoryRepository

BASE = "http://sandbox.test/fhir"


def _request(method: str, body: Any = None, **kwargs: Any) -> FhirRequest:
    return FhirRequest(method=method, tenant="t", base_url=BASE, body=body, **kwargs)


def _tx(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}


def _versions(ctx: Context) -> int:
    result = history(ctx, _request("GET"))
    assert isinstance(result.body, dict)
    total: int = result.body["total"]
    return total


def test_memory_transaction_commits_all_or_nothing() -> None:
    ctx = Context(repository=MemoryRepository())
    good = {"resourceType": "Organization", "name": "Memory Trust"}
    ok = batch_or_transaction(
        ctx,
        _request(
            "POST",
            _tx(
                {
                    "fullUrl": "urn:uuid:m",
                    "resource": good,
                    "request": {"method": "POST", "url": "Organization"},
                },
                {
                    "resource": {**good, "partOf": {"reference": "urn:uuid:m"}},
                    "request": {"method": "POST", "url": "Organization"},
                },
            ),
        ),
    )
    assert ok.status == 200 and isinstance(ok.body, dict)
    answer = orjson.loads(orjson.dumps(ok.body))  # entries splice stored JSON (Fragments)
    first = answer["entry"][0]["resource"]["id"]
    assert answer["entry"][1]["resource"]["partOf"] == {"reference": f"Organization/{first}"}
    assert _versions(ctx) == 2
    with pytest.raises(EntryFailed) as failure:
        batch_or_transaction(
            ctx,
            _request(
                "POST",
                _tx(
                    {"resource": good, "request": {"method": "POST", "url": "Organization"}},
                    {"request": {"method": "GET", "url": "Organization/missing"}},
                ),
            ),
        )
    assert failure.value.status == 404
    assert failure.value.issues[0].expression == ("Bundle.entry[1]",)
    assert _versions(ctx) == 2

"""The `batch-response` / `transaction-response` Bundle (https://hl7.org/fhir/R4/http.html#transaction-response).

One response entry per request entry, in the request's order, each with `response.status`
and, where the interaction gave them, `location`, `etag`, `lastModified`, the resource,
and an `outcome` (an OperationOutcome: the error of a failed batch entry, or the message of
a delete).
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any

import orjson

from fhir_sandbox.errors import FhirError, Issue
from fhir_sandbox.fhir import outcomes
from fhir_sandbox.interactions.bundles import bundle, stored
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.interactions.request import FhirRequest, Result
from fhir_sandbox.interactions.versions import instant
from fhir_sandbox.storage.base import StoredVersion


def status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def response_entry(request: FhirRequest, result: Result) -> dict[str, Any]:
    if result.written is not None and isinstance(result.body, bytes):
        return _written_entry(request, result, result.written, result.body)
    body: Any = orjson.loads(result.body) if isinstance(result.body, bytes) else result.body
    entry: dict[str, Any] = {}
    response = _response(result)
    headers = result.headers
    resource = None
    if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
        response["outcome"] = body
    elif isinstance(body, dict):
        resource = body
        if body.get("id") and body.get("resourceType") != "Bundle":
            entry["fullUrl"] = f"{request.base_url}/{body['resourceType']}/{body['id']}"
        entry["resource"] = body
    if "Last-Modified" in headers:
        response["lastModified"] = _last_modified(resource, headers["Last-Modified"])
    entry["response"] = response
    return entry


def _written_entry(
    request: FhirRequest, result: Result, version: StoredVersion, body: bytes
) -> dict[str, Any]:
    """The entry of a write answered with the stored JSON: spliced in as it is (like a
    searchset's entries), its fullUrl and lastModified from the version itself."""
    response = _response(result)
    response["lastModified"] = instant(version.last_updated)
    return {
        "fullUrl": f"{request.base_url}/{version.resource_type}/{version.id}",
        "resource": stored(body),
        "response": response,
    }


def _response(result: Result) -> dict[str, Any]:
    """An entry's `response` as far as the status and headers give it."""
    response: dict[str, Any] = {"status": status_line(result.status)}
    for header, key in (("Location", "location"), ("ETag", "etag")):
        if header in result.headers:
            response[key] = result.headers[header]
    return response


def _last_modified(resource: dict[str, Any] | None, header: str) -> str:
    """meta.lastUpdated when the resource is at hand (millisecond precision), else the header."""
    stamp = ((resource or {}).get("meta") or {}).get("lastUpdated")
    if isinstance(stamp, str):
        return stamp
    return instant(parsedate_to_datetime(header))


def error_entry(error: FhirError) -> dict[str, Any]:
    return error_response(error.status, error.issues)


def error_response(status: int, issues: list[Issue]) -> dict[str, Any]:
    return {
        "response": {
            "status": status_line(status),
            "outcome": outcomes.operation_outcome(issues),
        }
    }


def response_bundle(ctx: Context, kind: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    return bundle(kind, None, entries, [], ctx.clock())

"""read and vread (https://hl7.org/fhir/R4/http.html#read, #vread).

Serves the stored bytes unless `_summary`/`_elements` ask for a subset; answers 304 to
`If-None-Match` / `If-Modified-Since` when the client's copy is current.
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime

import orjson

from fhir_sandbox.errors import Gone, NotFound
from fhir_sandbox.fhir.elements import apply_elements, apply_summary, check_elements, check_summary
from fhir_sandbox.fhir.validation import check_id, check_type
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.interactions.request import FhirRequest, Result
from fhir_sandbox.interactions.versions import etag, http_date, parse_etag, require_current
from fhir_sandbox.storage.base import StoredVersion


def read(ctx: Context, request: FhirRequest) -> Result:
    resource_type, resource_id = check_type(request.resource_type or ""), check_id(request.id or "")
    current = ctx.repository.read_current(request.tenant, resource_type, resource_id)
    stored = require_current(current, resource_type, resource_id)
    if _not_modified(request, stored):
        return Result(304, None, _headers(request, stored))
    return Result(200, _shaped(request, stored), _headers(request, stored))


def vread(ctx: Context, request: FhirRequest) -> Result:
    resource_type, resource_id = check_type(request.resource_type or ""), check_id(request.id or "")
    try:
        number = int(request.version or "")
    except ValueError:
        raise NotFound(
            f"Version {request.version!r} of {resource_type}/{resource_id} does not exist"
        ) from None
    stored = ctx.repository.read_version(request.tenant, resource_type, resource_id, number)
    if stored is None:
        known = ctx.repository.read_current(request.tenant, resource_type, resource_id)
        what = (
            f"{resource_type}/{resource_id} has no version {number}"
            if known
            else f"{resource_type}/{resource_id} is not known"
        )
        raise NotFound(what)
    if stored.deleted:
        raise Gone(
            f"Version {number} of {resource_type}/{resource_id} is a deletion",
            headers={"ETag": etag(number)},
        )
    return Result(200, _shaped(request, stored), _headers(request, stored))


def _headers(request: FhirRequest, stored: StoredVersion) -> dict[str, str]:
    return {
        "ETag": etag(stored.version),
        "Last-Modified": http_date(stored.last_updated),
        "Content-Location": (
            f"{request.base_url}/{stored.resource_type}/{stored.id}/_history/{stored.version}"
        ),
    }


def _shaped(request: FhirRequest, stored: StoredVersion) -> bytes | dict[str, object]:
    summary = check_summary(request.param("_summary"))
    elements = check_elements(stored.resource_type, request.param("_elements"))
    if summary in (None, "false") and not elements:
        return stored.body
    resource = orjson.loads(stored.body)
    return apply_elements(apply_summary(resource, summary), elements)


def _not_modified(request: FhirRequest, stored: StoredVersion) -> bool:
    none_match = request.header("if-none-match")
    if none_match is not None:
        try:
            return parse_etag(none_match) == stored.version
        except Exception:
            return False
    since = request.header("if-modified-since")
    if since is not None:
        try:
            moment = parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        return stored.last_updated.replace(microsecond=0) <= moment
    return False

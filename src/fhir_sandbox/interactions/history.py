"""history at instance, type and system level (https://hl7.org/fhir/R4/http.html#history).

Newest first. Paging is pinned with `_before` (a sequence number taken when the first page
was served), so writes between page fetches neither repeat nor skip entries.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fhir_sandbox.errors import Invalid, NotFound
from fhir_sandbox.fhir.validation import check_id, check_type
from fhir_sandbox.interactions.bundles import bundle, link, page_url, stored
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.interactions.paging import page_size
from fhir_sandbox.interactions.request import FhirRequest, Result
from fhir_sandbox.interactions.versions import etag, instant
from fhir_sandbox.searchparams.normalize import date_range, parse_instant_text
from fhir_sandbox.storage.base import HistoryFilter, StoredVersion

_ALLOWED = {"_count", "_since", "_at", "_before", "_format", "_pretty", "_page"}


def history(ctx: Context, request: FhirRequest) -> Result:
    unknown = sorted({k for k, _ in request.params} - _ALLOWED)
    if unknown:
        raise Invalid(
            f"History does not support {', '.join(unknown)}; supported: _count, _since, _at"
        )
    resource_type = check_type(request.resource_type) if request.resource_type else None
    resource_id = check_id(request.id) if request.id else None
    count = page_size(ctx, request)
    with ctx.repository.session(request.tenant) as session:
        before = _int(request.param("_before"), "_before") or session.max_seq() + 1
        where = HistoryFilter(
            resource_type, resource_id, _moment(request, "_since"), _moment(request, "_at"), before
        )
        total = session.history_count(where)
        page_number = _int(request.param("_page"), "_page") or 1
        versions = session.history(where, count * page_number)[count * (page_number - 1) :]
        if (
            resource_type
            and resource_id
            and total == 0
            and session.current(resource_type, resource_id) is None
        ):
            raise NotFound(f"{resource_type}/{resource_id} is not known")
    base = "/".join(p for p in (request.base_url, resource_type, resource_id, "_history") if p)
    keep = [(k, v) for k, v in request.params if k not in ("_before", "_page")] + [
        ("_before", str(before))
    ]
    links = [link("self", page_url(base, request.params)), link("first", page_url(base, keep))]
    if page_number * count < total:
        links.append(link("next", page_url(base, [*keep, ("_page", str(page_number + 1))])))
    if page_number > 1:
        links.append(link("previous", page_url(base, [*keep, ("_page", str(page_number - 1))])))
    entries = [_entry(request.base_url, v) for v in versions]
    return Result(200, bundle("history", total, entries, links, ctx.clock()))


def _entry(base_url: str, version: StoredVersion) -> dict[str, Any]:
    url = f"{version.resource_type}/{version.id}"
    entry: dict[str, Any] = {"fullUrl": f"{base_url}/{url}"}
    if not version.deleted:
        entry["resource"] = stored(version.body)
    status = {"POST": "201 Created", "DELETE": "204 No Content"}.get(version.method, "200 OK")
    if version.method == "PUT" and version.version == 1:
        status = "201 Created"
    entry["request"] = {
        "method": version.method,
        "url": url if version.method != "POST" else version.resource_type,
    }
    entry["response"] = {
        "status": status,
        "etag": etag(version.version),
        "lastModified": instant(version.last_updated),
    }
    return entry


def _moment(request: FhirRequest, name: str) -> datetime | None:
    raw = request.param(name)
    if raw is None:
        return None
    low, high = date_range(raw)
    return parse_instant_text(low if name == "_since" else high)


def _int(raw: str | None, name: str) -> int | None:
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise Invalid(f"{name} must be a positive whole number, not {raw!r}", code="value")
    return int(raw)

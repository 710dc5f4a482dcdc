"""search at type and system level (https://hl7.org/fhir/R4/http.html#search, search.html).

Strict by default; `Prefer: handling=lenient` sets unknown parameters aside and reports
them in an OperationOutcome entry (search.mode = outcome) and leaves them out of `self`.
`Bundle.total` is accurate unless `_total=none`. Pages are keyset pages (cursors.py).
"""

from __future__ import annotations

from typing import Any

from fhir_sandbox.errors import Invalid, Issue
from fhir_sandbox.fhir import outcomes
from fhir_sandbox.fhir.elements import apply_elements, apply_summary, check_elements, check_summary
from fhir_sandbox.fhir.models import RESOURCE_TYPES
from fhir_sandbox.fhir.validation import check_type
from fhir_sandbox.interactions.bundles import bundle, link, page_url, resource_of, stored
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.interactions.cursors import Counted, Cursor, Page, decode, fetch_page
from fhir_sandbox.interactions.includes import includes
from fhir_sandbox.interactions.paging import page_size
from fhir_sandbox.interactions.request import FhirRequest, Result
from fhir_sandbox.search.parse import ParsedSearch, parse_search, parse_sort
from fhir_sandbox.search.query import Query
from fhir_sandbox.storage.base import Session, StoredVersion

_TOTALS = ("none", "estimate", "accurate")
_KEPT = ("_sort", "_total", "_summary", "_elements", "_include", "_revinclude", "_type", "_format")


def search(ctx: Context, request: FhirRequest) -> Result:
    lenient = request.prefer("handling") == "lenient"
    types = _types(request)
    summary = check_summary(request.param("_summary"))
    elements = check_elements(types[0] if len(types) == 1 else None, request.param("_elements"))
    total_mode = request.param("_total") or "accurate"
    if total_mode not in _TOTALS:
        raise Invalid(f"_total={total_mode!r} is not valid; use none, estimate or accurate")
    count = page_size(ctx, request)
    parsed = [parse_search(t, request.params, ctx.registry, lenient=lenient) for t in types]
    queries = [_sorted(ctx, p.query, request.param("_sort")) for p in parsed]
    cursor = _cursor(request, queries)
    with ctx.repository.session(request.tenant) as session:
        page = Page([], False, False)
        if summary != "count":
            page = fetch_page(session, queries, count, cursor)
        total, counted = None, None
        if total_mode != "none":
            if cursor is None and summary != "count" and not page.more_after:
                total = len(page.entries)  # a first page that is not full holds every match
            else:
                counted = _count(session, queries, cursor)
                total = counted.total
        matches = [m.version for _, m in page.entries]
        extra = includes(ctx, session, request, matches) if matches else []
    entries = [_entry(request, v, "match", summary, elements) for v in matches]
    entries += [_entry(request, v, "include", summary, elements) for v in extra]
    if parsed[0].ignored:
        issues = [Issue("not-supported", m, severity="warning") for m in parsed[0].ignored]
        outcome = outcomes.operation_outcome(issues)
        entries.append({"resource": outcome, "search": {"mode": "outcome"}})
    links = _links(request, parsed[0], count, page, counted)
    return Result(200, bundle("searchset", total, entries, links, ctx.clock()))


def _count(session: Session, queries: list[Query], cursor: Cursor | None) -> Counted:
    """The number of matches, reused from the cursor while the tenant has not changed."""
    seq = session.max_seq()
    if cursor is not None and cursor.counted is not None and cursor.counted.seq == seq:
        return cursor.counted
    return Counted(sum(session.count(q) for q in queries), seq)


def _types(request: FhirRequest) -> list[str]:
    if request.resource_type:
        return [check_type(request.resource_type)]
    raw = request.param("_type")
    if not raw:
        return list(RESOURCE_TYPES)
    return [check_type(t.strip()) for t in raw.split(",") if t.strip()]


def _sorted(ctx: Context, query: Query, sort: str | None) -> Query:
    keys = parse_sort(query.resource_type, sort, ctx.registry)
    return Query(query.resource_type, query.clauses, keys)


def _cursor(request: FhirRequest, queries: list[Query]) -> Cursor | None:
    after, before = request.param("_after"), request.param("_before")
    if after and before:
        raise Invalid("Give _after or _before, not both", code="value")
    if after or before:
        return decode(after or before or "", backward=before is not None, queries=queries)
    return None


def _entry(
    request: FhirRequest,
    version: StoredVersion,
    mode: str,
    summary: str | None,
    elements: list[str] | None,
) -> dict[str, Any]:
    resource: Any
    if summary in (None, "false") and not elements:
        resource = stored(version.body)  # whole: the stored bytes as they are
    else:
        resource = apply_elements(apply_summary(resource_of(version.body), summary), elements)
    return {
        "fullUrl": f"{request.base_url}/{version.resource_type}/{version.id}",
        "resource": resource,
        "search": {"mode": mode},
    }


def _links(
    request: FhirRequest, parsed: ParsedSearch, count: int, page: Page, counted: Counted | None
) -> list[dict[str, str]]:
    base = request.base_url
    if request.resource_type:
        base = f"{base}/{request.resource_type}"
    kept = [
        (k, v)
        for k, v in request.params
        if k in _KEPT or k.startswith(("_include:", "_revinclude:"))
    ]
    params = [*parsed.used, *kept, ("_count", str(count))]
    current = [(k, v) for k, v in request.params if k in ("_after", "_before")]
    links = [link("self", page_url(base, params + current)), link("first", page_url(base, params))]
    if page.entries and page.more_after:
        index, last = page.entries[-1]
        after = Cursor(index, last.position, counted=counted).encode()
        links.append(link("next", page_url(base, [*params, ("_after", after)])))
    if page.entries and page.more_before:
        index, first = page.entries[0]
        before = Cursor(index, first.position, counted=counted).encode()
        links.append(link("previous", page_url(base, [*params, ("_before", before)])))
    return links

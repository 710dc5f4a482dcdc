"""search at type and system level (https://hl7.org/fhir/R4/http.html#search, search.html).

Strict by default; `Prefer: handling=lenient` sets unknown parameters aside and reports
them in an OperationOutcome entry (search.mode = outcome). `Bundle.total` is accurate unless
`_total=none`. Paging links carry only what was used, so `self` never lies.
"""

from __future__ import annotations

from typing import Any

from fhir_sandbox.errors import Invalid, Issue
from fhir_sandbox.fhir import outcomes
from fhir_sandbox.fhir.elements import apply_elements, apply_summary, check_elements, check_summary
from fhir_sandbox.fhir.models import RESOURCE_TYPES
from fhir_sandbox.fhir.validation import check_type
from fhir_sandbox.interactions.bundles import bundle, link, page_url, resource_of
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.interactions.includes import includes
from fhir_sandbox.interactions.paging import page_size
from fhir_sandbox.interactions.request import FhirRequest, Result
from fhir_sandbox.search.parse import ParsedSearch, parse_search, parse_sort
from fhir_sandbox.search.query import Query

_TOTALS = ("none", "estimate", "accurate")


def search(ctx: Context, request: FhirRequest) -> Result:
    lenient = request.prefer("handling") == "lenient"
    types = _types(request)
    summary = check_summary(request.param("_summary"))
    elements = check_elements(types[0] if len(types) == 1 else None, request.param("_elements"))
    total_mode = request.param("_total") or "accurate"
    if total_mode not in _TOTALS:
        raise Invalid(
            f"_total={total_mode!r} is not valid; use none, estimate or accurate", code="value"
        )
    count = page_size(ctx, request)
    offset = _offset(request)
    parsed = [parse_search(t, request.params, ctx.registry, lenient=lenient) for t in types]
    sort = request.param("_sort")
    queries = [
        Query(
            p.query.resource_type,
            p.query.clauses,
            parse_sort(p.query.resource_type, sort, ctx.registry),
        )
        for p in parsed
    ]
    with ctx.repository.session(request.tenant) as session:
        totals = [session.count(q) for q in queries]
        total = sum(totals)
        matches = [] if summary == "count" else _page(session, queries, totals, offset, count)
        extra = includes(ctx, session, request, matches) if matches else []
    entries = [
        _entry(request.base_url, resource_of(v.body), "match", summary, elements) for v in matches
    ]
    entries += [
        _entry(request.base_url, resource_of(v.body), "include", summary, elements) for v in extra
    ]
    ignored = parsed[0].ignored
    if ignored:
        outcome = outcomes.operation_outcome(
            [Issue("not-supported", m, severity="warning") for m in ignored]
        )
        entries.append({"resource": outcome, "search": {"mode": "outcome"}})
    links = _links(request, parsed[0], total, offset, count)
    shown_total = None if total_mode == "none" else total
    return Result(200, bundle("searchset", shown_total, entries, links, ctx.clock()))


def _types(request: FhirRequest) -> list[str]:
    if request.resource_type:
        return [check_type(request.resource_type)]
    raw = request.param("_type")
    if not raw:
        return list(RESOURCE_TYPES)
    return [check_type(t.strip()) for t in raw.split(",") if t.strip()]


def _offset(request: FhirRequest) -> int:
    raw = request.param("_offset") or "0"
    if not raw.isdigit():
        raise Invalid(f"_offset must be a whole number, not {raw!r}", code="value")
    return int(raw)


def _page(
    session: Any, queries: list[Query], totals: list[int], offset: int, count: int
) -> list[Any]:
    found: list[Any] = []
    for query, total in zip(queries, totals, strict=True):
        if offset >= total:
            offset -= total
            continue
        found += session.search(query, offset, count - len(found))
        offset = 0
        if len(found) >= count:
            break
    return found


def _entry(
    base_url: str,
    resource: dict[str, Any],
    mode: str,
    summary: str | None,
    elements: list[str] | None,
) -> dict[str, Any]:
    shaped = apply_elements(apply_summary(resource, summary), elements)
    return {
        "fullUrl": f"{base_url}/{resource['resourceType']}/{resource['id']}",
        "resource": shaped,
        "search": {"mode": mode},
    }


def _links(
    request: FhirRequest, parsed: ParsedSearch, total: int, offset: int, count: int
) -> list[dict[str, str]]:
    base = (
        f"{request.base_url}/{request.resource_type}" if request.resource_type else request.base_url
    )
    kept = (
        "_count",
        "_sort",
        "_total",
        "_summary",
        "_elements",
        "_include",
        "_revinclude",
        "_type",
        "_format",
    )
    params = [
        *parsed.used,
        *(
            (k, v)
            for k, v in request.params
            if k in kept or k.startswith(("_include:", "_revinclude:"))
        ),
    ]
    params = [p for p in params if p[0] != "_count"] + [("_count", str(count))]

    def at(position: int) -> str:
        return page_url(base, [*params, ("_offset", str(position))] if position else params)

    links = [link("self", at(offset)), link("first", at(0))]
    if offset + count < total:
        links.append(link("next", at(offset + count)))
    if offset > 0:
        links.append(link("previous", at(max(0, offset - count))))
    if total and count:
        links.append(link("last", at((total - 1) // count * count)))
    return links

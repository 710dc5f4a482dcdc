"""`_include` and `_revinclude` (https://hl7.org/fhir/R4/search.html#include).

`_include=Type:param[:target]` follows the page's references; `_revinclude=Type:param`
finds resources referring to the page. `:iterate` repeats over what was added; `*` means
every reference parameter. Included resources are deduplicated against the page.
"""

from __future__ import annotations

from fhir_sandbox.errors import Invalid
from fhir_sandbox.fhir.models import RESOURCE_TYPES
from fhir_sandbox.interactions.bundles import resource_of
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.interactions.request import FhirRequest
from fhir_sandbox.search.query import Clause, Query, ReferenceValue
from fhir_sandbox.searchparams.extract import split_reference
from fhir_sandbox.searchparams.registry import SearchParam
from fhir_sandbox.storage.base import Session, StoredVersion

_MAX_ROUNDS = 4


def includes(
    ctx: Context, session: Session, request: FhirRequest, page: list[StoredVersion]
) -> list[StoredVersion]:
    specs = [(k, v) for k, v in request.params if k.split(":")[0] in ("_include", "_revinclude")]
    if not specs:
        return []
    for name, _ in specs:
        modifier = name.partition(":")[2]
        if modifier not in ("", "iterate", "recurse"):
            raise Invalid(f"{name}: the only modifier here is :iterate", code="not-supported")
    seen = {(v.resource_type, v.id) for v in page}
    added: list[StoredVersion] = []
    frontier = page
    for round_number in range(_MAX_ROUNDS):
        fresh: list[StoredVersion] = []
        for name, value in specs:
            iterate = name.endswith(":iterate") or name.endswith(":recurse")
            if round_number > 0 and not iterate:
                continue
            reverse = name.startswith("_revinclude")
            for found in _follow(ctx, session, value, frontier, reverse):
                key = (found.resource_type, found.id)
                if key not in seen:
                    seen.add(key)
                    fresh.append(found)
        if not fresh:
            break
        added += fresh
        frontier = fresh
    return added


def _params(ctx: Context, value: str) -> list[SearchParam]:
    parts = value.split(":")
    if len(parts) < 2:
        raise Invalid(f"{value!r}: _include/_revinclude take Type:parameter[:target]", code="value")
    source_type, code = parts[0], parts[1]
    if source_type not in ctx.registry.by_type:
        raise Invalid(f"_include/_revinclude: unknown resource type {source_type!r}", code="value")
    params = ctx.registry.params_for(source_type)
    if code == "*":
        return [p for p in params.values() if p.type == "reference"]
    param = params.get(code)
    if param is None or param.type != "reference":
        choices = ", ".join(sorted(c for c, p in params.items() if p.type == "reference"))
        raise Invalid(
            f"{source_type}:{code} is not a reference parameter; choose from {choices}",
            code="value",
        )
    return [param]


def _follow(
    ctx: Context, session: Session, value: str, frontier: list[StoredVersion], reverse: bool
) -> list[StoredVersion]:
    parts = value.split(":")
    target_filter = parts[2] if len(parts) > 2 else None
    found: list[StoredVersion] = []
    for param in _params(ctx, value):
        if reverse:
            found += _referring(session, param, frontier)
        else:
            found += _referenced(session, param, frontier, target_filter)
    return found


def _referenced(
    session: Session, param: SearchParam, frontier: list[StoredVersion], target: str | None
) -> list[StoredVersion]:
    wanted: dict[str, set[str]] = {}
    for version in frontier:
        if version.resource_type != param.resource_type:
            continue
        for value in param.evaluate(resource_of(version.body)):
            literal = value.get("reference") if isinstance(value, dict) else None
            if isinstance(literal, str):
                rtype, rid = split_reference(literal)
                if rtype and (target is None or rtype == target):
                    wanted.setdefault(rtype, set()).add(rid)
    found: list[StoredVersion] = []
    for rtype, ids in sorted(wanted.items()):
        if rtype in RESOURCE_TYPES:
            found += session.fetch(rtype, sorted(ids))
    return found


def _referring(
    session: Session, param: SearchParam, frontier: list[StoredVersion]
) -> list[StoredVersion]:
    targets = tuple(
        ReferenceValue(v.resource_type, v.id) for v in frontier if v.resource_type in param.targets
    )
    if not targets:
        return []
    query = Query(param.resource_type, (Clause(param.code, "reference", None, targets),))
    return session.search(query, 0, 10_000)

"""Resolving conditional URLs (`PUT/DELETE/PATCH [type]?criteria`) to stored resources."""

from __future__ import annotations

from fhir_sandbox.errors import Invalid
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.interactions.request import FhirRequest
from fhir_sandbox.search.parse import parse_search
from fhir_sandbox.storage.base import Session, StoredVersion


def criteria_matches(
    ctx: Context, session: Session, request: FhirRequest, limit: int = 2
) -> list[StoredVersion]:
    """Current resources matching the request's search criteria (at most `limit`)."""
    criteria = [(k, v) for k, v in request.params if k not in ("_format", "_pretty")]
    if not criteria:
        raise Invalid(
            f"A conditional {request.method} on {request.resource_type} needs search criteria, "
            "e.g. ?identifier=system|value",
            code="required",
        )
    query = parse_search(request.resource_type or "", criteria, ctx.registry).query
    return session.search(query, 0, limit)

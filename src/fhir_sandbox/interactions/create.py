"""create and conditional create (https://hl7.org/fhir/R4/http.html#create, #ccreate).

The server assigns the id. With `If-None-Exist`, the search and the insert run in one
write session, so concurrent identical conditional creates leave exactly one resource.
A transaction Bundle assigns the id in advance (`request.id`, never set from HTTP) so that
references to the new resource can be rewritten before it is written (http.html#trules).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fhir_sandbox.errors import Invalid, PreconditionFailed
from fhir_sandbox.fhir.validation import check_type, validate_resource
from fhir_sandbox.ids import new_id
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.interactions.request import FhirRequest, Result
from fhir_sandbox.interactions.versions import write_version, written
from fhir_sandbox.search.parse import parse_search
from fhir_sandbox.storage.base import Session, StoredVersion


def create(ctx: Context, request: FhirRequest) -> Result:
    resource_type = check_type(request.resource_type or "")
    _reject_query(request)
    resource = dict(validate_resource(request.body, resource_type))
    resource["id"] = request.id or new_id()
    condition = request.header("if-none-exist")
    with ctx.repository.session(request.tenant, write=True) as session:
        if condition is not None:
            existing = _existing(ctx, session, resource_type, condition)
            if existing is not None:
                return existing_result(request, existing)
        stored = write_version(ctx, session, resource, None, "POST")
    return written(request, stored, 201, f"Created {resource_type}/{stored.id}")


def _reject_query(request: FhirRequest) -> None:
    """Search criteria in a create's URL are not a FHIR R4 conditional create; refusing
    them beats silently creating a duplicate the client believed it had guarded against."""
    extra = sorted({k for k, _ in request.params} - {"_format", "_pretty"})
    if extra:
        raise Invalid(
            f"POST {request.resource_type} does not take URL parameters ({', '.join(extra)}); "
            "for a conditional create send the criteria in the If-None-Exist header",
            code="not-supported",
        )


def _existing(
    ctx: Context, session: Session, resource_type: str, condition: str
) -> StoredVersion | None:
    params = parse_qsl(condition.lstrip("?"), keep_blank_values=True)
    if not params:
        raise Invalid("If-None-Exist is empty; give search parameters like identifier=system|value")
    query = parse_search(resource_type, params, ctx.registry).query
    matches = session.search(query, 0, 2)
    if len(matches) > 1:
        raise PreconditionFailed(
            f"If-None-Exist {condition!r} matches more than one {resource_type}; "
            "make the criteria more selective"
        )
    return matches[0] if matches else None


def existing_result(request: FhirRequest, existing: StoredVersion) -> Result:
    """The 200 answer when a conditional create finds its match (http.html#ccreate)."""
    return written(request, existing, 200, f"{existing.resource_type}/{existing.id} already exists")

"""update, create-on-update and conditional update (https://hl7.org/fhir/R4/http.html#update).

`If-Match` gives optimistic locking (412 on a stale version). A PUT to an id that does not
exist (or was deleted) creates it with the client's id: 201.
"""

from __future__ import annotations

from typing import Any

from fhir_sandbox.errors import Invalid, PreconditionFailed
from fhir_sandbox.fhir.validation import check_id, check_type, validate_resource
from fhir_sandbox.ids import new_id
from fhir_sandbox.interactions.conditional import criteria_matches
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.interactions.request import FhirRequest, Result
from fhir_sandbox.interactions.versions import check_if_match, write_version, written
from fhir_sandbox.storage.base import Session


def update(ctx: Context, request: FhirRequest) -> Result:
    resource_type = check_type(request.resource_type or "")
    resource_id = check_id(request.id or "")
    resource = validate_resource(request.body, resource_type)
    body_id = resource.get("id")
    if body_id is None:
        raise Invalid(
            f"The body has no id; a PUT to {resource_type}/{resource_id} needs id {resource_id!r}",
            expression=[f"{resource_type}.id"],
        )
    if body_id != resource_id:
        raise Invalid(
            f"The body's id {body_id!r} does not match the URL's id {resource_id!r}",
            expression=[f"{resource_type}.id"],
        )
    with ctx.repository.session(request.tenant, write=True) as session:
        return _store(ctx, session, request, resource)


def conditional_update(ctx: Context, request: FhirRequest) -> Result:
    resource_type = check_type(request.resource_type or "")
    resource = dict(validate_resource(request.body, resource_type))
    with ctx.repository.session(request.tenant, write=True) as session:
        matches = criteria_matches(ctx, session, request)
        if len(matches) > 1:
            raise PreconditionFailed(
                f"The criteria match more than one {resource_type}; nothing was updated"
            )
        body_id = resource.get("id")
        if matches:
            if body_id is not None and body_id != matches[0].id:
                raise Invalid(
                    f"The body's id {body_id!r} differs from the matched "
                    f"resource {matches[0].id!r}",
                    expression=[f"{resource_type}.id"],
                )
            resource["id"] = matches[0].id
        else:
            resource["id"] = check_id(body_id) if body_id else new_id()
        request.id = resource["id"]
        return _store(ctx, session, request, resource)


def _store(
    ctx: Context, session: Session, request: FhirRequest, resource: dict[str, Any]
) -> Result:
    current = session.current(resource["resourceType"], resource["id"])
    check_if_match(request, current)
    stored = write_version(ctx, session, resource, current, "PUT")
    if current is None or current.deleted:
        return written(request, stored, 201, f"Created {stored.resource_type}/{stored.id}")
    return written(
        request,
        stored,
        200,
        f"Updated {stored.resource_type}/{stored.id} to version {stored.version}",
    )

"""delete and conditional delete (https://hl7.org/fhir/R4/http.html#delete).

Deletes are logical: a delete marker becomes the current version, later reads answer 410
and history keeps every version. Deleting what does not exist succeeds (idempotent).
"""

from __future__ import annotations

from dataclasses import replace

from fhir_sandbox.errors import PreconditionFailed
from fhir_sandbox.fhir import outcomes
from fhir_sandbox.fhir.validation import check_id, check_type
from fhir_sandbox.interactions.conditional import criteria_matches
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.interactions.request import FhirRequest, Result
from fhir_sandbox.interactions.versions import check_if_match, etag
from fhir_sandbox.storage.base import Session, StoredVersion


def delete(ctx: Context, request: FhirRequest) -> Result:
    resource_type, resource_id = check_type(request.resource_type or ""), check_id(request.id or "")
    with ctx.repository.session(request.tenant, write=True) as session:
        current = session.current(resource_type, resource_id)
        check_if_match(request, current)
        return _delete(ctx, session, request, current, f"{resource_type}/{resource_id}")


def conditional_delete(ctx: Context, request: FhirRequest) -> Result:
    resource_type = check_type(request.resource_type or "")
    with ctx.repository.session(request.tenant, write=True) as session:
        matches = criteria_matches(ctx, session, request)
        if len(matches) > 1:
            raise PreconditionFailed(
                f"The criteria match more than one {resource_type}; this server deletes one "
                "resource per conditional delete, so nothing was deleted"
            )
        current = matches[0] if matches else None
        return _delete(ctx, session, request, current, f"{resource_type}?…")


def _delete(
    ctx: Context, session: Session, request: FhirRequest, current: StoredVersion | None, label: str
) -> Result:
    if current is None or current.deleted:
        return _answer(
            request, 200, f"Nothing to delete: {label} does not exist or is already deleted", {}
        )
    marker = replace(
        current,
        version=current.version + 1,
        last_updated=max(ctx.clock(), current.last_updated),
        method="DELETE",
        deleted=True,
        body=b"",
    )
    stored = session.save(marker, None)
    message = (
        f"Deleted {stored.resource_type}/{stored.id} (version {stored.version} is the deletion)"
    )
    return _answer(request, 200, message, {"ETag": etag(stored.version)})


def _answer(request: FhirRequest, status: int, message: str, headers: dict[str, str]) -> Result:
    if request.prefer("return") == "minimal":
        return Result(204, None, headers)
    return Result(status, outcomes.information(message), headers)

"""patch with JSON Patch (RFC 6902) or FHIRPath Patch (https://hl7.org/fhir/R4/http.html#patch,
https://hl7.org/fhir/R4/fhirpatch.html).

The patch is applied to the current JSON; the result is validated like any update and may
not change `resourceType` or `id`. `If-Match` gives optimistic locking.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jsonpatch
import orjson

from fhir_sandbox.errors import Invalid, PreconditionFailed, Unprocessable
from fhir_sandbox.fhir.fhirpath_patch import apply_fhirpath_patch
from fhir_sandbox.fhir.validation import check_id, check_type, validate_resource
from fhir_sandbox.interactions.conditional import criteria_matches
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.interactions.request import FhirRequest, Result
from fhir_sandbox.interactions.versions import (
    check_if_match,
    require_current,
    write_version,
    written,
)
from fhir_sandbox.storage.base import Session, StoredVersion


def patch(ctx: Context, request: FhirRequest) -> Result:
    resource_type = check_type(request.resource_type or "")
    operations = _operations(request.body)
    with ctx.repository.session(request.tenant, write=True) as session:
        if request.id is None:
            matches = criteria_matches(ctx, session, request)
            if len(matches) != 1:
                raise PreconditionFailed(
                    "A conditional patch needs exactly one match; "
                    f"the criteria match {len(matches)}"
                )
            current: StoredVersion = matches[0]
            request.id = current.id
        else:
            resource_id = check_id(request.id)
            current = require_current(
                session.current(resource_type, resource_id), resource_type, resource_id
            )
        return _apply(ctx, session, request, current, operations)


Patcher = Callable[[dict[str, Any]], dict[str, Any]]


def _operations(body: Any) -> Patcher:
    """The patch as a function from the current JSON to the patched JSON."""
    if isinstance(body, dict) and body.get("resourceType") == "Parameters":
        return lambda resource: apply_fhirpath_patch(resource, body)
    if not isinstance(body, list):
        raise Invalid(
            "A patch body is a JSON Patch array (application/json-patch+json) or a "
            "FHIRPath Patch Parameters resource (application/fhir+json)",
            code="structure",
        )
    try:
        operations = jsonpatch.JsonPatch(body)
    except (jsonpatch.InvalidJsonPatch, TypeError) as exc:
        raise Invalid(f"Invalid JSON Patch: {exc}", code="structure") from None
    return lambda resource: _json_patch(operations, resource)


def _json_patch(operations: jsonpatch.JsonPatch, resource: dict[str, Any]) -> dict[str, Any]:
    try:
        patched: dict[str, Any] = operations.apply(resource)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        raise Unprocessable(f"The patch cannot be applied: {exc}") from None
    return patched


def _apply(
    ctx: Context,
    session: Session,
    request: FhirRequest,
    current: StoredVersion,
    ops: Patcher,
) -> Result:
    check_if_match(request, current)
    patched = ops(orjson.loads(current.body))
    if patched.get("resourceType") != current.resource_type or patched.get("id") != current.id:
        raise Unprocessable("A patch may not change resourceType or id", code="business-rule")
    validate_resource(patched, current.resource_type)
    stored = write_version(ctx, session, patched, current, "PATCH")
    return written(
        request,
        stored,
        200,
        f"Patched {stored.resource_type}/{stored.id} to version {stored.version}",
    )

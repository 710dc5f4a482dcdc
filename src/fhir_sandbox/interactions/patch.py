"""patch with JSON Patch (https://hl7.org/fhir/R4/http.html#patch, RFC 6902).

The patch is applied to the current JSON; the result is validated like any update and may
not change `resourceType` or `id`. `If-Match` gives optimistic locking.
"""

from __future__ import annotations

from typing import Any

import jsonpatch
import orjson

from fhir_sandbox.errors import Invalid, PreconditionFailed, Unprocessable
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


def _operations(body: Any) -> jsonpatch.JsonPatch:
    if not isinstance(body, list):
        raise Invalid(
            "A JSON Patch body must be a JSON array of operations (RFC 6902)", code="structure"
        )
    try:
        return jsonpatch.JsonPatch(body)
    except (jsonpatch.InvalidJsonPatch, TypeError) as exc:
        raise Invalid(f"Invalid JSON Patch: {exc}", code="structure") from None


def _apply(
    ctx: Context,
    session: Session,
    request: FhirRequest,
    current: StoredVersion,
    ops: jsonpatch.JsonPatch,
) -> Result:
    check_if_match(request, current)
    original = orjson.loads(current.body)
    try:
        patched = ops.apply(original)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        raise Unprocessable(
            f"The patch cannot be applied to {current.resource_type}/{current.id}: {exc}"
        ) from None
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

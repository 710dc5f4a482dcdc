"""$validate at type and instance level
(https://hl7.org/fhir/R4/resource-operation-validate.html).

The body is the resource itself or a `Parameters` with `resource`, `mode` and `profile`
(JSON or XML; `mode` may also be a URL parameter). The answer is always 200 with an
OperationOutcome listing every problem found, each with its expression, or one
`information` issue saying the resource is valid; 4xx means validation could not be done.
Nothing is stored.

- `mode=create`: the content as a create would check it (an id would be replaced: warning);
- `mode=update`: the resource needs an id, and at instance level the URL's id;
- `mode=delete`: the content is ignored; the instance must exist (error issue otherwise).

`profile` is not checked (warning): validation is against the base R4 definitions.
"""

from __future__ import annotations

from typing import Any

from fhir_sandbox.errors import FhirError, Invalid, Issue, Unprocessable
from fhir_sandbox.fhir import outcomes
from fhir_sandbox.fhir.formats import body_format, parse_body
from fhir_sandbox.fhir.models import RESOURCE_TYPES
from fhir_sandbox.fhir.primitives import primitive_issues
from fhir_sandbox.fhir.validation import ID_PATTERN, check_id, check_type, validate_resource
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.interactions.request import FhirRequest, Result

MODES = ("create", "update", "delete")


def validate(ctx: Context, request: FhirRequest) -> Result:
    resource_type = check_type(request.resource_type or "")
    instance = check_id(request.id) if request.id else None
    payload, issues = _payload(request)
    resource, mode, profiles, extra = _unwrap(payload)
    mode = mode or request.param("mode")
    if mode is not None and mode not in MODES:
        raise Invalid(f"mode {mode!r} is not supported; use create, update or delete", code="value")
    issues += extra
    if mode == "delete":
        issues += _delete_issues(ctx, request, resource_type, instance)
    elif resource is None and not issues:
        raise Invalid(
            "$validate needs a resource: send it as the body, or as the 'resource' parameter "
            "of a Parameters body",
            code="required",
        )
    elif resource is not None:
        issues += content_issues(resource, resource_type)
        issues += _mode_issues(resource, resource_type, instance, mode)
    issues += [
        Issue(
            "not-supported",
            f"Profile {p!r} was not checked: this server validates against the base R4 "
            "definitions only",
            severity="warning",
        )
        for p in profiles
    ]
    if not any(i.severity in ("error", "fatal") for i in issues):
        issues.append(
            Issue("informational", _valid_message(resource_type, instance, mode), "information")
        )
    return Result(200, outcomes.operation_outcome(issues))


def _payload(request: FhirRequest) -> tuple[Any, list[Issue]]:
    """The parsed body; a body that cannot be parsed is reported as issues, not raised."""
    body = request.body
    if not isinstance(body, bytes):
        return body, []
    if not body.strip():
        return None, []
    try:
        return parse_body(body, body_format(request.header("content-type"))), []
    except (Invalid, Unprocessable) as exc:
        return None, list(exc.issues)


def _unwrap(payload: Any) -> tuple[Any, str | None, list[str], list[Issue]]:
    """(resource, mode, profiles, issues) from a Parameters body, or the body as the resource."""
    if not isinstance(payload, dict) or payload.get("resourceType") != "Parameters":
        return payload, None, [], []
    resource, mode, profiles, issues = None, None, [], []
    for index, parameter in enumerate(payload.get("parameter") or []):
        name = parameter.get("name") if isinstance(parameter, dict) else None
        if name == "resource":
            resource = parameter.get("resource")
        elif name == "mode":
            mode = parameter.get("valueCode") or parameter.get("valueString")
        elif name == "profile":
            profiles.append(str(parameter.get("valueUri") or parameter.get("valueCanonical")))
        else:
            issues.append(
                Issue(
                    "not-supported",
                    f"Parameter {name!r} is not a $validate parameter; it was ignored",
                    severity="warning",
                    expression=(f"Parameters.parameter[{index}]",),
                )
            )
    return resource, mode, profiles, issues


def content_issues(resource: Any, resource_type: str) -> list[Issue]:
    """Every problem validate_resource finds, plus the checks it skips after its first failure."""
    if isinstance(resource, dict) and resource.get("resourceType") not in (None, resource_type):
        return [
            Issue(
                "invalid",
                f"The resource is a {resource.get('resourceType')} but $validate was called on "
                f"{resource_type}",
                expression=("resourceType",),
            )
        ]
    try:
        validate_resource(resource, resource_type)
    except FhirError as exc:
        issues = list(exc.issues)
    else:
        return []
    if isinstance(resource, dict) and resource.get("resourceType") in RESOURCE_TYPES:
        seen = {i.expression for i in issues}
        issues += [i for i in primitive_issues(resource, resource_type) if i.expression not in seen]
        raw_id = resource.get("id")
        where = (f"{resource_type}.id",)
        if isinstance(raw_id, str) and not ID_PATTERN.match(raw_id) and where not in seen:
            issues.append(Issue("value", f"Invalid resource id {raw_id!r}", expression=where))
    return issues


def _mode_issues(
    resource: Any, resource_type: str, instance: str | None, mode: str | None
) -> list[Issue]:
    given = resource.get("id") if isinstance(resource, dict) else None
    where = (f"{resource_type}.id",)
    if mode == "create" and given:
        return [
            Issue(
                "informational",
                f"A create assigns a new id; the id {given!r} would be replaced",
                severity="warning",
                expression=where,
            )
        ]
    if mode == "update" and not given:
        return [Issue("required", "An update needs the resource's id", expression=where)]
    if mode == "update" and instance and given != instance:
        message = f"The resource's id {given!r} does not match the URL's id {instance!r}"
        return [Issue("invalid", message, expression=where)]
    return []


def _delete_issues(
    ctx: Context, request: FhirRequest, resource_type: str, instance: str | None
) -> list[Issue]:
    if instance is None:
        raise Invalid(
            f"mode=delete checks one resource: use POST {resource_type}/[id]/$validate",
            code="required",
        )
    with ctx.repository.session(request.tenant) as session:
        current = session.current(resource_type, instance)
    if current is None or current.deleted:
        state = "does not exist" if current is None else "is already deleted"
        message = f"{resource_type}/{instance} {state}, so there is nothing to delete"
        return [Issue("not-found", message, expression=(resource_type,))]
    return []


def _valid_message(resource_type: str, instance: str | None, mode: str | None) -> str:
    if mode == "delete":
        return f"{resource_type}/{instance} exists and may be deleted"
    target = f"{resource_type}/{instance}" if instance else resource_type
    suffix = f" for {mode} of {target}" if mode else ""
    return f"No errors found: the {resource_type} is valid{suffix}"

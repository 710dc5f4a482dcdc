"""Validate a resource on write (never on read).

The R4B models check structure and cardinality; `structure.conforms` answers first for the
ordinary resources it can vouch for (8 times cheaper), the models decide everything else.
Pydantic coerces some JSON that FHIR forbids (`"active": "yes"` becomes `True`);
`primitives.py` rejects those.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from fhir_sandbox.errors import Invalid, Issue, Unprocessable
from fhir_sandbox.fhir.models import RESOURCE_TYPES, model_class
from fhir_sandbox.fhir.primitives import primitive_issues
from fhir_sandbox.fhir.structure import conforms

ID_PATTERN = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def check_id(resource_id: str) -> str:
    """Reject ids that break the R4 id rule ([A-Za-z0-9-.]{1,64})."""
    if not ID_PATTERN.match(resource_id):
        raise Invalid(
            f"Invalid resource id {resource_id!r}: ids are 1-64 characters of "
            "A-Z, a-z, 0-9, '-' and '.'",
            code="value",
        )
    return resource_id


def check_type(resource_type: str) -> str:
    """Reject types this server does not serve, listing those it does."""
    if resource_type not in RESOURCE_TYPES:
        raise NotFoundType(resource_type)
    return resource_type


class NotFoundType(Invalid):
    """A resource type we do not serve: 404 per http.html (unknown resource type)."""

    status = 404

    def __init__(self, resource_type: str) -> None:
        super().__init__(
            f"Resource type {resource_type!r} is not supported here; supported types: "
            + ", ".join(RESOURCE_TYPES),
            code="not-supported",
        )


def validate_resource(data: Any, expected_type: str | None = None) -> dict[str, Any]:
    """Check a parsed JSON body is a valid resource of our types; return it unchanged."""
    if not isinstance(data, dict):
        raise Invalid("The body must be a JSON object holding one FHIR resource", code="structure")
    resource_type = data.get("resourceType")
    if not isinstance(resource_type, str):
        raise Invalid(
            "The resource has no resourceType", code="structure", expression=["resourceType"]
        )
    if expected_type and resource_type != expected_type:
        raise Invalid(
            f"The body is a {resource_type} but the URL is for {expected_type}",
            code="invalid",
            expression=["resourceType"],
        )
    check_type(resource_type)
    if not conforms(data, resource_type):  # not certainly valid: the models decide, and say why
        _validate_with_models(data, resource_type)
    if "id" in data:
        check_id(str(data["id"]))
    return data


def _validate_with_models(data: dict[str, Any], resource_type: str) -> None:
    crashed: Exception | None = None
    try:
        model_class(resource_type).model_validate(data)
    except ValidationError as exc:
        raise Unprocessable(
            f"{resource_type} failed validation: {_summarise(exc)}",
            code="structure",
            issues=list(_issues(resource_type, exc)),
        ) from None
    except (AttributeError, TypeError, ValueError) as exc:
        # fhir_core's own validators crash on some wrong JSON types (`"address": 0` in a
        # url); the strict primitive check below names the element, this is the fallback
        crashed = exc
    problems = primitive_issues(data, resource_type)
    if problems:
        raise Unprocessable(problems[0].diagnostics, code="structure", issues=problems)
    if crashed is not None:
        raise Unprocessable(f"{resource_type} failed validation: {crashed}", code="structure")


def _summarise(exc: ValidationError) -> str:
    errors = exc.errors()
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"])
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"


def _issues(resource_type: str, exc: ValidationError) -> Iterator[Issue]:
    for error in exc.errors():
        expression = _expression(resource_type, error["loc"])
        code = "structure" if error["type"] == "extra_forbidden" else "value"
        if error["type"] == "missing":
            code = "required"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = f"Unknown element '{error['loc'][-1]}'"
        yield Issue(code, f"{expression}: {message}", expression=(expression,))


def _expression(resource_type: str, loc: tuple[Any, ...]) -> str:
    """Turn a pydantic location into a FHIRPath-style path: Organization.contact[0].name."""
    path = resource_type
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part != "__root__":
            path += f".{part}"
    return path

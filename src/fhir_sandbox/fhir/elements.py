"""`_summary` and `_elements` (https://hl7.org/fhir/R4/search.html#summary).

Both cut a resource down to some top-level elements and mark it SUBSETTED so no client
mistakes the result for the whole resource.
"""

from __future__ import annotations

from typing import Any

from fhir_sandbox.errors import Invalid
from fhir_sandbox.fhir.models import element_names, summary_elements

SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
    "display": "Resource encoded in summary mode",
}
SUMMARY_MODES = ("true", "text", "data", "count", "false")
_MANDATORY = {"resourceType", "id", "meta"}


def check_summary(mode: str | None) -> str | None:
    if mode is not None and mode not in SUMMARY_MODES:
        raise Invalid(
            f"_summary={mode!r} is not valid; use one of {', '.join(SUMMARY_MODES)}",
            code="value",
        )
    return mode


def apply_summary(resource: dict[str, Any], mode: str | None) -> dict[str, Any]:
    """Reduce a resource as `_summary` says; `false`/None leaves it whole."""
    if mode in (None, "false", "count"):
        return resource
    rtype = resource["resourceType"]
    if mode == "true":
        keep = summary_elements(rtype)
    elif mode == "text":
        keep = frozenset(_MANDATORY | {"text"})
    else:  # data
        keep = frozenset(k for k in resource if k != "text")
    return _subset(resource, keep)


def apply_elements(resource: dict[str, Any], elements: list[str] | None) -> dict[str, Any]:
    """Keep only the named top-level elements (plus the mandatory ones)."""
    if not elements:
        return resource
    return _subset(resource, frozenset(elements) | _MANDATORY)


def check_elements(resource_type: str | None, raw: str | None) -> list[str] | None:
    """Parse `_elements`, rejecting names the type does not have."""
    if raw is None:
        return None
    names = [name.strip() for name in raw.split(",") if name.strip()]
    if resource_type:
        known = element_names(resource_type)
        unknown = [name for name in names if name not in known]
        if unknown:
            raise Invalid(
                f"_elements names {', '.join(unknown)}, which {resource_type} does not have",
                code="value",
            )
    return names


def _subset(resource: dict[str, Any], keep: frozenset[str]) -> dict[str, Any]:
    subset = {k: v for k, v in resource.items() if k in keep or k.lstrip("_") in keep}
    meta = dict(subset.get("meta") or {})
    tags = [t for t in meta.get("tag", []) if t.get("code") != "SUBSETTED"]
    meta["tag"] = [*tags, SUBSETTED]
    subset["meta"] = meta
    return subset

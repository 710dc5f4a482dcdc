"""The one import module for FHIR models: fhir.resources' R4B package.

R4B is used (not the package default, R5) because its models carry the R4 element set for
the seven directory types; `tests/fhir/test_models_r4.py` compares them element by element
with the official R4 StructureDefinitions, so `fhirVersion: 4.0.1` is honest. The R4/R4B
differences that touch these types are documented in the README ("R4 and R4B").
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource

FHIR_VERSION = "4.0.1"

RESOURCE_TYPES: tuple[str, ...] = (
    "Organization",
    "Endpoint",
    "Practitioner",
    "PractitionerRole",
    "Location",
    "HealthcareService",
    "OrganizationAffiliation",
)


@cache
def model_class(resource_type: str) -> type[Resource]:
    """The R4B pydantic class for one of our resource types (or any R4B type)."""
    cls = get_fhir_model_class(resource_type)
    assert issubclass(cls, Resource)
    return cls


def summary_elements(resource_type: str) -> frozenset[str]:
    """Top-level elements flagged `isSummary` in the definitions (for `_summary=true`)."""
    return _summary_elements(resource_type)


@cache
def _summary_elements(resource_type: str) -> frozenset[str]:
    fields = model_class(resource_type).model_fields
    names = set()
    for name, info in fields.items():
        extra: Any = info.json_schema_extra or {}
        if isinstance(extra, dict) and extra.get("summary_element_property"):
            names.add(info.alias or name)
    return frozenset(names | {"id", "meta", "resourceType"})


def element_names(resource_type: str) -> frozenset[str]:
    """Every top-level JSON element name the type allows (without `_x` primitive twins)."""
    return _element_names(resource_type)


@cache
def _element_names(resource_type: str) -> frozenset[str]:
    fields = model_class(resource_type).model_fields
    return frozenset(
        (info.alias or name)
        for name, info in fields.items()
        if not name.endswith("__ext") and name != "fhir_comments"
    )

"""The R4B models we validate with carry exactly the R4 element set of our resource types.

`fhir_sandbox.fhir.models` uses fhir.resources' R4B package and the server states
`fhirVersion: 4.0.1`. That is only honest while, for each of our types, every element path
of the official R4 StructureDefinition snapshot (`shared/fhir-r4/profiles-resources.json`)
is a field of the R4B model, backbone elements included, and the R4B model has no element
R4 lacks. Known differences would go in `R4_R4B_DIFFERENCES` with a reason; an entry that
is not (or no longer) a difference fails the test, so the list cannot go stale.
"""

from __future__ import annotations

import json
import typing
from functools import cache
from typing import Any

import pytest
from fhir.resources.R4B.backboneelement import BackboneElement

from fhir_r4 import PROFILES_RESOURCES as PROFILES
from fhir_sandbox.fhir.models import RESOURCE_TYPES, model_class

#: Element paths (after choice-type expansion) that R4 and R4B define differently for our
#: types, each with the reason it is acceptable. Empty: for these seven types R4B (4.3.0)
#: has exactly R4's elements and cardinalities.
R4_R4B_DIFFERENCES: dict[str, str] = {}


@cache
def structure_definitions() -> dict[str, dict[str, Any]]:
    bundle = json.loads(PROFILES.read_text(encoding="utf-8"))
    return {e["resource"]["id"]: e["resource"] for e in bundle["entry"]}


def r4_elements(resource_type: str) -> dict[str, bool]:
    return snapshot_elements(structure_definitions()[resource_type])


def snapshot_elements(definition: dict[str, Any]) -> dict[str, bool]:
    """Element path -> repeats (max "*"), `x[x]` expanded to one path per allowed type."""
    elements: dict[str, bool] = {}
    for element in definition["snapshot"]["element"][1:]:
        path, repeats = element["path"], element["max"] == "*"
        if path.endswith("[x]"):
            for kind in element["type"]:
                code = kind["code"]
                elements[path[:-3] + code[0].upper() + code[1:]] = repeats
        else:
            elements[path] = repeats
    return elements


def _inner_types(annotation: Any) -> list[Any]:
    found, stack = [], [annotation]
    while stack:
        item = stack.pop()
        found.append(item)
        stack.extend(typing.get_args(item))
    return found


def _model_of(annotation: Any) -> type | None:
    """The pydantic model behind a field annotation such as `list[XxxType] | None`."""
    for item in _inner_types(annotation):
        if hasattr(item, "get_model_klass"):
            model: type = item.get_model_klass()
            return model
    return None


def _is_list(annotation: Any) -> bool:
    return any(typing.get_origin(item) is list for item in _inner_types(annotation))


def r4b_elements(model: type, prefix: str) -> dict[str, bool]:
    """Element path -> is a list field, walking into backbone elements (not datatypes)."""
    elements: dict[str, bool] = {}
    for name, info in model.model_fields.items():  # type: ignore[attr-defined]
        extra = info.json_schema_extra
        if not (isinstance(extra, dict) and extra.get("element_property")):
            continue  # `_x` primitive extension twins, fhir_comments
        path = f"{prefix}.{info.alias or name}"
        elements[path] = _is_list(info.annotation)
        inner = _model_of(info.annotation)
        if inner is not None and issubclass(inner, BackboneElement):
            elements.update(r4b_elements(inner, path))
    return elements


def differences(resource_type: str) -> dict[str, str]:
    """Path -> what differs, over elements and cardinality."""
    r4 = r4_elements(resource_type)
    r4b = r4b_elements(model_class(resource_type), resource_type)
    found = {path: "only in R4" for path in r4.keys() - r4b.keys()}
    found.update({path: "only in R4B" for path in r4b.keys() - r4.keys()})
    for path in r4.keys() & r4b.keys():
        if r4[path] != r4b[path]:
            found[path] = f"R4 max {'*' if r4[path] else '1'} but R4B list={r4b[path]}"
    return found


def test_the_definitions_are_r4() -> None:
    definitions = structure_definitions()
    assert set(RESOURCE_TYPES) <= set(definitions)
    for resource_type in RESOURCE_TYPES:
        assert definitions[resource_type]["fhirVersion"] == "4.0.1"
        assert len(r4_elements(resource_type)) > 15  # the snapshot, not a stub


@pytest.mark.parametrize("resource_type", RESOURCE_TYPES)
def test_r4b_model_has_exactly_the_r4_elements(resource_type: str) -> None:
    unexpected = {
        path: what
        for path, what in differences(resource_type).items()
        if path not in R4_R4B_DIFFERENCES
    }
    assert unexpected == {}


def test_backbone_elements_are_compared() -> None:
    """The walk reaches nested backbone elements (e.g. Organization.contact.name)."""
    nested = set()
    for resource_type in RESOURCE_TYPES:
        r4b = r4b_elements(model_class(resource_type), resource_type)
        nested |= {p for p in r4b if p.count(".") > 1}
    assert {"Organization.contact.name", "Location.position.latitude"} <= nested
    assert "PractitionerRole.availableTime.daysOfWeek" in nested
    assert not any(p.startswith("Organization.address.") for p in nested)  # a datatype


def test_top_level_cardinality() -> None:
    checked = 0
    for resource_type in RESOURCE_TYPES:
        r4 = r4_elements(resource_type)
        r4b = r4b_elements(model_class(resource_type), resource_type)
        for path, repeats in r4.items():
            if path.count(".") == 1 and path not in R4_R4B_DIFFERENCES:
                assert r4b[path] == repeats, f"{path}: R4 repeats={repeats}"
                checked += 1
    assert checked > 100


def test_known_differences_are_real() -> None:
    """Every allow-listed difference exists and names one of our types; else remove it."""
    actual = {path for t in RESOURCE_TYPES for path in differences(t)}
    for path, reason in R4_R4B_DIFFERENCES.items():
        assert reason.strip(), f"{path} needs a reason"
        assert path.split(".")[0] in RESOURCE_TYPES, path
        assert path in actual, f"{path} is no longer an R4/R4B difference: remove it"


def test_choice_types_are_expanded() -> None:
    """`value[x]` becomes one path per allowed type (our seven types happen to have none)."""
    choice = {"path": "X.value[x]", "max": "1", "type": [{"code": "string"}, {"code": "dateTime"}]}
    definition = {"snapshot": {"element": [{"path": "X"}, choice]}}
    assert snapshot_elements(definition) == {"X.valueString": False, "X.valueDateTime": False}

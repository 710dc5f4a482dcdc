"""FHIRPath Patch operations (https://hl7.org/fhir/R4/fhirpatch.html)."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_sandbox.errors import FhirError, Unprocessable
from fhir_sandbox.fhir.fhirpath_patch import apply_fhirpath_patch

ORG: dict[str, Any] = {
    "resourceType": "Organization",
    "id": "o",
    "name": "Old",
    "alias": ["A", "B", "C"],
    "identifier": [
        {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "RTH"},
        {"system": "http://example.org/local", "value": "7"},
    ],
    "telecom": [{"system": "phone", "value": "01865"}],
}


def op(kind: str, path: str, **parts: Any) -> dict[str, Any]:
    part = [{"name": "type", "valueCode": kind}, {"name": "path", "valueString": path}]
    for name, value in parts.items():
        if name == "value" and isinstance(value, dict):
            part.append(
                {"name": "value", "part": [{"name": k, "valueString": v} for k, v in value.items()]}
            )
        elif isinstance(value, int):
            part.append({"name": name, "valueInteger": value})
        else:
            part.append({"name": name, "valueString": value})
    return {"name": "operation", "part": part}


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return apply_fhirpath_patch(ORG, {"resourceType": "Parameters", "parameter": list(operations)})


def test_replace_and_delete_with_where() -> None:
    result = patch(
        op("replace", "Organization.name", value="New"),
        op("delete", "Organization.identifier.where(system='http://example.org/local')"),
    )
    assert result["name"] == "New"
    assert [i["value"] for i in result["identifier"]] == ["RTH"]
    assert ORG["name"] == "Old"  # the input is not touched


def test_add_appends_to_lists_and_sets_single_elements() -> None:
    result = patch(
        op("add", "Organization", name="alias", value="D"),
        op("add", "Organization", name="active", value="x"),
        op("add", "Organization", name="telecom", value={"system": "email", "value": "a@b"}),
    )
    assert result["alias"] == ["A", "B", "C", "D"]
    assert result["active"] == "x"
    assert result["telecom"][-1] == {"system": "email", "value": "a@b"}
    with pytest.raises(Unprocessable, match="already has a value"):
        patch(op("add", "Organization", name="name", value="Again"))


def test_insert_and_move() -> None:
    inserted = patch(op("insert", "Organization.alias", index=1, value="X"))
    assert inserted["alias"] == ["A", "X", "B", "C"]
    moved = patch(op("move", "Organization.alias", source=0, destination=2))
    assert moved["alias"] == ["B", "C", "A"]
    with pytest.raises(Unprocessable, match="index between 0 and 3"):
        patch(op("insert", "Organization.alias", index=9, value="X"))


def test_delete_last_item_prunes_empty_list_and_indexes_work() -> None:
    result = patch(
        op("delete", "Organization.telecom[0]"), op("delete", "Organization.alias.last()")
    )
    assert "telecom" not in result
    assert result["alias"] == ["A", "B"]
    assert patch(op("delete", "Organization.partOf")) == ORG  # nothing to delete is fine


@pytest.mark.parametrize(
    ("operation", "fragment"),
    [
        (op("replace", "Organization.identifier", value="x"), "matches 2"),
        (op("replace", "Organization.name.substring(1)", value="x"), "subset"),
        (op("delete", "Patient.name"), "resource type"),
        (op("insert", "Organization.name", index=0, value="x"), "not a repeating"),
        ({"name": "operation", "part": [{"name": "type", "valueCode": "explode"}]}, "type must be"),
    ],
)
def test_bad_operations_are_clear(operation: dict[str, Any], fragment: str) -> None:
    with pytest.raises(FhirError, match=fragment):
        patch(operation)

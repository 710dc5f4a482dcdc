"""Reference rewriting: which resources are walked, and where a reference sits spelled out
as a FHIRPath-like expression (only for errors)."""

from __future__ import annotations

from decimal import Decimal

from fhir_sandbox.interactions.bundle_refs import _may_refer, spelled


def test_a_walked_place_is_spelled_as_an_expression() -> None:
    assert spelled("Organization") == "Organization"
    where = (((("PractitionerRole", "endpoint"), 2), "reference"),)[0]
    assert spelled(where) == "PractitionerRole.endpoint[2].reference"
    assert spelled(((("Binary.data", 0), "value"), "reference")) == "Binary.data[0].value.reference"


def test_only_resources_with_a_reference_element_are_walked() -> None:
    assert _may_refer({"resourceType": "PractitionerRole", "practitioner": {"reference": "x"}})
    assert not _may_refer({"resourceType": "Practitioner", "name": [{"family": "Reference"}]})
    assert _may_refer({"resourceType": "Location", "position": {"latitude": Decimal("51.5")}})

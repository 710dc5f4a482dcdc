"""Where a reference sits is spelled out as a FHIRPath-like expression only for errors."""

from __future__ import annotations

from fhir_sandbox.interactions.bundle_refs import spelled


def test_a_walked_place_is_spelled_as_an_expression() -> None:
    assert spelled("Organization") == "Organization"
    where = (((("PractitionerRole", "endpoint"), 2), "reference"),)[0]
    assert spelled(where) == "PractitionerRole.endpoint[2].reference"
    assert spelled(((("Binary.data", 0), "value"), "reference")) == "Binary.data[0].value.reference"

"""The compiled fast paths give exactly what fhirpathpy gives, for every shipped parameter."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from fhir_r4 import EXAMPLES
from fhir_sandbox.searchparams.paths import fhirpath_evaluator
from fhir_sandbox.searchparams.registry import default_registry

EHR = "https://fhir-sandbox.dev/StructureDefinition/endpoint-ehr-product"
EXTRA = [
    {
        "resourceType": "Endpoint",
        "extension": [
            {"url": "http://other", "valueString": "x"},
            {"url": EHR, "valueCoding": {"code": "epic"}},
        ],
    },
    {
        "resourceType": "Practitioner",
        "telecom": [{"system": "email", "value": "a"}, {"value": "b"}],
    },
]


def _resources() -> list[dict[str, Any]]:
    found = [json.loads(p.read_text()) for p in sorted(EXAMPLES.glob("*.json"))]
    singles = [r for r in found if r["resourceType"] != "Bundle"]
    entries = [e["resource"] for r in found if r["resourceType"] == "Bundle" for e in r["entry"]]
    return singles + entries + EXTRA


def _plain(values: list[Any]) -> list[Any]:
    return json.loads(
        json.dumps(values, default=lambda v: float(v) if isinstance(v, Decimal) else v)
    )


@pytest.mark.parametrize(
    "resource", _resources(), ids=lambda r: f"{r['resourceType']}-{r.get('id')}"
)
def test_fast_paths_agree_with_fhirpath(resource: dict[str, Any]) -> None:
    params = default_registry().params_for(resource["resourceType"])
    assert params
    for param in params.values():
        expected = _plain(fhirpath_evaluator(param.expression)(resource))
        assert _plain(param.evaluate(resource)) == expected, param.code

"""The committed OpenAPI document matches the app (regenerate with `fhir-sandbox openapi`)."""

from __future__ import annotations

import json
from pathlib import Path

from fhir_sandbox.openapi import openapi_document

REPO = Path(__file__).resolve().parents[1]


def test_openapi_is_current() -> None:
    committed = json.loads((REPO / "openapi" / "openapi.json").read_text())
    assert committed == json.loads(json.dumps(openapi_document())), (
        "openapi/openapi.json is stale: run `fhir-sandbox openapi`"
    )

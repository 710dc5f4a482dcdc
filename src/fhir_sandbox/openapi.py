"""The OpenAPI document, generated from the app (committed as openapi/openapi.json)."""

from __future__ import annotations

from typing import Any

from fhir_sandbox.app import create_app
from fhir_sandbox.config import Settings


def openapi_document() -> dict[str, Any]:
    app = create_app(Settings(seed_on_start=False))
    return app.openapi()

"""The human page at `/`: what this is and where to click."""

from __future__ import annotations

from html import escape

from fhir_sandbox.fhir.models import RESOURCE_TYPES

_EXAMPLES = (
    ("/fhir/metadata", "The CapabilityStatement"),
    ("/fhir/Organization?identifier=https://fhir.nhs.uk/Id/ods-organization-code|RQM&_include=Organization:endpoint",
     "Chelsea and Westminster and the Millennium instance it shares with Imperial"),
    ("/fhir/Endpoint?status=off", "Retired EHR systems"),
    ("/fhir/PractitionerRole?organization.identifier=https://fhir.nhs.uk/Id/ods-organization-code|RTH",
     "Who works at Oxford University Hospitals"),
)  # fmt: skip


def home_page() -> str:
    types = "".join(f'<li><a href="/fhir/{t}">{t}</a></li>' for t in RESOURCE_TYPES)
    examples = "".join(f'<li><a href="{escape(u)}">{escape(d)}</a></li>' for u, d in _EXAMPLES)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>fhir-sandbox</title></head>"
        "<body><h1>fhir-sandbox</h1><p>A FHIR R4 sandbox of the UK care-provider organisation "
        "and endpoint registry. All people in it are synthetic.</p>"
        f"<p>FHIR base: <code>/fhir</code></p><h2>Resource types</h2><ul>{types}</ul>"
        f'<h2>Try</h2><ul>{examples}</ul><p><a href="/docs">OpenAPI docs</a></p></body></html>'
    )

"""capabilities: the CapabilityStatement (https://hl7.org/fhir/R4/http.html#capabilities).

Generated from what is wired: the served types, the interactions the router dispatches, and
the registry's search parameters, so it cannot claim what does not work. Bulk Data $export
(interactions/export.py) is declared at system level and per type, and the statement
instantiates the Bulk Data IG's server CapabilityStatement.
"""

from __future__ import annotations

from typing import Any

from fhir_sandbox import __version__
from fhir_sandbox.fhir.models import FHIR_VERSION, RESOURCE_TYPES
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.interactions.request import FhirRequest, Result
from fhir_sandbox.interactions.versions import instant

TYPE_INTERACTIONS = (
    "read", "vread", "update", "patch", "delete", "history-instance",
    "history-type", "create", "search-type",
)  # fmt: skip
SYSTEM_INTERACTIONS = ("transaction", "batch", "history-system", "search-system")
BULK_DATA = "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"
EXPORT = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"
PHONETIC_DOCUMENTATION = (
    "Matched by American Soundex: the key of each name part (Practitioner) or of the whole "
    "name (Organization) equals the key of the value; :exact compares the text"
)
SYSTEM_OPERATIONS = [{"name": "export", "definition": EXPORT}]
OPERATIONS = [
    {"name": "validate", "definition": "http://hl7.org/fhir/OperationDefinition/Resource-validate"},
    {
        "name": "export",
        "definition": EXPORT,
        "documentation": "The Bulk Data system export restricted to this type "
        "([base]/[type]/$export; _type may only name this type).",
    },
]
_CONTROL_SEARCH = (
    ("_count", "number"), ("_sort", "string"), ("_total", "token"), ("_summary", "token"),
    ("_elements", "string"), ("_include", "string"), ("_revinclude", "string"),
)  # fmt: skip


def capabilities(ctx: Context, request: FhirRequest) -> Result:
    statement: dict[str, Any] = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": instant(ctx.clock()),
        "publisher": "fhir-sandbox",
        "kind": "instance",
        "instantiates": [BULK_DATA],
        "software": {"name": "fhir-sandbox", "version": __version__},
        "implementation": {
            "description": "fhir-sandbox FHIR R4 directory",
            "url": request.base_url,
        },
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json", "application/json", "application/fhir+xml"],
        "patchFormat": [
            "application/json-patch+json",
            "application/fhir+json",
            "application/fhir+xml",
        ],
        "rest": [
            {
                "mode": "server",
                "resource": [_resource(ctx, t) for t in RESOURCE_TYPES],
                "interaction": [{"code": code} for code in SYSTEM_INTERACTIONS],
                "operation": [dict(op) for op in SYSTEM_OPERATIONS],
            }
        ],
    }
    return Result(200, statement)


def _resource(ctx: Context, resource_type: str) -> dict[str, Any]:
    params = ctx.registry.params_for(resource_type)
    references = sorted(c for c, p in params.items() if p.type == "reference")
    inbound = sorted(
        f"{other}:{code}"
        for other in RESOURCE_TYPES
        for code, p in ctx.registry.params_for(other).items()
        if p.type == "reference" and resource_type in p.targets
    )
    entry: dict[str, Any] = {
        "type": resource_type,
        "profile": f"http://hl7.org/fhir/StructureDefinition/{resource_type}",
        "interaction": [{"code": code} for code in TYPE_INTERACTIONS],
        "versioning": "versioned-update",
        "readHistory": True,
        "updateCreate": True,
        "conditionalCreate": True,
        "conditionalRead": "full-support",
        "conditionalUpdate": True,
        "conditionalDelete": "single",
        "searchInclude": [*(f"{resource_type}:{c}" for c in references), "*"],
        "searchRevInclude": inbound,
        "searchParam": [
            {"name": code, "definition": p.url, "type": p.type}
            | ({"documentation": PHONETIC_DOCUMENTATION} if p.phonetic else {})
            for code, p in sorted(params.items())
        ]
        + [{"name": name, "type": kind} for name, kind in _CONTROL_SEARCH],
        "operation": [dict(op) for op in OPERATIONS],
    }
    if not inbound:  # FHIR JSON has no empty arrays: nothing refers to this type
        del entry["searchRevInclude"]
    return entry

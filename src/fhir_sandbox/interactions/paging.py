"""`_count`: the page size asked for, within the configured default and maximum."""

from __future__ import annotations

from fhir_sandbox.errors import Invalid
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.interactions.request import FhirRequest


def page_size(ctx: Context, request: FhirRequest) -> int:
    raw = request.param("_count")
    if raw is None:
        return ctx.default_page_size
    if not raw.isdigit():
        raise Invalid(f"_count must be a whole number, not {raw!r}", code="value")
    return min(int(raw), ctx.max_page_size)

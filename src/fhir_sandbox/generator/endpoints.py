"""Endpoint builders: one Endpoint per EHR instance an organisation runs or ran.

Every organisation has a live instance (endpoint number 1) unless it is a trust that uses
another trust's instance, in which case its Organization references the host's endpoint,
as Chelsea and Westminster references Imperial's Millennium (DESIGN.md 7). Many also have
a retired instance (status ``off``, with a period end) from before a migration — the
LastWord-to-Millennium and EMIS-to-SystmOne moves that make endpoint lists go stale — and
some trusts run a second live instance (e.g. community services on SystmOne).

The vendor mix is by kind of organisation: trusts mostly Millennium, Epic or other; GP
practices EMIS Web or SystmOne; pharmacies other (pharmacy systems). Rates are
tuned to ~1.4 endpoints per organisation over a large directory.
"""

from __future__ import annotations

import random

from . import codes
from .context import OrgContext
from .datatypes import Json, coding, date, meta, period, reference
from .identifiers import child_id
from .layout import Kind

Mix = tuple[tuple[str, float], ...]

LIVE_MIX: dict[Kind, Mix] = {
    Kind.TRUST: (("cerner-millennium", 0.4), ("epic", 0.3), ("other", 0.2), ("systmone", 0.1)),
    Kind.GP: (("emis-web", 0.55), ("systmone", 0.43), ("other", 0.02)),
    Kind.PHARMACY: (("other", 1.0),),  # pharmacy systems are none of the named EHRs
    Kind.INDEPENDENT: (
        ("other", 0.45),
        ("epic", 0.2),
        ("cerner-millennium", 0.15),
        ("systmone", 0.1),
        ("emis-web", 0.1),
    ),
}
RETIRED_MIX: dict[Kind, Mix] = {
    Kind.TRUST: (("lastword", 0.4), ("other", 0.35), ("cerner-millennium", 0.25)),
    Kind.GP: (("emis-web", 0.4), ("systmone", 0.3), ("other", 0.3)),
    Kind.PHARMACY: (("other", 1.0),),
    Kind.INDEPENDENT: (("other", 0.7), ("lastword", 0.15), ("systmone", 0.15)),
}
RETIRED_RATE = {Kind.TRUST: 0.6, Kind.GP: 0.45, Kind.PHARMACY: 0.3, Kind.INDEPENDENT: 0.4}
SHARER_RETIRED_RATE = 0.8  # a trust that moved onto a partner's instance left one behind
SECOND_LIVE_RATE = 0.5  # trusts with a second live instance


def endpoints(ctx: OrgContext) -> list[Json]:
    """The organisation's own Endpoints, live first (so number 1 is the live instance)."""
    rng = ctx.rng
    sharing = ctx.host is not None
    live: list[str] = [] if sharing else [_pick(rng, LIVE_MIX[ctx.kind])]
    if ctx.kind is Kind.TRUST and not sharing and rng.random() < SECOND_LIVE_RATE:
        live.append(_pick(rng, LIVE_MIX[ctx.kind], exclude=live[0]))
    retired_rate = SHARER_RETIRED_RATE if sharing else RETIRED_RATE[ctx.kind]
    retired = rng.random() < retired_rate
    switch_date = date(rng, 2015, 2023)
    ctx.migrated = switch_date
    result: list[Json] = []
    for product in live:
        start = switch_date if retired else date(rng, 2012, 2023)
        result.append(_endpoint(ctx, len(result) + 1, product, period(start)))
    if retired:
        old = _pick(rng, RETIRED_MIX[ctx.kind], exclude=live[0] if live else None)
        span = period(date(rng, 2004, 2014), switch_date)
        result.append(_endpoint(ctx, len(result) + 1, old, span, status="off"))
    return result


def _pick(rng: random.Random, mix: Mix, exclude: str | None = None) -> str:
    """A weighted choice from ``mix``, optionally never ``exclude`` (a migration changes
    product); falls back to "other" if the exclusion empties the mix."""
    options = [(name, weight) for name, weight in mix if name != exclude]
    if not options:
        return "other"
    draw = rng.random() * sum(weight for _, weight in options)
    for name, weight in options:
        draw -= weight
        if draw < 0:
            return name
    return options[-1][0]


def _endpoint(
    ctx: OrgContext, number: int, product: str, span: Json, status: str = "active"
) -> Json:
    """One FHIR R4 REST endpoint served by the sandbox's mock EHR at ``/ehr/{slug}/r4``."""
    slug = f"{ctx.code.lower()}-{product}-{number}"
    display = codes.EHR_PRODUCTS[product]
    suffix = " (retired)" if status == "off" else ""
    return {
        "resourceType": "Endpoint",
        "id": child_id("ep", ctx.index, number),
        "meta": meta(),
        "extension": [
            {"url": codes.FHIR_VERSION_EXT, "valueCode": "4.0.1"},
            {
                "url": codes.EHR_PRODUCT_EXT,
                "valueCoding": coding(codes.EHR_PRODUCT, product, display),
            },
        ],
        "identifier": [{"system": codes.EHR_INSTANCE, "value": slug}],
        "status": status,
        "connectionType": coding(codes.CONNECTION_TYPE, "hl7-fhir-rest", "HL7 FHIR"),
        "name": f"{ctx.name} {display} FHIR R4{suffix}",
        "managingOrganization": reference("Organization", ctx.org_id, ctx.name),
        "period": span,
        "payloadType": [{"coding": [coding(codes.PAYLOAD_TYPE, "any")]}],
        "payloadMimeType": ["application/fhir+json"],
        "address": f"{ctx.base_url}/ehr/{slug}/r4",
    }


def endpoint_references(ctx: OrgContext, own: list[Json]) -> list[Json]:
    """What ``Organization.endpoint`` lists: the host's live instance (if shared), then the
    organisation's own endpoints, retired ones included (their status says they are off)."""
    refs = [reference("Endpoint", resource["id"]) for resource in own]
    if ctx.host is not None:
        refs.insert(0, reference("Endpoint", child_id("ep", ctx.host, 1)))
    return refs

"""Organization, Location and HealthcareService builders.

An organisation's address is also the address of its first Location (its main site or
premises), as in ODS where a practice's or pharmacy's site is where it trades from.
Trusts get 1-3 sites; everyone else one.
"""

from __future__ import annotations

from typing import Any

from . import codes, names
from .codes import LOCATION_TYPES, ODS_ROLES, SERVICE_CATEGORIES, SPECIALTIES
from .context import SPECIALISMS, OrgContext
from .datatypes import Json, concept, identifier, meta, reference
from .geo import address, position
from .identifiers import child_id, org_id, site_code
from .layout import Kind

ODS_ROLE_CODES = {
    Kind.GP: "RO76",
    Kind.PHARMACY: "RO182",
    Kind.INDEPENDENT: "RO172",
}
TRUST_SERVICES = (
    ("Outpatient Clinics", "27", "general-medicine"),
    ("Maternity Services", "28", "obstetrics"),
    ("Cancer Services", "27", "oncology"),
    ("Diagnostic Imaging", "30", "radiology"),
    ("Orthopaedic Surgery", "31", "orthopaedics"),
)


def organization(ctx: OrgContext, endpoints: list[Json], part_of: int | None) -> Json:
    """The Organization; ``endpoints`` are references already built by the caller."""
    resource: dict[str, Any] = {
        "resourceType": "Organization",
        "id": ctx.org_id,
        "meta": meta(),
        "identifier": [identifier(codes.ODS_ORG, ctx.code)],
        "active": True,
        "type": _types(ctx),
        "name": ctx.name,
        "telecom": [
            {"system": "phone", "value": ctx.phone, "use": "work"},
            {"system": "email", "value": f"enquiries@{ctx.code.lower()}.example", "use": "work"},
        ],
        "address": [_main_address(ctx)],
    }
    if part_of is not None:
        resource["partOf"] = reference("Organization", org_id(part_of))
    if endpoints:
        resource["endpoint"] = endpoints
    return resource


def _types(ctx: OrgContext) -> list[Json]:
    """ODS role(s) plus the R4 "prov" type; a foundation trust is also an NHS trust in ODS."""
    if ctx.kind is Kind.TRUST:
        roles = ["RO197", "RO57"] if ctx.foundation else ["RO197"]
    else:
        roles = [ODS_ROLE_CODES[ctx.kind]]
    types = [concept(codes.ODS_ROLE, role, ODS_ROLES[role]) for role in roles]
    types.append(concept(codes.ORG_TYPE, "prov", "Healthcare Provider"))
    return types


def _main_address(ctx: OrgContext) -> Json:
    """A fresh copy of the organisation's address (consumers may mutate what we yield)."""
    return {**ctx.address, "line": list(ctx.address["line"])}


def locations(ctx: OrgContext) -> list[Json]:
    """The organisation's sites; records their ids on the context for roles and services."""
    count = ctx.rng.randint(1, 3) if ctx.kind is Kind.TRUST else 1
    result: list[Json] = []
    for number in range(1, count + 1):
        location_id = child_id("loc", ctx.index, number)
        ctx.location_ids.append(location_id)
        result.append(_location(ctx, location_id, number))
    return result


def _location(ctx: OrgContext, location_id: str, number: int) -> Json:
    """One site; the first is at the organisation's address, others in nearby towns."""
    rng = ctx.rng
    if number == 1:
        town, site_address = ctx.town, _main_address(ctx)
    else:
        town = names.bare_place(rng)
        site_address = address(rng, ctx.region, names.street(rng), town, ctx.county)
    type_code, name, physical = _site_kind(ctx, number, town)
    return {
        "resourceType": "Location",
        "id": location_id,
        "meta": meta(),
        "identifier": [identifier(codes.ODS_SITE, site_code(ctx.code, number))],
        "status": "active",
        "name": name,
        "mode": "instance",
        "type": [concept(codes.ROLE_CODE, type_code, LOCATION_TYPES[type_code])],
        "telecom": [{"system": "phone", "value": ctx.phone, "use": "work"}],
        "address": site_address,
        "physicalType": physical,
        "position": position(rng, ctx.region),
        "managingOrganization": reference("Organization", ctx.org_id, ctx.name),
    }


def _site_kind(ctx: OrgContext, number: int, town: str) -> tuple[str, str, Json]:
    """Location type code, name and physical type for a site of this organisation."""
    building = concept(codes.PHYSICAL_TYPE, "bu", "Building")
    if ctx.kind is Kind.TRUST:
        name = names.hospital_site_name(ctx.rng, town, main=number == 1)
        return "HOSP", name, concept(codes.PHYSICAL_TYPE, "si", "Site")
    if ctx.kind is Kind.GP:
        return "PC", ctx.name, building
    if ctx.kind is Kind.PHARMACY:
        return "PHARM", ctx.name, building
    return SPECIALISMS[ctx.specialism][1], ctx.name, building


def services(ctx: OrgContext) -> list[Json]:
    """One HealthcareService per site (call after ``locations``)."""
    result: list[Json] = []
    for number, location_id in enumerate(ctx.location_ids, start=1):
        service_id = child_id("hcs", ctx.index, number)
        ctx.service_ids.append(service_id)
        name, category, specialty = _service_kind(ctx, number)
        resource: dict[str, Any] = {
            "resourceType": "HealthcareService",
            "id": service_id,
            "meta": meta(),
            "active": True,
            "providedBy": reference("Organization", ctx.org_id, ctx.name),
            "category": [concept(codes.SERVICE_CATEGORY, category, SERVICE_CATEGORIES[category])],
            "location": [reference("Location", location_id)],
            "name": name,
            "telecom": [{"system": "phone", "value": ctx.phone, "use": "work"}],
        }
        if specialty:
            resource["specialty"] = [concept(codes.SNOMED, *SPECIALTIES[specialty])]
        result.append(resource)
    return result


def _service_kind(ctx: OrgContext, number: int) -> tuple[str, str, str]:
    """(name, service-category code, specialty key or "") for a service at site ``number``."""
    if ctx.kind is Kind.TRUST:
        if number == 1:
            return "Emergency Department", "14", "emergency"
        return ctx.rng.choice(TRUST_SERVICES)
    if ctx.kind is Kind.GP:
        return "General Practice Services", "17", "general-practice"
    if ctx.kind is Kind.PHARMACY:
        return "Community Pharmacy Services", "7", ""
    _, _, category, name = SPECIALISMS[ctx.specialism]
    return name, category, ctx.specialism

"""Practitioner and PractitionerRole builders.

Staff numbers by kind average ~2 per organisation over a large directory: trusts 4-8
(only a sample of a trust's staff: enough to exercise searches), practices 1-4 (the first
is always a GP), pharmacies 1-2 pharmacists, independent providers 1-3. Each practitioner
has one role at the organisation; about 5% of roles have ended (period end, inactive).
Registration numbers come from ``identifiers`` (synthetic ranges, see its docstring).
"""

from __future__ import annotations

from typing import Any

from . import codes, names
from .codes import HOSPITAL_SPECIALTIES, ROLE_DISPLAYS, SPECIALTIES
from .context import OrgContext
from .datatypes import Json, concept, date, identifier, meta, period, reference
from .identifiers import MAX_PHARMACISTS, child_id, gmc_number, gphc_number, nmc_pin, sds_user_id
from .layout import Kind

# role -> (register system, issuer, qualification text, share of women)
REGISTERS: dict[str, tuple[str, str, str, float]] = {
    "doctor": (codes.GMC, "General Medical Council", "MBBS", 0.5),
    "nurse": (codes.NMC, "Nursing and Midwifery Council", "BSc (Hons) Nursing", 0.88),
    "pharmacist": (codes.GPHC, "General Pharmaceutical Council", "MPharm", 0.62),
}
ENDED_ROLE_RATE = 0.05


def staff_roles(ctx: OrgContext) -> list[str]:
    """The practitioner-role code of each member of staff, in order."""
    rng = ctx.rng
    if ctx.kind is Kind.PHARMACY:
        return ["pharmacist"] * (2 if rng.random() < 0.2 else 1)
    if ctx.kind is Kind.TRUST:
        count, first = rng.randint(4, 8), None
    elif ctx.kind is Kind.GP:
        count, first = rng.randint(1, 4), "doctor"
    else:
        count, first = rng.randint(1, 3), None
    roles = [first] if first else []
    while len(roles) < count:
        draw = rng.random()
        role = "doctor" if draw < 0.5 else "nurse" if draw < 0.9 else "pharmacist"
        if ctx.kind is Kind.INDEPENDENT and role == "pharmacist":
            role = "nurse"
        if role == "pharmacist" and roles.count("pharmacist") >= MAX_PHARMACISTS:
            role = "nurse"
        roles.append(role)
    return roles


def people(ctx: OrgContext) -> tuple[list[Json], list[Json]]:
    """(Practitioners, PractitionerRoles) for the organisation; call after ``services``."""
    practitioners: list[Json] = []
    roles: list[Json] = []
    slots = {"doctor": 0, "nurse": 0, "pharmacist": 0}
    for number, role in enumerate(staff_roles(ctx), start=1):
        practitioner = _practitioner(ctx, number, role, slots[role])
        slots[role] += 1
        practitioners.append(practitioner)
        roles.append(_role(ctx, number, role, practitioner))
    return practitioners, roles


def _registration(ctx: OrgContext, role: str, slot: int) -> str:
    """The register number for the ``slot``-th practitioner with this role."""
    if role == "doctor":
        return gmc_number(ctx.index, slot)
    if role == "nurse":
        return nmc_pin(ctx.index, slot)
    return gphc_number(ctx.index, slot)


def _practitioner(ctx: OrgContext, number: int, role: str, slot: int) -> Json:
    """A Practitioner with register number, SDS user id and the registration as a
    qualification (what UK directories record, rather than degrees)."""
    rng = ctx.rng
    system, issuer, degree, women = REGISTERS[role]
    draw = rng.random()
    gender = "unknown" if draw < 0.01 else "female" if draw < women else "male"
    family, first = names.surname(rng), names.given(rng, gender)
    name: dict[str, Any] = {"use": "official", "family": family, "given": [first]}
    if role == "doctor":
        name["prefix"] = ["Dr"]
    registration = _registration(ctx, role, slot)
    email = f"{first.lower()}.{family.lower()}{number}@{ctx.code.lower()}.example"
    return {
        "resourceType": "Practitioner",
        "id": child_id("prac", ctx.index, number),
        "meta": meta(),
        "identifier": [
            identifier(system, registration),
            identifier(codes.SDS_USER, sds_user_id(ctx.index, number - 1)),
        ],
        "active": True,
        "name": [name],
        "telecom": [{"system": "email", "value": email, "use": "work"}],
        "gender": gender,
        "qualification": [
            {
                "identifier": [identifier(system, registration)],
                "code": {"text": degree},
                "period": {"start": date(rng, 1985, 2004)},  # before any role starts
                "issuer": {"display": issuer},
            }
        ],
    }


def _role(ctx: OrgContext, number: int, role: str, practitioner: Json) -> Json:
    """The practitioner's role at the organisation, at one of its sites and services."""
    rng = ctx.rng
    site = rng.randrange(len(ctx.location_ids))
    start = date(rng, 2005, 2023)
    ended = rng.random() < ENDED_ROLE_RATE
    human = practitioner["name"][0]
    display = f"{' '.join(human.get('prefix', []) + human['given'])} {human['family']}"
    resource: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "id": child_id("role", ctx.index, number),
        "meta": meta(),
        "active": not ended,
        "period": period(start, date(rng, 2024, 2025) if ended else None),
        "practitioner": reference("Practitioner", practitioner["id"], display),
        "organization": reference("Organization", ctx.org_id, ctx.name),
        "code": [concept(codes.PRACTITIONER_ROLE, role, ROLE_DISPLAYS[role])],
        "location": [reference("Location", ctx.location_ids[site])],
        "healthcareService": [reference("HealthcareService", ctx.service_ids[site])],
        "telecom": [{"system": "phone", "value": ctx.phone, "use": "work"}],
    }
    specialty = _specialty(ctx, role)
    if specialty:
        resource["specialty"] = [concept(codes.SNOMED, *SPECIALTIES[specialty])]
    return resource


def _specialty(ctx: OrgContext, role: str) -> str:
    """Specialty key for a role, "" for community pharmacists (no fitting SNOMED code)."""
    if ctx.kind is Kind.GP:
        return "general-practice"
    if ctx.kind is Kind.INDEPENDENT:
        return ctx.specialism
    if ctx.kind is Kind.TRUST and role != "pharmacist":
        return ctx.rng.choice(HOSPITAL_SPECIALTIES)
    return ""

"""Links between organisations: ``Organization.partOf`` and OrganizationAffiliation.

Links always point to an earlier organisation, so the stream stays referentially ordered.

* partOf: some practices are run by their local trust (vertical integration), pharmacies
  belong to chains and independent providers to groups; a chain's head office is the first
  pharmacy (or independent provider) of some earlier block.
* Affiliations (~0.1 per organisation): independent providers commissioned by their local
  trust (``provider``), practices in a trust-led partnership (``member``), pharmacies
  working with a nearby practice (``provider``), and trust-to-trust research or shared-record
  partnerships (``research``, ``HIE/HIO``); a trust using another trust's EHR instance
  always has an ``HIE/HIO`` affiliation with its host, carrying the shared endpoint.
"""

from __future__ import annotations

from typing import Any, Final

from . import codes
from .codes import SPECIALTIES
from .context import OrgContext
from .datatypes import Json, concept, date, meta, period, reference
from .identifiers import child_id, org_id
from .layout import Kind, block_trust, earlier_trust, group_head, nearest_earlier

PART_OF_RATE: Final = {Kind.GP: 0.06, Kind.PHARMACY: 0.35, Kind.INDEPENDENT: 0.25}
AFFILIATION_RATE: Final = {
    Kind.TRUST: 0.25,
    Kind.GP: 0.08,
    Kind.PHARMACY: 0.05,
    Kind.INDEPENDENT: 0.3,
}
ROLE_DISPLAYS: Final = {
    "provider": "Provider",
    "member": "Member",
    "research": "Research",
    "HIE/HIO": "HIE/HIO",
}


def parent(ctx: OrgContext) -> int | None:
    """The organisation this one is part of, if any."""
    rate = PART_OF_RATE.get(ctx.kind, 0.0)
    if ctx.rng.random() >= rate:
        return None
    if ctx.kind is Kind.GP:
        return block_trust(ctx.index)
    return group_head(ctx.seed, ctx.index, ctx.kind, ctx.rng)


def affiliations(ctx: OrgContext) -> list[Json]:
    """Zero or one OrganizationAffiliation with this organisation as participant."""
    target = _target(ctx)
    if target is None:
        return []
    primary, role = target
    resource: dict[str, Any] = {
        "resourceType": "OrganizationAffiliation",
        "id": child_id("aff", ctx.index, 1),
        "meta": meta(),
        "active": True,
        "period": period(ctx.migrated if ctx.host is not None else date(ctx.rng, 2010, 2024)),
        "organization": reference("Organization", org_id(primary)),
        "participatingOrganization": reference("Organization", ctx.org_id, ctx.name),
        "code": [concept(codes.ORG_ROLE, role, ROLE_DISPLAYS[role])],
    }
    if ctx.kind is Kind.INDEPENDENT:
        resource["specialty"] = [concept(codes.SNOMED, *SPECIALTIES[ctx.specialism])]
    if ctx.host is not None:
        resource["endpoint"] = [reference("Endpoint", child_id("ep", ctx.host, 1))]
    return [resource]


def _target(ctx: OrgContext) -> tuple[int, str] | None:
    """(primary organisation index, organization-role code), or None."""
    if ctx.host is not None:
        return ctx.host, "HIE/HIO"
    if ctx.rng.random() >= AFFILIATION_RATE[ctx.kind]:
        return None
    if ctx.kind is Kind.TRUST:
        partner = earlier_trust(ctx.index, ctx.rng)
        role = "research" if ctx.rng.random() < 0.5 else "HIE/HIO"
        return None if partner is None else (partner, role)
    if ctx.kind is Kind.PHARMACY:
        practice = nearest_earlier(ctx.seed, ctx.index, Kind.GP)
        return None if practice is None else (practice, "provider")
    role = "member" if ctx.kind is Kind.GP else "provider"
    return block_trust(ctx.index), role

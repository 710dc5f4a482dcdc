"""The directory as a stream of resources, organisation by organisation.

Order within an organisation: Organization, its Endpoints, Locations, HealthcareServices,
Practitioners, PractitionerRoles, OrganizationAffiliations. Every reference points to a
resource earlier in the stream, with one unavoidable exception: ``Organization.endpoint``
and ``Endpoint.managingOrganization`` reference each other, so the organisation's own
Endpoints follow it immediately (loaders that check references should load each
organisation's group together, e.g. in one transaction). Links to other organisations
(partOf, affiliations, shared endpoints) always point to earlier ones.
"""

from __future__ import annotations

from collections.abc import Iterator

from .context import new_context
from .datatypes import Json
from .endpoints import endpoint_references, endpoints
from .layout import instance_host, uses_shared_instance
from .links import affiliations, parent
from .organizations import locations, organization, services
from .people import people

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


def iter_directory(
    organizations: int, seed: int, public_base_url: str = DEFAULT_BASE_URL
) -> Iterator[Json]:
    """Yield the synthetic directory's resources as JSON-ready dicts.

    Same arguments, same resources: each organisation is generated from ``(seed, index)``
    only. Memory is constant: one organisation's resources are alive at a time.
    ``public_base_url`` is where the sandbox is reachable, used for Endpoint addresses.
    """
    if organizations < 0:
        raise ValueError("organizations must be >= 0")
    base_url = public_base_url.rstrip("/")
    for index in range(organizations):
        yield from organisation_resources(seed, index, base_url)


def organisation_resources(seed: int, index: int, base_url: str) -> list[Json]:
    """All resources owned by organisation ``index``, in stream order."""
    ctx = new_context(seed, index, base_url)
    if uses_shared_instance(seed, index):
        ctx.host = instance_host(seed, index, ctx.rng)
    part_of = parent(ctx)
    own_endpoints = endpoints(ctx)
    org = organization(ctx, endpoint_references(ctx, own_endpoints), part_of)
    sites = locations(ctx)
    offered = services(ctx)
    practitioners, roles = people(ctx)
    return [org, *own_endpoints, *sites, *offered, *practitioners, *roles, *affiliations(ctx)]

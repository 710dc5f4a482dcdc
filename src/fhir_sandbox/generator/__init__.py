"""Deterministic synthetic UK-like care-provider directory (DESIGN.md 7).

``iter_directory`` streams FHIR R4 resources (Organization, Endpoint, Location,
HealthcareService, Practitioner, PractitionerRole, OrganizationAffiliation) for N
organisations; ``write_ndjson`` writes them as one NDJSON file per type. Everything is
fictional and labelled HTEST; see ``identifiers`` for why identifiers cannot collide with
real ones and ``layout`` for how the directory is shaped.
"""

from .directory import DEFAULT_BASE_URL, iter_directory
from .ndjson import write_ndjson

__all__ = ["DEFAULT_BASE_URL", "iter_directory", "write_ndjson"]

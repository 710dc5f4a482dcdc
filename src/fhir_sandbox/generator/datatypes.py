"""Small constructors for FHIR datatypes as plain JSON-ready dicts.

Every call returns fresh objects: consumers (the loader adds ``meta.versionId``) mutate what
we yield, so sharing one dict between resources would corrupt the whole stream. Plain dicts
rather than pydantic models because the generator must produce tens of thousands of
resources per second; validity is checked once, in the tests, against the R4B models.
"""

from __future__ import annotations

import random
from typing import Any

from .codes import ACT_REASON

Json = dict[str, Any]


def meta() -> Json:
    """Label the resource as test data (DESIGN.md 7): every generated resource is synthetic."""
    return {"security": [{"system": ACT_REASON, "code": "HTEST"}]}


def coding(system: str, code: str, display: str | None = None) -> Json:
    """One Coding; the display is optional because some tables have none worth repeating."""
    if display is None:
        return {"system": system, "code": code}
    return {"system": system, "code": code, "display": display}


def concept(system: str, code: str, display: str | None = None) -> Json:
    """A CodeableConcept with a single coding and the display as text, for human readers."""
    if display is None:
        return {"coding": [coding(system, code)]}
    return {"coding": [coding(system, code, display)], "text": display}


def identifier(system: str, value: str) -> Json:
    """An official identifier: every generated identifier is the authoritative one."""
    return {"use": "official", "system": system, "value": value}


def reference(resource_type: str, resource_id: str, display: str | None = None) -> Json:
    """A literal relative reference, which the server and the tests resolve by ``Type/id``."""
    if display is None:
        return {"reference": f"{resource_type}/{resource_id}"}
    return {"reference": f"{resource_type}/{resource_id}", "display": display}


def date(rng: random.Random, first_year: int, last_year: int) -> str:
    """A date in [first_year, last_year] from one draw; days stop at 28 so every month is
    valid."""
    offset = int(rng.random() * (last_year - first_year + 1) * 336)  # 12 months x 28 days
    years, rest = divmod(offset, 336)
    month, day = divmod(rest, 28)
    return f"{first_year + years:04d}-{month + 1:02d}-{day + 1:02d}"


def period(start: str, end: str | None = None) -> Json:
    """A Period; open-ended unless an end is given (retired endpoints, former roles)."""
    if end is None:
        return {"start": start}
    return {"start": start, "end": end}

"""Distance for `near` (https://hl7.org/fhir/R4/location.html#positional).

An equirectangular approximation with the cosine of the query latitude fixed when the query
is parsed, so both engines compute the same thing with plain arithmetic (no trigonometry
needed in SQL). Error is well under 1% at directory distances (< 500 km).
"""

from __future__ import annotations

import math

KM_PER_DEGREE_LAT = 110.574
KM_PER_DEGREE_LON_AT_EQUATOR = 111.320


def lon_scale(lat: float) -> float:
    """km per degree of longitude at a latitude."""
    return KM_PER_DEGREE_LON_AT_EQUATOR * math.cos(math.radians(lat))


def distance_sq_km(lat: float, lon: float, lat0: float, lon0: float, scale: float) -> float:
    dy = (lat - lat0) * KM_PER_DEGREE_LAT
    dx = (lon - lon0) * scale
    return dx * dx + dy * dy

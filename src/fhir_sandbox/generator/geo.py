"""Geography: regions, coordinates, postcodes, phone numbers and addresses.

Why these choices:

* Coordinates are real-looking so that ``Location?near=`` queries behave as they would on
  a national directory: each region is centred near a real UK conurbation (so points fall
  on land, inside the UK bounding box) with a small random jitter.
* Postcodes have a valid UK format (``AA9 9AA`` / ``AA99 9AA``) but their area letters
  start with Q or V, letters Royal Mail never uses in the first position, so no generated
  postcode can exist.
* Phone numbers come from Ofcom's ranges reserved for TV and radio drama (for example
  020 7946 0000-0999, 0161 496 0000-0999, 01632 960000-960999), which are never allocated
  to subscribers.
* Email addresses use the reserved ``.example`` top-level domain (RFC 2606).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from .datatypes import Json

UK_LAT: Final = (49.9, 60.9)
UK_LON: Final = (-8.2, 1.8)
JITTER: Final = 0.18
UNIT_LETTERS: Final = "ABDEFGHJLNPQRSTUWXYZ"  # the letters Royal Mail uses in units


@dataclass(frozen=True, slots=True)
class Region:
    """Where a block of organisations sits: a centre, a drama phone range and a postcode area."""

    lat: float
    lon: float
    phone_prefix: str  # the drama range minus its last three digits
    postcode_area: str


def _region(lat: float, lon: float, phone_prefix: str, area: str) -> Region:
    return Region(lat, lon, phone_prefix, area)


# Centres near real conurbations (so points fall on land); phone prefixes are Ofcom
# drama ranges (01632 960 where the area has no dedicated one); areas are fictional.
REGIONS: Final = (
    _region(51.51, -0.13, "020 7946 0", "QA"),
    _region(51.45, -0.02, "020 7946 0", "QB"),
    _region(51.56, -0.28, "020 7946 0", "QC"),
    _region(52.48, -1.90, "0121 496 0", "QD"),
    _region(53.48, -2.24, "0161 496 0", "QE"),
    _region(53.80, -1.55, "0113 496 0", "QF"),
    _region(53.38, -1.47, "0114 496 0", "QG"),
    _region(52.95, -1.15, "0115 496 0", "QH"),
    _region(52.64, -1.13, "0116 496 0", "QK"),
    _region(51.45, -2.59, "0117 496 0", "QL"),
    _region(51.45, -0.97, "0118 496 0", "QM"),
    _region(53.41, -2.98, "0151 496 0", "QN"),
    _region(54.97, -1.61, "0191 498 0", "QP"),
    _region(55.95, -3.19, "0131 496 0", "QR"),
    _region(55.86, -4.25, "0141 496 0", "QS"),
    _region(54.60, -5.93, "028 9649 6", "QT"),
    _region(51.48, -3.18, "029 2018 0", "QU"),
    _region(52.20, 0.12, "01632 960", "VA"),
    _region(51.75, -1.26, "01632 960", "VB"),
    _region(52.63, 1.30, "01632 960", "VC"),
    _region(50.72, -3.53, "01632 960", "VD"),
    _region(50.90, -1.40, "01632 960", "VE"),
    _region(50.83, -0.14, "01632 960", "VF"),
    _region(53.96, -1.08, "01632 960", "VG"),
    _region(57.15, -2.09, "01632 960", "VH"),
)


def position(rng: random.Random, region: Region) -> Json:
    """A point near the region centre, rounded to ~10 m and clamped to the UK box."""
    lat = min(max(region.lat + rng.uniform(-JITTER, JITTER), UK_LAT[0]), UK_LAT[1])
    lon = min(max(region.lon + rng.uniform(-JITTER, JITTER), UK_LON[0]), UK_LON[1])
    return {"latitude": round(lat, 5), "longitude": round(lon, 5)}


def postcode(rng: random.Random, region: Region) -> str:
    """A well-formed postcode in the region's fictional Q/V area."""
    unit = rng.choice(UNIT_LETTERS) + rng.choice(UNIT_LETTERS)
    return f"{region.postcode_area}{rng.randint(1, 39)} {rng.randint(0, 9)}{unit}"


def phone(rng: random.Random, region: Region) -> str:
    """A number in the region's drama range (the last three digits vary)."""
    return f"{region.phone_prefix}{rng.randint(0, 999):03d}"


def address(rng: random.Random, region: Region, street: str, city: str, county: str) -> Json:
    """A UK work address; the house number is random, the rest comes from the caller."""
    return {
        "use": "work",
        "type": "both",
        "line": [f"{rng.randint(1, 240)} {street}"],
        "city": city,
        "district": county,
        "postalCode": postcode(rng, region),
        "country": "GB",
    }

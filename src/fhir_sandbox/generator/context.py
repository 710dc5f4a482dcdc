"""Per-organisation generation state.

One ``OrgContext`` is built per organisation and dropped when its resources have been
yielded, which is what keeps generation in constant memory. It owns the organisation's
private random stream, ``Stream(f"{seed}:{index}")`` (a ``random.Random``): a string seed is hashed
(SHA-512) by ``random``, so streams for neighbouring indices are unrelated and the output
for an organisation never depends on how many organisations came before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import names
from .datatypes import Json
from .geo import Region, address, phone
from .identifiers import ods_code, org_id
from .layout import BLOCK, Kind, kind_of, region_of, unit
from .rand import Stream

FOUNDATION_RATE = 0.6  # share of trusts that are foundation trusts

# Independent providers' specialisms: key -> (name pattern, Location type, category, service)
SPECIALISMS: dict[str, tuple[str, str, str, str]] = {
    "ophthalmology": ("{town} Eye Clinic", "OF", "27", "Ophthalmology Clinic"),
    "orthopaedics": ("{town} Orthopaedic Hospital", "HOSP", "31", "Orthopaedic Surgery"),
    "radiology": ("{town} Diagnostics Ltd", "OF", "30", "Diagnostic Imaging"),
    "dermatology": ("{town} Skin Clinic", "OF", "27", "Dermatology Clinic"),
    "general-surgery": ("{town} Surgical Centre", "HOSP", "31", "Day Surgery"),
    "psychiatry": ("{town} Mental Health Services", "OF", "22", "Mental Health Service"),
    "rehabilitation": ("{town} Rehabilitation Centre", "OF", "34", "Rehabilitation Service"),
}
SPECIALISM_KEYS = tuple(SPECIALISMS)


@dataclass(slots=True)
class OrgContext:
    """What the builders of one organisation's resources share."""

    seed: int
    index: int
    kind: Kind
    rng: Stream
    region: Region
    base_url: str
    code: str
    org_id: str
    town: str
    county: str
    name: str = ""
    phone: str = ""
    address: Json = field(default_factory=dict)
    foundation: bool = False
    specialism: str = ""
    host: int | None = None  # the trust whose EHR instance this trust uses
    migrated: str = ""  # when the organisation last changed EHR instance
    location_ids: list[str] = field(default_factory=list)
    service_ids: list[str] = field(default_factory=list)


def new_context(seed: int, index: int, base_url: str) -> OrgContext:
    """Create the context and draw the organisation's identity (name, phone, specialism)."""
    rng = Stream(f"{seed}:{index}")
    ctx = OrgContext(
        seed=seed,
        index=index,
        kind=kind_of(seed, index),
        rng=rng,
        region=region_of(seed, index),
        base_url=base_url,
        code=ods_code(index),
        org_id=org_id(index),
        town=names.place(rng),
        county=names.county(unit(seed, index // BLOCK, "county")),
    )
    ctx.phone = phone(rng, ctx.region)
    ctx.address = address(rng, ctx.region, names.street(rng), ctx.town, ctx.county)
    ctx.name = _name(ctx)
    return ctx


def _name(ctx: OrgContext) -> str:
    """The organisation's name, by kind (sets the trust and specialism flags on the way)."""
    rng = ctx.rng
    if ctx.kind is Kind.TRUST:
        ctx.foundation = rng.random() < FOUNDATION_RATE
        return names.trust_name(rng, ctx.town, ctx.foundation)
    if ctx.kind is Kind.GP:
        return names.gp_name(rng, ctx.town)
    if ctx.kind is Kind.PHARMACY:
        return names.pharmacy_name(rng, ctx.town)
    ctx.specialism = rng.choice(SPECIALISM_KEYS)
    return SPECIALISMS[ctx.specialism][0].format(town=ctx.town)

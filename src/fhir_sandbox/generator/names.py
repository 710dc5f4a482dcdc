"""Synthetic names for places, people, streets and organisations.

Names matter for search tests (``name=``, ``name:contains``, ``family=``), so they are
varied, British-sounding and sometimes multi-word, but built from invented stems (see
``words``) so nothing names a real organisation or clinician.
"""

from __future__ import annotations

import random

from .words import (
    COUNTY_ENDINGS,
    FEMALE_NAMES,
    MALE_NAMES,
    PLACE_ENDINGS,
    PLACE_PREFIXES,
    STEMS,
    STREET_ENDINGS,
    STREET_STEMS,
    SURNAME_ENDINGS,
)


def place(rng: random.Random) -> str:
    """A town name such as "Great Vaskbury"."""
    return rng.choice(PLACE_PREFIXES) + rng.choice(STEMS) + rng.choice(PLACE_ENDINGS)


def bare_place(rng: random.Random) -> str:
    """A town name without "Upper"/"Great", for names that prefix it ("Vaskbury Road")."""
    return rng.choice(STEMS) + rng.choice(PLACE_ENDINGS)


def county(draw: float) -> str:
    """A fictional county ("Zornshire", "Dask Vale") from a [0, 1) draw, so a whole block
    of organisations can share one county without sharing a random stream."""
    combination = int(draw * len(STEMS) * len(COUNTY_ENDINGS))
    stem, ending = divmod(combination, len(COUNTY_ENDINGS))
    return STEMS[stem] + COUNTY_ENDINGS[ending]


def surname(rng: random.Random) -> str:
    """A fictional surname ("Quorington", "Vaskley")."""
    return rng.choice(STEMS) + rng.choice(SURNAME_ENDINGS)


def given(rng: random.Random, gender: str) -> str:
    """A common first name matching the recorded gender (either list for other/unknown)."""
    if gender == "female":
        return rng.choice(FEMALE_NAMES)
    if gender == "male":
        return rng.choice(MALE_NAMES)
    return rng.choice(FEMALE_NAMES if rng.random() < 0.5 else MALE_NAMES)


def street(rng: random.Random) -> str:
    """A street name, half generic ("Station Road"), half local ("Quorbury Lane")."""
    stem = rng.choice(STREET_STEMS) if rng.random() < 0.5 else bare_place(rng)
    return f"{stem} {rng.choice(STREET_ENDINGS)}"


def trust_name(rng: random.Random, town: str, foundation: bool) -> str:
    """An NHS trust name; foundation trusts say so, as in the real register."""
    body = rng.choice(
        (
            f"{town} University Hospitals",
            f"{town} Hospitals",
            f"{town} and {bare_place(rng)} Hospitals",
            f"{town} Teaching Hospitals",
            f"{town} Healthcare",
        )
    )
    return f"{body} NHS Foundation Trust" if foundation else f"{body} NHS Trust"


def gp_name(rng: random.Random, town: str) -> str:
    """A GP practice name in one of the common UK patterns."""
    pattern = rng.randrange(5)
    if pattern == 0:
        return f"{town} Medical Centre"
    if pattern == 1:
        return f"{rng.choice(STREET_STEMS)} Street Surgery"
    if pattern == 2:
        return f"The {town} Practice"
    if pattern == 3:
        return f"{town} Health Centre"
    return f"Dr {surname(rng)} and Partners"


def pharmacy_name(rng: random.Random, town: str) -> str:
    """A community pharmacy name."""
    pattern = rng.randrange(3)
    if pattern == 0:
        return f"{surname(rng)} Pharmacy"
    if pattern == 1:
        return f"{town} Pharmacy"
    return f"{town} Chemist"


def hospital_site_name(rng: random.Random, town: str, main: bool) -> str:
    """A trust site: the main site is the big hospital, others are smaller."""
    if main:
        return rng.choice(
            (f"{town} General Hospital", f"{town} Royal Infirmary", f"{town} University Hospital")
        )
    return rng.choice(
        (f"{town} Community Hospital", f"{town} Hospital", f"{town} Treatment Centre")
    )

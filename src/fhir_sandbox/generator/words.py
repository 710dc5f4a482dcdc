"""Word lists for synthetic names.

Place names and surnames are built from invented stems with English-sounding endings
("Quorbury", "Vaskley") so they read as British but are plainly fictional; any resemblance
to a real place or person is coincidental. Given names are common UK first names: on their
own they identify nobody, and a synthetic surname always follows them.
"""

from __future__ import annotations

from typing import Final

STEMS: Final = (
    "Quor", "Vask", "Zell", "Thrix", "Yarv", "Cwel", "Dorv", "Fenx", "Glim", "Jorv",
    "Kesk", "Lorm", "Mirv", "Norv", "Ospr", "Pryl", "Quill", "Rusk", "Skarv", "Tyrn",
    "Uxl", "Wrisk", "Yelm", "Zorn", "Crov", "Dask", "Grel", "Hosk", "Vell", "Frin",
)  # fmt: skip

PLACE_ENDINGS: Final = (
    "bury", "ford", "ham", "ley", "mouth", "wick", "worth", "stead", "combe", "caster",
    "thorpe", "by", "field", "minster", "well", "dale", "holt", "hurst", "gate", "bridge",
)  # fmt: skip

SURNAME_ENDINGS: Final = (
    "ington", "ley", "wood", "ridge", "man", "son", "well", "more", "cott", "by",
    "er", "en", "ard", "ock", "ett", "ow",
)  # fmt: skip

PLACE_PREFIXES: Final = ("", "", "", "", "Upper ", "Lower ", "Great ", "Little ", "Market ")

COUNTY_ENDINGS: Final = ("shire", "shire", "shire", " Vale", " Downs", "land")

FEMALE_NAMES: Final = (
    "Olivia", "Amelia", "Isla", "Ava", "Mia", "Sophia", "Grace", "Lily", "Freya", "Emily",
    "Ella", "Poppy", "Aisha", "Priya", "Chloe", "Hannah", "Zara", "Ruth", "Niamh", "Fatima",
    "Sarah", "Rachel", "Joanne", "Helen", "Catherine", "Megan", "Rhiannon", "Ayesha",
)  # fmt: skip

MALE_NAMES: Final = (
    "Oliver", "George", "Noah", "Arthur", "Leo", "Harry", "Oscar", "Jack", "Charlie",
    "Thomas", "James", "William", "Mohammed", "Arjun", "Daniel", "Samuel", "Callum",
    "Rhys", "Connor", "David", "Michael", "Andrew", "Ibrahim", "Kwame", "Ewan", "Owen",
)  # fmt: skip

STREET_STEMS: Final = (
    "High", "Church", "Station", "Mill", "Park", "Victoria", "Manor", "Chapel", "Market",
    "Bridge", "Orchard", "Meadow", "Westgate", "School", "Green", "Castle", "Kingsway",
)  # fmt: skip

STREET_ENDINGS: Final = (
    "Road", "Street", "Lane", "Avenue", "Way", "Close", "Crescent", "Hill", "Gardens",
    "Terrace", "Parade",
)  # fmt: skip

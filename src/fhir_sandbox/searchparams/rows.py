"""Index rows: the typed, normalised values a resource contributes to search.

One row type per SearchParameter type, mirroring the one-table-per-type storage design.
Rows are hashable so an update can apply only the difference (HAPI's approach).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

#: Bump when extraction or normalisation changes what rows a resource gets: it is part of
#: the registry fingerprint, so existing data is reindexed at the next start.
INDEX_FORMAT = "2"


class StringRow(NamedTuple):
    code: str
    norm: str
    exact: str


class TokenRow(NamedTuple):
    code: str
    system: str
    value: str
    text: str


class ReferenceRow(NamedTuple):
    code: str
    target_type: str
    target_id: str
    url: str
    ident_system: str
    ident_value: str


class DateRow(NamedTuple):
    code: str
    low: str
    high: str


class UriRow(NamedTuple):
    code: str
    uri: str


class GeoRow(NamedTuple):
    code: str
    lat: float
    lon: float


@dataclass
class IndexRows:
    """Every index row of one resource version, by table."""

    string: set[StringRow] = field(default_factory=set)
    token: set[TokenRow] = field(default_factory=set)
    reference: set[ReferenceRow] = field(default_factory=set)
    date: set[DateRow] = field(default_factory=set)
    uri: set[UriRow] = field(default_factory=set)
    geo: set[GeoRow] = field(default_factory=set)

    TABLES = ("string", "token", "reference", "date", "uri", "geo")
    ROW_TYPES: ClassVar[dict[str, type[tuple[Any, ...]]]] = {
        "string": StringRow,
        "token": TokenRow,
        "reference": ReferenceRow,
        "date": DateRow,
        "uri": UriRow,
        "geo": GeoRow,
    }

    def table(self, name: str) -> set[tuple[object, ...]]:
        rows: set[tuple[object, ...]] = getattr(self, name)
        return rows

    def codes(self) -> set[str]:
        return {str(row[0]) for name in self.TABLES for row in self.table(name)}

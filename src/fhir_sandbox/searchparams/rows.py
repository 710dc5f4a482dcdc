"""Index rows: the typed, normalised values a resource contributes to search.

One row type per SearchParameter type, mirroring the one-table-per-type storage design.
Rows are hashable so an update can apply only the difference (HAPI's approach).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

#: Bump when extraction or normalisation changes what rows a resource gets: it is part of
#: the registry fingerprint, so existing data is reindexed at the next start.
INDEX_FORMAT = "3"  # 3: `phonetic` rows hold Soundex keys


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


@dataclass
class OwnedRows:
    """One resource's index rows as its tables take them: the owner's key (tenant, type, id)
    first, then the row's columns, by table in `IndexRows.TABLES` order.

    A loader worker makes them; a bulk insert hands them to the database as they are, so
    the loading process does no work per row (building `IndexRows` and prefixing every row
    with its owner was a tenth of that process's time: benchmarks/README.md).
    """

    tables: list[list[Sequence[Any]]]

    def index_rows(self) -> IndexRows:
        """The same rows as `IndexRows` (for a repository without bulk inserts, an update)."""
        index = IndexRows()
        for name, rows in zip(IndexRows.TABLES, self.tables, strict=True):
            row_type = IndexRows.ROW_TYPES[name]
            index.table(name).update(row_type(*row[3:]) for row in rows)
        return index


def as_index_rows(index: IndexRows | OwnedRows) -> IndexRows:
    """Either form of a resource's rows as `IndexRows`."""
    return index if isinstance(index, IndexRows) else index.index_rows()
